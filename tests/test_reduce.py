"""UMAP/PCA maps: shapes, reproducibility, kNN reuse, transform and parameter errors."""

import os
from pathlib import Path

import numpy as np
import pytest

from lib.errors import ParameterError
from lib.reduce.layouts import (
    SMALL_DATA,
    PCAParams,
    UMAPParams,
    compute_knn,
    knn_size,
    project_pca,
    project_umap,
)
from lib.reduce.neighbors import exact_knn, normalize_rows


def knn_label_accuracy(coords: np.ndarray, labels: list[str], k: int = 10) -> float:
    """Share of each point's k nearest map neighbours that carry its label."""
    distances = ((coords[:, None, :] - coords[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(distances, np.inf)
    nearest = np.argsort(distances, axis=1)[:, :k]
    names = np.array(labels)
    return float((names[nearest] == names[:, None]).mean())


@pytest.fixture(scope="module")
def umap_map(topic_vectors):
    return project_umap(topic_vectors, UMAPParams(seed=3))


def test_umap_returns_requested_shape_and_keeps_topics(umap_map, topic_vectors, topic_texts):
    assert umap_map.coords.shape == (len(topic_vectors), 2)
    assert umap_map.coords.dtype == np.float32
    assert knn_label_accuracy(umap_map.coords, topic_texts[1]) > 0.9


def test_umap_is_reproducible_with_a_seed(umap_map, topic_vectors):
    again = project_umap(topic_vectors, UMAPParams(seed=3))
    np.testing.assert_allclose(again.coords, umap_map.coords, atol=1e-5)


def test_umap_three_dimensions(topic_vectors):
    mapped = project_umap(topic_vectors, UMAPParams(n_components=3, min_dist=0.5))
    assert mapped.coords.shape == (len(topic_vectors), 3)


def test_transform_places_a_known_point_near_itself(umap_map, topic_vectors):
    placed = umap_map.transform(topic_vectors[:1])
    distances = np.linalg.norm(umap_map.coords - placed, axis=1)
    span = np.ptp(umap_map.coords, axis=0).max()
    assert distances[0] < 0.1 * span
    assert placed.shape == (1, 2)


def test_tiny_corpus_clips_neighbours_and_says_so():
    vectors = np.random.default_rng(0).normal(size=(8, 16)).astype(np.float32)
    with pytest.warns(UserWarning, match="n_neighbors lowered from 15 to 7"):
        mapped = project_umap(vectors, UMAPParams())
    assert mapped.params.n_neighbors == 7
    assert mapped.notes == ("n_neighbors lowered from 15 to 7: only 8 points.",)


def test_too_few_points_is_a_clear_error():
    with pytest.raises(ParameterError, match="at least 5 documents; this corpus has 3"):
        project_umap(np.eye(3, dtype=np.float32))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"n_neighbors": 1}, r"'n_neighbors' parameter of UMAPParams must be an int in the range"),
        ({"min_dist": 1.5}, r"'min_dist' .* \[0.0, 1.0\]. Got 1.5"),
        ({"n_components": 4}, r"'n_components' .* \[2, 3\]. Got 4"),
        ({"metric": "manhattan"}, r"must be one of 'cosine'. Got 'manhattan'"),
    ],
)
def test_umap_params_are_validated(changes, message):
    with pytest.raises(ParameterError, match=message):
        UMAPParams(**changes)


def test_small_knn_graph_is_exact(topic_vectors):
    graph = compute_knn(topic_vectors, 11)
    reference = exact_knn(topic_vectors, 10)
    assert graph.search_index is None
    np.testing.assert_array_equal(graph.indices[:, 0], np.arange(len(topic_vectors)))
    np.testing.assert_array_equal(graph.indices[:, 1:], reference.indices)
    np.testing.assert_allclose(graph.distances[:, 1:], 1 - reference.scores, atol=1e-5)


def test_knn_size_reuses_one_graph_for_common_settings():
    assert knn_size(10_000, 15) == 50
    assert knn_size(10_000, 80) == 80
    assert knn_size(30, 15) == 30


def test_big_corpus_refit_reuses_the_exact_knn_graph(monkeypatch):
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(4, 8))
    vectors = np.repeat(centres, SMALL_DATA // 4 + 1, axis=0)
    vectors = (vectors + 0.3 * rng.normal(size=vectors.shape)).astype(np.float32)
    graph = compute_knn(vectors, 20)
    assert graph.search_index is None  # exact up to EXACT_KNN_MAX: pynndescent never compiles
    reference = exact_knn(normalize_rows(vectors), 19)
    np.testing.assert_array_equal(graph.indices[:, 0], np.arange(len(vectors)))
    np.testing.assert_array_equal(graph.indices[:, 1:], reference.indices)

    import lib.reduce.layouts

    def no_second_search(*args, **kwargs):
        raise AssertionError("the kNN graph should have been reused")

    monkeypatch.setattr(lib.reduce.layouts, "compute_knn", no_second_search)
    params = UMAPParams(n_neighbors=10, n_epochs=20)
    first = project_umap(vectors, params, graph)
    second = project_umap(vectors, UMAPParams(n_neighbors=10, n_epochs=20, min_dist=0.8), graph)
    assert first.coords.shape == second.coords.shape == (len(vectors), 2)
    placed = first.transform(vectors[:2])  # no search index: placed from its neighbours
    span = np.ptp(first.coords, axis=0).max()
    assert np.linalg.norm(placed - first.coords[:2], axis=1).max() < 0.1 * span


def test_umap_kernels_cache_compiled_code_in_the_data_home():
    from numba.core.dispatcher import Dispatcher

    from lib.reduce.layouts import numba_cache_dir, umap_module

    umap = umap_module()
    kernels = [v for v in vars(umap.layouts).values() if isinstance(v, Dispatcher)]
    assert kernels and all(type(k._cache).__name__ != "NullCache" for k in kernels)
    assert numba_cache_dir() == Path(os.environ["NUMBA_CACHE_DIR"])


def _umap_signatures() -> dict[str, int]:
    """How many compiled versions each of UMAP's numba functions holds now."""
    import sys

    from numba.core.dispatcher import Dispatcher

    return {
        f"{name}.{key}": len(value.signatures)
        for name, module in list(sys.modules.items())
        if name.startswith("umap.") and module is not None
        for key, value in list(vars(module).items())
        if isinstance(value, Dispatcher)
    }


def test_the_warm_up_compiles_what_a_big_map_runs():
    """After `warm_up` (one small fit), a map from the big path (exact kNN graph passed to UMAP,
    SMALL_DATA points and more) needs no new machine code: the server's warm-up covers it."""
    from lib.reduce.layouts import warm_up

    warm_up()
    before = _umap_signatures()
    vectors = normalize_rows(np.random.default_rng(3).normal(size=(SMALL_DATA, 8)))
    project_umap(vectors, UMAPParams(n_epochs=10), compute_knn(vectors, 15))
    after = _umap_signatures()
    assert {name for name in after if after[name] != before.get(name, 0)} == set()


def test_pca_reports_variance_kept(topic_vectors):
    from sklearn.decomposition import PCA

    mapped = project_pca(topic_vectors, PCAParams(n_components=3))
    expected = PCA(n_components=3, random_state=42).fit(topic_vectors)
    assert mapped.coords.shape == (len(topic_vectors), 3)
    assert mapped.explained_variance == pytest.approx(expected.explained_variance_ratio_.sum())
