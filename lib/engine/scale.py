"""Maps of big corpora: fit UMAP on a seeded sample, place the rest in chunks, cluster the same way.

Above `ScaleParams.sample_size` points, UMAP is fitted on a seeded sample and every other point
is placed with `Projection.transform` (its neighbours among the fitted points decide where it
lands; fitted points do not move). `fitted_mask` records which points were fitted, so the honesty
of both kinds can be compared and the app can say which is which. Clustering follows the same
split: the clusterer runs on the fitted points and every other point takes the label of its
nearest fitted point in the clustering space. For the browser, `huge_map_figure` draws a map with
float32 typed arrays and no per-point strings (about 11 bytes per point in the figure JSON).
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from lib.engine.cluster import (
    NOISE,
    Clustering,
    ClusterParams,
    cluster_corpus,
    clustering_space,
    find_clusters,
    name_clusters,
)
from lib.engine.reduce import PCAParams, Projection, UMAPParams, project_pca, project_umap
from lib.errors import ParameterError, check_int

logger = logging.getLogger(__name__)

SAMPLE_SIZE = 200_000  # measured: up to here one full fit costs about what sample + place does
HUGE_MAP_ABOVE = 50_000  # bigger maps are drawn by huge_map_figure (no per-point text)
MAX_CATEGORIES = 50  # colour groups a huge map draws as traces
CHUNK_SIZE = 10_000
MIN_SAMPLE = 50
DEFAULT_LAYOUT = UMAPParams()
FIGURE_LOW, FIGURE_HIGH = 1024.0, 2048.0  # one float32 exponent: base64 with few escaped '/'
NOISE_COLOR = "#b8b8b8"
PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf", "#393b79", "#e6550d", "#31a354", "#843c39", "#7b4173", "#3182bd",
)  # fmt: skip

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


def cluster_at_scale(
    vectors: np.ndarray,
    texts: Sequence[str],
    params: ClusterParams,
    mapped: ScaledProjection,
) -> Clustering:
    """Cluster the fitted points; every transformed point takes its nearest fitted point's label.

    Names come from c-TF-IDF over all texts (a sparse term matrix, never densified). With no
    transformed points this is `cluster_corpus`.
    """
    if len(texts) != len(vectors) or len(vectors) != len(mapped.fitted_mask):
        raise ParameterError(
            f"Got {len(texts)} texts, {len(vectors)} vectors and a map of "
            f"{len(mapped.fitted_mask)} points; they must match."
        )
    if mapped.fitted_mask.all():
        return cluster_corpus(vectors, texts, params, map_coords=mapped.coords)
    space = clustering_space(vectors, params, mapped.coords)
    fitted = np.flatnonzero(mapped.fitted_mask)
    rest = np.flatnonzero(~mapped.fitted_mask)
    labels = np.empty(len(vectors), dtype=np.int64)
    labels[fitted] = find_clusters(space[fitted], params)
    labels[rest] = labels[fitted][nearest_rows(space[fitted], space[rest])]
    ids, counts = np.unique(labels, return_counts=True)
    sizes = {int(c): int(k) for c, k in zip(ids, counts, strict=True)}
    logger.info("%d clusters from %d fitted points", len(sizes) - (NOISE in sizes), len(fitted))
    return Clustering(labels, name_clusters(texts, labels), sizes)


def nearest_rows(reference: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Row in `reference` (m, d) nearest (euclidean) to each row of `queries` (q, d): (q,) int64."""
    from sklearn.neighbors import NearestNeighbors

    index = NearestNeighbors(n_neighbors=1).fit(np.asarray(reference, dtype=np.float32))
    _, found = index.kneighbors(np.asarray(queries, dtype=np.float32))
    return found[:, 0].astype(np.int64)


@dataclass(frozen=True)
class HugeMap:
    """A map figure with one trace per cluster, rows grouped by cluster (no per-point data).

    `order` (n,) lists the rows trace by trace and `offsets` (n_traces + 1,) where each trace
    starts in it, so the point `point_number` of trace `curve_number` is row
    `order[offsets[curve_number] + point_number]`. The figure draws `figure_coords(coords)`:
    the map shifted and scaled (one factor for both axes) into [FIGURE_LOW, FIGURE_HIGH), where
    every float32 has the same exponent; overlays must be placed with the same function.
    """

    figure: object
    order: np.ndarray
    offsets: np.ndarray
    low: np.ndarray
    span: float

    def figure_coords(self, coords: np.ndarray) -> np.ndarray:
        """Map coordinates (m, 2) as drawn in the figure: float32 in [FIGURE_LOW, FIGURE_HIGH)."""
        unit = (np.asarray(coords, dtype=np.float64)[:, :2] - self.low) / self.span
        return (FIGURE_LOW + unit * (FIGURE_HIGH - FIGURE_LOW - 1)).astype(np.float32)

    def rows(self, points: Sequence[tuple[int, int]]) -> list[int]:
        """Rows of (curve_number, point_number) pairs of a selection; out-of-range pairs dropped."""
        found = []
        for curve, point in points:
            if 0 <= curve < len(self.offsets) - 1:
                position = self.offsets[curve] + point
                if point >= 0 and position < self.offsets[curve + 1]:
                    found.append(int(self.order[position]))
        return found


def category_labels(values: Sequence[object]) -> tuple[np.ndarray, dict[int, str]]:
    """Integer codes and their names for a categorical column, to colour a huge map by it."""
    import pandas as pd

    codes, uniques = pd.factorize(pd.Series(values), use_na_sentinel=True)
    if len(uniques) > MAX_CATEGORIES:
        raise ParameterError(
            f"A huge map can colour by at most {MAX_CATEGORIES} groups; this column has "
            f"{len(uniques):,}. Colour by clusters instead."
        )
    names = {code: str(value) for code, value in enumerate(uniques)}
    if (codes < 0).any():
        names[NOISE] = "(missing)"
    return np.where(codes < 0, NOISE, codes).astype(np.int64), names


def fitted_labels(fitted_mask: np.ndarray) -> tuple[np.ndarray, dict[int, str]]:
    """Codes and names that colour a huge map by how each point got its place."""
    placed = ~np.asarray(fitted_mask, dtype=bool)
    return placed.astype(np.int64), {0: "fitted by UMAP", 1: "placed by transform"}


def huge_map_figure(
    coords: np.ndarray,
    labels: np.ndarray,
    names: Mapping[int, str],
    *,
    height: int = 700,
    marker_size: float = 2.0,
) -> HugeMap:
    """A 2-D WebGL map for up to millions of points: float32 x/y per trace, nothing else per point.

    Hovering shows the cluster name only; texts are looked up on the server for selected rows.
    About 11 bytes per point in the figure JSON (base64 float32, '/' escaped by plotly).
    """
    import plotly.graph_objects as go

    points = np.asarray(coords, dtype=np.float32)
    labels = np.asarray(labels)
    if points.ndim != 2 or points.shape[1] < 2 or len(points) != len(labels) or not len(points):
        raise ParameterError(
            f"huge_map_figure needs coords (n, 2) with n >= 1 and one label per point; got "
            f"coords of shape {points.shape} and {len(labels)} labels."
        )
    order = np.argsort(labels, kind="stable")
    ids, starts = np.unique(labels[order], return_index=True)
    offsets = np.append(starts, len(order)).astype(np.int64)
    low = points[:, :2].min(axis=0).astype(np.float64)
    span = float((points[:, :2].max(axis=0) - low).max()) or 1.0
    huge = HugeMap(None, order.astype(np.int64), offsets, low, span)
    drawn = huge.figure_coords(points)
    figure = go.Figure()
    for position, cluster_id in enumerate(ids.tolist()):
        rows = order[offsets[position] : offsets[position + 1]]
        color = NOISE_COLOR if cluster_id == NOISE else PALETTE[position % len(PALETTE)]
        figure.add_trace(
            go.Scattergl(
                x=drawn[rows, 0],
                y=drawn[rows, 1],
                mode="markers",
                name=html.escape(names.get(cluster_id, f"cluster {cluster_id}")),
                marker=dict(size=marker_size, color=color),
                hovertemplate="%{fullData.name}<extra></extra>",
            )
        )
    figure.update_layout(
        template="none",
        height=height,
        margin=dict(l=10, r=10, t=36, b=10),  # room for the mode bar above the legend
        dragmode="pan",  # a click selects a point; lasso and box are in the mode bar
        legend=dict(itemsizing="constant"),
    )
    figure.update_xaxes(showticklabels=False, showgrid=False, zeroline=False)
    figure.update_yaxes(
        showticklabels=False, showgrid=False, zeroline=False, scaleanchor="x", scaleratio=1
    )
    return replace(huge, figure=figure)
