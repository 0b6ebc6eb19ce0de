"""The engine service: corpus → vectors → kNN graph → layout → clusters → placement.

One `Engine` per data home answers every page, the command line and the benches. It owns the
keys (content hash of the texts, the model id at the precision actually used, the parameters,
the library versions that decide the numbers) and the get-or-compute over three tiers: a
bounded in-memory LRU shared by all sessions, the on-disk result cache, then computing. Callers
ask; they never build a key. Each `peek_*` method answers from the caches only (None on a miss),
so a page can show progress before it calls the computing method of the same name.

Keys:
- vectors: "<texts sha256>:<model id>" for a text model ("…@bf16" only when the model really
  runs bf16), "upload:<vectors sha256>" for uploaded vectors, "project:<id>" for a saved project.
- layouts: the vectors key + repr(params); clusters: the vectors key + the texts' hash (names
  are words of the texts) + the effective parameters (+ the layout's params on the map).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from cachetools import LRUCache

from lib.cluster.clusters import Clustering, ClusterParams, cluster_corpus
from lib.embed.models import (
    EmbeddingRun,
    TextModel,
    cached_vectors,
    embed_in_steps,
    embed_texts,
    load_model,
    model_id_for,
    resolve_precision,
)
from lib.ingest.corpus import Corpus, load_sample
from lib.measure.honesty import HonestyReport, honesty_report
from lib.reduce.layouts import (
    KnnGraph,
    PCAParams,
    Projection,
    UMAPParams,
    compute_knn,
    knn_size,
    project_pca,
    project_umap,
)
from lib.reduce.neighbors import exact_knn, normalize_rows
from lib.reduce.placement import NeighborPlacement
from lib.reduce.tsne import TSNEParams, project_tsne
from lib.service import samples
from lib.store.caches import EmbeddingCache, ResultCache, default_home, result_key

logger = logging.getLogger(__name__)

LayoutParams = UMAPParams | PCAParams | TSNEParams
Progress = Callable[[int, int], None]
StepCallback = Callable[[np.ndarray, np.ndarray], None]
MEMORY_ENTRIES = 64  # results kept in memory across sessions (maps, clusters, kNN graphs, vectors)
PROJECT_PREFIX = "project:"
UPLOAD_PREFIX = "upload:"
T = TypeVar("T")


@dataclass(frozen=True)
class Embedding:
    """A corpus's vectors and the key that names them.

    vectors: (n, d) float32 unit rows (possibly memory-mapped for saved huge projects).
    model_name: the text model that embeds queries in this space; None for uploaded vectors.
    """

    vectors: np.ndarray = field(repr=False)
    key: str
    model_name: str | None


@dataclass(frozen=True)
class SavedView:
    """A saved project's map and clusters, served as they were saved (never recomputed)."""

    coords: np.ndarray = field(repr=False)
    layout: LayoutParams
    cluster_params: ClusterParams
    clustering: Clustering = field(repr=False)
    notes: tuple[str, ...] = ()


class Engine:
    """Get-or-compute for every stage; thread-safe, shared by all sessions of a server."""

    def __init__(
        self,
        home: str | Path | None = None,
        *,
        model_loader: Callable[[str], TextModel] = load_model,
        memory_entries: int = MEMORY_ENTRIES,
    ) -> None:
        self.home = Path(home) if home is not None else default_home()
        self.results = ResultCache(self.home / "results")
        self.embedding_cache = EmbeddingCache(self.home / "embeddings.sqlite3")
        self._model_loader = model_loader
        self._models: dict[str, TextModel] = {}
        self._memory: LRUCache = LRUCache(maxsize=memory_entries)
        self._saved: dict[str, SavedView] = {}
        self._lock = threading.RLock()
        self._key_locks: dict[Hashable, threading.Lock] = {}

    # --- models -------------------------------------------------------------------------------

    def model(self, name: str) -> TextModel:
        """The loaded text model `name` (one per engine; shared, never mutated)."""
        return self._once(name, lambda: self._load(name), cache=self._models)

    def model_id(self, name: str) -> str:
        """`name`'s cache id at the precision its loaded model really uses.

        The precision guard's verdict is remembered on disk, so a warm start knows the id without
        loading the model; the first time, the model is loaded (which runs the guard).
        """
        if name in self._models:
            return self._models[name].model_id
        verdict = self.results.get(_verdict_key(name))
        if verdict is not None:
            return str(verdict[1]["model_id"])
        return self.model(name).model_id

    def _load(self, name: str) -> TextModel:
        model = self._model_loader(name)
        self.results.put(_verdict_key(name), {}, {"model_id": model.model_id})
        return model

    def embed_queries(self, model_name: str, texts: list[str]) -> np.ndarray:
        """Unit vectors (m, d) of free-text queries, through the embedding cache."""
        return embed_texts(texts, self.model(model_name), cache=self.embedding_cache).vectors

    # --- corpora and vectors ------------------------------------------------------------------

    def sample(self, name: str) -> Corpus:
        """A bundled sample corpus (immutable, shared)."""
        return self._once(("sample", name), lambda: load_sample(name))

    def peek_vectors(self, corpus: Corpus, model_name: str) -> Embedding | None:
        """The corpus's vectors if any cache has them all (memory, shipped, disk, per text)."""
        shipped_key = f"{corpus.content_hash}:{model_id_for(model_name, 'fp32')}"
        held = self._memory.get(("vectors", shipped_key))
        if held is not None:  # read and normalised once per engine, not on every page run
            return Embedding(held, shipped_key, model_name)
        shipped_vectors = samples.shipped_vectors(corpus.content_hash, model_name)
        if shipped_vectors is not None:  # fp32 vectors made by `python -m lib.service.samples`
            return self._remember(shipped_key, normalize_rows(shipped_vectors), model_name)
        key = f"{corpus.content_hash}:{self.model_id(model_name)}"
        found = self.embedding(key, model_name)
        if found is not None:
            return found
        texts = self._cached_texts(corpus, key)
        return None if texts is None else self._remember(key, texts, model_name)

    def vectors(
        self,
        corpus: Corpus,
        model_name: str,
        *,
        progress: Progress | None = None,
        on_step: StepCallback | None = None,
    ) -> Embedding:
        """The corpus's vectors: from a cache, else embedded in batches (`progress(done, total)`;
        `on_step(rows, vectors)` with the sample embedded so far, for growing previews)."""
        found = self.peek_vectors(corpus, model_name)
        if found is not None:
            return found
        key = f"{corpus.content_hash}:{self.model_id(model_name)}"

        def compute() -> np.ndarray:
            run = self._embed(corpus, model_name, progress, on_step)
            self.results.put(result_key("vectors", vectors=key), {"vectors": run.vectors}, {})
            return run.vectors

        return Embedding(self._once(("vectors", key), compute), key, model_name)

    def _embed(
        self, corpus: Corpus, model_name: str, progress: Progress | None, on_step
    ) -> EmbeddingRun:
        model = self.model(model_name)
        if on_step is None:
            return embed_texts(corpus.texts, model, cache=self.embedding_cache, progress=progress)
        return embed_in_steps(
            corpus.texts, model, cache=self.embedding_cache, progress=progress, on_step=on_step
        )

    def _cached_texts(self, corpus: Corpus, key: str) -> np.ndarray | None:
        """Every text's vector from the embedding cache (then kept whole under `key`), or None."""
        model_id = key.partition(":")[2]
        found = cached_vectors(corpus.texts, model_id, self.embedding_cache)
        if found is not None:
            self.results.put(result_key("vectors", vectors=key), {"vectors": found}, {})
        return found

    def _stored_matrix(self, key: str) -> np.ndarray | None:
        stored = self.results.get(result_key("vectors", vectors=key))
        return None if stored is None else stored[0].get("vectors")

    def uploaded(self, vectors: np.ndarray) -> Embedding:
        """Uploaded vectors under a key of their numbers; kept on disk so a session holds only
        the key (`embedding`)."""
        matrix = normalize_rows(vectors)
        digest = hashlib.sha256(np.ascontiguousarray(matrix).tobytes())
        digest.update(repr(matrix.shape).encode())
        key = f"{UPLOAD_PREFIX}{digest.hexdigest()}"
        if self._stored_matrix(key) is None:
            self.results.put(result_key("vectors", vectors=key), {"vectors": matrix}, {})
        return self._remember(key, matrix, None)

    def embedding(self, key: str, model_name: str | None) -> Embedding | None:
        """The vectors stored under `key` (memory, then disk); None when they are gone."""
        found = self._memory.get(("vectors", key))
        if found is None:
            found = self._stored_matrix(key)
        return None if found is None else self._remember(key, found, model_name)

    def adopt_saved(self, key: str, vectors: np.ndarray, model_name: str | None, view: SavedView):
        """Serve a saved project's vectors, map and clusters under `key` exactly as saved."""
        with self._lock:
            self._saved[key] = view
        return self._remember(key, vectors, model_name)

    def _remember(self, key: str, vectors: np.ndarray, model_name: str | None) -> Embedding:
        with self._lock:
            self._memory[("vectors", key)] = vectors
        return Embedding(vectors, key, model_name)

    # --- graph, layout, clusters, measurements ------------------------------------------------

    def knn(self, embedding: Embedding, k: int) -> KnnGraph:
        """The kNN graph of `k` neighbours, shared by every UMAP refit of these vectors."""
        return self._once(("knn", embedding.key, k), lambda: compute_knn(embedding.vectors, k))

    def peek_layout(self, embedding: Embedding, params: LayoutParams) -> Projection | None:
        """The map for `params` if it is saved, in memory, on disk or shipped; else None."""
        saved = self._saved.get(embedding.key)
        if saved is not None and saved.layout == params:
            return self._placed(embedding, saved.coords, params, saved.notes)
        found = self._memory.get(("layout", embedding.key, repr(params)))
        if found is not None:
            return found
        stored = self._read_layout(embedding, params)
        if stored is not None:
            with self._lock:
                self._memory[("layout", embedding.key, repr(params))] = stored
        return stored

    def layout(self, embedding: Embedding, params: LayoutParams) -> Projection:
        """The map of `embedding` with `params`: from a cache, else computed and stored."""
        found = self.peek_layout(embedding, params)
        if found is not None:
            return found
        return self._once(
            ("layout", embedding.key, repr(params)), lambda: self._fit(embedding, params)
        )

    def _read_layout(self, embedding: Embedding, params: LayoutParams) -> Projection | None:
        stored = self.results.get(_layout_key(embedding.key, params))
        if stored is not None:  # the store counts other library versions as a miss
            arrays, meta = stored
            return self._placed(
                embedding, arrays["coords"], params, tuple(meta.get("notes", ())),
                meta.get("explained_variance"),
            )  # fmt: skip
        coords = _shipped_layout(embedding, params)
        return None if coords is None else self._placed(embedding, coords, params)

    def _fit(self, embedding: Embedding, params: LayoutParams) -> Projection:
        if isinstance(params, PCAParams):
            mapped = project_pca(embedding.vectors, params)
        elif isinstance(params, TSNEParams):
            mapped = project_tsne(embedding.vectors, params)
        else:
            k = knn_size(len(embedding.vectors), params.n_neighbors)
            mapped = project_umap(embedding.vectors, params, self.knn(embedding, k))
            mapped = self._placed(embedding, mapped.coords, mapped.params, mapped.notes)
        meta = {"params": repr(params), "notes": list(mapped.notes),
                "explained_variance": mapped.explained_variance}  # fmt: skip
        self.results.put(_layout_key(embedding.key, params), {"coords": mapped.coords}, meta)
        return mapped

    @staticmethod
    def _placed(embedding, coords, params, notes=(), explained_variance=None) -> Projection:
        """A map whose new points are placed from the positions of their true neighbours."""
        coords = np.asarray(coords, np.float32)
        method = {PCAParams: "pca", TSNEParams: "tsne"}.get(type(params), "umap")
        placement = NeighborPlacement(embedding.vectors, coords)
        return Projection(coords, method, params, placement, tuple(notes), explained_variance)

    def clusters(
        self, embedding: Embedding, corpus: Corpus, params: ClusterParams, layout: Projection
    ) -> Clustering:
        """Clusters of the documents, named by words of `corpus`'s texts."""
        saved = self._saved.get(embedding.key)
        if saved is not None and params.effective() == saved.cluster_params.effective():
            return saved.clustering
        key = _clusters_key(embedding.key, corpus.content_hash, params, layout)
        coords = layout.coords if params.space == "map" else None
        return self._once(
            ("clusters", key), lambda: self._cluster(key, embedding, corpus, params, coords)
        )

    def _cluster(self, key, embedding, corpus, params, coords) -> Clustering:
        stored = self.results.get(key)
        if stored is not None:
            arrays, meta = stored
            names = {int(c): name for c, name in meta["names"].items()}
            sizes = {int(c): int(n) for c, n in meta["sizes"].items()}
            return Clustering(arrays["labels"], names, sizes)
        found = _shipped_clusters(embedding, params)
        if found is not None:
            return found
        found = cluster_corpus(embedding.vectors, corpus.texts, params, map_coords=coords)
        meta = {"names": found.names, "sizes": found.sizes, "params": repr(params)}
        self.results.put(key, {"labels": found.labels}, meta)
        return found

    def true_neighbors(self, embedding: Embedding, k: int) -> np.ndarray:
        """Exact full-dimension kNN rows (n, k), once per vectors and k."""
        return self._once(
            ("true_knn", embedding.key, k), lambda: exact_knn(embedding.vectors, k).indices
        )

    def honesty(self, embedding: Embedding, layout: Projection, k: int) -> HonestyReport:
        """Share of true neighbours each point keeps on `layout`, plus trustworthiness."""

        def measure() -> HonestyReport:
            full = self.true_neighbors(embedding, k)
            return honesty_report(embedding.vectors, layout.coords, k, full_knn=full)

        return self._once(("honesty", embedding.key, repr(layout.params), k), measure)

    # --- get-or-compute -----------------------------------------------------------------------

    def _once(self, key: Hashable, compute: Callable[[], T], cache: Any = None) -> T:
        """`compute()` once per key, even when several sessions ask at the same moment; the
        value is kept in `cache` (the shared LRU by default)."""
        cache = self._memory if cache is None else cache
        with self._lock:
            if key in cache:
                return cache[key]
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                if key in cache:
                    return cache[key]
            value = compute()
            with self._lock:
                cache[key] = value
                self._key_locks.pop(key, None)
        return value


def _verdict_key(name: str) -> str:
    """Where the precision guard's verdict for `name` (at the precision asked for) is kept."""
    return result_key("model-id", model=name, precision=resolve_precision(), versions=_torch())


def _torch() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("torch")
    except PackageNotFoundError:
        return "not installed"


def _layout_key(vectors_key: str, params: LayoutParams) -> str:
    return result_key("map", vectors=vectors_key, params=repr(params))


def _clusters_key(vectors_key: str, texts_hash: str, params: ClusterParams, layout) -> str:
    on_map = repr(layout.params) if params.space == "map" else None
    return result_key(
        "clusters", vectors=vectors_key, texts=texts_hash, params=repr(params.effective()),
        layout=on_map,
    )  # fmt: skip


def _shipped_source(embedding: Embedding) -> tuple[str, str] | None:
    """(corpus hash, model name) when `embedding` may be a bundled sample's shipped vectors: only
    their key ("<texts hash>:<fp32 model id>"), never vectors derived from them."""
    if embedding.model_name is None:
        return None
    corpus_hash, _, model_id = embedding.key.partition(":")
    if model_id != model_id_for(embedding.model_name, "fp32"):
        return None
    return corpus_hash, embedding.model_name


def _shipped_layout(embedding: Embedding, params: LayoutParams) -> np.ndarray | None:
    """Coordinates shipped in data/ for a bundled sample's default maps, else None."""
    source = _shipped_source(embedding)
    return None if source is None else samples.shipped_layout(*source, params)


def _shipped_clusters(embedding: Embedding, params: ClusterParams) -> Clustering | None:
    """The default clustering shipped in data/ for a bundled sample, else None."""
    source = _shipped_source(embedding)
    return None if source is None else samples.shipped_clusters(*source, params)
