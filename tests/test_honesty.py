"""Map honesty, checked against brute-force loops and scikit-learn's trustworthiness."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.manifold import trustworthiness

from lib.errors import ParameterError
from lib.measure import honesty
from lib.measure.honesty import (
    HonestyReport,
    honesty_report,
    map_knn,
    misplaced_neighbors,
    neighbor_preservation,
)
from lib.reduce.layouts import project_pca
from lib.reduce.neighbors import exact_knn


def brute_cosine_knn(vectors: np.ndarray, k: int) -> list[list[int]]:
    """Each row's k most cosine-similar other rows, by a plain loop."""
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    result = []
    for i in range(len(unit)):
        scores = [(float(unit[i] @ unit[j]), j) for j in range(len(unit)) if j != i]
        result.append([j for _, j in sorted(scores, key=lambda s: (-s[0], s[1]))[:k]])
    return result


def brute_map_ranking(coords: np.ndarray, i: int) -> list[int]:
    """All other rows ordered by euclidean distance to row i (ties by row), by a plain loop."""
    distances = [
        (float(np.sqrt(((coords[i] - coords[j]) ** 2).sum())), j) for j in range(len(coords))
    ]
    return [j for _, j in sorted(d for d in distances if d[1] != i)]


def brute_preservation(vectors: np.ndarray, coords: np.ndarray, k: int) -> np.ndarray:
    """Share of each point's k true neighbours that are among its k nearest on the map."""
    true = brute_cosine_knn(vectors, k)
    return np.array(
        [len(set(true[i]) & set(brute_map_ranking(coords, i)[:k])) / k for i in range(len(coords))]
    )


@pytest.fixture(scope="module")
def cloud() -> tuple[np.ndarray, np.ndarray]:
    """80 random 12-d vectors and a random 2-D map of them (no distance ties)."""
    rng = np.random.default_rng(3)
    return rng.normal(size=(80, 12)), rng.uniform(size=(80, 2))


@pytest.mark.parametrize("dims", [2, 3])
def test_map_knn_equals_a_brute_force_loop(dims):
    coords = np.random.default_rng(dims).normal(size=(50, dims))
    found = map_knn(coords, 6)
    assert found.shape == (50, 6)
    assert found.dtype == np.int64
    assert found.tolist() == [brute_map_ranking(coords, i)[:6] for i in range(50)]


def test_map_knn_never_lists_a_point_itself_even_among_duplicates():
    coords = np.array([[0.0, 0.0]] * 4 + [[5.0, 5.0]])
    assert map_knn(coords, 3).tolist() == [
        [1, 2, 3],
        [0, 2, 3],
        [0, 1, 3],
        [0, 1, 2],
        [0, 1, 2],
    ]


def test_identity_map_preserves_every_neighbourhood(topic_vectors):
    # Euclidean distance on unit vectors ranks exactly as cosine does.
    preserved = neighbor_preservation(topic_vectors, topic_vectors, k=10)
    assert preserved.shape == (240,)
    np.testing.assert_array_equal(preserved, 1.0)


def test_swapping_two_points_lowers_preservation_as_computed_by_hand(topic_vectors):
    coords = topic_vectors.copy()
    coords[[0, 200]] = coords[[200, 0]]  # a space note drawn among programming, and back
    preserved = neighbor_preservation(topic_vectors, coords, k=10)
    np.testing.assert_allclose(preserved, brute_preservation(topic_vectors, coords, 10))
    assert preserved[0] == 0.0
    assert preserved[200] == 0.0
    assert 0.9 < preserved.mean() < 1.0


def test_random_map_matches_the_loop(cloud):
    vectors, coords = cloud
    preserved = neighbor_preservation(vectors, coords, k=5)
    np.testing.assert_allclose(preserved, brute_preservation(vectors, coords, 5))
    assert preserved.mean() < 0.3  # a random map keeps few neighbours


def test_full_knn_reuses_a_wider_graph(cloud):
    vectors, coords = cloud
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    graph = exact_knn(unit.astype(np.float32), 20).indices
    np.testing.assert_array_equal(
        neighbor_preservation(vectors, coords, 7, full_knn=graph),
        neighbor_preservation(vectors, coords, 7),
    )


def test_full_knn_that_includes_each_point_is_rejected(cloud):
    vectors, coords = cloud
    graph = exact_knn(vectors.astype(np.float32), 5).indices
    with_self = np.hstack([np.arange(80)[:, None], graph])
    with pytest.raises(ParameterError, match="own neighbour; pass a graph with each point"):
        neighbor_preservation(vectors, coords, 5, full_knn=with_self)
    with pytest.raises(ParameterError, match=r"shape \(80, >= 5\); got \(80, 3\)"):
        neighbor_preservation(vectors, coords, 5, full_knn=graph[:, :3])


def test_honesty_report_matches_sklearn_trustworthiness(topic_vectors):
    coords = project_pca(topic_vectors).coords
    report = honesty_report(topic_vectors, coords, k=10)
    assert isinstance(report, HonestyReport)
    assert report.k == 10
    assert report.note == ""
    assert report.trustworthiness == pytest.approx(
        trustworthiness(topic_vectors, coords, n_neighbors=10, metric="cosine")
    )
    np.testing.assert_allclose(report.per_point, brute_preservation(topic_vectors, coords, 10))
    assert report.mean == pytest.approx(report.per_point.mean())
    assert 0.0 < report.mean < 1.0


def test_honesty_report_samples_trustworthiness_on_big_corpora(monkeypatch, cloud):
    vectors, coords = cloud
    monkeypatch.setattr(honesty, "TRUST_SAMPLE", 50)
    report = honesty_report(vectors, coords, k=5)
    rows = np.sort(np.random.default_rng(honesty.TRUST_SEED).choice(80, 50, replace=False))
    assert report.trustworthiness == pytest.approx(
        trustworthiness(vectors[rows], coords[rows], n_neighbors=5, metric="cosine")
    )
    assert report.note.startswith("Trustworthiness measured on a random sample of 50 of the 80")
    assert report.per_point.shape == (80,)


def test_honesty_report_needs_k_below_half_the_points(cloud):
    vectors, coords = cloud
    with pytest.raises(ParameterError, match=r"'k' parameter of honesty_report .* \[1, 39\]"):
        honesty_report(vectors, coords, k=40)


def test_misplaced_neighbors_ranks_true_neighbours_by_map_distance(cloud):
    vectors, coords = cloud
    table = misplaced_neighbors(vectors, coords, index=7, k=8)
    assert list(table.columns) == ["row", "cosine", "map_rank", "map_distance", "kept"]
    ranking = brute_map_ranking(coords, 7)
    true = brute_cosine_knn(vectors, 8)[7]
    assert sorted(table["row"]) == sorted(true)
    expected_ranks = [ranking.index(row) + 1 for row in table["row"]]
    assert table["map_rank"].tolist() == expected_ranks
    assert table["map_rank"].is_monotonic_decreasing
    assert table["kept"].tolist() == [rank <= 8 for rank in expected_ranks]
    assert set(table.loc[table["kept"], "row"]) == set(true) & set(map_knn(coords, 8)[7])
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    np.testing.assert_allclose(table["cosine"], unit[table["row"]] @ unit[7], atol=1e-6)
    np.testing.assert_allclose(
        table["map_distance"], np.linalg.norm(coords[table["row"]] - coords[7], axis=1)
    )


def test_misplaced_neighbors_on_an_identity_map_keeps_all(topic_vectors):
    table = misplaced_neighbors(topic_vectors, topic_vectors, index=0, k=5)
    assert table["kept"].all()
    assert sorted(table["map_rank"]) == [1, 2, 3, 4, 5]


def test_inputs_are_validated(cloud):
    vectors, coords = cloud
    with pytest.raises(ParameterError, match="Got 80 vectors, 79 coords"):
        neighbor_preservation(vectors, coords[:-1])
    with pytest.raises(ParameterError, match=r"'k' parameter of map_knn .* \[1, 79\]\. Got 80"):
        map_knn(coords, 80)
    with pytest.raises(ParameterError, match=r"'k' parameter of neighbor_preservation .* Got 0"):
        neighbor_preservation(vectors, coords, k=0)
    with pytest.raises(ParameterError, match="'index' parameter of misplaced_neighbors"):
        misplaced_neighbors(vectors, coords, index=80)
    with pytest.raises(ParameterError, match="'coords' contains NaN"):
        map_knn(np.full((3, 2), np.nan), 1)
    with pytest.raises(ParameterError, match="at least 2 points"):
        map_knn(np.zeros((1, 2)), 1)
