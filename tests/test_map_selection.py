"""What a selection on the Map page holds (counts per group, its distinctive words) and its focus
document's neighbours marked on the map (issue 23 items 6 and 7)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest

import pages._common as common
from lib.cluster.selection import summarize_selection
from lib.embed.models import DEFAULT_MODEL
from lib.errors import ParameterError
from lib.figures.focus import with_focus
from lib.figures.map import map_figure, selected_rows
from lib.reduce.layouts import UMAPParams
from lib.reduce.neighbors import neighbors_of
from pages import state
from tests.apptest_tools import chart_specs, document_tables, new_app
from tests.conftest import make_topic_texts
from tests.test_pages_core import plotly_array


def test_a_selection_counts_its_groups_and_names_its_words():
    texts, labels = make_topic_texts(per_topic=30)
    space = [i for i, label in enumerate(labels) if label == "space"]
    rows = [*space[:25], labels.index("cooking")]
    summary = summarize_selection(texts, labels, rows, group_column="topic")
    assert summary.n_selected == 26 and summary.n_total == len(texts)
    assert summary.groups["topic"].tolist() == ["space", "cooking"]
    assert summary.groups["selected"].tolist() == [25, 1]
    assert summary.groups["in corpus"].tolist() == [30, 30]
    assert summary.groups["share of selection"].tolist() == [round(25 / 26, 3), round(1 / 26, 3)]
    space_words = {"rocket", "orbit", "planet", "astronaut", "telescope", "galaxy"}
    assert len(summary.words) >= 3 and set(summary.words[:3]) <= space_words


def test_an_empty_or_forged_selection():
    texts, labels = make_topic_texts(per_topic=5)
    empty = summarize_selection(texts, labels, [], group_column="topic")
    assert empty.n_selected == 0 and empty.words == () and empty.groups.empty
    with pytest.raises(ParameterError, match="'rows' parameter of summarize_selection must"):
        summarize_selection(texts, labels, [len(texts)], group_column="topic")


def test_the_focus_and_its_neighbours_are_marked_without_touching_the_selectable_points():
    coords = np.random.default_rng(0).normal(size=(50, 2)).astype(np.float32)
    base = map_figure(coords, [f"doc {i}" for i in range(50)])
    marked = with_focus(base, coords, None, selected=[1, 2, 3], focus=2, neighbours=[7, 9])
    assert len(base.data) == 1, "the figure given is left as it was"
    names = [trace.name for trace in marked.data[1:]]
    assert names == ["selected (3)", "neighbours of #2 (2)", "looking at #2"]
    near = marked.data[2]
    assert np.allclose(np.column_stack([near.x, near.y]), coords[[7, 9]])
    assert all(trace.customdata is None for trace in marked.data[1:])
    assert list(marked.data[0].selectedpoints) == [1, 2, 3], "Plotly shows the kept selection"
    assert base.data[0].selectedpoints is None
    assert selected_rows({"selection": {"points": [{"customdata": 4}, {}]}}, n_rows=50) == [4]
    with pytest.raises(ParameterError, match="with_focus rows must be row ids"):
        with_focus(go.Figure(), coords, None, focus=50)


def marks(at) -> dict[str, np.ndarray]:
    """The map's overlay traces by name: their (x, y) points."""
    spec = chart_specs(at)[0]
    return {
        t["name"]: np.column_stack([plotly_array(t["x"]), plotly_array(t["y"])])
        for t in spec["data"]
        if not t.get("customdata")
    }


@pytest.mark.model
def test_the_map_marks_the_focus_neighbours_and_keeps_the_selection_when_redrawn():
    sample = common.engine().sample("topics")
    labels = sample.metadata["label"].to_numpy()
    rows = np.flatnonzero(labels == labels[3])[:20].tolist()  # 20 documents of one label
    first, second = rows[0], rows[1]
    at = new_app().run()
    at.session_state["map_chart"] = {"selection": {"points": [{"customdata": r} for r in rows]}}
    at.run()
    assert not at.exception
    found = common.engine().peek_vectors(sample, DEFAULT_MODEL)
    coords = common.engine().peek_layout(found, UMAPParams()).coords  # the first screen's map
    true = neighbors_of(found.vectors, first, k=10).indices
    shown = marks(at)
    assert np.allclose(shown[f"neighbours of #{first} (10)"], coords[true], atol=1e-5)
    assert np.allclose(shown[f"looking at #{first}"], coords[[first]], atol=1e-5)
    assert len(shown["selected (20)"]) == 20
    # item 6: what the selection holds, above its table
    words = [m.value for m in at.markdown if m.value.startswith("**Top words**")]
    assert len(words) == 1 and "none stands out" not in words[0]
    tables = [frame.value for frame in at.dataframe]
    where = [i for i, t in enumerate(tables) if "share of selection" in t.columns]
    documents = [i for i, t in enumerate(tables) if "id" in t.columns]
    assert len(where) == 1 and where[0] < documents[0], "the summary sits above the table"
    counts = tables[where[0]]
    assert "cluster" in counts.columns and counts["selected"].sum() == 20
    assert document_tables(at)[0]["id"].tolist() == rows
    # a redrawn map is a new widget with an empty selection: the kept selection stays
    at.session_state["map_chart"] = {"selection": {"points": []}}
    at.run()
    assert at.subheader[0].value == "20 selected"
    at.selectbox(key="map_focus").set_value(second).run()
    assert np.allclose(marks(at)[f"looking at #{second}"], coords[[second]], atol=1e-5)
    at.button(key="map_clear").click().run()
    assert not any(s.value.endswith("selected") for s in at.subheader)
    assert list(marks(at)) == [], "no marks without a selection"
    assert state.MAP_SELECTION in at.session_state
