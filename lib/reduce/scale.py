"""Maps of big corpora: fit UMAP on a seeded sample, place the rest in chunks.

Above `ScaleParams.sample_size` points, UMAP is fitted on a seeded sample and every other point
is placed with `Projection.transform` (its neighbours among the fitted points decide where it
lands; fitted points do not move). `fitted_mask` records which points were fitted, so the honesty
of both kinds can be compared and the app can say which is which. Clustering follows the same
split (`lib.cluster.scale`); huge maps are drawn by `lib.figures.huge`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from lib.errors import check_int
from lib.reduce.layouts import PCAParams, Projection, UMAPParams, project_pca, project_umap

logger = logging.getLogger(__name__)

SAMPLE_SIZE = 200_000  # measured: up to here one full fit costs about what sample + place does
CHUNK_SIZE = 10_000
MIN_SAMPLE = 50
DEFAULT_LAYOUT = UMAPParams()

ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class ScaleParams:
    """When and how to sample: fit on `sample_size` seeded rows, transform the rest in chunks."""

    sample_size: int = SAMPLE_SIZE
    chunk_size: int = CHUNK_SIZE
    seed: int = 0

    def __post_init__(self) -> None:
        check_int("ScaleParams", "sample_size", self.sample_size, MIN_SAMPLE)
        check_int("ScaleParams", "chunk_size", self.chunk_size, 1)
        check_int("ScaleParams", "seed", self.seed, 0)


@dataclass(frozen=True)
class ScaledProjection:
    """A map of every point.

    coords: (n, n_components) float32. fitted_mask: (n,) bool, True where the layout was fitted,
    False where the point was placed by `projection.transform`. projection: the fitted map (its
    coords are those of the fitted rows only).
    """

    coords: np.ndarray
    fitted_mask: np.ndarray
    projection: Projection

    @property
    def n_transformed(self) -> int:
        """Points placed by transform rather than fitted."""
        return int((~self.fitted_mask).sum())


def sample_rows(n: int, sample_size: int, seed: int = 0) -> np.ndarray:
    """Sorted row ids of a seeded uniform sample of min(sample_size, n) rows out of n."""
    check_int("sample_rows", "n", n, 0)
    check_int("sample_rows", "sample_size", sample_size, 1)
    if n <= sample_size:
        return np.arange(n, dtype=np.int64)
    chosen = np.random.default_rng(seed).choice(n, size=sample_size, replace=False)
    return np.sort(chosen).astype(np.int64)


def project_at_scale(
    vectors: np.ndarray,
    layout: UMAPParams | PCAParams = DEFAULT_LAYOUT,
    scale: ScaleParams = ScaleParams(),
    progress: ProgressCallback | None = None,
) -> ScaledProjection:
    """Map every vector: one fit up to `scale.sample_size` points (and PCA), else sample + place.

    `progress(done, total)` counts transformed points, after each chunk.
    """
    matrix = np.asarray(vectors, dtype=np.float32)
    n = len(matrix)
    if isinstance(layout, PCAParams) or n <= scale.sample_size:
        fit = project_pca if isinstance(layout, PCAParams) else project_umap
        fitted = fit(matrix, layout)
        return ScaledProjection(fitted.coords, np.ones(n, dtype=bool), fitted)
    rows = sample_rows(n, scale.sample_size, scale.seed)
    fitted = project_umap(matrix[rows], layout)
    mask = np.zeros(n, dtype=bool)
    mask[rows] = True
    coords = np.empty((n, fitted.coords.shape[1]), dtype=np.float32)
    coords[rows] = fitted.coords
    rest = np.flatnonzero(~mask)
    coords[rest] = transform_in_chunks(fitted, matrix, rest, scale.chunk_size, progress)
    logger.info("UMAP fitted on %d of %d points; %d placed by transform", len(rows), n, len(rest))
    return ScaledProjection(coords, mask, fitted)


def transform_in_chunks(
    projection: Projection,
    vectors: np.ndarray,
    rows: np.ndarray,
    chunk_size: int = CHUNK_SIZE,
    progress: ProgressCallback | None = None,
) -> np.ndarray:
    """Place `vectors[rows]` on `projection`'s map, `chunk_size` rows at a time: (len(rows), c)."""
    check_int("transform_in_chunks", "chunk_size", chunk_size, 1)
    placed = np.empty((len(rows), projection.coords.shape[1]), dtype=np.float32)
    if progress is not None:
        progress(0, len(rows))
    for start in range(0, len(rows), chunk_size):
        stop = min(start + chunk_size, len(rows))
        placed[start:stop] = projection.transform(vectors[rows[start:stop]])
        if progress is not None:
            progress(stop, len(rows))
    return placed


def nearest_rows(reference: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Row in `reference` (m, d) nearest (euclidean) to each row of `queries` (q, d): (q,) int64."""
    from sklearn.neighbors import NearestNeighbors

    index = NearestNeighbors(n_neighbors=1).fit(np.asarray(reference, dtype=np.float32))
    _, found = index.kneighbors(np.asarray(queries, dtype=np.float32))
    return found[:, 0].astype(np.int64)
