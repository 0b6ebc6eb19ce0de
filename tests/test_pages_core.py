"""AppTest of the core pages: first screen map, corpus loading, selection table, bad input."""

import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.model


def new_app() -> AppTest:
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)


def figure_points(at: AppTest) -> list[int]:
    """Point counts (via customdata rows) of every Plotly chart on the page."""
    counts = []
    for chart in at.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        counts.append(sum(len(trace.get("customdata") or []) for trace in spec["data"]))
    return counts


@pytest.fixture(scope="module")
def first_screen() -> AppTest:
    at = new_app()
    at.run()
    return at


def test_first_screen_shows_the_sample_map(first_screen):
    at = first_screen
    assert not at.exception
    assert not at.error
    assert figure_points(at) == [800]
    assert at.title[0].value == "Map"
    assert "topics" in at.sidebar.markdown[0].value


def test_map_selection_lists_documents_and_neighbours(first_screen):
    at = first_screen
    at.session_state["map_chart"] = {
        "selection": {"points": [{"customdata": 3}, {"customdata": 10}], "point_indices": []}
    }
    at.run()
    assert not at.exception
    assert at.subheader[0].value == "2 selected"
    selected, neighbours = at.dataframe[0].value, at.dataframe[1].value
    assert selected["id"].tolist() == [3, 10]
    assert len(neighbours) == 10
    assert 3 not in neighbours["id"].tolist()
    assert neighbours["cosine"].is_monotonic_decreasing


def test_three_d_view_has_every_point(first_screen):
    at = first_screen
    at.session_state["map_view"] = "3D"
    at.run()
    assert not at.exception
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert {trace["type"] for trace in spec["data"]} == {"scatter3d"}
    assert figure_points(at) == [800]
    at.session_state["map_view"] = "2D"


def test_pasted_corpus_is_embedded_and_mapped():
    at = new_app()
    at.run()
    at.switch_page("pages/corpus.py").run()
    at.session_state["corpus_source"] = "Paste text"
    at.run()
    lines = [
        f"Sentence number {i} about {'cats' if i % 2 else 'stock markets'}." for i in range(12)
    ]
    at.text_area(key="corpus_paste").input("\n".join(lines) + "\n\n").run()
    assert "12 documents" in at.caption[-1].value or any(
        "12 documents" in c.value for c in at.caption
    )
    at.button[0].click().run()
    assert not at.exception
    assert not at.error
    assert at.session_state["corpus"].source == "pasted text"
    assert figure_points(at) == [12]


def test_bad_upload_shows_a_message_and_keeps_the_session():
    at = new_app()
    at.run()
    at.switch_page("pages/corpus.py").run()
    at.session_state["corpus_source"] = "Upload a file"
    at.run()
    uploader = at.get("file_uploader")[0]
    uploader.set_value(("broken.csv", b"\x00\x01\x02\xff" * 50, "text/csv"))
    at.run()
    assert not at.exception
    assert any("does not look like a text file" in e.value for e in at.error)
    assert at.session_state["corpus"].source == "topics"


def test_honesty_numbers_are_recomputed_independently(first_screen, real_model):
    from sklearn.manifold import trustworthiness

    from lib.engine.corpus import load_sample
    from lib.engine.embed import embed_texts
    from lib.engine.reduce import UMAPParams, project_umap
    from lib.engine.store import EmbeddingCache

    at = first_screen
    at.session_state["map_chart"] = {"selection": {"points": [{"customdata": 3}]}}
    at.run()
    vectors = embed_texts(load_sample("topics").texts, real_model, cache=EmbeddingCache()).vectors
    coords = project_umap(vectors, UMAPParams()).coords
    similarity = vectors @ vectors.T - 2 * np.eye(len(vectors))
    true = np.argsort(-similarity, axis=1, kind="stable")[:, :10]
    drawn = ((coords[:, None] - coords[None]) ** 2).sum(-1)
    np.fill_diagonal(drawn, np.inf)
    on_map = drawn.argsort(1)[:, :10]
    kept = sum(len(set(t) & set(m)) for t, m in zip(true, on_map, strict=True)) / true.size
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["True neighbours kept (mean)"] == f"{kept:.0%}"
    expected_trust = trustworthiness(vectors, coords, n_neighbors=10, metric="cosine")
    assert metrics["Trustworthiness"] == f"{expected_trust:.3f}"
    far = at.dataframe[2].value
    assert set(far["id"]) == set(true[3]) - set(on_map[3])


def test_a_restarted_server_gets_vectors_maps_and_clusters_back_from_disk(
    first_screen, monkeypatch
):
    import pages._common as common

    for cached in (common._vectors_memo, common._projection, common._clustering, common.text_model):
        cached.clear()

    def must_not_run(*args, **kwargs):
        raise AssertionError("this should have come from the on-disk caches")

    monkeypatch.setattr(common, "project_umap", must_not_run)
    monkeypatch.setattr(common, "cluster_corpus", must_not_run)
    monkeypatch.setattr(common, "text_model", must_not_run)
    monkeypatch.setattr(common, "cached_vectors", must_not_run)  # the whole matrix is on disk
    at = new_app()
    at.run()
    assert not at.exception
    assert figure_points(at) == [800]
    assert not at.status, "nothing to embed, so no progress box"


def test_a_big_corpus_shows_a_growing_preview_while_it_embeds():
    from lib.engine.corpus import corpus_from_pasted

    lines = [
        f"Preview line {i}: {'rain and wind' if i % 2 else 'a goal in the final'}"
        for i in range(2100)
    ]
    at = new_app()
    at.session_state["corpus"] = corpus_from_pasted("\n".join(lines))
    at.run()
    assert not at.exception
    charts = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
    titles = [chart["layout"].get("title", {}).get("text", "") for chart in charts]
    assert titles[0] == "Preview: PCA of 512 of 2,100 documents, growing as they embed"
    assert sum(len(trace["customdata"]) for trace in charts[0]["data"]) == 512
    assert figure_points(at)[-1] == 2100
