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

MIN_CLUSTER_SIZE_FLOOR = 10  # HDBSCAN's automatic min_cluster_size: at least this ...
MIN_CLUSTER_SIZE_SHARE = 0.01  # ... and this share of the documents (see ClusterParams)
DEFAULT_SPACES = {"kmeans": "embeddings", "hdbscan": "map"}
DEFAULT_N_CLUSTERS = 10
# KMeans keeps the best of 10 seeded starts: ARI on `topics` 0.84-0.88 over 20 seeds (3: 0.72-0.88)
KMEANS_RESTARTS = 10
MIN_WORD_DOCUMENTS = 2  # a cluster's name words each appear in at least this many of its documents
MIN_WORD_SHARE = 0.03  # ... and in at least this share of them


def auto_min_cluster_size(n_documents: int) -> int:
    """HDBSCAN's min_cluster_size for `n_documents` when none is given: 1% of them, at least 10."""
    return max(MIN_CLUSTER_SIZE_FLOOR, round(MIN_CLUSTER_SIZE_SHARE * n_documents))


@dataclass(frozen=True)
class ClusterParams:
    """How to cluster: method, its size parameter, and the space it runs in.

    `space`: "pca" (a cheap `pca_dims`-D PCA of the embeddings), "embeddings" (full dimension),
    or "map" (the 2-D/3-D map coordinates, what the eye sees). None (the default) picks the
    method's own space, DEFAULT_SPACES: switching the method never keeps the other's space.
    `min_cluster_size`: HDBSCAN's smallest cluster; None (the default) scales it with the corpus,
    `auto_min_cluster_size(n)` = max(10, 1% of n).

    Why these defaults (bench/clustering_defaults.py: 4,050 real quotations of Debian's fortunes
    in 16 labelled files, mean 108 characters, all-MiniLM-L6-v2, the default UMAP map):
    KMeans runs on the full embeddings (10 clusters; on the `topics` sample it finds the ten
    topics, adjusted Rand index 0.88, every document in a cluster). HDBSCAN needs density, which
    384 dimensions spread thin: on the full embeddings it left 71% of the fortunes unclustered
    (and found 2 clusters). On the 2-D UMAP map, where UMAP has already gathered neighbours, it
    clusters most documents, but a fixed min_cluster_size of 10 cut the fortunes into 72 small
    clusters (41% unclustered); 1% of the corpus (40 there) gives 5 clusters with 13%
    unclustered, and 1% of seeded subsamples of 1,000 to 3,000 of them gave 4 to 7 clusters with
    10-13% unclustered. The floor of 10 keeps HDBSCAN's own default for small corpora (the
    800-document `topics` sample). A PCA map has little density to find: 90% unclustered there.
    """

    method: str = "kmeans"
    min_cluster_size: int | None = None
    n_clusters: int = DEFAULT_N_CLUSTERS
    space: str | None = None
    pca_dims: int = 20
    seed: int = 42

    def __post_init__(self) -> None:
        check_choice("ClusterParams", "method", self.method, METHODS)
        if self.space is None:
            object.__setattr__(self, "space", DEFAULT_SPACES[self.method])
        if self.min_cluster_size is not None:
            check_int("ClusterParams", "min_cluster_size", self.min_cluster_size, 2)
        check_int("ClusterParams", "n_clusters", self.n_clusters, 2, 200)
        check_choice("ClusterParams", "space", self.space, SPACES)
        check_int("ClusterParams", "pca_dims", self.pca_dims, 2, 256)
        check_int("ClusterParams", "seed", self.seed, 0)

    def effective(self) -> ClusterParams:
        """These parameters with the unused size parameter at its default: settings that
        cluster identically compare equal (KMeans ignores min_cluster_size, HDBSCAN n_clusters)."""
        if self.method == "kmeans":
            return replace(self, min_cluster_size=None)
        return replace(self, n_clusters=DEFAULT_N_CLUSTERS)

    def min_size_for(self, n_documents: int) -> int:
        """HDBSCAN's min_cluster_size for a corpus of `n_documents` (never more than it)."""
        size = self.min_cluster_size or auto_min_cluster_size(n_documents)
        return min(size, n_documents)


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
        model = KMeans(n_clusters=k, n_init=KMEANS_RESTARTS, random_state=params.seed)
        return model.fit_predict(points).astype(np.int64)
    from sklearn.cluster import HDBSCAN

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = HDBSCAN(min_cluster_size=params.min_size_for(n), copy=True)
        return model.fit_predict(points).astype(np.int64)


def name_clusters(texts: Sequence[str], labels: np.ndarray, top_n: int = 3) -> dict[int, str]:
    """Name each cluster by its `top_n` highest class-TF-IDF words ("rocket · orbit · nasa").

    Stop words (English and the document's own language, see lib.cluster.stopwords) never name a
    cluster, and a name word must appear in at least MIN_WORD_DOCUMENTS documents and
    MIN_WORD_SHARE of the cluster's documents, so one odd document cannot name its cluster.
    """
    keywords = cluster_keywords(texts, labels, top_n)
    names = {}
    for cluster_id in keywords:
        words = keywords[cluster_id] or [f"cluster {cluster_id}"]
        names[cluster_id] = NOISE_NAME if cluster_id == NOISE else " · ".join(words)
    return _deduplicate_names(names)


def cluster_keywords(
    texts: Sequence[str], labels: np.ndarray, top_n: int = 3
) -> dict[int, list[str]]:
    """The `top_n` distinctive words of each cluster id in `labels` (n,), best first, as
    `name_clusters` picks them; a cluster with no word that qualifies gets an empty list."""
    check_int("cluster_keywords", "top_n", top_n, 1, 20)
    if len(texts) != len(labels):
        raise ParameterError(f"Got {len(texts)} texts for {len(labels)} labels; they must match.")
    ids = sorted(int(c) for c in np.unique(labels))
    keywords = _class_tfidf_keywords(texts, np.asarray(labels), ids, top_n)
    return {cluster_id: keywords.get(cluster_id, []) for cluster_id in ids}


def _class_tfidf_keywords(
    texts: Sequence[str], labels: np.ndarray, ids: list[int], top_n: int
) -> dict[int, list[str]]:
    """Top words per cluster by c-TF-IDF on document counts: the share of the class's documents
    that hold the word times log(1 + A / f_t), where f_t counts the word's documents in all
    classes and A is the average number of word occurrences per class."""
    from scipy import sparse
    from sklearn.feature_extraction.text import CountVectorizer

    from lib.cluster.stopwords import content_words

    vectorizer = CountVectorizer(analyzer=content_words, binary=True)
    try:
        counts = vectorizer.fit_transform(texts)
    except ValueError:  # only stop words or no words at all
        return {}
    membership = sparse.csr_matrix(
        (np.ones(len(labels)), (np.searchsorted(ids, labels), np.arange(len(labels)))),
        shape=(len(ids), len(labels)),
    )
    per_class = (membership @ counts).tocsr().astype(np.float64)  # documents holding each word
    class_sizes = np.asarray(membership.sum(axis=1)).ravel()
    term_totals = np.asarray(per_class.sum(axis=0)).ravel()
    average_words = per_class.sum(axis=1).mean() if len(ids) else 1.0
    idf = np.log1p(average_words / np.maximum(term_totals, 1))
    tf = sparse.diags(1.0 / np.maximum(class_sizes, 1)) @ per_class
    scores = (tf @ sparse.diags(idf)).tocsr()
    minimum = np.maximum(MIN_WORD_DOCUMENTS, np.ceil(MIN_WORD_SHARE * class_sizes))
    vocabulary = vectorizer.get_feature_names_out()
    return {
        cid: _top_terms(scores.getrow(row), per_class.getrow(row), minimum[row], vocabulary, top_n)
        for row, cid in enumerate(ids)
    }


def _top_terms(row, documents, minimum: float, vocabulary: np.ndarray, top_n: int) -> list[str]:
    """The `top_n` best-scoring words of a class held by at least `minimum` of its documents."""
    scores = row.toarray().ravel()
    scores[documents.toarray().ravel() < minimum] = -np.inf
    order = np.argsort(-scores, kind="stable")[:top_n]
    return [str(vocabulary[i]) for i in order if np.isfinite(scores[i])]


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
