"""AppTest: save → share link → same view in a new session; bad links; uploaded vectors; exports."""

import io
import json
import re

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from lib.embed.models import DEFAULT_MODEL
from lib.share.projects import ProjectStore
from pages import state
from tests.apptest_tools import new_app, shown

pytestmark = pytest.mark.model


def traces(at: AppTest) -> list[dict]:
    return json.loads(at.get("plotly_chart")[0].proto.spec)["data"]


def point_count(at: AppTest) -> int:
    return sum(len(trace.get("customdata") or []) for trace in traces(at))


@pytest.fixture
def saved_3d_project() -> tuple[str, list[dict]]:
    """A project saved from a fresh session, for each test: no test depends on another's run
    (the maps and vectors come from the engine's caches, so a save after the first is quick)."""
    at = new_app()
    at.run()
    at.session_state[state.MAP_VIEW] = "3D"
    at.session_state[state.MAP_COLOR] = "label"
    at.run()
    at.text_input(key="map_title").input("<b>my</b> topics").run()
    at.button(key="map_save").click().run()
    assert not at.exception
    project_id = shown(at).name
    assert shown(at) == state.Source(state.PROJECT, project_id, DEFAULT_MODEL, read_only=True)
    assert any(f"Saved as project {project_id}" in s.value for s in at.success)
    assert ProjectStore().load(project_id).title == "<b>my</b> topics"
    return project_id, traces(at)


def test_share_link_reopens_the_same_view_without_embedding(saved_3d_project):
    project_id, original = saved_3d_project
    at = new_app()
    at.query_params["project"] = project_id
    at.run()
    assert not at.exception and not at.error
    assert shown(at) == state.Source(state.PROJECT, project_id, DEFAULT_MODEL, read_only=True)
    assert not at.status, "a shared project must not be embedded again"
    reopened = traces(at)
    assert {trace["type"] for trace in reopened} == {"scatter3d"}
    assert [t["name"] for t in reopened] == [t["name"] for t in original]
    assert [t["customdata"] for t in reopened] == [t["customdata"] for t in original]
    assert any("read-only" in info.value for info in at.sidebar.info)


@pytest.mark.parametrize(
    ("project_id", "message"),
    [
        ("../../etc/passwd", "malformed"),
        ("x" * 5000, "malformed"),
        ("A" * 24, "No saved project with id"),
    ],
)
def test_bad_share_links_say_so_and_keep_the_app_working(project_id, message):
    at = new_app()
    at.query_params["project"] = project_id
    at.run()
    assert not at.exception
    assert any(message in error.value for error in at.error)
    assert point_count(at) == 800


def test_sample_links_need_no_saving():
    at = new_app()
    at.query_params["sample"] = "multilingual"
    at.query_params["color"] = "language"
    at.run()
    assert not at.exception
    assert shown(at) == state.Source(state.SAMPLE, "multilingual", DEFAULT_MODEL)
    assert point_count(at) == 360
    assert sorted(t["name"].split(" (")[0] for t in traces(at)) == ["de", "en", "es", "fr"]


def upload_vectors(at: AppTest, files: list[tuple[str, bytes]]) -> AppTest:
    at.switch_page("pages/corpus.py").run()
    at.session_state["corpus_source"] = "Upload vectors"
    at.run()
    at.get("file_uploader")[0].set_value([(name, data, "application/octet-stream")
                                          for name, data in files])  # fmt: skip
    return at.run()


def npy(array: np.ndarray, allow_pickle: bool = False) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


def test_uploaded_vectors_are_mapped_and_text_features_are_off():
    rng = np.random.default_rng(0)
    vectors = np.repeat(rng.normal(size=(3, 16)), 20, axis=0) + 0.1 * rng.normal(size=(60, 16))
    metadata = "kind\n" + "\n".join(["cat", "dog", "bird"][i // 20] for i in range(60))
    at = upload_vectors(at=new_app().run(), files=[("v.npy", npy(vectors)),
                                                   ("meta.csv", metadata.encode())])  # fmt: skip
    assert not at.exception and not at.error
    at.button[0].click().run()
    assert not at.exception
    assert shown(at).kind == state.VECTORS and shown(at).model_name is None
    assert point_count(at) == 60


def test_a_pickle_disguised_as_npy_is_refused():
    hostile = npy(np.array([{"evil": 1}], dtype=object), allow_pickle=True)
    at = upload_vectors(new_app().run(), [("v.npy", hostile)])
    assert not at.exception
    assert any("pickled objects are refused" in error.value for error in at.error)
    assert shown(at).name == "topics"


def test_opening_a_saved_umap_project_on_the_arithmetic_page_fits_no_umap(
    saved_3d_project, monkeypatch
):
    """Defect 3: a query is placed from the saved coordinates; no page run refits UMAP."""
    import umap

    def no_fit(*args, **kwargs):
        raise AssertionError("a saved project must not refit UMAP")

    monkeypatch.setattr(umap.UMAP, "fit", no_fit)
    monkeypatch.setattr(umap.UMAP, "fit_transform", no_fit)
    project_id, _ = saved_3d_project
    at = new_app()
    at.query_params["project"] = project_id
    at.run()
    at.switch_page("pages/arithmetic.py").run()
    assert not at.exception, at.exception
    assert not at.error
    assert at.get("plotly_chart"), "the query and its path drawn on the saved map"


def test_a_read_only_project_cannot_be_changed_until_a_copy_is_edited(saved_3d_project):
    """Defect 9: no silent edits of a shared view; an edited copy is saved as a new project."""
    project_id, _ = saved_3d_project
    at = new_app()
    at.query_params["project"] = project_id
    at.run()
    assert at.selectbox(key=state.MAP_CLUSTER).disabled
    assert at.slider(key=state.MAP_N_NEIGHBORS).disabled
    assert "map_save" not in [button.key for button in at.button]
    at.button(key="map_edit_copy").click().run()
    assert not at.selectbox(key=state.MAP_CLUSTER).disabled
    at.segmented_control(key=state.MAP_VIEW).set_value("2D").run()
    at.selectbox(key=state.MAP_CLUSTER).set_value("hdbscan").run()
    assert not at.exception
    assert not any("shown as it was saved" in info.value for info in at.info)
    at.button(key="map_save").click().run()
    copy_id = shown(at).name
    assert copy_id != project_id and shown(at).read_only
    assert any(f"Saved as project {copy_id}" in s.value for s in at.success)
    assert ProjectStore().load(copy_id).view.cluster_params().method == "hdbscan"
    assert ProjectStore().load(project_id).view.cluster_params().method == "kmeans"


def cluster_words(at: AppTest) -> set[str]:
    """The words of every cluster name on the page's cluster summary."""
    tables = [d.value for d in at.dataframe]
    summary = next(t for t in tables if list(t.columns) == ["cluster", "documents"])
    names = [re.sub(r" \(-?\d+\)$", "", name) for name in summary["cluster"]]  # "apple (3)"
    return {word for name in names for word in name.split(" · ")}


def test_the_same_vectors_with_other_labels_never_show_the_first_visitors_words():
    """Defect 1: cluster names come from this session's labels, not a shared cache entry."""
    rng = np.random.default_rng(3)
    vectors = np.repeat(rng.normal(size=(3, 16)), 20, axis=0) + 0.05 * rng.normal(size=(60, 16))
    fruit = [f"{['apple', 'pear', 'plum'][i // 20]} {i}" for i in range(60)]
    stone = [f"{['granite', 'basalt', 'marble'][i // 20]} {i}" for i in range(60)]
    table = "fruit,stone\n" + "\n".join(f"{f},{s}" for f, s in zip(fruit, stone, strict=True))
    files = [("v.npy", npy(vectors)), ("meta.csv", table.encode())]
    words = []
    for label in ("fruit", "stone"):
        at = upload_vectors(new_app().run(), files)
        at.selectbox(key="corpus_vec_label").set_value(label).run()
        at.button[0].click().run()
        at.session_state[state.MAP_METHOD] = "PCA"
        at.switch_page("pages/map.py").run()
        assert not at.exception
        words.append(cluster_words(at))
    assert {"apple", "pear", "plum"} <= words[0]
    assert {"granite", "basalt", "marble"} <= words[1]
    assert not {"apple", "pear", "plum"} & words[1]
