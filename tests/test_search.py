"""Search by keyword, regular expression and meaning, each bounded in the work it may do."""

import pytest

from lib.errors import ParameterError, QueryError
from lib.query.search import (
    MAX_QUERY_CHARS,
    SearchLimitError,
    SearchParams,
    available_engine,
    search_meaning,
    search_texts,
)
from lib.reduce.neighbors import normalize_rows

TEXTS = [
    "The computer crashed again",
    "A new Computer lab opened; computers everywhere",
    "Rain is forecast for tomorrow",
    "computing power and the cloud",
    "Nothing to see here",
]

try:
    import re2  # noqa: F401

    ENGINES = ["re2", "regex"]
except ImportError:
    ENGINES = ["regex"]


def test_keyword_search_finds_every_word_in_any_case_and_counts_matches():
    found = search_texts(TEXTS, SearchParams("computer"))
    assert found.rows.tolist() == [0, 1]
    assert found.scores.tolist() == [1, 2]
    assert found.count == 2 and found.complete and found.rows_scanned == len(TEXTS)
    assert search_texts(TEXTS, SearchParams("computer lab")).rows.tolist() == [1]
    assert search_texts(TEXTS, SearchParams("Computer", ignore_case=False)).rows.tolist() == [1]
    assert search_texts(TEXTS, SearchParams("zebra")).count == 0


def test_the_mask_marks_the_hits():
    assert search_texts(TEXTS, SearchParams("rain")).mask(5).tolist() == [0, 0, 1, 0, 0]


@pytest.mark.parametrize("engine", ENGINES)
def test_regex_search_on_each_engine(engine):
    found = search_texts(TEXTS, SearchParams(r"comput(er|ing)\b", mode="regex"), engine=engine)
    assert found.rows.tolist() == [0, 1, 3]
    strict = SearchParams(r"^The", mode="regex", ignore_case=False)
    assert search_texts(TEXTS, strict, engine=engine).rows.tolist() == [0]


@pytest.mark.parametrize("engine", ENGINES)
def test_a_malformed_pattern_is_a_query_error(engine):
    with pytest.raises(QueryError, match="regular expression is malformed"):
        search_texts(TEXTS, SearchParams("(unclosed", mode="regex"), engine=engine)


def test_the_query_length_is_capped_and_named():
    with pytest.raises(ParameterError, match=f"at most {MAX_QUERY_CHARS} characters"):
        SearchParams("a" * (MAX_QUERY_CHARS + 1), mode="regex")
    with pytest.raises(ParameterError, match="non-blank str"):
        SearchParams("   ")
    with pytest.raises(ParameterError, match="'mode' parameter"):
        SearchParams("x", mode="fuzzy")


def test_a_search_reads_at_most_its_character_cap_and_says_so():
    texts = ["abc " * 25] * 100  # 100 characters each
    found = search_texts(texts, SearchParams("abc"), max_chars=1_000)
    assert found.rows_scanned == 10 and found.count == 10
    assert not found.complete and "first 10 of 100 documents" in found.note
    assert "1,000 characters" in found.note


CATASTROPHIC = r"(a|aa)+$"  # exponential backtracking on "aaa...ab" (a backtracking engine)


def test_a_catastrophic_pattern_is_stopped_by_the_backtracking_engines_budget():
    rows = ["a" * 30 + "b"] * 200
    with pytest.raises(SearchLimitError, match=r"longer than the 0\.05 s") as stopped:
        search_texts(rows, SearchParams(CATASTROPHIC, mode="regex"), engine="regex",
                     time_budget_s=0.05)  # fmt: skip
    # the budget is for the whole search: it stops within the first rows, not one budget per row
    assert stopped.value.rows_scanned <= 2


@pytest.mark.skipif("re2" not in ENGINES, reason="google-re2 is not installed")
def test_a_catastrophic_pattern_is_linear_work_on_re2():
    rows = ["a" * 30 + "b"] * 2_000 + ["aaaa"]
    found = search_texts(rows, SearchParams(CATASTROPHIC, mode="regex"), engine="re2")
    assert found.rows.tolist() == [2_000] and found.rows_scanned == len(rows)


def test_the_default_engine_is_re2_when_installed():
    assert available_engine() == ENGINES[0]


def test_search_by_meaning_ranks_rows_by_cosine(fake_model):
    texts = ["the rocket and the orbit", "garlic and flour", "a planet in orbit", "the striker"]
    vectors = normalize_rows(fake_model.encode(texts))
    query = fake_model.encode(["astronaut telescope"])[0]
    found = search_meaning(vectors, query, SearchParams("space", mode="meaning", limit=2))
    assert sorted(found.rows.tolist()) == [0, 2]
    assert found.scores[0] >= found.scores[1] and found.rows_scanned == 4
    with pytest.raises(ParameterError, match="needs vectors"):
        search_texts(texts, SearchParams("space", mode="meaning"))
    assert search_meaning(vectors, query, SearchParams("x", mode="meaning", limit=9)).count == 4
