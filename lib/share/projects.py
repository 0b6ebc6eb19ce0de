"""Saved projects: a whole map (corpus, vectors, layout, clusters, view) behind an unguessable id.

Layout of a store (default `default_home() / "projects"`):

    projects.sqlite3        index (WAL): id, title, created, n_docs, model, params, versions
    <id>/corpus.parquet     texts (column TEXT_FIELD) and metadata
    <id>/arrays.npz         vectors, coords, cluster_labels, extra arrays (numbers only, stored
                            uncompressed: `load` memory-maps them read-only)
    <id>/meta.json          title, model, corpus fields, cluster names, view, curation (renamed
                            and merged clusters, tags: lib/share/curation.py), library versions

A project folder is written under a temporary name (`.saving-<owner>-*`, every file fsynced),
renamed into place (the store folder fsynced), then indexed, so a listed project is always
complete. What a killed process leaves (`.saving-*`, `.deleting-*`, a renamed folder never
indexed, marked by its UNINDEXED_MARK file) is removed when a store is next opened, once its
owner process is gone or it is older than the grace period. Ids are checked against
ID_PATTERN before any file is touched, so a share link can never name a path outside the store.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import secrets
import shutil
import sqlite3
import struct
import tempfile
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from lib.cluster.clusters import ClusterParams
from lib.errors import EmbedscopeError, ParameterError, StoreError, check_int, invalid_parameter
from lib.ingest.corpus import Corpus, list_samples
from lib.reduce.layouts import PCAParams, UMAPParams
from lib.reduce.tsne import TSNEParams
from lib.share.curation import Curation, curation_from_dict, curation_to_dict
from lib.share.export import to_parquet_bytes
from lib.store.caches import (
    LEFTOVER_GRACE_S,
    default_home,
    fsync_folder,
    is_abandoned,
    library_versions,
    owner_tag,
    remove_path,
    store_error,
    write_synced,
)

logger = logging.getLogger(__name__)

ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,64}")
ID_BYTES = 18  # 144 random bits, 24 URL-safe characters
PROJECT_PARAM = "project"
SAMPLE_PARAM = "sample"
INDEX_FILE = "projects.sqlite3"
CORPUS_FILE = "corpus.parquet"
ARRAYS_FILE = "arrays.npz"
META_FILE = "meta.json"
UNINDEXED_MARK = ".unindexed"  # in a project folder until its index row is committed: the owner
SAVING_PREFIX = ".saving-"
DELETING_PREFIX = ".deleting-"
TEXT_FIELD = "__embedscope_text__"
FORMAT_VERSION = 1
MAX_TITLE_CHARS = 200
LAYOUT_METHODS = {"umap": UMAPParams, "pca": PCAParams, "tsne": TSNEParams}
_EXTRA_NAME = re.compile(r"[A-Za-z0-9_]{1,64}")
_EXTRA_PREFIX = "extra__"
_CORE_ARRAYS = ("vectors", "coords", "cluster_labels")
_ZIP_LOCAL_HEADER = 30  # bytes before a zip member's name, extra field and data
_NPY_HEADER_READERS = {
    (1, 0): np.lib.format.read_array_header_1_0,
    (2, 0): np.lib.format.read_array_header_2_0,
}
_SCHEMA = """
CREATE TABLE IF NOT EXISTS projects (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    created TEXT NOT NULL,
    n_docs INTEGER NOT NULL,
    model TEXT,
    params TEXT NOT NULL,
    versions TEXT NOT NULL
)
"""


def new_project_id() -> str:
    """A fresh unguessable id: secrets.token_urlsafe(18), 24 characters, 144 random bits."""
    return secrets.token_urlsafe(ID_BYTES)


def is_valid_project_id(text: object) -> bool:
    """Whether `text` has the shape of a project id (16–64 of A-Z a-z 0-9 - _), nothing else."""
    return isinstance(text, str) and ID_PATTERN.fullmatch(text) is not None


def check_project_id(text: object) -> str:
    """Return `text` if it is a well-formed project id, else the StoreError a page shows."""
    if not is_valid_project_id(text):
        raise StoreError(
            "That share link is malformed: a project id is 16 to 64 letters, digits, '-' or '_'. "
            "Check that the whole link was copied."
        )
    return str(text)


def layout_dict(params: UMAPParams | PCAParams | TSNEParams) -> dict:
    """Layout parameters as JSON-able data, tagged with their method ('umap', 'pca', 'tsne')."""
    method = next(name for name, kind in LAYOUT_METHODS.items() if isinstance(params, kind))
    return {"method": method, **asdict(params)}


def _layout_params(layout: Mapping) -> UMAPParams | PCAParams:
    """Rebuild layout parameters from `layout_dict` output (validated by the dataclass)."""
    values = dict(layout)
    method = values.pop("method", None)
    if method not in LAYOUT_METHODS:
        raise invalid_parameter(
            "ProjectView", "layout['method']", "'umap', 'pca' or 'tsne'", method
        )
    return _params_from(LAYOUT_METHODS[method], values, "layout")


def _params_from(cls: type, values: Mapping, name: str):
    """`cls(**values)`, with unknown keys reported as a ParameterError."""
    unknown = sorted(set(values) - {item.name for item in fields(cls)})
    if unknown:
        raise invalid_parameter(
            "ProjectView", name, f"the fields of {cls.__name__}", f"unknown keys {unknown}"
        )
    return cls(**values)


@dataclass(frozen=True)
class ProjectView:
    """What a saved page shows: which page, 2-D/3-D, colouring, query, layout and clustering.

    `layout` is `layout_dict(UMAPParams | PCAParams)`, `clustering` is `asdict(ClusterParams)`;
    both are checked on creation, so `layout_params()` and `cluster_params()` always succeed.
    """

    page: str = "map"
    dimensions: int = 2
    color_by: str = "cluster"
    query: str = ""
    layout: dict = field(default_factory=lambda: layout_dict(UMAPParams()))
    clustering: dict = field(default_factory=lambda: asdict(ClusterParams()))

    def __post_init__(self) -> None:
        for name in ("page", "color_by", "query"):
            if not isinstance(getattr(self, name), str):
                raise invalid_parameter("ProjectView", name, "a str", getattr(self, name))
        if not self.page:
            raise invalid_parameter("ProjectView", "page", "a non-empty page name", self.page)
        check_int("ProjectView", "dimensions", self.dimensions, 2, 3)
        self.layout_params()
        self.cluster_params()

    def layout_params(self) -> UMAPParams | PCAParams:
        """The saved layout parameters, ready for project_umap / project_pca."""
        return _layout_params(self.layout)

    def cluster_params(self) -> ClusterParams:
        """The saved clustering parameters."""
        return _params_from(ClusterParams, self.clustering, "clustering")

    @classmethod
    def from_params(
        cls, layout: UMAPParams | PCAParams, clustering: ClusterParams, **view: object
    ) -> ProjectView:
        """A view from parameter dataclasses plus the plain fields (page, color_by, ...)."""
        return cls(layout=layout_dict(layout), clustering=asdict(clustering), **view)


@dataclass(frozen=True, eq=False)
class Project:
    """A saved map, reopened exactly as saved (read-only arrays).

    vectors (n, d) float32; coords (n, 2|3) float32; cluster_labels (n,) int64 with a name per id
    in `cluster_names`; `extra` holds optional numeric arrays (e.g. "coords_3d", "fitted_mask").
    `model_name` is None for uploaded vectors (no text model: text search is unavailable).
    `curation`: the visitor's renames, merges (of the saved clustering) and tags, as saved.
    """

    id: str
    title: str
    created: str
    model_name: str | None
    corpus: Corpus
    vectors: np.ndarray = field(repr=False)
    coords: np.ndarray = field(repr=False)
    cluster_labels: np.ndarray = field(repr=False)
    cluster_names: dict[int, str]
    view: ProjectView
    extra: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    curation: Curation = field(default_factory=Curation)


@dataclass(frozen=True)
class ProjectSummary:
    """One row of the project list."""

    id: str
    title: str
    created: str
    n_docs: int
    model_name: str | None


@dataclass(frozen=True)
class ShareTarget:
    """What a share link opens: a saved project (`kind` "project") or a bundled sample."""

    kind: str
    name: str


def share_query(*, project_id: str | None = None, sample: str | None = None) -> dict[str, str]:
    """Query parameters of a share link: {"project": id} or {"sample": name} (stable, no save)."""
    if (project_id is None) == (sample is None):
        raise ParameterError("share_query needs exactly one of project_id or sample.")
    if project_id is not None:
        return {PROJECT_PARAM: check_project_id(project_id)}
    return {SAMPLE_PARAM: _check_sample(sample)}


def share_target(query_params: Mapping[str, str | list[str]]) -> ShareTarget | None:
    """What the page's query parameters ask to open; None when they name nothing.

    Accepts `st.query_params` or any mapping (a list value counts by its last item). A malformed
    id or unknown sample raises StoreError before anything is read.
    """
    project_id = _last(query_params.get(PROJECT_PARAM))
    sample = _last(query_params.get(SAMPLE_PARAM))
    if project_id is not None and sample is not None:
        raise StoreError("That link names both a project and a sample; open one at a time.")
    if project_id is not None:
        return ShareTarget(PROJECT_PARAM, check_project_id(project_id))
    if sample is not None:
        return ShareTarget(SAMPLE_PARAM, _check_sample(sample))
    return None


def _last(value: str | list[str] | None) -> str | None:
    """A query value; repeated parameters count by their last value."""
    if isinstance(value, list):
        return value[-1] if value else None
    return value


def _check_sample(name: object) -> str:
    """Return `name` if it is a bundled sample, else a StoreError listing them."""
    samples = list_samples()
    if name not in samples:
        raise StoreError(
            "That link names a sample that does not exist; available samples: "
            + ", ".join(samples)
            + "."
        )
    return str(name)


class ProjectStore:
    """Saved projects in a folder: a SQLite index plus one folder of files per project.

    Safe to share between Streamlit sessions and processes: each call opens its own connection,
    and project folders appear atomically. Opening a store removes what killed writers left.
    """

    def __init__(
        self, root: str | Path | None = None, *, leftover_grace_s: float = LEFTOVER_GRACE_S
    ) -> None:
        self.root = Path(root).expanduser() if root is not None else default_home() / "projects"
        self.leftover_grace_s = leftover_grace_s
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise store_error(self.root, exc) from exc
        with self._index() as conn:
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            conn.execute(_SCHEMA)
        if mode != "wal":
            logger.warning("SQLite refused WAL mode for %s (got %r)", self.root, mode)
        self.leftovers_removed = self.clean_leftovers()

    def save(
        self,
        *,
        title: str,
        model_name: str | None,
        corpus: Corpus,
        vectors: np.ndarray,
        coords: np.ndarray,
        cluster_labels: np.ndarray,
        cluster_names: Mapping[int, str],
        view: ProjectView,
        extra: Mapping[str, np.ndarray] | None = None,
        curation: Curation | None = None,
    ) -> Project:
        """Store a project under a new id and return it as `load` will (copies, read-only)."""
        project = Project(
            id=new_project_id(),
            title=_check_title(title),
            created=datetime.now(UTC).isoformat(timespec="seconds"),
            model_name=model_name,
            corpus=corpus,
            vectors=np.array(vectors, dtype=np.float32),
            coords=np.array(coords, dtype=np.float32),
            cluster_labels=np.array(cluster_labels, dtype=np.int64),
            cluster_names={int(key): str(value) for key, value in cluster_names.items()},
            view=view,
            extra={str(name): np.array(array) for name, array in (extra or {}).items()},
            curation=Curation() if curation is None else curation,
        )
        _check_project(project)
        versions = library_versions()
        self._write_folder(project, versions)
        try:
            with self._index() as conn:
                conn.execute(
                    "INSERT INTO projects (id, title, created, n_docs, model, params, versions) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        project.id,
                        project.title,
                        project.created,
                        len(corpus),
                        model_name,
                        json.dumps(asdict(view), sort_keys=True),
                        json.dumps(versions, sort_keys=True),
                    ),
                )
        except StoreError:
            shutil.rmtree(self.root / project.id, ignore_errors=True)
            raise
        (self.root / project.id / UNINDEXED_MARK).unlink(missing_ok=True)
        logger.info("Saved project %s (%d documents)", project.id, len(corpus))
        return _read_only(project)

    def load(self, project_id: str) -> Project:
        """The saved project `project_id`, exactly as saved, with read-only arrays."""
        project_id = check_project_id(project_id)
        self._require_indexed(project_id)
        folder = self.root / project_id
        try:
            return _read_only(_read_folder(folder, project_id))
        except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile, EmbedscopeError) as e:
            raise StoreError(
                f"The saved project {project_id} is damaged and cannot be opened ({_reason(e)}). "
                "Delete it and save the map again."
            ) from e

    def list(self) -> list[ProjectSummary]:
        """Every saved project, newest first."""
        with self._index() as conn:
            rows = conn.execute(
                "SELECT id, title, created, n_docs, model FROM projects "
                "ORDER BY created DESC, rowid DESC"
            ).fetchall()
        return [ProjectSummary(*row) for row in rows]

    def delete(self, project_id: str) -> None:
        """Remove a project from the index, then its files (a half-deleted one is unlisted).

        The folder is marked unindexed first, so a kill after the index row is gone leaves a
        folder that the next open removes."""
        project_id = check_project_id(project_id)
        self._require_indexed(project_id)
        folder = self.root / project_id
        try:
            (folder / UNINDEXED_MARK).write_text(owner_tag(), encoding="utf-8")
        except FileNotFoundError:
            pass  # indexed without files: nothing to mark
        except OSError as exc:
            raise store_error(folder, exc) from exc
        with self._index() as conn:
            conn.execute("DELETE FROM projects WHERE id = ?", (project_id,))
        if folder.exists():
            try:
                doomed = Path(tempfile.mkdtemp(prefix=DELETING_PREFIX + owner_tag(), dir=self.root))
                os.replace(folder, doomed / project_id)
            except OSError as exc:
                raise store_error(folder, exc) from exc
            shutil.rmtree(doomed, ignore_errors=True)
        logger.info("Deleted project %s", project_id)

    def clean_leftovers(self) -> int:
        """Remove what killed writers left (staging and deleting folders, unindexed project
        folders) once their owner process is gone or they are older than the grace period;
        the number removed. Live writers' files, this process's included, are kept."""
        removed = 0
        for item in os.scandir(self.root):
            path = Path(item.path)
            if item.name.startswith((SAVING_PREFIX, DELETING_PREFIX)):
                if is_abandoned(path, self.leftover_grace_s):
                    removed += remove_path(path)
            elif is_valid_project_id(item.name) and (path / UNINDEXED_MARK).exists():
                removed += self._clean_unindexed(path)
        if removed:
            logger.info("Removed %d leftovers of interrupted saves in %s", removed, self.root)
        return removed

    def _clean_unindexed(self, folder: Path) -> bool:
        """A renamed folder still marked unindexed: drop the mark if indexed, else remove it
        when abandoned. True when the folder was removed."""
        mark = folder / UNINDEXED_MARK
        with self._index() as conn:
            row = conn.execute("SELECT 1 FROM projects WHERE id = ?", (folder.name,)).fetchone()
        if row is not None:
            mark.unlink(missing_ok=True)
            return False
        try:
            owner = mark.read_text(encoding="utf-8")
        except OSError:
            return False
        return is_abandoned(mark, self.leftover_grace_s, owner) and remove_path(folder)

    @contextmanager
    def _index(self) -> Iterator[sqlite3.Connection]:
        """A committed transaction on a fresh connection to the index; errors become StoreError."""
        path = self.root / INDEX_FILE
        try:
            with closing(sqlite3.connect(path, timeout=30)) as conn, conn:
                yield conn
        except sqlite3.Error as exc:
            raise store_error(path, exc) from exc

    def _require_indexed(self, project_id: str) -> None:
        """Raise the 'unknown project' StoreError unless the index lists `project_id`."""
        with self._index() as conn:
            found = conn.execute("SELECT 1 FROM projects WHERE id = ?", (project_id,)).fetchone()
        if found is None:
            raise StoreError(
                f"No saved project with id {project_id} (it may have been deleted or saved on "
                "another server)."
            )

    def _write_folder(self, project: Project, versions: dict[str, str]) -> None:
        """Write the project's files into a temporary folder, then rename it into place."""
        try:
            staging = Path(tempfile.mkdtemp(prefix=SAVING_PREFIX + owner_tag(), dir=self.root))
        except OSError as exc:
            raise store_error(self.root, exc) from exc
        try:
            (staging / UNINDEXED_MARK).write_text(owner_tag(), encoding="utf-8")
            frame = project.corpus.metadata.reset_index(drop=True)
            frame.insert(0, TEXT_FIELD, list(project.corpus.texts))
            parquet = to_parquet_bytes(frame)
            write_synced(staging / CORPUS_FILE, lambda handle: handle.write(parquet))
            arrays = _arrays_of(project)
            write_synced(staging / ARRAYS_FILE, lambda handle: np.savez(handle, **arrays))
            meta = json.dumps(_meta_of(project, versions), indent=1).encode("utf-8")
            write_synced(staging / META_FILE, lambda handle: handle.write(meta))
            os.replace(staging, self.root / project.id)
            fsync_folder(self.root)
        except OSError as exc:
            raise store_error(self.root, exc) from exc
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def _check_title(title: object) -> str:
    """A stripped, non-empty title of at most MAX_TITLE_CHARS characters."""
    if not isinstance(title, str) or not title.strip() or len(title.strip()) > MAX_TITLE_CHARS:
        raise invalid_parameter(
            "ProjectStore.save",
            "title",
            f"a non-blank str of at most {MAX_TITLE_CHARS} chars",
            title,
        )
    return title.strip()


def _check_project(project: Project) -> None:
    """Shapes agree with the corpus, every cluster id is named, extras are plain numeric arrays."""
    n = len(project.corpus)
    if TEXT_FIELD in project.corpus.metadata.columns:
        raise ParameterError(f"The corpus metadata may not have a column named {TEXT_FIELD!r}.")
    if project.vectors.ndim != 2 or len(project.vectors) != n:
        raise ParameterError(
            f"vectors must have shape ({n}, d) for {n} documents; got {project.vectors.shape}."
        )
    if project.coords.shape not in ((n, 2), (n, 3)):
        raise ParameterError(
            f"coords must have shape ({n}, 2) or ({n}, 3); got {project.coords.shape}."
        )
    if project.cluster_labels.shape != (n,):
        raise ParameterError(
            f"cluster_labels must have shape ({n},); got {project.cluster_labels.shape}."
        )
    unnamed = sorted(set(project.cluster_labels.tolist()) - set(project.cluster_names))
    if unnamed:
        raise ParameterError(f"cluster_names has no name for cluster ids {unnamed}.")
    if not isinstance(project.curation, Curation):
        raise invalid_parameter("ProjectStore.save", "curation", "a Curation", project.curation)
    project.curation.check_rows(n)
    for name, array in project.extra.items():
        if not _EXTRA_NAME.fullmatch(name):
            raise invalid_parameter(
                "ProjectStore.save", "extra", "names of 1-64 letters, digits or '_'", name
            )
        if array.dtype.kind not in "biuf":
            raise invalid_parameter(
                "ProjectStore.save", f"extra[{name!r}]", "a numeric or bool array", array.dtype
            )


def _arrays_of(project: Project) -> dict[str, np.ndarray]:
    """The arrays of arrays.npz: the core three plus prefixed extras."""
    arrays = {name: getattr(project, name) for name in _CORE_ARRAYS}
    arrays.update({_EXTRA_PREFIX + name: array for name, array in project.extra.items()})
    return arrays


def _meta_of(project: Project, versions: dict[str, str]) -> dict:
    """meta.json: everything of the project that is not an array or a table."""
    corpus_fields = {
        item.name: getattr(project.corpus, item.name)
        for item in fields(Corpus)
        if item.name not in ("texts", "metadata")
    }
    return {
        "format_version": FORMAT_VERSION,
        "id": project.id,
        "title": project.title,
        "created": project.created,
        "model_name": project.model_name,
        "corpus": corpus_fields,
        "cluster_names": {str(key): value for key, value in project.cluster_names.items()},
        "view": asdict(project.view),
        "curation": curation_to_dict(project.curation),
        "versions": versions,
    }


def _read_folder(folder: Path, project_id: str) -> Project:
    """Rebuild a project from its files (any failure is reported by the caller as damage)."""
    meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
    if meta.get("format_version") != FORMAT_VERSION or meta.get("id") != project_id:
        raise ValueError(f"meta.json is not format {FORMAT_VERSION} for this id")
    frame = pd.read_parquet(folder / CORPUS_FILE, engine="pyarrow")
    corpus = Corpus(
        texts=tuple(str(text) for text in frame[TEXT_FIELD]),
        metadata=frame.drop(columns=TEXT_FIELD),
        **meta["corpus"],
    )
    arrays = _read_arrays(folder / ARRAYS_FILE)
    extra = {
        name.removeprefix(_EXTRA_PREFIX): array
        for name, array in arrays.items()
        if name.startswith(_EXTRA_PREFIX)
    }
    project = Project(
        id=project_id,
        title=str(meta["title"]),
        created=str(meta["created"]),
        model_name=meta["model_name"],
        corpus=corpus,
        vectors=arrays["vectors"],
        coords=arrays["coords"],
        cluster_labels=arrays["cluster_labels"],
        cluster_names={int(key): str(value) for key, value in meta["cluster_names"].items()},
        view=ProjectView(**meta["view"]),
        extra=extra,
        curation=curation_from_dict(meta.get("curation")),
    )
    _check_project(project)
    return project


def _read_arrays(path: Path) -> dict[str, np.ndarray]:
    """The arrays of an arrays.npz, each memory-mapped read-only where it can be, else read.

    np.savez stores members uncompressed, so each member's bytes lie in the file as in a .npy;
    mapping them means opening a 1M-point project reads only the pages used, not 1.5 GB of
    vectors (np.load ignores mmap_mode for .npz files). Compressed or object members are read
    by np.load, which refuses pickles.
    """
    arrays = {}
    with np.load(path, allow_pickle=False) as archive:
        for name in archive.files:
            mapped = _mapped_member(path, archive.zip.getinfo(f"{name}.npy"))
            arrays[name] = archive[name] if mapped is None else mapped
    return arrays


def _mapped_member(path: Path, member: zipfile.ZipInfo) -> np.ndarray | None:
    """A read-only memory map of one stored (uncompressed) .npy member; None if it has none."""
    if member.compress_type != zipfile.ZIP_STORED:
        return None
    with open(path, "rb") as file:
        file.seek(member.header_offset)
        local_header = file.read(_ZIP_LOCAL_HEADER)
        if len(local_header) < _ZIP_LOCAL_HEADER or local_header[:4] != b"PK\x03\x04":
            return None
        name_length, extra_length = struct.unpack("<HH", local_header[26:30])
        start = member.header_offset + _ZIP_LOCAL_HEADER + name_length + extra_length
        file.seek(start)
        version = np.lib.format.read_magic(file)
        if version not in _NPY_HEADER_READERS:
            return None
        shape, fortran_order, dtype = _NPY_HEADER_READERS[version](file)
        offset = file.tell()
    size = dtype.itemsize * math.prod(shape)
    if dtype.hasobject or size == 0 or offset - start + size != member.file_size:
        return None
    order = "F" if fortran_order else "C"
    return np.asarray(np.memmap(path, dtype, mode="r", offset=offset, shape=shape, order=order))


def _reason(error: Exception) -> str:
    """Why reading failed, naming a file by its name only (server paths stay private)."""
    if isinstance(error, OSError) and error.filename:
        return f"{error.strerror or 'unreadable'}: {Path(error.filename).name}"
    if isinstance(error, KeyError):
        return f"missing entry {error}"
    return str(error)


def _read_only(project: Project) -> Project:
    """Freeze the project's arrays, so a shared (cached) project cannot be changed in place."""
    for array in (project.vectors, project.coords, project.cluster_labels, *project.extra.values()):
        array.flags.writeable = False
    return project
