"""AppTest of the core pages: first screen map, corpus loading, selection table, bad input.

Every test opens a new session (new_app), so none depends on another's state or order.
"""

import base64
import json

import numpy as np
import pytest

from lib.ingest.corpus import corpus_from_pasted
from pages import state
from tests.apptest_tools import chart_specs, document_tables, figure_points, new_app, shown

pytestmark = pytest.mark.model


def test_first_screen_shows_the_sample_map():
    at = new_app().run()
    assert not at.exception
    assert not at.error
    assert figure_points(at) == [800]
    assert at.title[0].value == "Map"
    assert "topics" in at.sidebar.markdown[0].value


def test_map_selection_lists_documents_and_neighbours():
    at = new_app().run()
    at.session_state["map_chart"] = {
        "selection": {"points": [{"customdata": 3}, {"customdata": 10}], "point_indices": []}
    }
    at.run()
    assert not at.exception
    assert at.subheader[0].value == "2 selected"
    selected, neighbours = document_tables(at)[:2]
    assert selected["id"].tolist() == [3, 10]
    assert len(neighbours) == 10
    assert 3 not in neighbours["id"].tolist()
    assert neighbours["cosine"].is_monotonic_decreasing


def test_a_forged_selection_beyond_the_table_is_ignored():
    at = new_app().run()
    at.session_state["map_chart"] = {
        "selection": {"points": [{"customdata": 5}, {"customdata": 10**9}, {"customdata": -3}]}
    }
    at.run()
    assert not at.exception
    assert at.subheader[0].value == "1 selected"
    assert document_tables(at)[0]["id"].tolist() == [5]


def test_the_map_opens_in_a_mode_where_a_click_selects():
    """Streamlit turns click selection off while the drag mode is lasso or box (defect 8)."""
    at = new_app().run()
    layout = chart_specs(at)[0]["layout"]
    assert layout["dragmode"] == "pan"


def test_three_d_view_has_every_point():
    at = new_app().run()
    at.session_state[state.MAP_VIEW] = "3D"
    at.run()
    assert not at.exception
    spec = chart_specs(at)[0]
    assert {trace["type"] for trace in spec["data"]} == {"scatter3d"}
    assert figure_points(at) == [800]


def test_map_settings_survive_a_visit_to_another_page():
    """A clustering, a colour column and 3-D stay set after Words and back (defect 7)."""
    at = new_app().run()
    at.number_input(key=state.MAP_K).set_value(4).run()
    at.selectbox(key=state.MAP_CLUSTER).set_value("hdbscan").run()  # not the default
    at.selectbox(key=state.MAP_SPACE).set_value("map").run()
    at.number_input(key=state.MAP_MIN_SIZE).set_value(12).run()
    at.selectbox(key=state.MAP_COLOR).set_value("label").run()
    at.segmented_control(key=state.MAP_VIEW).set_value("3D").run()
    expected = state.Source(state.SAMPLE, "topics", "all-MiniLM-L6-v2")
    at.switch_page("pages/words.py").run()
    assert not at.exception
    at.switch_page("pages/map.py").run()
    assert not at.exception
    assert shown(at) == expected
    assert at.selectbox(key=state.MAP_CLUSTER).value == "hdbscan"
    assert at.selectbox(key=state.MAP_SPACE).value == "map"
    assert at.number_input(key=state.MAP_MIN_SIZE).value == 12
    assert at.selectbox(key=state.MAP_COLOR).value == "label"
    assert at.segmented_control(key=state.MAP_VIEW).value == "3D"


def test_switching_to_hdbscan_clusters_on_the_map_with_a_size_for_the_corpus():
    """HDBSCAN kept KMeans's "full embeddings" and left almost every document unclustered."""
    at = new_app().run()
    assert at.selectbox(key=state.MAP_SPACE).value == "embeddings"  # KMeans's own
    at.selectbox(key=state.MAP_CLUSTER).set_value("hdbscan").run()
    assert not at.exception
    assert at.selectbox(key=state.MAP_SPACE).value == "map"
    size = at.number_input(key=state.MAP_MIN_SIZE)
    assert size.value is None and size.proto.placeholder == "auto: 10"  # 800 documents
    (found,) = [e for e in at.expander if e.label.endswith("clusters found")]
    assert 2 <= int(found.label.split()[0]) <= 30
    noise = [c.value for c in at.caption if "fit no cluster" in c.value]
    assert not noise or int(noise[0].split()[0].replace(",", "")) <= 0.4 * 800
    at.selectbox(key=state.MAP_CLUSTER).set_value("kmeans").run()
    assert at.selectbox(key=state.MAP_SPACE).value == "embeddings"


def test_pasted_corpus_is_embedded_and_mapped():
    at = new_app().run()
    at.switch_page("pages/corpus.py").run()
    at.session_state["corpus_source"] = "Paste text"
    at.run()
    lines = [
        f"Sentence number {i} about {'cats' if i % 2 else 'stock markets'}." for i in range(12)
    ]
    at.text_area(key="corpus_paste").input("\n".join(lines) + "\n\n").run()
    assert any("12 documents" in c.value for c in at.caption)
    at.button[0].click().run()
    assert not at.exception
    assert not at.error
    assert shown(at).kind == state.UPLOAD
    assert at.session_state[state.UPLOADED_CORPUS].source == "pasted text"
    assert figure_points(at) == [12]


def test_bad_upload_shows_a_message_and_keeps_the_session():
    at = new_app().run()
    at.switch_page("pages/corpus.py").run()
    at.session_state["corpus_source"] = "Upload a file"
    at.run()
    uploader = at.get("file_uploader")[0]
    uploader.set_value(("broken.csv", b"\x00\x01\x02\xff" * 50, "text/csv"))
    at.run()
    assert not at.exception
    assert any("does not look like a text file" in e.value for e in at.error)
    assert shown(at) == state.Source(state.SAMPLE, "topics", "all-MiniLM-L6-v2")


def plotted_coords(spec: dict, n_rows: int) -> np.ndarray:
    """The (n, 2) positions a 2-D map figure draws, row by row (rows from customdata; marker
    overlays such as the focus and its neighbours carry none and are skipped)."""
    coords = np.full((n_rows, 2), np.nan)
    for trace in spec["data"]:
        if not trace.get("customdata"):
            continue
        rows = np.asarray(trace["customdata"], dtype=int)
        coords[rows] = np.column_stack([plotly_array(trace["x"]), plotly_array(trace["y"])])
    return coords


def plotly_array(value) -> np.ndarray:
    """A Plotly JSON array: a plain list or a base64 typed array {'dtype', 'bdata'}."""
    if not isinstance(value, dict):
        return np.asarray(value, dtype=float)
    return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"]).astype(float)


def test_honesty_numbers_are_recomputed_independently(real_model):
    """The page's measures, recomputed here from the map it draws and the model's own vectors."""
    from sklearn.manifold import trustworthiness

    from lib.embed.models import embed_texts
    from lib.ingest.corpus import load_sample
    from lib.store.caches import EmbeddingCache

    at = new_app().run()
    at.session_state["map_chart"] = {"selection": {"points": [{"customdata": 3}]}}
    at.run()
    vectors = embed_texts(load_sample("topics").texts, real_model, cache=EmbeddingCache()).vectors
    coords = plotted_coords(chart_specs(at)[0], len(vectors))
    assert not np.isnan(coords).any()
    similarity = vectors @ vectors.T - 2 * np.eye(len(vectors))
    true = np.argsort(-similarity, axis=1, kind="stable")[:, :10]
    drawn = ((coords[:, None] - coords[None]) ** 2).sum(-1)
    np.fill_diagonal(drawn, np.inf)
    on_map = drawn.argsort(1)[:, :10]
    kept = sum(len(set(t) & set(m)) for t, m in zip(true, on_map, strict=True)) / true.size
    metrics = {m.label: m.value for m in at.metric}
    assert abs(float(metrics["True neighbours kept (mean)"].rstrip("%")) - 100 * kept) <= 1
    expected_trust = trustworthiness(vectors, coords, n_neighbors=10, metric="cosine")
    assert abs(float(metrics["Trustworthiness"]) - expected_trust) <= 0.002
    far = document_tables(at)[2]  # selected, its true neighbours, those the map put far away
    assert set(far["id"]) == set(true[3]) - set(on_map[3])


def test_a_restarted_server_gets_vectors_maps_and_clusters_back_from_disk(monkeypatch):
    import lib.service.engine as service
    import pages._common as common

    new_app().run()  # fills the on-disk caches (if an earlier test has not)
    common._engine.clear()  # a new server process: nothing in memory

    def must_not_run(*args, **kwargs):
        raise AssertionError("this should have come from the on-disk caches")

    monkeypatch.setattr(service, "project_umap", must_not_run)
    monkeypatch.setattr(service, "cluster_corpus", must_not_run)
    monkeypatch.setattr(service, "cached_vectors", must_not_run)  # the whole matrix is on disk
    monkeypatch.setattr(service.Engine, "model", must_not_run)
    at = new_app().run()
    assert not at.exception
    assert figure_points(at) == [800]
    assert not at.status, "nothing to embed, so no progress box"


def test_a_big_corpus_shows_a_growing_preview_while_it_embeds():
    lines = [
        f"Preview line {i}: {'rain and wind' if i % 2 else 'a goal in the final'}"
        for i in range(2100)
    ]
    corpus = corpus_from_pasted("\n".join(lines))
    at = new_app()
    at.session_state[state.SOURCE] = state.Source(
        state.UPLOAD, corpus.content_hash, "all-MiniLM-L6-v2"
    )
    at.session_state[state.UPLOADED_CORPUS] = corpus
    at.run()
    assert not at.exception
    charts = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
    titles = [chart["layout"].get("title", {}).get("text", "") for chart in charts]
    assert titles[0] == "Preview: PCA of 512 of 2,100 documents, growing as they embed"
    assert sum(len(trace["customdata"]) for trace in charts[0]["data"]) == 512
    assert figure_points(at)[-1] == 2100


def test_the_multilingual_model_groups_the_multilingual_sample_by_topic():
    """Issue 16 through the app's own path: Corpus page → multilingual USE → Map."""
    import pages._common as common
    from lib.reduce.neighbors import exact_knn

    at = new_app().run()
    at.switch_page("pages/corpus.py").run()
    at.selectbox(key="corpus_sample").set_value("multilingual").run()
    at.selectbox(key="corpus_model").set_value("use-multilingual-v3").run()
    at.button[0].click().run()
    assert not at.exception and not at.error
    assert shown(at) == state.Source(state.SAMPLE, "multilingual", "use-multilingual-v3")
    corpus = common.engine().sample("multilingual")
    vectors = common.engine().peek_vectors(corpus, "use-multilingual-v3").vectors
    rows = exact_knn(vectors, 10).indices
    topic = corpus.metadata["label"].to_numpy()
    language = corpus.metadata["language"].to_numpy()
    assert (topic[rows] == topic[:, None]).mean() >= 0.78
    assert (language[rows] == language[:, None]).mean() <= 0.30
    at.switch_page("pages/map.py").run()
    assert not at.exception
    assert figure_points(at) == [360]


def test_t_sne_is_a_third_layout_measured_beside_umap_and_pca():
    """Issue 16: t-SNE on the Map page, its honesty numbers beside UMAP's and PCA's."""
    at = new_app().run()
    at.segmented_control(key=state.MAP_METHOD).set_value("t-SNE").run()
    assert any("t-SNE of 800 documents takes about" in c.value for c in at.caption)
    if any(b.key == "map_tsne_go" for b in at.button):
        at.button(key="map_tsne_go").click().run()
    assert not at.exception
    assert figure_points(at) == [800]
    at.button(key="map_layouts_go").click().run()
    table = next(d.value for d in at.dataframe if "layout (2-D)" in d.value.columns)
    assert table["layout (2-D)"].tolist() == ["UMAP", "PCA", "t-SNE"]
    kept = dict(zip(table["layout (2-D)"], table["true neighbours kept"], strict=True))
    assert kept["t-SNE"] > kept["PCA"] and kept["UMAP"] > kept["PCA"]
    # the numbers shown are the three maps measured the same way (k = 10), recomputed here
    from lib.embed.models import DEFAULT_MODEL
    from lib.measure.honesty import honesty_report
    from lib.reduce.layouts import PCAParams, UMAPParams
    from lib.reduce.tsne import TSNEParams
    from pages import _common as common

    engine = common.engine()
    found = engine.peek_vectors(engine.sample("topics"), DEFAULT_MODEL)
    layouts = {"UMAP": UMAPParams(), "PCA": PCAParams(), "t-SNE": TSNEParams()}
    for row in table.itertuples(index=False):
        coords = engine.peek_layout(found, layouts[row[0]]).coords
        report = honesty_report(found.vectors, coords, 10)
        assert row[1] == pytest.approx(report.mean, abs=1e-6), row
        assert row[2] == pytest.approx(report.trustworthiness, abs=1e-6), row


def test_an_unexpected_library_error_is_a_message_and_the_session_goes_on(tmp_path, monkeypatch):
    """Issue 14: an exception from third-party code on a page path is shown as a message.

    AppTest sends only a session's first run through app.py (later runs execute the page file
    alone), so the error is raised in a first run, on an empty data home.
    """
    import lib.service.engine as service

    monkeypatch.delenv("EMBEDSCOPE_RAISE_ERRORS")
    monkeypatch.setenv("EMBEDSCOPE_HOME", str(tmp_path))  # nothing cached: honesty is measured

    def broken(*args, **kwargs):
        raise ZeroDivisionError("inside a library")

    monkeypatch.setattr(service, "honesty_report", broken)
    at = new_app().run()
    assert not at.exception
    assert any("Something went wrong on this page (ZeroDivisionError)" in e.value for e in at.error)
    assert "topics" in at.sidebar.markdown[0].value, "the frame is still drawn"
    monkeypatch.undo()
    again = new_app().run()
    assert not again.exception and not again.error
