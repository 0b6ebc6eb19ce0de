"""Clustering agrees with known labels; names come from each cluster's distinctive words."""

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from lib.engine.cluster import NOISE, ClusterParams, cluster_corpus, name_clusters
from lib.engine.reduce import PCAParams, project_pca
from lib.errors import ParameterError


def test_kmeans_recovers_fake_topics(topic_vectors, topic_texts):
    texts, labels = topic_texts
    found = cluster_corpus(topic_vectors, texts, ClusterParams(method="kmeans", n_clusters=8))
    assert adjusted_rand_score(labels, found.labels) > 0.9
    assert found.n_clusters == 8
    assert sum(found.sizes.values()) == len(texts)


def test_hdbscan_keeps_noise_as_its_own_group(topic_vectors, topic_texts):
    texts, labels = topic_texts
    rng = np.random.default_rng(0)
    outliers = rng.normal(size=(6, topic_vectors.shape[1])).astype(np.float32) * 3
    vectors = np.vstack([topic_vectors, outliers])
    found = cluster_corpus(vectors, [*texts, *["stray"] * 6], ClusterParams(space="embeddings"))
    clustered = found.labels[: len(texts)] != NOISE
    assert (
        adjusted_rand_score(np.array(labels)[clustered], found.labels[: len(texts)][clustered])
        > 0.9
    )
    assert found.names.get(NOISE) in (None, "unclustered")
    assert set(found.point_names()) == set(found.names.values())


def test_clustering_on_the_map_needs_coordinates(topic_vectors, topic_texts):
    with pytest.raises(ParameterError, match="needs map coordinates"):
        cluster_corpus(topic_vectors, topic_texts[0], ClusterParams(space="map"))
    coords = project_pca(topic_vectors, PCAParams()).coords
    found = cluster_corpus(topic_vectors, topic_texts[0], ClusterParams(space="map"), coords)
    assert len(found.labels) == len(coords)


def test_names_are_the_distinctive_words():
    texts = [
        "rocket orbit launch",
        "rocket orbit moon",
        "orbit rocket crew",
        "pasta garlic oven",
    ] * 3
    labels = np.array([0, 0, 0, 1] * 3)
    names = name_clusters(texts, labels, top_n=2)
    assert set(names[0].split(" · ")) == {"rocket", "orbit"}
    assert set(names[1].split(" · ")) <= {"pasta", "garlic", "oven"}


def test_noise_is_named_and_repeated_names_are_made_distinct():
    names = name_clusters(["alpha beta", "alpha beta", "gamma"], np.array([0, 1, NOISE]))
    assert names[NOISE] == "unclustered"
    assert names[0] != names[1]


def test_bad_parameters_and_lengths():
    with pytest.raises(ParameterError, match="'method' parameter of ClusterParams must be one of"):
        ClusterParams(method="dbscan")
    with pytest.raises(ParameterError, match="Got 2 texts for 3 vectors"):
        cluster_corpus(np.eye(3, dtype=np.float32), ["a", "b"])


@pytest.mark.model
def test_real_sample_clusters_agree_with_its_labels(real_model):
    from lib.engine.corpus import load_sample
    from lib.engine.embed import embed_texts
    from lib.engine.reduce import UMAPParams, project_umap

    corpus = load_sample("topics")
    labels = corpus.metadata["label"].to_numpy()
    vectors = embed_texts(corpus.texts, real_model).vectors
    kmeans = cluster_corpus(
        vectors, corpus.texts, ClusterParams(method="kmeans", space="embeddings")
    )
    assert adjusted_rand_score(labels, kmeans.labels) > 0.75
    coords = project_umap(vectors, UMAPParams()).coords
    on_map = cluster_corpus(vectors, corpus.texts, ClusterParams(space="map"), coords)
    assert adjusted_rand_score(labels, on_map.labels) > 0.55
    assert 6 <= on_map.n_clusters <= 16
