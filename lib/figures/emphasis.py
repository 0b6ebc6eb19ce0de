"""Emphasis on a drawn map: search hits and filtered rows at full strength, the rest faded.

Works on any figure whose point traces carry their rows in `customdata` (lib.figures.map).
A 2-D trace (Scattergl) takes one opacity per point; Plotly's 3-D markers take one opacity per
trace, so there the traces are faded and the emphasised rows ringed.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from lib.errors import ParameterError
from lib.figures.map import add_markers

FULL, DIMMED, HIDDEN = 1.0, 0.15, 0.03
RING_AT_MOST = 5_000  # rows ringed on a 3-D map (more would hide the map)


def emphasis(n: int, shown: np.ndarray | None, kept: np.ndarray | None) -> np.ndarray | None:
    """Opacity per row: FULL where `shown`, DIMMED where only `kept` (by filters), HIDDEN
    elsewhere; None when nothing is chosen (both None)."""
    if shown is None and kept is None:
        return None
    kept = np.ones(n, dtype=bool) if kept is None else np.asarray(kept, dtype=bool)
    shown = kept if shown is None else np.asarray(shown, dtype=bool) & kept
    if len(shown) != n or len(kept) != n:
        raise ParameterError(f"emphasis needs one value per point ({n}); got {len(shown)}.")
    return np.where(shown, FULL, np.where(kept, DIMMED, HIDDEN))


def fade_points(figure: go.Figure, opacity: np.ndarray, coords: np.ndarray) -> go.Figure:
    """Give every point its `opacity` (n,) (in place; returns the figure)."""
    opacity = np.asarray(opacity, dtype=np.float64)
    three_d = False
    for trace in figure.data:
        rows = trace.customdata
        if rows is None or not len(rows):
            continue
        rows = np.asarray(rows, dtype=np.int64).ravel()
        if isinstance(trace, go.Scatter3d):
            three_d = True
            trace.marker.opacity = float(DIMMED)
        else:
            trace.marker.opacity = opacity[rows]
    if three_d:
        emphasised = np.flatnonzero(opacity >= FULL)[:RING_AT_MOST]
        if len(emphasised) < len(opacity):
            add_markers(figure, coords[emphasised], name="shown", size=5, symbol="circle")
    return figure


def ring_rows(figure: go.Figure, coords: np.ndarray, rows, *, name: str) -> go.Figure:
    """Ring the points `rows` (e.g. a row picked in a table) on the map."""
    rows = np.asarray(rows, dtype=np.int64)
    if len(rows):
        add_markers(figure, coords[rows], name=name, size=18)
    return figure
