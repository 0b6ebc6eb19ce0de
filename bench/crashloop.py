"""Kill writers with SIGKILL at random moments and check that nothing committed is lost.

Three phases; in each, a child process writes without pause and is killed `--kills` times, a
random time (up to `--max-delay` seconds) after it is ready:

- embed:   `embed_texts` with a fast fake model (384-d vectors from text hashes) into the
           EmbeddingCache, 256 new texts a round, committed in batches of 64;
- save:    `ProjectStore.save` of a 300-document project, deleting every third one;
- results: `ResultCache.put` of ~1 MB entries.

The child prints a line once each unit is committed. After every kill this process reopens the
store as the next start would, and checks: `PRAGMA integrity_check` is ok; every committed unit
reads back exactly (batches of vectors, projects, results); no half-saved project is listed or
left behind; leftovers of the killed writer (`.saving-*`, `.deleting-*`, `*.tmp`, unindexed
folders) are gone after the open; a result truncated on purpose is a miss, removed, and is
rewritten by the next put. Prints one table.

    nice -n 19 .venv/bin/python bench/crashloop.py                       # 20 kills a phase
    .venv/bin/python bench/crashloop.py --kills 3 --phases results save  # a short run
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import logging
import os
import platform
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from lib.embed.models import embed_texts  # noqa: E402
from lib.store.caches import (  # noqa: E402
    CACHE_FILE_NAME,
    EmbeddingCache,
    ResultCache,
    library_versions,
    result_key,
    text_key,
)

PHASES = ("embed", "save", "results")
TEXTS_PER_ROUND = 256
EMBED_BATCH = 64
DOCS_PER_PROJECT = 300
RESULT_ROWS = 65_536  # coords (n, 2) float32 + labels (n,) int64: 1 MB an entry
RESULT_CAP_BYTES = 512 * 2**20
PROJECTS_DIR = "projects"
RESULTS_DIR = "results"


class HashModel:
    """A fast deterministic TextModel: each text's vector is seeded by its sha256."""

    model_id = "crashloop/hash-384"
    dimension = 384
    max_tokens = None

    def encode(self, texts: list[str]) -> np.ndarray:
        return np.stack([_hash_vector(text, self.dimension) for text in texts])


class NoModel(HashModel):
    """Stands in for the model when every vector must come from the cache."""

    def encode(self, texts: list[str]) -> np.ndarray:
        raise AssertionError(f"{len(texts)} committed texts were not in the cache")


def _hash_vector(text: str, dimension: int) -> np.ndarray:
    seed = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")
    return np.random.default_rng(seed).normal(size=dimension).astype(np.float32)


def round_texts(run: int, unit: int) -> list[str]:
    return [f"run {run} round {unit} document {i}" for i in range(TEXTS_PER_ROUND)]


def result_arrays(run: int, unit: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng([run, unit])
    return {
        "coords": rng.normal(size=(RESULT_ROWS, 2)).astype(np.float32),
        "labels": rng.integers(-1, 20, size=RESULT_ROWS),
    }


def project_arguments(run: int, unit: int) -> dict:
    """A 300-document project whose numbers depend only on (run, unit)."""
    import pandas as pd

    from lib.cluster.clusters import ClusterParams
    from lib.ingest.corpus import corpus_from_frame
    from lib.reduce.layouts import PCAParams
    from lib.share.projects import ProjectView

    rng = np.random.default_rng([run, unit])
    texts = [f"run {run} project {unit} note {i}" for i in range(DOCS_PER_PROJECT)]
    frame = pd.DataFrame({"text": texts, "n": np.arange(DOCS_PER_PROJECT)})
    view = ProjectView.from_params(PCAParams(), ClusterParams(method="kmeans", n_clusters=4))
    return {
        "title": f"run {run} project {unit}",
        "model_name": HashModel.model_id,
        "corpus": corpus_from_frame(frame, "text", source="crashloop.csv"),
        "vectors": rng.normal(size=(DOCS_PER_PROJECT, 384)).astype(np.float32),
        "coords": rng.normal(size=(DOCS_PER_PROJECT, 2)).astype(np.float32),
        "cluster_labels": np.arange(DOCS_PER_PROJECT) % 4,
        "cluster_names": {label: f"cluster {label}" for label in range(4)},
        "view": view,
    }


# --- the child: writes until killed ---------------------------------------------------------


def child(phase: str, folder: Path, run: int) -> None:
    """Write units without pause, printing 'done <unit> [<id>]' once each is committed."""
    if phase == "embed":
        cache, model = EmbeddingCache(folder / CACHE_FILE_NAME), HashModel()
        print("ready", flush=True)
        for unit in itertools.count():
            embed_texts(round_texts(run, unit), model, cache=cache, batch_size=EMBED_BATCH)
            print(f"done {unit}", flush=True)
    elif phase == "save":
        from lib.share.projects import ProjectStore

        store, saved = ProjectStore(folder / PROJECTS_DIR), []
        print("ready", flush=True)
        for unit in itertools.count():
            saved.append(store.save(**project_arguments(run, unit)).id)
            print(f"done {unit} {saved[-1]}", flush=True)
            if unit % 3 == 2:
                print(f"deleting {unit - 2} {saved[unit - 2]}", flush=True)
                store.delete(saved[unit - 2])
                print(f"deleted {unit - 2} {saved[unit - 2]}", flush=True)
    else:
        cache = ResultCache(folder / RESULTS_DIR, max_bytes=RESULT_CAP_BYTES)
        print("ready", flush=True)
        for unit in itertools.count():
            key = result_key("crashloop", run=run, unit=unit)
            cache.put(key, result_arrays(run, unit), {"run": run, "unit": unit})
            print(f"done {unit}", flush=True)


def unit_seconds(phase: str, folder: Path) -> float:
    """Seconds one unit of `phase` takes on this machine now, written in this process: a test
    scales its kill delays by it, so a loaded or slow machine still commits units before kills."""
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    if phase == "embed":
        cache = EmbeddingCache(folder / CACHE_FILE_NAME)
        embed_texts(round_texts(0, 0), HashModel(), cache=cache, batch_size=EMBED_BATCH)
        cache.close()
    elif phase == "save":
        from lib.share.projects import ProjectStore

        ProjectStore(folder / PROJECTS_DIR).save(**project_arguments(0, 0))
    else:
        cache = ResultCache(folder / RESULTS_DIR, max_bytes=RESULT_CAP_BYTES)
        cache.put(result_key("crashloop", run=0, unit=0), result_arrays(0, 0), {"unit": 0})
    return time.perf_counter() - started


# --- the parent: kill, reopen, check ----------------------------------------------------------


@dataclass
class Figures:
    """What one phase's kills showed; `failures` names every check that did not hold."""

    phase: str
    kills: int = 0
    mid_write: int = 0  # kills that interrupted a unit (part of a round, temp files, staging)
    leftovers_cleaned: int = 0
    units_checked: int = 0
    integrity_ok: int = 0
    half_saved_listed: int = 0
    truncations_rewritten: int = 0
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)


def run_child(phase: str, folder: Path, run: int, delay: float) -> list[str]:
    """Start a child, SIGKILL it `delay` seconds after it is ready; the lines it printed."""
    process = subprocess.Popen(
        [sys.executable, __file__, "--child", phase, str(folder), str(run)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)},
    )
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        for line in process.stdout:
            lines.append(line.strip())
            ready.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    if not ready.wait(timeout=120):
        process.kill()
        raise RuntimeError(f"the {phase} child never became ready")
    time.sleep(delay)
    process.send_signal(signal.SIGKILL)
    process.wait()
    reader.join(timeout=10)
    if process.returncode != -signal.SIGKILL:
        raise RuntimeError(f"the {phase} child ended with {process.returncode}, not SIGKILL")
    return [line for line in lines if line != "ready"]


def integrity_ok(path: Path) -> bool:
    with sqlite3.connect(path) as conn:
        return conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def check_embed(folder: Path, run: int, lines: list[str], figures: Figures) -> None:
    """Every round the child finished reads back from a reopened cache, exactly."""
    path = folder / CACHE_FILE_NAME
    figures.integrity_ok += integrity_ok(path)
    cache = EmbeddingCache(path)
    try:
        interrupted = [text_key(text) for text in round_texts(run, len(lines))]
        partial = len(cache.get_many(HashModel.model_id, interrupted))
        figures.mid_write += 0 < partial < TEXTS_PER_ROUND  # killed between two batch commits
        if partial % EMBED_BATCH:
            figures.failures.append(f"run {run}: {partial} rows of a round: half a batch")
        for line in lines:
            texts = round_texts(run, int(line.split()[1]))
            expected = embed_texts(texts, HashModel()).vectors
            try:
                found = embed_texts(texts, NoModel(), cache=cache).vectors
            except AssertionError as exc:
                figures.failures.append(f"run {run}, {line}: {exc}")
                continue
            if not np.array_equal(found, expected):
                figures.failures.append(f"run {run}, {line}: vectors differ")
            figures.units_checked += 1
    finally:
        cache.close()


def project_leftovers(root: Path) -> list[Path]:
    """Staging and deleting folders, and project folders not yet indexed."""
    from lib.share.projects import UNINDEXED_MARK

    return [
        path
        for path in root.iterdir()
        if path.name.startswith((".saving-", ".deleting-")) or (path / UNINDEXED_MARK).exists()
    ]


def check_save(folder: Path, run: int, lines: list[str], figures: Figures, seen: dict) -> None:
    """Saved projects listed and whole, deleted ones gone, nothing half-saved anywhere.

    `seen` carries across kills: "opened" (listed ids already loaded), "alive" (every id saved
    and never deleted, which must stay listed)."""
    from lib.share.projects import ProjectStore, is_valid_project_id

    root = folder / PROJECTS_DIR
    before = project_leftovers(root)
    figures.mid_write += bool(before)
    store = ProjectStore(root)
    figures.leftovers_cleaned += store.leftovers_removed
    if project_leftovers(root):
        figures.failures.append(f"run {run}: leftovers kept {project_leftovers(root)}")
    figures.integrity_ok += integrity_ok(root / "projects.sqlite3")
    listed = {summary.id for summary in store.list()}
    saved = {line.split()[2] for line in lines if line.startswith("done")}
    deleting = {line.split()[2] for line in lines if line.startswith("deleting")}  # either way
    deleted = {line.split()[2] for line in lines if line.startswith("deleted")}
    seen["alive"] = (seen["alive"] | saved) - deleting
    if seen["alive"] - listed or deleted & listed:
        lost, kept = seen["alive"] - listed, deleted & listed
        figures.failures.append(f"run {run}: lost {lost}, deleted but listed {kept}")
    for project_id in listed - seen["opened"]:
        try:
            store.load(project_id)
        except Exception as exc:  # any failure to open a listed project is the finding
            figures.half_saved_listed += 1
            figures.failures.append(f"run {run}: listed {project_id} does not open: {exc}")
        figures.units_checked += 1
    seen["opened"] |= listed
    unlisted = [p for p in root.iterdir() if is_valid_project_id(p.name) and p.name not in listed]
    if unlisted:
        figures.failures.append(f"run {run}: project folders not listed {unlisted}")


def check_results(folder: Path, run: int, lines: list[str], figures: Figures) -> None:
    """Committed results read back; leftovers go at the open; a truncated one is rewritten."""
    root = folder / RESULTS_DIR
    figures.mid_write += any(path.suffix == ".tmp" for path in root.iterdir())
    cache = ResultCache(root, max_bytes=RESULT_CAP_BYTES)
    figures.leftovers_cleaned += cache.leftovers_removed
    if [path for path in root.iterdir() if path.suffix == ".tmp"]:
        figures.failures.append(f"run {run}: temp files kept after the open")
    units = [int(line.split()[1]) for line in lines]
    for unit in units:
        found = cache.get(result_key("crashloop", run=run, unit=unit))
        expected = result_arrays(run, unit)
        if found is None or any(not np.array_equal(found[0][k], expected[k]) for k in expected):
            figures.failures.append(f"run {run}: result {unit} did not read back")
        figures.units_checked += 1
    if units:
        figures.truncations_rewritten += truncated_is_rewritten(cache, run, units[-1], figures)


def truncated_is_rewritten(cache: ResultCache, run: int, unit: int, figures: Figures) -> bool:
    """Cut a result's .npz in half: the next get misses and removes it, a put restores it."""
    key = result_key("crashloop", run=run, unit=unit)
    path = cache.root / f"{key}.npz"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    if cache.get(key) is not None or path.exists():
        figures.failures.append(f"run {run}: a truncated result was served or kept")
        return False
    cache.put(key, result_arrays(run, unit), {"run": run, "unit": unit})
    found = cache.get(key)
    expected = result_arrays(run, unit)["labels"]
    if found is None or not np.array_equal(found[0]["labels"], expected):
        figures.failures.append(f"run {run}: a truncated result was not rewritten")
        return False
    return True


def run_phase(
    phase: str, folder: Path, kills: int, max_delay: float, seed: int, min_delay: float = 0.0
) -> Figures:
    """Kill a `phase` child `kills` times at random moments, checking after every kill."""
    figures, rng, seen = Figures(phase), random.Random(seed), {"opened": set(), "alive": set()}
    folder.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    for run in range(kills):
        lines = run_child(phase, folder, run, rng.uniform(min_delay, max_delay))
        figures.kills += 1
        if phase == "embed":
            check_embed(folder, run, lines, figures)
        elif phase == "save":
            check_save(folder, run, lines, figures, seen)
        else:
            check_results(folder, run, lines, figures)
    figures.seconds = time.perf_counter() - start
    return figures


def print_table(rows: list[Figures], args: argparse.Namespace) -> None:
    versions = library_versions()
    print(
        f"crashloop: {args.kills} SIGKILLs per phase, delay U(0, {args.max_delay}) s after ready, "
        f"seed {args.seed}; Python {platform.python_version()}, numpy {versions['numpy']}, "
        f"pandas {versions['pandas']}, pyarrow {versions['pyarrow']}, "
        f"SQLite {sqlite3.sqlite_version}"
    )
    header = ("phase", "kills", "killed mid-unit", "leftovers cleaned", "units checked",
              "integrity ok", "half-saved listed", "truncated→rewritten", "failures",
              "seconds")  # fmt: skip
    print(" | ".join(header))
    for row in rows:
        cells = (row.phase, row.kills, row.mid_write, row.leftovers_cleaned, row.units_checked,
                 "-" if row.phase == "results" else f"{row.integrity_ok}/{row.kills}",
                 "-" if row.phase != "save" else row.half_saved_listed,
                 row.truncations_rewritten if row.phase == "results" else "-",
                 len(row.failures), f"{row.seconds:.0f}")  # fmt: skip
        print(" | ".join(str(cell) for cell in cells))
    for row in rows:
        for failure in row.failures:
            print(f"FAILED {row.phase}: {failure}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20, help="kills per phase (20)")
    parser.add_argument("--max-delay", type=float, default=1.0, help="seconds after ready (1.0)")
    parser.add_argument("--phases", nargs="+", choices=PHASES, default=list(PHASES))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dir", type=Path, help="work folder (default: a temporary one)")
    parser.add_argument("--child", nargs=3, metavar=("PHASE", "DIR", "RUN"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)  # damaged results are logged by design here
    if args.child:
        child(args.child[0], Path(args.child[1]), int(args.child[2]))
        return 0
    work = args.dir or Path(tempfile.mkdtemp(prefix="embedscope-crashloop-"))
    rows = [
        run_phase(phase, work / phase, args.kills, args.max_delay, args.seed + index)
        for index, phase in enumerate(args.phases)
    ]
    print_table(rows, args)
    return 1 if any(row.failures for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
