"""Exact cosine neighbours against a brute-force reference."""

import numpy as np
import pytest

from lib.errors import ParameterError
from lib.reduce.neighbors import cosine_matrix, exact_knn, neighbors_of, normalize_rows, top_k


@pytest.fixture(scope="module")
def unit_vectors() -> np.ndarray:
    return normalize_rows(np.random.default_rng(5).normal(size=(300, 24)))


def brute_force(vectors: np.ndarray, query: np.ndarray, k: int, exclude=()) -> list[int]:
    scored = [
        (float(np.dot(v, query) / np.linalg.norm(query)), i)
        for i, v in enumerate(vectors)
        if i not in exclude
    ]
    return [i for _, i in sorted(scored, key=lambda pair: (-pair[0], pair[1]))[:k]]


def test_top_k_matches_brute_force(unit_vectors):
    query = np.random.default_rng(9).normal(size=24)
    found = top_k(unit_vectors, query, k=12)
    assert found.indices.tolist() == brute_force(unit_vectors, query, 12)
    expected = unit_vectors[found.indices] @ (query / np.linalg.norm(query))
    np.testing.assert_allclose(found.scores, expected, rtol=1e-5)
    assert np.all(np.diff(found.scores) <= 0)


def test_neighbors_of_excludes_the_point_itself(unit_vectors):
    found = neighbors_of(unit_vectors, 17, k=5)
    assert 17 not in found.indices
    assert found.indices.tolist() == brute_force(unit_vectors, unit_vectors[17], 5, exclude={17})


def test_exclusions_and_k_larger_than_available():
    vectors = normalize_rows(np.eye(3))
    found = top_k(vectors, np.array([1.0, 0.5, 0.0]), k=10, exclude=[0])
    assert found.indices.tolist() == [1, 2]


def test_exact_knn_rows_match_neighbors_of(unit_vectors):
    graph = exact_knn(unit_vectors, 7, chunk_rows=64)
    for row in (0, 63, 64, 299):
        assert graph.indices[row].tolist() == neighbors_of(unit_vectors, row, 7).indices.tolist()


def test_cosine_matrix_is_symmetric_with_unit_diagonal():
    matrix = cosine_matrix(np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 3.0]]))
    np.testing.assert_allclose(np.diag(matrix), 1.0, rtol=1e-6)
    assert matrix[0, 1] == pytest.approx(np.sqrt(0.5), rel=1e-6)
    assert matrix[0, 2] == pytest.approx(0.0, abs=1e-7)


def test_dimension_mismatch_and_bad_k_are_explained(unit_vectors):
    with pytest.raises(ParameterError, match="query has 3 dimensions but the vectors have 24"):
        top_k(unit_vectors, np.ones(3))
    with pytest.raises(ParameterError, match="'k' parameter of top_k must be an int"):
        top_k(unit_vectors, unit_vectors[0], k=0)
    with pytest.raises(ParameterError, match="'index' parameter of neighbors_of"):
        neighbors_of(unit_vectors, 300)
