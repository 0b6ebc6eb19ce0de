"""EmbeddingCache: exact round trip, persistence, model isolation, WAL, threads, bad locations."""

from __future__ import annotations

import re
import sqlite3
import threading
from pathlib import Path

import numpy as np
import pytest

from lib.engine import store
from lib.engine.store import HOME_ENV, EmbeddingCache, default_home, text_key
from lib.errors import ParameterError, StoreError


def _vectors(n: int, d: int = 4, seed: int = 0) -> np.ndarray:
    """Random float32 rows with non-trivial bits, so exact equality means an exact round trip."""
    return np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)


def _keys(n: int, prefix: str = "text") -> list[str]:
    return [text_key(f"{prefix} {i}") for i in range(n)]


@pytest.fixture
def cache(tmp_path: Path):
    opened = EmbeddingCache(tmp_path / "cache.sqlite3")
    yield opened
    opened.close()


def test_text_key_is_sha256_hex_of_utf8():
    assert text_key("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert text_key("café") != text_key("cafe")
    assert len(text_key("")) == 64


def test_round_trip_is_exact_and_returns_only_hits(cache: EmbeddingCache):
    keys = _keys(5)
    vectors = _vectors(5)
    cache.put_many("m", keys, vectors)
    got = cache.get_many("m", [*keys, text_key("never stored")])
    assert set(got) == set(keys)
    for key, row in zip(keys, vectors, strict=True):
        assert got[key].dtype == np.float32
        assert got[key].shape == (4,)
        np.testing.assert_array_equal(got[key], row)


def test_vectors_survive_a_new_instance_on_the_same_file(tmp_path: Path):
    path = tmp_path / "shared.sqlite3"
    keys = _keys(3)
    vectors = _vectors(3, d=6, seed=1)
    first = EmbeddingCache(path)
    first.put_many("m", keys, vectors)
    first.close()

    reopened = EmbeddingCache(path)
    got = reopened.get_many("m", keys)
    assert reopened.count("m") == 3
    np.testing.assert_array_equal(np.stack([got[k] for k in keys]), vectors)
    reopened.close()


def test_model_ids_are_isolated(cache: EmbeddingCache):
    keys = _keys(3)
    cache.put_many("model-a", keys, _vectors(3, seed=1))
    cache.put_many("model-b", keys, _vectors(3, seed=2))
    np.testing.assert_array_equal(cache.get_many("model-a", keys)[keys[0]], _vectors(3, seed=1)[0])
    np.testing.assert_array_equal(cache.get_many("model-b", keys)[keys[0]], _vectors(3, seed=2)[0])
    assert cache.get_many("model-c", keys) == {}
    assert (cache.count("model-a"), cache.count("model-b"), cache.count()) == (3, 3, 6)


def test_put_replaces_an_existing_vector(cache: EmbeddingCache):
    key = text_key("same text")
    cache.put_many("m", [key], np.ones((1, 3), np.float32))
    cache.put_many("m", [key], np.full((1, 3), 2.0, np.float32))
    assert cache.count("m") == 1
    np.testing.assert_array_equal(cache.get_many("m", [key])[key], [2.0, 2.0, 2.0])


def test_wal_journal_mode_is_on(cache: EmbeddingCache):
    other = sqlite3.connect(cache.path)
    try:
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        other.close()


def test_lookup_of_more_keys_than_sqlite_variables(cache: EmbeddingCache):
    keys = _keys(2500)
    vectors = _vectors(2500, d=2, seed=3)
    cache.put_many("m", keys, vectors)
    got = cache.get_many("m", keys)
    assert len(got) == 2500
    np.testing.assert_array_equal(np.stack([got[k] for k in keys]), vectors)


def test_one_instance_shared_by_several_threads(cache: EmbeddingCache):
    errors: list[BaseException] = []

    def worker(thread: int) -> None:
        try:
            for batch in range(20):
                keys = _keys(10, prefix=f"thread {thread} batch {batch}")
                vectors = _vectors(10, seed=thread * 100 + batch)
                cache.put_many(f"model-{thread}", keys, vectors)
                got = cache.get_many(f"model-{thread}", keys)
                np.testing.assert_array_equal(np.stack([got[k] for k in keys]), vectors)
        except BaseException as exc:  # collected and re-checked in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert [cache.count(f"model-{t}") for t in range(4)] == [200, 200, 200, 200]
    assert cache.count() == 800


def test_put_many_needs_one_row_per_key(cache: EmbeddingCache):
    with pytest.raises(ParameterError, match=r"one row per key; got 3 keys .* shape \(2, 4\)"):
        cache.put_many("m", _keys(3), _vectors(2))
    assert cache.count() == 0


def test_file_that_is_not_sqlite_raises_store_error(tmp_path: Path):
    path = tmp_path / "embeddings.sqlite3"
    path.write_bytes(b"definitely not a database " * 200)
    with pytest.raises(StoreError, match=rf"{re.escape(str(path))}.*{HOME_ENV}"):
        EmbeddingCache(path)


def test_unusable_folder_raises_store_error(tmp_path: Path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    path = blocker / "sub" / "embeddings.sqlite3"
    with pytest.raises(StoreError, match=rf"{re.escape(str(path))}.*{HOME_ENV}"):
        EmbeddingCache(path)


def test_default_home_comes_from_the_env_var(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    home = tmp_path / "home"
    monkeypatch.setenv(HOME_ENV, str(home))
    assert default_home() == home
    assert home.is_dir()
    default_cache = EmbeddingCache()
    assert default_cache.path == home / "embeddings.sqlite3"
    assert default_cache.path.is_file()
    default_cache.close()


def test_default_home_falls_back_to_the_user_cache_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv(HOME_ENV, raising=False)
    monkeypatch.setattr(store.platformdirs, "user_cache_dir", lambda app: str(tmp_path / app))
    assert default_home() == tmp_path / "embedscope"
    assert (tmp_path / "embedscope").is_dir()


def test_unusable_home_names_the_env_var(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv(HOME_ENV, str(blocker / "home"))
    with pytest.raises(StoreError, match=rf"a-file.*Set the {HOME_ENV} environment variable"):
        default_home()


def test_result_cache_round_trip_survives_a_new_instance(tmp_path):
    from lib.engine.store import ResultCache, result_key

    key = result_key("map", vectors="abc", params={"n_neighbors": 15})
    assert key == result_key("map", params={"n_neighbors": 15}, vectors="abc")
    assert key != result_key("map", vectors="abc", params={"n_neighbors": 16})
    coords = np.arange(12, dtype=np.float32).reshape(6, 2)
    ResultCache(tmp_path).put(key, {"coords": coords}, {"params": {"n_neighbors": 15}})
    arrays, meta = ResultCache(tmp_path).get(key)
    np.testing.assert_array_equal(arrays["coords"], coords)
    assert meta == {"params": {"n_neighbors": 15}}
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".json", ".npz"]


def test_result_cache_misses_and_refuses_bad_keys_and_pickles(tmp_path):
    from lib.engine.store import ResultCache, result_key

    cache = ResultCache(tmp_path)
    assert cache.get(result_key("map", vectors="none")) is None
    with pytest.raises(ParameterError, match="must be a sha256 hex digest"):
        cache.get("../../etc/passwd")
    key = result_key("map", vectors="pickled")
    np.savez(tmp_path / f"{key}.npz", bad=np.array([{"x": 1}], dtype=object))
    (tmp_path / f"{key}.json").write_text("{}")
    assert cache.get(key) is None
