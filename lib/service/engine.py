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
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from cachetools import LRUCache

from lib.cluster.clusters import Clustering, ClusterParams, cluster_corpus
from lib.cluster.hierarchy import ClusterLevels, cluster_levels
from lib.cluster.scale import cluster_at_scale
from lib.embed import ov_backend
from lib.embed.models import (
    GUARD_PACKAGES,
    EmbeddingRun,
    TextModel,
    cached_vectors,
    embed_in_steps,
    embed_texts,
    load_model,
    model_id_for,
    pinned_precision,
    resolve_precision,
)
from lib.ingest.corpus import Corpus, load_sample, values_digest
from lib.measure.compare import Agreement, LabelRecovery, label_recovery, neighbor_agreement
from lib.measure.duplicates import DuplicateParams, Duplicates, find_duplicates
from lib.measure.honesty import HonestyReport, honesty_report, misplaced_neighbors
from lib.query.examples import Example, corpus_examples
from lib.query.words import WordVectors, load_glove
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
from lib.reduce.neighbors import Neighbors, exact_knn, neighbors_of, normalize_rows, top_k
from lib.reduce.placement import NeighborPlacement
from lib.reduce.scale import ScaledProjection, ScaleParams, project_at_scale
from lib.reduce.tsne import TSNEParams, project_tsne
from lib.service import samples
from lib.service.queue import FairQueue, slots_from_environment
from lib.store.caches import (
    EmbeddingCache,
    ResultCache,
    default_home,
    library_versions,
    machine,
    result_key,
    text_key,
)
from lib.teach.lessons import (
    AnalogyBenchmark,
    RecoveryReport,
    analogy_benchmark,
    load_analogies,
    opposite_pairs_report,
    random_like,
    recovery_report,
    seed_agreement,
    sizes_and_gaps,
)
from lib.teach.sampling import LessonSample

logger = logging.getLogger(__name__)

LayoutParams = UMAPParams | PCAParams | TSNEParams
Progress = Callable[[int, int], None]
StepCallback = Callable[[np.ndarray, np.ndarray], None]
BATCH_SIZE = 64  # texts per model call
MEMORY_ENTRIES = 64  # results kept in memory across sessions (maps, clusters, kNN graphs, vectors)
SAVED_VIEWS = 32  # saved projects' maps and clusters served as saved (a project reopens from disk)
PROJECT_PREFIX = "project:"
UPLOAD_PREFIX = "upload:"
GLOVE_PREFIX = "glove:"
RANDOM_PREFIX = "random-"  # never a corpus hash: a shipped sample's maps are served by that prefix
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
        heavy_slots: int | None = None,
    ) -> None:
        self.home = Path(home) if home is not None else default_home()
        self.results = ResultCache(self.home / "results")
        self.embedding_cache = EmbeddingCache(self.home / "embeddings.sqlite3")
        self._model_loader = model_loader
        self._models: dict[tuple[str, str | None], TextModel] = {}
        self._resources: dict[Hashable, Any] = {}  # read once, never evicted (GloVe, samples)
        self._memory: LRUCache = LRUCache(maxsize=memory_entries)
        self._saved: LRUCache = LRUCache(maxsize=SAVED_VIEWS)
        self._lock = threading.RLock()
        self._key_locks: dict[Hashable, threading.Lock] = {}
        self.queue = FairQueue(slots_from_environment() if heavy_slots is None else heavy_slots)

    # --- models -------------------------------------------------------------------------------

    def model(self, name: str, precision: str | None = None) -> TextModel:
        """The loaded text model `name` (one per engine and precision; shared, never mutated).

        precision None: the server's choice ("auto": bf16 only where the guard keeps it); "fp32"
        or "bf16" asks for that precision explicitly.
        """
        return self._once((name, precision), lambda: self._load(name, precision), self._models)

    def model_id(self, name: str, precision: str | None = None) -> str:
        """`name`'s cache id at the precision and backend its loaded model really uses.

        The loaded model's id when it is loaded; else the id an earlier load on this very setup
        (model, precision asked, backend, CPU, library versions) was given, remembered on disk,
        so a warm start knows it without loading the model; else the model is loaded now.
        """
        loaded = self._models.get((name, precision))
        if loaded is not None:
            return loaded.model_id
        verdict = self.results.get(_verdict_key(name, precision))
        if verdict is not None:
            return str(verdict[1]["model_id"])
        return self.model(name, precision).model_id

    def _load(self, name: str, precision: str | None) -> TextModel:
        loader = self._model_loader
        model = loader(name) if precision is None else loader(name, precision=precision)
        self.results.put(_verdict_key(name, precision), {}, {"model_id": model.model_id})
        return model

    def embed_queries(self, model_name: str, texts: list[str]) -> np.ndarray:
        """Unit vectors (m, d) of free-text queries, through the embedding cache."""
        return embed_texts(texts, self.model(model_name), cache=self.embedding_cache).vectors

    # --- corpora and vectors ------------------------------------------------------------------

    def sample(self, name: str) -> Corpus:
        """A bundled sample corpus (immutable, shared)."""
        return self._once(("sample", name), lambda: load_sample(name))

    def peek_vectors(
        self, corpus: Corpus, model_name: str, precision: str | None = None
    ) -> Embedding | None:
        """The corpus's vectors if any cache has them all (memory, shipped, disk, per text)."""
        shipped_key = f"{corpus.content_hash}:{model_id_for(model_name, 'fp32')}"
        if precision in (None, "fp32"):
            held = self._held(("vectors", shipped_key))
            if held is not None:  # read and normalised once per engine, not on every page run
                return Embedding(held, shipped_key, model_name)
            shipped_vectors = samples.shipped_vectors(corpus.content_hash, model_name)
            if shipped_vectors is not None:  # fp32 vectors made by `python -m lib.service.samples`
                return self._remember(shipped_key, normalize_rows(shipped_vectors), model_name)
        key = f"{corpus.content_hash}:{self.model_id(model_name, precision)}"
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
        precision: str | None = None,
        progress: Progress | None = None,
        on_step: StepCallback | None = None,
        batch_size: int = BATCH_SIZE,
    ) -> Embedding:
        """The corpus's vectors: from a cache, else embedded in batches (`progress(done, total)`;
        `on_step(rows, vectors)` with the sample embedded so far, for growing previews).

        Computed vectors are keyed by the id of the model that really computed them (its
        precision and backend), read from the loaded model, never from a remembered verdict.
        """
        found = self.peek_vectors(corpus, model_name, precision)
        if found is not None:
            return found
        model = self.model(model_name, precision)
        key = f"{corpus.content_hash}:{model.model_id}"

        def compute() -> np.ndarray:
            with self.queue.turn():
                run = self._embed(corpus, model, progress, on_step, batch_size)
            self.results.put(result_key("vectors", vectors=key), {"vectors": run.vectors}, {})
            return run.vectors

        return Embedding(self._once(("vectors", key), compute), key, model_name)

    def _embed(
        self, corpus: Corpus, model: TextModel, progress: Progress | None, on_step, batch_size: int
    ) -> EmbeddingRun:
        if on_step is None:
            return embed_texts(
                corpus.texts, model, cache=self.embedding_cache, progress=progress,
                batch_size=batch_size,
            )  # fmt: skip
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
        found = self._held(("vectors", key))
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
        return self._once(
            ("knn", embedding.key, k), self._heavy(lambda: compute_knn(embedding.vectors, k))
        )

    def peek_layout(self, embedding: Embedding, params: LayoutParams) -> Projection | None:
        """The map for `params` if it is saved, in memory, on disk or shipped; else None."""
        saved = self._held(embedding.key, self._saved)
        if saved is not None and saved.layout == params:
            return self._placed(embedding, saved.coords, params, saved.notes)
        found = self._held(("layout", embedding.key, repr(params)))
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
            ("layout", embedding.key, repr(params)),
            self._heavy(lambda: self._fit(embedding, params)),
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
        saved = self._held(embedding.key, self._saved)
        if saved is not None and _as_saved(saved, params, layout):
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
        with self.queue.turn():
            found = cluster_corpus(embedding.vectors, corpus.texts, params, map_coords=coords)
        meta = {"names": found.names, "sizes": found.sizes, "params": repr(params)}
        self.results.put(key, {"labels": found.labels}, meta)
        return found

    def layout_at_scale(
        self,
        embedding: Embedding,
        params: UMAPParams | PCAParams,
        scale: ScaleParams,
        progress: Progress | None = None,
    ) -> ScaledProjection:
        """A map of every point: `layout` up to `scale.sample_size` points (and PCA), else UMAP
        fitted on a seeded sample with the rest placed in chunks (`progress` counts them)."""
        n = len(embedding.vectors)
        if isinstance(params, PCAParams) or n <= scale.sample_size:
            mapped = self.layout(embedding, params)
            return ScaledProjection(mapped.coords, np.ones(n, dtype=bool), mapped)
        key = ("scaled", embedding.key, repr(params), repr(scale))
        return self._once(
            key, self._heavy(lambda: project_at_scale(embedding.vectors, params, scale, progress))
        )

    def clusters_at_scale(
        self, embedding: Embedding, corpus: Corpus, params: ClusterParams, mapped: ScaledProjection
    ) -> Clustering:
        """Clusters of a map made by `layout_at_scale`: as `clusters` when every point was
        fitted, else found on the fitted points and given to the rest by their nearest."""
        if mapped.fitted_mask.all():
            return self.clusters(embedding, corpus, params, mapped.projection)
        key = ("scaled-clusters", embedding.key, corpus.content_hash,
               repr(params.effective()), repr(mapped.projection.params))  # fmt: skip
        return self._once(
            key,
            self._heavy(lambda: cluster_at_scale(embedding.vectors, corpus.texts, params, mapped)),
        )

    def true_neighbors(self, embedding: Embedding, k: int) -> np.ndarray:
        """Exact full-dimension kNN rows (n, k), once per vectors and k."""
        return self._once(
            ("true_knn", embedding.key, k),
            self._heavy(lambda: exact_knn(embedding.vectors, k).indices),
        )

    def honesty(self, embedding: Embedding, layout: Projection, k: int) -> HonestyReport:
        """Share of true neighbours each point keeps on `layout`, plus trustworthiness."""

        def measure() -> HonestyReport:
            full = self.true_neighbors(embedding, k)
            return honesty_report(embedding.vectors, layout.coords, k, full_knn=full)

        return self._once(("honesty", embedding.key, repr(layout.params), k), measure)

    # --- what the pages and lessons show, keyed by every input ----------------------------------

    def nearest(self, embedding: Embedding, query: np.ndarray, k: int) -> Neighbors:
        """The `k` documents nearest to the unit vector `query` (d,) by cosine."""
        return top_k(embedding.vectors, query, k)

    def neighbors(self, embedding: Embedding, row: int, k: int) -> Neighbors:
        """The `k` documents nearest to `row` in full dimension (cosine), the row excluded."""
        return neighbors_of(embedding.vectors, row, k=k)

    def misplaced(self, embedding: Embedding, layout: Projection, row: int, k: int):
        """`row`'s k true neighbours, those `layout` put farthest away first (a DataFrame)."""
        return misplaced_neighbors(embedding.vectors, layout.coords, row, k=k)

    def agreement(self, first: Embedding, second: Embedding, k: int) -> Agreement:
        """Per document, the share of its k true neighbours two embeddings of it agree on."""

        def measure() -> Agreement:
            first_knn, second_knn = self.true_neighbors(first, k), self.true_neighbors(second, k)
            return neighbor_agreement(
                first.vectors, second.vectors, k, first_knn=first_knn, second_knn=second_knn
            )

        return self._once(("agreement", first.key, second.key, k), measure)

    def recovery(
        self, embedding: Embedding, layout: Projection, labels: Sequence[object], k: int
    ) -> RecoveryReport:
        """Label recovery of `labels` in full dimension and on `layout`, beside the majority."""
        key = ("recovery", embedding.key, repr(layout.params), values_digest(labels), k)
        return self._once(key, lambda: recovery_report(embedding.vectors, layout.coords, labels, k))

    def cluster_levels(
        self, embedding: Embedding, corpus: Corpus, clustering: Clustering
    ) -> ClusterLevels:
        """Nested levels of detail above `clustering` (its fine level), each named by words of
        `corpus`'s texts; once per (vectors, corpus, labels), in its turn of the fair queue."""
        key = ("levels", embedding.key, corpus.content_hash, values_digest(clustering.labels))
        labels = clustering.labels
        return self._once(
            key, self._heavy(lambda: cluster_levels(embedding.vectors, corpus.texts, labels))
        )

    def label_recovery(
        self, embedding: Embedding, labels: Sequence[object], layout: Projection | None
    ) -> LabelRecovery:
        """One embedding's label recovery (full dimension, and on its map when given)."""
        on_map = None if layout is None else repr(layout.params)
        key = ("label_recovery", embedding.key, on_map, values_digest(labels))
        coords = None if layout is None else layout.coords
        return self._once(key, lambda: label_recovery(embedding.vectors, labels, coords))

    def sizes(self, embedding: Embedding, layout: Projection, groups: Sequence[object]):
        """True against drawn spreads and gaps of `groups` (None: no group) on `layout`."""
        key = ("sizes", embedding.key, repr(layout.params), values_digest(groups))
        return self._once(key, lambda: sizes_and_gaps(embedding.vectors, layout.coords, groups))

    def seed_agreement(
        self, embedding: Embedding, first: Projection, second: Projection, k: int
    ) -> np.ndarray:
        """Per document, the share of its k map neighbours the two maps of `embedding` agree on."""
        key = ("seeds", embedding.key, repr(first.params), repr(second.params), k)
        return self._once(key, lambda: seed_agreement(first.coords, second.coords, k))

    def sample_of(self, embedding: Embedding, sample: LessonSample) -> Embedding:
        """The rows of `embedding` a lesson works on (all of them, or its seeded sample), under a
        key of their own so the sample's maps are cached apart from the corpus's."""
        if not sample.sampled:
            return embedding
        key = embedding.key + sample.key_suffix
        found = self._held(("vectors", key))
        if found is None:
            found = np.ascontiguousarray(embedding.vectors[sample.rows])
        return self._remember(key, found, embedding.model_name)

    def random_like(self, embedding: Embedding, seed: int) -> Embedding:
        """Random unit vectors shaped like `embedding` (structure removed, size kept)."""
        key = f"{RANDOM_PREFIX}{seed}|{embedding.key}"
        found = self._held(("vectors", key))
        if found is None:
            found = random_like(embedding.vectors, seed)
        return self._remember(key, found, None)

    def examples(
        self,
        corpus: Corpus,
        embedding: Embedding,
        groups: np.ndarray,
        names: dict[int, str],
        *,
        free_text: bool,
    ) -> list[Example]:
        """Expressions built from this corpus's groups (its labels or clusters)."""
        key = ("examples", embedding.key, corpus.content_hash, values_digest(groups),
               values_digest(sorted(names.items())), free_text)  # fmt: skip
        return self._once(
            key,
            lambda: corpus_examples(
                corpus.texts, embedding.vectors, groups, names, free_text=free_text
            ),
        )

    # --- GloVe and the lessons' bundled data -------------------------------------------------

    def glove(self) -> WordVectors:
        """GloVe 6B 50d, read once per engine (shared, never mutated)."""
        return load_glove()  # read once per process (lib.query.words): the one copy

    def words(self, words: Sequence[str]) -> Embedding:
        """The GloVe vectors of `words` (each must be known) as an embedding a map can be fit to."""
        chosen = list(words)
        key = f"{GLOVE_PREFIX}{text_key(chr(31).join(chosen))}"
        found = self._held(("vectors", key))
        if found is None:
            found = self.glove().lookup(chosen)
        return self._remember(key, found, None)

    def opposites(self):
        """The built-in opposite word pairs and how close GloVe puts them (a DataFrame)."""
        return self._once("opposites", lambda: opposite_pairs_report(self.glove()), self._resources)

    def analogies(self) -> AnalogyBenchmark:
        """data/analogies.csv answered three ways on GloVe."""
        return self._once(
            "analogies", lambda: analogy_benchmark(self.glove(), load_analogies()), self._resources
        )

    # --- get-or-compute -----------------------------------------------------------------------

    def _held(self, key: Hashable, cache: Any = None) -> Any:
        """What `cache` (the shared LRU by default) holds under `key`, or None. Read under the
        lock: cachetools caches are not thread-safe, and an LRU read reorders the cache."""
        with self._lock:
            return (self._memory if cache is None else cache).get(key)

    def _heavy(self, compute: Callable[[], T]) -> Callable[[], T]:
        """`compute` run in its turn of the fair queue (one heavy job at a time by default)."""

        def queued() -> T:
            with self.queue.turn():
                return compute()

        return queued

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

    # --- near-duplicates (issue 22) -------------------------------------------------------------

    def duplicates(self, embedding: Embedding, params: DuplicateParams) -> Duplicates:
        """Near-duplicate groups of these vectors, once per vectors and threshold."""
        return self._once(
            ("duplicates", embedding.key, params),
            self._heavy(lambda: find_duplicates(embedding.vectors, params)),
        )

    def peek_duplicates(self, embedding: Embedding, params: DuplicateParams) -> Duplicates | None:
        """The near-duplicate groups if they were found already (in memory); else None."""
        return self._held(("duplicates", embedding.key, params))


def _verdict_key(name: str, precision: str | None) -> str:
    """Where the id that loading `name` gave is remembered: keyed by everything that decides it
    (the precision asked for, whether $EMBEDSCOPE_PRECISION pins it, what "auto" means here, the
    backend, the CPU, the libraries)."""
    asked = precision or "auto"
    return result_key(
        "model-id", model=name, asked=precision, pinned=pinned_precision(asked),
        precision=resolve_precision(asked), backend=ov_backend.resolve_backend(), machine=machine(),
        versions=library_versions(GUARD_PACKAGES),
    )  # fmt: skip


def _as_saved(saved: SavedView, params: ClusterParams, layout: Projection) -> bool:
    """Whether `params` on `layout` cluster exactly as the saved project did: the same effective
    parameters and, when clustering on the map, the saved map."""
    if params.effective() != saved.cluster_params.effective():
        return False
    return params.space != "map" or layout.params == saved.layout


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
