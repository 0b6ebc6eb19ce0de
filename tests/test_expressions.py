"""Expression language: parser cases (valid and invalid), evaluation against hand sums, ranking."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from lib.errors import ModelError, ParameterError, QueryError
from lib.query.expressions import (
    Expression,
    Hit,
    Term,
    evaluate,
    parse_expression,
    pointer,
    rank,
    run_query,
)

DIM = 8


def text_vector(text: str) -> np.ndarray:
    """A deterministic unit vector per text, seeded by its hash."""
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    vector = np.random.default_rng(seed).normal(size=DIM)
    return (vector / np.linalg.norm(vector)).astype(np.float32)


class FakeEmbed:
    """Embeds texts as text_vector rows and records every call."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.calls.append(list(texts))
        return np.stack([text_vector(text) for text in texts])


@pytest.fixture
def docs() -> np.ndarray:
    """800 unit document vectors."""
    vectors = np.random.default_rng(7).normal(size=(800, DIM))
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def text(value: str, position: int) -> Term:
    return Term("text", value, position)


def doc(value: int, position: int) -> Term:
    return Term("doc", value, position)


VALID = [
    ("king - man + woman", [(1, text("king", 0)), (-1, text("man", 7)), (1, text("woman", 13))]),
    ("new york + paris", [(1, text("new york", 0)), (1, text("paris", 11))]),
    ("  new   york ", [(1, text("new york", 2))]),
    ('0.5 * "sunny"', [(0.5, text("sunny", 6))]),
    ('-"x"', [(-1, text("x", 1))]),
    ('+ "x"', [(1, text("x", 2))]),
    ('- -"x"', [(1, text("x", 3))]),
    ('"x" * 2', [(2, text("x", 0))]),
    ('2 * "x" * -3', [(-6, text("x", 4))]),
    ('.5 * "a" + 1e-1 * "b"', [(0.5, text("a", 5)), (0.1, text("b", 18))]),
    ('2 * ("a" - "b")', [(2, text("a", 5)), (-2, text("b", 11))]),
    ('mean("a", "b")', [(0.5, text("a", 5)), (0.5, text("b", 10))]),
    ("mean(a, b - c) * 2", [(1, text("a", 5)), (1, text("b", 8)), (-1, text("c", 12))]),
    (
        "-((a + mean(#1, 'b c')) * 3)",
        [(-3, text("a", 3)), (-1.5, doc(1, 12)), (-1.5, text("b c", 16))],
    ),
    ('"say \\"hi\\""', [(1, text('say "hi"', 0))]),
    ("'it\\'s' + \"back\\\\slash\"", [(1, text("it's", 0)), (1, text("back\\slash", 10))]),
    ('"C:\\temp"', [(1, text("C:\\temp", 0))]),
    ("#12 - #3", [(1, doc(12, 0)), (-1, doc(3, 6))]),
    ("don't + self-esteem", [(1, text("don't", 0)), (1, text("self-esteem", 8))]),
    ("king-man", [(1, text("king-man", 0))]),
    ("mean girls + mean", [(1, text("mean girls", 0)), (1, text("mean", 13))]),
    ("1990s - 2000", [(1, text("1990s", 0)), (-1, text("2000", 8))]),
    ('"a"\n+\t"b"', [(1, text("a", 0)), (1, text("b", 6))]),
    ('0 * "a" + MEAN("b")', [(0, text("a", 4)), (1, text("b", 15))]),
    ("exec + open", [(1, text("exec", 0)), (1, text("open", 7))]),
]


@pytest.mark.parametrize(("source", "expected"), VALID)
def test_parse_valid(source, expected):
    parsed = parse_expression(source)
    assert parsed.source == source
    assert [term for _, term in parsed.terms] == [term for _, term in expected]
    assert [w for w, _ in parsed.terms] == pytest.approx([w for w, _ in expected])


INVALID = [
    ("", "Empty expression: type something like", 0),
    ("   ", "Empty expression", 0),
    ('"king" +', r"Expected a term after '\+' at position 8 \(a \"quoted text\", a #id", 8),
    ('"a" + + ', r"Expected a term after '\+' at position 8", 8),
    ('"a" + "b")', r"Unexpected '\)' at position 9: there is no '\(' to close", 9),
    (")", r"Expected a term at position 0 .*got '\)'", 0),
    ('"a" + "abc', "Unclosed quote starting at position 6", 6),
    ('"a\\"', "Unclosed quote starting at position 0", 0),
    ('("a" + "b"', r"Unclosed '\(' at position 0: add a '\)'", 0),
    ('mean("a", "b"', r"Unclosed 'mean\(' at position 0", 0),
    ('mean("a" "b")', r"Expected an operator or ',' or '\)' at position 9", 9),
    ('("a" "b")', r"Expected an operator or '\)' at position 5 to close the '\(' at position 0", 5),
    ("()", r"Expected a term after '\(' at position 1", 1),
    ("mean()", r"Expected a term after 'mean\(' at position 5", 5),
    ('"a", "b"', "Unexpected ',' at position 3: commas only separate the parts of mean", 3),
    ('* "x"', r"Expected a number before '\*' at position 0", 0),
    ('"x" *', r"Expected a number after '\*' at position 5.*got the end", 5),
    ('"x" * "y"', r"Expected a number after '\*' at position 6", 6),
    ('2 * * "x"', r"Expected a number before '\*' at position 4", 4),
    ('2 "x"', r"Expected '\*' after the number 2 at position 2", 2),
    (".5", r"Expected '\*' after the number .5 at position 2", 2),
    ("#", "Expected a document id after '#' at position 0 .*got the end", 0),
    ("#abc", "Expected a document id after '#' at position 0 .*got 'a'", 0),
    ("# 3", "Expected a document id after '#' at position 0", 0),
    ('"" + "a"', "Empty text at position 0", 0),
    ("a;b", r"Expected an operator \('\+', '-' or '\*'\) at position 1, got ';'", 1),
    ('__import__("os")', "Expected a term at position 0 .*got '_'", 0),
    ('"a" + os.system("rm")', "Expected an operator .* at position 8, got '.'", 8),
    ("a * 1e999", "The weight of the term at position 0 is too large", 0),
    ("a" * 501, "The expression is 501 characters long; the limit is 500", 500),
    (" + ".join(["a"] * 51), r"Too many terms: at most 50 are allowed \(term 51 .* 200\)", 200),
    ("(" * 21 + "a" + ")" * 21, "Too deeply nested at position 20: at most 20 levels", 20),
    ("mean(" * 21 + "a" + ")" * 21, "Too deeply nested at position 100", 100),
]


@pytest.mark.parametrize(("source", "message", "position"), INVALID)
def test_parse_invalid(source, message, position):
    with pytest.raises(QueryError, match=message) as caught:
        parse_expression(source)
    assert caught.value.position == position


def test_limits_are_inclusive():
    assert len(parse_expression("a" * 500).terms) == 1
    assert len(parse_expression(" + ".join(["a"] * 50)).terms) == 50
    nested = parse_expression("(" * 20 + "a" + ")" * 20)
    assert nested.terms == ((1.0, text("a", 20)),)


def test_pointer_puts_a_caret_under_the_position():
    assert pointer('"a" +', 5) == '"a" +\n     ^'
    assert pointer("ab", 0) == "ab\n^"
    assert pointer("a\n\tb ;", 5) == "\tb ;\n\t  ^"
    assert pointer("ab", 99) == "ab\n  ^"


def unit(vector: np.ndarray) -> np.ndarray:
    return vector / np.linalg.norm(vector)


def test_evaluate_equals_the_normalised_weighted_sum(docs):
    embed = FakeEmbed()
    result = evaluate(parse_expression('2 * "a" - "b" + #1 + "a"'), embed=embed, doc_vectors=docs)
    a, b = text_vector("a").astype(np.float64), text_vector("b").astype(np.float64)
    steps = [2 * a, 2 * a - b, 2 * a - b + docs[1], 3 * a - b + docs[1]]
    assert embed.calls == [["a", "b"]]
    np.testing.assert_allclose(result.vector, unit(steps[-1]), atol=1e-6)
    assert result.path.shape == (4, DIM)
    np.testing.assert_allclose(result.path, [unit(step) for step in steps], atol=1e-6)
    assert result.input_docs == (1,)


def test_evaluate_mean_and_docs_only(docs):
    embed = FakeEmbed()
    result = evaluate(parse_expression("mean(#3, #5, #3)"), embed=embed, doc_vectors=docs)
    assert embed.calls == []
    np.testing.assert_allclose(result.vector, unit(2 * docs[3] + docs[5]), atol=1e-6)
    assert result.input_docs == (3, 5)


def test_path_keeps_a_cancelled_partial_sum_as_zero(docs):
    result = evaluate(parse_expression('"a" - "a" + "b"'), embed=FakeEmbed(), doc_vectors=docs)
    np.testing.assert_array_equal(result.path[1], np.zeros(DIM))
    np.testing.assert_allclose(result.path[2], text_vector("b"), atol=1e-6)
    np.testing.assert_allclose(result.vector, text_vector("b"), atol=1e-6)


def test_unknown_document_id_names_the_valid_range(docs):
    with pytest.raises(QueryError, match=r"#800 at position 5 .* ids go from #0 to #799") as caught:
        evaluate(parse_expression("#0 + #800"), embed=FakeEmbed(), doc_vectors=docs)
    assert caught.value.position == 5


@pytest.mark.parametrize("source", ['"a" - "a"', '0 * "sunny"', "mean(#2, -#2)"])
def test_zero_result_is_explained(source, docs):
    with pytest.raises(QueryError, match="adds up to the zero vector"):
        evaluate(parse_expression(source), embed=FakeEmbed(), doc_vectors=docs)


def test_embed_with_another_dimension_is_a_model_error(docs):
    with pytest.raises(ModelError, match="the documents have 8 dimensions"):
        evaluate(parse_expression('"a"'), embed=lambda texts: np.ones((1, 5)), doc_vectors=docs)


def test_empty_hand_built_expression_is_rejected(docs):
    with pytest.raises(QueryError, match="Empty expression"):
        evaluate(Expression("", ()), embed=FakeEmbed(), doc_vectors=docs)


def brute_force_ranking(docs: np.ndarray, query: np.ndarray, skip: set[int]) -> list[int]:
    scores = [(float(np.dot(row, query)), i) for i, row in enumerate(docs) if i not in skip]
    return [i for _, i in sorted(scores, key=lambda pair: (-pair[0], pair[1]))]


def test_rank_excludes_inputs_by_default(docs):
    result, hits = run_query("#3 + #7", embed=FakeEmbed(), doc_vectors=docs, k=5)
    assert [hit.index for hit in hits] == brute_force_ranking(docs, result.vector, {3, 7})[:5]
    assert not any(hit.is_input for hit in hits)
    assert [hit.score for hit in hits] == sorted((hit.score for hit in hits), reverse=True)
    np.testing.assert_allclose(hits[0].score, docs[hits[0].index] @ result.vector, atol=1e-6)


def test_rank_keeps_inputs_flagged_when_asked(docs):
    result = evaluate(parse_expression("#3 + 0.5 * #7"), embed=FakeEmbed(), doc_vectors=docs)
    hits = rank(docs, result, k=len(docs), exclude_inputs=False)
    assert [hit.index for hit in hits] == brute_force_ranking(docs, result.vector, set())
    assert {hit.index for hit in hits if hit.is_input} == {3, 7}
    alone = rank(
        docs, evaluate(parse_expression("#3"), embed=FakeEmbed(), doc_vectors=docs), 1, False
    )
    assert alone == [Hit(3, pytest.approx(1.0, abs=1e-6), True)]


def test_rank_rejects_a_bad_k(docs):
    result = evaluate(parse_expression("#3"), embed=FakeEmbed(), doc_vectors=docs)
    with pytest.raises(ParameterError, match=r"The 'k' parameter of nearest must be an int"):
        rank(docs, result, k=0)
