"""Lesson figures and helpers: positions, counts, escaping of user text, click read-back."""

import json

import numpy as np
import pandas as pd
import pytest

from lib.errors import ParameterError
from lib.figures.lessons import (
    GRID_PREFIX,
    agreement_figure,
    analogy_axes_figure,
    clicked_guess,
    guess_figure,
    guess_grid,
    highlight_figure,
    input_gap,
    moved_points,
    pair_name,
    pair_table,
    placement_figure,
    row_cosines,
    score_bars,
    sentence_pairs,
    small_multiples,
    trap_sentences,
    truth_vs_drawing,
)
from lib.figures.map import ColorBy, hover_labels
from lib.figures.nudge import SIDES, label_box, place_labels
from lib.query.words import WordHit

RNG = np.random.default_rng(0)
COORDS = RNG.normal(size=(30, 2)).astype(np.float32)
HOVER = hover_labels([f"doc {i}" for i in range(30)])
GROUPS = np.array(["red", "blue", "<b>green</b>"] * 10, dtype=object)
EVIL = '<a href="https://evil.example">click</a>'


def figure_json(figure) -> str:
    return json.dumps(figure.to_plotly_json(), default=str)


TRAPS = pd.DataFrame(
    {
        "anchor": ["a0", "a1", "a2", "a3"],
        "lookalike": ["l0", "l1", "l2", "l3"],
        "paraphrase": ["p0", "p1", "p2", "p3"],
        "note": ["n0", "n1", "n2", "n3"],
    }
)


def test_trap_sentences_adds_the_anchor_half_the_table_away():
    assert trap_sentences(TRAPS, 0) == ["a0", "l0", "p0", "a2"]
    assert trap_sentences(TRAPS, 3) == ["a3", "l3", "p3", "a1"]


def test_trap_sentences_rejects_a_bad_row_and_missing_columns():
    with pytest.raises(ParameterError, match=r"'row' parameter .* range \[0, 3\]"):
        trap_sentences(TRAPS, 4)
    with pytest.raises(ParameterError, match="needs the columns paraphrase"):
        trap_sentences(TRAPS.drop(columns="paraphrase"), 0)


def test_sentence_pairs_lists_each_unordered_pair_once():
    pairs = sentence_pairs(4)
    assert pairs == [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
    assert len(sentence_pairs(6)) == 15
    with pytest.raises(ParameterError, match="'m' parameter"):
        sentence_pairs(1)


def test_pair_name_numbers_and_cuts_the_sentences():
    name = pair_name((0, 2), ["short", "b", "x" * 50], limit=10)
    assert name == "1 “short” ↔ 3 “xxxxxxxxx…”"


def test_pair_table_keeps_the_learner_order_and_ranks_by_cosine():
    similarity = np.array([[1.0, 0.2, 0.9], [0.2, 1.0, 0.5], [0.9, 0.5, 1.0]])
    table = pair_table([(0, 1), (1, 2), (0, 2)], similarity)
    assert table["your rank"].tolist() == [1, 2, 3]
    assert table["pair"].tolist() == ["1 ↔ 2", "2 ↔ 3", "1 ↔ 3"]
    np.testing.assert_allclose(table["cosine"], [0.2, 0.5, 0.9])
    assert table["model rank"].tolist() == [3, 2, 1]


def test_guess_grid_covers_the_map_with_a_margin():
    grid = guess_grid(COORDS, cells=5)
    assert grid.shape == (25, 2)
    low, high = COORDS.min(axis=0), COORDS.max(axis=0)
    assert (grid.min(axis=0) < low).all() and (grid.max(axis=0) > high).all()
    np.testing.assert_allclose(grid.min(axis=0), low - 0.05 * (high - low), rtol=1e-6)
    assert len(np.unique(grid[:, 0])) == 5 and len(np.unique(grid[:, 1])) == 5


def test_guess_grid_needs_a_2d_map():
    with pytest.raises(ParameterError, match=r"must be \(n, 2\)"):
        guess_grid(np.zeros((4, 3)))


def test_guess_figure_has_every_document_and_a_clickable_grid():
    grid = guess_grid(COORDS, cells=4)
    figure = guess_figure(COORDS, HOVER, grid, color=ColorBy("colour", GROUPS))
    grid_trace = figure.data[-1]
    assert list(grid_trace.customdata) == [f"{GRID_PREFIX}{i}" for i in range(16)]
    np.testing.assert_allclose(grid_trace.x, grid[:, 0])
    rows = sorted(row for trace in figure.data[:-1] for row in trace.customdata)
    assert rows == list(range(30))
    names = sorted(note.text for note in figure.layout.annotations)
    assert names == ["&lt;b&gt;green&lt;/b&gt;", "blue", "red"]
    assert figure.layout.clickmode == "event+select"
    assert grid_trace.selected.marker.opacity == 1.0, "the clicked cell shows"


def test_clicked_guess_reads_a_grid_cell_or_a_document():
    grid = guess_grid(COORDS, cells=4)
    cell = {"selection": {"points": [{"customdata": "g:5"}]}}
    np.testing.assert_allclose(clicked_guess(cell, COORDS, grid), grid[5])
    document = {"selection": {"points": [{"customdata": {"0": 7}}]}}
    np.testing.assert_allclose(clicked_guess(document, COORDS, grid), COORDS[7])
    last = {"selection": {"points": [{"customdata": "g:1"}, {"customdata": [3]}]}}
    np.testing.assert_allclose(clicked_guess(last, COORDS, grid), COORDS[3])


def test_clicked_guess_ignores_empty_and_foreign_selections():
    grid = guess_grid(COORDS, cells=4)
    assert clicked_guess(None, COORDS, grid) is None
    assert clicked_guess({"selection": {"points": []}}, COORDS, grid) is None
    foreign = {"selection": {"points": [{"customdata": "g:99"}, {"customdata": 30}, {"x": 1}]}}
    assert clicked_guess(foreign, COORDS, grid) is None


def test_moved_points_counts_rows_that_changed():
    after = COORDS.copy()
    assert moved_points(COORDS, after) == 0
    after[[2, 5], 1] += 1.0
    assert moved_points(COORDS, after) == 2
    with pytest.raises(ParameterError, match="one shape"):
        moved_points(COORDS, COORDS[:5])


def test_placement_figure_marks_guess_placement_and_neighbours():
    figure = placement_figure(
        COORDS,
        HOVER,
        guess=np.array([0.5, -0.5]),
        placed=np.array([1.0, 1.0]),
        neighbour_rows=[3, 4],
        sentence=EVIL,
    )
    by_name = {trace.name: trace for trace in figure.data}
    np.testing.assert_allclose(by_name["true neighbours"].x, COORDS[[3, 4], 0])
    assert list(by_name["your guess"].x) == [0.5]
    assert list(by_name["placed by the model"].y) == [1.0]
    text = figure_json(figure)
    assert "evil.example" in text and "<a href" not in text


def test_placement_figure_rejects_rows_off_the_map():
    with pytest.raises(ParameterError, match="rows of the map"):
        placement_figure(
            COORDS, HOVER, guess=[0, 0], placed=[1, 1], neighbour_rows=[30], sentence="s"
        )


def test_highlight_figure_rings_the_chosen_rows():
    figure = highlight_figure(COORDS, HOVER, rows=[1, 2, 9], highlight_name=EVIL, title="PCA")
    ring = figure.data[-1]
    np.testing.assert_allclose(ring.y, COORDS[[1, 2, 9], 1])
    assert "<a href" not in ring.name
    assert figure.layout.title.text == "PCA"
    assert len(highlight_figure(COORDS, HOVER).data) == 1
    with pytest.raises(ParameterError, match="rows of the map"):
        highlight_figure(COORDS, HOVER, rows=[-1])


def test_agreement_figure_colours_by_the_values_on_a_fixed_scale():
    values = np.linspace(0, 1, 30)
    figure = agreement_figure(COORDS, HOVER, values, title="seed 43")
    marker = figure.data[0].marker
    np.testing.assert_allclose(marker.color, values)
    assert (marker.cmin, marker.cmax) == (0.0, 1.0)
    with pytest.raises(ParameterError, match="'agreement' has 3 entries for 30 points"):
        agreement_figure(COORDS, HOVER, values[:3])


def test_small_multiples_draws_each_panel_with_one_legend():
    panels = [COORDS + i for i in range(9)]
    titles = [f"panel {i}\n{EVIL}" for i in range(9)]
    figure = small_multiples(panels, titles, GROUPS)
    assert len(figure.data) == 9 * 3
    assert sum(trace.showlegend for trace in figure.data) == 3
    fifth = [trace for trace in figure.data if trace.xaxis == "x5"]
    assert sorted(np.concatenate([trace.x for trace in fifth])) == sorted(panels[4][:, 0])
    subtitle = figure.layout.annotations[0].text
    assert subtitle.startswith("panel 0<br>&lt;a href=") and "<a href" not in subtitle
    assert all(trace.type == "scatter" for trace in figure.data)


def test_small_multiples_draws_one_seeded_sample_in_every_panel():
    panels = [COORDS, COORDS * 2]
    figure = small_multiples(panels, ["a", "b"], GROUPS, columns=2, max_points=10)
    first = np.sort(np.concatenate([t.x for t in figure.data if t.xaxis == "x"]))
    second = np.sort(np.concatenate([t.x for t in figure.data if t.xaxis == "x2"]))
    assert len(first) == 10
    np.testing.assert_allclose(second, first * 2)


def test_small_multiples_checks_its_inputs():
    with pytest.raises(ParameterError, match="same points"):
        small_multiples([COORDS, COORDS[:5]], ["a", "b"], GROUPS)
    with pytest.raises(ParameterError, match="1 titles for 2 maps"):
        small_multiples([COORDS, COORDS], ["a"], GROUPS)


def test_truth_vs_drawing_drops_missing_values_and_spans_the_diagonal():
    figure = truth_vs_drawing(
        [0.5, np.nan, 2.0], [1.0, 1.0, 3.0], ["a", EVIL, "c"], x_title="true", y_title="drawn"
    )
    diagonal, dots = figure.data
    assert list(diagonal.x) == [0.5, 3.0] and list(diagonal.y) == [0.5, 3.0]
    assert list(dots.x) == [0.5, 2.0]
    assert list(dots.hovertext) == ["a", "c"]


def test_score_bars_prints_each_value_and_checks_lengths():
    figure = score_bars(["full", EVIL], {"k=10": [0.9, 0.1]}, number_format=".0%")
    bar = figure.data[0]
    assert list(bar.y) == [0.9, 0.1]
    assert bar.texttemplate == "%{y:.0%}"
    assert list(figure.layout.yaxis.range) == pytest.approx([0.0, 1.1]), "room for the numbers"
    assert "<a href" not in bar.x[1]
    with pytest.raises(ParameterError, match="has 1 values for 2 categories"):
        score_bars(["a", "b"], {"s": [1.0]})


def test_input_gap_compares_the_winner_with_the_best_other_word():
    hits = [WordHit("king", 0.86, True), WordHit("queen", 0.78, False)]
    gap = input_gap(hits)
    assert (gap.top.word, gap.answer.word) == ("king", "queen")
    assert gap.gap == pytest.approx(0.08)
    assert input_gap(hits[1:]).gap == 0
    with pytest.raises(ParameterError, match="every ranked word"):
        input_gap(hits[:1])


def test_analogy_axes_figure_draws_each_word_once_in_its_group():
    table = pd.DataFrame(
        {
            "word": ["king", "queen", "prince", "girl", "woman"],
            "x": [0.1, 0.4, 0.3, 0.0, 0.2],
            "y": [0.2, 0.7, 0.3, 0.9, 1.0],
        }
    )
    figure = analogy_axes_figure(
        table, a="man", b="KING", c="Woman", answer="queen", c_nearest="girl"
    )
    by_name = {trace.name: trace for trace in figure.data}
    assert list(by_name["question words"].text) == ["king", "woman"]
    assert list(by_name["the answer"].y) == [0.7]
    assert list(by_name["nearest to woman alone"].text) == ["girl"]
    assert list(by_name["other candidates"].text) == ["prince"]
    same = analogy_axes_figure(table, a="man", b="king", c="woman", answer="girl", c_nearest="girl")
    assert [trace.name for trace in same.data] == [
        "question words",
        "the answer",
        "other candidates",
    ]


def test_analogy_axes_figure_escapes_the_question():
    table = pd.DataFrame({"word": ["queen"], "x": [0.4], "y": [0.7]})
    figure = analogy_axes_figure(table, a="man", b="king", c=EVIL, answer="queen")
    assert "<a href" not in figure.layout.yaxis.title.text
    assert all("<a href" not in trace.name for trace in figure.data)


def test_row_cosines_pairs_rows():
    first = np.array([[1.0, 0.0], [3.0, 4.0]])
    second = np.array([[0.0, 2.0], [3.0, 4.0]])
    np.testing.assert_allclose(row_cosines(first, second), [0.0, 1.0], atol=1e-7)
    with pytest.raises(ParameterError, match="one shape"):
        row_cosines(first, second[:1])


def test_analogy_labels_that_would_collide_are_set_apart():
    """Lesson 9 drew "eldest" and "elizabeth" on top of each other."""
    table = pd.DataFrame(
        {
            "word": ["daughter", "eldest", "elizabeth", "son", "king"],
            "x": [0.30, 0.200, 0.201, 0.6, 0.1],
            "y": [0.50, 0.400, 0.402, 0.7, 0.9],
        }
    )
    figure = analogy_axes_figure(table, a="son", b="daughter", c="king", answer="eldest")
    placed = {}
    for trace in figure.data:
        positions = trace.textposition
        positions = [positions] * len(trace.text) if isinstance(positions, str) else positions
        placed.update(zip(trace.text, zip(trace.x, trace.y, positions, strict=True), strict=True))
    sides = {w: [s[0] for s in SIDES].index(p) for w, (_, _, p) in placed.items()}
    # the two points are about 1 px apart: their labels must not share any pixel
    eldest = label_box(0, 0, "eldest", sides["eldest"])
    elizabeth = label_box(0, 0, "elizabeth", sides["elizabeth"])
    apart_x = min(eldest[2], elizabeth[2]) <= max(eldest[0], elizabeth[0])
    apart_y = min(eldest[3], elizabeth[3]) <= max(eldest[1], elizabeth[1])
    assert apart_x or apart_y


def test_place_labels_keeps_the_first_side_when_nothing_is_in_the_way():
    points = np.array([[0.0, 0.0], [1.0, 1.0]])
    assert place_labels(points, ["far", "apart"], width=600, height=400) == [0, 0]
    close = np.array([[0.0, 0.0], [0.0, 0.001], [1.0, 1.0]])
    assert place_labels(close, ["one", "two", "x"], width=600, height=400)[:2] != [0, 0]
