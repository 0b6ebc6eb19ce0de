"""Cluster labels on a 2-D map that never overlap: estimate each label's box, place, draw.

In the manner of DataMapPlot (which repels label boxes from each other, pylabeladjust, or sets
them on rings round the map with arrows back to their clusters), but greedy and exact:

1. `label_boxes`: each label's box in pixels, from its characters and the font size, turned
   into data units by the scale the figure will draw at (`LabelStyle`: the plot area in pixels;
   the map keeps x and y at one scale, so one factor serves both axes).
2. `place_labels`: labels in priority order (the biggest cluster first) take the first free
   candidate position: on the anchor, then touching it on eight sides, then on widening rings
   round it with a leader line back to the anchor. A candidate is free when its box stays in
   the view, overlaps no placed box, covers no placed leader line, and its own leader line
   crosses no placed box; a candidate that covers another label's anchor comes after those
   that do not. A label with no free candidate within `max_shift_px` is dropped and reported.
3. `add_labels`: the placed labels as escaped annotations and their leader lines as shapes on a
   Plotly figure, with the axis ranges fixed to the view the placement assumed.

`count_overlaps` counts overlapping boxes, for tests and bench/labels.py.

Levels of detail (broad, medium, fine names, lib.cluster.hierarchy) are chosen by a "Detail"
control beside the map, not by zoom: Plotly sends Streamlit selections but not zoom (relayout)
events, so the server cannot follow the zoom without a custom component, and a figure that
swapped its own annotations client-side (updatemenus) could not recolour by level or be tested
in AppTest. `level_labels` gives one level's anchors, texts and priorities for `place_labels`.
"""

from __future__ import annotations

import html
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from lib.cluster.clusters import NOISE
from lib.cluster.hierarchy import BROAD, FINE, MEDIUM, Level
from lib.errors import ParameterError, check_float, check_int

LEVEL_FONT_SIZES = {BROAD: 16, MEDIUM: 14, FINE: 12}
LINE_HEIGHT_EM = 1.3  # plotly.js annotation lines
NARROW = set("ijlft!|.,:;'`·()[]{} ")
WIDE = set("mwMW@%")
LEADER_COLOR = "#555555"
LABEL_BACKGROUND = "rgba(255,255,255,0.8)"
RING_ANGLES = 24


@dataclass(frozen=True)
class LabelStyle:
    """The plot area labels are placed for (pixels), the font and the room kept round labels.

    The defaults are the Map page at a narrow usual width: in Chromium at 1366 × 900 the 640 px
    high map beside the sidebar and the legend has a plot area of 635 × 590 px (1920 px wide:
    1178 × 590). A wider plot only spreads the labels further apart (the map's y range then sets
    the scale); a narrower one shrinks the map, and labels may then touch.
    """

    width_px: int = 620
    height_px: int = 580
    font_size: int = 12
    gap_px: float = 3.0  # kept free round every box
    max_chars: int = 40
    max_shift_px: float = 180.0  # the farthest a label may move from its anchor
    view_padding: float = 0.04  # share of the data's extent added on each side

    def __post_init__(self) -> None:
        check_int("LabelStyle", "width_px", self.width_px, 100, 10_000)
        check_int("LabelStyle", "height_px", self.height_px, 100, 10_000)
        check_int("LabelStyle", "font_size", self.font_size, 6, 72)
        check_float("LabelStyle", "gap_px", self.gap_px, 0.0, 50.0)
        check_int("LabelStyle", "max_chars", self.max_chars, 4, 200)
        check_float("LabelStyle", "max_shift_px", self.max_shift_px, 0.0, 2_000.0)
        check_float("LabelStyle", "view_padding", self.view_padding, 0.0, 1.0)


@dataclass(frozen=True)
class View:
    """The data region the plot shows (x0, x1, y0, y1) and its data units per pixel."""

    x0: float
    x1: float
    y0: float
    y1: float
    units_per_px: float


@dataclass(frozen=True)
class PlacedLabels:
    """Where each label goes. Per label i (k labels): `texts[i]` (shortened, not yet escaped),
    `anchors[i]` its cluster's point (x, y), `positions[i]` its box centre, `boxes[i]`
    (x0, x1, y0, y1) in data units, `leader[i]` whether a line joins box and anchor, and
    `dropped[i]` whether no free place was found (its position and box are NaN)."""

    texts: tuple[str, ...]
    anchors: np.ndarray
    positions: np.ndarray
    boxes: np.ndarray
    leader: np.ndarray
    dropped: np.ndarray
    view: View
    font_size: int

    @property
    def kept(self) -> np.ndarray:
        """Indices of the labels placed."""
        return np.flatnonzero(~self.dropped)


@dataclass(frozen=True)
class MapLabels:
    """One level's labels before placement: cluster ids (k,), anchors (k, 2), texts, and
    priorities (k,) (cluster sizes: bigger clusters are placed first)."""

    ids: np.ndarray
    anchors: np.ndarray
    texts: tuple[str, ...]
    priorities: np.ndarray
    font_size: int


def level_labels(level: Level, coords: np.ndarray) -> MapLabels:
    """The labels of one level on a map `coords` (n, 2+): one per cluster (noise gets none), at
    the member nearest the members' median (always on the data, unlike a mean of a curved or
    split cluster), biggest cluster first; fonts grow with the level's breadth."""
    coords = np.asarray(coords, dtype=np.float64)[:, :2]
    if len(coords) != len(level.labels):
        raise ParameterError(
            f"Got {len(coords)} map points for {len(level.labels)} labels; they must match."
        )
    ids = sorted((c for c in level.sizes if c != NOISE), key=lambda c: (-level.sizes[c], c))
    anchors = np.empty((len(ids), 2))
    for row, cluster_id in enumerate(ids):
        members = coords[level.labels == cluster_id]
        median = np.median(members, axis=0)
        anchors[row] = members[np.argmin(((members - median) ** 2).sum(axis=1))]
    return MapLabels(
        ids=np.array(ids, dtype=np.int64),
        anchors=anchors,
        texts=tuple(level.names[c] for c in ids),
        priorities=np.array([level.sizes[c] for c in ids], dtype=np.float64),
        font_size=LEVEL_FONT_SIZES.get(level.name, LabelStyle.font_size),
    )


def shorten(text: object, limit: int) -> str:
    """The label as shown: one line, at most `limit` characters (an ellipsis marks a cut)."""
    value = " ".join(str(text).split())
    return value if len(value) <= limit else value[: limit - 1].rstrip() + "…"


def text_width_em(text: str) -> float:
    """The width of one line of `text` in ems, estimated per character (no font at hand):
    wide East Asian characters 1.0, capitals and m/w 0.85, narrow ones 0.32, others 0.58 (Open
    Sans, plotly's default, runs at 0.55 on average: the estimate errs wide)."""
    width = 0.0
    for char in text:
        if unicodedata.east_asian_width(char) in "WF":
            width += 1.0
        elif char in WIDE or char.isupper():
            width += 0.85
        elif char in NARROW:
            width += 0.32
        else:
            width += 0.58
    return width


def label_sizes_px(texts: Sequence[str], font_size: int) -> np.ndarray:
    """Each label's box (width, height) in pixels (k, 2), plotly's 1 px border pad included."""
    sizes = np.empty((len(texts), 2))
    for row, text in enumerate(texts):
        lines = text.split("\n")
        widest = max(text_width_em(line) for line in lines)
        sizes[row] = (widest * font_size + 6, LINE_HEIGHT_EM * font_size * len(lines) + 4)
    return sizes


def two_lines(text: str) -> str:
    """`text` broken at the space nearest its middle ("\\n" between), for a narrower box; a
    label without spaces stays one line."""
    spaces = [i for i, char in enumerate(text) if char == " "]
    if not spaces:
        return text
    cut = min(spaces, key=lambda i: (abs(2 * i - len(text)), i))
    return f"{text[:cut].rstrip(' ·')}\n{text[cut + 1 :].lstrip(' ·')}"


def view_of(extent: np.ndarray, style: LabelStyle) -> View:
    """The region a figure of `style`'s plot size shows for points spanning `extent` (x0, x1,
    y0, y1): the extent padded, then widened along one axis to keep x and y at one scale."""
    x0, x1, y0, y1 = (float(v) for v in extent)
    pad_x = max(x1 - x0, 1e-9) * style.view_padding
    pad_y = max(y1 - y0, 1e-9) * style.view_padding
    span_x, span_y = x1 - x0 + 2 * pad_x, y1 - y0 + 2 * pad_y
    units = max(span_x / style.width_px, span_y / style.height_px)
    mid_x, mid_y = (x0 + x1) / 2, (y0 + y1) / 2
    half_x, half_y = units * style.width_px / 2, units * style.height_px / 2
    return View(mid_x - half_x, mid_x + half_x, mid_y - half_y, mid_y + half_y, units)


def extent_of(coords: np.ndarray) -> np.ndarray:
    """(x0, x1, y0, y1) of 2-D points (n, 2+)."""
    points = np.asarray(coords, dtype=np.float64)[:, :2]
    low, high = points.min(axis=0), points.max(axis=0)
    return np.array([low[0], high[0], low[1], high[1]])


def boxes_at(centres: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Boxes (k, 4) as (x0, x1, y0, y1) of the given sizes (k, 2) centred on `centres` (k, 2)."""
    half = sizes / 2
    return np.column_stack(
        [centres[:, 0] - half[:, 0], centres[:, 0] + half[:, 0],
         centres[:, 1] - half[:, 1], centres[:, 1] + half[:, 1]]
    )  # fmt: skip


def count_overlaps(boxes: np.ndarray) -> int:
    """How many pairs of boxes (k, 4) as (x0, x1, y0, y1) overlap with positive area (boxes
    that only touch do not count; rows with NaN, dropped labels, are left out)."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    boxes = boxes[~np.isnan(boxes).any(axis=1)]
    overlap = _overlapping(boxes, boxes)
    return int(np.triu(overlap, k=1).sum())


def _overlapping(these: np.ndarray, those: np.ndarray) -> np.ndarray:
    """(a, b) bool: box i of `these` overlaps box j of `those` with positive area."""
    return (
        (these[:, None, 0] < those[None, :, 1])
        & (those[None, :, 0] < these[:, None, 1])
        & (these[:, None, 2] < those[None, :, 3])
        & (those[None, :, 2] < these[:, None, 3])
    )


def place_labels(
    anchors: np.ndarray,
    texts: Sequence[str],
    extent: np.ndarray,
    *,
    priorities: np.ndarray | None = None,
    style: LabelStyle = LabelStyle(),
) -> PlacedLabels:
    """Place one label per anchor (k, 2) so that no two boxes overlap (see the module doc).

    `extent`: (x0, x1, y0, y1) of all the map's points (`extent_of(coords)`), which sets the
    view and so the scale; `priorities` (k,): higher is placed first (default: given order).
    Deterministic: the same inputs give the same places.
    """
    anchors = np.asarray(anchors, dtype=np.float64).reshape(-1, 2)
    if len(anchors) != len(texts):
        raise ParameterError(f"Got {len(texts)} texts for {len(anchors)} anchors; they must match.")
    k = len(anchors)
    priorities = np.zeros(k) if priorities is None else np.asarray(priorities, dtype=np.float64)
    if len(priorities) != k:
        raise ParameterError(f"Got {len(priorities)} priorities for {k} anchors; they must match.")
    shown = [shorten(text, style.max_chars) for text in texts]
    view = view_of(extent, style)
    sizes = label_sizes_px(shown, style.font_size) * view.units_per_px
    state = _Placement(anchors, view, style)
    positions = np.full((k, 2), np.nan)
    leader = np.zeros(k, dtype=bool)
    for i in np.lexsort((np.arange(k), -priorities)):
        found = _place_label(state, i, shown[i], sizes[i])
        if found is not None:
            positions[i], leader[i], shown[i], sizes[i] = found
    dropped = np.isnan(positions[:, 0])
    boxes = boxes_at(positions, sizes)
    return PlacedLabels(
        tuple(shown), anchors, positions, boxes, leader, dropped, view, style.font_size
    )


def _place_label(state: _Placement, i: int, text: str, size: np.ndarray):
    """(centre, has leader, text, size) of label i's first free place, or None: on one line,
    then on two (a narrower box); failing both, the same with its leader line allowed to start
    under a placed label that covers its anchor (the line then only emerges from that label)."""
    variants = [(text, size)]
    wrapped = two_lines(text)
    if wrapped != text:
        narrower = label_sizes_px([wrapped], state.style.font_size)[0] * state.view.units_per_px
        variants.append((wrapped, narrower))
    for relaxed in (False, True):
        for shown, box in variants:
            found = state.place(i, box, relaxed=relaxed)
            if found is not None:
                return (*found, shown, box)
    return None


class _Placement:
    """The boxes and leader lines placed so far, and the search for a label's free place."""

    def __init__(self, anchors: np.ndarray, view: View, style: LabelStyle) -> None:
        self.anchors = anchors
        self.view = view
        self.style = style
        self.gap = style.gap_px * view.units_per_px
        self.boxes = np.empty((0, 4))  # placed, each grown by the gap on every side
        self.lines = np.empty((0, 4))  # placed leader lines (ax, ay, bx, by)

    def place(
        self, i: int, size: np.ndarray, *, relaxed: bool = False
    ) -> tuple[np.ndarray, bool] | None:
        """The first free (centre, has leader) for label i of `size` (data units), placed;
        `relaxed`: its leader may cross placed boxes that cover its anchor."""
        anchor = self.anchors[i]
        centres, leads = self._candidates(anchor, size)
        boxes = boxes_at(centres, np.broadcast_to(size, centres.shape))
        free = self._inside(boxes) & ~_overlapping(boxes, self.boxes).any(axis=1)
        free &= ~_segments_hit_boxes(self.lines, boxes).any(axis=0)
        ends = _nearest_on_boxes(anchor, boxes)
        own = np.column_stack([np.broadcast_to(anchor, ends.shape), ends])
        crossed = _segments_hit_boxes(own, self.boxes)
        if relaxed:
            crossed &= ~_points_in_boxes(anchor[None, :], self.boxes)[:, 0][None, :]
        free &= ~(leads[:, None] & crossed).any(axis=1)
        if not free.any():
            return None
        others = np.delete(self.anchors, i, axis=0)
        covers = _points_in_boxes(others, boxes).any(axis=1)
        best = np.flatnonzero(free)[np.argmin(covers[free])]
        self.boxes = np.vstack([self.boxes, _grown(boxes[best], self.gap)])
        if leads[best]:
            self.lines = np.vstack([self.lines, own[best]])
        return centres[best], bool(leads[best])

    def _candidates(self, anchor: np.ndarray, size: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Candidate centres (c, 2), nearest first, and whether each needs a leader line."""
        half_w, half_h = size / 2
        step = 2 * half_h
        gap = self.gap
        touching = [
            (0.0, 0.0),
            (0.0, half_h + gap), (0.0, -half_h - gap),
            (half_w + gap, 0.0), (-half_w - gap, 0.0),
            (half_w + gap, half_h + gap), (-half_w - gap, half_h + gap),
            (half_w + gap, -half_h - gap), (-half_w - gap, -half_h - gap),
        ]  # fmt: skip
        rings = []
        angles = np.linspace(0, 2 * np.pi, RING_ANGLES, endpoint=False)
        limit = self.style.max_shift_px * self.view.units_per_px
        for radius in np.arange(step, limit + 1e-12, step):
            rings.append(
                np.column_stack(
                    [np.cos(angles) * (radius + half_w), np.sin(angles) * (radius + half_h)]
                )
            )
        offsets = np.vstack([np.array(touching), *rings])
        leads = np.arange(len(offsets)) >= len(touching)
        return anchor + offsets, leads

    def _inside(self, boxes: np.ndarray) -> np.ndarray:
        view = self.view
        return (
            (boxes[:, 0] >= view.x0)
            & (boxes[:, 1] <= view.x1)
            & (boxes[:, 2] >= view.y0)
            & (boxes[:, 3] <= view.y1)
        )


def _grown(box: np.ndarray, by: float) -> np.ndarray:
    return box + np.array([-by, by, -by, by])


def _points_in_boxes(points: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """(b, p) bool: point j lies inside box i."""
    return (
        (points[None, :, 0] > boxes[:, None, 0])
        & (points[None, :, 0] < boxes[:, None, 1])
        & (points[None, :, 1] > boxes[:, None, 2])
        & (points[None, :, 1] < boxes[:, None, 3])
    )


def _nearest_on_boxes(point: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """The point of each box (b, 4) nearest `point` (its own place when inside)."""
    return np.column_stack(
        [np.clip(point[0], boxes[:, 0], boxes[:, 1]), np.clip(point[1], boxes[:, 2], boxes[:, 3])]
    )


def _segments_hit_boxes(segments: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """(s, b) bool: segment i (s, 4) as (ax, ay, bx, by) passes through the inside of box j
    (b, 4). Liang–Barsky clipping: a segment that only touches a box's edge does not hit it."""
    if len(segments) == 0 or len(boxes) == 0:
        return np.zeros((len(segments), len(boxes)), dtype=bool)
    ax, ay = segments[:, 0, None], segments[:, 1, None]
    dx, dy = segments[:, 2, None] - ax, segments[:, 3, None] - ay
    low = np.zeros((len(segments), len(boxes)))
    high = np.ones((len(segments), len(boxes)))
    with np.errstate(divide="ignore", invalid="ignore"):
        for delta, start, lo, hi in ((dx, ax, boxes[:, 0], boxes[:, 1]),
                                     (dy, ay, boxes[:, 2], boxes[:, 3])):  # fmt: skip
            t_lo = (lo[None, :] - start) / delta
            t_hi = (hi[None, :] - start) / delta
            enter, leave = np.minimum(t_lo, t_hi), np.maximum(t_lo, t_hi)
            flat = np.broadcast_to(delta == 0, enter.shape)
            inside = (start > lo[None, :]) & (start < hi[None, :])
            enter = np.where(flat, np.where(inside, -np.inf, np.inf), enter)
            leave = np.where(flat, np.where(inside, np.inf, -np.inf), leave)
            low, high = np.maximum(low, enter), np.minimum(high, leave)
    return high - low > 1e-9


def add_labels(figure: go.Figure, placed: PlacedLabels, *, color: str = "#222222") -> go.Figure:
    """Draw the placed labels on a 2-D map: escaped text boxes at their places, a thin line from
    each moved label to its anchor, and the axis ranges of the view the placement assumed."""
    for i in placed.kept:
        if placed.leader[i]:
            end = _nearest_on_boxes(placed.anchors[i], placed.boxes[i : i + 1])[0]
            figure.add_shape(
                type="line", xref="x", yref="y", layer="above",
                x0=float(placed.anchors[i, 0]), y0=float(placed.anchors[i, 1]),
                x1=float(end[0]), y1=float(end[1]),
                line=dict(color=LEADER_COLOR, width=1),
            )  # fmt: skip
        figure.add_annotation(
            x=float(placed.positions[i, 0]), y=float(placed.positions[i, 1]),
            xref="x", yref="y", xanchor="center", yanchor="middle",
            text=_as_html(placed.texts[i]), showarrow=False,
            font=dict(size=placed.font_size, color=color),
            bgcolor=LABEL_BACKGROUND, borderpad=1,
        )  # fmt: skip
    view = placed.view
    figure.update_xaxes(range=[view.x0, view.x1], autorange=False)
    figure.update_yaxes(range=[view.y0, view.y1], autorange=False)
    return figure


def _as_html(text: str) -> str:
    """A label's lines, each escaped, joined by <br>."""
    return "<br>".join(html.escape(line, quote=False) for line in text.split("\n"))
