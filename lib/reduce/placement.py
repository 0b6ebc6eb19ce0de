"""Place new vectors on an existing map from the map positions of their true neighbours.

No reducer is refitted: a saved or cached map places a query in milliseconds, exactly where the
documents most like it already sit. Used for every map that was not fitted in this process
(saved projects, maps read back from the result cache, shipped sample maps) and for UMAP maps,
whose own `transform` would run another optimisation that moves with its random state.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lib.errors import ParameterError, check_int
from lib.reduce.neighbors import normalize_rows

PLACEMENT_K = 10
_BLOCK_ROWS = 65_536  # rows of the corpus scored at once (bounds memory on memory-mapped maps)


@dataclass(frozen=True)
class NeighborPlacement:
    """Places vectors at the similarity-weighted mean map position of their k nearest documents.

    vectors: (n, d) unit rows of the corpus; coords: (n, c) their map positions.
    """

    vectors: np.ndarray = field(repr=False)
    coords: np.ndarray = field(repr=False)
    k: int = PLACEMENT_K

    def __post_init__(self) -> None:
        check_int("NeighborPlacement", "k", self.k, 1)
        if len(self.vectors) != len(self.coords):
            raise ParameterError(
                f"NeighborPlacement coords must have one row per vector ({len(self.vectors)}); "
                f"got {len(self.coords)} instead."
            )

    def transform(self, queries: np.ndarray) -> np.ndarray:
        """Map positions (m, c) float32 of `queries` (m, d); zero queries get NaN positions."""
        matrix = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        if matrix.shape[1] != self.vectors.shape[1]:
            raise ParameterError(
                f"Queries to place must have {self.vectors.shape[1]} dimensions; "
                f"got {matrix.shape[1]} instead."
            )
        k = min(self.k, len(self.vectors))
        rows, weights = _nearest(self.vectors, normalize_rows(matrix), k)
        coords = np.asarray(self.coords, dtype=np.float64)
        placed = (coords[rows] * weights[..., None]).sum(axis=1)
        placed[~np.isfinite(matrix).all(axis=1) | ~matrix.any(axis=1)] = np.nan
        return placed.astype(np.float32)


def _nearest(vectors: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k best rows per query (m, k) and their weights (m, k) summing to 1, scanned in blocks."""
    best_rows = np.zeros((len(queries), 0), dtype=np.int64)
    best_scores = np.zeros((len(queries), 0), dtype=np.float32)
    for start in range(0, len(vectors), _BLOCK_ROWS):
        block = np.asarray(vectors[start : start + _BLOCK_ROWS], dtype=np.float32)
        scores = np.concatenate([best_scores, queries @ block.T], axis=1)
        numbers = np.arange(start, start + len(block))
        block_rows = np.broadcast_to(numbers, (len(queries), len(block)))
        rows = np.concatenate([best_rows, block_rows], axis=1)
        keep = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        best_rows = np.take_along_axis(rows, keep, axis=1)
        best_scores = np.take_along_axis(scores, keep, axis=1)
    weights = np.clip(best_scores.astype(np.float64), 1e-6, None)
    return best_rows, weights / weights.sum(axis=1, keepdims=True)
