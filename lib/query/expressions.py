"""Vector arithmetic over embeddings: parse an expression safely (no eval), evaluate it, rank hits.

The language, whitespace-insensitive:

    expr   := term (('+' | '-') term)*
    term   := ('+' | '-')* (number '*')* factor ('*' number)*
    factor := "quoted text" | 'quoted text' | #id | bare words | '(' expr ')'
            | mean '(' expr (',' expr)* ')'

Quoted text takes backslash escapes for its quote and for the backslash (\\" \\' \\\\). A bare
phrase is a run of words (letters, digits, apostrophes and hyphens, starting with a letter or
digit) separated by spaces, ended by anything else: `new york + paris` is two terms, while a hyphen
inside a word is part of it (`self-esteem`; write `king - man` to subtract). Numbers are 2, 0.5, .5,
1e-1. A parsed expression is flattened to a weighted sum of leaves: parentheses distribute their
weight and mean(a, b) gives each part weight 1/2. Each flattened weight must be at most MAX_WEIGHT
in size, so evaluating never overflows.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from lib.errors import ModelError, QueryError, check_int
from lib.reduce.neighbors import normalize_rows, top_k

MAX_LENGTH = 500
MAX_TERMS = 50
MAX_DEPTH = 20
# Largest weight a term may end up with (after parentheses and mean() distribute theirs): 1e6
# leaves a factor of ~1e32 before float32 (used to place the query on the map) overflows.
MAX_WEIGHT = 1e6
EXAMPLE = '"king" - "man" + "woman"'
TERM_KINDS = "(a \"quoted text\", a #id, a word, or '(')"

_NUMBER = re.compile(r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_SIGNED_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_DIGITS = re.compile(r"\d+")
_ESCAPABLE = ("\\", '"', "'")


@dataclass(frozen=True)
class Term:
    """One leaf: kind "text" (quoted or bare; str value) or "doc" (#id; int value) at `position`."""

    kind: str
    value: str | int
    position: int


@dataclass(frozen=True)
class Expression:
    """A parsed expression flattened to (weight, leaf) pairs in source order."""

    source: str
    terms: tuple[tuple[float, Term], ...]


@dataclass(frozen=True)
class QueryResult:
    """An evaluated expression: `vector` (d,) unit, `path` (len(terms), d) unit partial sums.

    A partial sum that cancels to zero (after "a" - "a" + "b", say) stays a zero row in `path`.
    """

    vector: np.ndarray
    path: np.ndarray
    input_docs: tuple[int, ...]


@dataclass(frozen=True)
class Hit:
    """One ranked row: its index, cosine score, and whether the expression used it as an input."""

    index: int
    score: float
    is_input: bool


Weighted = list[tuple[float, Term]]


def _scaled(terms: Weighted, weight: float) -> Weighted:
    """Multiply every weight of a flattened sub-expression (parentheses distribute)."""
    return [(weight * w, term) for w, term in terms]


def _word_start(char: str) -> bool:
    """Whether `char` can start a bare word (a letter or digit; not a quote or an operator)."""
    return char.isalnum()


def _word_char(char: str) -> bool:
    """Whether `char` can continue a bare word."""
    return char.isalnum() or char in "'-"


class _Parser:
    """Recursive-descent parser over characters; every error carries the position it is about."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.pos = 0
        self.depth = 0
        self.leaves = 0

    def peek(self) -> str:
        """Skip whitespace and return the next character, or "" at the end."""
        while self.pos < len(self.source) and self.source[self.pos].isspace():
            self.pos += 1
        return self.source[self.pos : self.pos + 1]

    def found(self) -> str:
        """Describe what stands at the current position, for 'got ...' in messages."""
        char = self.peek()
        return repr(char) if char else "the end"

    def parse(self) -> Weighted:
        """Parse the whole source; anything left after a complete expression is an error."""
        if not self.peek():
            raise QueryError(f"Empty expression: type something like {EXAMPLE}", 0)
        terms = self.sum("")
        char, pos = self.peek(), self.pos
        if char == ")":
            raise QueryError(f"Unexpected ')' at position {pos}: there is no '(' to close", pos)
        if char == ",":
            raise QueryError(
                f"Unexpected ',' at position {pos}: commas only separate the parts of mean(...)",
                pos,
            )
        if char:
            raise QueryError(
                f"Expected an operator ('+', '-' or '*') at position {pos}, got {self.found()}", pos
            )
        return terms

    def sum(self, after: str) -> Weighted:
        """expr := term (('+' | '-') term)*"""
        terms = self.term(after)
        while (op := self.peek()) in ("+", "-"):
            self.pos += 1
            terms += _scaled(self.term(f" after '{op}'"), 1.0 if op == "+" else -1.0)
        return terms

    def term(self, after: str) -> Weighted:
        """term := sign* (number '*')* factor ('*' number)*"""
        weight = 1.0
        while (char := self.peek()) in ("+", "-"):
            self.pos += 1
            weight = -weight if char == "-" else weight
            after = f" after '{char}'"
        while (number := self.weight_prefix()) is not None:
            weight *= number
            after = " after '*'"
        terms = self.factor(after)
        while self.peek() == "*":
            self.pos += 1
            weight *= self.weight_suffix()
        return _scaled(terms, weight)

    def weight_prefix(self) -> float | None:
        """Consume `number '*'` and return the number, or None when no weight starts here."""
        self.peek()
        start = self.pos
        match = _NUMBER.match(self.source, start)
        if match is None:
            return None
        self.pos = match.end()
        following = self.peek()
        if following == "*":
            self.pos += 1
            return float(match.group())
        if following in ('"', "'", "#", "(") or match.group().startswith("."):
            raise QueryError(
                f"Expected '*' after the number {match.group()} at position {self.pos} "
                f'(e.g. 0.5 * "sunny"), got {self.found()}',
                self.pos,
            )
        self.pos = start  # a bare word that starts with digits, such as 1990s
        return None

    def weight_suffix(self) -> float:
        """Consume the number after a '*'."""
        self.peek()
        match = _SIGNED_NUMBER.match(self.source, self.pos)
        if match is None or self.source[match.end() : match.end() + 1].isalnum():
            raise QueryError(
                f"Expected a number after '*' at position {self.pos}: only numbers can multiply "
                f'a term (e.g. "sunny" * 2), got {self.found()}',
                self.pos,
            )
        self.pos = match.end()
        return float(match.group())

    def factor(self, after: str) -> Weighted:
        """factor := quoted | #id | bare phrase | '(' expr ')' | mean '(' expr, ... ')'"""
        char, start = self.peek(), self.pos
        if char in ('"', "'"):
            return [(1.0, self.leaf("text", self.quoted(), start))]
        if char == "#":
            return [(1.0, self.leaf("doc", self.doc_id(), start))]
        if char == "(":
            self.pos += 1
            return self.group(start, "(", "')'", " after '('")
        if char and _word_start(char):
            end = start
            while end < len(self.source) and _word_char(self.source[end]):
                end += 1
            if self.source[start:end].casefold() == "mean":
                self.pos = end
                if self.peek() == "(":
                    self.pos += 1
                    return self.group(start, "mean(", "',' or ')'", " after 'mean('")
                self.pos = start
            return [(1.0, self.leaf("text", self.phrase(), start))]
        if char == "*":
            raise QueryError(
                f"Expected a number before '*' at position {start} (e.g. 0.5 * \"sunny\")", start
            )
        raise QueryError(
            f"Expected a term{after} at position {start} {TERM_KINDS}, got {self.found()}", start
        )

    def group(self, start: int, opener: str, closers: str, after: str) -> Weighted:
        """The inside of '(' ... ')' or mean( ... ), after the opener; mean averages its parts."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise QueryError(
                f"Too deeply nested at position {start}: at most {MAX_DEPTH} levels of "
                "parentheses are allowed",
                start,
            )
        parts = [self.sum(after)]
        while opener == "mean(" and self.peek() == ",":
            self.pos += 1
            parts.append(self.sum(" after ','"))
        char = self.peek()
        if not char:
            raise QueryError(
                f"Unclosed '{opener}' at position {start}: add a ')' to close it", start
            )
        if char != ")":
            raise QueryError(
                f"Expected an operator or {closers} at position {self.pos} to close the "
                f"'{opener}' at position {start}, got {self.found()}",
                self.pos,
            )
        self.pos += 1
        self.depth -= 1
        return [pair for part in parts for pair in _scaled(part, 1.0 / len(parts))]

    def leaf(self, kind: str, value: str | int, start: int) -> Term:
        """Count a leaf against MAX_TERMS and build it."""
        self.leaves += 1
        if self.leaves > MAX_TERMS:
            raise QueryError(
                f"Too many terms: at most {MAX_TERMS} are allowed (term {self.leaves} starts at "
                f"position {start})",
                start,
            )
        return Term(kind, value, start)

    def quoted(self) -> str:
        """A quoted text; a backslash escapes the quote or another backslash."""
        start, quote = self.pos, self.source[self.pos]
        chars: list[str] = []
        i = start + 1
        while i < len(self.source) and self.source[i] != quote:
            if self.source[i] == "\\" and self.source[i + 1 : i + 2] in _ESCAPABLE:
                i += 1
            chars.append(self.source[i])
            i += 1
        if i == len(self.source):
            raise QueryError(
                f"Unclosed quote starting at position {start}: add a closing {quote}", start
            )
        self.pos = i + 1
        text = "".join(chars)
        if not text.strip():
            raise QueryError(
                f"Empty text at position {start}: put some words between the quotes", start
            )
        return text

    def doc_id(self) -> int:
        """#digits, with nothing between '#' and the digits."""
        start = self.pos
        match = _DIGITS.match(self.source, start + 1)
        if match is None:
            self.pos += 1
            got = repr(self.source[self.pos]) if self.pos < len(self.source) else "the end"
            raise QueryError(
                f"Expected a document id after '#' at position {start} (digits, e.g. #12), "
                f"got {got}",
                start,
            )
        self.pos = match.end()
        return int(match.group())

    def phrase(self) -> str:
        """Bare words separated by whitespace, joined by single spaces."""
        words = []
        while (char := self.peek()) and _word_start(char):
            end = self.pos + 1
            while end < len(self.source) and _word_char(self.source[end]):
                end += 1
            words.append(self.source[self.pos : end])
            self.pos = end
        return " ".join(words)


def parse_expression(source: str) -> Expression:
    """Parse `source` into a flat weighted sum of leaves; QueryError(message, position) if bad."""
    if len(source) > MAX_LENGTH:
        raise QueryError(
            f"The expression is {len(source)} characters long; the limit is {MAX_LENGTH}",
            MAX_LENGTH,
        )
    terms = _Parser(source).parse()
    for weight, term in terms:
        if not abs(weight) <= MAX_WEIGHT:  # also NaN, from 0 * 1e999
            got = f"{weight:.3g}" if math.isfinite(weight) else "a number too large to compute"
            raise QueryError(
                f"The weight of the term at position {term.position} is too large: weights must "
                f"be at most {MAX_WEIGHT:g} in size (after multiplying out parentheses); got "
                f"{got} instead. Use smaller numbers",
                term.position,
            )
    return Expression(source, tuple(terms))


def pointer(source: str, position: int) -> str:
    """The line of `source` holding `position` with a caret under it, for showing errors."""
    position = min(max(position, 0), len(source))
    start = source.rfind("\n", 0, position) + 1
    end = source.find("\n", position)
    line = source[start : len(source) if end == -1 else end]
    pad = "".join("\t" if char == "\t" else " " for char in source[start:position])
    return f"{line}\n{pad}^"


def _check_doc_ids(terms: Iterable[Term], n_docs: int) -> None:
    """Raise for the first #id that is not a row of the document vectors."""
    for term in terms:
        if term.kind == "doc" and int(term.value) >= n_docs:
            valid = f"ids go from #0 to #{n_docs - 1}" if n_docs else "no documents are loaded"
            raise QueryError(
                f"Document #{term.value} at position {term.position} does not exist: {valid}",
                term.position,
            )


def _leaf_vectors(
    expression: Expression, embed: Callable[[list[str]], np.ndarray], doc_vectors: np.ndarray
) -> np.ndarray:
    """Unit vectors (len(terms), d) for every leaf; distinct texts embedded in one call."""
    leaves = [term for _, term in expression.terms]
    _check_doc_ids(leaves, len(doc_vectors))
    texts = list(dict.fromkeys(str(t.value) for t in leaves if t.kind == "text"))
    dim = doc_vectors.shape[1]
    embedded = np.empty((0, dim), np.float32)
    if texts:
        embedded = np.asarray(embed(texts), dtype=np.float32)
        if embedded.shape != (len(texts), dim):
            raise ModelError(
                f"The text model returned vectors of shape {embedded.shape} for {len(texts)} "
                f"texts, but the documents have {dim} dimensions; embed the corpus and the "
                "query with the same model"
            )
    row_of_text = {text: row for row, text in enumerate(texts)}
    rows = [
        embedded[row_of_text[t.value]] if t.kind == "text" else doc_vectors[t.value] for t in leaves
    ]
    return normalize_rows(np.stack(rows))


def evaluate(
    expression: Expression,
    *,
    embed: Callable[[list[str]], np.ndarray],
    doc_vectors: np.ndarray,
) -> QueryResult:
    """Weighted sum of the leaves' unit vectors (texts via `embed`, #ids rows of `doc_vectors`)."""
    if not expression.terms:
        raise QueryError(f"Empty expression: type something like {EXAMPLE}", 0)
    weights = np.array([weight for weight, _ in expression.terms], dtype=np.float64)
    leaves = _leaf_vectors(expression, embed, doc_vectors).astype(np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        partial = np.cumsum(weights[:, None] * leaves, axis=0)
        in_float32 = partial.astype(np.float32)  # the page places the query in float32
    if not np.isfinite(partial).all() or not np.isfinite(in_float32).all():
        raise QueryError(
            "The expression must add up to finite numbers; got infinite or undefined values "
            "instead (a weight or a vector is out of range). Use smaller weights",
            0,
        )
    norm = float(np.linalg.norm(partial[-1]))
    if norm <= 1e-6 * float(np.abs(weights).sum()):
        raise QueryError(
            "The expression adds up to the zero vector (its terms cancel out, as in "
            '"a" - "a"), so it points nowhere to search; change a term or a weight',
            0,
        )
    docs = (int(term.value) for _, term in expression.terms if term.kind == "doc")
    return QueryResult(
        vector=(partial[-1] / norm).astype(np.float32),
        path=normalize_rows(partial),
        input_docs=tuple(dict.fromkeys(docs)),
    )


def nearest(
    vectors: np.ndarray,
    query: np.ndarray,
    inputs: Sequence[int] = (),
    k: int = 10,
    exclude_inputs: bool = True,
) -> list[Hit]:
    """The k unit rows of `vectors` closest to `query`; `inputs` skipped or flagged is_input."""
    check_int("nearest", "k", k, 1)
    found = top_k(vectors, query, k, exclude=inputs if exclude_inputs else ())
    used = set(inputs)
    return [
        Hit(int(index), float(score), int(index) in used)
        for index, score in zip(found.indices, found.scores, strict=True)
    ]


def rank(
    doc_vectors: np.ndarray, result: QueryResult, k: int = 10, exclude_inputs: bool = True
) -> list[Hit]:
    """The k documents (unit rows) closest to `result`; its #ids skipped or flagged is_input."""
    return nearest(doc_vectors, result.vector, result.input_docs, k, exclude_inputs)


def run_query(
    source: str,
    *,
    embed: Callable[[list[str]], np.ndarray],
    doc_vectors: np.ndarray,
    k: int = 10,
    exclude_inputs: bool = True,
) -> tuple[QueryResult, list[Hit]]:
    """Parse, evaluate and rank in one call, for the page."""
    result = evaluate(parse_expression(source), embed=embed, doc_vectors=doc_vectors)
    return result, rank(doc_vectors, result, k, exclude_inputs)
