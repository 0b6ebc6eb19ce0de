"""The server's warm-up: the default model and UMAP's compiled code, once per process, in the back.

Call `start_warm_up` as early as the server allows (at its start, or on the first page run): it
returns at once, and a daemon thread loads the default text model (with its precision guard)
while it imports UMAP with numba's on-disk cache in the data home (`reduce.umap_module`) and
compiles what that cache does not hold yet (`reduce.warm_up`). When done it logs one line,
"embedscope: warm in 12.3 s (...)", which bench/newcomer.py reads from the server's output.

The first map of a bundled sample needs none of this (lib.engine.shipped); the kNN graph is exact
(BLAS) up to the app's 50,000-document cap, so pynndescent is never compiled. Set
EMBEDSCOPE_WARM_UP=0 to skip the warm-up (the tests do, to keep compilation serial).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from lib.engine import reduce

logger = logging.getLogger(__name__)

WARM_UP_ENV = "EMBEDSCOPE_WARM_UP"
WARM_MESSAGE = "embedscope: warm in"  # what the log line starts with (bench/newcomer.py)
THREAD_NAME = "embedscope-warm-up"

_lock = threading.Lock()
_thread: threading.Thread | None = None


def start_warm_up(load_model: Callable[[], Any] | None = None) -> threading.Thread | None:
    """Start the warm-up thread once per process and return it (the same thread on every call).

    load_model: loads the default model where the server keeps it, e.g.
    `lambda: engine.model(DEFAULT_MODEL)`, so the pages reuse that one copy; by default
    `lib.engine.embed.load_model()`. None is returned when EMBEDSCOPE_WARM_UP=0.
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
    from lib.engine.embed import DEFAULT_MODEL, load_model

    return load_model(DEFAULT_MODEL)


def _warm(load_model: Callable[[], Any]) -> None:
    """The thread's work: the model in a helper thread while this one imports and compiles UMAP
    (numba's compiler and torch both release the GIL for long stretches: 2 cores overlap)."""
    started, cpu_started = time.perf_counter(), time.process_time()
    seconds: dict[str, float] = {}
    failures: list[BaseException] = []
    model = threading.Thread(
        target=_timed, args=("model", load_model, seconds, failures), name=f"{THREAD_NAME}-model",
        daemon=True,
    )  # fmt: skip
    model.start()
    _timed("UMAP import", reduce.umap_module, seconds, failures)
    _timed("UMAP compile", reduce.warm_up, seconds, failures)
    model.join()
    total = time.perf_counter() - started
    if failures:  # the pages still work, only slower
        logger.error("embedscope: warm-up failed after %.1f s: %r", total, failures[0])
        return
    steps = ", ".join(f"{step} {value:.1f} s" for step, value in seconds.items())
    cpu = time.process_time() - cpu_started  # the whole process's CPU: robust to other load
    _announce(f"{WARM_MESSAGE} {total:.1f} s ({steps}; process CPU {cpu:.1f} s)")


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


def _announce(message: str) -> None:
    """Log `message` at INFO; to stderr when the server configured no handler for lib's loggers."""
    if not logger.hasHandlers():
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    logger.info(message)
