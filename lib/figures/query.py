"""Figure builders for the query pages: arrows, paths, the query star, heatmaps, word and axis maps.

Arrays and raw strings in, `go.Figure` out; every user string is escaped here (`escape_text`), so
callers pass text as typed. Arrows are layout annotations in 2-D (drawn in screen space, so heads
keep their size) and line + cone traces in 3-D (Plotly has no 3-D arrow annotations).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import plotly.graph_objects as go

from lib.errors import ParameterError
from lib.figures.map import (
    ColorBy,
    add_markers,
    check_lengths,
    clear_of_modebar,
    escape_text,
    map_figure,
)
from lib.figures.nudge import ASSUMED_WIDTH_PX, annotation_offsets
from lib.query.expressions import Term

QUERY_COLOR = "#d62728"
PATH_COLOR = "#ff7f0e"
HIT_COLOR = "#111111"
ANALOGY_COLOR = "#1f77b4"
WORD_COLOR = "#b0b0b0"
FADED_OPACITY = 0.35
LABEL_CHARS = 40
HEATMAP_CHARS = 36
AXIS_TITLE_CHARS = 60
CONE_SHARE = 0.15  # a 3-D arrow head is this share of its arrow's length
FAN_OFFSETS = ((-70, -45), (70, -45), (70, 45), (-70, 45))  # label offsets in pixels


def _points(values: object, what: str) -> np.ndarray:
    """`values` as float rows (m, 2) or (m, 3); ParameterError otherwise."""
    points = np.asarray(values, dtype=np.float64)
    if points.ndim == 1 and points.size in (2, 3):
        points = points[None, :]
    if points.ndim != 2 or points.shape[1] not in (2, 3):
        raise ParameterError(
            f"'{what}' must be map positions of shape (m, 2) or (m, 3). Got {points.shape}."
        )
    return points


def _same_view(what: str, points: np.ndarray, dims: int) -> None:
    if points.shape[1] != dims:
        raise ParameterError(
            f"'{what}' has {points.shape[1]} coordinates per point but the map has {dims}; "
            "place them on the same map."
        )


def _line(text: object, limit: int) -> str:
    """Escaped user text on one line, truncated to `limit` characters."""
    return escape_text(text, limit=limit, width=limit + 1)


def map_positions(vectors: np.ndarray, transform: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Place vectors (m, d) with a map's `transform`; zero rows (cancelled sums) become NaN."""
    matrix = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
    placed = np.any(matrix != 0, axis=1)
    if not placed.any():
        raise ParameterError("Every vector to place is zero; a zero vector has no map position.")
    coords = np.asarray(transform(matrix[placed]), dtype=np.float64)
    positions = np.full((len(matrix), coords.shape[1]), np.nan)
    positions[placed] = coords
    return positions


def step_labels(terms: Sequence[tuple[float, Term]]) -> list[str]:
    """One raw label per weighted term, as it reads: '#11', '− “formal”', '+ 0.5 × “drums”'."""
    labels = []
    for position, (weight, term) in enumerate(terms):
        leaf = f"#{term.value}" if term.kind == "doc" else f"“{term.value}”"
        scale = "" if abs(weight) == 1 else f"{abs(weight):g} × "
        sign = "− " if weight < 0 else ("" if position == 0 else "+ ")
        labels.append(f"{sign}{scale}{leaf}")
    return labels


def add_arrows(
    figure: go.Figure, starts: object, ends: object, *, name: str, color: str = PATH_COLOR
) -> go.Figure:
    """Arrows from each row of `starts` to the same row of `ends` (2-D or 3-D map positions)."""
    starts, ends = _points(starts, "starts"), _points(ends, "ends")
    if starts.shape != ends.shape:
        raise ParameterError(
            f"'starts' {starts.shape} and 'ends' {ends.shape} must have the same shape: "
            "one start and one end per arrow."
        )
    if starts.shape[1] == 3:
        return _add_arrows_3d(figure, starts, ends, name=name, color=color)
    for start, end in zip(starts, ends, strict=True):
        figure.add_annotation(
            x=end[0],
            y=end[1],
            ax=start[0],
            ay=start[1],
            xref="x",
            yref="y",
            axref="x",
            ayref="y",
            text="",
            name=escape_text(name, LABEL_CHARS),
            showarrow=True,
            arrowhead=2,
            arrowsize=1.2,
            arrowwidth=2.2,
            arrowcolor=color,
            standoff=3,
        )
    return figure


def _add_arrows_3d(
    figure: go.Figure, starts: np.ndarray, ends: np.ndarray, *, name: str, color: str
) -> go.Figure:
    """Shafts as one line trace (segments split by None), heads as one cone trace."""
    if len(starts) == 0:
        return figure
    gaps = np.full((len(starts), 1), None)
    shafts = [
        np.hstack([starts[:, [axis]], ends[:, [axis]], gaps]).ravel().tolist() for axis in range(3)
    ]
    label = escape_text(name, LABEL_CHARS)
    figure.add_trace(
        go.Scatter3d(
            x=shafts[0],
            y=shafts[1],
            z=shafts[2],
            mode="lines",
            line=dict(color=color, width=5),
            name=label,
            hoverinfo="skip",
            showlegend=False,
        )
    )
    heads = (ends - starts) * CONE_SHARE
    figure.add_trace(
        go.Cone(
            x=ends[:, 0],
            y=ends[:, 1],
            z=ends[:, 2],
            u=heads[:, 0],
            v=heads[:, 1],
            w=heads[:, 2],
            anchor="tip",
            sizemode="raw",
            sizeref=1.0,
            colorscale=[[0, color], [1, color]],
            showscale=False,
            name=label,
            hoverinfo="skip",
        )
    )
    return figure


def add_labels(
    figure: go.Figure,
    coords: object,
    labels: Sequence[str],
    *,
    color: str = HIT_COLOR,
    fan: bool = False,
) -> go.Figure:
    """Short escaped text labels at points (NaN rows skipped): in 2-D beside each point, on the
    first side where it covers no label placed before it (`lib.figures.nudge`); in 3-D just
    above it; with `fan`, set off in turn to four sides on a leader line (for points that may
    coincide)."""
    points = _points(coords, "coords")
    check_lengths(points, labels=labels)
    style = dict(font=dict(size=12, color=color), bgcolor="rgba(255,255,255,0.85)")
    finite = np.isfinite(points).all(axis=1)
    texts = [_line(label, LABEL_CHARS) for label in labels]
    shown = [text for text, ok in zip(texts, finite, strict=True) if ok]
    nudged = iter(_nudged(figure, points[finite], shown))
    notes = []
    for number, (point, text) in enumerate(zip(points, texts, strict=True)):
        if not finite[number]:
            continue
        place = next(nudged)
        if fan:
            ax, ay = FAN_OFFSETS[number % len(FAN_OFFSETS)]
            place = dict(showarrow=True, arrowhead=0, arrowwidth=1, arrowcolor=color, ax=ax, ay=ay)
        note = dict(x=point[0], y=point[1], text=text, **place, **style)
        if len(point) == 3:
            notes.append(dict(note, z=point[2]))
        else:
            figure.add_annotation(**note)
    if notes:
        figure.update_layout(scene_annotations=[*figure.layout.scene.annotations, *notes])
    return figure


def _nudged(figure: go.Figure, points: np.ndarray, texts: list[str]) -> list[dict]:
    """Where each label goes: beside its 2-D point, clear of the others where it can be, in a
    plot as wide as a page column and as tall as the figure; 3-D labels sit above the point."""
    if points.shape[1] != 2:
        return [dict(showarrow=False, yshift=14)] * len(points)
    drawn = [
        np.column_stack([t.x, t.y]) for t in figure.data if t.x is not None and t.y is not None
    ]
    every = np.vstack([*drawn, points]).astype(np.float64)
    every = every[np.isfinite(every).all(axis=1)]
    frame = (every.min(axis=0), every.max(axis=0))
    height = (figure.layout.height or 500) - 60
    offsets = annotation_offsets(points, texts, width=ASSUMED_WIDTH_PX, height=height, frame=frame)
    return [dict(showarrow=False, **offset) for offset in offsets]


def _trace_points(trace) -> np.ndarray:
    """A trace's numeric (x, y) points, (m, 2) float (none for a trace without them)."""
    x, y = getattr(trace, "x", None), getattr(trace, "y", None)
    if x is None or y is None or len(x) != len(y):
        return np.empty((0, 2))
    try:
        return np.array(
            [[np.nan if v is None else v for v in pair] for pair in zip(x, y, strict=False)], float
        )
    except (TypeError, ValueError):  # category axes
        return np.empty((0, 2))


def add_path(
    figure: go.Figure, points: object, labels: Sequence[str], *, color: str = PATH_COLOR
) -> go.Figure:
    """Partial sums of an expression: a marked, labelled point per term, arrows between them.

    Rows of `points` that are NaN (a partial sum that cancelled to zero) are skipped, so a path
    of m placed points has m - 1 arrows.
    """
    points = _points(points, "points")
    check_lengths(points, labels=labels)
    placed = np.isfinite(points).all(axis=1)
    kept = points[placed]
    kept_labels = [label for label, keep in zip(labels, placed, strict=True) if keep]
    hover = [f"after {_line(label, LABEL_CHARS)}" for label in kept_labels]
    add_markers(figure, kept, name="path", hover=hover, symbol="circle", size=8, color=color)
    add_labels(figure, kept, kept_labels, color=color, fan=True)
    return add_arrows(figure, kept[:-1], kept[1:], name="path", color=color)


def add_query_marker(figure: go.Figure, point: object, *, label: str) -> go.Figure:
    """The query as one star (a diamond in 3-D, where Plotly has no star) named "query"."""
    point = _points(point, "point")
    if len(point) != 1:
        raise ParameterError(f"'point' must be one map position. Got {len(point)}.")
    three_d = point.shape[1] == 3
    return add_markers(
        figure,
        point,
        name="query",
        hover=[f"<b>query</b><br>{escape_text(label)}"],
        symbol="diamond" if three_d else "star",
        size=10 if three_d else 22,
        color=QUERY_COLOR,
    )


def _fixed_view(figure: go.Figure) -> go.Figure:
    """Zoom instead of pan on 2-D figures that nobody selects on (3-D keeps its orbit)."""
    if figure.layout.dragmode == "pan":
        figure.update_layout(dragmode="zoom")
    return figure


def query_map_figure(
    coords: np.ndarray,
    hover: Sequence[str],
    *,
    color: ColorBy | None,
    path_points: np.ndarray,
    path_labels: Sequence[str],
    hit_rows: Sequence[int],
    query_label: str,
    height: int = 640,
) -> go.Figure:
    """The corpus map faded, top hits ringed, the expression's path, and the query star at its end.

    `hover` is already escaped (figures.map.hover_labels); `path_points` are the map positions of
    the partial sums, the last one being the query itself.
    """
    coords = _points(coords, "coords")
    path_points = _points(path_points, "path_points")
    _same_view("path_points", path_points, coords.shape[1])
    if not np.isfinite(path_points[-1]).all():
        raise ParameterError("The last path point is the query; it must have a map position.")
    rows = np.asarray(hit_rows, dtype=np.int64)
    if rows.size and (rows.min() < 0 or rows.max() >= len(coords)):
        raise ParameterError(f"'hit_rows' must be rows of the map (0 to {len(coords) - 1}).")
    figure = map_figure(coords, hover, color=color, height=height)
    figure.update_traces(marker_opacity=FADED_OPACITY)
    add_markers(
        figure,
        coords[rows],
        name=f"top {len(rows)}",
        hover=[hover[row] for row in rows],
        symbol="circle-open",
        size=13,
        color=HIT_COLOR,
    )
    add_path(figure, path_points, path_labels)
    add_query_marker(figure, path_points[-1], label=query_label)
    return _fixed_view(figure)


def similarity_heatmap(matrix: np.ndarray, labels: Sequence[str]) -> go.Figure:
    """Cosine heatmap with its numbers; labels numbered (so repeats stay apart), cut and escaped."""
    values = np.asarray(matrix, dtype=np.float64)
    if values.ndim != 2 or values.shape[0] != values.shape[1]:
        raise ParameterError(f"'matrix' must be square (m, m). Got shape {values.shape}.")
    check_lengths(values, labels=labels)
    ticks = [f"{i}. {_line(label, HEATMAP_CHARS)}" for i, label in enumerate(labels, 1)]
    full = [escape_text(label) for label in labels]
    hover = [
        [
            f"{full[i]}<br><i>vs</i><br>{full[j]}<br><b>cosine {values[i, j]:.3f}</b>"
            for j in range(len(full))
        ]
        for i in range(len(full))
    ]
    figure = go.Figure(
        go.Heatmap(
            z=values,
            x=ticks,
            y=ticks,
            zmin=0.0,
            zmax=1.0,
            colorscale="Blues",
            colorbar=dict(title=dict(text="cosine")),
            texttemplate="%{z:.2f}",
            hovertext=hover,
            hovertemplate="%{hovertext}<extra></extra>",
        )
    )
    size = 220 + 48 * len(labels)
    figure.update_layout(
        height=size,
        margin=dict(l=10, r=10, t=10, b=10),
        hoverlabel=dict(align="left"),
        xaxis=dict(tickangle=-35, side="bottom"),
        yaxis=dict(autorange="reversed"),
    )
    return clear_of_modebar(figure)


def word_map_figure(
    coords: np.ndarray,
    words: Sequence[str],
    *,
    labelled: Sequence[str] = (),
    arrows: Sequence[tuple[str, str]] = (),
    height: int = 640,
) -> go.Figure:
    """Words on a map in grey, `labelled` words marked and named, `arrows` drawn word to word."""
    coords = _points(coords, "coords")
    check_lengths(coords, words=words)
    row_of = {word: row for row, word in enumerate(words)}
    wanted = [*labelled, *(word for pair in arrows for word in pair)]
    missing = list(dict.fromkeys(word for word in wanted if word not in row_of))
    if missing:
        raise ParameterError(
            f"These words are not on the map: {', '.join(map(repr, missing))}; "
            "add them to the mapped words first."
        )
    figure = map_figure(coords, [escape_text(word) for word in words], height=height)
    figure.update_traces(name=f"{len(words):,} words", marker_color=WORD_COLOR, showlegend=True)
    shown = list(dict.fromkeys(wanted))
    rows = [row_of[word] for word in shown]
    if rows:
        hover = [escape_text(word) for word in shown]
        add_markers(figure, coords[rows], name="your words", hover=hover, symbol="circle", size=9)
        add_labels(figure, coords[rows], shown)
    if arrows:
        starts = coords[[row_of[start] for start, _ in arrows]]
        ends = coords[[row_of[end] for _, end in arrows]]
        add_arrows(figure, starts, ends, name="analogy", color=ANALOGY_COLOR)
    return _fixed_view(figure)


def axes_figure(
    coords: np.ndarray,
    hover: Sequence[str],
    *,
    color: ColorBy | None,
    x_poles: tuple[str, str],
    y_poles: tuple[str, str],
    height: int = 640,
) -> go.Figure:
    """Documents on two concept axes; poles given as (high end, low end) and named on the axes."""
    coords = _points(coords, "coords")
    _same_view("coords", coords, 2)
    figure = map_figure(coords, hover, color=color, height=height)
    for update, (high, low) in ((figure.update_xaxes, x_poles), (figure.update_yaxes, y_poles)):
        title = f"← {_line(low, AXIS_TITLE_CHARS)}   ·   {_line(high, AXIS_TITLE_CHARS)} →"
        update(
            title=dict(text=title),
            showticklabels=True,
            showgrid=True,
            gridcolor="#eeeeee",
            zeroline=True,
            zerolinecolor="#888888",
        )
    figure.update_layout(margin=dict(l=60, b=60))
    return _fixed_view(figure)
