"""AppTest of the query pages: arithmetic (hits, map, errors, similarity, examples built from
the corpus), words, concept axes. Every test starts a fresh session; the server caches (model,
vectors, maps) are shared, so only the first test pays for embedding and fitting."""

import json
import re

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from lib.cluster.stopwords import content_words
from lib.embed.models import DEFAULT_MODEL
from lib.ingest.corpus import corpus_from_frame, corpus_from_pasted, load_sample
from lib.service.engine import Engine
from lib.store.caches import default_home
from pages import state
from tests.apptest_tools import new_app

pytestmark = pytest.mark.model


@pytest.fixture
def app() -> AppTest:
    """A fresh session of the app showing the default sample (`topics`)."""
    at = new_app().run()
    assert not at.exception
    return at


def session_showing(source: state.Source, corpus=None) -> AppTest:
    """A fresh session that shows `source` (an upload's `corpus` kept in the session)."""
    at = new_app()
    at.session_state[state.SOURCE] = source
    at.session_state[state.UPLOADED_CORPUS] = corpus
    at.run()
    assert not at.exception, at.exception
    return at


def open_page(at: AppTest, page: str) -> AppTest:
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def chart(at: AppTest, key: str) -> dict:
    """The figure JSON of the Plotly chart with this key."""
    (found,) = [element for element in at.get("plotly_chart") if element.key == key]
    return json.loads(found.proto.spec)


def traces(figure: dict) -> dict[str, dict]:
    return {trace.get("name"): trace for trace in figure["data"]}


def arrow_count(figure: dict) -> int:
    notes = figure["layout"].get("annotations", [])
    return sum(1 for note in notes if note.get("showarrow") and note.get("axref") == "x")


def captions(at: AppTest) -> str:
    return "\n".join(caption.value for caption in at.main.caption)


def query(at: AppTest, source: str) -> AppTest:
    at.text_input(key="arith_expression").set_value(source).run()
    assert not at.exception, at.exception
    return at


def test_arithmetic_query_lists_hits_and_places_the_star(app):
    at = query(open_page(app, "pages/arithmetic.py"), '"a rainy day" - "rain" + "sunshine"')
    assert not at.main.error
    table = at.dataframe[0].value
    assert list(table.columns) == ["rank", "id", "cosine", "text", "label", "length"]
    assert table["rank"].tolist() == list(range(1, 11))
    assert table["cosine"].is_monotonic_decreasing
    assert table["label"].iloc[0] == "weather"
    figure = chart(at, "arith_map")
    shown = traces(figure)
    assert shown["query"]["marker"]["symbol"] == "star"
    assert "top 10" in shown
    assert arrow_count(figure) == 2  # three terms: start, then two steps
    assert "approximations; the ranking is computed in the full 384 dimensions" in captions(at)


def example_buttons(at: AppTest) -> list:
    return [button for button in at.button if button.label.startswith("`")]


def quoted_words(expression: str) -> list[str]:
    return re.findall(r'"([^"]*)"', expression)


def test_examples_of_topics_come_from_its_topics_and_run(app):
    at = open_page(app, "pages/arithmetic.py")
    default = at.text_input(key="arith_expression").value
    assert re.fullmatch(r'#\d+ - "\w+" \+ "\w+"', default)  # a cooking document moved to gardening
    hits = at.dataframe[0].value["label"]
    assert hits.iloc[0] == "gardening" and (hits == "gardening").sum() >= 5
    buttons = example_buttons(at)
    assert buttons[0].label.strip("`") == default and len(buttons) == 4
    (blend,) = [b for b in buttons if "mean" in b.label]
    blend.click().run()
    assert at.text_input(key="arith_expression").value == blend.label.strip("`")
    assert not at.main.error
    assert set(at.dataframe[0].value["label"]) <= {"cooking", "programming"}


def test_examples_of_the_multilingual_sample_use_its_words():
    at = session_showing(state.Source(state.SAMPLE, "multilingual", DEFAULT_MODEL))
    at = open_page(at, "pages/arithmetic.py")
    texts = load_sample("multilingual").texts
    vocabulary = {word for text in texts for word in content_words(text)}
    for button in example_buttons(at):
        assert set(quoted_words(button.label.strip("`"))) <= vocabulary, button.label
        button.click().run()
        assert not at.main.error and not at.exception, button.label
        assert len(at.dataframe[0].value) == 10


GARAGE = {
    "brakes": [
        "Replace the brake pads when the squeal starts.",
        "The mechanic bled the brake lines and topped up the fluid.",
        "Worn brake discs make the steering shake when stopping.",
        "Brake fluid absorbs moisture, so change it every two years.",
        "Squealing brake pads usually mean the wear indicator is touching the disc.",
        "Soft brake pedal? Air in the brake lines needs bleeding.",
    ],
    "tyres": [
        "Check the tyre tread depth before a long motorway drive.",
        "A slow puncture means the tyre loses pressure overnight.",
        "Rotate each tyre every ten thousand kilometres.",
        "Winter tyre compounds stay soft and grip below seven degrees.",
        "Tyre pressure drops when the temperature falls overnight.",
        "Uneven tyre wear points to bad wheel alignment.",
    ],
    "knitting": [
        "Knit the sleeve in rib stitch with the thicker yarn.",
        "Cast on sixty stitches with the wool and a circular needle.",
        "Block the finished scarf so the lace stitches open up.",
        "Wind the yarn into a ball before you knit the cuff.",
        "Purl the back row and knit the front to get stocking stitch.",
        "Dropped stitches can be picked up with a crochet hook.",
    ],
}


def test_examples_of_an_uploaded_corpus_use_its_own_words_not_the_samples():
    frame = pd.DataFrame(
        [(text, kind) for kind, texts in GARAGE.items() for text in texts], columns=["text", "kind"]
    )
    corpus = corpus_from_frame(frame, "text", source="garage.csv")
    at = new_app()
    at.session_state[state.MAP_METHOD] = "PCA"  # no UMAP compile for this small upload
    at.session_state[state.SOURCE] = state.Source(state.UPLOAD, corpus.content_hash, DEFAULT_MODEL)
    at.session_state[state.UPLOADED_CORPUS] = corpus
    at = open_page(at.run(), "pages/arithmetic.py")
    ours = {word for text in frame["text"] for word in content_words(text)}
    labels = [button.label.strip("`") for button in example_buttons(at)]
    assert labels and at.text_input(key="arith_expression").value == labels[0]
    words = {word for label in labels for word in quoted_words(label)}
    assert words and words <= ours  # the corpus's own words, none of the samples' presets
    for label in labels:
        assert all(0 <= int(row) < len(corpus) for row in re.findall(r"#(\d+)", label))
    assert not at.main.error and len(at.dataframe[0].value) == 10


def test_uploaded_vectors_allow_ids_but_not_free_text():
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(40, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    key = Engine(default_home()).uploaded(vectors).key
    corpus = corpus_from_pasted("\n".join(f"note {i}" for i in range(40)))
    at = session_showing(state.Source(state.VECTORS, key, None), corpus)
    at = open_page(at, "pages/arithmetic.py")
    labels = [button.label.strip("`") for button in example_buttons(at)]
    assert labels and all('"' not in label and "#" in label for label in labels)
    assert at.text_input(key="arith_expression").value == labels[0]
    assert not at.main.error
    at = query(at, "#3 + #5")
    assert not at.main.error
    scores = vectors @ (vectors[3] + vectors[5])
    scores[[3, 5]] = -np.inf  # the inputs are left out
    assert at.dataframe[0].value["id"].tolist()[:3] == np.argsort(-scores)[:3].tolist()
    assert at.text_area(key="arith_compare_text").disabled
    at = query(at, '#3 + "rain"')
    assert "uploaded without a text model" in at.main.error[0].value
    at = open_page(at, "pages/axes.py")
    assert "uploaded without a text model" in at.main.info[0].value
    assert not at.get("plotly_chart")


def test_words_typed_for_the_map_are_placed_and_unknown_ones_named(app):
    at = open_page(app, "pages/words.py")
    at.text_input(key="words_extra").set_value("Paris, qzxvbn  rome").run()
    assert "qzxvbn" in at.main.warning[0].value
    labels = {note["text"] for note in chart(at, "words_map")["layout"]["annotations"]}
    assert {"paris", "rome"} <= labels and "qzxvbn" not in labels
    at.text_input(key="words_extra").set_value(" , ").run()
    assert not at.main.warning and not at.exception


def test_did_you_mean_spellings_are_buttons_that_fill_the_word_in(app):
    """The suggestions were plain text in the error message."""
    at = open_page(app, "pages/words.py")
    at.text_input(key="words_b").set_value("kingg").run()
    assert "kingg" in at.main.error[0].value
    (king,) = [button for button in at.button if button.label == "king"]
    king.click().run()
    assert not at.exception and not at.main.error
    assert at.text_input(key="words_b").value == "king"
    at.text_input(key="words_expression").set_value("pariss - france + italy").run()
    next(button for button in at.button if button.label == "paris").click().run()
    assert at.text_input(key="words_expression").value == "paris - france + italy"
    assert not at.main.error


def test_the_word_map_names_the_words_asked_about_and_their_neighbours(app):
    """The word map drew 1,001 grey dots and named none of the answers."""
    at = open_page(app, "pages/words.py")
    figure = chart(at, "words_map")
    labels = {note["text"] for note in figure["layout"]["annotations"] if note.get("text")}
    answers = at.dataframe[0].value["word"].tolist()[:5]
    expression = at.dataframe[1].value["word"].tolist()[:5]
    assert {"man", "king", "woman", *answers, *expression} <= labels
