"""Reduce embeddings to 2-D or 3-D maps (UMAP, PCA), reusing one kNN graph across UMAP refits."""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from lib.errors import ParameterError, check_choice, check_float, check_int
from lib.reduce.neighbors import exact_knn, normalize_rows
from lib.reduce.placement import NeighborPlacement
from lib.store.caches import default_home

logger = logging.getLogger(__name__)

MIN_UMAP_POINTS = 5
SMALL_DATA = 4096  # UMAP's own small-data path (we never take it: every fit gets our graph)
EXACT_KNN_MAX = 50_000  # exact kNN up to the app's cap (corpus.MAX_DOCUMENTS): no pynndescent
NUMBA_CACHE_ENV = "NUMBA_CACHE_DIR"
METRICS = ("cosine",)  # our vectors are unit length, so euclidean would rank the same
INITS = ("spectral", "pca", "random")


@dataclass(frozen=True)
class UMAPParams:
    """UMAP settings; defaults favour speed at equal quality (200 epochs, seeded, cosine)."""

    n_neighbors: int = 15
    min_dist: float = 0.1
    n_components: int = 2
    metric: str = "cosine"
    seed: int = 42
    n_epochs: int = 200
    init: str = "spectral"

    def __post_init__(self) -> None:
        check_int("UMAPParams", "n_neighbors", self.n_neighbors, 2, 200)
        check_float("UMAPParams", "min_dist", self.min_dist, 0.0, 1.0)
        check_int("UMAPParams", "n_components", self.n_components, 2, 3)
        check_choice("UMAPParams", "metric", self.metric, METRICS)
        check_int("UMAPParams", "seed", self.seed, 0)
        check_int("UMAPParams", "n_epochs", self.n_epochs, 10, 2000)
        check_choice("UMAPParams", "init", self.init, INITS)


@dataclass(frozen=True)
class PCAParams:
    """PCA settings: a linear map that keeps global distances and shows how much variance fits."""

    n_components: int = 2
    seed: int = 42

    def __post_init__(self) -> None:
        check_int("PCAParams", "n_components", self.n_components, 2, 3)
        check_int("PCAParams", "seed", self.seed, 0)


@dataclass(frozen=True)
class KnnGraph:
    """kNN of each point, itself first: `indices`/`distances` (n, k); `search_index` is
    pynndescent's index above EXACT_KNN_MAX points, None for the exact graph below."""

    indices: np.ndarray
    distances: np.ndarray
    search_index: Any = field(repr=False)
    metric: str = "cosine"

    @property
    def k(self) -> int:
        return int(self.indices.shape[1])

    def truncated(self, k: int) -> tuple[np.ndarray, np.ndarray, Any]:
        """The first `k` neighbours in UMAP's `precomputed_knn` form. Indices are int32 whatever
        built the graph (numpy, torch or pynndescent), so every fit runs the kernels compiled
        for int32 by the warm-up."""
        indices = np.ascontiguousarray(self.indices[:, :k], dtype=np.int32)
        return indices, self.distances[:, :k].copy(), self.search_index


@dataclass(frozen=True)
class Projection:
    """Map coordinates `coords` (n, n_components) float32 and the reducer that places new points."""

    coords: np.ndarray
    method: str
    params: UMAPParams | PCAParams
    reducer: Any = field(repr=False)
    notes: tuple[str, ...] = ()
    explained_variance: float | None = None

    def transform(self, vectors: np.ndarray) -> np.ndarray:
        """Place new vectors (m, d) on this map without moving existing points."""
        matrix = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return np.asarray(self.reducer.transform(matrix), dtype=np.float32)


def check_vectors(vectors: np.ndarray, minimum: int) -> np.ndarray:
    """`vectors` as a finite float32 matrix (n, d) with at least `minimum` rows, else a clear
    ParameterError (every layout method checks its input this way)."""
    matrix = np.asarray(vectors, dtype=np.float32)
    if matrix.ndim != 2:
        raise ParameterError(f"Expected a 2-D array of vectors (n, d); got shape {matrix.shape}.")
    if len(matrix) < minimum:
        raise ParameterError(
            f"A map needs at least {minimum} documents; this corpus has {len(matrix)}."
        )
    if not np.isfinite(matrix).all():
        raise ParameterError("The vectors contain NaN or infinite values.")
    return matrix


def knn_size(n_points: int, n_neighbors: int) -> int:
    """Neighbours to compute so every n_neighbors up to 50 can reuse the graph (at most n)."""
    return int(min(max(n_neighbors, 50), n_points))


def compute_knn(vectors: np.ndarray, k: int, metric: str = "cosine", seed: int = 42) -> KnnGraph:
    """Build the kNN graph once so UMAP refits can share it.

    Exact (BLAS, see `exact_knn`) up to EXACT_KNN_MAX points, with no search index: no numba
    compile, and 10,000 points take ~2 s where pynndescent's first call compiles for ~40 s.
    Above, pynndescent's approximate graph and its index (only lib.reduce.scale goes there).
    """
    matrix = check_vectors(vectors, MIN_UMAP_POINTS)
    check_int("compute_knn", "k", k, 2, len(matrix))
    check_choice("compute_knn", "metric", metric, METRICS)
    if len(matrix) <= EXACT_KNN_MAX:
        return _exact_knn_graph(matrix, k, metric)
    nearest_neighbors = umap_module().umap_.nearest_neighbors
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        indices, distances, index = nearest_neighbors(
            matrix,
            n_neighbors=k,
            metric=metric,
            metric_kwds={},
            angular=False,
            random_state=np.random.RandomState(seed),
            low_memory=True,
            use_pynndescent=True,
            n_jobs=1,
            verbose=False,
        )
    return KnnGraph(indices, distances.astype(np.float32), index, metric)


def _exact_knn_graph(matrix: np.ndarray, k: int, metric: str) -> KnnGraph:
    """Exact kNN (itself first) in UMAP's `precomputed_knn` layout, with no search index."""
    found = exact_knn(normalize_rows(matrix), k - 1)
    own = np.arange(len(matrix))[:, None]
    indices = np.hstack([own, found.indices])
    distances = np.hstack([np.zeros((len(matrix), 1)), np.clip(1.0 - found.scores, 0.0, 2.0)])
    return KnnGraph(indices, distances.astype(np.float32), None, metric)


def _clip_neighbors(params: UMAPParams, n_points: int) -> tuple[UMAPParams, tuple[str, ...]]:
    """Lower n_neighbors for tiny corpora, recording why (the caller's params stay untouched)."""
    if params.n_neighbors < n_points:
        return params, ()
    clipped = max(2, n_points - 1)
    note = f"n_neighbors lowered from {params.n_neighbors} to {clipped}: only {n_points} points."
    warnings.warn(note, stacklevel=3)
    return replace(params, n_neighbors=clipped), (note,)


def project_umap(
    vectors: np.ndarray, params: UMAPParams = UMAPParams(), knn: KnnGraph | None = None
) -> Projection:
    """Fit UMAP (seeded) on the kNN graph `knn` (built here when missing; refits share it).

    Every corpus size goes through the graph, small ones included (UMAP would otherwise compute
    its own distances below SMALL_DATA points): one code path, so one warm-up compiles all the
    app runs, and the maps keep as many true neighbours (topics, 5 seeds: 0.368 kept, label
    accuracy 0.931, against 0.362 / 0.930 on UMAP's own small-data path). New points are placed
    from the map positions of their nearest documents (`placement`), never by UMAP's own
    `transform`, which runs another optimisation that moves with its random state.
    """
    umap = umap_module()
    matrix = check_vectors(vectors, MIN_UMAP_POINTS)
    effective, notes = _clip_neighbors(params, len(matrix))
    if knn is None or knn.k < effective.n_neighbors or knn.metric != effective.metric:
        knn = compute_knn(matrix, knn_size(len(matrix), effective.n_neighbors), effective.metric)
    precomputed = knn.truncated(effective.n_neighbors)
    reducer = umap.UMAP(
        n_neighbors=effective.n_neighbors,
        min_dist=effective.min_dist,
        n_components=effective.n_components,
        metric=effective.metric,
        random_state=effective.seed,
        n_epochs=effective.n_epochs,
        init=effective.init,
        precomputed_knn=precomputed,
        force_approximation_algorithm=True,  # small corpora too: our graph, not UMAP's own
        low_memory=True,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        coords = reducer.fit_transform(matrix)
    logger.info("UMAP fitted on %d points (%s)", len(matrix), effective)
    coords = np.asarray(coords, np.float32)
    return Projection(coords, "umap", effective, placement(matrix, coords), notes)


def project_pca(vectors: np.ndarray, params: PCAParams = PCAParams()) -> Projection:
    """Fit PCA; the result records the share of variance the map keeps.

    New points are placed like on every map (`placement`), not by PCA's own projection: a query
    then lands in the same place on a map just fitted and on the same map read back from disk.
    """
    from sklearn.decomposition import PCA

    matrix = check_vectors(vectors, params.n_components)
    reducer = PCA(n_components=params.n_components, random_state=params.seed)
    coords = np.asarray(reducer.fit_transform(matrix), np.float32)
    kept = float(reducer.explained_variance_ratio_.sum())
    return Projection(coords, "pca", params, placement(matrix, coords), (), kept)


def placement(vectors: np.ndarray, coords: np.ndarray) -> NeighborPlacement:
    """How every map places new points: from the map positions of their true neighbours among
    `vectors` (cosine; the rows are normalised here), one rule for maps fitted now, read back from
    a cache or saved in a project."""
    return NeighborPlacement(normalize_rows(vectors), np.asarray(coords, np.float32))


def warm_up(n_points: int = 300, dimensions: int = 16) -> float:
    """Fit UMAP once on random data so numba compiles before real work; returns seconds.

    One small fit compiles every kernel the app's maps run, as every fit takes the same path
    (our kNN graph as `precomputed_knn`, handed over with int32 indices; checked in
    tests/test_reduce.py). The graph is built by numpy here, so the warm-up's compiler process
    never imports torch. With numba's on-disk cache (`umap_module`) a later process loads the
    compiled code. UMAP's own `transform` is left out: every map places new points with
    `placement`.
    """
    started = time.perf_counter()
    vectors = normalize_rows(np.random.default_rng(0).normal(size=(n_points, dimensions)))
    project_umap(vectors, UMAPParams(n_epochs=20), _numpy_knn_graph(vectors, 16))
    seconds = time.perf_counter() - started
    logger.info("UMAP warm-up took %.1f s", seconds)
    return seconds


def _numpy_knn_graph(vectors: np.ndarray, k: int) -> KnnGraph:
    """The exact kNN graph of a few unit rows by numpy alone (each point its own first)."""
    scores = vectors @ vectors.T
    np.fill_diagonal(scores, np.inf)
    best = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, best, axis=1), axis=1, kind="stable")
    indices = np.take_along_axis(best, order, axis=1)
    distances = np.clip(1.0 - np.take_along_axis(scores, indices, axis=1), 0.0, 2.0)
    distances[:, 0] = 0.0
    return KnnGraph(indices, distances.astype(np.float32), None)


def numba_cache_dir() -> Path:
    """Where numba keeps compiled code: $NUMBA_CACHE_DIR, else <EMBEDSCOPE_HOME>/numba."""
    configured = os.environ.get(NUMBA_CACHE_ENV, "").strip()
    return Path(configured) if configured else default_home() / "numba"


_UMAP_IMPORT = threading.Lock()  # a page and the warm-up thread may both ask first


@functools.cache
def umap_module() -> Any:
    """`import umap` with numba's on-disk cache on for UMAP's own compiled functions.

    umap-learn 0.5.12 declares one function cacheable; its module-level kernels (fuzzy graph,
    spectral helpers, layout optimisation) compile in every new process (~15 s here). Turning
    caching on for them before their first call lets a second start load them from
    `numba_cache_dir()` (same machine code, so the same maps). The directory is set before numba
    is imported where possible, so pynndescent's cacheable functions land there too.
    """
    with _UMAP_IMPORT:
        return _import_umap(numba_cache_dir())


def _import_umap(folder: Path) -> Any:
    os.environ.setdefault(NUMBA_CACHE_ENV, str(folder))
    import numba

    if "pynndescent" not in sys.modules:
        with _signatures_deferred(numba):
            import pynndescent  # noqa: F401  (umap imports it; here its kernels compile lazily)
    import umap
    from numba.core.dispatcher import Dispatcher

    numba.config.CACHE_DIR = str(folder)
    enabled = 0
    for name, module in list(sys.modules.items()):
        if not name.startswith("umap.") or module is None:
            continue
        for value in list(vars(module).values()):
            if isinstance(value, Dispatcher) and value.__module__ == name:
                enabled += _enable_caching(value)
    logger.info("numba cache for %d UMAP functions in %s", enabled, folder)
    return umap


@contextlib.contextmanager
def _signatures_deferred(numba: Any) -> Iterator[None]:
    """While importing pynndescent, compile its numba functions on first call, not at import.

    pynndescent 0.7 gives many kernels explicit signatures, so numba compiles 76 of them when
    the module is imported: 13 s here on a fresh install (9 s in rp_trees alone), though the app
    calls them only above EXACT_KNN_MAX points (lib.reduce.scale). Without the signatures the
    same functions compile for the types they are first called with (still cached on disk);
    the import takes 1.7 s. Only `numba.njit`/`numba.jit` are wrapped, and only during the
    import (under `_UMAP_IMPORT`).
    """
    originals = numba.njit, numba.jit

    def lazy(decorator: Callable) -> Callable:
        @functools.wraps(decorator)
        def without_signature(*args: Any, **kwargs: Any) -> Any:
            if args and not callable(args[0]):  # njit("f4(f4[:])", ...) or njit([sig, ...])
                args = args[1:]
            return decorator(*args, **kwargs)

        return without_signature

    numba.njit, numba.jit = lazy(numba.njit), lazy(numba.jit)
    try:
        yield
    finally:
        numba.njit, numba.jit = originals


def _enable_caching(dispatcher: Any) -> int:
    """Turn numba's on-disk cache on for one compiled function (1), or leave it as it is (0)."""
    if type(dispatcher._cache).__name__ != "NullCache":
        return 0
    try:
        dispatcher.enable_caching()
    except Exception as exc:  # numba refuses some functions (closures, dynamic globals)
        logger.debug("numba cache not enabled for %s: %s", dispatcher.__name__, exc)
        return 0
    return 1


# Seconds of one `project_umap` (2-D, the mean over n_neighbors 5 and 50, numba already compiled,
# the kNN graph shared) measured at 300, 1,500 and 5,000 random unit vectors (384-d) on 2 cores
# shared with other work (load ~17): a quiet machine is faster. See `estimate_umap_seconds`.
UMAP_MEASURED_SECONDS = ((300, 0.9), (1_500, 3.4), (5_000, 11.6))


def estimate_umap_seconds(n_points: int, n_maps: int = 1) -> float:
    """Expected seconds for `n_maps` UMAP fits of `n_points` documents on this kind of machine.

    Interpolated (log-log) between UMAP_MEASURED_SECONDS, extrapolated linearly in n beyond them;
    a rough guide to show before starting, not a promise.
    """
    check_int("estimate_umap_seconds", "n_points", n_points, 1)
    check_int("estimate_umap_seconds", "n_maps", n_maps, 0)
    sizes = np.log([n for n, _ in UMAP_MEASURED_SECONDS])
    seconds = np.log([s for _, s in UMAP_MEASURED_SECONDS])
    largest, slowest = UMAP_MEASURED_SECONDS[-1]
    if n_points > largest:
        return float(slowest * n_points / largest * n_maps)
    return float(np.exp(np.interp(np.log(n_points), sizes, seconds)) * n_maps)
