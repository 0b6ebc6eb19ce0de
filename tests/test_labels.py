"""Label placement: no two placed boxes overlap, labels stay in view and near their anchors,
leader lines mark moved labels, the lowest-priority labels are the ones dropped, text is escaped."""

import numpy as np
import plotly.graph_objects as go
import pytest

from lib.cluster.clusters import NOISE
from lib.cluster.hierarchy import BROAD, FINE, Level
from lib.errors import ParameterError
from lib.figures.labels import (
    LabelStyle,
    add_labels,
    boxes_at,
    count_overlaps,
    extent_of,
    label_sizes_px,
    level_labels,
    place_labels,
    shorten,
    two_lines,
    view_of,
)

EXTENT = np.array([0.0, 10.0, 0.0, 10.0])


def crowd(k: int = 40, seed: int = 0) -> tuple[np.ndarray, list[str]]:
    """`k` anchors packed in a small patch of a 10 × 10 map, with names of varied length."""
    rng = np.random.default_rng(seed)
    anchors = 5 + rng.normal(scale=0.6, size=(k, 2))
    words = ["rocket", "orbit", "galaxy", "bread", "oven", "goal", "league", "bank", "rain"]
    texts = [" · ".join(rng.choice(words, size=1 + i % 3, replace=False)) for i in range(k)]
    return anchors, texts


def test_count_overlaps_counts_pairs_with_area():
    boxes = np.array(
        [[0, 2, 0, 2], [1, 3, 1, 3], [2, 4, 0, 1.5], [10, 11, 10, 11], [np.nan] * 4], dtype=float
    )
    assert count_overlaps(boxes) == 2  # 0-1 and 1-2 overlap; 0-2 only touch; NaN left out
    assert count_overlaps(np.empty((0, 4))) == 0


def test_crowded_labels_are_placed_without_overlap():
    anchors, texts = crowd()
    priorities = np.arange(len(texts))[::-1].astype(float)  # the first label matters most
    old = boxes_at(anchors, label_sizes_px(texts, 12) * view_of(EXTENT, LabelStyle()).units_per_px)
    placed = place_labels(anchors, texts, EXTENT, priorities=priorities)
    assert count_overlaps(old) > 20  # they pile up where they stand
    assert count_overlaps(placed.boxes) == 0
    assert placed.leader.sum() > 5  # moved labels point back to their anchors
    kept = placed.kept
    assert len(kept) >= 25
    if placed.dropped.any():  # what is dropped is the least important
        assert np.flatnonzero(placed.dropped).min() > kept.min()
        assert placed.dropped[0] == False  # noqa: E712 (numpy bool)
    view = placed.view
    boxes = placed.boxes[kept]
    assert (boxes[:, 0] >= view.x0).all() and (boxes[:, 1] <= view.x1).all()
    assert (boxes[:, 2] >= view.y0).all() and (boxes[:, 3] <= view.y1).all()


def test_labels_stay_near_and_only_moved_ones_get_a_leader():
    anchors, texts = crowd(25, seed=3)
    style = LabelStyle()
    placed = place_labels(anchors, texts, EXTENT, style=style)
    limit = style.max_shift_px * placed.view.units_per_px
    for i in placed.kept:
        x0, x1, y0, y1 = placed.boxes[i]
        nearest = np.clip(anchors[i], [x0, y0], [x1, y1])
        distance = np.linalg.norm(nearest - anchors[i])
        assert distance <= limit + 1e-9
        if not placed.leader[i]:  # on or touching its anchor
            assert distance <= 2 * style.gap_px * placed.view.units_per_px


def test_spread_labels_sit_on_their_anchors():
    anchors = np.array([[1.0, 1.0], [9.0, 9.0], [1.0, 9.0], [9.0, 1.0], [5.0, 5.0]])
    placed = place_labels(anchors, ["a", "bb", "ccc", "dddd", "eeeee"], EXTENT)
    np.testing.assert_allclose(placed.positions, anchors)
    assert not placed.leader.any() and not placed.dropped.any()


def test_placement_is_deterministic():
    anchors, texts = crowd()
    first = place_labels(anchors, texts, EXTENT, priorities=np.ones(len(texts)))
    again = place_labels(anchors.copy(), list(texts), EXTENT.copy(), priorities=np.ones(len(texts)))
    np.testing.assert_array_equal(first.positions, again.positions)
    np.testing.assert_array_equal(first.dropped, again.dropped)


def test_boxes_grow_with_text_and_font_and_the_view_keeps_one_scale():
    narrow, wide, cjk = label_sizes_px(["rain", "rain · storm", "天气预报"], 12)
    assert narrow[0] < wide[0] and cjk[0] > narrow[0]
    assert label_sizes_px(["rain"], 24)[0, 0] > narrow[0]
    assert shorten("x" * 50, 10) == "x" * 9 + "…"
    assert two_lines("rain · storm · forecast") == "rain · storm\nforecast"
    assert two_lines("天气预报") == "天气预报"
    one, two = label_sizes_px(["rain · storm · forecast", "rain · storm\nforecast"], 12)
    assert two[0] < one[0] and two[1] > one[1]
    view = view_of(np.array([0.0, 4.0, 0.0, 1.0]), LabelStyle(width_px=700, height_px=620))
    assert (view.x1 - view.x0) / (view.y1 - view.y0) == pytest.approx(700 / 620)
    assert view.x0 < 0 and view.x1 > 4 and view.y0 < 0 and view.y1 > 1


def test_add_labels_draws_escaped_text_and_leader_lines():
    anchors, texts = crowd(20, seed=1)
    texts[0] = "<b>bold</b> & <a href='https://x'>link</a>"
    placed = place_labels(anchors, texts, EXTENT, priorities=-np.arange(20.0))
    figure = add_labels(go.Figure(go.Scattergl(x=[0, 10], y=[0, 10])), placed)
    annotations = figure.layout.annotations
    assert len(annotations) == len(placed.kept)
    assert annotations[0].text.startswith("&lt;b&gt;bold&lt;/b&gt; &amp; &lt;a")
    assert len(figure.layout.shapes) == int(placed.leader.sum())
    assert tuple(figure.layout.xaxis.range) == (placed.view.x0, placed.view.x1)


def test_level_labels_anchor_on_members_biggest_first():
    coords = np.array([[0, 0], [1, 0], [2, 0], [10, 10], [11, 10], [50, 50]], dtype=float)
    level = Level(
        name=BROAD,
        labels=np.array([0, 0, 0, 1, 1, NOISE]),
        names={0: "big", 1: "small", NOISE: "unclustered"},
        sizes={0: 3, 1: 2, NOISE: 1},
        parents={},
    )
    wanted = level_labels(level, coords)
    assert wanted.texts == ("big", "small")
    np.testing.assert_array_equal(wanted.anchors[0], [1, 0])
    assert tuple(wanted.anchors[1]) in {(10, 10), (11, 10)}
    assert wanted.font_size > level_labels(_as_fine(level), coords).font_size


def _as_fine(level: Level) -> Level:
    return Level(FINE, level.labels, level.names, level.sizes, {0: 0, 1: 1, NOISE: NOISE})


def test_bad_inputs():
    with pytest.raises(ParameterError, match="Got 1 texts for 2 anchors"):
        place_labels(np.zeros((2, 2)), ["a"], EXTENT)
    with pytest.raises(ParameterError, match="Got 3 priorities for 2 anchors"):
        place_labels(np.zeros((2, 2)), ["a", "b"], EXTENT, priorities=np.ones(3))
    with pytest.raises(ParameterError, match="'font_size' parameter of LabelStyle must be"):
        LabelStyle(font_size=2)
    assert extent_of(np.array([[1.0, 2.0], [3.0, -1.0]])).tolist() == [1.0, 3.0, -1.0, 2.0]
