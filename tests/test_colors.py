"""Colours that keep their meaning: one rule for every figure, distinct hues, rings outside the
palette, catch-all groups apart, room for the mode bar, no pile of cluster names (issue 23)."""

import numpy as np
import pytest

from lib.figures.colors import (
    CATCH_ALL_COLORS,
    NOISE_COLOR,
    OTHER,
    OTHER_COLOR,
    PALETTE,
    RING_COLOR,
    RING_HALO,
    category_colors,
)
from lib.figures.compare import agreement_histogram, compare_map
from lib.figures.huge import huge_map_figure
from lib.figures.lessons import score_bars, small_multiples, truth_vs_drawing
from lib.figures.map import (
    LEGEND_ROW,
    MODEBAR_ROOM,
    ColorBy,
    hover_labels,
    labelled_clusters,
    map_figure,
)
from lib.figures.query import similarity_heatmap
from lib.measure.compare import Agreement

RNG = np.random.default_rng(0)
COORDS = RNG.normal(size=(60, 2)).astype(np.float32)
HOVER = hover_labels([f"document {i}" for i in range(60)])


def lab(color: str) -> np.ndarray:
    """CIELAB (D65) of a '#rrggbb' colour."""
    rgb = np.array([int(color[i : i + 2], 16) / 255 for i in (1, 3, 5)])
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    matrix = np.array(
        [[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]
    )
    xyz = matrix @ linear / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def distance(one: str, two: str) -> float:
    return float(np.linalg.norm(lab(one) - lab(two)))


def trace_colors(figure) -> dict[str, str]:
    """Legend name (without its count) -> marker colour of each trace that has points."""
    return {t.name.rsplit(" (", 1)[0]: t.marker.color for t in figure.data if t.customdata}


def test_palette_colours_are_distinct_and_none_is_grey_or_a_ring_colour():
    """love, art and kids were near-identical magentas (Dark24 + Light24 reused look-alikes)."""
    pairs = [(a, b) for i, a in enumerate(PALETTE) for b in PALETTE[i + 1 :]]
    assert min(distance(a, b) for a, b in pairs) >= 25
    for color in PALETTE:
        assert np.hypot(*lab(color)[1:]) >= 25  # chroma: never mistaken for the catch-all greys
        for reserved in (OTHER_COLOR, NOISE_COLOR, RING_COLOR, RING_HALO):
            assert distance(color, reserved) >= 25
    assert distance(OTHER_COLOR, NOISE_COLOR) >= 20


def test_past_the_palette_the_smallest_categories_fold_into_other():
    values = [f"c{i:02d}" for i in range(30) for _ in range(40 - i)]
    scheme = category_colors(values)
    assert scheme.order[-1] == OTHER and len(scheme.order) == len(PALETTE) + 1
    assert scheme.order[: len(PALETTE)] == tuple(f"c{i:02d}" for i in range(len(PALETTE)))
    drawn = [scheme.colors[c] for c in scheme.order]
    assert len(set(drawn)) == len(drawn)  # no hue reused
    assert set(scheme.fold(values)) == set(scheme.order)


def test_a_category_keeps_its_colour_whatever_the_figure_draws():
    """The Map page, a lesson's sample and both Compare maps colour 'sport' alike."""
    values = np.array(["sport"] * 30 + ["art"] * 20 + ["kids"] * 10)
    full = trace_colors(map_figure(COORDS, HOVER, color=ColorBy("topic", values)))
    shuffled = RNG.permutation(60)
    moved = trace_colors(
        map_figure(COORDS[shuffled], [HOVER[i] for i in shuffled],
                   color=ColorBy("topic", values[shuffled]))
    )  # fmt: skip
    subset = np.flatnonzero(values != "sport")[::3]  # the biggest category is not drawn here
    sample = trace_colors(
        map_figure(COORDS[subset], [HOVER[i] for i in subset],
                   color=ColorBy("topic", values[subset], colors=category_colors(values)))
    )  # fmt: skip
    assert full == moved == {"sport": PALETTE[0], "art": PALETTE[1], "kids": PALETTE[2]}
    assert sample == {"art": PALETTE[1], "kids": PALETTE[2]}
    grid = small_multiples([COORDS, COORDS[::-1]], ["a", "b"], values, max_points=20)
    assert {t.name: t.marker.color for t in grid.data if t.showlegend} == full


def test_other_and_unclustered_are_two_different_greys_listed_last():
    values = np.array(["unclustered"] * 10 + ["other"] * 10 + ["a"] * 40)
    figure = map_figure(COORDS, HOVER, color=ColorBy("cluster", values))
    colors = trace_colors(figure)
    assert list(colors) == ["a", "other", "unclustered"]
    assert colors["other"] == CATCH_ALL_COLORS["other"] != colors["unclustered"] == NOISE_COLOR


def test_huge_maps_colour_clusters_by_the_same_rule():
    labels = np.array([-1] * 5 + [0] * 10 + [1] * 30 + [2] * 15)
    names = {-1: "unclustered", 0: "zero", 1: "one", 2: "two"}
    figure = huge_map_figure(COORDS, labels, names).figure
    drawn = {t.name: t.marker.color for t in figure.data}
    expected = category_colors([names[int(c)] for c in labels]).colors
    assert drawn == dict(expected)
    assert [t.name for t in figure.data] == ["one", "two", "zero", "unclustered"]


def test_the_compare_ring_is_black_on_white_outside_the_palette():
    """The red selection ring was the red of the 'es' points."""
    values = np.array(["en", "es", "de"] * 20)
    figure = compare_map(COORDS, HOVER, highlight=[1, 4], color=ColorBy("lang", values))
    ringed = [t for t in figure.data if t.name.startswith("selected")]
    halo = [t for t in figure.data if t.name == "ring halo"]
    assert len(ringed) == 1 and len(halo) == 1
    assert ringed[0].marker.color == RING_COLOR and halo[0].marker.color == RING_HALO
    point_colors = {t.marker.color for t in figure.data if t.customdata}
    assert {RING_COLOR, RING_HALO}.isdisjoint(set(PALETTE) | point_colors)


VALUES = np.array(["a", "b", "c"] * 20)
KNN = np.zeros((60, 10), np.int64)
FIGURES = {
    "categorical map": lambda: map_figure(COORDS, HOVER, color=ColorBy("label", VALUES)),
    "continuous map": lambda: map_figure(COORDS, HOVER, color=ColorBy("x", np.arange(60.0), True)),
    "titled map": lambda: map_figure(COORDS, HOVER, title="A", color=ColorBy("label", VALUES)),
    "small multiples": lambda: small_multiples([COORDS] * 3, ["a", "b", "c"], VALUES),
    "truth vs drawing": lambda: truth_vs_drawing(
        [0.1, 0.5, 0.9], [0.2, 0.4, 0.8], ["x", "y", "z"], x_title="true", y_title="drawn"
    ),
    "score bars": lambda: score_bars(["x", "y"], {"kept": [0.3, 0.5], "ari": [0.4, 0.6]}),
    "heatmap": lambda: similarity_heatmap(np.eye(3), ["one", "two", "three"]),
    "agreement histogram": lambda: agreement_histogram(
        Agreement(k=10, per_point=RNG.uniform(size=60), first_knn=KNN, second_knn=KNN)
    ),
    "huge map": lambda: huge_map_figure(COORDS, np.zeros(60, int), {0: "all"}).figure,
}


@pytest.mark.parametrize("name", list(FIGURES))
def test_the_mode_bar_has_room_above_legends_and_colour_bars(name):
    """Plotly's mode bar (top right) covered the legend and colour-bar titles."""
    layout = FIGURES[name]().layout
    needed = MODEBAR_ROOM
    if layout.legend.orientation == "h" and (layout.legend.y or 0) >= 1:
        needed += LEGEND_ROW  # a horizontal legend above the plot sits under the mode bar
    assert layout.margin.t >= needed


def test_no_more_cluster_names_than_fit_the_map():
    """87 HDBSCAN clusters were all named, stacked into an unreadable pile."""
    labels = np.concatenate([np.repeat(np.arange(-1, 87), 3), np.full(40, 5)])  # 5 biggest
    coords = RNG.normal(size=(len(labels), 2))
    names = {c: f"name {c}" for c in range(-1, 87)}
    figure = map_figure(coords, hover_labels([""] * len(labels)), cluster_names=names,
                        cluster_labels=labels, height=640)  # fmt: skip
    drawn = [note.text for note in figure.layout.annotations]
    assert 1 <= len(drawn) <= 640 // 40
    assert drawn[0] == "name 5" and "name -1" not in drawn
    assert labelled_clusters(labels, names, 640) == [5, *range(0, 5), *range(6, 16)]


def test_a_lesson_sample_keeps_the_whole_corpus_colours():
    """Lesson 4 on a large corpus draws a sample, whose own ranks would change the colours."""
    corpus = np.array(["a"] * 50 + ["b"] * 40 + ["c"] * 30)
    sample = np.array(["c"] * 30 + ["b"] * 20 + ["a"] * 10)  # c is the biggest here
    grid = small_multiples([COORDS, COORDS], ["x", "y"], sample, colors=category_colors(corpus))
    drawn = {t.name: t.marker.color for t in grid.data if t.showlegend}
    assert drawn == {"a": PALETTE[0], "b": PALETTE[1], "c": PALETTE[2]}
