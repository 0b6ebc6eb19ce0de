"""Huge maps for the browser: float32 typed arrays and no per-point strings.

`huge_map_figure` draws a map with about 11 bytes per point in the figure JSON; selections map
back to rows through `HugeMap.rows`.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from lib.cluster.clusters import NOISE
from lib.errors import ParameterError
from lib.figures.colors import OTHER, CategoryColors, colors_by_size
from lib.figures.map import clear_of_modebar

HUGE_MAP_ABOVE = 50_000  # bigger maps are drawn by huge_map_figure (no per-point text)
MAX_CATEGORIES = 50  # colour groups a huge map draws as traces
FIGURE_LOW, FIGURE_HIGH = 1024.0, 2048.0  # one float32 exponent: base64 with few escaped '/'


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
    scheme, groups = _colour_groups(labels, names)
    order = np.argsort(groups, kind="stable")
    offsets = np.searchsorted(groups[order], np.arange(len(scheme.order) + 1)).astype(np.int64)
    low = points[:, :2].min(axis=0).astype(np.float64)
    span = float((points[:, :2].max(axis=0) - low).max()) or 1.0
    huge = HugeMap(None, order.astype(np.int64), offsets, low, span)
    drawn = huge.figure_coords(points)
    figure = go.Figure()
    for position, name in enumerate(scheme.order):
        rows = order[offsets[position] : offsets[position + 1]]
        figure.add_trace(
            go.Scattergl(
                x=drawn[rows, 0],
                y=drawn[rows, 1],
                mode="markers",
                name=html.escape(name),
                marker=dict(size=marker_size, color=scheme.colors[name]),
                hovertemplate="%{fullData.name}<extra></extra>",
            )
        )
    figure.update_layout(
        template="none",
        height=height,
        margin=dict(l=10, r=10, b=10),
        dragmode="pan",  # a click selects a point; lasso and box are in the mode bar
        legend=dict(itemsizing="constant"),
    )
    figure.update_xaxes(showticklabels=False, showgrid=False, zeroline=False)
    figure.update_yaxes(
        showticklabels=False, showgrid=False, zeroline=False, scaleanchor="x", scaleratio=1
    )
    return replace(huge, figure=clear_of_modebar(figure))


def _colour_groups(
    labels: np.ndarray, names: Mapping[int, str]
) -> tuple[CategoryColors, np.ndarray]:
    """The colours of the labels' groups (`lib.figures.colors`) and each point's trace number."""
    ids, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    id_names = [names.get(int(c), f"cluster {c}") for c in ids]
    sizes: dict[str, int] = {}
    for name, count in zip(id_names, counts.tolist(), strict=True):
        sizes[name] = sizes.get(name, 0) + count
    scheme = colors_by_size(sizes)
    trace_of = {name: position for position, name in enumerate(scheme.order)}
    id_trace = np.array([trace_of.get(name, trace_of.get(OTHER, -1)) for name in id_names])
    return scheme, id_trace[inverse.ravel()]
