"""How honest is a map: which true (full-dimension) neighbours a 2-D or 3-D map keeps or tears.

A map can only keep some neighbourhoods. Here we measure, per point, the share of its k nearest
neighbours in full dimension (cosine, exact) that are also among its k nearest on the map
(euclidean, exact), the corpus-level trustworthiness (scikit-learn), and for one clicked point
the true neighbours the map put far away.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lib.errors import ParameterError, check_int
from lib.reduce.neighbors import exact_knn, neighbors_of, normalize_rows

logger = logging.getLogger(__name__)

TRUST_SAMPLE = 5000  # trustworthiness is O(n^2) in memory: above this, a seeded sample
TRUST_SEED = 0
MISPLACED_COLUMNS = ["row", "cosine", "map_rank", "map_distance", "kept"]


@dataclass(frozen=True)
class HonestyReport:
    """Map honesty at `k`: `per_point` (n,) neighbour preservation in [0, 1] and its `mean`.

    `trustworthiness` is scikit-learn's (1 = no false neighbours on the map, cosine in full
    dimension); `note` says when it was measured on a sample rather than on every point.
    """

    k: int
    per_point: np.ndarray
    mean: float
    trustworthiness: float
    note: str = ""


def check_points(owner: str, name: str, points: np.ndarray) -> np.ndarray:
    """Return `points` as a finite 2-D float array (n, d), else raise a ParameterError."""
    matrix = np.asarray(points, dtype=np.float64)
    if matrix.ndim != 2:
        raise ParameterError(f"{owner} needs '{name}' as a 2-D array (n, d); got {matrix.shape}.")
    if not np.isfinite(matrix).all():
        raise ParameterError(f"{owner}: '{name}' contains NaN or infinite values.")
    return matrix


def check_same_length(owner: str, **arrays: np.ndarray) -> int:
    """Return the common length of `arrays` (one row per point), else raise naming each length."""
    lengths = {name: len(array) for name, array in arrays.items()}
    if len(set(lengths.values())) != 1:
        listed = ", ".join(f"{length} {name}" for name, length in lengths.items())
        raise ParameterError(f"{owner} needs one row per point in each input. Got {listed}.")
    return next(iter(lengths.values()))


def check_k(owner: str, k: object, n_points: int) -> int:
    """Return `k` if 1 <= k < n_points (itself excluded, a point has n_points - 1 neighbours)."""
    if n_points < 2:
        raise ParameterError(f"{owner} needs at least 2 points to have neighbours; got {n_points}.")
    return check_int(owner, "k", k, 1, n_points - 1)


def map_knn(coords: np.ndarray, k: int) -> np.ndarray:
    """Exact euclidean k nearest points on the map, itself excluded: (n, k) int64, nearest first.

    Equal distances are ordered by row; a tie at the k-th distance keeps whichever rows the
    KD-tree returned.
    """
    points = check_points("map_knn", "coords", coords)
    k = check_k("map_knn", k, len(points))
    return _map_knn(points, k)


def _map_knn(points: np.ndarray, k: int) -> np.ndarray:
    """map_knn on validated input."""
    from sklearn.neighbors import NearestNeighbors

    tree = NearestNeighbors(n_neighbors=k + 1, algorithm="kd_tree").fit(points)
    distances, indices = tree.kneighbors(points)
    is_self = indices == np.arange(len(points))[:, None]
    # Self last (a duplicate point may have displaced it), then by distance, then by row.
    order = np.lexsort((indices, distances, is_self), axis=-1)
    return np.take_along_axis(indices, order, axis=1)[:, :k].astype(np.int64)


def neighbor_overlap(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Per row, the share of the k ids in `first` (n, k) that also appear in `second` (n, k)."""
    n, k = first.shape
    offsets = np.arange(n, dtype=np.int64)[:, None] * n
    shared = np.isin(first.astype(np.int64) + offsets, second.astype(np.int64) + offsets)
    return shared.reshape(n, k).mean(axis=1)


def neighbor_preservation(
    vectors: np.ndarray, coords: np.ndarray, k: int = 10, *, full_knn: np.ndarray | None = None
) -> np.ndarray:
    """Per point, the share of its k true neighbours (cosine) also among its k on the map: (n,).

    `full_knn` (n, >= k) reuses a computed graph: row ids, itself excluded, best first, as in
    `exact_knn(normalize_rows(vectors), k).indices`.
    """
    owner = "neighbor_preservation"
    matrix = check_points(owner, "vectors", vectors)
    points = check_points(owner, "coords", coords)
    n = check_same_length(owner, vectors=matrix, coords=points)
    k = check_k(owner, k, n)
    return neighbor_overlap(true_knn(matrix, k, full_knn), _map_knn(points, k))


def true_knn(matrix: np.ndarray, k: int, full_knn: np.ndarray | None) -> np.ndarray:
    """The k exact cosine neighbours (n, k) of each row of `matrix`, computed, or taken from
    `full_knn` (a graph computed earlier) after checking its shape and ids."""
    if full_knn is None:
        return exact_knn(normalize_rows(matrix), k).indices
    graph = np.asarray(full_knn)
    n = len(matrix)
    if graph.ndim != 2 or len(graph) != n or graph.shape[1] < k:
        raise ParameterError(
            f"full_knn must hold at least k={k} neighbour ids for each of the {n} points, "
            f"shape ({n}, >= {k}); got {graph.shape}."
        )
    graph = graph[:, :k]
    if not np.issubdtype(graph.dtype, np.integer) or graph.min() < 0 or graph.max() >= n:
        raise ParameterError(f"full_knn must hold row ids in [0, {n - 1}].")
    if (graph == np.arange(n)[:, None]).any():
        raise ParameterError(
            "full_knn lists some points as their own neighbour; pass a graph with each point "
            "itself excluded, like exact_knn(...).indices (not a UMAP graph, which starts with it)."
        )
    return graph


def honesty_report(
    vectors: np.ndarray, coords: np.ndarray, k: int = 10, *, full_knn: np.ndarray | None = None
) -> HonestyReport:
    """Neighbour preservation per point and trustworthiness of the whole map, at `k`.

    Trustworthiness needs k < n / 2; above TRUST_SAMPLE points it is measured on a seeded
    sample of TRUST_SAMPLE points (and `note` says so), neighbour preservation always on all.
    """
    from sklearn.manifold import trustworthiness

    owner = "honesty_report"
    matrix = check_points(owner, "vectors", vectors)
    points = check_points(owner, "coords", coords)
    n = check_same_length(owner, vectors=matrix, coords=points)
    check_k(owner, k, n)
    check_int(owner, "k", k, 1, (min(n, TRUST_SAMPLE) - 1) // 2)
    per_point = neighbor_overlap(true_knn(matrix, k, full_knn), _map_knn(points, k))
    note = ""
    if n > TRUST_SAMPLE:
        rows = np.sort(np.random.default_rng(TRUST_SEED).choice(n, TRUST_SAMPLE, replace=False))
        matrix, points = matrix[rows], points[rows]
        note = (
            f"Trustworthiness measured on a random sample of {TRUST_SAMPLE:,} of the {n:,} "
            f"points (seed {TRUST_SEED}); neighbour preservation on all of them."
        )
    trust = trustworthiness(matrix, points, n_neighbors=k, metric="cosine")
    logger.info("Map honesty at k=%d: preservation %.3f, trust %.3f", k, per_point.mean(), trust)
    return HonestyReport(k, per_point, float(per_point.mean()), float(trust), note)


def misplaced_neighbors(
    vectors: np.ndarray, coords: np.ndarray, index: int, k: int = 10
) -> pd.DataFrame:
    """The point's k true neighbours, those the map put farthest away first.

    Columns: row, cosine (full dimension), map_rank (1-based rank of that row among the point's
    neighbours on the map; equal distances ordered by row), map_distance, kept (map_rank <= k).
    """
    owner = "misplaced_neighbors"
    matrix = check_points(owner, "vectors", vectors)
    points = check_points(owner, "coords", coords)
    n = check_same_length(owner, vectors=matrix, coords=points)
    k = check_k(owner, k, n)
    index = check_int(owner, "index", index, 0, n - 1)
    true = neighbors_of(normalize_rows(matrix), index, k)
    distances = np.sqrt(((points - points[index]) ** 2).sum(axis=1))
    distances[index] = np.inf
    ranks = np.empty(n, dtype=np.int64)
    ranks[np.lexsort((np.arange(n), distances))] = np.arange(1, n + 1)
    table = pd.DataFrame(
        {
            "row": true.indices,
            "cosine": true.scores.astype(np.float64),
            "map_rank": ranks[true.indices],
            "map_distance": distances[true.indices],
        }
    )
    table["kept"] = table["map_rank"] <= k
    return table.sort_values("map_rank", ascending=False, ignore_index=True)[MISPLACED_COLUMNS]
