"""The Ray Data engine on a local Ray (num_cpus=2): same vectors and project as the local path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lib.cluster import ClusterParams
from lib.embed import embed_texts
from lib.errors import ModelError, ParameterError
from lib.precompute import precompute
from lib.ray_engine import RaySettings, _block_count, embed_missing
from lib.reduce import UMAPParams
from lib.store import EmbeddingCache, text_key
from tests.conftest import FakeModel, make_topic_texts

ray = pytest.importorskip(
    "ray", reason="Ray is not installed; run: pip install -r requirements-ray.txt"
)

pytestmark = pytest.mark.ray

N_PER_TOPIC = 250  # 8 topics: 2,000 documents


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    """One local Ray for the module (starting one costs ~10 s here); precompute reuses it."""
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR")
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def corpus_file(tmp_path_factory) -> Path:
    texts, labels = make_topic_texts(per_topic=N_PER_TOPIC, seed=3)
    path = tmp_path_factory.mktemp("ray") / "topics.csv"
    pd.DataFrame({"text": texts, "topic": labels}).to_csv(path, index=False)
    return path


def _project(corpus_file: Path, home: Path, engine: str):
    return precompute(
        corpus_file,
        title="Topics",
        text_column="text",
        model=FakeModel(),
        layout=UMAPParams(n_epochs=30),
        clustering=ClusterParams(method="kmeans", n_clusters=8),
        engine=engine,
        ray_actors=2,
        home=home,
    )


def test_ray_and_local_paths_give_the_same_vectors_and_project(corpus_file, tmp_path):
    local = _project(corpus_file, tmp_path / "local", "local")
    on_ray = _project(corpus_file, tmp_path / "ray", "ray")

    assert len(on_ray.corpus) == 2000
    np.testing.assert_allclose(on_ray.vectors, local.vectors, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(on_ray.coords, local.coords)
    np.testing.assert_array_equal(on_ray.cluster_labels, local.cluster_labels)
    assert on_ray.cluster_names == local.cluster_names
    cache = EmbeddingCache(tmp_path / "ray" / "embeddings.sqlite3")
    assert cache.count(FakeModel.model_id) == 2000


def test_ray_sends_only_texts_missing_from_the_cache(tmp_path):
    texts, _ = make_topic_texts(per_topic=25)  # 200 texts
    texts = texts + texts[:10]  # repeats are embedded once
    model = FakeModel()
    cache = EmbeddingCache(tmp_path / "cache.sqlite3")
    embed_texts(texts[:120], model, cache=cache)
    seen: list[tuple[int, int]] = []

    computed = embed_missing(
        texts,
        FakeModel(),
        model_id=model.model_id,
        dimension=model.dimension,
        cache=cache,
        settings=RaySettings(actors=2),
        batch_size=16,
        progress=lambda done, total: seen.append((done, total)),
    )

    assert computed == 80
    assert seen[0] == (120, 200) and seen[-1] == (200, 200)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    found = cache.get_many(model.model_id, [text_key(text) for text in texts])
    assert len(found) == 200
    np.testing.assert_allclose(
        np.stack([found[text_key(text)] for text in texts[120:200]]),
        FakeModel().encode(texts[120:200]),
        atol=1e-6,
    )
    assert (
        embed_missing(
            texts, model, model_id=model.model_id, dimension=32, cache=cache, batch_size=16
        )
        == 0
    )


def test_a_model_that_fails_on_the_workers_is_one_model_error(tmp_path):
    cache = EmbeddingCache(tmp_path / "cache.sqlite3")
    with pytest.raises(ModelError, match=r"The Ray run failed: .*no-such-org/no-such-model"):
        embed_missing(
            ["one text", "another"],
            "no-such-org/no-such-model",
            model_id="no-such-org/no-such-model",
            dimension=384,
            cache=cache,
            settings=RaySettings(actors=1),
        )
    assert cache.count() == 0


@pytest.mark.model
def test_ray_with_a_model_name_loads_it_on_the_workers(tmp_path, real_model):
    texts = [f"sentence number {i} about {word}" for i, word in enumerate(["cats", "tax"] * 20)]
    cache = EmbeddingCache(tmp_path / "cache.sqlite3")
    embed_missing(
        texts,
        "all-MiniLM-L6-v2",
        model_id=real_model.model_id,
        dimension=real_model.dimension,
        cache=cache,
        settings=RaySettings(actors=1),
        batch_size=8,
    )
    from_ray = embed_texts(texts, real_model, cache=cache)
    assert from_ray.n_computed == 0
    local = embed_texts(texts, real_model).vectors
    np.testing.assert_allclose(from_ray.vectors, local, atol=1e-5)


@pytest.mark.parametrize(
    ("rows", "actors", "batch", "blocks"),
    [(10, 2, 64, 8), (3, 4, 64, 3), (2000, 2, 64, 8), (100_000, 2, 64, 98), (100_000, 50, 64, 200)],
)
def test_block_count_keeps_every_actor_busy(rows, actors, batch, blocks):
    assert _block_count(rows, RaySettings(actors=actors), batch) == blocks


@pytest.mark.parametrize(
    ("settings", "match"),
    [
        (
            {"actors": 0},
            r"'actors' parameter of RaySettings must be an int in the range \[1, inf\)",
        ),
        ({"address": ""}, r"'address' parameter of RaySettings must be a Ray address"),
    ],
)
def test_ray_settings_refuse_bad_values(settings, match):
    with pytest.raises(ParameterError, match=match):
        RaySettings(**settings)
