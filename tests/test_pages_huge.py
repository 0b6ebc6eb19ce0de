"""AppTest: a precomputed project above HUGE_MAP_ABOVE points opens as a huge map: fixed layout,
no per-point text in the figure, selections resolved on the server, fitted vs placed colouring."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

import lib.figures.huge
from lib.cluster.clusters import ClusterParams
from lib.ingest.corpus import corpus_from_frame
from lib.reduce.layouts import UMAPParams
from lib.share.projects import ProjectStore, ProjectView
from tests.conftest import FakeModel, make_topic_texts

ROOT = Path(__file__).resolve().parent.parent
HUGE_ABOVE = 150  # lowered from 50,000 so a 240-point project counts as huge


@pytest.fixture(scope="module")
def huge_project():
    """A 240-point project (8 topics) saved as the CLI saves one, a third of it fitted."""
    return save_project(fitted_every=3)


def save_project(fitted_every: int):
    """Save the 240-point project; every `fitted_every`-th point counts as fitted by UMAP."""
    texts, labels = make_topic_texts(per_topic=30, seed=5)
    corpus = corpus_from_frame(
        pd.DataFrame({"text": texts, "topic": labels}), "text", source="<i>big</i>"
    )
    rng = np.random.default_rng(0)
    codes = np.unique(labels, return_inverse=True)[1]
    coords = np.column_stack([codes * 10.0, codes * 0.0]) + rng.normal(size=(len(texts), 2))
    fitted = np.zeros(len(texts), dtype=bool)
    fitted[::fitted_every] = True
    view = ProjectView.from_params(
        UMAPParams(), ClusterParams(method="kmeans", n_clusters=8), dimensions=2,
        color_by="found clusters", page="map",
    )  # fmt: skip
    return ProjectStore().save(
        title="Huge <b>demo</b>", model_name=None, corpus=corpus,
        vectors=FakeModel().encode(texts), coords=coords, cluster_labels=codes,
        cluster_names={int(c): f"topic {c}" for c in np.unique(codes)}, view=view,
        extra={"fitted_mask": fitted},
    )  # fmt: skip


@pytest.fixture
def app(huge_project, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setattr(lib.figures.huge, "HUGE_MAP_ABOVE", HUGE_ABOVE)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params["project"] = huge_project.id
    at.run()
    assert not at.exception, at.exception
    return at


def traces(at: AppTest) -> list[dict]:
    return json.loads(at.get("plotly_chart")[0].proto.spec)["data"]


def test_huge_project_draws_typed_arrays_without_per_point_text(app: AppTest):
    assert any("precomputed map of 240 points" in info.value for info in app.info)
    drawn = traces(app)
    assert [trace["type"] for trace in drawn] == ["scattergl"] * 8
    assert [trace["name"] for trace in drawn] == [f"topic {c}" for c in range(8)]
    for trace in drawn:
        assert {"text", "hovertext", "customdata"}.isdisjoint(trace)
        assert set(trace["x"]) == {"dtype", "bdata"} and trace["x"]["dtype"] == "f4"
    sizes = [len(np.frombuffer(base64.b64decode(trace["x"]["bdata"]), "<f4")) for trace in drawn]
    assert sizes == [30] * 8


def test_huge_project_keeps_its_precomputed_layout_and_clusters(app: AppTest):
    assert app.slider(key="map_n_neighbors").disabled
    assert app.selectbox(key="map_cluster").disabled
    colorings = app.selectbox(key="map_color").options
    assert colorings == ["found clusters", "topic", "fitted or placed by UMAP"]
    assert "map_save" not in [button.key for button in app.button]
    assert "map_title" not in [field.key for field in app.text_input]
    assert [button.key for button in app.download_button] == [
        "map_dl_embedscope-map.csv", "map_dl_embedscope-map.parquet", "map_dl_embedscope-map.html"
    ]  # fmt: skip
    assert not app.status, "opening a precomputed project must not embed or project anything"


def test_colour_by_fitted_or_placed(app: AppTest):
    app.selectbox(key="map_color").select("fitted or placed by UMAP").run()
    drawn = traces(app)
    assert sorted(trace["name"] for trace in drawn) == ["fitted by UMAP", "placed by transform"]
    assert any("UMAP was fitted on 80 points" in caption.value for caption in app.caption)


def test_selection_on_a_huge_map_reads_rows_from_trace_positions(app: AppTest):
    # trace 2 holds topic 2's rows in row order: its points 0 and 3 are rows 60 and 63
    app.session_state["map_chart"] = {
        "selection": {"points": [{"curve_number": 2, "point_number": 0},
                                 {"curve_number": 2, "point_number": 3}]}
    }  # fmt: skip
    app.run()
    assert app.subheader[0].value == "2 selected"
    table = next(frame.value for frame in app.dataframe if "id" in frame.value.columns)
    assert table["id"].tolist() == [60, 63]
    assert table["cluster"].tolist() == ["topic 2", "topic 2"]
    assert all(topic == table["topic"].iloc[0] for topic in table["topic"])


def test_a_project_fitted_whole_offers_no_fitted_or_placed_colouring(monkeypatch):
    monkeypatch.setattr(lib.figures.huge, "HUGE_MAP_ABOVE", HUGE_ABOVE)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params["project"] = save_project(fitted_every=1).id
    at.run()
    assert not at.exception
    assert at.selectbox(key="map_color").options == ["found clusters", "topic"]
    assert not any("UMAP was fitted on" in caption.value for caption in at.caption)
