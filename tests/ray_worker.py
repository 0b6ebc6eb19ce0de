"""Runs the Ray engine scenarios of tests/test_ray_engine.py in a process of its own.

    python -m tests.ray_worker OUT_DIR CORPUS_CSV SCENARIO [SCENARIO ...]

Starting Ray changes the process that starts it (Ray replaces builtins.print, which breaks later
numba compiles), so the pytest process never does: it runs this module once, which starts one
local Ray (num_cpus=2) for all the scenarios asked for and writes what each found to
OUT_DIR/results.json ({scenario: {"error": traceback} or the values the tests check}). Projects
and caches are written under OUT_DIR, where the tests open them.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
import traceback
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lib.batch.precompute import precompute
from lib.batch.ray_engine import RaySettings, embed_missing
from lib.cluster.clusters import ClusterParams
from lib.embed.models import embed_texts
from lib.errors import EmbedscopeError
from lib.reduce.layouts import PCAParams, UMAPParams
from lib.store.caches import CACHE_FILE_NAME, EmbeddingCache, text_key
from tests.conftest import FakeModel, make_topic_texts

RESULTS_FILE = "results.json"
LOCAL_CPUS = 2
ACTORS = 2
INTERRUPT_AT = 512  # the "killed" run stops once this many vectors are cached
RESUME_BATCH = 32
FAILING_MODEL = "no-such-org/no-such-model"


class RecordingModel(FakeModel):
    """FakeModel that appends every text it encodes to a file in `log_dir`, one per process.

    It runs on the Ray actors, so what it encoded is read back from the files, not the object."""

    def __init__(self, log_dir: Path) -> None:
        super().__init__()
        self.log_dir = str(log_dir)

    def encode(self, texts: list[str]) -> np.ndarray:
        path = Path(self.log_dir) / f"{os.getpid()}-{uuid.uuid4().hex}.json"
        path.write_text(json.dumps(list(texts)), encoding="utf-8")
        return super().encode(texts)


def encoded_texts(log_dir: Path) -> list[str]:
    """Every text a RecordingModel writing to `log_dir` encoded (with repeats, in no order)."""
    return [
        text
        for path in sorted(log_dir.glob("*.json"))
        for text in json.loads(path.read_text(encoding="utf-8"))
    ]


def _project(corpus: Path, home: Path, engine: str, model: FakeModel, **options: Any):
    options.setdefault("layout", UMAPParams(n_epochs=30))
    return precompute(
        corpus,
        title="Topics",
        text_column="text",
        model=model,
        clustering=ClusterParams(method="kmeans", n_clusters=8),
        engine=engine,
        ray_actors=ACTORS,
        home=home,
        **options,
    )


def parity(out: Path, corpus: Path) -> dict[str, Any]:
    """The same corpus through the local path and through Ray, each into its own home."""
    local = _project(corpus, out / "parity-local", "local", FakeModel())
    on_ray = _project(corpus, out / "parity-ray", "ray", FakeModel())
    return {"local": local.id, "ray": on_ray.id}


def resume(out: Path, corpus: Path) -> dict[str, Any]:
    """A Ray run stopped after INTERRUPT_AT vectors (as Ctrl-C would), then the same run again.

    A PCA layout: this is about what gets embedded, and UMAP would only add seconds.
    """
    home = out / "resume"
    model_id = FakeModel.model_id

    def stop(stage: str, done: int, total: int) -> None:
        if stage == "embed" and done >= INTERRUPT_AT:
            raise KeyboardInterrupt

    first_log, second_log = out / "resume-first", out / "resume-second"
    first_log.mkdir()
    second_log.mkdir()
    interrupted = False
    try:
        _project(
            corpus,
            home,
            "ray",
            RecordingModel(first_log),
            layout=PCAParams(),
            batch_size=RESUME_BATCH,
            progress=stop,
        )
    except KeyboardInterrupt:
        interrupted = True
    cache = EmbeddingCache(home / CACHE_FILE_NAME)
    texts = pd.read_csv(corpus)["text"].tolist()
    cached = sorted(cache.get_many(model_id, [text_key(text) for text in texts]))
    cache.close()

    lines: list[str] = []
    handler = _ListHandler(lines)
    logger = logging.getLogger("lib.batch.precompute")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        project = _project(
            corpus,
            home,
            "ray",
            RecordingModel(second_log),
            layout=PCAParams(),
            batch_size=RESUME_BATCH,
        )
    finally:
        logger.removeHandler(handler)
    return {
        "interrupted": interrupted,
        "cached_keys": cached,
        "first_encoded": encoded_texts(first_log),
        "second_encoded": encoded_texts(second_log),
        "log": lines,
        "project": project.id,
    }


class _ListHandler(logging.Handler):
    def __init__(self, lines: list[str]) -> None:
        super().__init__(logging.INFO)
        self.lines = lines

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def only_missing(out: Path, corpus: Path) -> dict[str, Any]:
    """embed_missing with 120 of 200 distinct texts (plus 10 repeats) already cached."""
    texts, _ = make_topic_texts(per_topic=25)  # 200 texts
    texts = texts + texts[:10]  # repeats are embedded once
    model = FakeModel()
    path = out / "only-missing.sqlite3"
    cache = EmbeddingCache(path)
    embed_texts(texts[:120], model, cache=cache)
    log_dir = out / "only-missing-log"
    log_dir.mkdir()
    seen: list[tuple[int, int]] = []
    computed = embed_missing(
        texts,
        RecordingModel(log_dir),
        model_id=model.model_id,
        dimension=model.dimension,
        cache=cache,
        settings=RaySettings(actors=ACTORS),
        batch_size=16,
        progress=lambda done, total: seen.append((done, total)),
    )
    again = embed_missing(
        texts, model, model_id=model.model_id, dimension=model.dimension, cache=cache, batch_size=16
    )
    cache.close()
    return {
        "texts": texts,
        "computed": computed,
        "computed_again": again,
        "progress": seen,
        "encoded": encoded_texts(log_dir),
        "cache": str(path),
    }


def failing_model(out: Path, corpus: Path) -> dict[str, Any]:
    """A model name the workers cannot load: the run must end in one EmbedscopeError."""
    path = out / "failing-model.sqlite3"
    cache = EmbeddingCache(path)
    raised: dict[str, Any] = {"type": None, "message": None}
    try:
        embed_missing(
            ["one text", "another"],
            FAILING_MODEL,
            model_id=FAILING_MODEL,
            dimension=384,
            cache=cache,
            settings=RaySettings(actors=1),
        )
    except EmbedscopeError as error:
        raised = {"type": type(error).__name__, "message": str(error)}
    finally:
        cache.close()
    return {**raised, "cache": str(path)}


SCENARIOS: dict[str, Callable[[Path, Path], dict[str, Any]]] = {
    "parity": parity,
    "resume": resume,
    "only_missing": only_missing,
    "failing_model": failing_model,
}


def main(argv: list[str]) -> int:
    out, corpus, *names = argv
    unknown = sorted(set(names) - set(SCENARIOS))
    if unknown or not names:
        sys.stderr.write(f"usage: OUT_DIR CORPUS SCENARIO...; scenarios: {sorted(SCENARIOS)}\n")
        return 2
    out_dir, corpus_path = Path(out), Path(corpus)
    started = time.perf_counter()
    import ray

    ray.init(num_cpus=LOCAL_CPUS, include_dashboard=False, logging_level="ERROR")
    _took("ray.init", started)
    results: dict[str, Any] = {}
    try:
        for name in names:
            started = time.perf_counter()
            try:
                results[name] = SCENARIOS[name](out_dir, corpus_path)
            except BaseException:  # KeyboardInterrupt too: report it, go on with the others
                results[name] = {"error": traceback.format_exc()}
            _took(name, started)
    finally:
        ray.shutdown()
        (out_dir / RESULTS_FILE).write_text(json.dumps(results), encoding="utf-8")
    return 0


def _took(what: str, started: float) -> None:
    sys.stderr.write(f"ray_worker: {what} took {time.perf_counter() - started:.1f} s\n")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
