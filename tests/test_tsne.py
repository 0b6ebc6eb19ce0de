"""t-SNE layouts (openTSNE): validated parameters, seeded maps that keep topics apart, perplexity
clipping on tiny corpora, placement of new points, and the time estimate the page shows."""

from __future__ import annotations

import numpy as np
import pytest

from lib.errors import ParameterError
from lib.measure.honesty import neighbor_preservation
from lib.reduce.neighbors import normalize_rows
from lib.reduce.tsne import MEASURED_SECONDS, TSNEParams, estimate_tsne_seconds, project_tsne


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("perplexity", 1.0, "'perplexity' parameter of TSNEParams must be a float"),
        ("perplexity", "30", "'perplexity' parameter of TSNEParams must be a float"),
        ("n_components", 3, "'n_components' parameter of TSNEParams must be an int in the range"),
        ("seed", -1, "'seed' parameter of TSNEParams must be an int"),
        ("n_iter", 10, "'n_iter' parameter of TSNEParams must be an int"),
    ],
)
def test_params_are_validated(field, value, message):
    with pytest.raises(ParameterError, match=message):
        TSNEParams(**{field: value})


def test_seeded_map_keeps_topics_apart_and_repeats(topic_vectors, topic_texts):
    params = TSNEParams(perplexity=15, n_iter=250)
    first = project_tsne(topic_vectors, params)
    second = project_tsne(topic_vectors, params)
    assert first.method == "tsne" and first.params == params and first.notes == ()
    assert first.coords.shape == (len(topic_vectors), 2) and first.coords.dtype == np.float32
    np.testing.assert_allclose(first.coords, second.coords, atol=1e-4)
    labels = np.array(topic_texts[1])
    distances = np.linalg.norm(first.coords[:, None] - first.coords[None], axis=2)
    np.fill_diagonal(distances, np.inf)
    assert (labels[distances.argmin(axis=1)] == labels).mean() > 0.9
    assert neighbor_preservation(topic_vectors, first.coords, 10).mean() > 0.2


def test_new_points_land_beside_their_nearest_documents(topic_vectors):
    mapped = project_tsne(topic_vectors, TSNEParams(perplexity=10, n_iter=100))
    placed = mapped.transform(topic_vectors[:3])
    assert placed.shape == (3, 2)
    spread = np.ptp(mapped.coords, axis=0).max()
    assert np.linalg.norm(placed - mapped.coords[:3], axis=1).max() < 0.2 * spread


def test_tiny_corpus_lowers_the_perplexity_with_a_note():
    vectors = normalize_rows(np.random.default_rng(0).normal(size=(16, 8)))
    with pytest.warns(UserWarning, match="perplexity lowered from 30 to 5: only 16 points"):
        mapped = project_tsne(vectors, TSNEParams(n_iter=50))
    assert mapped.params.perplexity == 5.0 and mapped.notes
    with pytest.raises(ParameterError, match="at least 5 documents"):
        project_tsne(vectors[:4], TSNEParams())


def test_time_estimate_follows_the_measurements():
    for n_points, seconds in MEASURED_SECONDS:
        assert estimate_tsne_seconds(n_points) == pytest.approx(seconds)
    sizes = [100, 800, 3_000, 10_000, 30_000, 50_000, 100_000]
    estimates = [estimate_tsne_seconds(n) for n in sizes]
    assert estimates == sorted(estimates)
    assert estimate_tsne_seconds(100_000) == pytest.approx(2 * MEASURED_SECONDS[-1][1])
    with pytest.raises(ParameterError, match="'n_points' parameter of estimate_tsne_seconds"):
        estimate_tsne_seconds(0)
