"""AppTest: save → share link → same view in a new session; bad links; uploaded vectors; exports."""

import io
import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.model


def new_app() -> AppTest:
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)


def traces(at: AppTest) -> list[dict]:
    return json.loads(at.get("plotly_chart")[0].proto.spec)["data"]


def point_count(at: AppTest) -> int:
    return sum(len(trace.get("customdata") or []) for trace in traces(at))


@pytest.fixture(scope="module")
def saved_3d_project() -> tuple[str, list[dict]]:
    at = new_app()
    at.run()
    at.session_state["map_view"] = "3D"
    at.session_state["map_color"] = "label"
    at.run()
    at.text_input(key="map_title").input("<b>my</b> topics").run()
    at.button(key="map_save").click().run()
    assert not at.exception
    project = at.session_state["project"]
    assert project.title == "<b>my</b> topics"
    return project.id, traces(at)


def test_share_link_reopens_the_same_view_without_embedding(saved_3d_project):
    project_id, original = saved_3d_project
    at = new_app()
    at.query_params["project"] = project_id
    at.run()
    assert not at.exception and not at.error
    assert at.session_state["own_key"] == f"project:{project_id}"
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
    assert at.session_state["corpus"].source == "multilingual"
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
    assert at.session_state["model_name"] is None
    assert point_count(at) == 60


def test_a_pickle_disguised_as_npy_is_refused():
    hostile = npy(np.array([{"evil": 1}], dtype=object), allow_pickle=True)
    at = upload_vectors(new_app().run(), [("v.npy", hostile)])
    assert not at.exception
    assert any("pickled objects are refused" in error.value for error in at.error)
    assert at.session_state["corpus"].source == "topics"
