"""Persistent caches: vectors by (model id, sha256 of text) in SQLite; derived arrays on disk.

Both caches are bounded and crash-safe:

- Size caps, least-recently-used eviction. `EmbeddingCache` keeps at most
  $EMBEDSCOPE_EMBEDDING_CACHE_MB megabytes of stored entries (default 2048), `ResultCache` at most
  $EMBEDSCOPE_RESULT_CACHE_MB (default 2048). Going over the cap evicts the entries used longest
  ago until 90% of the cap is left. A read refreshes an entry's last use at most once a minute
  (a `last_used` column written in batches; a result's `.json` modification time), so reading
  stays cheap. Entries written or read in the current second are never evicted.
- Crashes. SQLite runs in WAL mode with one transaction per write. Result files are written to a
  temporary file, fsynced, renamed into place, and the folder is fsynced; a result whose files
  are truncated, corrupt, incomplete or written under other library versions is a miss (and
  damaged files are removed). Temporary files left by a killed process are removed when a cache
  is next opened, once their owner process is gone or they are older than LEFTOVER_GRACE_S.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import math
import os
import platform
import re
import shutil
import socket
import sqlite3
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import platformdirs

from lib.errors import ParameterError, StoreError

HOME_ENV = "EMBEDSCOPE_HOME"
CACHE_FILE_NAME = "embeddings.sqlite3"
EMBEDDING_CACHE_MB_ENV = "EMBEDSCOPE_EMBEDDING_CACHE_MB"
RESULT_CACHE_MB_ENV = "EMBEDSCOPE_RESULT_CACHE_MB"
DEFAULT_CACHE_MB = 2048  # per cache: a small server's disk holds both with room to spare
EVICT_TO = 0.9  # eviction frees down to this share of the cap, so it runs rarely
TOUCH_EVERY_S = 60  # a read refreshes an entry's last use at most this often
TOUCH_FLUSH_ROWS = 4096  # pending last-use updates of the embedding cache written in one go
LEFTOVER_GRACE_S = 3600  # a temporary file of a live (or unknown) owner is kept this long
# Well under SQLite's bound-variable limit (999 on old builds), one slot left for the model id.
_LOOKUP_CHUNK = 900
_ROW_OVERHEAD = 24  # bytes counted per stored vector beyond its key, model id and values
_EVICT_ROUNDS = 16
_SCHEMA = """
CREATE TABLE IF NOT EXISTS embeddings (
    model_id TEXT NOT NULL,
    key TEXT NOT NULL,
    dim INTEGER NOT NULL,
    vector BLOB NOT NULL,
    last_used INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (model_id, key)
) WITHOUT ROWID
"""
_ROW_BYTES = "(length(CAST({row}.key AS BLOB)) + length(CAST({row}.model_id AS BLOB)) + " \
    "length({row}.vector) + " + str(_ROW_OVERHEAD) + ")"  # fmt: skip
_USAGE = f"""
CREATE INDEX IF NOT EXISTS embeddings_last_used ON embeddings (last_used);
CREATE TABLE IF NOT EXISTS usage (
    id INTEGER PRIMARY KEY CHECK (id = 1), rows INTEGER NOT NULL, bytes INTEGER NOT NULL
);
CREATE TRIGGER IF NOT EXISTS usage_insert AFTER INSERT ON embeddings BEGIN
    UPDATE usage SET rows = rows + 1, bytes = bytes + {_ROW_BYTES.format(row="NEW")};
END;
CREATE TRIGGER IF NOT EXISTS usage_delete AFTER DELETE ON embeddings BEGIN
    UPDATE usage SET rows = rows - 1, bytes = bytes - {_ROW_BYTES.format(row="OLD")};
END;
CREATE TRIGGER IF NOT EXISTS usage_update AFTER UPDATE OF vector ON embeddings BEGIN
    UPDATE usage SET bytes = bytes - {_ROW_BYTES.format(row="OLD")}
        + {_ROW_BYTES.format(row="NEW")};
END;
"""
_USAGE_FIRST_COUNT = f"""
INSERT INTO usage (id, rows, bytes)
    SELECT 1, COUNT(*), COALESCE(SUM({_ROW_BYTES.format(row="embeddings")}), 0) FROM embeddings
"""
_UPSERT = (
    "INSERT INTO embeddings (model_id, key, dim, vector, last_used) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (model_id, key) DO UPDATE SET dim = excluded.dim, vector = excluded.vector, "
    "last_used = excluded.last_used"
)
_VECTOR_DTYPE = np.dtype("<f4")
_HOST_TAG = hashlib.sha256(socket.gethostname().encode("utf-8")).hexdigest()[:8]
_OWNER_PATTERN = re.compile(r"(?P<host>[0-9a-f]{8})-(?P<pid>[0-9]{1,10})-")

logger = logging.getLogger(__name__)


def _now() -> float:
    """Seconds since the epoch: the clock of last uses (one place, so tests can move it)."""
    return time.time()


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


def cache_cap_bytes(env_name: str, max_bytes: int | None = None) -> int:
    """`max_bytes` if given, else $`env_name` megabytes, else DEFAULT_CACHE_MB megabytes."""
    if max_bytes is not None:
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1:
            raise ParameterError(f"max_bytes must be a positive int; got {max_bytes!r} instead.")
        return max_bytes
    raw = os.environ.get(env_name, "").strip()
    if not raw:
        return DEFAULT_CACHE_MB * 2**20
    try:
        megabytes = float(raw)
    except ValueError:
        megabytes = math.nan
    if not math.isfinite(megabytes) or megabytes <= 0:
        raise ParameterError(
            f"{env_name} must be a positive number of megabytes; got {raw!r} instead."
        )
    return max(1, int(megabytes * 2**20))


# --- owners of temporary files ------------------------------------------------------------------


def owner_tag() -> str:
    """'<host hash>-<pid>-': names this process in temporary file names, for leftover cleaning."""
    return f"{_HOST_TAG}-{os.getpid()}-"


def _owner_is_gone(text: str) -> bool:
    """Whether the owner named in `text` (see owner_tag) is a process of this host that ended.

    Our own process counts as alive (another session thread may be writing); a name without an
    owner, or of another host, is unknown, so only its age can make it a leftover.
    """
    match = _OWNER_PATTERN.search(text)
    if match is None or match["host"] != _HOST_TAG:
        return False
    pid = int(match["pid"])
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError):
        return False
    return False


def is_abandoned(path: Path, grace_s: float, owner_text: str | None = None) -> bool:
    """Whether a temporary file or folder was left by a dead writer (owner gone or too old).

    The owner is read from `owner_text` if given, else from the path's name.
    """
    try:
        age = time.time() - path.lstat().st_mtime
    except FileNotFoundError:
        return False
    return age > grace_s or _owner_is_gone(path.name if owner_text is None else owner_text)


def remove_path(path: Path) -> bool:
    """Delete a file or a folder tree; True when something was removed."""
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    except FileNotFoundError:
        return False
    except OSError as exc:
        logger.warning("Could not remove leftover %s: %s", path, exc)
        return False
    return True


def fsync_folder(folder: Path) -> None:
    """Make the renames inside `folder` durable (no-op where folders cannot be opened)."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def write_synced(path: Path, write: Callable) -> None:
    """Write `path` through `write(handle)` into an owner-tagged temp file, fsync, rename into
    place and fsync the folder, so a kill or power cut leaves the old file or the new one."""
    descriptor, temp_name = tempfile.mkstemp(
        dir=path.parent, prefix="." + owner_tag(), suffix=".tmp"
    )
    try:
        with os.fdopen(descriptor, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    fsync_folder(path.parent)


# --- the embedding cache ------------------------------------------------------------------------


def _open_database(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) the cache database at `path`: WAL, NORMAL sync, our tables."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
    except (OSError, sqlite3.Error) as exc:
        raise store_error(path, exc) from exc
    try:
        conn.execute("PRAGMA page_size=16384")  # new files: a vector row fits in its page
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA wal_autocheckpoint=256")  # 4 MB of 16 KB pages
        conn.execute("PRAGMA journal_size_limit=16777216")  # the WAL shrinks back after a burst
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(_SCHEMA)
            columns = {row[1] for row in conn.execute("PRAGMA table_info(embeddings)")}
            if "last_used" not in columns:  # a cache written before the size cap
                conn.execute(
                    "ALTER TABLE embeddings ADD COLUMN last_used INTEGER NOT NULL DEFAULT 0"
                )
            for statement in _split_script(_USAGE):
                conn.execute(statement)
            if conn.execute("SELECT 1 FROM usage").fetchone() is None:
                conn.execute(_USAGE_FIRST_COUNT)  # once per file: the triggers keep it after
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.isolation_level = ""  # back to Python's implicit transactions around writes
    except sqlite3.Error as exc:
        conn.close()
        raise store_error(path, exc) from exc
    if mode != "wal":
        logger.warning("SQLite refused WAL mode for %s (got %r); writes block readers", path, mode)
    return conn


def _split_script(script: str) -> list[str]:
    """The statements of `script` (sqlite3 has no executescript inside an open transaction)."""
    statements, current = [], ""
    for line in script.strip().splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    return statements


class EmbeddingCache:
    """Persistent vectors keyed by (model id, sha256 of text) in SQLite (WAL), shared by sessions.

    One connection guarded by a lock, so one instance can be shared by every Streamlit session
    thread; several processes may open the same file (WAL readers do not block the writer).
    Bounded: stored entries (values, keys, model ids, ~24 bytes per row) stay under `max_bytes`
    (default $EMBEDSCOPE_EMBEDDING_CACHE_MB megabytes, else 2048); each write that goes over
    evicts the least recently used rows, in the same transaction, down to 90% of the cap. The
    file itself stays within about 1.5x the cap (SQLite reuses the pages eviction frees).
    """

    def __init__(self, path: str | Path | None = None, *, max_bytes: int | None = None) -> None:
        self.path = (
            Path(path).expanduser() if path is not None else default_home() / CACHE_FILE_NAME
        )
        self.max_bytes = cache_cap_bytes(EMBEDDING_CACHE_MB_ENV, max_bytes)
        self._lock = threading.Lock()
        self._conn = _open_database(self.path)
        self._touched: dict[tuple[str, str], int] = {}
        self._touched_since = time.monotonic()

    def get_many(self, model_id: str, keys: Sequence[str]) -> dict[str, np.ndarray]:
        """Cached vectors of `keys` for `model_id`: only the hits, each read-only float32 (dim,)."""
        unique = list(dict.fromkeys(keys))
        found: dict[str, np.ndarray] = {}
        stale: list[tuple[str, str]] = []
        now = int(_now())
        for start in range(0, len(unique), _LOOKUP_CHUNK):
            chunk = unique[start : start + _LOOKUP_CHUNK]
            marks = ",".join("?" * len(chunk))
            rows = self._execute(
                "SELECT key, dim, vector, last_used FROM embeddings "
                f"WHERE model_id = ? AND key IN ({marks})",
                (model_id, *chunk),
            )
            for key, dim, blob, last_used in rows:
                vector = np.frombuffer(blob, dtype=_VECTOR_DTYPE)
                if vector.size != dim:
                    raise store_error(
                        self.path,
                        f"the vector stored for key {key} has {vector.size} values, not {dim}",
                    )
                found[key] = vector.astype(np.float32, copy=False)
                if last_used < now - TOUCH_EVERY_S:
                    stale.append((model_id, key))
        with self._lock:
            self._touched.update(dict.fromkeys(stale, now))
            due = len(self._touched) >= TOUCH_FLUSH_ROWS or (
                self._touched and time.monotonic() - self._touched_since > TOUCH_EVERY_S
            )
        if due:
            self._write(lambda conn: None)
        return found

    def count_present(self, model_id: str, keys: Sequence[str]) -> int:
        """How many distinct `keys` have a vector for `model_id` (no vector is read)."""
        unique = list(dict.fromkeys(keys))
        present = 0
        for start in range(0, len(unique), _LOOKUP_CHUNK):
            chunk = unique[start : start + _LOOKUP_CHUNK]
            marks = ",".join("?" * len(chunk))
            rows = self._execute(
                f"SELECT COUNT(*) FROM embeddings WHERE model_id = ? AND key IN ({marks})",
                (model_id, *chunk),
            )
            present += int(rows[0][0])
        return present

    def put_many(self, model_id: str, keys: Sequence[str], vectors: np.ndarray) -> None:
        """Store one row of `vectors` (n, d) per key for `model_id` in one committed transaction
        (which also records pending last uses and evicts down to the cap when over it)."""
        matrix = np.asarray(vectors, dtype=_VECTOR_DTYPE)
        if matrix.ndim != 2 or matrix.shape[0] != len(keys):
            raise ParameterError(
                f"put_many needs a 2-D array with one row per key; got {len(keys)} keys and an "
                f"array of shape {matrix.shape}."
            )
        dim = matrix.shape[1]
        now = int(_now())
        rows = [
            (model_id, key, dim, row.tobytes(), now) for key, row in zip(keys, matrix, strict=True)
        ]
        self._write(lambda conn: conn.executemany(_UPSERT, rows))

    def count(self, model_id: str | None = None) -> int:
        """Number of cached vectors, for one model or for all of them."""
        if model_id is None:
            rows = self._execute("SELECT COUNT(*) FROM embeddings", ())
        else:
            rows = self._execute("SELECT COUNT(*) FROM embeddings WHERE model_id = ?", (model_id,))
        return int(rows[0][0])

    def stored_bytes(self) -> int:
        """Bytes of stored entries, as the cap counts them (kept by triggers, so always exact)."""
        return int(self._execute("SELECT bytes FROM usage", ())[0][0])

    def flush(self) -> None:
        """Write pending last-use updates now (they are otherwise batched)."""
        if self._touched:
            self._write(lambda conn: None)

    def close(self) -> None:
        """Write pending last uses and close; the instance cannot be used afterwards."""
        try:
            self.flush()
        except StoreError as exc:
            logger.warning("Could not record last uses: %s", exc)
        with self._lock:
            self._conn.close()

    def _write(self, change: Callable[[sqlite3.Connection], object]) -> None:
        """One committed transaction: `change`, the pending last uses, then eviction if over."""
        with self._lock:
            touched, self._touched = self._touched, {}
            self._touched_since = time.monotonic()
            try:
                with self._conn:
                    change(self._conn)
                    self._conn.executemany(
                        "UPDATE embeddings SET last_used = MAX(last_used, ?) "
                        "WHERE model_id = ? AND key = ?",
                        [(stamp, model, key) for (model, key), stamp in touched.items()],
                    )
                    self._evict(self._conn, int(_now()))
            except sqlite3.Error as exc:
                raise store_error(self.path, exc) from exc

    def _evict(self, conn: sqlite3.Connection, now: int) -> None:
        """Delete least recently used rows (never one used this second) down to EVICT_TO."""
        rows, used = conn.execute("SELECT rows, bytes FROM usage").fetchone()
        if used <= self.max_bytes:
            return
        target = int(self.max_bytes * EVICT_TO)
        for _ in range(_EVICT_ROUNDS):
            if used <= target or rows == 0:
                break
            doomed = max(1, math.ceil((used - target) / (used / rows)))
            deleted = conn.execute(
                "DELETE FROM embeddings WHERE (model_id, key) IN (SELECT model_id, key "
                "FROM embeddings WHERE last_used < ? ORDER BY last_used LIMIT ?)",
                (now, doomed),
            ).rowcount
            rows, used = conn.execute("SELECT rows, bytes FROM usage").fetchone()
            if deleted == 0:
                break
        logger.info("Embedding cache %s: evicted down to %d bytes", self.path, used)

    def _execute(self, sql: str, params: Sequence[object]) -> list[tuple]:
        """Run one read query under the lock and return all its rows."""
        with self._lock:
            try:
                return self._conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise store_error(self.path, exc) from exc


# --- the result cache ---------------------------------------------------------------------------

RESULTS_DIR_NAME = "results"
RESULT_FORMAT = 2
RESCAN_EVERY_S = 60  # the result folder is re-measured at least this often while writing
VERSIONED_PACKAGES = (
    "numpy", "pandas", "pyarrow", "scikit-learn", "umap-learn", "pynndescent",
    "sentence-transformers",
)  # fmt: skip
_RESULT_NAME = re.compile(r"(?P<key>[0-9a-f]{64})\.(?P<kind>npz|json)")
_DAMAGE = (OSError, EOFError, ValueError, KeyError, TypeError, AttributeError, zipfile.BadZipFile)


def result_key(stage: str, **parts: object) -> str:
    """A stable content key for a derived result: sha256 of the stage and its inputs as JSON."""
    payload = json.dumps({"stage": stage, **parts}, sort_keys=True, default=repr)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def machine() -> str:
    """The CPU this runs on ("x86_64 Linux: <model name>"): numbers that depend on it (UMAP's
    float32 layouts, numba's machine code) name it."""
    try:
        lines = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        lines = []
    names = [line.partition(":")[2].strip() for line in lines if line.startswith("model name")]
    return f"{platform.machine()} {platform.system()}: {names[0] if names else 'unknown CPU'}"


def library_versions(packages: tuple[str, ...] = VERSIONED_PACKAGES) -> dict[str, str]:
    """Versions of `packages` (by default the libraries that shape results, stored beside each
    cached result); "not installed" for a missing one."""
    return dict(_library_versions(packages))


@functools.cache
def _library_versions(packages: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """Read once per process (an upgrade takes a restart to load anyway)."""
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for package in packages:
        try:
            found.append((package, version(package)))
        except PackageNotFoundError:
            found.append((package, "not installed"))
    return tuple(found)


class DamagedResult(Exception):
    """A result entry whose files do not agree (internal: the entry counts as a miss)."""


@dataclass(frozen=True)
class _Entry:
    """One result on disk: its bytes (both files) and last use (the .json's mtime)."""

    key: str
    size: int
    last_used: float


class ResultCache:
    """Derived arrays (maps, clusters) on disk by content key, so a new process skips recomputing.

    Each entry is `<key>.npz` (numeric arrays only, read with allow_pickle=False) plus `<key>.json`
    (the caller's JSON-able extras, the array names, the .npz size and the library versions); each
    is written to a temp file, fsynced and renamed, the .json last, so the .json commits the entry.
    A truncated, corrupt or incomplete entry, or one written under other library versions, is a
    miss: the caller recomputes and puts it again. Bounded: files stay under `max_bytes` (default
    $EMBEDSCOPE_RESULT_CACHE_MB megabytes, else 2048), least recently used evicted first; a read
    refreshes an entry's last use (the .json's mtime) at most once a minute.
    """

    def __init__(
        self,
        root: str | Path | None = None,
        *,
        max_bytes: int | None = None,
        leftover_grace_s: float = LEFTOVER_GRACE_S,
    ) -> None:
        self.root = Path(root) if root is not None else default_home() / RESULTS_DIR_NAME
        self.max_bytes = cache_cap_bytes(RESULT_CACHE_MB_ENV, max_bytes)
        self.leftover_grace_s = leftover_grace_s
        self._lock = threading.Lock()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise store_error(self.root, exc) from exc
        self.leftovers_removed = 0
        self._estimate = 0
        self._scanned_at = 0.0
        self._rescan()

    def get(self, key: str) -> tuple[dict[str, np.ndarray], dict] | None:
        """The stored arrays and extras for `key`, or None when absent, damaged or stale."""
        arrays_path, meta_path = self._paths(key)
        try:
            envelope = json.loads(meta_path.read_bytes())
            if envelope.get("format") != RESULT_FORMAT or not isinstance(envelope["meta"], dict):
                raise DamagedResult(f"the entry is not format {RESULT_FORMAT}")
            if envelope.get("versions") != library_versions():
                return None  # written under other library versions: stale, overwritten on put
            arrays = _read_npz(arrays_path, envelope)
        except FileNotFoundError:
            return None
        except (DamagedResult, *_DAMAGE) as exc:
            logger.warning("Result %s is damaged (%s); it will be recomputed", key, exc)
            self._remove(key)
            return None
        self._touch(meta_path)
        return arrays, envelope["meta"]

    def put(self, key: str, arrays: dict[str, np.ndarray], meta: dict) -> None:
        """Store arrays and extras atomically; a failure to write only costs a recomputation."""
        arrays_path, meta_path = self._paths(key)
        try:
            meta_path.unlink(missing_ok=True)  # uncommitted until the new .json is in place
            write_synced(arrays_path, lambda handle: np.savez(handle, **arrays))
            envelope = {
                "format": RESULT_FORMAT,
                "meta": meta,
                "arrays": sorted(arrays),
                "npz_bytes": arrays_path.stat().st_size,
                "versions": library_versions(),
            }
            text = json.dumps(envelope, sort_keys=True, default=repr).encode("utf-8")
            write_synced(meta_path, lambda handle: handle.write(text))
        except OSError as exc:
            logger.warning("Could not cache result %s: %s", key, exc)
            return
        self._after_write(envelope["npz_bytes"] + len(text))

    def stored_bytes(self) -> int:
        """Bytes of every file in the cache folder (entries, and temporary files being written)."""
        total = 0
        for item in os.scandir(self.root):
            try:
                total += item.stat(follow_symlinks=False).st_size
            except FileNotFoundError:
                continue
        return total

    def _paths(self, key: str) -> tuple[Path, Path]:
        if not re.fullmatch(r"[0-9a-f]{64}", key):
            raise ParameterError(f"A result key must be a sha256 hex digest; got {key!r}.")
        return self.root / f"{key}.npz", self.root / f"{key}.json"

    def _touch(self, meta_path: Path) -> None:
        """Refresh the entry's last use, at most once per TOUCH_EVERY_S."""
        try:
            now = _now()
            if meta_path.stat().st_mtime < now - TOUCH_EVERY_S:
                os.utime(meta_path, (now, now))
        except OSError:
            pass

    def _remove(self, key: str) -> None:
        """Delete an entry, its .json (the commit mark) first."""
        arrays_path, meta_path = self._paths(key)
        for path in (meta_path, arrays_path):
            try:
                path.unlink(missing_ok=True)
            except OSError as exc:
                logger.warning("Could not remove %s: %s", path, exc)

    def _after_write(self, written: int) -> None:
        """Count the bytes written; re-measure and evict when over the cap or due."""
        with self._lock:
            self._estimate += written
            due = time.monotonic() - self._scanned_at > RESCAN_EVERY_S
        if due or self._estimate > self.max_bytes:
            self._rescan()

    def _rescan(self) -> None:
        """Measure the folder, remove abandoned leftovers, evict down to EVICT_TO if over."""
        with self._lock:
            entries, loose = self._scan()
            total = sum(entry.size for entry in entries) + sum(size for _, size in loose)
            if total > self.max_bytes:
                total -= self._evict(entries, total)
            self._estimate = total
            self._scanned_at = time.monotonic()

    def _scan(self) -> tuple[list[_Entry], list[tuple[Path, int]]]:
        """Committed entries, plus loose files (temp files, halves of a pair) still in use."""
        sizes: dict[str, dict[str, os.stat_result]] = {}
        loose: list[tuple[Path, int]] = []
        for item in os.scandir(self.root):
            path = Path(item.path)
            try:
                info = item.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            match = _RESULT_NAME.fullmatch(item.name)
            if match is not None:
                sizes.setdefault(match["key"], {})[match["kind"]] = info
            elif item.name.endswith(".tmp") and is_abandoned(path, self.leftover_grace_s):
                self.leftovers_removed += remove_path(path)
            else:
                loose.append((path, info.st_size))
        entries = []
        for key, pair in sizes.items():
            if len(pair) == 2:
                size = pair["npz"].st_size + pair["json"].st_size
                entries.append(_Entry(key, size, pair["json"].st_mtime))
                continue
            for kind, info in pair.items():  # half a pair: being written, or abandoned long ago
                path = self.root / f"{key}.{kind}"
                if time.time() - info.st_mtime > self.leftover_grace_s:
                    self.leftovers_removed += remove_path(path)
                else:
                    loose.append((path, info.st_size))
        return entries, loose

    def _evict(self, entries: list[_Entry], total: int) -> int:
        """Remove least recently used entries (none used in the last second); bytes freed."""
        target = int(self.max_bytes * EVICT_TO)
        freed = 0
        recent = _now() - 1
        for entry in sorted(entries, key=lambda item: item.last_used):
            if total - freed <= target or entry.last_used >= recent:
                break
            self._remove(entry.key)
            freed += entry.size
        logger.info("Result cache %s: evicted %d bytes", self.root, freed)
        return freed


def _read_npz(path: Path, envelope: dict) -> dict[str, np.ndarray]:
    """The arrays of an entry, checked against its .json (size, names); DamagedResult if not."""
    with open(path, "rb") as handle:
        if os.fstat(handle.fileno()).st_size != envelope["npz_bytes"]:
            raise DamagedResult("the .npz is not the size its .json records")
        with np.load(handle, allow_pickle=False) as stored:
            missing = sorted(set(envelope["arrays"]) - set(stored.files))
            if missing:
                raise DamagedResult(f"arrays {missing} are missing")
            return {name: stored[name] for name in envelope["arrays"]}
