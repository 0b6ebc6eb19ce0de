"""Exact cosine nearest neighbours in the full embedding dimension (numpy, brute force)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from lib.errors import ParameterError, check_int


@dataclass(frozen=True)
class Neighbors:
    """Ranked hits: `indices` (k,) int64 rows searched, `scores` (k,) cosine, best first."""

    indices: np.ndarray
    scores: np.ndarray

    def __len__(self) -> int:
        return len(self.indices)


def normalize_rows(vectors: np.ndarray) -> np.ndarray:
    """Return float32 rows scaled to unit length (zero rows stay zero) so dot product = cosine."""
    matrix = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1, norms)


def top_k(
    vectors: np.ndarray, query: np.ndarray, k: int = 10, exclude: Iterable[int] = ()
) -> Neighbors:
    """Rank rows of unit-length `vectors` (n, d) by cosine to `query` (d,), skipping `exclude`."""
    check_int("top_k", "k", k, 1)
    query = np.asarray(query, dtype=np.float32).ravel()
    if vectors.ndim != 2 or vectors.shape[1] != query.shape[0]:
        raise ParameterError(
            f"The query has {query.shape[0]} dimensions but the vectors have "
            f"{vectors.shape[-1]}; they must come from the same model."
        )
    scores = vectors @ (query / (np.linalg.norm(query) or 1.0))
    excluded = np.fromiter(exclude, dtype=np.int64)
    if excluded.size:
        scores = scores.copy()
        scores[excluded] = -np.inf
    available = len(scores) - np.isinf(scores).sum()
    k = int(min(k, available))
    if k == 0:
        return Neighbors(np.empty(0, np.int64), np.empty(0, np.float32))
    best = np.argpartition(-scores, k - 1)[:k]
    order = best[np.lexsort((best, -scores[best]))]
    return Neighbors(order.astype(np.int64), scores[order].astype(np.float32))


def neighbors_of(vectors: np.ndarray, index: int, k: int = 10) -> Neighbors:
    """The k rows most similar to row `index` of `vectors`, the point itself excluded."""
    check_int("neighbors_of", "index", index, 0, len(vectors) - 1)
    return top_k(vectors, vectors[index], k, exclude=(index,))


def cosine_matrix(vectors: np.ndarray) -> np.ndarray:
    """Pairwise cosine similarities (m, m) of a few vectors, normalised here for safety."""
    unit = normalize_rows(vectors)
    return np.clip(unit @ unit.T, -1.0, 1.0)


def exact_knn(vectors: np.ndarray, k: int, *, chunk_rows: int = 2048) -> Neighbors:
    """Exact k nearest rows of each row of unit `vectors` (n, d), itself excluded; (n, k) arrays."""
    n = len(vectors)
    check_int("exact_knn", "k", k, 1, max(1, n - 1))
    indices = np.empty((n, k), dtype=np.int64)
    scores = np.empty((n, k), dtype=np.float32)
    for start in range(0, n, chunk_rows):
        block = vectors[start : start + chunk_rows] @ vectors.T
        rows = np.arange(len(block))
        block[rows, rows + start] = -np.inf
        best = np.argpartition(-block, k - 1, axis=1)[:, :k]
        best_scores = np.take_along_axis(block, best, axis=1)
        order = np.argsort(-best_scores, axis=1, kind="stable")
        indices[start : start + len(block)] = np.take_along_axis(best, order, axis=1)
        scores[start : start + len(block)] = np.take_along_axis(best_scores, order, axis=1)
    return Neighbors(indices, scores)
