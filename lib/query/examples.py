"""Example expressions for the corpus on screen, built from its own groups, documents and words.

A group is a label value or a found cluster. The examples take the most typical document of the
largest group (the one nearest the group's mean direction), the group most similar to it, and
each group's most distinctive words (c-TF-IDF, stop words left out), so every word they quote
occurs in the corpus and every #id exists. Without a text model they use document ids only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lib.cluster.clusters import NOISE, cluster_keywords
from lib.errors import ParameterError, check_int
from lib.query.expressions import parse_expression
from lib.reduce.neighbors import normalize_rows

MAX_EXAMPLES = 8


@dataclass(frozen=True)
class Example:
    """An expression to run (`expression`) and what it asks, in words (`description`)."""

    expression: str
    description: str


@dataclass(frozen=True)
class Group:
    """One group of documents: its `name`, its most typical document `row` and its `words`."""

    name: str
    row: int
    words: tuple[str, ...]
    centroid: np.ndarray


def corpus_examples(
    texts: Sequence[str],
    vectors: np.ndarray,
    groups: np.ndarray,
    group_names: dict[int, str],
    *,
    free_text: bool,
    max_examples: int = 4,
) -> list[Example]:
    """Up to `max_examples` example expressions for this corpus, the best first (a default).

    `groups` (n,) int gives each document's group id (NOISE = -1: in no group) and `group_names`
    a name per id. With `free_text` the examples mix documents and quoted words of the corpus;
    without it (vectors uploaded without a text model) they combine #ids only. Every example is
    parsed and its ids checked before it is returned.
    """
    check_int("corpus_examples", "max_examples", max_examples, 1, MAX_EXAMPLES)
    groups = np.asarray(groups)
    if not len(texts) == len(vectors) == len(groups):
        raise ParameterError(
            f"Got {len(texts)} texts, {len(vectors)} vectors and {len(groups)} group ids; "
            "they must match."
        )
    if len(vectors) == 0:
        return []
    found = _largest_groups(texts, normalize_rows(vectors), groups, group_names)
    worded = [group for group in found if group.words]
    if free_text and len(worded) >= 2:
        examples = _text_examples(_pick_three(worded))
    else:
        examples = _id_examples(_pick_three(found) if len(found) >= 2 else [], len(vectors))
    for example in examples:
        _check(example, len(texts))
    return examples[:max_examples]


def _check(example: Example, n_documents: int) -> None:
    """Parse the example and check that its #ids are rows of the corpus (a bug otherwise)."""
    for _, term in parse_expression(example.expression).terms:
        if term.kind == "doc" and not 0 <= int(term.value) < n_documents:
            raise ParameterError(
                f"Example {example.expression!r} names #{term.value}; ids must be below "
                f"{n_documents}"
            )


def _largest_groups(
    texts: Sequence[str], vectors: np.ndarray, groups: np.ndarray, names: dict[int, str]
) -> list[Group]:
    """Every group with at least two documents, largest first, with its typical row and words."""
    ids, sizes = np.unique(groups[groups != NOISE], return_counts=True)
    order = [int(ids[i]) for i in np.argsort(-sizes, kind="stable") if sizes[i] >= 2]
    words = cluster_keywords(texts, groups, top_n=2) if order else {}
    found = []
    for group_id in order:
        rows = np.flatnonzero(groups == group_id)
        centroid = vectors[rows].mean(axis=0)
        typical = int(rows[np.argmax(vectors[rows] @ centroid)])
        name = str(names.get(group_id, f"group {group_id}"))
        found.append(Group(name, typical, tuple(words.get(group_id, ())), centroid))
    return found


def _pick_three(groups: list[Group]) -> list[Group]:
    """The largest group, the group most similar to it, and the next largest other group."""
    first, others = groups[0], groups[1:]
    similarity = [float(first.centroid @ group.centroid) for group in others]
    second = others[int(np.argmax(similarity))]
    rest = [group for group in others if group is not second]
    return [first, second, rest[0] if rest else second]


def _text_examples(groups: list[Group]) -> list[Example]:
    a, b, c = groups
    word_a = a.words[0]
    word_b = next((word for word in b.words if word != word_a), word_a)
    word_c = next((word for word in c.words if word not in (word_a, word_b)), word_b)
    return [
        Example(
            f'#{a.row} - "{word_a}" + "{word_b}"',
            f"#{a.row}, a typical “{a.name}” document, moved from “{word_a}” towards "
            f"“{word_b}” (“{b.name}”)",
        ),
        Example(f'"{word_b}"', f"the documents nearest the word “{word_b}”"),
        Example(f'mean("{word_a}", "{word_c}")', f"halfway between “{a.name}” and “{c.name}”"),
        Example(f"#{a.row} + #{c.row}", f"a “{a.name}” document plus a “{c.name}” document"),
    ]


def _id_examples(groups: list[Group], n_documents: int) -> list[Example]:
    """Examples from document ids: typical documents of three groups, else the first rows."""
    if not groups and n_documents < 3:
        return [Example("#0", "the documents nearest #0")]
    if groups:
        a, b, c = (group.row for group in groups)
        names = [group.name for group in groups]
    else:
        a, b, c = 0, 1, 2
        names = [f"document #{row}" for row in (a, b, c)]
    return [
        Example(f"#{a}", f"the documents nearest #{a} (“{names[0]}”)"),
        Example(f"#{a} + #{b}", f"between “{names[0]}” and “{names[1]}”"),
        Example(f"#{a} - #{b}", f"like #{a} (“{names[0]}”) and unlike #{b} (“{names[1]}”)"),
        Example(f"mean(#{a}, #{b}, #{c})", "the average of three typical documents"),
    ]
