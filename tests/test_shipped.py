"""Shipped sample vectors and maps (data/samples/): lookups, and a check against recomputation."""

import json

import numpy as np
import pytest

from lib.embed.models import DEFAULT_MODEL, PACKAGED_MODEL_ID
from lib.ingest.corpus import load_sample
from lib.measure.honesty import neighbor_overlap
from lib.reduce.layouts import UMAPParams, project_umap
from lib.reduce.neighbors import exact_knn
from lib.service import samples as shipped

OVERLAP_K = 10
MIN_OVERLAP = 0.99


def _meta(sample: str) -> dict:
    return json.loads((shipped.SAMPLES_DIR / f"{sample}.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("sample", shipped.SHIPPED_SAMPLES)
def test_shipped_files_match_the_bundled_sample_and_stay_small(sample):
    corpus = load_sample(sample)
    meta = _meta(sample)
    assert meta["content_hash"] == corpus.content_hash, (
        "data/ changed: run python -m lib.service.samples"
    )
    assert (meta["model_id"], meta["precision"]) == (PACKAGED_MODEL_ID, "fp32")
    assert meta["versions"]["umap-learn"] and meta["versions"]["torch"]
    assert (shipped.SAMPLES_DIR / f"{sample}.npz").stat().st_size < 1_000_000


@pytest.mark.parametrize("sample", shipped.SHIPPED_SAMPLES)
def test_lookups_answer_for_the_sample_and_default_maps_only(sample):
    corpus = load_sample(sample)
    for name in (DEFAULT_MODEL, PACKAGED_MODEL_ID):
        vectors = shipped.shipped_vectors(corpus.content_hash, name)
        assert vectors.shape == (len(corpus), 384) and vectors.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    for params in (UMAPParams(), UMAPParams(n_components=3)):
        coords = shipped.shipped_layout(corpus.content_hash, DEFAULT_MODEL, params)
        assert coords.shape == (len(corpus), params.n_components) and np.isfinite(coords).all()
    assert shipped.shipped_layout(corpus.content_hash, DEFAULT_MODEL, UMAPParams(seed=1)) is None
    assert shipped.shipped_vectors("0" * 64, DEFAULT_MODEL) is None
    assert shipped.shipped_vectors(corpus.content_hash, "some/other-model") is None
    assert shipped.shipped_vectors(corpus.content_hash, "") is None


@pytest.mark.model
@pytest.mark.parametrize("sample", shipped.SHIPPED_SAMPLES)
def test_shipped_numbers_match_a_recomputation(sample, real_model):
    """Vectors: 10-NN overlap with a fresh fp32 encoding ≥ 0.99 (float16 storage). Maps: the
    same parameters refitted on the served vectors give the shipped coordinates, with the
    versions of the shipped metadata on this CPU (UMAP is seeded and single-threaded)."""
    from lib.embed.models import embed_texts

    corpus = load_sample(sample)
    served = shipped.shipped_vectors(corpus.content_hash, DEFAULT_MODEL)
    fresh = embed_texts(corpus.texts, real_model).vectors
    overlap = neighbor_overlap(
        exact_knn(fresh, OVERLAP_K).indices, exact_knn(served, OVERLAP_K).indices
    ).mean()
    assert overlap >= MIN_OVERLAP
    assert (fresh * served).sum(axis=1).min() > 0.9999
    if _meta(sample)["versions"] != shipped.versions():
        pytest.skip("library versions differ from the shipped ones: regenerate to compare maps")
    params = shipped.SHIPPED_LAYOUTS["layout_2d"]
    refit = project_umap(served, params).coords
    expected = shipped.shipped_layout(corpus.content_hash, DEFAULT_MODEL, params)
    span = np.ptp(expected, axis=0).max()
    np.testing.assert_allclose(refit, expected, atol=1e-3 * span)


@pytest.mark.parametrize("sample", shipped.SHIPPED_SAMPLES)
def test_shipped_clusters_are_the_default_clustering_recomputed(sample):
    """The shipped clustering answers for the default parameters only, and equals clustering the
    served vectors now (labels and names), so the first map's clusters are the ones computed."""
    from lib.cluster.clusters import ClusterParams, cluster_corpus

    corpus = load_sample(sample)
    found = shipped.shipped_clusters(corpus.content_hash, DEFAULT_MODEL, ClusterParams())
    served = shipped.shipped_vectors(corpus.content_hash, DEFAULT_MODEL)
    fresh = cluster_corpus(served, corpus.texts, ClusterParams())
    np.testing.assert_array_equal(found.labels, fresh.labels)
    assert (found.names, found.sizes) == (fresh.names, fresh.sizes)
    assert len(found.names) == 10
    same = ClusterParams(min_cluster_size=25)  # KMeans ignores it: clusters identically
    assert shipped.shipped_clusters(corpus.content_hash, DEFAULT_MODEL, same) is not None
    for other in (ClusterParams(n_clusters=9), ClusterParams(space="map")):
        assert shipped.shipped_clusters(corpus.content_hash, DEFAULT_MODEL, other) is None
    assert shipped.shipped_clusters("0" * 64, DEFAULT_MODEL, ClusterParams()) is None
