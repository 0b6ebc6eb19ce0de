"""The few numbers the guided tour shows that no other module computes.

Small and pure: a glance at one embedding, and how well found clusters match known labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lib.errors import ParameterError, check_int


@dataclass(frozen=True)
class VectorSummary:
    """One embedding at a glance: `dimension` numbers, Euclidean `norm`, the `first` values (m,)."""

    dimension: int
    norm: float
    first: np.ndarray


def vector_summary(vector: np.ndarray, n: int = 12) -> VectorSummary:
    """How many numbers a vector has, its length as an arrow, and its first `n` values."""
    check_int("vector_summary", "n", n, 1)
    values = np.asarray(vector)
    if values.ndim != 1 or values.size == 0 or not np.issubdtype(values.dtype, np.number):
        raise ParameterError(
            f"vector_summary needs one vector: a non-empty 1-D array of numbers. "
            f"Got shape {values.shape} of {values.dtype}."
        )
    norm = float(np.linalg.norm(values.astype(np.float64)))
    return VectorSummary(int(values.size), norm, values[:n].copy())


def cluster_agreement(labels: Sequence[object], found: Sequence[int]) -> float:
    """Adjusted Rand index of two groupings of the same points: 1 identical, about 0 by chance.

    Names do not matter, only which points go together; `labels` are compared as text, so a
    missing value is one more group.
    """
    if len(labels) != len(found):
        raise ParameterError(
            f"cluster_agreement needs one label and one cluster per point. Got {len(labels)} "
            f"labels and {len(found)} clusters."
        )
    if len(labels) < 2:
        raise ParameterError(
            f"cluster_agreement needs at least 2 points to compare groupings. Got {len(labels)}."
        )
    from sklearn.metrics import adjusted_rand_score

    as_text = np.asarray(labels, dtype=object).astype(str)
    return float(adjusted_rand_score(as_text, np.asarray(found)))
