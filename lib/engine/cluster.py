"""Find clusters (HDBSCAN or KMeans) and name them by their most distinctive words (c-TF-IDF)."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from lib.errors import ParameterError, check_choice, check_int

logger = logging.getLogger(__name__)

NOISE = -1
NOISE_NAME = "unclustered"
METHODS = ("hdbscan", "kmeans")
SPACES = ("pca", "embeddings", "map")

DEFAULT_MIN_CLUSTER_SIZE = 10
DEFAULT_N_CLUSTERS = 10


@dataclass(frozen=True)
class ClusterParams:
    """How to cluster: method, its size parameter, and the space it runs in.

    `space`: "pca" (a cheap `pca_dims`-D PCA of the embeddings), "embeddings" (full dimension),
    or "map" (the 2-D/3-D map coordinates, what the eye sees).
    """

    method: str = "hdbscan"
    min_cluster_size: int = DEFAULT_MIN_CLUSTER_SIZE
    n_clusters: int = DEFAULT_N_CLUSTERS
    space: str = "pca"
    pca_dims: int = 20
    seed: int = 42

    def __post_init__(self) -> None:
        check_choice("ClusterParams", "method", self.method, METHODS)
        check_int("ClusterParams", "min_cluster_size", self.min_cluster_size, 2)
        check_int("ClusterParams", "n_clusters", self.n_clusters, 2, 200)
        check_choice("ClusterParams", "space", self.space, SPACES)
        check_int("ClusterParams", "pca_dims", self.pca_dims, 2, 256)
        check_int("ClusterParams", "seed", self.seed, 0)

    def effective(self) -> ClusterParams:
        """These parameters with the unused size parameter at its default: settings that
        cluster identically compare equal (KMeans ignores min_cluster_size, HDBSCAN n_clusters)."""
        if self.method == "kmeans":
            return replace(self, min_cluster_size=DEFAULT_MIN_CLUSTER_SIZE)
        return replace(self, n_clusters=DEFAULT_N_CLUSTERS)


@dataclass(frozen=True)
class Clustering:
    """Cluster id per point (`labels` (n,) int, NOISE = -1) with names and sizes per cluster id."""

    labels: np.ndarray
    names: dict[int, str]
    sizes: dict[int, int]

    @property
    def n_clusters(self) -> int:
        """Clusters found, noise not counted."""
        return sum(1 for cluster_id in self.sizes if cluster_id != NOISE)

    def point_names(self, rows: Sequence[int] | None = None) -> np.ndarray:
        """The cluster name of every point (or of `rows`), for colouring and tables."""
        labels = self.labels if rows is None else self.labels[np.asarray(rows, dtype=np.int64)]
        return np.array([self.names[int(c)] for c in labels], dtype=object)


def clustering_space(
    vectors: np.ndarray, params: ClusterParams, map_coords: np.ndarray | None = None
) -> np.ndarray:
    """The matrix the clustering runs on, chosen by `params.space`."""
    if params.space == "map":
        if map_coords is None:
            raise ParameterError(
                "Clustering on the map needs map coordinates; compute a map first."
            )
        return np.asarray(map_coords, dtype=np.float32)
    if params.space == "embeddings" or vectors.shape[1] <= params.pca_dims:
        return np.asarray(vectors, dtype=np.float32)
    from sklearn.decomposition import PCA

    dims = min(params.pca_dims, len(vectors))
    return PCA(n_components=dims, random_state=params.seed).fit_transform(vectors)


def find_clusters(points: np.ndarray, params: ClusterParams) -> np.ndarray:
    """Cluster ids (n,) for `points`; HDBSCAN marks outliers NOISE, KMeans assigns every point."""
    n = len(points)
    if n < 2:
        raise ParameterError(f"Clustering needs at least 2 documents; got {n}.")
    if params.method == "kmeans":
        from sklearn.cluster import KMeans

        k = min(params.n_clusters, n)
        model = KMeans(n_clusters=k, n_init=3, random_state=params.seed)
        return model.fit_predict(points).astype(np.int64)
    from sklearn.cluster import HDBSCAN

    size = min(params.min_cluster_size, n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = HDBSCAN(min_cluster_size=size, copy=True)
        return model.fit_predict(points).astype(np.int64)


def name_clusters(texts: Sequence[str], labels: np.ndarray, top_n: int = 3) -> dict[int, str]:
    """Name each cluster by its `top_n` highest class-TF-IDF words ("rocket · orbit · nasa")."""
    check_int("name_clusters", "top_n", top_n, 1, 20)
    ids = sorted(int(c) for c in np.unique(labels))
    keywords = _class_tfidf_keywords(texts, labels, ids, top_n)
    names = {}
    for cluster_id in ids:
        words = keywords.get(cluster_id) or [f"cluster {cluster_id}"]
        names[cluster_id] = NOISE_NAME if cluster_id == NOISE else " · ".join(words)
    return _deduplicate_names(names)


def _class_tfidf_keywords(
    texts: Sequence[str], labels: np.ndarray, ids: list[int], top_n: int
) -> dict[int, list[str]]:
    """Top words per cluster by c-TF-IDF: term frequency in the class times log(1 + A / f_t)."""
    from scipy import sparse
    from sklearn.feature_extraction.text import CountVectorizer

    vectorizer = CountVectorizer(stop_words="english", token_pattern=r"(?u)\b[^\W\d_]{2,}\b")
    try:
        counts = vectorizer.fit_transform(texts)
    except ValueError:  # only stop words or no words at all
        return {}
    membership = sparse.csr_matrix(
        (np.ones(len(labels)), (np.searchsorted(ids, labels), np.arange(len(labels)))),
        shape=(len(ids), len(labels)),
    )
    per_class = (membership @ counts).tocsr().astype(np.float64)
    class_totals = np.asarray(per_class.sum(axis=1)).ravel()
    term_totals = np.asarray(per_class.sum(axis=0)).ravel()
    average_words = class_totals.mean() if len(class_totals) else 1.0
    idf = np.log1p(average_words / np.maximum(term_totals, 1))
    tf = sparse.diags(1.0 / np.maximum(class_totals, 1)) @ per_class
    scores = (tf @ sparse.diags(idf)).tocsr()
    vocabulary = vectorizer.get_feature_names_out()
    return {cid: _top_terms(scores.getrow(row), vocabulary, top_n) for row, cid in enumerate(ids)}


def _top_terms(row, vocabulary: np.ndarray, top_n: int) -> list[str]:
    order = np.argsort(-row.data, kind="stable")[:top_n]
    return [str(vocabulary[row.indices[i]]) for i in order]


def _deduplicate_names(names: dict[int, str]) -> dict[int, str]:
    """Suffix repeated names with their cluster id so every legend entry is distinct."""
    seen: dict[str, int] = {}
    for name in names.values():
        seen[name] = seen.get(name, 0) + 1
    return {cid: (f"{name} ({cid})" if seen[name] > 1 else name) for cid, name in names.items()}


def cluster_corpus(
    vectors: np.ndarray,
    texts: Sequence[str],
    params: ClusterParams = ClusterParams(),
    map_coords: np.ndarray | None = None,
) -> Clustering:
    """Cluster the documents and name every cluster; noise stays its own group."""
    if len(texts) != len(vectors):
        raise ParameterError(f"Got {len(texts)} texts for {len(vectors)} vectors; they must match.")
    labels = find_clusters(clustering_space(vectors, params, map_coords), params)
    ids, counts = np.unique(labels, return_counts=True)
    sizes = {int(c): int(k) for c, k in zip(ids, counts, strict=True)}
    logger.info("%d clusters, %d noise points", len(sizes) - (NOISE in sizes), sizes.get(NOISE, 0))
    return Clustering(labels, name_clusters(texts, labels), sizes)
