"""AppTest of the Lessons page on the bundled 'topics' sample (800 documents, 10 balanced labels).

Every test starts a new session (a new browser tab); only the server's caches are shared. Every
lesson renders, and each one's numbers and figures are recomputed from lib on the vectors and
maps the engine holds for the sample (its shipped vectors and default map).
"""

from __future__ import annotations

import base64
import json
from collections import Counter

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr
from streamlit.testing.v1 import AppTest

from lib.embed.models import DEFAULT_MODEL, embed_texts, load_model
from lib.figures.colors import category_colors
from lib.ingest.corpus import DATA_DIR, corpus_from_frame, load_sample
from lib.measure.honesty import honesty_report
from lib.query.words import analogy, load_glove
from lib.reduce.layouts import PCAParams, UMAPParams
from lib.reduce.neighbors import cosine_matrix, top_k
from lib.reduce.tsne import TSNEParams
from lib.teach.lessons import (
    analogy_benchmark,
    load_negations,
    opposite_pairs_report,
    recovery_report,
    seed_agreement,
    sizes_and_gaps,
)
from pages import state
from tests.apptest_tools import new_app

pytestmark = pytest.mark.model

LESSONS = [
    "similarity",
    "placement",
    "maps",
    "parameters",
    "sizes",
    "noise",
    "seeds",
    "question",
    "analogies",
    "opposites",
    "bookmarks",
    "models",
]


def lessons_page(pick: str | None = None) -> AppTest:
    """A new session on the Lessons page (app.py runs first, as a browser's first visit does)."""
    at = new_app()
    at.run()
    at.switch_page("pages/lessons.py").run()
    assert not at.exception, at.exception
    if pick is not None:
        at.session_state["lessons_pick"] = pick
        at.run()
        assert not at.exception, at.exception
        assert not at.error, [error.value for error in at.error]
    return at


@pytest.fixture(scope="module")
def model():
    return load_model()


@pytest.fixture(scope="module")
def sample():
    return load_sample("topics")


def engine_vectors(corpus) -> np.ndarray:
    """The vectors the page's engine holds for `corpus` (after a page showed it)."""
    import pages._common as common

    return common.engine().peek_vectors(corpus, DEFAULT_MODEL).vectors


def engine_map(corpus, params) -> np.ndarray:
    """The coordinates of the map the page's engine holds for `corpus` and `params`."""
    import pages._common as common

    found = common.engine().peek_vectors(corpus, DEFAULT_MODEL)
    return common.engine().peek_layout(found, params).coords


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


def test_the_picker_offers_every_lesson_and_opens_on_the_first():
    at = lessons_page()
    assert at.session_state["lessons_pick"] == "similarity"
    assert at.header[0].value == "1 · Guess the similarity"
    assert at.markdown, "the lesson explains itself"


def test_similarity_reveal_shows_the_model_cosines_and_the_rank_agreement(model):
    at = lessons_page("similarity")
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
    np.testing.assert_allclose(at.dataframe[0].value["cosine"], guessed, atol=1e-5)


def test_similarity_offers_no_select_all_so_the_order_stays_a_guess():
    """'Select all' ordered every pair for the learner, defeating the exercise."""
    at = lessons_page("similarity")
    assert at.multiselect[0].proto.select_all == 0  # Streamlit's proto for select_all=False


def test_placement_reveal_leaves_the_map_unchanged(sample, model):
    at = lessons_page("placement")
    before = document_positions(figures(at)["lessons_place_chart"])
    assert len(before) == len(sample)
    at.session_state["lessons_place_chart"] = {"selection": {"points": [{"customdata": "g:465"}]}}
    at.run()
    at.button(key="lessons_place_revealed_button").click().run()
    assert not at.exception
    assert metrics(at)["Existing points moved"] == f"0 of {len(sample)}"
    shown = figures(at)
    assert document_positions(shown["lessons_place_reveal"]) == before
    assert document_positions(shown["lessons_place_chart"]) == before
    sentence = at.text_input(key="lessons_place_text").value
    query = embed_texts([sentence], model).vectors[0]
    expected = top_k(engine_vectors(sample), query, 5)
    table = at.dataframe[0].value
    assert table["id"].tolist() == expected.indices.tolist()
    np.testing.assert_allclose(table["cosine"], expected.scores, atol=1e-4)
    assert table["text"].tolist() == [sample.texts[row] for row in expected.indices]
    assert table["label"].tolist() == sample.metadata["label"].iloc[expected.indices].tolist()
    assert float(metrics(at)["Your miss (share of the map's diagonal)"].rstrip("%")) > 0


def test_pca_umap_and_t_sne_numbers_match_honesty_report(sample):
    at = lessons_page("maps")
    if any(button.key == "lessons_maps_tsne" for button in at.button):
        at.button(key="lessons_maps_tsne").click().run()
    vectors = engine_vectors(sample)
    labels = [metric.label for metric in at.metric]
    values = [metric.value for metric in at.metric]
    kept, trust, variance = "Neighbours kept", "Trustworthiness", "Variance kept"
    assert labels == [kept, trust, variance, kept, trust, kept, trust]
    # three maps side by side at 1500 px: labels short enough to show whole ("True neigh…")
    assert all(len(metric.label) <= 16 and metric.help for metric in at.metric)
    tsne_report = honesty_report(vectors, engine_map(sample, TSNEParams()), 10)
    assert values[5:] == [f"{tsne_report.mean:.0%}", f"{tsne_report.trustworthiness:.3f}"]
    pca = engine_map(sample, PCAParams())
    pca_report = honesty_report(vectors, pca, 10)
    umap_report = honesty_report(vectors, engine_map(sample, UMAPParams()), 10)
    assert values[:2] == [f"{pca_report.mean:.0%}", f"{pca_report.trustworthiness:.3f}"]
    assert values[3:5] == [f"{umap_report.mean:.0%}", f"{umap_report.trustworthiness:.3f}"]
    centred = vectors - vectors.mean(axis=0)
    total = float((centred**2).sum())
    kept_variance = float(
        ((centred @ np.linalg.svd(centred, full_matrices=False)[2][:2].T) ** 2).sum()
    )
    assert values[2] == f"{kept_variance / total:.0%}"
    assert umap_report.mean > pca_report.mean and tsne_report.mean > pca_report.mean


def test_parameter_grid_titles_its_maps_and_makes_one_the_main_map():
    at = lessons_page("parameters")
    # issue 23: the grid's cost is said first (the default map is shipped), and it waits for a click
    assert not at.get("plotly_chart")
    asked = " ".join(caption.value for caption in at.caption)
    assert "8 UMAP maps of 800 documents still to compute: about" in asked
    at.button(key="lessons_grid_go").click().run()
    assert not at.exception
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
    # one label, one colour: the grid's colours are the Map page's (the corpus-wide rank)
    legend = {t["name"]: t["marker"]["color"] for t in spec["data"] if t.get("showlegend")}
    assert legend == dict(category_colors(load_sample("topics").metadata["label"]).colors)
    at.selectbox(key="lessons_grid_pick").set_value(8).run()
    at.button(key="lessons_grid_apply").click().run()
    assert not at.exception
    assert at.title[0].value == "Map"
    assert at.session_state[state.MAP_METHOD] == "UMAP"
    assert at.slider(key="map_n_neighbors").value == 50
    assert at.slider(key="map_min_dist").value == 0.5


def test_sizes_lesson_matches_the_size_report(sample):
    at = lessons_page("sizes")
    at.selectbox(key="lessons_sizes_groups").set_value("label").run()
    report = sizes_and_gaps(
        engine_vectors(sample),
        engine_map(sample, UMAPParams()),
        sample.metadata["label"].tolist(),
    )
    assert metrics(at) == {
        "Spread order kept (Spearman)": f"{report.spread_correlation:+.2f}",
        "Gap order kept (Spearman)": f"{report.gap_correlation:+.2f}",
    }
    shown = at.dataframe[0].value
    assert shown["group"].tolist() == sorted(sample.metadata["label"].unique())
    np.testing.assert_allclose(shown["true_spread"], report.table["true_spread"])


def test_sizes_lesson_with_a_two_value_label_explains_instead_of_ranking(sample):
    """Defect 12: two groups have one gap and two spreads; no '-1.00', no '+nan'."""
    keep = sample.metadata["label"].isin(["cooking", "space"]).to_numpy()
    frame = pd.DataFrame(
        {
            "text": [text for text, kept in zip(sample.texts, keep, strict=True) if kept],
            "side": sample.metadata["label"][keep].to_numpy(),
        }
    )
    two = corpus_from_frame(frame, "text", source="two topics")
    at = new_app()
    at.run()
    at.session_state[state.SOURCE] = state.Source(state.UPLOAD, two.content_hash, DEFAULT_MODEL)
    at.session_state[state.UPLOADED_CORPUS] = two
    at.switch_page("pages/lessons.py").run()
    at.session_state["lessons_pick"] = "sizes"
    at.run()
    at.selectbox(key="lessons_sizes_groups").set_value("side").run()
    assert not at.exception and not at.error
    assert not at.metric, [(metric.label, metric.value) for metric in at.metric]
    notes = [block.value for block in at.info]
    assert any("not defined here (group spreads: 2)" in note for note in notes)
    assert any("not defined here (gaps between groups: 1)" in note for note in notes)
    assert all("at least 3 values" in note for note in notes)
    assert at.dataframe[0].value["group"].tolist() == ["cooking", "space"]


def test_noise_lesson_recovery_falls_to_the_majority_share(sample):
    at = lessons_page("noise")
    shown = metrics(at)
    clusters = [int(metric.value) for metric in at.metric if metric.label == "Clusters found"]
    assert len(clusters) == 2 and clusters[1] >= 2, "random vectors still show clusters"
    labels = sample.metadata["label"].tolist()
    majority = max(Counter(labels).values()) / len(labels)
    assert shown["Majority share (the baseline)"] == f"{majority:.3f}"
    assert abs(float(shown["Recovery on the random map"]) - majority) <= 0.03
    assert float(shown["Recovery on the real map"]) > majority + 0.5


def test_seed_lesson_measures_both_maps_against_the_fixed_true_neighbours(sample):
    """Defect 4: each seed's share of true neighbours kept is measured, not a map vs itself."""
    at = lessons_page("seeds")
    vectors = engine_vectors(sample)
    first = engine_map(sample, UMAPParams())
    second = engine_map(sample, UMAPParams(seed=43))
    assert not np.array_equal(first, second)
    expected = seed_agreement(first, second, 10)
    shown = metrics(at)
    assert shown["Map neighbours the two seeds agree on (mean)"] == f"{expected.mean():.2f}"
    colours = array(figures(at)["lessons_seed_second"]["data"][0]["marker"]["color"])
    np.testing.assert_allclose(colours, expected)
    first_kept = honesty_report(vectors, first, 10).mean
    second_kept = honesty_report(vectors, second, 10).mean
    assert shown["True neighbours kept, seed 42"] == f"{first_kept:.1%}"
    assert shown["True neighbours kept, seed 43"] == f"{second_kept:.1%}"
    assert first_kept < 1.0 and second_kept < 1.0, "no map keeps every true neighbour"
    facts = " ".join(block.value for block in at.markdown)
    assert "the same whatever the seed" in facts and "1.000" not in facts


def test_question_lesson_matches_recovery_report(sample):
    at = lessons_page("question")
    coords = engine_map(sample, UMAPParams())
    labels = sample.metadata["label"].tolist()
    report = recovery_report(engine_vectors(sample), coords, labels, 10)
    assert metrics(at) == {
        "Full dimension": f"{report.full:.3f}",
        "On the map": f"{report.on_map:.3f}",
        "Majority baseline": f"{report.baseline:.3f}",
    }
    bars = figures(at)["lessons_question_bars"]["data"][0]
    np.testing.assert_allclose(array(bars["y"]), [report.full, report.on_map, report.baseline])


def test_analogy_lesson_and_its_benchmark():
    at = lessons_page("analogies")
    words = load_glove()
    unrestricted = analogy(words, "man", "king", "woman", k=10, exclude_inputs=False)
    ranked = at.dataframe[0].value
    assert ranked["word"].tolist() == [hit.word for hit in unrestricted]
    assert ranked["question word"].iloc[0], "a question word wins when every word is allowed"
    at.toggle(key="lessons_analogy_exclude").set_value(True).run()
    excluded = analogy(words, "man", "king", "woman", k=10)
    assert at.dataframe[0].value["word"].tolist() == [hit.word for hit in excluded]
    assert "question word" not in at.dataframe[0].value
    gap = unrestricted[0].score - excluded[0].score
    assert f"a gap of **{gap:.3f}**" in " ".join(block.value for block in at.markdown)
    at.button(key="lessons_bench_button").click().run()
    assert not at.exception
    overall = analogy_benchmark(words, pd.read_csv(DATA_DIR / "analogies.csv")).overall
    shown = metrics(at)
    assert shown["Inputs excluded (the usual score)"] == f"{overall['excluded_acc']:.0%}"
    assert shown["Every word allowed"] == f"{overall['unrestricted_acc']:.0%}"
    assert shown["Nearest word to c alone"] == f"{overall['c_only_acc']:.0%}"


def test_opposites_lesson_matches_the_report_and_the_model(model):
    at = lessons_page("opposites")
    report = opposite_pairs_report(load_glove())
    pd.testing.assert_frame_equal(at.dataframe[0].value.reset_index(drop=True), report)
    negations = load_negations()
    bars = figures(at)["lessons_negation_bars"]["data"]
    assert list(bars[0]["x"]) == negations["sentence"].tolist()
    sentence, negation, paraphrase = (
        embed_texts(negations[name].tolist(), model).vectors for name in negations
    )
    np.testing.assert_allclose(
        array(bars[0]["y"]), np.einsum("ij,ij->i", sentence, negation), atol=1e-5
    )
    np.testing.assert_allclose(
        array(bars[1]["y"]), np.einsum("ij,ij->i", sentence, paraphrase), atol=1e-5
    )


@pytest.fixture
def hosted_no_fits(monkeypatch):
    """A hosted server on which any UMAP fit fails the test."""
    monkeypatch.setenv("EMBEDSCOPE_HOSTED", "1")
    import umap

    def no_fit(*args, **kwargs):
        raise AssertionError("a hosted server must not fit UMAP for a visitor")

    monkeypatch.setattr(umap.UMAP, "fit", no_fit)
    monkeypatch.setattr(umap.UMAP, "fit_transform", no_fit)


NEW_MAPS = {"parameters", "noise", "seeds"}  # lessons that fit maps of their own


@pytest.mark.parametrize("lesson", LESSONS)
def test_every_lesson_on_a_hosted_server_fits_no_map(hosted_no_fits, lesson):
    at = lessons_page(lesson)
    notes = [info.value for info in at.info]
    says_off = any("this hosted server fits none per visitor" in note for note in notes)
    assert says_off == (lesson in NEW_MAPS)
    if lesson in NEW_MAPS:
        assert not at.get("plotly_chart")


def test_lesson_12_measures_meaning_against_language_for_both_models():
    """Issue 16's lesson: recomputed shares, the multilingual model groups by topic."""
    from lib.embed.models import DEFAULT_MODEL, MULTILINGUAL_MODEL
    from lib.reduce.neighbors import exact_knn

    at = lessons_page("models")
    table = at.dataframe[0].value
    assert table["model"].tolist() == [DEFAULT_MODEL, MULTILINGUAL_MODEL]
    import pages._common as common

    sample = common.engine().sample("multilingual")
    for model_name, topic, language in table.itertuples(index=False):
        rows = exact_knn(common.engine().peek_vectors(sample, model_name).vectors, 10).indices
        for column, shown in (("label", topic), ("language", language)):
            values = sample.metadata[column].to_numpy()
            assert shown == pytest.approx((values[rows] == values[:, None]).mean(), abs=1e-9)
    shares = table.set_index("model")
    assert shares.loc[MULTILINGUAL_MODEL, "same topic"] >= 0.78
    assert shares.loc[MULTILINGUAL_MODEL, "same language"] <= 0.30
    assert shares.loc[DEFAULT_MODEL, "same language"] > shares.loc[DEFAULT_MODEL, "same topic"]


def test_lesson_12_opens_the_sample_on_the_compare_page():
    at = lessons_page("models")
    at.button(key="lessons_models_compare").click().run()
    assert not at.exception
    assert at.session_state[state.SOURCE] == state.Source(
        state.SAMPLE, "multilingual", DEFAULT_MODEL
    )
