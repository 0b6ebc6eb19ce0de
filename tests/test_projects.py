"""ProjectStore: exact round trips, persistence, listing, share ids, and every refusal."""

from __future__ import annotations

import builtins
import io
import json
import os
import sqlite3
import subprocess
import sys
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lib.cluster.clusters import ClusterParams
from lib.errors import ParameterError, StoreError
from lib.ingest.corpus import corpus_from_frame, list_samples
from lib.reduce.layouts import PCAParams, UMAPParams
from lib.share import projects
from lib.share.curation import Curation
from lib.share.projects import (
    ARRAYS_FILE,
    META_FILE,
    ProjectStore,
    ProjectView,
    ShareTarget,
    is_valid_project_id,
    new_project_id,
    share_query,
    share_target,
)

N = 12
MALFORMED_IDS = [
    "../x",
    "..%2F..%2Fetc%2Fpasswd",
    "a" * 1000,
    "a/b" + "c" * 20,
    "",
    None,
    "a" * 15,
    "abcdefghijklmnop.json",
    "abcdefghijklmnop\n",
    "/etc/passwd/abcdefghijkl",
    "ÄbcdefghijklmnopÄ",
]


def _corpus():
    frame = pd.DataFrame(
        {
            "text": [
                f"document number {i} about {'cats' if i % 2 else 'rockets'}" for i in range(N)
            ],
            "label": ["cats" if i % 2 else "rockets" for i in range(N)],
            "score": np.linspace(-1.5, 2.5, N),
            "count": np.arange(N, dtype=np.int64),
        }
    )
    return corpus_from_frame(frame, "text", source="unit.csv")


def _save(store: ProjectStore, **changes):
    rng = np.random.default_rng(3)
    arguments = {
        "title": "  Cats and rockets  ",
        "model_name": "all-MiniLM-L6-v2",
        "corpus": _corpus(),
        "vectors": rng.standard_normal((N, 8)).astype(np.float32),
        "coords": rng.standard_normal((N, 2)).astype(np.float32),
        "cluster_labels": np.array([-1, 0, 1] * (N // 3)),
        "cluster_names": {-1: "unclustered", 0: "cats · meow", 1: "rocket · orbit"},
        "view": ProjectView.from_params(
            PCAParams(n_components=3),
            ClusterParams(method="kmeans", n_clusters=3),
            page="map",
            dimensions=3,
            color_by="label",
            query="rocket - cat",
        ),
        "extra": {
            "coords_3d": rng.standard_normal((N, 3)).astype(np.float32),
            "fitted_mask": np.arange(N) % 4 != 0,
        },
    }
    arguments.update(changes)
    return store.save(**arguments), arguments


@pytest.fixture
def store(tmp_path: Path) -> ProjectStore:
    return ProjectStore(tmp_path / "projects")


def test_save_then_load_is_exact(store: ProjectStore):
    saved, given = _save(store)
    loaded = store.load(saved.id)

    assert loaded.id == saved.id
    assert loaded.title == "Cats and rockets"
    assert loaded.created == saved.created and loaded.created.endswith("+00:00")
    assert loaded.model_name == "all-MiniLM-L6-v2"
    assert loaded.corpus == given["corpus"]
    assert loaded.corpus.texts == given["corpus"].texts
    pd.testing.assert_frame_equal(loaded.corpus.metadata, given["corpus"].metadata)
    for name in ("vectors", "coords", "cluster_labels"):
        np.testing.assert_array_equal(getattr(loaded, name), given[name])
    assert loaded.vectors.dtype == np.float32 and loaded.cluster_labels.dtype == np.int64
    assert loaded.cluster_names == given["cluster_names"]
    assert loaded.view == given["view"]
    assert loaded.view.layout_params() == PCAParams(n_components=3)
    assert loaded.view.cluster_params() == ClusterParams(method="kmeans", n_clusters=3)
    assert set(loaded.extra) == {"coords_3d", "fitted_mask"}
    np.testing.assert_array_equal(loaded.extra["coords_3d"], given["extra"]["coords_3d"])
    assert loaded.extra["fitted_mask"].dtype == bool
    np.testing.assert_array_equal(loaded.extra["fitted_mask"], given["extra"]["fitted_mask"])


def test_loaded_and_saved_arrays_are_read_only_copies(store: ProjectStore):
    vectors = np.ones((N, 4), dtype=np.float32)
    saved, _ = _save(store, vectors=vectors)
    vectors[0, 0] = 5.0  # the caller's array stays theirs and writable
    assert saved.vectors[0, 0] == 1.0
    loaded = store.load(saved.id)
    with pytest.raises(ValueError, match="read-only"):
        loaded.coords[0, 0] = 1.0
    with pytest.raises(ValueError, match="read-only"):
        saved.vectors[0, 0] = 1.0


def test_loaded_arrays_are_memory_mapped_not_read(store: ProjectStore):
    saved, given = _save(store)
    loaded = store.load(saved.id)
    for array in (loaded.vectors, loaded.coords, loaded.cluster_labels, *loaded.extra.values()):
        assert type(array) is np.ndarray  # a plain array to callers, pickled as one
        assert isinstance(array.base, np.memmap) and array.base.mode == "r"
        assert not array.flags.writeable
    np.testing.assert_array_equal(loaded.vectors, given["vectors"])
    np.testing.assert_array_equal(loaded.extra["fitted_mask"], given["extra"]["fitted_mask"])


def test_compressed_and_fortran_arrays_files_still_load(store: ProjectStore):
    saved, given = _save(store)
    arrays = {
        "vectors": np.asfortranarray(given["vectors"]),
        "coords": given["coords"],
        "cluster_labels": given["cluster_labels"],
    }
    np.savez_compressed(store.root / saved.id / ARRAYS_FILE, **arrays)
    compressed = store.load(saved.id)
    np.testing.assert_array_equal(compressed.vectors, given["vectors"])
    assert not isinstance(compressed.vectors.base, np.memmap)
    assert not compressed.vectors.flags.writeable
    np.savez(store.root / saved.id / ARRAYS_FILE, **arrays)
    fortran = store.load(saved.id)
    np.testing.assert_array_equal(fortran.vectors, given["vectors"])
    assert fortran.vectors.flags.f_contiguous and isinstance(fortran.vectors.base, np.memmap)


def test_uploaded_vectors_project_has_no_model_and_default_view(store: ProjectStore):
    saved, _ = _save(store, model_name=None, view=ProjectView(), extra=None)
    loaded = store.load(saved.id)
    assert loaded.model_name is None
    assert loaded.extra == {}
    assert loaded.view.layout_params() == UMAPParams()
    assert loaded.view.cluster_params() == ClusterParams()


def test_a_new_process_on_the_same_root_loads_the_project(store: ProjectStore):
    saved, given = _save(store)
    script = (
        "import sys, numpy as np\n"
        "from lib.share.projects import ProjectStore\n"
        "project = ProjectStore(sys.argv[1]).load(sys.argv[2])\n"
        "print(project.title, len(project.corpus), float(project.vectors.sum()))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(store.root), saved.id],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parent.parent,
        env={**os.environ, "PYTHONPATH": "."},
    )
    title, n_docs, total = result.stdout.rsplit(maxsplit=2)
    assert (title, int(n_docs)) == ("Cats and rockets", N)
    assert float(total) == pytest.approx(float(given["vectors"].sum()), rel=1e-6)


def test_layout_on_disk_index_and_files(store: ProjectStore):
    saved, _ = _save(store)
    folder = store.root / saved.id
    assert sorted(p.name for p in folder.iterdir()) == ["arrays.npz", "corpus.parquet", "meta.json"]
    assert not [p for p in store.root.iterdir() if p.name.startswith(".")]  # no leftover staging
    meta = json.loads((folder / META_FILE).read_text())
    assert meta["versions"]["numpy"] == np.__version__
    with sqlite3.connect(store.root / "projects.sqlite3") as conn:
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        row = conn.execute("SELECT n_docs, model, params FROM projects").fetchone()
    assert mode == "wal"
    assert row[:2] == (N, "all-MiniLM-L6-v2")
    assert json.loads(row[2])["layout"]["method"] == "pca"


def test_list_newest_first_and_delete(store: ProjectStore):
    first, _ = _save(store, title="first")
    second, _ = _save(store, title="second", model_name=None)
    summaries = store.list()
    assert [(s.id, s.title, s.n_docs) for s in summaries] == [
        (second.id, "second", N),
        (first.id, "first", N),
    ]
    assert summaries[0].model_name is None

    store.delete(first.id)
    assert [s.id for s in store.list()] == [second.id]
    assert not (store.root / first.id).exists()
    with pytest.raises(StoreError, match="No saved project with id"):
        store.load(first.id)
    with pytest.raises(StoreError, match="No saved project with id"):
        store.delete(first.id)
    assert store.load(second.id).title == "second"


def test_default_root_is_under_the_data_home(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("EMBEDSCOPE_HOME", str(tmp_path / "home"))
    assert ProjectStore().root == tmp_path / "home" / "projects"
    assert (tmp_path / "home" / "projects" / "projects.sqlite3").is_file()


def test_ids_are_unguessable_and_distinct():
    ids = {new_project_id() for _ in range(200)}
    assert len(ids) == 200
    for project_id in ids:
        assert len(project_id) == 24  # 18 random bytes = 144 bits ≥ 128
        assert is_valid_project_id(project_id)


@pytest.mark.parametrize("project_id", MALFORMED_IDS)
def test_malformed_ids_are_refused_before_touching_any_file(store, monkeypatch, project_id):
    touched: list[object] = []

    def refuse(*args, **kwargs):
        touched.append(args[0] if args else kwargs)
        raise AssertionError("the filesystem was touched")

    for target, name in [
        (builtins, "open"),
        (io, "open"),
        (os, "stat"),
        (os, "open"),
        (os, "replace"),
        (sqlite3, "connect"),
        (np, "load"),
        (pd, "read_parquet"),
    ]:
        monkeypatch.setattr(target, name, refuse)
    errors = []
    try:
        for action in (store.load, store.delete):
            try:
                action(project_id)
            except StoreError as error:
                errors.append(str(error))
    finally:
        monkeypatch.undo()  # before pytest itself needs the filesystem again
    assert touched == []
    assert len(errors) == 2
    assert all(message.startswith("That share link is malformed") for message in errors)
    assert not is_valid_project_id(project_id)


def test_unknown_id_says_so(store: ProjectStore):
    with pytest.raises(StoreError, match=r"No saved project with id A{24} \(it may have been"):
        store.load("A" * 24)


def test_corrupt_arrays_file_is_a_store_error(store: ProjectStore):
    saved, _ = _save(store)
    (store.root / saved.id / ARRAYS_FILE).write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(StoreError, match=f"project {saved.id} is damaged"):
        store.load(saved.id)


def test_pickled_object_array_in_arrays_file_is_refused(store: ProjectStore, monkeypatch):
    saved, given = _save(store)
    sentinel = []

    class Boom:
        def __reduce__(self):
            return (sentinel.append, ("unpickled!",))

    hostile = np.empty(1, dtype=object)
    hostile[0] = Boom()
    arrays = {"vectors": hostile, "coords": given["coords"], "cluster_labels": np.zeros(N, int)}
    np.savez(store.root / saved.id / ARRAYS_FILE, **arrays)  # savez pickles object arrays
    calls = []
    real_load = np.load
    monkeypatch.setattr(np, "load", lambda *a, **k: calls.append(k) or real_load(*a, **k))
    with pytest.raises(StoreError, match=r"damaged.*Object arrays cannot be loaded"):
        store.load(saved.id)
    assert sentinel == []
    assert calls == [{"allow_pickle": False}]


@pytest.mark.parametrize(
    ("file_name", "content", "reason"),
    [
        (META_FILE, "{not json", "Expecting property name"),
        (META_FILE, '{"format_version": 99}', "not format 1"),
        ("corpus.parquet", "garbage", "damaged"),
    ],
)
def test_corrupt_meta_or_corpus_is_a_store_error(store, file_name, content, reason):
    saved, _ = _save(store)
    (store.root / saved.id / file_name).write_text(content)
    with pytest.raises(StoreError, match=reason):
        store.load(saved.id)


def test_missing_folder_of_an_indexed_project_is_a_store_error(store: ProjectStore):
    saved, _ = _save(store)
    for path in (store.root / saved.id).iterdir():
        path.unlink()
    (store.root / saved.id).rmdir()
    with pytest.raises(StoreError, match=r"damaged.*\(No such file or directory: meta\.json\)"):
        store.load(saved.id)


def test_mismatched_arrays_in_meta_are_refused_on_load(store: ProjectStore):
    saved, given = _save(store)
    arrays = {
        "vectors": given["vectors"][:-1],
        "coords": given["coords"],
        "cluster_labels": given["cluster_labels"],
    }
    np.savez(store.root / saved.id / ARRAYS_FILE, **arrays)
    with pytest.raises(StoreError, match=r"damaged.*vectors must have shape \(12, d\)"):
        store.load(saved.id)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"title": "   "}, "The 'title' parameter of ProjectStore.save"),
        ({"title": "x" * 201}, "at most 200"),
        ({"coords": np.zeros((N, 4))}, r"coords must have shape \(12, 2\) or \(12, 3\)"),
        ({"vectors": np.zeros((N - 1, 8))}, r"vectors must have shape \(12, d\)"),
        ({"cluster_labels": np.zeros(N - 1)}, r"cluster_labels must have shape \(12,\)"),
        ({"cluster_names": {0: "a"}}, r"no name for cluster ids \[-1, 1\]"),
        ({"extra": {"../evil": np.zeros(N)}}, "The 'extra' parameter"),
        ({"extra": {"texts": np.array(["a"], dtype=object)}}, "a numeric or bool array"),
        ({"curation": Curation().tag("t", [N])}, r"rows in the range \[0, 11\]"),
    ],
)
def test_save_refuses_inconsistent_projects(store, changes, message):
    with pytest.raises(ParameterError, match=message):
        _save(store, **changes)
    assert store.list() == []
    assert [p for p in store.root.iterdir() if not p.name.startswith("projects.sqlite3")] == []


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"dimensions": 4}, "The 'dimensions' parameter of ProjectView"),
        ({"page": ""}, "The 'page' parameter"),
        ({"query": None}, "The 'query' parameter"),
        ({"layout": {"method": "isomap"}}, r"The 'layout\['method'\]' parameter"),
        ({"layout": {"method": "umap", "n_neighbors": 1}}, "'n_neighbors' parameter of UMAP"),
        ({"clustering": {"bogus": 1}}, r"unknown keys \['bogus'\]"),
    ],
)
def test_project_view_validates(fields, message):
    with pytest.raises(ParameterError, match=message):
        ProjectView(**fields)


def test_project_view_from_params_round_trips():
    view = ProjectView.from_params(UMAPParams(n_neighbors=30), ClusterParams(), color_by="label")
    assert view.layout == {"method": "umap", **asdict(UMAPParams(n_neighbors=30))}
    assert ProjectView(**json.loads(json.dumps(asdict(view)))) == view
    assert replace(view, query="x").layout_params() == UMAPParams(n_neighbors=30)


def test_share_query_and_target_round_trip():
    project_id = new_project_id()
    sample = list_samples()[0]
    assert share_query(project_id=project_id) == {"project": project_id}
    assert share_target(share_query(project_id=project_id)) == ShareTarget("project", project_id)
    assert share_target({"sample": sample}) == ShareTarget("sample", sample)
    assert share_target({"sample": ["nope", sample]}) == ShareTarget("sample", sample)
    assert share_target({"page": "map"}) is None


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"project": "../../etc/passwd"}, "That share link is malformed"),
        ({"sample": "../topics"}, "names a sample that does not exist; available samples: "),
        ({"project": "A" * 24, "sample": "topics"}, "both a project and a sample"),
    ],
)
def test_share_target_refuses_bad_links(params, message):
    with pytest.raises(StoreError, match=message):
        share_target(params)


def test_share_query_needs_exactly_one_target():
    with pytest.raises(ParameterError, match="exactly one of project_id or sample"):
        share_query()
    with pytest.raises(StoreError, match="malformed"):
        share_query(project_id="a/b")


def test_unwritable_root_is_a_store_error(tmp_path: Path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreError, match=r"Cannot store embedscope data at .*EMBEDSCOPE_HOME"):
        ProjectStore(blocker / "projects")


def test_extra_names_cannot_collide_with_core_arrays(store: ProjectStore):
    saved, _ = _save(store, extra={"vectors": np.full(N, 7.0)})
    loaded = store.load(saved.id)
    np.testing.assert_array_equal(loaded.extra["vectors"], np.full(N, 7.0))
    assert loaded.vectors.shape == (N, 8)
    assert projects.ID_PATTERN.fullmatch(saved.id)


# --- crashes: fsync, leftovers of killed writers, half-saved projects --------------------------


def _dead_owner() -> str:
    """The owner tag of a process of this host that has ended."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return projects.owner_tag().replace(f"-{os.getpid()}-", f"-{child.pid}-")


def test_save_fsyncs_every_file_and_folder_before_it_is_listed(store, monkeypatch):
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(fd) or real_fsync(fd))
    saved, _ = _save(store)
    assert len(synced) >= 7  # 3 files, the staging folder after each, the store folder
    assert sorted(p.name for p in (store.root / saved.id).iterdir()) == [
        "arrays.npz", "corpus.parquet", "meta.json"
    ]  # fmt: skip


def test_leftovers_of_dead_writers_are_removed_when_a_store_opens(store: ProjectStore):
    kept, _ = _save(store, title="kept")
    dead = _dead_owner()
    doomed = [store.root / f".saving-{dead}abc", store.root / f".deleting-{dead}def"]
    for folder in doomed:
        folder.mkdir()
        (folder / ARRAYS_FILE).write_bytes(b"PK half")
    live = [store.root / f".saving-{projects.owner_tag()}ghi"]  # another session, this process
    live[0].mkdir()
    unindexed = store.root / new_project_id()  # renamed into place, killed before indexing
    unindexed.mkdir()
    (unindexed / projects.UNINDEXED_MARK).write_text(dead)
    (unindexed / META_FILE).write_text("{}")
    in_flight = store.root / new_project_id()  # a live writer's, about to be indexed
    in_flight.mkdir()
    (in_flight / projects.UNINDEXED_MARK).write_text(projects.owner_tag())

    reopened = ProjectStore(store.root)
    assert reopened.leftovers_removed == 3
    assert not any(path.exists() for path in [*doomed, unindexed])
    assert live[0].is_dir() and in_flight.is_dir()
    assert [summary.id for summary in reopened.list()] == [kept.id]
    with pytest.raises(StoreError, match="No saved project with id"):
        reopened.load(in_flight.name)
    assert ProjectStore(store.root, leftover_grace_s=-1).leftovers_removed == 2  # all aged out
    assert reopened.load(kept.id).title == "kept"


def test_a_save_killed_before_indexing_is_never_listed_and_is_cleaned(store, monkeypatch):
    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # stands for SIGKILL between the rename and the index row

    monkeypatch.setattr(store, "_index", killed)
    with pytest.raises(KeyboardInterrupt):
        _save(store)
    monkeypatch.undo()
    [folder] = [p for p in store.root.iterdir() if is_valid_project_id(p.name)]
    assert (folder / projects.UNINDEXED_MARK).read_text() == projects.owner_tag()
    assert store.list() == []
    (folder / projects.UNINDEXED_MARK).write_text(_dead_owner())
    assert ProjectStore(store.root).leftovers_removed == 1
    assert not folder.exists()


def test_an_indexed_project_keeps_its_folder_when_only_the_mark_was_left(store: ProjectStore):
    saved, _ = _save(store)
    (store.root / saved.id / projects.UNINDEXED_MARK).write_text(_dead_owner())
    assert ProjectStore(store.root).leftovers_removed == 0
    assert not (store.root / saved.id / projects.UNINDEXED_MARK).exists()
    assert ProjectStore(store.root).load(saved.id).id == saved.id


def test_a_delete_killed_after_unindexing_leaves_a_folder_the_next_open_removes(
    store: ProjectStore, monkeypatch
):
    saved, _ = _save(store)

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # stands for SIGKILL between the index row and the move

    monkeypatch.setattr(projects.os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        store.delete(saved.id)
    monkeypatch.undo()
    assert store.list() == []
    assert ProjectStore(store.root).leftovers_removed == 0  # this process may still finish it
    (store.root / saved.id / projects.UNINDEXED_MARK).write_text(_dead_owner())
    assert ProjectStore(store.root).leftovers_removed == 1
    assert not (store.root / saved.id).exists()


def test_a_t_sne_view_round_trips():
    from lib.reduce.tsne import TSNEParams
    from lib.share.projects import ProjectView

    view = ProjectView.from_params(TSNEParams(perplexity=12.0), ClusterParams())
    assert view.layout == {"method": "tsne", **asdict(TSNEParams(perplexity=12.0))}
    assert view.layout_params() == TSNEParams(perplexity=12.0)


def test_a_curation_is_saved_and_loaded_with_the_project(store: ProjectStore):
    labels = np.array([-1, 0, 1] * (N // 3))
    curation = Curation().for_clustering(labels).rename(0, "Cats").merge(1, into=0)
    curation = curation.tag("check", [0, 5, 11])
    saved, _ = _save(store, curation=curation)
    loaded = store.load(saved.id)
    assert loaded.curation == curation == saved.curation
    assert json.loads((store.root / saved.id / META_FILE).read_text())["curation"]["tags"] == [
        ["check", [0, 5, 11]]
    ]
    assert store.load(_save(store)[0].id).curation == Curation()


def test_a_project_saved_before_curations_loads_with_none(store: ProjectStore):
    saved, _ = _save(store)
    meta_path = store.root / saved.id / META_FILE
    meta = json.loads(meta_path.read_text())
    del meta["curation"]
    meta_path.write_text(json.dumps(meta))
    assert store.load(saved.id).curation.is_empty


def test_a_damaged_curation_is_a_store_error(store: ProjectStore):
    saved, _ = _save(store)
    meta_path = store.root / saved.id / META_FILE
    meta = json.loads(meta_path.read_text())
    meta["curation"] = {"format": 1, "tags": [["t", [99]]]}
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(StoreError, match=r"damaged.*rows in the range \[0, 11\]"):
        store.load(saved.id)
