"""AppTest of the Lessons page on the bundled 'topics' sample (800 documents, 10 balanced labels).

Every lesson renders; for several, the page's numbers are compared with an independent
recomputation from lib on the same vectors.
"""

import base64
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr
from streamlit.testing.v1 import AppTest

from lib.engine.corpus import DATA_DIR, load_sample
from lib.engine.embed import embed_texts, load_model
from lib.engine.honesty import honesty_report
from lib.engine.neighbors import cosine_matrix, top_k
from lib.engine.reduce import UMAPParams, project_pca, project_umap
from lib.engine.store import EmbeddingCache
from lib.query.words import analogy, load_glove
from lib.teach.lessons import (
    analogy_benchmark,
    opposite_pairs_report,
    recovery_report,
    seed_agreement,
)

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.model

LESSONS = [
    "similarity",
    "placement",
    "maps",
    "sizes",
    "noise",
    "seeds",
    "question",
    "analogies",
    "opposites",
]


@pytest.fixture(scope="module")
def app() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.run()
    at.switch_page("pages/lessons.py").run()
    assert not at.exception
    return at


@pytest.fixture(scope="module")
def model():
    return load_model()


@pytest.fixture(scope="module")
def topics(app, model) -> tuple[pd.DataFrame, np.ndarray]:
    """The sample's metadata and its vectors (from the embedding cache the app filled)."""
    corpus = load_sample("topics")
    vectors = embed_texts(corpus.texts, model, cache=EmbeddingCache()).vectors
    return corpus, vectors


@pytest.fixture(scope="module")
def umap_coords(topics) -> np.ndarray:
    """The default map, recomputed here (UMAP is seeded, so it matches the page's)."""
    return project_umap(topics[1], UMAPParams()).coords


def pick(at: AppTest, lesson: str) -> AppTest:
    at.session_state["lessons_pick"] = lesson
    at.run()
    assert not at.exception, at.exception
    assert not at.error, [error.value for error in at.error]
    return at


def metrics(at: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in at.metric}


def figures(at: AppTest) -> dict[str, dict]:
    return {chart.key: json.loads(chart.proto.spec) for chart in at.get("plotly_chart")}


def array(value) -> np.ndarray:
    """A figure array from its JSON spec: a plain list or plotly's base64 typed array."""
    if isinstance(value, dict):
        data = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        shape = [int(size) for size in str(value.get("shape", len(data))).split(",")]
        return data.reshape(shape)
    return np.asarray(value)


def document_positions(spec: dict) -> dict[int, tuple[float, float]]:
    """Row -> (x, y) of every document point (traces whose customdata are integer rows)."""
    positions = {}
    for trace in spec["data"]:
        rows = trace.get("customdata") or []
        if rows and all(isinstance(row, int) for row in rows):
            points = zip(array(trace["x"]), array(trace["y"]), strict=True)
            positions.update(zip(rows, points, strict=True))
    return positions


@pytest.mark.parametrize("lesson", LESSONS)
def test_every_lesson_renders(app, lesson):
    at = pick(app, lesson)
    assert at.header[0].value.split(" · ")[1]
    assert at.markdown, "each lesson explains itself"


def test_similarity_reveal_shows_the_model_cosines_and_the_rank_agreement(app, model):
    at = pick(app, "similarity")
    traps = pd.read_csv(DATA_DIR / "similarity_traps.csv")
    sentences = [*traps.loc[0, ["anchor", "lookalike", "paraphrase"]], traps["anchor"][8]]
    order = [(0, 2), (0, 1), (2, 3), (1, 3)]
    at.multiselect[0].set_value(order).run()
    at.button(key="lessons_sim_revealed_button").click().run()
    assert not at.exception
    expected = cosine_matrix(embed_texts(sentences, model).vectors)
    heatmap = figures(at)["lessons_sim_heatmap"]["data"][0]
    np.testing.assert_allclose(array(heatmap["z"]), expected, atol=1e-5)
    guessed = [expected[i, j] for i, j in order]
    rho = spearmanr(-np.arange(len(order)), guessed).statistic
    assert metrics(at)["Your order vs the model's (Spearman)"] == f"{rho:+.2f}"
    table = at.dataframe[0].value
    np.testing.assert_allclose(table["cosine"], guessed, atol=1e-5)


def test_placement_reveal_leaves_the_map_unchanged(app, topics, model):
    corpus, vectors = topics
    at = pick(app, "placement")
    before = document_positions(figures(at)["lessons_place_chart"])
    assert len(before) == len(corpus)
    at.session_state["lessons_place_chart"] = {"selection": {"points": [{"customdata": "g:465"}]}}
    at.run()
    at.button(key="lessons_place_revealed_button").click().run()
    assert not at.exception
    assert metrics(at)["Existing points moved"] == f"0 of {len(corpus)}"
    shown = figures(at)
    assert document_positions(shown["lessons_place_reveal"]) == before
    assert document_positions(shown["lessons_place_chart"]) == before
    sentence = at.text_input(key="lessons_place_text").value
    query = embed_texts([sentence], model).vectors[0]
    expected = top_k(vectors, query, 5)
    table = at.dataframe[0].value
    assert table["row"].tolist() == expected.indices.tolist()
    np.testing.assert_allclose(table["cosine"], expected.scores, atol=1e-5)
    assert float(metrics(at)["Your miss (share of the map's diagonal)"].rstrip("%")) > 0


def test_pca_and_umap_numbers_match_honesty_report(app, topics, umap_coords):
    _, vectors = topics
    at = pick(app, "maps")
    labels = [metric.label for metric in at.metric]
    values = [metric.value for metric in at.metric]
    assert labels == ["kNN kept", "Trustworthiness", "Variance kept", "kNN kept", "Trustworthiness"]
    pca = project_pca(vectors)
    pca_report = honesty_report(vectors, pca.coords, 10)
    umap_report = honesty_report(vectors, umap_coords, 10)
    assert values[:3] == [
        f"{pca_report.mean:.2f}",
        f"{pca_report.trustworthiness:.3f}",
        f"{pca.explained_variance:.0%}",
    ]
    assert values[3:] == [f"{umap_report.mean:.2f}", f"{umap_report.trustworthiness:.3f}"]
    assert umap_report.mean > pca_report.mean


def test_noise_lesson_recovery_falls_to_the_majority_share(app, topics):
    corpus, _ = topics
    at = pick(app, "noise")
    shown = metrics(at)
    clusters = [int(metric.value) for metric in at.metric if metric.label == "Clusters found"]
    assert len(clusters) == 2 and clusters[1] >= 2, "random vectors still show clusters"
    labels = corpus.metadata["label"].tolist()
    majority = max(Counter(labels).values()) / len(labels)
    assert shown["Majority share (the baseline)"] == f"{majority:.3f}"
    assert abs(float(shown["Recovery on the random map"]) - majority) <= 0.03
    assert float(shown["Recovery on the real map"]) > majority + 0.5


def test_seed_lesson_agreement_matches_two_independent_maps(app, topics, umap_coords):
    _, vectors = topics
    at = pick(app, "seeds")
    other = project_umap(vectors, UMAPParams(seed=43)).coords
    expected = seed_agreement(umap_coords, other, 10)
    assert metrics(at)["Map neighbours the two seeds agree on (mean)"] == f"{expected.mean():.2f}"
    colours = array(figures(at)["lessons_seed_second"]["data"][0]["marker"]["color"])
    np.testing.assert_allclose(colours, expected)
    sentence = at.markdown[-1].value
    assert "one and the same object" in sentence and "**1.000**" in sentence


def test_question_lesson_matches_recovery_report(app, topics, umap_coords):
    corpus, vectors = topics
    at = pick(app, "question")
    report = recovery_report(vectors, umap_coords, corpus.metadata["label"].tolist(), 10)
    assert metrics(at) == {
        "Full dimension": f"{report.full:.3f}",
        "On the map": f"{report.on_map:.3f}",
        "Majority baseline": f"{report.baseline:.3f}",
    }
    bars = figures(at)["lessons_question_bars"]["data"][0]
    np.testing.assert_allclose(array(bars["y"]), [report.full, report.on_map, report.baseline])


def test_analogy_lesson_and_its_benchmark(app):
    at = pick(app, "analogies")
    words = load_glove()
    unrestricted = analogy(words, "man", "king", "woman", k=10, exclude_inputs=False)
    ranked = at.dataframe[0].value
    assert ranked["word"].tolist() == [hit.word for hit in unrestricted]
    assert ranked["question word"].iloc[0], "a question word wins when every word is allowed"
    at.toggle(key="lessons_analogy_exclude").set_value(True).run()
    excluded = analogy(words, "man", "king", "woman", k=10)
    assert at.dataframe[0].value["word"].tolist() == [hit.word for hit in excluded]
    gap = unrestricted[0].score - excluded[0].score
    assert f"a gap of **{gap:.3f}**" in " ".join(block.value for block in at.markdown)
    at.button(key="lessons_bench_button").click().run()
    assert not at.exception
    overall = analogy_benchmark(words, pd.read_csv(DATA_DIR / "analogies.csv")).overall
    shown = metrics(at)
    assert shown["Inputs excluded (the usual score)"] == f"{overall['excluded_acc']:.0%}"
    assert shown["Every word allowed"] == f"{overall['unrestricted_acc']:.0%}"
    assert shown["Nearest word to c alone"] == f"{overall['c_only_acc']:.0%}"


def test_opposites_lesson_matches_the_report_and_the_model(app, model):
    at = pick(app, "opposites")
    report = opposite_pairs_report(load_glove())
    pd.testing.assert_frame_equal(at.dataframe[0].value.reset_index(drop=True), report)
    bars = figures(at)["lessons_negation_bars"]["data"]
    first = embed_texts(["I love this movie", "I do not love this movie"], model).vectors
    assert array(bars[0]["y"])[0] == pytest.approx(float(first[0] @ first[1]), abs=1e-5)


def test_parameter_grid_titles_its_maps_and_makes_one_the_main_map(app):
    at = pick(app, "parameters")
    table = at.dataframe[0].value
    assert len(table) == 9
    assert sorted(set(table["n_neighbors"])) == [5, 15, 50]
    assert sorted(set(table["min_dist"])) == [0.0, 0.1, 0.5]
    spec = figures(at)["lessons_grid_chart"]
    titles = [note["text"] for note in spec["layout"]["annotations"]]
    for title, clusters, kept in zip(titles, table["clusters"], table["kNN kept"], strict=True):
        assert title.endswith(f"<br>{clusters} clusters · kNN kept {kept:.2f}")
    default = table[(table["n_neighbors"] == 15) & (table["min_dist"] == 0.1)]
    assert default["clusters"].iloc[0] >= 2
    at.selectbox(key="lessons_grid_pick").set_value(8).run()
    at.button(key="lessons_grid_apply").click().run()
    assert not at.exception
    assert at.title[0].value == "Map"
    assert at.session_state["map_params"] == UMAPParams(n_neighbors=50, min_dist=0.5)
    assert at.slider(key="map_n_neighbors").value == 50
    assert at.slider(key="map_min_dist").value == 0.5
