"""Clustering agrees with known labels; names come from each cluster's distinctive words."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from lib.cluster.clusters import (
    NOISE,
    ClusterParams,
    auto_min_cluster_size,
    cluster_corpus,
    name_clusters,
)
from lib.cluster.stopwords import all_stop_words, content_words, stop_words
from lib.errors import ParameterError
from lib.ingest.corpus import Corpus, load_sample
from lib.reduce.layouts import PCAParams, project_pca
from lib.service.samples import shipped_vectors


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
    params = ClusterParams(method="hdbscan", space="embeddings")
    found = cluster_corpus(vectors, [*texts, *["stray"] * 6], params)
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


def test_names_skip_filler_words_and_words_of_one_document():
    goals = [
        "Did the striker score a goal? He did, a late goal.",
        "Does the keeper ever save a penalty goal? He does.",
        "The striker did it again: a goal from the halfway line.",
        "My African aunties watched the striker and the goal.",
    ]
    food = ["The garlic sauce simmered in the oven.", "Garlic bread from the oven with sauce."]
    names = name_clusters(goals + food, np.array([0] * 4 + [1] * 2))
    assert set(names[0].split(" · ")) == {"striker", "goal"}
    assert set(names[1].split(" · ")) == {"garlic", "sauce", "oven"}


def test_stop_words_follow_each_document_language():
    assert "son" in content_words("My son plays football every Saturday.")
    assert "son" not in content_words("Ellos son muy buenos amigos desde la escuela.")
    assert "die" not in content_words("Die Kinder spielen heute im Garten.")
    assert content_words("la na ok") == []
    with pytest.raises(ParameterError, match="'language' parameter of stop_words must be one of"):
        stop_words("it")


def _majority_topics(labels: np.ndarray, topics: np.ndarray) -> dict[int, str]:
    return {
        int(c): pd.Series(topics[labels == c]).value_counts().index[0] for c in np.unique(labels)
    }


def _typical_topic(word: str, texts: list[str], topics: np.ndarray) -> str:
    """The topic whose documents hold `word` most often."""
    holders = [word in content_words(text) for text in texts]
    return pd.Series(topics[np.array(holders)]).value_counts().index[0]


def _shipped_sample(name: str) -> tuple[Corpus, np.ndarray]:
    corpus = load_sample(name)
    vectors = shipped_vectors(corpus.content_hash, "all-MiniLM-L6-v2")
    assert vectors is not None
    return corpus, vectors


def test_default_clusters_of_topics_are_its_topics_named_by_their_words():
    corpus, vectors = _shipped_sample("topics")
    topics = corpus.metadata["label"].to_numpy()
    found = cluster_corpus(vectors, corpus.texts, ClusterParams())
    assert adjusted_rand_score(topics, found.labels) >= 0.85
    majority = _majority_topics(found.labels, topics)
    assert sorted(majority.values()) == sorted(set(topics))  # ten clusters, one per topic
    for cluster_id, name in found.names.items():
        words = name.split(" · ")
        assert len(words) == 3 and not set(words) & all_stop_words(), name
        typical = {_typical_topic(word, corpus.texts, topics) for word in words}
        assert majority[cluster_id] in typical, name


def test_multilingual_cluster_names_have_no_stop_words_and_no_single_document_words():
    corpus, vectors = _shipped_sample("multilingual")
    found = cluster_corpus(vectors, corpus.texts, ClusterParams())
    assert found.n_clusters == ClusterParams().n_clusters
    for cluster_id, name in found.names.items():
        words = name.split(" · ")
        assert not set(words) & all_stop_words(), name
        members = [corpus.texts[row] for row in np.flatnonzero(found.labels == cluster_id)]
        for word in words:
            assert sum(word in content_words(text) for text in members) >= 2, (name, word)


@pytest.mark.model
def test_default_settings_find_the_topics_of_the_sample(real_model):
    """Defect 10: the first map (default layout and clustering, fp32 vectors) finds the ten
    topics of `topics`; on the map alone HDBSCAN still finds most of them."""
    from lib.embed.models import embed_texts
    from lib.reduce.layouts import UMAPParams, project_umap

    corpus = load_sample("topics")
    labels = corpus.metadata["label"].to_numpy()
    vectors = embed_texts(corpus.texts, real_model).vectors
    coords = project_umap(vectors, UMAPParams()).coords
    found = cluster_corpus(vectors, corpus.texts, ClusterParams(), coords)
    assert adjusted_rand_score(labels, found.labels) >= 0.85
    assert found.n_clusters == 10
    on_map = cluster_corpus(
        vectors, corpus.texts, ClusterParams(method="hdbscan", space="map"), coords
    )
    assert adjusted_rand_score(labels, on_map.labels) > 0.55
    assert 6 <= on_map.n_clusters <= 16


def test_each_method_starts_on_its_own_space():
    """Switching to HDBSCAN kept KMeans's full embeddings, where it found almost nothing."""
    assert ClusterParams(method="kmeans").space == "embeddings"
    assert ClusterParams(method="hdbscan").space == "map"
    assert ClusterParams(method="hdbscan", space="pca").space == "pca"
    assert ClusterParams(method="hdbscan").effective() == ClusterParams(method="hdbscan")


def test_hdbscan_min_cluster_size_grows_with_the_corpus():
    params = ClusterParams(method="hdbscan")
    assert params.min_size_for(5) == 5
    assert params.min_size_for(300) == auto_min_cluster_size(300) >= 10
    assert params.min_size_for(5000) == auto_min_cluster_size(5000) > params.min_size_for(1000)
    assert ClusterParams(method="hdbscan", min_cluster_size=7).min_size_for(5000) == 7


def _blobs_corpus(n: int = 2000, groups: int = 12, seed: int = 0):
    """A map of `groups` blobs of unequal sizes and spreads with 8% scattered points, and
    32-d vectors of the same groups spread thin, as a real corpus's embeddings are."""
    rng = np.random.default_rng(seed)
    sizes = rng.dirichlet(np.full(groups, 3.0)) * n * 0.92
    group = np.repeat(np.arange(groups), np.round(sizes).astype(int))
    scattered = n - len(group)
    centres = rng.uniform(-20, 20, size=(groups, 2))
    spread = rng.uniform(0.8, 2.0, size=groups)
    coords = centres[group] + rng.normal(size=(len(group), 2)) * spread[group, None]
    coords = np.vstack([coords, rng.uniform(-24, 24, size=(scattered, 2))])
    directions = rng.normal(size=(groups + 1, 32))
    labels = np.concatenate([group, np.full(scattered, groups)])
    vectors = directions[labels] + rng.normal(size=(n, 32)) * 1.5
    texts = [f"group{label} text{i % 7}" for i, label in enumerate(labels)]
    return vectors.astype(np.float32), texts, coords.astype(np.float32)


def test_hdbscan_defaults_cluster_most_documents_into_few_clusters():
    """On 4,935 real documents HDBSCAN left 4,557 unclustered in the full embeddings and found
    87 clusters on the map: its defaults must leave at most 40% out and find at most 30."""
    vectors, texts, coords = _blobs_corpus()
    found = cluster_corpus(vectors, texts, ClusterParams(method="hdbscan"), coords)
    assert found.sizes.get(NOISE, 0) <= 0.4 * len(texts)
    assert 6 <= found.n_clusters <= 30
    before = cluster_corpus(
        vectors, texts, ClusterParams(method="hdbscan", space="embeddings", min_cluster_size=10)
    )
    assert before.sizes.get(NOISE, 0) > 0.4 * len(texts) or before.n_clusters > 30
