"""Persistent embedding cache: vectors keyed by (model id, sha256 of text) in one SQLite file."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import sqlite3
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import platformdirs

from lib.errors import ParameterError, StoreError

HOME_ENV = "EMBEDSCOPE_HOME"
CACHE_FILE_NAME = "embeddings.sqlite3"
# Well under SQLite's bound-variable limit (999 on old builds), one slot left for the model id.
_LOOKUP_CHUNK = 900
_SCHEMA = """
CREATE TABLE IF NOT EXISTS embeddings (
    model_id TEXT NOT NULL,
    key TEXT NOT NULL,
    dim INTEGER NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (model_id, key)
) WITHOUT ROWID
"""
_VECTOR_DTYPE = np.dtype("<f4")

logger = logging.getLogger(__name__)


def default_home() -> Path:
    """The folder of all persistent data: $EMBEDSCOPE_HOME, else the user cache dir; created."""
    configured = os.environ.get(HOME_ENV, "").strip()
    home = (
        Path(configured).expanduser()
        if configured
        else Path(platformdirs.user_cache_dir("embedscope"))
    )
    try:
        home.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise store_error(home, exc) from exc
    return home


def text_key(text: str) -> str:
    """sha256 hex digest of the UTF-8 text: the cache key of one document."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def store_error(path: Path, reason: object) -> StoreError:
    """The one message for an unusable store location, naming the path and how to move it."""
    return StoreError(
        f"Cannot store embedscope data at '{path}': {reason}. Set the {HOME_ENV} environment "
        "variable to a writable folder, or delete the file if it is damaged."
    )


def _open_database(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) the cache database at `path`: WAL, NORMAL sync, our table."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, timeout=30, check_same_thread=False)
    except (OSError, sqlite3.Error) as exc:
        raise store_error(path, exc) from exc
    try:
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        conn.execute("PRAGMA synchronous=NORMAL")
        with conn:
            conn.execute(_SCHEMA)
    except sqlite3.Error as exc:
        conn.close()
        raise store_error(path, exc) from exc
    if mode != "wal":
        logger.warning("SQLite refused WAL mode for %s (got %r); writes block readers", path, mode)
    return conn


class EmbeddingCache:
    """Persistent vectors keyed by (model id, sha256 of text) in SQLite (WAL), shared by sessions.

    One connection guarded by a lock, so one instance can be shared by every Streamlit session
    thread; several processes may open the same file (WAL readers do not block the writer).
    """

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = (
            Path(path).expanduser() if path is not None else default_home() / CACHE_FILE_NAME
        )
        self._lock = threading.Lock()
        self._conn = _open_database(self.path)

    def get_many(self, model_id: str, keys: Sequence[str]) -> dict[str, np.ndarray]:
        """Cached vectors of `keys` for `model_id`: only the hits, each read-only float32 (dim,)."""
        unique = list(dict.fromkeys(keys))
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(unique), _LOOKUP_CHUNK):
            chunk = unique[start : start + _LOOKUP_CHUNK]
            marks = ",".join("?" * len(chunk))
            rows = self._execute(
                f"SELECT key, dim, vector FROM embeddings WHERE model_id = ? AND key IN ({marks})",
                (model_id, *chunk),
            )
            for key, dim, blob in rows:
                vector = np.frombuffer(blob, dtype=_VECTOR_DTYPE)
                if vector.size != dim:
                    raise store_error(
                        self.path,
                        f"the vector stored for key {key} has {vector.size} values, not {dim}",
                    )
                found[key] = vector.astype(np.float32, copy=False)
        return found

    def put_many(self, model_id: str, keys: Sequence[str], vectors: np.ndarray) -> None:
        """Store one row of `vectors` (n, d) per key for `model_id` in one committed transaction."""
        matrix = np.asarray(vectors, dtype=_VECTOR_DTYPE)
        if matrix.ndim != 2 or matrix.shape[0] != len(keys):
            raise ParameterError(
                f"put_many needs a 2-D array with one row per key; got {len(keys)} keys and an "
                f"array of shape {matrix.shape}."
            )
        dim = matrix.shape[1]
        rows = [(model_id, key, dim, row.tobytes()) for key, row in zip(keys, matrix, strict=True)]
        with self._lock:
            try:
                with self._conn:
                    self._conn.executemany(
                        "INSERT OR REPLACE INTO embeddings (model_id, key, dim, vector) "
                        "VALUES (?, ?, ?, ?)",
                        rows,
                    )
            except sqlite3.Error as exc:
                raise store_error(self.path, exc) from exc

    def count(self, model_id: str | None = None) -> int:
        """Number of cached vectors, for one model or for all of them."""
        if model_id is None:
            rows = self._execute("SELECT COUNT(*) FROM embeddings", ())
        else:
            rows = self._execute("SELECT COUNT(*) FROM embeddings WHERE model_id = ?", (model_id,))
        return int(rows[0][0])

    def close(self) -> None:
        """Close the connection; the instance cannot be used afterwards."""
        with self._lock:
            self._conn.close()

    def _execute(self, sql: str, params: Sequence[object]) -> list[tuple]:
        """Run one read query under the lock and return all its rows."""
        with self._lock:
            try:
                return self._conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise store_error(self.path, exc) from exc


RESULTS_DIR_NAME = "results"
VERSIONED_PACKAGES = (
    "numpy", "pandas", "pyarrow", "scikit-learn", "umap-learn", "pynndescent",
    "sentence-transformers",
)  # fmt: skip


def result_key(stage: str, **parts: object) -> str:
    """A stable content key for a derived result: sha256 of the stage and its inputs as JSON."""
    payload = json.dumps({"stage": stage, **parts}, sort_keys=True, default=repr)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def library_versions() -> dict[str, str]:
    """Versions of the libraries that shape results, stored beside each cached result."""
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for package in VERSIONED_PACKAGES:
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "not installed"
    return found


class ResultCache:
    """Derived arrays (maps, clusters) on disk by content key, so a new process skips recomputing.

    Each entry is `<key>.npz` (numeric arrays only, read with allow_pickle=False) plus `<key>.json`
    holding its parameters and JSON-able extras; both are written to a temp file, then renamed.
    """

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_home() / RESULTS_DIR_NAME
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise store_error(self.root, exc) from exc

    def get(self, key: str) -> tuple[dict[str, np.ndarray], dict] | None:
        """The stored arrays and extras for `key`, or None when absent or unreadable."""
        arrays_path, meta_path = self._paths(key)
        try:
            with np.load(arrays_path, allow_pickle=False) as stored:
                arrays = {name: stored[name] for name in stored.files}
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError, KeyError):
            return None
        return arrays, meta

    def put(self, key: str, arrays: dict[str, np.ndarray], meta: dict) -> None:
        """Store arrays and extras atomically; a failure to write only costs a recomputation."""
        arrays_path, meta_path = self._paths(key)
        try:
            self._write_atomic(arrays_path, lambda handle: np.savez(handle, **arrays))
            text = json.dumps(meta, sort_keys=True, default=repr).encode("utf-8")
            self._write_atomic(meta_path, lambda handle: handle.write(text))
        except OSError as exc:
            logger.warning("Could not cache result %s: %s", key, exc)

    def _paths(self, key: str) -> tuple[Path, Path]:
        if not re.fullmatch(r"[0-9a-f]{64}", key):
            raise ParameterError(f"A result key must be a sha256 hex digest; got {key!r}.")
        return self.root / f"{key}.npz", self.root / f"{key}.json"

    @staticmethod
    def _write_atomic(path: Path, write) -> None:
        descriptor, temp_name = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        try:
            with os.fdopen(descriptor, "wb") as handle:
                write(handle)
            os.replace(temp_name, path)
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise
