"""A simple greedy nudge for point labels: each label takes the first side of its point where its
box (estimated in pixels) overlaps no label placed before it ("eldest" and "elizabeth" drawn on
top of each other). Not a full label placement: labels that find no free side take the side
where they overlap least.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lib.errors import ParameterError

# (Plotly textposition, horizontal side, vertical side): -1 left/below, 0 centred, 1 right/above
SIDES = (
    ("top center", 0, 1),
    ("bottom center", 0, -1),
    ("middle right", 1, 0),
    ("middle left", -1, 0),
    ("top right", 1, 1),
    ("top left", -1, 1),
    ("bottom right", 1, -1),
    ("bottom left", -1, -1),
)
FONT_PX = 12
CHAR_WIDTH = 0.6  # of the font size: the average width of a character
LINE_HEIGHT = 1.3  # of the font size
GAP_PX = 6  # between a point and its label
ASSUMED_WIDTH_PX = 900  # a chart's width when the page sets it (Streamlit fills the column)


def place_labels(
    points: np.ndarray, labels: Sequence[str], *, width: float, height: float, frame=None
) -> list[int]:
    """The side (an index into SIDES) of each label: greedy, in the order given, so put the
    labels that matter most first. `points` (n, 2) in data units; the plot is `width` x
    `height` px and shows `frame` ((x0, y0), (x1, y1)), by default the points' extent."""
    xy = np.asarray(points, dtype=np.float64)
    if xy.ndim != 2 or xy.shape[1] != 2 or len(xy) != len(labels):
        raise ParameterError(
            f"place_labels needs points (n, 2) and n labels; got {xy.shape} and {len(labels)}."
        )
    pixels = _to_pixels(xy, width, height, frame)
    placed: list[tuple[float, float, float, float]] = []
    sides = []
    for (x, y), label in zip(pixels, labels, strict=True):
        boxes = [label_box(x, y, str(label), side) for side in range(len(SIDES))]
        overlaps = [sum(_overlap(box, other) for other in placed) for box in boxes]
        side = int(np.argmin(overlaps))  # the first side with no overlap, else the least
        sides.append(side)
        placed.append(boxes[side])
    return sides


def label_box(x: float, y: float, label: str, side: int) -> tuple[float, float, float, float]:
    """(left, bottom, right, top) in px of `label` drawn on `side` of the point (x, y)."""
    _, across, up = SIDES[side]
    width = CHAR_WIDTH * FONT_PX * max(len(line) for line in label.split("<br>"))
    tall = LINE_HEIGHT * FONT_PX * (label.count("<br>") + 1)
    left = {0: x - width / 2, 1: x + GAP_PX, -1: x - GAP_PX - width}[across]
    bottom = {0: y - tall / 2, 1: y + GAP_PX, -1: y - GAP_PX - tall}[up]
    return left, bottom, left + width, bottom + tall


def text_positions(points: np.ndarray, labels: Sequence[str], **plot) -> list[str]:
    """Plotly `textposition` of each label of a markers+text trace (see `place_labels`)."""
    return [SIDES[s][0] for s in place_labels(points, labels, **plot)]


def annotation_offsets(points: np.ndarray, labels: Sequence[str], **plot) -> list[dict]:
    """xshift, yshift, xanchor and yanchor of each label drawn as an annotation (see
    `place_labels`)."""
    offsets = []
    for side in place_labels(points, labels, **plot):
        _, across, up = SIDES[side]
        offsets.append(
            dict(
                xshift=across * GAP_PX,
                yshift=up * (GAP_PX + LINE_HEIGHT * FONT_PX / 2),
                xanchor={0: "center", 1: "left", -1: "right"}[across],
                yanchor="middle",
            )
        )
    return offsets


def _to_pixels(xy: np.ndarray, width: float, height: float, frame=None) -> np.ndarray:
    """Data units to px: `frame` ((x0, y0), (x1, y1)), else the points' finite extent, fills
    the plot."""
    finite = xy[np.isfinite(xy).all(axis=1)]
    if frame is None and not len(finite):
        return np.zeros_like(xy)
    low, high = (finite.min(axis=0), finite.max(axis=0)) if frame is None else map(np.array, frame)
    span = np.where(high > low, high - low, 1.0)
    return (xy - low) / span * np.array([width, height])


def _overlap(one: tuple[float, ...], two: tuple[float, ...]) -> float:
    """The area two (left, bottom, right, top) boxes share."""
    across = min(one[2], two[2]) - max(one[0], two[0])
    up = min(one[3], two[3]) - max(one[1], two[1])
    return max(across, 0.0) * max(up, 0.0)
