"""Plotly figure builders: arrays and labels in, `go.Figure` out (no models, no Streamlit)."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from numbers import Real

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from lib.errors import ParameterError
from lib.figures.colors import RING_COLOR, RING_HALO, CategoryColors, category_colors

HOVER_CHARS = 280
HOVER_WIDTH = 60
HIGHLIGHT_COLOR = RING_COLOR
MODEBAR_ROOM = 40  # px of top margin: Plotly's mode bar sits there, above legend and colour bar
TITLE_ROOM = 30  # more px for subplot titles between the mode bar and the plot
LEGEND_ROW = 30  # more px for a horizontal legend above the plot
LABEL_ROW_PX = 40  # map height per cluster name drawn (see labelled_clusters)


@dataclass(frozen=True)
class ColorBy:
    """What colours the points: a name for the legend and one value per point."""

    name: str
    values: np.ndarray
    continuous: bool | None = None  # None: decide from the values
    colors: CategoryColors | None = None  # corpus-wide colours; None: from `values`

    def category_colors(self) -> CategoryColors:
        """The colours of the categories (`colors` when given: a subset keeps the corpus's)."""
        return self.colors if self.colors is not None else category_colors(self.values)

    @property
    def is_numeric(self) -> bool:
        """Many distinct numbers get a continuous scale; everything else a categorical legend."""
        if self.continuous is not None:
            return self.continuous
        return pd.api.types.is_numeric_dtype(self.values) and len(np.unique(self.values)) > 12


def escape_text(text: object, limit: int = HOVER_CHARS, width: int = HOVER_WIDTH) -> str:
    """User text as safe hover HTML: truncated, wrapped with <br>, every character escaped."""
    value = str(text)
    if len(value) > limit:
        value = value[: limit - 1].rstrip() + "…"
    return "<br>".join(html.escape(line, quote=False) for line in wrap_words(value, width))


def wrap_words(text: str, width: int) -> list[str]:
    """Greedy word wrap like textwrap.wrap(break_long_words=True), ~5× faster on hover labels."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        while len(word) > width:  # a long word fills the current line, then whole lines
            room = width - len(line) - 1 if line else width
            if room > 0:
                line, word = (f"{line} {word[:room]}" if line else word[:room]), word[room:]
            lines.append(line)
            line = ""
        if not line:
            line = word
        elif len(line) + 1 + len(word) <= width:
            line = f"{line} {word}"
        else:
            lines.append(line)
            line = word
    if line or not lines:
        lines.append(line)
    return lines


def hover_labels(texts: Sequence[str], metadata: pd.DataFrame | None = None) -> list[str]:
    """One escaped hover label per point: the text, then up to four metadata fields."""
    labels = [escape_text(t) for t in texts]
    if metadata is None or metadata.empty:
        return labels
    columns = list(metadata.columns[:4])
    for i, row in enumerate(metadata[columns].itertuples(index=False)):
        fields = (
            f"<b>{escape_text(c, 40)}</b>: {escape_text(v, 60)}"
            for c, v in zip(columns, row, strict=True)
        )
        labels[i] += "<br>" + "<br>".join(fields)
    return labels


def check_lengths(coords: np.ndarray, **arrays: object) -> None:
    for name, values in arrays.items():
        if values is not None and len(values) != len(coords):
            raise ParameterError(
                f"'{name}' has {len(values)} entries for {len(coords)} points; they must match."
            )


def _marker_trace(
    coords: np.ndarray, rows: np.ndarray, hover: list[str], **style
) -> go.BaseTraceType:
    """One scatter trace of the given rows; customdata carries row ids back from selections."""
    common = dict(
        mode="markers",
        customdata=rows.tolist(),
        hovertext=[hover[i] for i in rows],
        hovertemplate="%{hovertext}<extra></extra>",
        **style,
    )
    if coords.shape[1] == 3:
        return go.Scatter3d(x=coords[rows, 0], y=coords[rows, 1], z=coords[rows, 2], **common)
    return go.Scattergl(x=coords[rows, 0], y=coords[rows, 1], **common)


def _point_size(n: int, three_d: bool) -> float:
    size = float(np.clip(14 - 2.2 * np.log10(max(n, 1)), 2.5, 9))
    return size * 0.6 if three_d else size


def map_figure(
    coords: np.ndarray,
    hover: Sequence[str],
    *,
    color: ColorBy | None = None,
    cluster_names: Mapping[int, str] | None = None,
    cluster_labels: np.ndarray | None = None,
    title: str = "",
    height: int = 640,
) -> go.Figure:
    """A 2-D (Scattergl) or 3-D (Scatter3d) map; cluster names drawn at cluster centres in 2-D.

    `hover` must already be escaped (see `hover_labels`); customdata of every point is its row.
    """
    coords = np.asarray(coords, dtype=np.float32)
    check_lengths(coords, hover=hover, cluster_labels=cluster_labels)
    if color is not None:
        check_lengths(coords, color=color.values)
    three_d = coords.shape[1] == 3
    size = _point_size(len(coords), three_d)
    hover = list(hover)
    figure = go.Figure()
    if color is None:
        rows = np.arange(len(coords))
        figure.add_trace(
            _marker_trace(coords, rows, hover, marker=dict(size=size), name="documents")
        )
    elif color.is_numeric:
        _add_continuous(figure, coords, hover, color, size)
    else:
        _add_categorical(figure, coords, hover, color, size)
    if cluster_names and cluster_labels is not None and not three_d:
        _add_cluster_annotations(figure, coords, cluster_labels, cluster_names, height)
    _layout(figure, title, height, three_d, legend_title=color.name if color else None)
    return figure


def _add_continuous(figure: go.Figure, coords, hover, color: ColorBy, size: float) -> None:
    rows = np.arange(len(coords))
    values = np.asarray(color.values, dtype=np.float64)
    marker = dict(
        size=size,
        color=values,
        colorscale="Viridis",
        colorbar=dict(title=dict(text=escape_text(color.name, 40))),
        showscale=True,
    )
    figure.add_trace(_marker_trace(coords, rows, hover, marker=marker, name=color.name))


def _add_categorical(figure: go.Figure, coords, hover, color: ColorBy, size: float) -> None:
    scheme = color.category_colors()
    values = scheme.fold(color.values)
    for category in scheme.order:
        rows = np.flatnonzero(values == category)
        if not len(rows):
            continue
        marker = dict(size=size, color=scheme.colors[category])
        label = f"{escape_text(category, 40)} ({len(rows)})"
        figure.add_trace(_marker_trace(coords, rows, hover, marker=marker, name=label))


def labelled_clusters(labels: np.ndarray, names: Mapping[int, str], height: int) -> list[int]:
    """The clusters whose names a map of `height` px draws: the largest ones (noise never), at
    most one name per LABEL_ROW_PX of height, so names cannot pile up (87 clusters on a 640 px
    map get 16 names; the rest are in the legend and the clusters table)."""
    ids, counts = np.unique(np.asarray(labels), return_counts=True)
    sizes = {int(c): int(k) for c, k in zip(ids, counts, strict=True) if c >= 0 and c in names}
    ranked = sorted(sizes, key=lambda c: (-sizes[c], c))
    return ranked[: max(1, height // LABEL_ROW_PX)]


def _add_cluster_annotations(
    figure, coords, labels: np.ndarray, names: Mapping[int, str], height: int
) -> None:
    labels = np.asarray(labels)
    for cluster_id in labelled_clusters(labels, names, height):
        x, y = np.median(coords[labels == cluster_id][:, :2], axis=0)
        figure.add_annotation(
            x=float(x),
            y=float(y),
            text=escape_text(names[cluster_id], 40),
            showarrow=False,
            font=dict(size=12, color="#222"),
            bgcolor="rgba(255,255,255,0.75)",
        )


def _layout(figure: go.Figure, title: str, height: int, three_d: bool, legend_title) -> None:
    axis = dict(showticklabels=False, title="", showgrid=False, zeroline=False)
    figure.update_layout(
        title=dict(text=escape_text(title, 160, width=160)) if title else None,
        height=height,
        margin=dict(l=10, r=10, b=10),
        legend=dict(
            title=dict(text=escape_text(legend_title, 40)) if legend_title else None,
            itemsizing="constant",
        ),
        dragmode="pan" if not three_d else "orbit",  # pan: a click selects (Streamlit)
        hoverlabel=dict(align="left"),
        plot_bgcolor="white",
    )
    if three_d:
        figure.update_layout(scene=dict(xaxis=axis, yaxis=axis, zaxis=axis))
    else:
        figure.update_xaxes(**axis)
        figure.update_yaxes(**axis, scaleanchor="x", scaleratio=1)
    clear_of_modebar(figure)


def clear_of_modebar(figure: go.Figure) -> go.Figure:
    """Room at the top for Plotly's mode bar (top right), so it never covers a legend, a colour
    bar's title or a subplot title: the plot area, where legends and colour bars start, begins
    MODEBAR_ROOM px down, more when subplot titles or a horizontal legend sit above it (a figure
    title is drawn on the left, clear of it). Call after the layout is set."""
    layout = figure.layout
    legend_above = layout.legend.orientation == "h" and (layout.legend.y or 0) >= 1
    subplot_titles = any(a.yref == "paper" and (a.y or 0) >= 1 for a in layout.annotations)
    room = MODEBAR_ROOM + TITLE_ROOM * subplot_titles + LEGEND_ROW * legend_above
    figure.update_layout(margin_t=max(layout.margin.t or 0, room))
    return figure


def add_markers(
    figure: go.Figure,
    coords: np.ndarray,
    *,
    name: str,
    hover: Sequence[str] | None = None,
    symbol: str = "circle-open",
    size: float = 14,
    color: str = HIGHLIGHT_COLOR,
) -> go.Figure:
    """Overlay highlighted points (hits, a query) on a map, in the map's 2-D/3-D form."""
    coords = np.atleast_2d(np.asarray(coords, dtype=np.float32))
    rows = np.arange(len(coords))
    labels = list(hover) if hover is not None else [escape_text(name)] * len(coords)
    marker = dict(size=size, symbol=symbol, color=color, line=dict(width=2, color=color))
    trace = _marker_trace(coords, rows, labels, marker=marker, name=escape_text(name, 40))
    trace.customdata = None
    figure.add_trace(trace)
    return figure


def add_rings(
    figure: go.Figure,
    coords: np.ndarray,
    *,
    name: str,
    hover: Sequence[str] | None = None,
    size: float = 12,
) -> go.Figure:
    """Ring selected points: a black ring on a wider white one, colours outside the palette, so
    a ring never looks like a category's points and shows on dark and light points alike."""
    halo = add_markers(
        figure, coords, name="ring halo", hover=hover, size=size + 3, color=RING_HALO
    ).data[-1]
    halo.update(showlegend=False, hoverinfo="skip", hovertemplate=None, marker_line_width=4)
    return add_markers(figure, coords, name=name, hover=hover, size=size, color=RING_COLOR)


def selected_rows(event: object, *, n_rows: int | None = None) -> list[int]:
    """Row ids of the points selected in a chart, read from customdata (object or plain dict).

    The event comes from the browser, so it is untrusted: values that are not row ids, and with
    `n_rows` given, rows outside [0, n_rows), are ignored (never an IndexError later).
    """
    selection = _field(event, "selection") or {}
    rows: set[int] = set()
    for point in _points(selection):
        value = _field(point, "customdata")
        if isinstance(value, Mapping):
            value = next(iter(value.values()), None)
        if isinstance(value, list | tuple):
            value = value[0] if value else None
        row = _as_row(value, n_rows)
        if row is not None:
            rows.add(row)
    return sorted(rows)


def selected_points(event: object) -> list[tuple[int, int]]:
    """(curve_number, point_number) of each selected point, for figures without customdata."""
    selection = _field(event, "selection") or {}
    pairs = []
    for point in _points(selection):
        curve, number = _field(point, "curve_number"), _field(point, "point_number")
        if isinstance(curve, int) and isinstance(number, int):
            pairs.append((curve, number))
    return pairs


def _as_row(value: object, n_rows: int | None = None) -> int | None:
    """A row id in [0, n_rows) (no upper bound when None) from a customdata value, else None."""
    if isinstance(value, bool) or not isinstance(value, Real | str):
        return None
    try:
        number = float(value)
    except (ValueError, OverflowError):
        return None
    if not number.is_integer() or number < 0 or (n_rows is not None and number >= n_rows):
        return None
    return int(number)


def _points(selection: object) -> list:
    """The selection's points when they are a list (a forged event may send anything)."""
    points = _field(selection, "points")
    return points if isinstance(points, list | tuple) else []


def _field(container: object, name: str) -> object:
    if isinstance(container, Mapping):
        return container.get(name)
    return getattr(container, name, None)
