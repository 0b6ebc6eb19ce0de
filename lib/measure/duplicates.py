"""Near-duplicate documents: groups whose vectors are at least `threshold` cosine-similar.

How groups are formed (leader grouping, no chaining): rows are visited in order; a row not yet
in a group whose near rows (cosine >= threshold) include some not yet grouped becomes a group's
first member, and those rows join it. So every member is >= threshold to its group's first
member, its earliest row, which is the group's representative. Connected components of the
pairs >= threshold would chain instead: A~B, B~C, C~D puts A and D together however far apart
they are, and one dense topic can become one giant "duplicate" group.

The near rows of each row come from an exact kNN (`lib.reduce.neighbors.exact_knn`, k =
CANDIDATES); a row whose k-th neighbour is still >= threshold may have more, so a first member
with a full list is compared with every row (one matrix-vector product per such group).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lib.errors import ParameterError, check_int, invalid_parameter
from lib.reduce.neighbors import Neighbors, exact_knn, normalize_rows

NONE = -1  # the group of a row that has no near-duplicate
DEFAULT_THRESHOLD = 0.95
CANDIDATES = 16  # neighbours per row from the kNN; rows with more are compared with every row
PREVIEW_TEXTS = 3


@dataclass(frozen=True)
class DuplicateParams:
    """`threshold`: the cosine similarity, in (0, 1], at which two documents count as near
    duplicates of each other (1.0: identical vectors only)."""

    threshold: float = DEFAULT_THRESHOLD
    candidates: int = CANDIDATES

    def __post_init__(self) -> None:
        value = self.threshold
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
            raise invalid_parameter("DuplicateParams", "threshold", "a float in (0, 1]", value)
        check_int("DuplicateParams", "candidates", self.candidates, 1, 1_000)


@dataclass(frozen=True, eq=False)
class Duplicates:
    """Near-duplicate groups of n rows.

    group (n,) int64: group id per row, NONE (-1) for rows with no near duplicate; groups are
    numbered in the order of their first rows. first (g,) int64: each group's first (earliest)
    row, its representative. similarity (n,) float32: each grouped row's cosine to its group's
    first row (1 for the first row itself, NaN outside groups).
    """

    group: np.ndarray
    first: np.ndarray
    similarity: np.ndarray
    threshold: float

    @property
    def n_groups(self) -> int:
        return len(self.first)

    @property
    def n_grouped(self) -> int:
        """Documents that sit in some group (representatives included)."""
        return int((self.group != NONE).sum())

    @property
    def n_removable(self) -> int:
        """Documents a deduplicated corpus leaves out (every member but the first)."""
        return self.n_grouped - self.n_groups

    def summary(self) -> str:
        """One sentence for a page: '312 documents sit in 97 near-duplicate groups'."""
        if not self.n_groups:
            return f"No near-duplicates at cosine ≥ {self.threshold:.2f}."
        documents = "document sits" if self.n_grouped == 1 else "documents sit"
        groups = "group" if self.n_groups == 1 else "groups"
        return (
            f"{self.n_grouped:,} {documents} in {self.n_groups:,} near-duplicate {groups} "
            f"(cosine ≥ {self.threshold:.2f}); keeping one per group leaves out "
            f"{self.n_removable:,}."
        )

    def keep_rows(self) -> np.ndarray:
        """Rows of the deduplicated corpus, in order: every row outside a group and each
        group's first row."""
        keep = self.group == NONE
        keep[self.first] = True
        return np.flatnonzero(keep)

    def members(self, group_id: int) -> np.ndarray:
        """The rows of one group, in order (its first row first)."""
        check_int("Duplicates.members", "group_id", group_id, 0, max(self.n_groups - 1, 0))
        return np.flatnonzero(self.group == group_id)

    def table(self, texts: Sequence[str], preview: int = PREVIEW_TEXTS) -> pd.DataFrame:
        """One row per group, largest first: group, size, first row, rows, and the first
        `preview` texts joined (for a page table; escape them when drawing Markdown)."""
        if len(texts) != len(self.group):
            raise ParameterError(
                f"Duplicates.table needs one text per row ({len(self.group)}); got {len(texts)}."
            )
        check_int("Duplicates.table", "preview", preview, 1)
        order = np.argsort(self.group, kind="stable")
        grouped = order[self.group[order] != NONE]
        starts = np.searchsorted(self.group[grouped], np.arange(self.n_groups + 1))
        rows = [grouped[starts[g] : starts[g + 1]] for g in range(self.n_groups)]
        frame = pd.DataFrame(
            {
                "group": np.arange(self.n_groups, dtype=np.int64),
                "size": np.array([len(r) for r in rows], dtype=np.int64),
                "first row": self.first,
                "rows": [tuple(int(i) for i in r) for r in rows],
                "texts": [" | ".join(texts[int(i)] for i in r[:preview]) for r in rows],
            }
        )
        return frame.sort_values(["size", "group"], ascending=[False, True], ignore_index=True)


def find_duplicates(
    vectors: np.ndarray, params: DuplicateParams = DuplicateParams(), *,
    neighbors: Neighbors | None = None,
) -> Duplicates:  # fmt: skip
    """Near-duplicate groups of the rows of `vectors` (n, d) (normalised here).

    `neighbors`: an exact kNN of these vectors (itself excluded, best first) to reuse instead of
    computing one; it may have any number of columns.
    """
    unit = normalize_rows(vectors)
    n = len(unit)
    if n < 2:
        return _grouped(np.full(n, NONE, np.int64), [], np.full(n, np.nan, np.float32), params)
    if neighbors is None:
        neighbors = exact_knn(unit, min(params.candidates, n - 1))
    elif neighbors.indices.shape[0] != n or neighbors.indices.shape != neighbors.scores.shape:
        raise ParameterError(
            f"The neighbours given have shape {neighbors.indices.shape}; they must have one row "
            f"per vector ({n})."
        )
    return _leader_groups(unit, neighbors, params)


def _leader_groups(unit: np.ndarray, neighbors: Neighbors, params: DuplicateParams) -> Duplicates:
    n, threshold = len(unit), params.threshold
    near = neighbors.scores >= threshold
    full = near[:, -1] & (neighbors.indices.shape[1] < n - 1)  # lists that may miss some
    group = np.full(n, NONE, dtype=np.int64)
    similarity = np.full(n, np.nan, dtype=np.float32)
    firsts: list[int] = []
    for row in np.flatnonzero(near.any(axis=1)):
        if group[row] != NONE:
            continue
        if full[row]:
            scores = unit @ unit[row]
            candidates = np.flatnonzero(scores >= threshold)
            candidates = candidates[candidates != row]
            scores = scores[candidates]
        else:
            candidates = neighbors.indices[row][near[row]]
            scores = neighbors.scores[row][near[row]]
        free = group[candidates] == NONE
        if not free.any():
            continue
        group[row], similarity[row] = len(firsts), 1.0
        group[candidates[free]] = len(firsts)
        similarity[candidates[free]] = scores[free]
        firsts.append(int(row))
    return _grouped(group, firsts, similarity, params)


def _grouped(group, firsts, similarity, params: DuplicateParams) -> Duplicates:
    return Duplicates(group, np.asarray(firsts, dtype=np.int64), similarity, params.threshold)
