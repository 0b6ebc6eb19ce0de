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
    again = engine.vectors(corpus, "fake")  # from memory: the model encodes nothing more
    np.testing.assert_array_equal(again.vectors, found.vectors)
    assert again.key == found.key
    assert engine.model("fake").texts_encoded == len(set(corpus.texts))
    restarted = Engine(tmp_path, model_loader=lambda name: pytest.fail("no model needed"))
    restarted.results.put(service._verdict_key("fake", None), {}, {"model_id": "fake/topics-32"})
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


@pytest.mark.parametrize("params", [PCAParams(), UMAPParams(n_epochs=30)], ids=["pca", "umap"])
def test_a_query_lands_in_the_same_place_on_a_fresh_map_and_read_back(
    engine, tmp_path, monkeypatch, params
):
    """One placement rule: the map just fitted (PCA's own projection before) and the same map
    read back from the result cache by a restarted engine put a query in the same place."""
    model = FakeModel()
    vectors = model.encode(make_topic_texts(per_topic=10)[0])
    fresh = engine.layout(engine.uploaded(vectors), params)
    monkeypatch.setattr(service, "project_pca", lambda *a, **k: pytest.fail("refitted"))
    monkeypatch.setattr(service, "project_umap", lambda *a, **k: pytest.fail("refitted"))
    restarted = Engine(tmp_path)
    read_back = restarted.layout(restarted.uploaded(vectors), params)
    assert read_back is not fresh
    np.testing.assert_array_equal(read_back.coords, fresh.coords)
    queries = model.encode(["the rocket and the orbit", "stocks, bank and bond", "a garlic sauce"])
    placed = fresh.transform(queries)
    span = np.ptp(fresh.coords, axis=0).max()
    np.testing.assert_allclose(read_back.transform(queries), placed, atol=1e-5 * span)
    # where its true neighbours are: the rocket query among the space documents
    nearest = np.linalg.norm(fresh.coords - placed[0], axis=1).argsort()[:5]
    assert all(i // 10 == 0 for i in nearest), nearest


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
    monkeypatch.setattr(service.samples, "shipped_layout", lambda *args: coords)
    vectors = np.eye(4, dtype=np.float32)
    own = Embedding(vectors, "abc:sentence-transformers/all-MiniLM-L6-v2", "all-MiniLM-L6-v2")
    derived = Embedding(vectors, f"{own.key}|random-0", "all-MiniLM-L6-v2")
    assert service._shipped_layout(own, UMAPParams()) is coords
    assert service._shipped_layout(derived, UMAPParams()) is None
    assert service._shipped_layout(Embedding(vectors, "upload:abc", None), UMAPParams()) is None


class OpenVinoIdModel(FakeModel):
    """A model whose loaded id names another backend than an old remembered verdict says."""

    model_id = "fake/topics-32@openvino-fp32"


def test_computed_vectors_are_keyed_by_the_loaded_models_id_not_a_stale_verdict(tmp_path):
    """A verdict remembered under another setup names one id; the model really loaded has
    another: the vectors it computes are stored under the loaded model's id."""
    engine = Engine(tmp_path, model_loader=lambda name: OpenVinoIdModel())
    engine.results.put(service._verdict_key("fake", None), {}, {"model_id": "fake/stale@bf16"})
    corpus = corpus_from_pasted("\n".join(make_topic_texts(per_topic=3)[0]))
    found = engine.vectors(corpus, "fake")
    assert found.key == f"{corpus.content_hash}:{OpenVinoIdModel.model_id}"
    assert engine.model_id("fake") == OpenVinoIdModel.model_id


def test_the_remembered_model_id_is_keyed_by_backend_precision_and_cpu(monkeypatch):
    monkeypatch.setenv("EMBEDSCOPE_BACKEND", "torch")
    torch_key = service._verdict_key("fake", None)
    monkeypatch.setenv("EMBEDSCOPE_BACKEND", "openvino")
    assert service._verdict_key("fake", None) != torch_key
    assert service._verdict_key("fake", "fp32") != service._verdict_key("fake", None)
    pinned = service._verdict_key("fake", None)  # conftest pins EMBEDSCOPE_PRECISION=fp32
    monkeypatch.delenv("EMBEDSCOPE_PRECISION")
    monkeypatch.setattr(service, "resolve_precision", lambda precision: "fp32")  # a CPU sans bf16
    assert service._verdict_key("fake", None) != pinned  # auto may run fp32 on OpenVINO
    monkeypatch.setattr(service, "machine", lambda: "x86_64 Linux: another CPU")
    assert service._verdict_key("fake", None) != torch_key


def test_an_explicit_precision_loads_its_own_model_and_keys(tmp_path):
    """The Compare page's fp32 side goes through `vectors(..., precision="fp32")`."""
    asked = []

    def loader(name, precision=None):
        asked.append(precision)
        return FakeModel() if precision == "fp32" else Bf16Model()

    engine = Engine(tmp_path, model_loader=loader)
    corpus = corpus_from_pasted("\n".join(make_topic_texts(per_topic=3)[0]))
    server = engine.vectors(corpus, "fake")
    exact = engine.vectors(corpus, "fake", precision="fp32")
    assert asked == [None, "fp32"]
    assert server.key.endswith("@bf16") and exact.key.endswith(":fake/topics-32")
    assert engine.peek_vectors(corpus, "fake", "fp32").key == exact.key


class Bf16Model(FakeModel):
    model_id = "fake/topics-32@bf16"


def test_a_saved_projects_clusters_on_its_map_are_not_served_for_another_map(engine):
    """The saved shortcut holds only for the saved map when clustering on the map."""
    vectors = FakeModel().encode(make_topic_texts(per_topic=10)[0])
    texts = make_topic_texts(per_topic=10)[0]
    corpus = corpus_from_pasted("\n".join(texts))
    on_map = ClusterParams(method="kmeans", n_clusters=4, space="map")
    saved_layout = PCAParams()
    saved_labels = np.zeros(len(vectors), dtype=np.int64)  # one cluster: clearly not recomputed
    coords = engine.layout(engine.uploaded(vectors), saved_layout).coords
    clustering = Clustering(saved_labels, {0: "saved"}, {0: len(vectors)})
    saved = SavedView(coords, saved_layout, on_map, clustering)
    found = engine.adopt_saved("project:test", vectors, None, saved)
    same_map = engine.layout(found, saved_layout)
    other_map = engine.layout(found, UMAPParams(n_epochs=30))
    assert engine.clusters(found, corpus, on_map, same_map).names == {0: "saved"}
    assert engine.clusters(found, corpus, on_map, other_map).n_clusters == 4


def test_the_shared_memory_holds_under_many_threads_reading_and_evicting(tmp_path):
    """cachetools' LRU is not thread-safe and a read reorders it: 8 threads read and write 40
    keys through a 5-entry memory at once; every read gives its key's own array."""
    import threading

    engine = Engine(tmp_path, model_loader=lambda name: FakeModel(), memory_entries=5)
    arrays = {f"upload:{i}": np.full((2, 3), i, dtype=np.float32) for i in range(40)}
    failures: list[str] = []

    def work(seed: int) -> None:
        rng = np.random.default_rng(seed)
        for _ in range(2_000):
            key = f"upload:{int(rng.integers(40))}"
            try:
                engine._remember(key, arrays[key], None)
                held = engine._held(("vectors", key))
                if held is not None and held[0, 0] != arrays[key][0, 0]:
                    failures.append(f"{key} read another array")
            except Exception as error:
                failures.append(repr(error))

    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert len(engine._memory) <= 5
