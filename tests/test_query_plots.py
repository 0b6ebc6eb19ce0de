"""Figure builders of the query pages: arrows, path, query star, heatmap, word and axis maps."""

from __future__ import annotations

import json
from collections.abc import Iterator

import numpy as np
import plotly.graph_objects as go
import pytest

from lib.errors import ParameterError
from lib.figures.map import ColorBy
from lib.figures.query import (
    add_arrows,
    add_labels,
    add_path,
    add_query_marker,
    axes_figure,
    map_positions,
    query_map_figure,
    similarity_heatmap,
    step_labels,
    word_map_figure,
)
from lib.query.expressions import parse_expression

SCRIPT = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


def arrows_2d(figure: go.Figure) -> list[tuple[tuple[float, float], tuple[float, float]]]:
    """(start, end) of every 2-D arrow annotation, in drawing order."""
    return [
        ((note.ax, note.ay), (note.x, note.y))
        for note in figure.layout.annotations
        if note.showarrow and note.axref == "x"
    ]


def strings(value: object) -> Iterator[str]:
    """Every string inside a decoded figure (to_json hides '<' as \\u003c, so decode first)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def trace(figure: go.Figure, name: str) -> go.BaseTraceType:
    (found,) = [t for t in figure.data if t.name == name]
    return found


def test_map_positions_places_nonzero_rows_and_leaves_zero_rows_nan():
    seen = []

    def transform(matrix: np.ndarray) -> np.ndarray:
        seen.append(matrix.copy())
        return matrix[:, :2] * 10

    vectors = np.array([[1, 2, 3], [0, 0, 0], [4, 5, 6]], dtype=np.float32)
    positions = map_positions(vectors, transform)
    assert len(seen) == 1 and seen[0].shape == (2, 3)
    np.testing.assert_allclose(positions[[0, 2]], [[10, 20], [40, 50]])
    assert np.isnan(positions[1]).all()


def test_map_positions_of_only_zero_vectors_is_an_error():
    with pytest.raises(ParameterError, match="zero vector has no map position"):
        map_positions(np.zeros((2, 4)), lambda matrix: matrix[:, :2])


@pytest.mark.parametrize(
    ("source", "labels"),
    [
        ('#11 - "formal" + "casual"', ["#11", "− “formal”", "+ “casual”"]),
        ('mean("guitar", "drums") - noise', ["0.5 × “guitar”", "+ 0.5 × “drums”", "− “noise”"]),
        ('-2 * "rain" + #3 * 0.25', ["− 2 × “rain”", "+ 0.25 × #3"]),
    ],
)
def test_step_labels_read_like_the_expression(source, labels):
    assert step_labels(parse_expression(source).terms) == labels


def test_path_has_one_arrow_per_step_from_each_point_to_the_next():
    points = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 2.0], [3.0, 2.0]])
    figure = add_path(go.Figure(), points, ["#1", "+ a", "− b", "+ c"])
    assert arrows_2d(figure) == [((0, 0), (1, 0)), ((1, 0), (1, 2)), ((1, 2), (3, 2))]
    assert len(arrows_2d(figure)) == len(points) - 1
    marks = trace(figure, "path")
    np.testing.assert_allclose(np.column_stack([marks.x, marks.y]), points)
    labels = [note.text for note in figure.layout.annotations if note.axref != "x"]
    assert labels == ["#1", "+ a", "− b", "+ c"]


def test_path_skips_a_cancelled_partial_sum():
    points = np.array([[0.0, 0.0], [np.nan, np.nan], [2.0, 2.0], [3.0, 1.0]])
    figure = add_path(go.Figure(), points, ["a", "− a", "+ b", "+ c"])
    assert arrows_2d(figure) == [((0, 0), (2, 2)), ((2, 2), (3, 1))]
    assert len(trace(figure, "path").x) == 3


def test_single_term_path_has_no_arrow():
    figure = add_path(go.Figure(), np.array([[1.0, 1.0]]), ["“rain”"])
    assert arrows_2d(figure) == []
    assert len(trace(figure, "path").x) == 1


def test_3d_arrows_are_shafts_and_cone_heads_at_the_ends():
    points = np.array([[0.0, 0, 0], [1, 0, 0], [1, 1, 1]])
    figure = add_path(go.Figure(), points, ["a", "b", "c"])
    (cone,) = [t for t in figure.data if isinstance(t, go.Cone)]
    np.testing.assert_allclose(np.column_stack([cone.x, cone.y, cone.z]), points[1:])
    (shafts,) = [t for t in figure.data if isinstance(t, go.Scatter3d) and t.mode == "lines"]
    assert list(shafts.x) == [0, 1, None, 1, 1, None]
    assert len(figure.layout.scene.annotations) == 3
    assert not figure.layout.annotations


def test_arrows_need_one_end_per_start():
    with pytest.raises(ParameterError, match="one start and one end per arrow"):
        add_arrows(go.Figure(), np.zeros((2, 2)), np.zeros((3, 2)), name="x")


def test_labels_skip_points_without_a_position():
    figure = add_labels(go.Figure(), np.array([[0.0, 1.0], [np.nan, np.nan]]), ["a", "b"])
    assert [note.text for note in figure.layout.annotations] == ["a"]


@pytest.mark.parametrize(
    ("point", "symbol"), [([1.5, -2.0], "star"), ([1.5, -2.0, 3.0], "diamond")]
)
def test_query_marker_is_one_named_point_at_the_given_coordinates(point, symbol):
    figure = add_query_marker(go.Figure(), np.array(point), label='"rain"')
    star = trace(figure, "query")
    assert star.marker.symbol == symbol
    placed = [star.x[0], star.y[0]] + ([star.z[0]] if len(point) == 3 else [])
    np.testing.assert_allclose(placed, point)


@pytest.fixture
def corpus_map() -> tuple[np.ndarray, list[str], ColorBy]:
    coords = np.random.default_rng(0).normal(size=(30, 2)).astype(np.float32)
    hover = [f"doc {i}" for i in range(30)]
    return coords, hover, ColorBy("topic", np.array(["a", "b", "c"] * 10))


def test_query_map_puts_the_star_at_the_end_of_the_path_and_rings_the_hits(corpus_map):
    coords, hover, color = corpus_map
    path = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 0.5]])
    figure = query_map_figure(
        coords,
        hover,
        color=color,
        path_points=path,
        path_labels=["#4", "+ “x”", "− “y”"],
        hit_rows=[7, 2, 19],
        query_label='#4 + "x" - "y"',
    )
    star = trace(figure, "query")
    assert (star.x[0], star.y[0]) == (2.0, 0.5)
    hits = trace(figure, "top 3")
    np.testing.assert_allclose(np.column_stack([hits.x, hits.y]), coords[[7, 2, 19]])
    assert list(hits.hovertext) == ["doc 7", "doc 2", "doc 19"]
    assert len(arrows_2d(figure)) == 2
    assert {t.marker.opacity for t in figure.data[:3]} == {0.35}
    assert figure.layout.dragmode == "zoom"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"path_points": np.zeros((2, 3))}, "has 3 coordinates per point but the map has 2"),
        ({"hit_rows": [30]}, r"must be rows of the map \(0 to 29\)"),
        ({"path_points": np.array([[0.0, 0.0], [np.nan, np.nan]])}, "last path point is the query"),
    ],
)
def test_query_map_rejects_mismatched_inputs(corpus_map, change, message):
    coords, hover, color = corpus_map
    arguments = dict(
        color=color,
        path_points=np.zeros((2, 2)),
        path_labels=["a", "b"],
        hit_rows=[1],
        query_label="a + b",
    )
    with pytest.raises(ParameterError, match=message):
        query_map_figure(coords, hover, **(arguments | change))


def test_heatmap_shows_the_matrix_with_numbered_truncated_labels():
    matrix = np.array([[1.0, 0.25, -0.1], [0.25, 1.0, 0.5], [-0.1, 0.5, 1.0]])
    long = "word " * 30
    figure = similarity_heatmap(matrix, ["#3 rain", long, "#3 rain"])
    (heat,) = figure.data
    np.testing.assert_array_equal(np.asarray(heat.z), matrix)
    assert heat.texttemplate == "%{z:.2f}"
    assert heat.y[0] == "1. #3 rain" and heat.y[2] == "3. #3 rain"
    assert heat.y[1].startswith("2. word word") and heat.y[1].endswith("…")
    assert len(heat.y[1]) <= len("2. ") + 36
    assert "cosine -0.100" in heat.hovertext[0][2]


@pytest.mark.parametrize(
    ("matrix", "labels", "message"),
    [
        (np.ones((2, 3)), ["a", "b"], r"must be square \(m, m\)"),
        (np.ones((2, 2)), ["a"], "'labels' has 1 entries for 2 points"),
    ],
)
def test_heatmap_rejects_bad_shapes(matrix, labels, message):
    with pytest.raises(ParameterError, match=message):
        similarity_heatmap(matrix, labels)


def test_word_map_marks_labels_and_draws_the_analogy_arrows():
    words = ["the", "man", "king", "woman", "queen"]
    coords = np.array([[0.0, 0.0], [1, 1], [3, 1], [1, 3], [3, 3]])
    figure = word_map_figure(
        coords,
        words,
        labelled=["man", "king", "woman", "queen"],
        arrows=[("man", "king"), ("woman", "queen")],
    )
    assert arrows_2d(figure) == [((1, 1), (3, 1)), ((1, 3), (3, 3))]
    marked = trace(figure, "your words")
    np.testing.assert_allclose(np.column_stack([marked.x, marked.y]), coords[1:])
    assert [note.text for note in figure.layout.annotations if not note.showarrow] == words[1:]
    assert figure.data[0].name == "5 words"


def test_word_map_names_words_that_are_not_on_it():
    with pytest.raises(ParameterError, match="These words are not on the map: 'queen'"):
        word_map_figure(np.zeros((2, 2)), ["man", "king"], arrows=[("king", "queen")])


def test_axes_figure_names_the_poles_low_to_high():
    coords = np.array([[0.1, -0.2], [-0.3, 0.4]])
    figure = axes_figure(
        coords, ["a", "b"], color=None, x_poles=("formal", "casual"), y_poles=("science", "nature")
    )
    assert figure.layout.xaxis.title.text == "← casual   ·   formal →"
    assert figure.layout.yaxis.title.text == "← nature   ·   science →"
    assert figure.layout.xaxis.showticklabels and figure.layout.xaxis.zeroline
    np.testing.assert_allclose(np.column_stack([figure.data[0].x, figure.data[0].y]), coords)


def test_axes_figure_is_two_dimensional():
    with pytest.raises(ParameterError, match="has 3 coordinates per point but the map has 2"):
        axes_figure(
            np.zeros((2, 3)), ["a", "b"], color=None, x_poles=("a", "b"), y_poles=("c", "d")
        )


def test_user_text_is_escaped_in_every_figure(corpus_map):
    coords, hover, color = corpus_map
    figures = [
        query_map_figure(
            coords,
            hover,
            color=color,
            path_points=np.eye(2),
            path_labels=[SCRIPT, f"+ {SCRIPT}"],
            hit_rows=[0],
            query_label=SCRIPT,
        ),
        add_path(go.Figure(), np.eye(3), [SCRIPT] * 3),
        similarity_heatmap(np.eye(2), [SCRIPT, "b"]),
        word_map_figure(np.eye(2), [SCRIPT, "b"], labelled=[SCRIPT], arrows=[(SCRIPT, "b")]),
        axes_figure(np.eye(2), ["a", "b"], color=None, x_poles=(SCRIPT, "b"), y_poles=("c", "d")),
    ]
    for figure in figures:
        texts = list(strings(json.loads(figure.to_json())))
        assert not [text for text in texts if "<script" in text]
        assert [text for text in texts if ESCAPED in text]
