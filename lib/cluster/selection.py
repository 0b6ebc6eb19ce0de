"""What a selection of documents holds: how many of each group, and its distinctive words.

The words are c-TF-IDF of the selection against the rest of the corpus, the same measure that
names clusters (`lib.cluster.clusters.cluster_keywords`, with the selection as one class).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from lib.cluster.clusters import cluster_keywords
from lib.errors import ParameterError, check_int

SELECTION_WORDS = 8
WORDS_FROM_AT_MOST = 20_000  # documents read for the words: a seeded sample of a bigger corpus
SELECTED, REST = 1, 0


@dataclass(frozen=True)
class SelectionSummary:
    """A selection of `n_selected` of `n_total` documents.

    groups: one row per group present in the selection, most selected first, with columns
    [<group column>, "selected", "in corpus", "share of selection"];
    words: the selection's most distinctive words, best first (may be empty).
    """

    n_selected: int
    n_total: int
    group_column: str
    groups: pd.DataFrame = field(repr=False)
    words: tuple[str, ...]


def summarize_selection(
    texts: Sequence[str],
    groups: Sequence[object],
    rows: Sequence[int],
    *,
    group_column: str,
    top_n: int = SELECTION_WORDS,
    seed: int = 0,
) -> SelectionSummary:
    """Counts per group of the selected `rows` and their `top_n` distinctive words.

    texts, groups: one per document of the corpus; rows: selected row ids (distinct, in range).
    """
    check_int("summarize_selection", "top_n", top_n, 1, 20)
    if len(texts) != len(groups):
        raise ParameterError(f"Got {len(texts)} texts for {len(groups)} groups; they must match.")
    selected = np.unique(np.asarray(rows, dtype=np.int64))
    if len(selected) and (selected[0] < 0 or selected[-1] >= len(texts)):
        raise ParameterError(
            f"The 'rows' parameter of summarize_selection must be row ids in [0, {len(texts)}); "
            f"got {selected[0] if selected[0] < 0 else selected[-1]} instead."
        )
    return SelectionSummary(
        n_selected=len(selected),
        n_total=len(texts),
        group_column=group_column,
        groups=_group_counts(groups, selected, group_column),
        words=tuple(_selection_words(texts, selected, top_n, seed)),
    )


def _group_counts(groups: Sequence[object], selected: np.ndarray, column: str) -> pd.DataFrame:
    names = pd.Series(list(groups), dtype=object).astype(str)
    chosen = names.iloc[selected].value_counts()
    everywhere = names.value_counts()
    return pd.DataFrame(
        {
            column: chosen.index.tolist(),
            "selected": chosen.to_numpy(dtype=np.int64),
            "in corpus": everywhere.loc[chosen.index].to_numpy(dtype=np.int64),
            "share of selection": (chosen / max(len(selected), 1)).round(3).to_numpy(),
        }
    )


def _selection_words(texts: Sequence[str], selected: np.ndarray, top_n: int, seed: int):
    """c-TF-IDF words of the selection as one class and the rest of the corpus as the other;
    above WORDS_FROM_AT_MOST documents, a seeded sample of each side keeps the cost bounded."""
    if not len(selected):
        return []
    is_selected = np.zeros(len(texts), dtype=bool)
    is_selected[selected] = True
    read = np.arange(len(texts))
    if len(texts) > WORDS_FROM_AT_MOST:
        rng, half = np.random.default_rng(seed), WORDS_FROM_AT_MOST // 2
        sides = (np.flatnonzero(is_selected), np.flatnonzero(~is_selected))
        read = np.concatenate([_at_most(side, half, rng) for side in sides])
    labels = np.where(is_selected[read], SELECTED, REST)
    return cluster_keywords([texts[i] for i in read], labels, top_n).get(SELECTED, [])


def _at_most(rows: np.ndarray, limit: int, rng: np.random.Generator) -> np.ndarray:
    return rows if len(rows) <= limit else np.sort(rng.choice(rows, size=limit, replace=False))
