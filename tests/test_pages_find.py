"""AppTest of the Map page's search, metadata filters, documents table and curation (issue 22)."""

import base64

import numpy as np
import pytest

from lib.query.filters import Filter, decode_filters, encode_filters
from lib.share.projects import ProjectStore
from pages import state
from tests.apptest_tools import chart_specs, new_app

pytestmark = pytest.mark.model


def _opacity(at) -> dict[int, float]:
    """Each row's marker opacity on the map (1.0 where the trace sets none)."""
    found = {}
    for trace in chart_specs(at)[0]["data"]:
        rows = trace.get("customdata") or []
        opacity = (trace.get("marker") or {}).get("opacity", 1.0)
        if isinstance(opacity, dict):  # plotly's typed-array form of a numpy array
            opacity = np.frombuffer(base64.b64decode(opacity["bdata"]), opacity["dtype"]).tolist()
        for position, row in enumerate(rows):
            found[row] = opacity[position] if isinstance(opacity, list) else opacity
    return found


def _legend(at) -> list[str]:
    """The map's legend entries (trace names)."""
    return [trace.get("name", "") for trace in chart_specs(at)[0]["data"]]


def _found(at) -> int:
    """The count in the documents table's heading ("12 documents found")."""
    heading = next(s.value for s in at.subheader if s.value.endswith("documents found"))
    return int(heading.split()[0].replace(",", ""))


def _table(at):
    """The documents table (the page's last table of documents)."""
    return [frame.value for frame in at.dataframe if "id" in frame.value.columns][-1]


def test_a_keyword_search_highlights_the_hits_and_filters_the_table():
    at = new_app().run()
    at.text_input(key=state.MAP_SEARCH).input("python").run()
    assert not at.exception and not at.error
    table = _table(at)
    assert len(table) > 0 and table["text"].str.lower().str.contains("python").all()
    count = _found(at)
    assert count == len(table)
    opacity = _opacity(at)
    hits = set(table["id"].tolist())
    assert all(opacity[row] == 1.0 for row in hits)
    assert all(opacity[row] < 0.5 for row in opacity if row not in hits)
    assert any(f"**{count:,} of 800 documents shown**" in m.value for m in at.markdown)


def test_a_catastrophic_regex_is_refused_or_served_and_the_page_goes_on():
    at = new_app().run()
    at.segmented_control(key=state.MAP_SEARCH_MODE).set_value("Regex").run()
    at.text_input(key=state.MAP_SEARCH).input(r"(a|aa)+$").run()
    assert not at.exception
    at.text_input(key=state.MAP_SEARCH).input(r"(unclosed").run()
    assert not at.exception and "malformed" in at.error[0].value


def test_a_filter_applies_to_map_table_and_cluster_counts_and_goes_in_the_link():
    at = new_app().run()
    key = state.filter_widget_key("label")
    at.multiselect(key=key).set_value(["cooking"]).run()
    assert not at.exception
    table = _table(at)
    assert set(table["label"]) == {"cooking"} and _found(at) == len(table)
    assert decode_filters(at.session_state[state.MAP_FILTERS]) == (
        Filter("label", "categorical", values=("cooking",)),
    )
    summary = next(f.value for f in at.dataframe if "shown" in f.value.columns)
    assert summary["shown"].sum() == len(table)


def test_a_share_link_with_filters_presets_them():
    at = new_app()
    link = encode_filters([Filter("label", "categorical", values=("music",))])
    at.query_params["sample"] = "topics"
    at.query_params["filters"] = link
    at.run()
    assert not at.exception
    assert at.multiselect(key=state.filter_widget_key("label")).value == ["music"]
    table = _table(at)
    assert set(table["label"]) == {"music"}


def test_a_numeric_range_from_a_link_filters_the_table():
    at = new_app()
    at.query_params["sample"] = "topics"
    at.query_params["filters"] = encode_filters([Filter("length", "numeric", low=10, high=12)])
    at.run()
    assert not at.exception and not at.error
    assert at.slider(key=state.filter_widget_key("length")).value == (10.0, 12.0)
    table = _table(at)
    assert table["length"].between(10, 12).all() and _found(at) == len(table) > 0


def test_a_picked_table_row_is_ringed_on_the_map_with_its_neighbours():
    at = new_app().run()
    at.text_input(key=state.MAP_SEARCH).input("guitar").run()
    table = _table(at)
    picked_first = {"selection": {"rows": [0], "columns": []}}
    at.session_state[at.session_state[state.MAP_TABLE_SHOWN]] = picked_first
    at.run()
    assert not at.exception
    picked = int(table["id"].iloc[0])
    assert any(f"#{picked}" in m.value for m in at.markdown)
    names = [trace.get("name") for trace in chart_specs(at)[0]["data"]]
    assert f"#{picked}" in names


def test_rename_merge_and_tag_show_on_the_map_and_in_the_tables():
    at = new_app().run()
    at.text_input(key="map_rename_name").input("Kitchen talk")
    at.button(key="map_rename_go").click().run()
    assert not at.exception and not at.error
    saved = at.session_state[state.MAP_CURATION]
    assert saved["renames"][0][1] == "Kitchen talk"
    assert any(name.startswith("Kitchen talk (") for name in _legend(at))
    at.text_input(key=state.MAP_SEARCH).input("guitar").run()
    at.radio(key="map_tag_which").set_value(at.radio(key="map_tag_which").options[1]).run()
    at.text_input(key="map_tag_name").input("music?")
    at.button(key="map_tag_go").click().run()
    assert not at.exception and not at.error
    tags = at.session_state[state.MAP_CURATION]["tags"]
    assert tags[0][0] == "music?" and len(tags[0][1]) > 0
    assert "tags (curation)" in at.selectbox(key=state.MAP_COLOR).options
    rows = np.array(tags[0][1])
    table = _table(at)
    assert set(table["id"]) == set(rows.tolist()) and (table["tags"] == "music?").all()


def test_near_duplicates_are_counted_on_the_corpus_page_and_colour_the_map():
    at = new_app().run()
    at.switch_page("pages/corpus.py").run()
    at.session_state["corpus_source"] = "Paste text"
    at.run()
    lines = [
        "The rocket reached orbit after a flawless launch.",
        "Simmer the tomato sauce with garlic for twenty minutes.",
        "THE ROCKET REACHED ORBIT AFTER A FLAWLESS LAUNCH.",
        "The striker scored twice to win the league.",
        "The rocket reached orbit after a flawless launch!",
        "Central banks raised interest rates again.",
    ]
    at.text_area(key="corpus_paste").input("\n".join(lines)).run()
    at.button[0].click().run()
    assert not at.exception and not at.error
    at.switch_page("pages/corpus.py").run()
    assert any("3 documents sit in 1 near-duplicate group" in m.value for m in at.markdown), [
        m.value for m in at.markdown
    ]
    groups = next(f.value for f in at.dataframe if "first row" in f.value.columns)
    assert groups["size"].tolist() == [3] and groups["first row"].tolist() == [0]
    at.switch_page("pages/map.py").run()
    at.selectbox(key=state.MAP_COLOR).set_value("near-duplicate groups").run()
    assert not at.exception
    legend = [trace.get("name", "") for trace in chart_specs(at)[0]["data"]]
    assert any(name.startswith("group 0 (3)") for name in legend)


def test_a_curation_is_saved_with_the_project_and_shown_read_only_through_its_link():
    at = new_app().run()
    at.text_input(key="map_rename_name").input("Kitchen talk")
    at.button(key="map_rename_go").click().run()
    at.text_input(key=state.MAP_SEARCH).input("guitar").run()
    at.radio(key="map_tag_which").set_value(at.radio(key="map_tag_which").options[1]).run()
    at.text_input(key="map_tag_name").input("music?")
    at.button(key="map_tag_go").click().run()
    at.text_input(key="map_title").input("curated topics").run()
    at.button(key="map_save").click().run()
    assert not at.exception and not at.error
    project_id = at.session_state[state.SOURCE].name
    saved = ProjectStore().load(project_id).curation
    assert saved.renames[0][1] == "Kitchen talk" and saved.tags[0][0] == "music?"

    visitor = new_app()
    visitor.query_params["project"] = project_id
    visitor.run()
    assert not visitor.exception and not visitor.error
    assert any(name.startswith("Kitchen talk (") for name in _legend(visitor))
    assert visitor.button(key="map_rename_go").disabled
    assert visitor.button(key="map_tag_go").disabled
    assert "tags (curation)" in visitor.selectbox(key=state.MAP_COLOR).options
