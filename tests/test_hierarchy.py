"""Nested cluster levels: every fine cluster inside one broad one, counts per level, names by a
pluggable namer, noise kept as noise, the same result on every run."""

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from lib.cluster.clusters import NOISE, name_clusters
from lib.cluster.hierarchy import BROAD, FINE, MEDIUM, HierarchyParams, cluster_levels
from lib.errors import ParameterError


@pytest.fixture(scope="module")
def split_topics(topic_texts):
    """Each of the 8 topics split in two halves: 16 fine clusters, 8 true broad groups."""
    topics = topic_texts[1]
    order = {topic: position for position, topic in enumerate(dict.fromkeys(topics))}
    seen: dict[str, int] = {}
    fine = []
    for topic in topics:
        seen[topic] = seen.get(topic, 0) + 1
        fine.append(2 * order[topic] + (seen[topic] % 2))
    return np.array(fine), np.array([order[t] for t in topics])


def assert_nested(levels) -> None:
    """Each cluster of a finer level lies inside exactly one cluster of the coarser level, and
    `parents` says which."""
    for coarse, fine in zip(levels.levels, levels.levels[1:], strict=False):
        for cluster_id in fine.sizes:
            inside = np.unique(coarse.labels[fine.labels == cluster_id])
            assert len(inside) == 1, f"{fine.name} {cluster_id} spans {coarse.name} {inside}"
            assert fine.parents[cluster_id] == inside[0]


def test_fine_clusters_nest_in_broad_ones_that_recover_the_topics(topic_vectors, split_topics):
    fine, topics = split_topics
    texts = [f"doc {i}" for i in range(len(fine))]
    levels = cluster_levels(topic_vectors, texts, fine, HierarchyParams(n_broad=8))
    assert levels.names == (BROAD, MEDIUM, FINE)
    assert_nested(levels)
    assert adjusted_rand_score(topics, levels.level(BROAD).labels) == 1.0
    np.testing.assert_array_equal(levels.level(FINE).labels, fine)
    broad_of = levels.ancestor_map(BROAD)
    assert all(broad_of[f] == levels.level(BROAD).labels[fine == f][0] for f in broad_of)


def test_default_counts_per_level(topic_vectors, topic_texts, split_topics):
    fine, _ = split_topics
    levels = cluster_levels(topic_vectors, topic_texts[0], fine)
    counts = {level.name: level.n_clusters for level in levels.levels}
    assert counts == {BROAD: 4, MEDIUM: 8, FINE: 16}  # sqrt(16); sqrt(4 * 16)
    two = cluster_levels(topic_vectors, topic_texts[0], fine, HierarchyParams(n_levels=2))
    assert {level.name: level.n_clusters for level in two.levels} == {BROAD: 4, FINE: 16}
    assert all(sum(level.sizes.values()) == len(fine) for level in levels.levels)
    sizes = [levels.level(BROAD).sizes[c] for c in range(4)]
    assert sizes == sorted(sizes, reverse=True)  # coarse ids count from the biggest


def test_a_medium_level_not_between_its_neighbours_is_left_out(topic_vectors, topic_texts):
    fine = np.arange(len(topic_texts[0])) % 5
    params = HierarchyParams(n_broad=2, n_medium=6)  # 6 is not below the 5 fine clusters
    levels = cluster_levels(topic_vectors, topic_texts[0], fine, params)
    assert levels.names == (BROAD, FINE)
    assert_nested(levels)


def test_noise_stays_noise_at_every_level(topic_vectors, topic_texts, split_topics):
    fine = split_topics[0].copy()
    fine[::7] = NOISE
    levels = cluster_levels(topic_vectors, topic_texts[0], fine, HierarchyParams(n_broad=8))
    for level in levels.levels:
        np.testing.assert_array_equal(level.labels == NOISE, fine == NOISE)
        assert level.names[NOISE] == "unclustered"
        assert level.parents.get(NOISE, NOISE) == NOISE
    assert levels.level(FINE).n_clusters == 16
    assert levels.level(BROAD).n_clusters == 8
    assert_nested(levels)


def test_the_same_inputs_give_the_same_levels(topic_vectors, topic_texts, split_topics):
    fine = split_topics[0]
    for linkage in ("ward", "average"):
        params = HierarchyParams(linkage=linkage)
        first = cluster_levels(topic_vectors, topic_texts[0], fine, params)
        again = cluster_levels(topic_vectors.copy(), list(topic_texts[0]), fine.copy(), params)
        for one, two in zip(first.levels, again.levels, strict=True):
            np.testing.assert_array_equal(one.labels, two.labels)
            assert (one.names, one.parents) == (two.names, two.parents)


def test_each_level_is_named_by_the_namer_given(topic_vectors, topic_texts, split_topics):
    calls = []

    def namer(texts, labels):
        calls.append(len(np.unique(labels)))
        return {int(c): f"group {c}" for c in np.unique(labels)}

    levels = cluster_levels(topic_vectors, topic_texts[0], split_topics[0], namer=namer)
    assert calls == [4, 8, 16]
    assert levels.level(MEDIUM).names[3] == "group 3"
    default = cluster_levels(topic_vectors, topic_texts[0], split_topics[0])
    assert default.level(FINE).names == name_clusters(topic_texts[0], split_topics[0])


def test_few_fine_clusters_and_bad_input(topic_vectors, topic_texts):
    two = np.arange(len(topic_texts[0])) % 2
    levels = cluster_levels(topic_vectors, topic_texts[0], two)
    np.testing.assert_array_equal(levels.level(BROAD).labels, levels.level(FINE).labels)
    with pytest.raises(ParameterError, match="Got 240 vectors, 3 texts and 240 labels"):
        cluster_levels(topic_vectors, ["a", "b", "c"], two)
    with pytest.raises(ParameterError, match="'n_levels' parameter of HierarchyParams must be"):
        HierarchyParams(n_levels=4)
    with pytest.raises(ParameterError, match=r"'n_medium' parameter .* greater than n_broad"):
        HierarchyParams(n_broad=5, n_medium=5)
    with pytest.raises(ParameterError, match="'linkage' parameter of HierarchyParams"):
        HierarchyParams(linkage="single")
    with pytest.raises(ParameterError, match=r"'name' parameter of ClusterLevels\.level"):
        levels.level("medium")


def test_the_engine_builds_the_levels_once_per_clustering(tmp_path, topic_vectors, topic_texts):
    import pandas as pd

    from lib.cluster.clusters import Clustering
    from lib.ingest.corpus import corpus_from_frame
    from lib.service.engine import Embedding, Engine

    engine = Engine(tmp_path)
    corpus = corpus_from_frame(pd.DataFrame({"text": topic_texts[0]}), "text", source="test")
    found = Embedding(topic_vectors, "fake-vectors", None)
    fine = np.arange(len(topic_vectors)) % 9
    clustering = Clustering(fine, {}, {})
    levels = engine.cluster_levels(found, corpus, clustering)
    assert engine.cluster_levels(found, corpus, Clustering(fine.copy(), {}, {})) is levels
    assert levels.level(FINE).n_clusters == 9
    other = engine.cluster_levels(found, corpus, Clustering(fine % 4, {}, {}))
    assert other.level(FINE).n_clusters == 4
