"""Figure builders: point counts, colour modes, escaping of user text, selection read-back."""

import json

import numpy as np
import pandas as pd
import pytest

from lib.errors import ParameterError
from lib.figures.colors import PALETTE
from lib.figures.map import (
    ColorBy,
    add_markers,
    escape_text,
    hover_labels,
    map_figure,
    selected_rows,
)

COORDS = np.random.default_rng(0).normal(size=(40, 2)).astype(np.float32)
TEXTS = [f"document {i}" for i in range(40)]


def point_rows(figure) -> list[int]:
    return sorted(row for trace in figure.data for row in (trace.customdata or ()))


def test_categorical_colour_gives_one_trace_per_category_with_every_point():
    values = np.array(["a", "b", "c", "d"] * 10)
    figure = map_figure(COORDS, hover_labels(TEXTS), color=ColorBy("label", values))
    assert len(figure.data) == 4
    assert point_rows(figure) == list(range(40))
    assert all(trace.type == "scattergl" for trace in figure.data)
    first = figure.data[0]
    np.testing.assert_allclose(first.x, COORDS[np.array(first.customdata), 0])


def test_numeric_colour_uses_a_continuous_scale():
    figure = map_figure(COORDS, hover_labels(TEXTS), color=ColorBy("length", np.arange(40.0)))
    assert len(figure.data) == 1
    assert figure.data[0].marker.showscale is True
    np.testing.assert_allclose(figure.data[0].marker.color, np.arange(40.0))


def test_many_categories_fold_into_other():
    values = np.array([f"v{i}" for i in range(40)])
    figure = map_figure(COORDS, hover_labels(TEXTS), color=ColorBy("id", values))
    assert len(figure.data) == len(PALETTE) + 1
    assert figure.data[-1].name.startswith(f"other ({40 - len(PALETTE)})")
    assert len({trace.marker.color for trace in figure.data}) == len(figure.data)


def test_three_dimensions_use_scatter3d():
    coords = np.random.default_rng(1).normal(size=(40, 3))
    figure = map_figure(coords, hover_labels(TEXTS))
    assert figure.data[0].type == "scatter3d"
    np.testing.assert_allclose(figure.data[0].z, coords[:, 2], rtol=1e-6)


def test_cluster_names_drawn_at_cluster_centres():
    labels = np.array([0] * 20 + [1] * 20)
    coords = np.vstack([np.zeros((20, 2)), np.full((20, 2), 10.0)])
    figure = map_figure(
        coords,
        hover_labels(TEXTS),
        cluster_names={0: "<b>alpha</b>", 1: "beta"},
        cluster_labels=labels,
    )
    notes = {note.text: (note.x, note.y) for note in figure.layout.annotations}
    assert notes == {"&lt;b&gt;alpha&lt;/b&gt;": (0.0, 0.0), "beta": (10.0, 10.0)}


def test_user_text_is_escaped_wrapped_and_truncated():
    hostile = '<script>alert(1)</script> <img src=x onerror=alert(2)> <a href="javascript:x">hi</a>'
    label = escape_text(hostile + " word" * 100)
    assert "<script>" not in label and "<img" not in label and "<a " not in label
    assert "&lt;script&gt;" in label
    assert label.endswith("…")
    assert max(len(line) for line in label.split("<br>")) <= 60 * 6


def test_hover_labels_include_escaped_metadata():
    metadata = pd.DataFrame({"<b>col</b>": ["=1+1", "<i>x</i>"]})
    labels = hover_labels(["one", "two"], metadata)
    assert labels[1] == "two<br><b>&lt;b&gt;col&lt;/b&gt;</b>: &lt;i&gt;x&lt;/i&gt;"
    figure = map_figure(COORDS[:2], labels, color=ColorBy("<b>col</b>", metadata.iloc[:, 0].values))
    assert "<i>x</i>" not in json.dumps(figure.to_plotly_json(), default=str)


def test_lengths_must_match():
    with pytest.raises(ParameterError, match="'hover' has 3 entries for 40 points"):
        map_figure(COORDS, ["a", "b", "c"])


def test_markers_overlay_does_not_claim_rows():
    figure = add_markers(map_figure(COORDS, hover_labels(TEXTS)), COORDS[:2], name="hits")
    assert len(figure.data) == 2
    assert figure.data[1].customdata is None
    assert point_rows(figure) == list(range(40))


@pytest.mark.parametrize(
    "event",
    [
        {"selection": {"points": [{"customdata": 5}, {"customdata": 2}, {"customdata": 5}]}},
        {"selection": {"points": [{"customdata": {"0": 5}}, {"customdata": [2]}]}},
        {"selection": {"points": [{"customdata": "5"}, {"customdata": 2.0}, {"x": 1}]}},
    ],
)
def test_selected_rows_reads_every_customdata_shape(event):
    assert selected_rows(event) == [2, 5]


def test_selected_rows_of_nothing_is_empty():
    assert selected_rows(None) == []
    assert selected_rows({"selection": {"points": []}}) == []


def test_wrap_words_matches_textwrap_and_collapses_whitespace():
    import random
    import textwrap

    from lib.figures.map import wrap_words

    rng = random.Random(0)
    for _ in range(500):
        words = ["x" * rng.choice([1, 3, 9, 10, 11, 25]) for _ in range(rng.randint(0, 12))]
        text = " ".join(words)
        expected = [line.rstrip() for line in textwrap.wrap(text, 10, break_long_words=True)]
        assert wrap_words(text, 10) == (expected or [""])
    assert wrap_words("a  b\t\nc", 10) == ["a b c"]
    assert wrap_words("abcdefghijklmnop", 5) == ["abcde", "fghij", "klmno", "p"]
