"""AppTest of the guided tour: every number it shows recomputed from lib on the bundled sample."""

import base64
import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score
from streamlit.testing.v1 import AppTest

from lib.cluster.clusters import ClusterParams, cluster_corpus
from lib.embed.models import DEFAULT_MODEL, SentenceTransformerModel, embed_texts, load_model
from lib.ingest.corpus import load_sample
from lib.measure.honesty import honesty_report
from lib.query.expressions import run_query
from lib.reduce.neighbors import cosine_matrix
from lib.store.caches import EmbeddingCache

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.model

PAGES = {"corpus", "arithmetic", "map", "words", "lessons"}


@pytest.fixture
def tour() -> AppTest:
    """A new session on the tour page (every test starts fresh)."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.run()
    at.switch_page("pages/tour.py").run()
    assert not at.exception
    return at


@pytest.fixture(scope="module")
def model() -> SentenceTransformerModel:
    return load_model()


@pytest.fixture
def sample_vectors(tour, model) -> np.ndarray:
    """The sample's vectors as the page's engine holds them (checked against the model's own)."""
    import pages._common as common

    held = common.engine().peek_vectors(load_sample("topics"), DEFAULT_MODEL).vectors
    np.testing.assert_allclose(held, embedded(load_sample("topics").texts, model), atol=1e-4)
    return held


def embedded(texts, model) -> np.ndarray:
    return embed_texts(texts, model, cache=EmbeddingCache()).vectors


def step(at: AppTest, number: int):
    return at.main.get_by_key(f"tour_step_{number}")


def figure(block) -> dict:
    charts = block.get("plotly_chart")
    assert len(charts) == 1
    return json.loads(charts[0].proto.spec)


def array(value) -> np.ndarray:
    """A Plotly JSON array: a plain list or a base64 typed array {'dtype', 'bdata', 'shape'}."""
    if not isinstance(value, dict):
        return np.asarray(value)
    flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
    shape = value.get("shape")
    if shape is None:
        return flat
    return flat.reshape([int(size) for size in str(shape).split(",")])


def metric_values(block) -> dict[str, str]:
    return {metric.label: metric.value for metric in block.metric}


def test_five_numbered_steps_each_end_with_a_link_on(tour):
    at = tour
    assert not at.error
    assert at.title[0].value == "What are embeddings, really?"
    for number in range(1, 6):
        block = step(at, number)
        assert block.subheader[0].value.startswith(f"{number}. ")
        links = block.page_link
        assert len(links) >= 1
        assert {link.proto.page for link in links} <= PAGES
    assert step(at, 4).page_link[0].proto.page == "words"


def test_step_one_shows_the_sentence_vector(tour, model):
    at = tour
    for sentence in (at.text_input(key="tour_sentence").value, "Stocks fell sharply on Monday."):
        at.text_input(key="tour_sentence").input(sentence).run()
        vector = embedded([sentence], model)[0]
        block = step(at, 1)
        assert metric_values(block) == {
            "Numbers in the vector": "384",
            "Length of the vector": f"{np.linalg.norm(vector):.3f}",
        }
        assert metric_values(block)["Length of the vector"] == "1.000"
        shown = block.dataframe[0].value
        assert shown.shape == (1, 12)
        np.testing.assert_array_equal(
            np.round(shown.iloc[0].to_numpy(float), 3), vector[:12].astype(float).round(3)
        )


def test_step_two_heatmap_is_the_cosine_of_the_typed_sentences(tour, model):
    at = tour
    default = at.text_area(key="tour_sentences").value
    typed = ["A violinist tuned her instrument.", "The orchestra rehearsed Brahms."]
    for text in (default, "\n".join(typed) + "\n\n"):
        at.text_area(key="tour_sentences").input(text).run()
        sentences = [line.strip() for line in text.splitlines() if line.strip()]
        expected = cosine_matrix(embedded(sentences, model))
        heatmap = figure(step(at, 2))["data"][0]
        assert heatmap["texttemplate"] == "%{z:.2f}"
        np.testing.assert_allclose(array(heatmap["z"]), expected, atol=1e-6)
    assert array(heatmap["z"]).shape == (2, 2)
    at.text_area(key="tour_sentences").input(default).run()


def test_step_three_colours_by_topic_or_clusters_and_scores_the_match(tour, sample_vectors):
    at = tour
    sample = load_sample("topics")
    labels = sample.metadata["label"].to_numpy()
    found = cluster_corpus(
        sample_vectors,
        sample.texts,
        ClusterParams(method="kmeans", n_clusters=10, space="embeddings"),
    )
    block = step(at, 3)
    agreement = metric_values(block)[
        "Agreement of the groups with the topics (adjusted Rand index)"
    ]
    assert agreement == f"{adjusted_rand_score(labels, found.labels):.2f}"
    topics = {trace["name"] for trace in figure(block)["data"]}
    assert topics == {f"{topic} (80)" for topic in set(labels)}

    at.toggle(key="tour_clusters").set_value(True).run()
    groups = [trace["name"] for trace in figure(step(at, 3))["data"]]
    names = found.point_names()
    assert sorted(groups) == sorted(f"{name} ({(names == name).sum()})" for name in set(names))
    at.toggle(key="tour_clusters").set_value(False).run()


def test_step_four_adds_words_and_documents(tour, model, sample_vectors):
    at = tour
    block = step(at, 4)
    words = block.dataframe[0].value
    assert words["word"].iloc[0] == "queen"
    assert not {"king", "man", "woman"} & set(words["word"])

    at.toggle(key="tour_words_exclude").set_value(False).run()
    assert step(at, 4).dataframe[0].value["word"].iloc[:2].tolist() == ["king", "queen"]
    at.toggle(key="tour_words_exclude").set_value(True).run()

    source = at.text_input(key="tour_expression").value
    _, hits = run_query(source, embed=lambda t: embedded(t, model), doc_vectors=sample_vectors, k=5)
    documents = step(at, 4).dataframe[1].value
    assert documents["id"].tolist() == [hit.index for hit in hits]
    # the page and this test may embed in other batches: float32 sums then differ near 1e-5
    np.testing.assert_allclose(documents["cosine"], [hit.score for hit in hits], atol=1e-4)
    spec = figure(step(at, 4))
    assert [trace["marker"]["symbol"] for trace in spec["data"] if trace["name"] == "query"] == [
        "star"
    ]
    # Path arrows run between map positions (tail in data coordinates), unlike label leaders.
    arrows = [note for note in spec["layout"]["annotations"] if note.get("axref") == "x"]
    assert len(arrows) == 2  # #0 → − "cooking" → + "gardening"


def test_step_four_reports_a_bad_expression(tour):
    at = tour
    at.text_input(key="tour_expression").input('#0 - "cooking" +').run()
    assert not at.exception
    message = step(at, 4).error[0].value
    assert "Expected a term after" in message
    assert "position 16" in message
    at.text_input(key="tour_expression").input('#0 - "cooking" + "gardening"').run()
    assert not step(at, 4).error


def test_step_five_colours_by_the_recomputed_honesty(tour, sample_vectors):
    at = tour
    for k in (10, 20):
        at.slider(key="tour_k").set_value(k).run()
        block = step(at, 5)
        trace = figure(block)["data"][0]
        rows = np.asarray(trace["customdata"])
        coords = np.empty((len(rows), 2), dtype=np.float32)
        coords[rows] = np.column_stack([array(trace["x"]), array(trace["y"])])
        report = honesty_report(sample_vectors, coords, k)
        assert metric_values(block) == {
            "True neighbours kept (mean)": f"{report.mean:.0%}",
            "Trustworthiness": f"{report.trustworthiness:.3f}",
        }
        np.testing.assert_allclose(array(trace["marker"]["color"]), report.per_point[rows])
