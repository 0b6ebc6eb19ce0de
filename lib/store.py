"""Persistent embedding cache: vectors keyed by (model id, sha256 of text) in one SQLite file."""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
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
        raise _store_error(home, exc) from exc
    return home


def text_key(text: str) -> str:
    """sha256 hex digest of the UTF-8 text: the cache key of one document."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _store_error(path: Path, reason: object) -> StoreError:
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
        raise _store_error(path, exc) from exc
    try:
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        conn.execute("PRAGMA synchronous=NORMAL")
        with conn:
            conn.execute(_SCHEMA)
    except sqlite3.Error as exc:
        conn.close()
        raise _store_error(path, exc) from exc
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
                    raise _store_error(
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
                raise _store_error(self.path, exc) from exc

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
                raise _store_error(self.path, exc) from exc
