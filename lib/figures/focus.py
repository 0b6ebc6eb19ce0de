"""The Map page's selection and its focus document drawn on the map: the selected documents
ringed, the focus document starred and its nearest neighbours (in full dimension) marked.

Every overlay is an `add_markers` trace without customdata, so the map's selectable points stay
its base traces and a selection read back from the chart never returns an overlay point.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from lib.errors import ParameterError
from lib.figures.map import HIGHLIGHT_COLOR, add_markers

SELECTED_NAME = "selected"
NEIGHBOURS_NAME = "neighbours of"
FOCUS_NAME = "looking at"
HALO_COLOR = "#ffffff"
MAX_RINGED = 2_000  # a bigger selection is not ringed (the table lists it)


def with_focus(
    figure: go.Figure,
    coords: np.ndarray,
    hover: Mapping[int, str] | Sequence[str] | None,
    *,
    selected: Sequence[int] = (),
    focus: int | None = None,
    neighbours: Sequence[int] = (),
) -> go.Figure:
    """A copy of the 2-D map `figure` with the `selected` rows ringed, the `focus` row starred
    and its `neighbours` marked; `figure` itself is left as it was.

    coords: (n, 2) positions of the map's rows; hover: escaped labels by row, for the marked rows
    at least (None: the marks' names only).
    """
    coords = np.asarray(coords, dtype=np.float32)
    marked = [*selected, *neighbours, *([] if focus is None else [focus])]
    bad = [row for row in marked if not 0 <= int(row) < len(coords)]
    if bad:
        raise ParameterError(
            f"with_focus rows must be row ids in [0, {len(coords) - 1}]; got {bad[0]} instead."
        )
    shown = go.Figure(figure)
    shown.update_layout(uirevision="map")  # zoom and pan kept when the marks change
    _keep_selected(shown, selected)
    if selected and len(selected) <= MAX_RINGED:
        _mark(shown, coords, hover, selected, f"{SELECTED_NAME} ({len(selected)})",
              symbol="circle-open", size=11, color="#555555")  # fmt: skip
    if focus is not None and len(neighbours):  # white diamonds edged in black: seen on any colour
        _mark(shown, coords, hover, neighbours, f"{NEIGHBOURS_NAME} #{focus} ({len(neighbours)})",
              symbol="diamond", size=13, color=HALO_COLOR, edge=HIGHLIGHT_COLOR)  # fmt: skip
    if focus is not None:
        _mark(shown, coords, hover, [focus], f"{FOCUS_NAME} #{focus}",
              symbol="star", size=20, color=HIGHLIGHT_COLOR, edge=HALO_COLOR)  # fmt: skip
    return shown


def _keep_selected(figure: go.Figure, selected: Sequence[int]) -> None:
    """Show `selected` as Plotly's own selection on the selectable traces (those whose customdata
    holds rows): the redrawn figure is a new chart, which would otherwise show none."""
    if not len(selected):
        return
    for trace in figure.data:
        if trace.customdata is not None:
            rows = np.asarray(trace.customdata).ravel()
            trace.selectedpoints = np.flatnonzero(np.isin(rows, selected)).tolist()


def _mark(figure, coords, hover, rows: Sequence[int], name: str, edge: str | None = None,
          **style) -> None:  # fmt: skip
    rows = [int(row) for row in rows]
    labels = None if hover is None else [hover[row] for row in rows]
    add_markers(figure, coords[rows], name=name, hover=labels, **style)
    if edge is not None:
        figure.data[-1].marker.line.color = edge
