"""AppTest of the Map page's levels of detail: the Detail control recolours and renames the map,
and the names drawn on it never overlap."""

import numpy as np
import pytest

from lib.figures.labels import LabelStyle, count_overlaps, label_sizes_px, view_of
from pages import state
from pages.map_parts.levels import DETAIL_KEY
from tests.apptest_tools import chart_specs, new_app

pytestmark = pytest.mark.model


def drawn_clusters(spec: dict) -> list[str]:
    """The legend entries of the map's point traces."""
    return [trace["name"] for trace in spec["data"] if trace.get("customdata")]


def annotation_boxes(spec: dict) -> np.ndarray:
    """The boxes of the figure's annotations as the placement estimates them."""
    notes = spec["layout"].get("annotations", [])
    x0, x1 = spec["layout"]["xaxis"]["range"]
    y0, y1 = spec["layout"]["yaxis"]["range"]
    view = view_of(np.array([x0, x1, y0, y1]), LabelStyle(view_padding=0.0))
    sizes = np.array([label_sizes_px([n["text"]], n["font"]["size"])[0] for n in notes])
    sizes = sizes * view.units_per_px
    centres = np.array([[n["x"], n["y"]] for n in notes])
    return np.column_stack(
        [centres[:, 0] - sizes[:, 0] / 2, centres[:, 0] + sizes[:, 0] / 2,
         centres[:, 1] - sizes[:, 1] / 2, centres[:, 1] + sizes[:, 1] / 2]
    )  # fmt: skip


def test_the_detail_control_switches_colours_and_names():
    at = new_app().run()
    assert not at.exception
    spec = chart_specs(at)[0]
    fine_names = {note["text"] for note in spec["layout"]["annotations"]}
    assert len(drawn_clusters(spec)) == len(fine_names) == 10
    assert count_overlaps(annotation_boxes(spec)) == 0
    assert DETAIL_KEY in [widget.key for widget in at.get("button_group")]
    at.session_state[DETAIL_KEY] = "Broad"
    at.run()
    assert not at.exception
    broad = chart_specs(at)[0]
    assert len(drawn_clusters(broad)) == len(broad["layout"]["annotations"]) == 3
    assert broad["layout"]["annotations"][0]["font"]["size"] > 12
    assert count_overlaps(annotation_boxes(broad)) == 0


def test_other_colourings_draw_no_cluster_names():
    at = new_app().run()
    at.session_state[state.MAP_COLOR] = "label"
    at.run()
    assert not at.exception
    assert not chart_specs(at)[0]["layout"].get("annotations")
    assert DETAIL_KEY not in [widget.key for widget in at.get("button_group")]


def test_a_crowded_map_says_how_many_names_it_left_out():
    at = new_app().run()
    at.session_state[state.MAP_K] = 40
    at.run()
    assert not at.exception
    spec = chart_specs(at)[0]
    drawn = len(spec["layout"]["annotations"])
    assert 30 <= drawn <= 40
    assert count_overlaps(annotation_boxes(spec)) == 0
    notes = [caption.value for caption in at.caption if "left out" in caption.value]
    if drawn < 40:
        assert notes and notes[0].startswith(f"{40 - drawn} of 40 cluster names are left out")
    else:
        assert not notes
