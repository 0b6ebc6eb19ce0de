"""The server's warm-up: the default model and UMAP's compiled code, once per process, in the back.

`start_warm_up` returns at once; app.py calls it when the server starts (st.App's lifespan), and
every page run calls it too (a no-op once started). A daemon thread then runs two lanes side by
side, so the 2 cores work in parallel and a first page view is not slowed by the compiler:

- the model lane, in this process: loads the default text model with its precision guard
  (OpenVINO IR converted once into the data home; a later start builds it from there without
  torch), where the pages find it, then runs the exact kNN once (torch, which a click needs);
- the compiler lane, in a separate low-priority process (`python -m lib.service.warmup`): numba
  compiles UMAP's kernels into its on-disk cache in the data home (`layouts.numba_cache_dir`);
  when it is done this process leaves a marker there, so a later start on the same data home
  skips it, and loads the kernels from the cache (`layouts.warm_up`, a fraction of a second).
  Numba's compiler holds the GIL: compiling in the server would stall every page run for its
  whole length and serialise it with the model lane.

When both lanes are done it logs one line, "embedscope: warm in 12.3 s (...)", which
bench/newcomer.py reads from the server's output. The first map of a bundled sample needs none
of this (lib.service.samples). EMBEDSCOPE_WARM_UP=0 skips the warm-up (the tests do).

`python -m lib.service.warmup --prepare` does both lanes' lasting work ahead of time and blocks
until it is done (`prepare`; the Dockerfile runs it at build time), so a server started on that
data home loads the kept artefacts instead of making them.
"""

from __future__ import annotations

import argparse
import atexit
import hashlib
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

from lib.reduce import layouts
from lib.store.caches import machine

logger = logging.getLogger(__name__)

WARM_UP_ENV = "EMBEDSCOPE_WARM_UP"
WARM_MESSAGE = "embedscope: warm in"  # what the log line starts with (bench/newcomer.py)
THREAD_NAME = "embedscope-warm-up"
COMPILER_TIMEOUT_S = 900
COMPILER_NICENESS = 5
ROOT = Path(__file__).resolve().parents[2]
COMPILED_PACKAGES = ("numba", "llvmlite", "umap-learn", "pynndescent", "numpy")

FIRST_VIEW_GRACE_S = 3.0  # the model lane waits this long at most for a first page run

_lock = threading.Lock()
_thread: threading.Thread | None = None
_first_view = threading.Event()


def start_warm_up(load_model: Callable[[], Any] | None = None) -> threading.Thread | None:
    """Start the warm-up thread once per process and return it (the same thread on every call).

    load_model: loads the default model where the server keeps it, e.g.
    `lambda: engine.model(DEFAULT_MODEL)`, so the pages reuse that one copy; by default
    `lib.embed.models.load_model()`. None is returned when EMBEDSCOPE_WARM_UP=0.
    """
    global _thread
    if os.environ.get(WARM_UP_ENV, "1").strip() == "0":
        return None
    with _lock:
        if _thread is None:
            _thread = threading.Thread(
                target=_warm, args=(load_model or _load_default_model,), name=THREAD_NAME,
                daemon=True,
            )  # fmt: skip
            _thread.start()
        return _thread


def warm_up_thread() -> threading.Thread | None:
    """The warm-up thread if one was started in this process (alive or finished), else None."""
    return _thread


def _load_default_model() -> Any:
    from lib.embed.models import DEFAULT_MODEL, load_model

    return load_model(DEFAULT_MODEL)


def _warm(load_model: Callable[[], Any]) -> None:
    """The thread's work: the model lane in a helper thread while this one waits for the
    compiler process, then loads UMAP's compiled kernels from numba's cache."""
    started, cpu_started = time.perf_counter(), time.process_time()
    seconds: dict[str, float] = {}
    failures: list[BaseException] = []
    compiler = start_compiler()  # first: the longer lane
    grace = FIRST_VIEW_GRACE_S if compiler else 0.0  # a second start: the model lane is all
    model = threading.Thread(
        target=_after_first_view, args=(load_model, grace, seconds, failures),
        name=f"{THREAD_NAME}-model", daemon=True,
    )  # fmt: skip
    model.start()
    if compiler is not None:
        _timed("UMAP compile (own process)", lambda: wait_compiled(compiler), seconds, failures)
    model.join()  # then UMAP's kernels: two lanes in this process would only share the GIL
    _timed("UMAP import", layouts.umap_module, seconds, failures)
    _timed("UMAP kernels", layouts.warm_up, seconds, failures)
    total = time.perf_counter() - started
    if failures:  # the pages still work, only slower
        logger.error("embedscope: warm-up failed after %.1f s: %r", total, failures[0])
    else:
        steps = ", ".join(f"{step} {value:.1f} s" for step, value in seconds.items())
        cpu = time.process_time() - cpu_started  # this process only (the compiler is apart)
        _announce(f"{WARM_MESSAGE} {total:.1f} s ({steps}; server process CPU {cpu:.1f} s)")


def page_served() -> None:
    """Tell the warm-up that a page run has finished (frame.run_page calls it after each run)."""
    _first_view.set()


def _after_first_view(
    load_model: Callable[[], Any], grace: float, seconds: dict, failures: list
) -> None:
    """The model lane: it reads a gigabyte of libraries from disk and holds the GIL while it
    imports them, so on a fresh data home (where the compiler is the longer lane) it lets a first
    visitor's page run finish first, waiting at most `grace` seconds."""
    _first_view.wait(grace)
    _timed("model", load_model, seconds, failures)
    _timed("kNN", _warm_knn, seconds, failures)


def _warm_knn() -> None:
    """Run the exact kNN once on a few rows: a later start's model needs no torch (the converted
    OpenVINO model), but a first click's kNN graph does, so it is imported here, not then."""
    from lib.reduce.neighbors import exact_knn, normalize_rows

    exact_knn(normalize_rows(np.random.default_rng(0).normal(size=(64, 8))), 5)


def _timed(step: str, work: Callable[[], Any], seconds: dict, failures: list) -> None:
    """Run `work`, recording its seconds under `step`, or the exception it raised."""
    begin = time.perf_counter()
    try:
        work()
    except Exception as exc:
        logger.exception("embedscope: warm-up step %s failed", step)
        failures.append(exc)
        return
    seconds[step] = time.perf_counter() - begin


# --- the compiler process -----------------------------------------------------------------------


def compiled_marker() -> Path:
    """The file that says numba's cache in the data home holds the kernels `layouts.warm_up`
    compiles, for these library versions, this Python and this CPU (numba checks each entry
    again when it loads it, so a stale marker costs time, never correctness)."""
    names = [f"{package} {version(package)}" for package in COMPILED_PACKAGES]
    names += [sys.version, machine(), str(Path(layouts.__file__).stat().st_mtime_ns)]
    digest = hashlib.sha256("|".join(names).encode()).hexdigest()[:16]
    return layouts.numba_cache_dir() / f"embedscope-compiled-{digest}"


def start_compiler() -> subprocess.Popen | None:
    """Start `python -m lib.service.warmup` unless the cache is known complete (then None); it is
    stopped when this process exits."""
    if compiled_marker().exists():
        return None
    env = {**os.environ, layouts.NUMBA_CACHE_ENV: str(layouts.numba_cache_dir())}
    compiler = subprocess.Popen(
        [sys.executable, "-m", "lib.service.warmup"], cwd=ROOT, env=env, stdin=subprocess.DEVNULL
    )
    atexit.register(_stop, compiler)
    return compiler


def wait_compiled(compiler: subprocess.Popen, timeout: float = COMPILER_TIMEOUT_S) -> bool:
    """Wait for the compiler and mark the cache complete when it succeeded; when it fails or
    hangs (then it is stopped), this process compiles itself (slower) and no marker is left."""
    try:
        code = compiler.wait(timeout)
    except subprocess.TimeoutExpired:
        compiler.kill()
        code = "killed after a timeout"
    if code != 0:
        logger.warning("embedscope: the compiler process failed (%s); compiling here", code)
        return False
    marker = compiled_marker()
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()
    return True


def compile_kernels() -> None:
    """The compiler process's work: UMAP's kernels into numba's cache, at a lower priority than
    the server (page runs and the model lane go first)."""
    os.nice(COMPILER_NICENESS)
    layouts.umap_module()
    layouts.warm_up()


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.kill()


def _announce(message: str) -> None:
    """Log `message` at INFO; to stderr when the server configured no handler for lib's loggers."""
    if not logger.hasHandlers():
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    logger.info(message)


# --- ahead of time --------------------------------------------------------------------------------


def prepare() -> str:
    """Leave in the data home all that a server's warm-up keeps there, and wait for it: the
    default model loaded (its precision guard measures and keeps its verdict where a faster path
    is tried, and a converted OpenVINO model stays in `openvino/` where the guard accepts one)
    while the compiler process fills numba's cache and marks it complete. Returns one line
    saying what was prepared; raises RuntimeError when the compiler fails, so a build stops."""
    started = time.perf_counter()
    compiler = start_compiler()  # None: this data home's cache is already complete
    model = _load_default_model()
    if compiler is not None and not wait_compiled(compiler):
        raise RuntimeError("embedscope: the compiler process failed; nothing was marked compiled")
    check = getattr(model, "precision_check", None)
    verdict = check.summary() if check is not None else "fp32, no faster path to check"
    return (
        f"embedscope: prepared {model.model_id} ({verdict}) and UMAP's compiled code in "
        f"{layouts.numba_cache_dir()} in {time.perf_counter() - started:.1f} s on {machine()}"
    )


def main(argv: list[str] | None = None) -> None:
    """`python -m lib.service.warmup`: the compiler process; with --prepare, `prepare`."""
    parser = argparse.ArgumentParser(prog="python -m lib.service.warmup", description=__doc__)
    parser.add_argument(
        "--prepare", action="store_true",
        help="load the default model and compile UMAP's kernels into the data home, then exit",
    )  # fmt: skip
    if parser.parse_args(argv).prepare:
        print(prepare(), flush=True)
    else:
        compile_kernels()


if __name__ == "__main__":
    main()
