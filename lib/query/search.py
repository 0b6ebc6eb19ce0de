"""Search a corpus: by keyword, by regular expression, or by meaning (the query's nearest rows).

Every search is bounded, so that one visitor cannot hold a hosted server:
- a query is at most MAX_QUERY_CHARS characters;
- a text search reads at most MAX_SCANNED_CHARS characters of text (rows in order); past that it
  stops and says so in the result (`complete` False, `note`);
- a regular expression runs on RE2 (`google-re2`, linear time in the text, no backtracking) when
  it is installed. Without it, Python's `regex` module runs it with a time budget for the whole
  search (REGEX_TIME_BUDGET_S), and a pattern that spends it is refused with a message naming
  the limit (`(a|aa)+$` on "aaa…ab" would otherwise take years per row).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lib.errors import ParameterError, QueryError, check_choice, check_int, invalid_parameter
from lib.reduce.neighbors import top_k

KEYWORD, REGEX, MEANING = "keyword", "regex", "meaning"
MODES = (KEYWORD, REGEX, MEANING)
ENGINES = ("re2", "regex")  # regular-expression engines, preferred first
MAX_QUERY_CHARS = 200
MAX_SCANNED_CHARS = 20_000_000  # characters of text one search reads (20 MB of ASCII)
MAX_MEANING_HITS = 1_000
DEFAULT_MEANING_HITS = 50
REGEX_TIME_BUDGET_S = 1.0  # the backtracking engine's budget for one whole search
RE2_MAX_MEM = 8 << 20  # bytes RE2 may use for one compiled pattern
MAX_MATCHES_COUNTED = 1_000  # matches counted per row (a row's score)


@dataclass(frozen=True)
class SearchParams:
    """What to look for and how.

    mode: "keyword" (every whitespace-separated word of `query` occurs in the text, any case),
    "regex" (the pattern matches somewhere in the text), or "meaning" (the `limit` rows nearest
    the query's vector by cosine). ignore_case applies to keyword and regex searches.
    """

    query: str
    mode: str = KEYWORD
    ignore_case: bool = True
    limit: int = DEFAULT_MEANING_HITS

    def __post_init__(self) -> None:
        check_choice("SearchParams", "mode", self.mode, MODES)
        if not isinstance(self.query, str) or not self.query.strip():
            raise invalid_parameter("SearchParams", "query", "a non-blank str", self.query)
        if len(self.query) > MAX_QUERY_CHARS:
            raise invalid_parameter(
                "SearchParams",
                "query",
                f"at most {MAX_QUERY_CHARS} characters long",
                f"{len(self.query)} characters",
            )
        if not isinstance(self.ignore_case, bool):
            raise invalid_parameter("SearchParams", "ignore_case", "a bool", self.ignore_case)
        check_int("SearchParams", "limit", self.limit, 1, MAX_MEANING_HITS)


@dataclass(frozen=True)
class SearchResult:
    """Hits of one search.

    rows (m,) int64: matching rows, in row order for text searches, best first for meaning.
    scores (m,) float32: matches per row (capped at MAX_MATCHES_COUNTED) for text searches,
    cosine for meaning. rows_scanned: rows read (all of them unless the size cap stopped the
    search: then `complete` is False and `note` says where it stopped).
    """

    rows: np.ndarray
    scores: np.ndarray
    rows_scanned: int
    complete: bool = True
    note: str = ""

    @property
    def count(self) -> int:
        return len(self.rows)

    def mask(self, n: int) -> np.ndarray:
        """(n,) bool: True at the hits (for highlighting on a map, filtering a table)."""
        hit = np.zeros(n, dtype=bool)
        hit[self.rows] = True
        return hit


def search_texts(
    texts: Sequence[str], params: SearchParams, *, engine: str | None = None,
    time_budget_s: float = REGEX_TIME_BUDGET_S, max_chars: int = MAX_SCANNED_CHARS,
) -> SearchResult:  # fmt: skip
    """Keyword or regex search of `texts` (corpus texts, or a metadata column as strings).

    `engine` picks the regex engine ("re2" or "regex"; None: RE2 when installed). Raises
    QueryError for a malformed pattern or one that spends the time budget.
    """
    if params.mode == MEANING:
        raise ParameterError("A search by meaning needs vectors: call search_meaning.")
    check_int("search_texts", "max_chars", max_chars, 1)
    if params.mode == KEYWORD:
        matcher = _keyword_matcher(params.query, params.ignore_case)
    else:
        matcher = _regex_matcher(params.query, params.ignore_case, engine, time_budget_s)
    return _scan(texts, matcher, max_chars)


def search_meaning(
    vectors: np.ndarray, query_vector: np.ndarray, params: SearchParams
) -> SearchResult:
    """The `params.limit` rows of unit `vectors` (n, d) nearest `query_vector` (d,), best first."""
    if params.mode != MEANING:
        raise invalid_parameter("search_meaning", "params.mode", repr(MEANING), params.mode)
    hits = top_k(np.asarray(vectors), query_vector, min(params.limit, max(len(vectors), 1)))
    return SearchResult(hits.indices, hits.scores, rows_scanned=len(vectors))


def available_engine() -> str:
    """The regex engine used by default: "re2" when google-re2 is installed, else "regex"."""
    try:
        import re2  # noqa: F401
    except ImportError:
        return "regex"
    return "re2"


class SearchLimitError(QueryError):
    """A search stopped by its time budget; `rows_scanned` rows were read before it stopped."""

    def __init__(self, message: str, rows_scanned: int) -> None:
        super().__init__(message)
        self.rows_scanned = rows_scanned


class _OutOfTime(Exception):
    """The backtracking engine spent the search's time budget."""


class _Matcher:
    """Counts matches in one text (raises _OutOfTime when the time budget is spent)."""

    budget_s = 0.0

    def count(self, text: str) -> int:
        raise NotImplementedError


class _KeywordMatcher(_Matcher):
    def __init__(self, words: list[str], ignore_case: bool) -> None:
        self.words = words
        self.ignore_case = ignore_case

    def count(self, text: str) -> int:
        text = text.casefold() if self.ignore_case else text
        counts = [text.count(word) for word in self.words]
        return min(counts) and min(sum(counts), MAX_MATCHES_COUNTED)


def _keyword_matcher(query: str, ignore_case: bool) -> _Matcher:
    words = query.split()
    return _KeywordMatcher([w.casefold() for w in words] if ignore_case else words, ignore_case)


class _RegexMatcher(_Matcher):
    """A compiled pattern; with a deadline for the backtracking engine."""

    def __init__(self, pattern, deadline: float | None, budget_s: float) -> None:
        self.pattern = pattern
        self.deadline = deadline
        self.budget_s = budget_s

    def count(self, text: str) -> int:
        if self.deadline is None:
            return _count_matches(self.pattern.finditer(text))
        remaining = self.deadline - time.monotonic()
        try:
            if remaining <= 0:
                raise TimeoutError
            return _count_matches(self.pattern.finditer(text, timeout=remaining))
        except TimeoutError:
            raise _OutOfTime from None


def _count_matches(matches) -> int:
    found = 0
    for _ in matches:
        found += 1
        if found >= MAX_MATCHES_COUNTED:
            break
    return found


def _regex_matcher(
    pattern: str, ignore_case: bool, engine: str | None, time_budget_s: float
) -> _Matcher:
    engine = available_engine() if engine is None else check_choice(
        "search_texts", "engine", engine, ENGINES
    )  # fmt: skip
    if isinstance(time_budget_s, bool) or not isinstance(time_budget_s, int | float):
        raise invalid_parameter("search_texts", "time_budget_s", "a positive float", time_budget_s)
    if not time_budget_s > 0:
        raise invalid_parameter("search_texts", "time_budget_s", "a positive float", time_budget_s)
    source = ("(?i)" if ignore_case else "") + pattern
    if engine == "re2":
        return _RegexMatcher(_compile_re2(source), None, time_budget_s)
    try:
        import regex
    except ImportError:
        raise QueryError(
            "Regular expression search needs a safe engine: pip install google-re2"
        ) from None
    try:
        compiled = regex.compile(source, regex.VERSION0)
    except regex.error as error:
        raise QueryError(f"That regular expression is malformed: {error}.") from None
    return _RegexMatcher(compiled, time.monotonic() + time_budget_s, float(time_budget_s))


def _compile_re2(source: str):
    try:
        import re2
    except ImportError:
        raise QueryError("The RE2 regex engine is not installed: pip install google-re2") from None
    options = re2.Options()
    options.log_errors = False
    options.max_mem = RE2_MAX_MEM
    try:
        return re2.compile(source, options)
    except re2.error as error:
        reason = (
            error.args[0].decode() if error.args and isinstance(error.args[0], bytes) else error
        )
        raise QueryError(
            f"That regular expression is malformed or unsupported ({reason}). Searches use RE2: "
            "no back-references or look-arounds."
        ) from None


def _scan(texts: Sequence[str], matcher: _Matcher, max_chars: int) -> SearchResult:
    """Rows in order, until the texts read would pass `max_chars`."""
    rows, scores, read = [], [], 0
    for row, text in enumerate(texts):
        text = str(text)
        if read + len(text) > max_chars:
            note = (
                f"Searched the first {row:,} of {len(texts):,} documents: a search reads at "
                f"most {max_chars:,} characters."
            )
            return _result(rows, scores, row, note)
        read += len(text)
        try:
            found = matcher.count(text)
        except _OutOfTime:
            raise SearchLimitError(
                f"That regular expression took longer than the {matcher.budget_s:g} s a search "
                f"may take (stopped at document {row + 1:,} of {len(texts):,}); nested repeats "
                "such as (a+)+ make it backtrack. Simplify the pattern or search by keyword.",
                rows_scanned=row + 1,
            ) from None
        if found:
            rows.append(row)
            scores.append(found)
    return _result(rows, scores, len(texts), "")


def _result(rows: list[int], scores: list[int], scanned: int, note: str) -> SearchResult:
    return SearchResult(
        np.asarray(rows, dtype=np.int64),
        np.asarray(scores, dtype=np.float32),
        rows_scanned=scanned,
        complete=not note,
        note=note,
    )
