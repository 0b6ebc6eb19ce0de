"""Big-corpus maps: seeded sample fit + chunked transform, clustering by the sample, big figures."""

from __future__ import annotations

import html
import json

import numpy as np
import pytest

from lib.cluster.clusters import NOISE, ClusterParams, cluster_corpus
from lib.cluster.scale import cluster_at_scale
from lib.errors import ParameterError
from lib.figures.huge import huge_map_figure
from lib.reduce.layouts import PCAParams, UMAPParams, project_umap
from lib.reduce.scale import (
    ScaledProjection,
    ScaleParams,
    nearest_rows,
    project_at_scale,
    sample_rows,
)

FAST = UMAPParams(n_epochs=30)
N_GROUPS = 6
GROUP_WORDS = ("apple", "river", "guitar", "planet", "tiger", "violin")


def clustered_unit_vectors(n: int, dim: int = 24, groups: int = N_GROUPS, seed: int = 0):
    """Unit vectors around `groups` random directions, with their group ids."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(groups, dim))
    labels = rng.integers(0, groups, size=n)
    vectors = centres[labels] + rng.normal(scale=0.3, size=(n, dim))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors.astype(np.float32), labels


@pytest.fixture(scope="module")
def sampled_map():
    vectors, labels = clustered_unit_vectors(420)
    calls: list[tuple[int, int]] = []
    mapped = project_at_scale(
        vectors,
        FAST,
        ScaleParams(sample_size=150, chunk_size=100),
        progress=lambda *a: calls.append(a),
    )
    return vectors, labels, mapped, calls


def group_purity(groups: np.ndarray, labels: np.ndarray) -> float:
    """Share of points whose label is the majority label of their true group."""
    agree = sum(np.bincount(labels[groups == g] - labels.min()).max() for g in np.unique(groups))
    return agree / len(groups)


def test_sample_rows_are_seeded_sorted_and_distinct():
    rows = sample_rows(1000, 100, seed=3)
    assert len(rows) == 100 == len(set(rows.tolist()))
    assert (np.diff(rows) > 0).all() and rows.min() >= 0 and rows.max() < 1000
    np.testing.assert_array_equal(rows, sample_rows(1000, 100, seed=3))
    assert not np.array_equal(rows, sample_rows(1000, 100, seed=4))
    np.testing.assert_array_equal(sample_rows(7, 100), np.arange(7))


def test_sampled_map_fits_the_sample_and_places_the_rest_in_chunks(sampled_map):
    _, groups, mapped, calls = sampled_map

    assert mapped.fitted_mask.sum() == 150 and mapped.n_transformed == 270
    np.testing.assert_array_equal(
        np.flatnonzero(mapped.fitted_mask), sample_rows(420, 150, ScaleParams().seed)
    )
    np.testing.assert_array_equal(mapped.coords[mapped.fitted_mask], mapped.projection.coords)
    assert calls == [(0, 270), (100, 270), (200, 270), (270, 270)]
    assert mapped.coords.dtype == np.float32 and np.isfinite(mapped.coords).all()
    # A placed point lands next to fitted points of its own group.
    fitted = np.flatnonzero(mapped.fitted_mask)
    placed = np.flatnonzero(~mapped.fitted_mask)
    nearest = fitted[nearest_rows(mapped.coords[fitted], mapped.coords[placed])]
    assert (groups[nearest] == groups[placed]).mean() >= 0.95


def test_small_corpora_and_pca_are_fitted_whole():
    vectors, _ = clustered_unit_vectors(120)
    whole = project_at_scale(vectors, FAST, ScaleParams(sample_size=120))
    assert whole.fitted_mask.all()
    np.testing.assert_array_equal(whole.coords, project_umap(vectors, FAST).coords)

    pca = project_at_scale(vectors, PCAParams(), ScaleParams(sample_size=50))
    assert pca.fitted_mask.all() and pca.projection.method == "pca"
    assert pca.coords.shape == (120, 2)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        (
            {"sample_size": 10},
            r"'sample_size' parameter of ScaleParams must be an int in the range \[50",
        ),
        ({"chunk_size": 0}, r"'chunk_size' parameter of ScaleParams must be an int"),
    ],
)
def test_scale_params_refuse_bad_values(params, match):
    with pytest.raises(ParameterError, match=match):
        ScaleParams(**params)


@pytest.mark.parametrize(
    "params",
    [
        ClusterParams(method="kmeans", n_clusters=N_GROUPS),
        ClusterParams(method="hdbscan", min_cluster_size=10),
        ClusterParams(method="hdbscan", min_cluster_size=10, space="map"),
    ],
    ids=["kmeans", "hdbscan", "hdbscan on the map"],
)
def test_cluster_at_scale_labels_placed_points_like_their_group(sampled_map, params):
    vectors, groups, mapped, _ = sampled_map
    texts = [
        f"{GROUP_WORDS[group]} filler {('one', 'two')[i % 2]}" for i, group in enumerate(groups)
    ]

    clusters = cluster_at_scale(vectors, texts, params, mapped)

    assert clusters.labels.shape == (420,)
    assert sum(clusters.sizes.values()) == 420
    assert set(clusters.names) == set(clusters.labels.tolist())
    clustered = clusters.labels != NOISE
    assert clustered.mean() >= 0.9
    assert group_purity(groups[clustered], clusters.labels[clustered]) >= 0.95
    named = {clusters.names[c] for c in clusters.labels[clustered & (groups == 0)]}
    assert all(name.startswith("apple") for name in named)


def test_cluster_at_scale_without_placed_points_is_cluster_corpus():
    vectors, groups = clustered_unit_vectors(200)
    texts = [GROUP_WORDS[group] for group in groups]
    whole = ScaledProjection(
        np.zeros((200, 2), np.float32), np.ones(200, dtype=bool), project_umap(vectors, FAST)
    )
    params = ClusterParams(method="kmeans", n_clusters=N_GROUPS)
    expected = cluster_corpus(vectors, texts, params)
    found = cluster_at_scale(vectors, texts, params, whole)
    np.testing.assert_array_equal(found.labels, expected.labels)
    assert found.names == expected.names


def test_cluster_at_scale_refuses_mismatched_lengths(sampled_map):
    vectors, _, mapped, _ = sampled_map
    with pytest.raises(ParameterError, match=r"Got 3 texts, 420 vectors and a map of 420 points"):
        cluster_at_scale(vectors, ["a", "b", "c"], ClusterParams(), mapped)


def test_nearest_rows_finds_the_closest_reference_row():
    reference = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    queries = np.array([[9.0, 1.0], [1.0, 1.0], [1.0, 8.0], [6.0, 0.0]])
    np.testing.assert_array_equal(nearest_rows(reference, queries), [1, 0, 2, 1])


def test_huge_map_figure_has_only_float32_coordinates_per_point():
    n = 30_000
    rng = np.random.default_rng(1)
    coords = rng.normal(size=(n, 2)).astype(np.float32)
    labels = rng.integers(-1, 9, size=n)
    names = {c: f"cluster <b>{c}</b>" for c in range(-1, 9)}

    huge = huge_map_figure(coords, labels, names)
    payload = huge.figure.to_json()

    assert len(payload) / n <= 12  # the target; float32 x/y in base64 alone is 10.7 bytes/point
    spec = json.loads(payload)
    assert len(spec["data"]) == 10
    for trace in spec["data"]:
        assert trace["x"]["dtype"] == trace["y"]["dtype"] == "f4"
        per_point = [key for key, value in trace.items() if isinstance(value, list | dict)]
        assert sorted(per_point) == ["marker", "x", "y"]
        assert isinstance(trace["marker"]["color"], str)
    # (trace, point) pairs map back to rows, whichever trace a point landed in.
    figure = huge.figure
    picks = [(curve, point) for curve in range(10) for point in (0, 5)]
    rows = huge.rows(picks)
    for (curve, point), row in zip(picks, rows, strict=True):
        np.testing.assert_array_equal(
            [figure.data[curve].x[point], figure.data[curve].y[point]],
            huge.figure_coords(coords[[row]])[0],
        )
        assert figure.data[curve].name == html.escape(names[int(labels[row])])
    assert huge.rows([(10, 0), (0, -1), (0, n)]) == []


def test_huge_map_figure_refuses_mismatched_labels():
    with pytest.raises(ParameterError, match=r"coords of shape \(5, 2\) and 4 labels"):
        huge_map_figure(np.zeros((5, 2)), np.zeros(4, int), {})


def test_huge_map_figure_coords_keep_the_aspect_ratio_in_one_float32_exponent():
    coords = np.array([[-5.0, 1.0], [15.0, 6.0], [5.0, 3.5]], dtype=np.float32)
    huge = huge_map_figure(coords, np.zeros(3, int), {0: "all"})
    drawn = huge.figure_coords(coords)
    assert drawn.dtype == np.float32
    assert (drawn >= 1024).all() and (drawn < 2048).all()
    np.testing.assert_allclose(drawn[0], [1024.0, 1024.0])
    np.testing.assert_allclose(drawn[1] - drawn[0], [1023.0, 1023.0 / 4])  # x spans 20, y 5
    np.testing.assert_allclose(drawn[2], (drawn[0] + drawn[1]) / 2)
