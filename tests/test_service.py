"""lib.service.engine: complete keys, get-or-compute across tiers, placement on saved maps."""

from __future__ import annotations

import numpy as np
import pytest

import lib.service.engine as service
from lib.cluster.clusters import Clustering, ClusterParams
from lib.ingest.corpus import corpus_from_pasted
from lib.reduce.layouts import PCAParams, UMAPParams, project_umap
from lib.reduce.placement import NeighborPlacement
from lib.service.engine import Embedding, Engine, SavedView
from tests.conftest import FakeModel, make_topic_texts

KMEANS = ClusterParams(method="kmeans", n_clusters=4, space="embeddings")


class Bf16RefusedModel(FakeModel):
    """A model loaded with precision "auto" whose quality guard kept fp32."""

    model_id = "fake/topics-32"  # the plain id: fp32
    precision = "fp32"


@pytest.fixture
def engine(tmp_path) -> Engine:
    return Engine(tmp_path, model_loader=lambda name: FakeModel())


def labelled(words: list[str], per_group: int = 20) -> list[str]:
    return [f"{word} {i}" for word in words for i in range(per_group)]


def test_same_vectors_with_other_labels_get_their_own_cluster_names(engine, tmp_path):
    """Defect 1: the clusters key names the texts, so another visitor's labels never leak."""
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(4, 16))
    vectors = np.repeat(centres, 20, axis=0) + 0.05 * rng.normal(size=(80, 16))
    first = corpus_from_pasted("\n".join(labelled(["apple", "pear", "plum", "fig"])))
    second = corpus_from_pasted("\n".join(labelled(["granite", "basalt", "marble", "slate"])))
    found = engine.uploaded(vectors)
    mapped = engine.layout(found, PCAParams())
    names_first = set(engine.clusters(found, first, KMEANS, mapped).names.values())
    restarted = Engine(tmp_path, model_loader=lambda name: FakeModel())  # a new server, same disk
    again = restarted.uploaded(vectors)
    assert again.key == found.key
    names_second = set(restarted.clusters(again, second, KMEANS, mapped).names.values())
    assert {name.split(" ")[0] for name in names_first} == {"apple", "pear", "plum", "fig"}
    assert {name.split(" ")[0] for name in names_second} == {"granite", "basalt", "marble", "slate"}


def test_model_id_names_the_precision_really_used(tmp_path, monkeypatch):
    """Defect 2: bf16 asked for, the guard kept fp32: keys must say fp32, even after a restart."""
    monkeypatch.setenv("EMBEDSCOPE_PRECISION", "bf16")
    loads = []

    def loader(name):
        loads.append(name)
        return Bf16RefusedModel()

    first = Engine(tmp_path, model_loader=loader)
    assert first.model_id("fake") == "fake/topics-32"
    corpus = corpus_from_pasted("\n".join(make_topic_texts(per_topic=3)[0]))
    assert first.vectors(corpus, "fake").key == f"{corpus.content_hash}:fake/topics-32"
    restarted = Engine(tmp_path, model_loader=loader)
    assert restarted.model_id("fake") == "fake/topics-32"
    assert restarted.peek_vectors(corpus, "fake") is not None
    assert loads == ["fake"], "a warm start knows the id and the vectors without the model"


def test_vectors_come_from_memory_then_disk_then_the_model(engine, tmp_path):
    corpus = corpus_from_pasted("\n".join(make_topic_texts(per_topic=4)[0]))
    assert engine.peek_vectors(corpus, "fake") is None
    progress = []
    found = engine.vectors(corpus, "fake", progress=lambda done, total: progress.append(done))
    assert progress[-1] == len(corpus)
    assert engine.vectors(corpus, "fake") is not None
    assert engine.model("fake").texts_encoded == len(set(corpus.texts))
    restarted = Engine(tmp_path, model_loader=lambda name: pytest.fail("no model needed"))
    restarted.results.put(service._verdict_key("fake"), {}, {"model_id": "fake/topics-32"})
    again = restarted.peek_vectors(corpus, "fake")
    np.testing.assert_array_equal(again.vectors, found.vectors)


def test_a_layout_is_computed_once_then_read_back_without_fitting(engine, tmp_path, monkeypatch):
    vectors = FakeModel().encode(make_topic_texts(per_topic=10)[0])
    found = engine.uploaded(vectors)
    params = UMAPParams(n_epochs=30)
    first = engine.layout(found, params)
    assert engine.layout(found, params) is first

    def no_fit(*args, **kwargs):
        raise AssertionError("read back, not refitted")

    monkeypatch.setattr(service, "project_umap", no_fit)
    restarted = Engine(tmp_path)
    again = restarted.layout(restarted.uploaded(vectors), params)
    np.testing.assert_array_equal(again.coords, first.coords)


def test_a_stale_result_written_under_other_library_versions_is_recomputed(engine, monkeypatch):
    vectors = FakeModel().encode(make_topic_texts(per_topic=10)[0])
    found = engine.uploaded(vectors)
    engine.layout(found, PCAParams())
    import lib.store.caches as store

    monkeypatch.setattr(store, "library_versions", lambda: {"numpy": "99"})
    assert Engine(engine.home).peek_layout(found, PCAParams()) is None


def test_a_saved_view_is_served_as_saved(engine):
    vectors = FakeModel().encode(make_topic_texts(per_topic=10)[0])
    coords = np.random.default_rng(1).normal(size=(len(vectors), 2)).astype(np.float32)
    labels = np.arange(len(vectors)) % 3
    saved = SavedView(coords, UMAPParams(), KMEANS, Clustering(labels, {0: "a", 1: "b", 2: "c"},
                                                               {0: 27, 1: 27, 2: 26}))  # fmt: skip
    found = engine.adopt_saved("project:abc", vectors, "fake", saved)
    np.testing.assert_array_equal(engine.layout(found, UMAPParams()).coords, coords)
    corpus = corpus_from_pasted("\n".join(make_topic_texts(per_topic=10)[0]))
    assert engine.clusters(found, corpus, KMEANS, engine.layout(found, UMAPParams())).names == {
        0: "a", 1: "b", 2: "c"
    }  # fmt: skip


def test_a_placed_query_lands_among_its_true_neighbours_without_a_fit(monkeypatch):
    """Defect 3: placement onto a saved map uses the saved coordinates, never a UMAP fit."""
    texts = make_topic_texts(per_topic=30)[0]
    vectors = FakeModel().encode(texts)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    coords = project_umap(vectors, UMAPParams(n_epochs=50)).coords

    def no_fit(*args, **kwargs):
        raise AssertionError("placement must not fit UMAP")

    import umap

    monkeypatch.setattr(umap.UMAP, "fit", no_fit)
    monkeypatch.setattr(umap.UMAP, "fit_transform", no_fit)
    mapped = Engine._placed(Embedding(vectors, "k", "fake"), coords, UMAPParams())
    queries = FakeModel().encode(["the rocket and the orbit", "garlic in the sauce"])
    placed = mapped.transform(queries)
    for query, position in zip(queries, placed, strict=True):
        true = np.argsort(-(vectors @ (query / np.linalg.norm(query))))[:10]
        centroid = coords[true].mean(axis=0)
        distances = np.linalg.norm(coords - centroid, axis=1)
        closer_than = (distances > np.linalg.norm(position - centroid)).mean()
        assert closer_than >= 0.9


def test_placement_refuses_queries_of_another_dimension():
    placement = NeighborPlacement(np.eye(4, dtype=np.float32), np.zeros((4, 2), np.float32))
    with pytest.raises(ValueError, match="Queries to place must have 4 dimensions; got 3"):
        placement.transform(np.ones((1, 3)))
    with pytest.raises(ValueError, match="coords must have one row per vector"):
        NeighborPlacement(np.eye(4, dtype=np.float32), np.zeros((3, 2), np.float32))


def test_the_same_key_is_computed_once_by_concurrent_sessions(engine):
    import threading

    calls = []

    def slow():
        calls.append(1)
        threading.Event().wait(0.2)
        return "value"

    threads = [threading.Thread(target=engine._once, args=("k", slow)) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert calls == [1]


def test_a_shipped_map_serves_only_the_shipped_vectors_key(engine, monkeypatch):
    """Vectors derived from a sample's (their key extended) never get the sample's shipped map."""
    coords = np.zeros((4, 2), np.float32)
    monkeypatch.setattr(service.shipped, "shipped_layout", lambda *args: coords)
    vectors = np.eye(4, dtype=np.float32)
    own = Embedding(vectors, "abc:sentence-transformers/all-MiniLM-L6-v2", "all-MiniLM-L6-v2")
    derived = Embedding(vectors, f"{own.key}|random-0", "all-MiniLM-L6-v2")
    assert service._shipped_layout(own, UMAPParams()) is coords
    assert service._shipped_layout(derived, UMAPParams()) is None
    assert service._shipped_layout(Embedding(vectors, "upload:abc", None), UMAPParams()) is None
