"""Figure builders for the Lessons page, and the few small helpers its lessons need.

Arrays and raw strings in, `go.Figure` out: every user string is escaped here (`escape_text`),
so callers pass text as typed. The guess map (lesson 2) lays a faint grid over the map whose
points carry customdata "g:<cell>", because a Plotly click selects points, never empty space.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations, pairwise

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from lib.errors import ParameterError, check_int
from lib.figures.colors import CATCH_ALL, CategoryColors, category_colors
from lib.figures.map import (
    ColorBy,
    _field,
    add_markers,
    check_lengths,
    clear_of_modebar,
    escape_text,
    map_figure,
)
from lib.figures.nudge import text_positions
from lib.query.words import WordHit
from lib.reduce.neighbors import normalize_rows

GRID_CELLS = 30  # cells per side of the guess grid: a click always lands near a cell centre
GRID_PREFIX = "g:"
GRID_COLOR = "#7f7f7f"
GRID_OPACITY = 0.07
GRID_MARGIN = 0.05  # the grid reaches this share of the map's extent beyond its outer points
GUESS_COLOR = "#ff7f0e"
PLACED_COLOR = "#d62728"
NEIGHBOUR_COLOR = "#111111"
INPUT_COLOR = "#9e9e9e"
ANSWER_COLOR = "#1f77b4"
C_NEAREST_COLOR = "#2ca02c"
OTHER_COLOR = "#444444"
FADED_OPACITY = 0.35
PANEL_POINTS = 2000  # points drawn per small-multiple panel; a seeded sample above this
PANEL_HEIGHT = 260
LABEL_CHARS = 40
PAIR_CHARS = 32
BAR_COLORS = ("#1f77b4", "#ff7f0e", "#7f7f7f", "#2ca02c")
ANALOGY_PLOT_WIDTH = 620  # px: the plot's width in lesson 9's right column at 1500 px
BAR_HEADROOM = 0.1  # share of the value range left above it for the printed numbers


# Lesson 1: guess, then see: similarity


def trap_sentences(traps: pd.DataFrame, row: int) -> list[str]:
    """A trap's anchor, look-alike and paraphrase, plus another trap's anchor as the unrelated one.

    The unrelated sentence is the anchor half the table away, so neighbouring rows never pair.
    """
    missing = [name for name in ("anchor", "lookalike", "paraphrase") if name not in traps]
    if missing:
        raise ParameterError(f"The trap table needs the columns {', '.join(missing)}.")
    check_int("trap_sentences", "row", row, 0, len(traps) - 1)
    if len(traps) < 2:
        raise ParameterError("The trap table needs at least 2 rows to find an unrelated sentence.")
    chosen = traps.iloc[row]
    unrelated = traps["anchor"].iloc[(row + len(traps) // 2) % len(traps)]
    return [str(chosen["anchor"]), str(chosen["lookalike"]), str(chosen["paraphrase"]), unrelated]


def sentence_pairs(m: int) -> list[tuple[int, int]]:
    """Every pair (i, j), i < j, of m sentences, in reading order."""
    check_int("sentence_pairs", "m", m, 2)
    return list(combinations(range(m), 2))


def pair_name(pair: tuple[int, int], sentences: Sequence[str], limit: int = PAIR_CHARS) -> str:
    """A pair as plain text for a widget label (not HTML): '1 “fix a flat…” ↔ 3 “my bike…”'."""
    return " ↔ ".join(f"{i + 1} “{_cut(sentences[i], limit)}”" for i in pair)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def pair_table(guess_order: Sequence[tuple[int, int]], similarity: np.ndarray) -> pd.DataFrame:
    """The learner's pairs in order ("1 ↔ 3", numbered from 1), the model's cosine, and its rank
    among those pairs (1 = the most similar)."""
    matrix = np.asarray(similarity, dtype=np.float64)
    cosines = np.array([matrix[i, j] for i, j in guess_order])
    model_rank = pd.Series(-cosines).rank(method="min").astype(int).to_numpy()
    return pd.DataFrame(
        {
            "your rank": np.arange(1, len(cosines) + 1),
            "pair": [f"{i + 1} ↔ {j + 1}" for i, j in guess_order],
            "cosine": cosines,
            "model rank": model_rank,
        }
    )


# Lesson 2: guess, then see: placement


def guess_grid(coords: np.ndarray, cells: int = GRID_CELLS) -> np.ndarray:
    """Cell centres (cells², 2) of a square grid over the 2-D map's extent, row by row."""
    points = _map_points(coords)
    check_int("guess_grid", "cells", cells, 2)
    low, high = points.min(axis=0), points.max(axis=0)
    pad = (high - low) * GRID_MARGIN
    xs = np.linspace(low[0] - pad[0], high[0] + pad[0], cells)
    ys = np.linspace(low[1] - pad[1], high[1] + pad[1], cells)
    grid_x, grid_y = np.meshgrid(xs, ys)
    return np.column_stack([grid_x.ravel(), grid_y.ravel()])


def _map_points(coords: np.ndarray) -> np.ndarray:
    points = np.asarray(coords, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2 or len(points) == 0:
        raise ParameterError(f"Lessons draw 2-D maps: coords must be (n, 2). Got {points.shape}.")
    return points


def _group_labels(color: ColorBy | None) -> tuple[dict[int, str], np.ndarray] | None:
    """Names and codes that put each categorical group's name at its centre, or None."""
    if color is None or color.is_numeric:
        return None
    scheme = color.category_colors()
    code_of = {name: code for code, name in enumerate(scheme.order)}
    names = {code: name for code, name in enumerate(scheme.order) if name not in CATCH_ALL}
    return names, np.array([code_of[value] for value in scheme.fold(color.values)])


def guess_figure(
    coords: np.ndarray, hover: Sequence[str], grid: np.ndarray, *, color: ColorBy | None = None
) -> go.Figure:
    """The map with group names and a faint clickable grid (customdata "g:<cell>") on top.

    `hover` is already escaped (lib.figures.map.hover_labels). A click on a grid cell or a document
    selects that point; `clicked_guess` turns it into a map position.
    """
    points = _map_points(coords)
    labels = _group_labels(color)
    figure = map_figure(
        points,
        hover,
        color=color,
        cluster_names=labels[0] if labels else None,
        cluster_labels=labels[1] if labels else None,
        height=560,
    )
    figure.update_traces(
        marker_opacity=FADED_OPACITY,
        selected=dict(marker=dict(opacity=1.0)),
        unselected=dict(marker=dict(opacity=FADED_OPACITY)),
    )
    grid = np.asarray(grid, dtype=np.float64)
    figure.add_trace(
        go.Scattergl(
            x=grid[:, 0],
            y=grid[:, 1],
            mode="markers",
            customdata=[f"{GRID_PREFIX}{cell}" for cell in range(len(grid))],
            marker=dict(size=9, symbol="square", color=GRID_COLOR, opacity=GRID_OPACITY),
            selected=dict(marker=dict(color=GUESS_COLOR, opacity=1.0, size=14)),
            unselected=dict(marker=dict(opacity=GRID_OPACITY)),
            hovertemplate="guess here<extra></extra>",
            name="click to guess",
            showlegend=False,
        )
    )
    figure.update_layout(dragmode="zoom", clickmode="event+select")
    return figure


def clicked_guess(event: object, coords: np.ndarray, grid: np.ndarray) -> np.ndarray | None:
    """The map position (2,) the learner clicked: a grid cell ("g:<cell>") or a document (row).

    None when nothing is selected; with several points selected, the last one counts.
    """
    selection = _field(event, "selection") or {}
    points = _field(selection, "points") or []
    if not isinstance(points, list | tuple):  # the event comes from the browser: untrusted
        return None
    for point in reversed(points):
        value = _field(point, "customdata")
        if isinstance(value, Mapping):
            value = next(iter(value.values()), None)
        if isinstance(value, list | tuple):
            value = value[0] if value else None
        if isinstance(value, str) and value.startswith(GRID_PREFIX):
            cell = value.removeprefix(GRID_PREFIX)
            if cell.isascii() and cell.isdigit() and int(cell) < len(grid):
                return np.asarray(grid[int(cell)], dtype=np.float64)
        elif isinstance(value, int | float) and float(value).is_integer():
            row = int(value)
            if 0 <= row < len(coords):
                return np.asarray(coords[row], dtype=np.float64)
    return None


def moved_points(before: np.ndarray, after: np.ndarray) -> int:
    """How many points changed position between two copies of a map (shapes must match)."""
    first, second = np.asarray(before), np.asarray(after)
    if first.shape != second.shape:
        raise ParameterError(
            f"Compare maps of one shape: before {first.shape}, after {second.shape}."
        )
    changed = first != second
    return int(changed.reshape(len(first), -1).any(axis=1).sum())


def placement_figure(
    coords: np.ndarray,
    hover: Sequence[str],
    *,
    guess: np.ndarray,
    placed: np.ndarray,
    neighbour_rows: Sequence[int],
    sentence: str,
    color: ColorBy | None = None,
) -> go.Figure:
    """The faded map, the true neighbours ringed, the guess (×), the placement (★) and a line."""
    points = _map_points(coords)
    guess = np.asarray(guess, dtype=np.float64).ravel()
    placed = np.asarray(placed, dtype=np.float64).ravel()
    if guess.shape != (2,) or placed.shape != (2,):
        raise ParameterError("The guess and the placement must each be one 2-D map position.")
    rows = np.asarray(neighbour_rows, dtype=np.int64)
    if rows.size and (rows.min() < 0 or rows.max() >= len(points)):
        raise ParameterError(f"'neighbour_rows' must be rows of the map (0 to {len(points) - 1}).")
    figure = map_figure(points, hover, color=color, height=560)
    figure.update_traces(marker_opacity=FADED_OPACITY)
    add_markers(
        figure,
        points[rows],
        name="true neighbours",
        hover=[hover[row] for row in rows],
        size=14,
        color=NEIGHBOUR_COLOR,
    )
    figure.add_trace(
        go.Scatter(
            x=[guess[0], placed[0]],
            y=[guess[1], placed[1]],
            mode="lines",
            line=dict(color=GUESS_COLOR, dash="dot", width=2),
            hoverinfo="skip",
            showlegend=False,
        )
    )
    sentence_label = escape_text(sentence)
    add_markers(
        figure,
        guess,
        name="your guess",
        hover=[f"<b>your guess</b><br>{sentence_label}"],
        symbol="x",
        size=16,
        color=GUESS_COLOR,
    )
    add_markers(
        figure,
        placed,
        name="placed by the model",
        hover=[f"<b>placed here</b><br>{sentence_label}"],
        symbol="star",
        size=22,
        color=PLACED_COLOR,
    )
    figure.update_layout(dragmode="zoom")
    return figure


# Lessons 3, 6, 7: maps side by side


def highlight_figure(
    coords: np.ndarray,
    hover: Sequence[str],
    *,
    color: ColorBy | None = None,
    rows: Sequence[int] = (),
    highlight_name: str = "",
    title: str = "",
    height: int = 560,
) -> go.Figure:
    """A map to look at (zoom, no lasso), optionally with `rows` ringed under `highlight_name`.

    The legend sits below the map, so two maps side by side keep their width.
    """
    points = _map_points(coords)
    figure = map_figure(points, hover, color=color, title=title, height=height)
    chosen = np.asarray(rows, dtype=np.int64)
    if chosen.size:
        if chosen.min() < 0 or chosen.max() >= len(points):
            raise ParameterError(f"'rows' must be rows of the map (0 to {len(points) - 1}).")
        figure.update_traces(marker_opacity=FADED_OPACITY)
        add_markers(
            figure,
            points[chosen],
            name=highlight_name or "highlighted",
            hover=[hover[row] for row in chosen],
            size=9,
            color=NEIGHBOUR_COLOR,
        )
    figure.update_layout(dragmode="zoom", legend=dict(orientation="h", y=-0.02, yanchor="top"))
    return figure


def agreement_figure(
    coords: np.ndarray,
    hover: Sequence[str],
    agreement: np.ndarray,
    *,
    title: str = "",
    height: int = 480,
) -> go.Figure:
    """A map coloured by per-point agreement in [0, 1] (red = the two maps disagree)."""
    points = _map_points(coords)
    values = np.asarray(agreement, dtype=np.float64)
    check_lengths(points, hover=hover, agreement=values)
    figure = map_figure(points, hover, title=title, height=height)
    figure.update_traces(
        marker=dict(
            color=values,
            colorscale="RdYlBu",
            cmin=0.0,
            cmax=1.0,
            showscale=True,
            colorbar=dict(title=dict(text="neighbours<br>shared")),
        ),
        name="documents",
        showlegend=False,
    )
    figure.update_layout(dragmode="zoom")
    return figure


# Lesson 4: small multiples


def _checked_panels(
    panels: Sequence[np.ndarray], titles: Sequence[str], groups: np.ndarray
) -> list[np.ndarray]:
    """The panels as 2-D point arrays, checked: at least one, same points, a title each."""
    if not panels:
        raise ParameterError("small_multiples needs at least one map.")
    maps = [_map_points(panel) for panel in panels]
    if any(len(panel) != len(maps[0]) for panel in maps):
        raise ParameterError("Every panel must map the same points (one row per point).")
    if len(titles) != len(maps):
        raise ParameterError(f"Got {len(titles)} titles for {len(maps)} maps; they must match.")
    check_lengths(maps[0], groups=groups)
    return maps


def small_multiples(
    panels: Sequence[np.ndarray],
    titles: Sequence[str],
    groups: np.ndarray,
    *,
    columns: int = 3,
    max_points: int = PANEL_POINTS,
    seed: int = 0,
    colors: CategoryColors | None = None,
) -> go.Figure:
    """One SVG figure of several 2-D maps of the same points, coloured by `groups` alike.

    `titles` are plain text, a newline starting a new line. Above `max_points` points each panel
    draws the same seeded sample (the caption should say). `colors`: the whole corpus's
    (`category_colors`) when `groups` are a sample of it; by default from `groups`.
    """
    check_int("small_multiples", "columns", columns, 1)
    check_int("small_multiples", "max_points", max_points, 1)
    maps = _checked_panels(panels, titles, groups)
    n = len(maps[0])
    shown = np.arange(n)
    if n > max_points:
        shown = np.sort(np.random.default_rng(seed).choice(n, max_points, replace=False))
    scheme = colors or category_colors(groups)  # the whole column: colours as on the Map page
    values = scheme.fold(np.asarray(groups)[shown])
    rows = -(-len(maps) // columns)
    figure = make_subplots(
        rows=rows,
        cols=columns,
        subplot_titles=[_lines(title) for title in titles],
        horizontal_spacing=0.03,
        vertical_spacing=0.08,
    )
    size = 4 if len(shown) > 500 else 6
    for position, panel in enumerate(maps):
        row, column = divmod(position, columns)
        for category in scheme.order:
            members = shown[values == category]
            shade = scheme.colors[category]
            figure.add_trace(
                go.Scatter(
                    x=panel[members, 0],
                    y=panel[members, 1],
                    mode="markers",
                    marker=dict(size=size, color=shade),
                    name=escape_text(category, LABEL_CHARS),
                    legendgroup=escape_text(category, LABEL_CHARS),
                    showlegend=position == 0,
                    hoverinfo="skip",
                ),
                row=row + 1,
                col=column + 1,
            )
    figure.update_xaxes(showticklabels=False, showgrid=False, zeroline=False)
    figure.update_yaxes(showticklabels=False, showgrid=False, zeroline=False)
    figure.update_layout(
        height=PANEL_HEIGHT * rows + 60,
        margin=dict(l=10, r=10, t=40, b=10),
        plot_bgcolor="white",
        legend=dict(itemsizing="constant"),
    )
    return clear_of_modebar(figure)


def _lines(text: str, limit: int = 80) -> str:
    """Escaped text whose newlines become line breaks, each line cut to `limit` characters."""
    return "<br>".join(escape_text(line, limit, limit + 1) for line in str(text).split("\n"))


# Lesson 5: truth against drawing


def truth_vs_drawing(
    true: Sequence[float],
    drawn: Sequence[float],
    names: Sequence[str],
    *,
    x_title: str,
    y_title: str,
    height: int = 420,
) -> go.Figure:
    """One dot per item, true value across, drawn value up, and the line where drawing = truth."""
    x = np.asarray(true, dtype=np.float64)
    y = np.asarray(drawn, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ParameterError(f"true {x.shape} and drawn {y.shape} must be two equal 1-D arrays.")
    check_lengths(x, names=names)
    finite = np.isfinite(x) & np.isfinite(y)
    figure = go.Figure()
    if finite.any():
        low = float(min(x[finite].min(), y[finite].min()))
        high = float(max(x[finite].max(), y[finite].max()))
        figure.add_trace(
            go.Scatter(
                x=[low, high],
                y=[low, high],
                mode="lines",
                line=dict(color="#bbbbbb", dash="dash"),
                name="drawn = true",
                hoverinfo="skip",
            )
        )
    labels = [escape_text(name, LABEL_CHARS) for name in names]
    figure.add_trace(
        go.Scatter(
            x=x[finite],
            y=y[finite],
            mode="markers",
            marker=dict(size=9, color=ANSWER_COLOR),
            hovertext=[label for label, keep in zip(labels, finite, strict=True) if keep],
            hovertemplate="%{hovertext}<br>true %{x:.2f} · drawn %{y:.2f}<extra></extra>",
            name="groups",
            showlegend=False,
        )
    )
    figure.update_layout(
        height=height,
        margin=dict(l=10, r=10, t=10, b=10),
        xaxis_title=escape_text(x_title, 80, 81),
        yaxis_title=escape_text(y_title, 80, 81),
        plot_bgcolor="white",
        legend=dict(orientation="h", y=1.02, yanchor="bottom"),
    )
    figure.update_xaxes(gridcolor="#eeeeee")
    figure.update_yaxes(gridcolor="#eeeeee")
    return clear_of_modebar(figure)


# Lessons 8, 9, 10: numbers as bars


def score_bars(
    categories: Sequence[str],
    series: Mapping[str, Sequence[float]],
    *,
    y_title: str = "",
    y_range: tuple[float, float] | None = (0.0, 1.0),
    number_format: str = ".2f",
    height: int = 380,
) -> go.Figure:
    """Grouped bars, one group per category and one colour per series, each value printed on it."""
    if not series:
        raise ParameterError("score_bars needs at least one series of values.")
    names = [escape_text(category, LABEL_CHARS) for category in categories]
    figure = go.Figure()
    for position, (label, values) in enumerate(series.items()):
        numbers = np.asarray(values, dtype=np.float64)
        if numbers.shape != (len(names),):
            raise ParameterError(
                f"Series '{label}' has {numbers.size} values for {len(names)} categories."
            )
        figure.add_trace(
            go.Bar(
                x=names,
                y=numbers,
                name=escape_text(label, LABEL_CHARS),
                marker_color=BAR_COLORS[position % len(BAR_COLORS)],
                texttemplate=f"%{{y:{number_format}}}",
                textposition="outside",
                cliponaxis=False,
                hovertemplate=f"%{{x}}<br>%{{y:{number_format}}}<extra></extra>",
            )
        )
    figure.update_layout(
        barmode="group",
        height=height,
        margin=dict(l=10, r=10, t=50, b=10),
        yaxis_title=escape_text(y_title, 80, 81),
        yaxis_range=[y_range[0], y_range[1] + BAR_HEADROOM * (y_range[1] - y_range[0])]
        if y_range
        else None,
        plot_bgcolor="white",
        legend=dict(orientation="h", y=1.02, yanchor="bottom"),
        uniformtext=dict(minsize=9, mode="show"),
    )
    figure.update_yaxes(gridcolor="#eeeeee")
    return clear_of_modebar(figure)


# Lesson 9: analogies


@dataclass(frozen=True)
class InputGap:
    """The best word overall (`top`), the best word that is not a question word (`answer`), and
    how far the answer scores below the top (0 when the answer itself ranks first)."""

    top: WordHit
    answer: WordHit

    @property
    def gap(self) -> float:
        return self.top.score - self.answer.score


def input_gap(hits: Sequence[WordHit]) -> InputGap:
    """Compare the unrestricted winner with the best non-input word among ranked `hits`."""
    answers = [hit for hit in hits if not hit.is_input]
    if not hits or not answers:
        raise ParameterError("Rank more words: every ranked word is one of the question's words.")
    return InputGap(top=hits[0], answer=answers[0])


def analogy_axes_figure(
    table: pd.DataFrame,
    *,
    a: str,
    b: str,
    c: str,
    answer: str,
    c_nearest: str = "",
    height: int = 480,
) -> go.Figure:
    """Candidates on x = cos(w, b − a) and y = cos(w, c).

    Question words grey, the answer blue, the word nearest to c alone (`c_nearest`) green,
    the other candidates dark. A word is drawn once, in the first of these groups it is in.
    """
    missing = [column for column in ("word", "x", "y") if column not in table]
    if missing:
        raise ParameterError(f"The analogy axes table needs the columns {', '.join(missing)}.")
    kinds = (
        ("question words", {word.strip().lower() for word in (a, b, c)}, INPUT_COLOR),
        ("the answer", {answer}, ANSWER_COLOR),
        (f"nearest to {c.strip().lower()} alone", {c_nearest}, C_NEAREST_COLOR),
    )
    figure = go.Figure()
    drawn = pd.Series(False, index=table.index)
    groups = []
    for name, chosen, shade in (*kinds, ("other candidates", None, OTHER_COLOR)):
        mask = ~drawn if chosen is None else table["word"].isin(chosen) & ~drawn
        drawn |= mask
        groups.append((name, table[mask], shade))
    sides = _label_sides([part for _, part, _ in groups], height)
    for (name, part, shade), positions in zip(groups, sides, strict=True):
        if part.empty:
            continue
        words = [escape_text(word, LABEL_CHARS) for word in part["word"]]
        figure.add_trace(
            go.Scatter(
                x=part["x"],
                y=part["y"],
                mode="markers+text",
                text=words,
                textposition=positions,
                textfont=dict(color=shade),
                marker=dict(size=10, color=shade),
                name=escape_text(name, LABEL_CHARS),
                hovertemplate="%{text}<br>x %{x:.3f} · y %{y:.3f}<extra></extra>",
            )
        )
    offset = f"{escape_text(b, 20, 21)} − {escape_text(a, 20, 21)}"
    figure.update_layout(
        height=height,
        margin=dict(l=10, r=10, t=30, b=10),
        xaxis_title=f"cos(word, {offset})",
        yaxis_title=f"cos(word, {escape_text(c, 20, 21)})",
        plot_bgcolor="white",
        legend=dict(orientation="h", y=1.02, yanchor="bottom"),
    )
    figure.update_xaxes(gridcolor="#eeeeee", zerolinecolor="#bbbbbb")
    figure.update_yaxes(gridcolor="#eeeeee", zerolinecolor="#bbbbbb")
    return clear_of_modebar(figure)


def _label_sides(parts: Sequence[pd.DataFrame], height: int) -> list[list[str]]:
    """The text position of every word of each part, placed together (the first part's words
    first) so that no two labels overlap where a free side exists ("eldest", "elizabeth")."""
    table = pd.concat(parts) if parts else pd.DataFrame(columns=["word", "x", "y"])
    words = [escape_text(word, LABEL_CHARS) for word in table["word"]]
    positions = text_positions(
        table[["x", "y"]].to_numpy(np.float64), words, width=ANALOGY_PLOT_WIDTH, height=height - 120
    )
    bounds = np.cumsum([0, *(len(part) for part in parts)])
    return [positions[start:end] for start, end in pairwise(bounds)]


# Lesson 10: sentence pairs


def row_cosines(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Cosine of each row of `first` (m, d) with the same row of `second` (m, d): (m,)."""
    one, two = np.asarray(first), np.asarray(second)
    if one.ndim != 2 or one.shape != two.shape:
        raise ParameterError(
            f"Pair rows of two (m, d) arrays of one shape; got {one.shape} and {two.shape}."
        )
    return np.einsum("ij,ij->i", normalize_rows(one), normalize_rows(two)).astype(np.float64)
