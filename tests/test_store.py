"""EmbeddingCache and ResultCache: round trips, persistence, WAL, threads, bad locations, size
caps with least-recently-used eviction, damaged and stale results, leftovers of killed writers."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from lib.errors import ParameterError, StoreError
from lib.store import caches as store
from lib.store.caches import HOME_ENV, EmbeddingCache, default_home, text_key


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
    from lib.store.caches import ResultCache, result_key

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
    from lib.store.caches import ResultCache, result_key

    cache = ResultCache(tmp_path)
    assert cache.get(result_key("map", vectors="none")) is None
    with pytest.raises(ParameterError, match="must be a sha256 hex digest"):
        cache.get("../../etc/passwd")
    key = result_key("map", vectors="pickled")
    np.savez(tmp_path / f"{key}.npz", bad=np.array([{"x": 1}], dtype=object))
    (tmp_path / f"{key}.json").write_text("{}")
    assert cache.get(key) is None


# --- size caps and least-recently-used eviction --------------------------------------------------


class FakeClock:
    """A wall clock the test moves: store._now() reads it."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def test_embedding_cache_evicts_least_recently_used_rows_down_under_the_cap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    clock = FakeClock()
    monkeypatch.setattr(store, "_now", clock)
    cap = 100_000
    cache = EmbeddingCache(tmp_path / "capped.sqlite3", max_bytes=cap)
    old_keys = _keys(400, "old")
    cache.put_many("m", old_keys, _vectors(400, d=32))
    assert cache.stored_bytes() == 400 * (64 + 1 + 32 * 4 + store._ROW_OVERHEAD) < cap
    clock.now += 3600
    in_use = old_keys[:20]  # the oldest rows, read an hour later: in use again
    assert len(cache.get_many("m", in_use)) == 20
    clock.now += 1
    new_keys = _keys(200, "new")
    cache.put_many("m", new_keys, _vectors(200, d=32, seed=1))  # 600 rows: over the cap

    assert cache.stored_bytes() <= cap * store.EVICT_TO
    assert len(cache.get_many("m", in_use)) == 20, "a row read since the last write was evicted"
    assert len(cache.get_many("m", new_keys)) == 200, "the rows just written were evicted"
    assert 0 < len(cache.get_many("m", old_keys[20:])) < 380
    cache.close()
    with sqlite3.connect(tmp_path / "capped.sqlite3") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        counted = conn.execute(
            "SELECT SUM(length(key) + length(model_id) + length(vector) + ?) FROM embeddings",
            (store._ROW_OVERHEAD,),
        ).fetchone()[0]
        assert counted == conn.execute("SELECT bytes FROM usage").fetchone()[0]


def test_embedding_cache_file_stays_bounded_while_filled_far_past_the_cap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    clock = FakeClock()
    monkeypatch.setattr(store, "_now", clock)
    cap = 2_000_000
    path = tmp_path / "bounded.sqlite3"
    cache = EmbeddingCache(path, max_bytes=cap)
    for batch in range(40):  # 40 x 500 rows of 384 values: ~32 MB written, 16x the cap
        clock.now += 10
        cache.put_many("m", _keys(500, f"b{batch}"), _vectors(500, d=384, seed=batch))
        assert cache.stored_bytes() <= cap
    assert len(cache.get_many("m", _keys(500, "b39"))) == 500
    cache.close()
    assert path.stat().st_size <= 2 * cap


def test_embedding_cache_cap_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv(store.EMBEDDING_CACHE_MB_ENV, raising=False)
    default = EmbeddingCache(tmp_path / "a.sqlite3")
    assert default.max_bytes == store.DEFAULT_CACHE_MB * 2**20 == 2048 * 2**20
    default.close()
    monkeypatch.setenv(store.EMBEDDING_CACHE_MB_ENV, "0.5")
    half = EmbeddingCache(tmp_path / "b.sqlite3")
    assert half.max_bytes == 2**19
    half.close()
    monkeypatch.setenv(store.EMBEDDING_CACHE_MB_ENV, "lots")
    with pytest.raises(ParameterError, match="EMBEDSCOPE_EMBEDDING_CACHE_MB must be a positive"):
        EmbeddingCache(tmp_path / "c.sqlite3")


def test_a_cache_written_before_the_cap_is_upgraded_in_place(tmp_path: Path):
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE embeddings (model_id TEXT NOT NULL, key TEXT NOT NULL, dim INTEGER "
            "NOT NULL, vector BLOB NOT NULL, PRIMARY KEY (model_id, key)) WITHOUT ROWID"
        )
        conn.executemany(
            "INSERT INTO embeddings VALUES ('m', ?, 4, ?)",
            [(key, row.tobytes()) for key, row in zip(_keys(3), _vectors(3), strict=True)],
        )
    upgraded = EmbeddingCache(path)
    assert upgraded.stored_bytes() == 3 * (64 + 1 + 16 + store._ROW_OVERHEAD)
    np.testing.assert_array_equal(upgraded.get_many("m", _keys(3))[_keys(3)[2]], _vectors(3)[2])
    upgraded.put_many("m", _keys(1), _vectors(1, seed=5))  # a replaced row counts once
    assert upgraded.stored_bytes() == 3 * (64 + 1 + 16 + store._ROW_OVERHEAD)
    upgraded.close()


def test_result_cache_evicts_least_recently_used_entries_but_not_one_in_use(tmp_path: Path):
    from lib.store.caches import ResultCache, result_key

    cap = 400_000
    cache = ResultCache(tmp_path, max_bytes=cap)
    keys = [result_key("map", vectors=f"v{i}") for i in range(12)]
    for age, key in enumerate(keys[:8]):  # 8 x ~40 KB, written 8 to 1 hours ago
        cache.put(key, {"coords": np.full((5000, 2), age, dtype=np.float32)}, {"i": age})
        past = store._now() - 3600 * (8 - age)
        os.utime(tmp_path / f"{key}.json", (past, past))
    assert cache.get(keys[0]) is not None  # the oldest entry, read now: in use
    for i, key in enumerate(keys[8:], start=8):  # 4 more: 12 x ~40 KB, over the cap
        cache.put(key, {"coords": np.full((5000, 2), i, dtype=np.float32)}, {"i": i})
        cache._rescan()

    assert cache.stored_bytes() <= cap
    assert cache.get(keys[0])[1] == {"i": 0}, "the entry in use was evicted"
    assert all(cache.get(key) is not None for key in keys[8:]), "fresh entries were evicted"
    assert cache.get(keys[1]) is None, "the least recently used entry was kept"
    assert ResultCache(tmp_path, max_bytes=cap).stored_bytes() <= cap


def test_result_cache_cap_comes_from_the_environment(tmp_path, monkeypatch):
    from lib.store.caches import ResultCache

    monkeypatch.delenv(store.RESULT_CACHE_MB_ENV, raising=False)
    assert ResultCache(tmp_path).max_bytes == 2048 * 2**20
    monkeypatch.setenv(store.RESULT_CACHE_MB_ENV, "-3")
    with pytest.raises(ParameterError, match="EMBEDSCOPE_RESULT_CACHE_MB must be a positive"):
        ResultCache(tmp_path)


# --- crashes: damaged, stale and leftover files ------------------------------------------------


def _one_result(tmp_path: Path):
    from lib.store.caches import ResultCache, result_key

    cache = ResultCache(tmp_path)
    key = result_key("map", vectors="damaged")
    arrays = {"coords": np.arange(2000, dtype=np.float32).reshape(1000, 2), "ids": np.arange(3)}
    cache.put(key, arrays, {"n": 1})
    return cache, key, arrays


@pytest.mark.parametrize(
    ("damage", "suffix"),
    [
        (lambda data: data[: len(data) // 2], ".npz"),  # truncated by a kill or a full disk
        (lambda data: b"", ".npz"),
        (lambda data: data[:-30] + b"\0" * 30, ".npz"),  # same size, broken central directory
        (lambda data: data[: len(data) // 2], ".json"),
        (lambda data: b"[1, 2]", ".json"),
        (lambda data: data.replace(b'"ids"', b'"idz"'), ".json"),  # names a missing array
    ],
)
def test_a_damaged_result_is_a_miss_removed_and_rewritten(tmp_path: Path, damage, suffix):
    cache, key, arrays = _one_result(tmp_path)
    path = tmp_path / f"{key}{suffix}"
    path.write_bytes(damage(path.read_bytes()))
    assert cache.get(key) is None
    assert not (tmp_path / f"{key}.json").exists(), "the damaged entry was kept"
    cache.put(key, arrays, {"n": 2})
    stored, meta = cache.get(key)
    np.testing.assert_array_equal(stored["coords"], arrays["coords"])
    assert meta == {"n": 2}


def test_a_result_written_under_other_library_versions_is_a_miss(tmp_path, monkeypatch):
    cache, key, arrays = _one_result(tmp_path)
    monkeypatch.setattr(store, "library_versions", lambda: {"numpy": "0.1"})
    assert cache.get(key) is None
    cache.put(key, arrays, {"n": 3})
    assert cache.get(key)[1] == {"n": 3}
    monkeypatch.undo()
    assert cache.get(key) is None


def _dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "pass"], check=True)
    assert done.returncode == 0
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_leftover_temp_files_are_removed_at_open_only_when_abandoned(tmp_path: Path):
    from lib.store.caches import ResultCache

    host = store.owner_tag().split("-")[0]
    dead = tmp_path / f".{host}-{_dead_pid()}-abc.tmp"
    mine = tmp_path / f".{store.owner_tag()}def.tmp"  # another session of this process
    unknown_young = tmp_path / "tmpyoung.tmp"
    unknown_old = tmp_path / "tmpold.tmp"
    for path in (dead, mine, unknown_young, unknown_old):
        path.write_bytes(b"half written")
    past = store._now() - 2 * store.LEFTOVER_GRACE_S
    os.utime(unknown_old, (past, past))

    cache = ResultCache(tmp_path)
    assert cache.leftovers_removed == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([mine.name, unknown_young.name])
    assert ResultCache(tmp_path, leftover_grace_s=0).leftovers_removed == 2


def test_result_writes_are_fsynced_before_the_rename(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(store.os, "fsync", lambda fd: synced.append(fd) or real_fsync(fd))
    _one_result(tmp_path)
    assert len(synced) == 4  # the .npz, the .json and the folder after each rename
