"""The server warm-up: once per process, the model here while a compiler process fills numba's
cache, then one "warm" log line."""

import logging
import subprocess
import sys
import threading
import time

import pytest

import lib.reduce.layouts as reduce
from lib.service import warmup


@pytest.fixture
def fresh_warm_up(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """No thread started yet in this process; UMAP steps recorded instead of compiled."""
    steps: list[str] = []
    monkeypatch.setattr(warmup, "_thread", None)
    monkeypatch.setenv(warmup.WARM_UP_ENV, "1")
    monkeypatch.setattr(reduce, "umap_module", lambda: steps.append("import"))
    monkeypatch.setattr(reduce, "warm_up", lambda: steps.append("compile"))
    monkeypatch.setattr(warmup, "start_compiler", lambda: None)  # the cache is complete
    monkeypatch.setattr(warmup, "_first_view", threading.Event())  # no page served yet
    return steps


def test_warm_up_runs_once_per_process_and_says_when_warm(fresh_warm_up, caplog):
    caplog.set_level(logging.INFO, logger=warmup.__name__)
    loads: list[str] = []
    thread = warmup.start_warm_up(lambda: loads.append("model"))
    assert warmup.start_warm_up(lambda: loads.append("again")) is thread
    thread.join(10)
    assert not thread.is_alive() and warmup.warm_up_thread() is thread
    assert loads == ["model"] and fresh_warm_up == ["import", "compile"]
    [line] = [r.getMessage() for r in caplog.records if warmup.WARM_MESSAGE in r.getMessage()]
    assert "model" in line and "UMAP kernels" in line and "process CPU" in line
    assert "own process" not in line  # a complete cache starts no compiler


def test_the_server_waits_for_its_compiler_then_loads_the_kernels(
    fresh_warm_up, monkeypatch, caplog, tmp_path
):
    caplog.set_level(logging.INFO, logger=warmup.__name__)
    monkeypatch.setenv(reduce.NUMBA_CACHE_ENV, str(tmp_path))
    compiler = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.5)"])
    monkeypatch.setattr(warmup, "start_compiler", lambda: compiler)
    warmup.page_served()  # a first page run has finished: the model lane goes at once
    warmup.start_warm_up(lambda: None).join(30)
    assert compiler.returncode == 0 and fresh_warm_up == ["import", "compile"]
    [line] = [r.getMessage() for r in caplog.records if warmup.WARM_MESSAGE in r.getMessage()]
    assert "UMAP compile (own process) 0." in line
    assert warmup.compiled_marker().exists()  # the next start skips the compiler


def test_a_failed_compiler_leaves_the_compiling_to_the_server(
    fresh_warm_up, monkeypatch, caplog, tmp_path
):
    monkeypatch.setenv(reduce.NUMBA_CACHE_ENV, str(tmp_path))
    compiler = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    monkeypatch.setattr(warmup, "start_compiler", lambda: compiler)
    warmup.page_served()
    warmup.start_warm_up(lambda: None).join(30)
    assert fresh_warm_up == ["import", "compile"]  # reduce.warm_up compiles in this process
    assert any("compiler process failed (3)" in r.getMessage() for r in caplog.records)
    assert not warmup.compiled_marker().exists()


def test_a_hung_compiler_is_stopped(monkeypatch, tmp_path):
    monkeypatch.setenv(reduce.NUMBA_CACHE_ENV, str(tmp_path))
    compiler = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    assert not warmup.wait_compiled(compiler, timeout=0.5)
    assert compiler.wait(5) != 0


def test_the_compiler_process_fills_the_cache_and_marks_it(tmp_path, monkeypatch):
    """`python -m lib.service.warmup` compiles into the data home's numba cache; when it
    succeeds the marker is left, and the next start runs no compiler."""
    monkeypatch.setenv(reduce.NUMBA_CACHE_ENV, str(tmp_path / "numba"))
    compiler = warmup.start_compiler()
    assert compiler is not None
    assert warmup.wait_compiled(compiler, timeout=300)
    assert warmup.compiled_marker().exists()
    cached = {path.name.split("-")[0] for path in (tmp_path / "numba").rglob("*.nbi")}
    kernels = {
        "umap_.smooth_knn_dist", "umap_.compute_membership_strengths",
        "layouts._optimize_layout_euclidean_single_epoch",
    }  # fmt: skip
    assert kernels <= cached
    assert warmup.start_compiler() is None


def test_pynndescent_compiles_on_first_use_not_at_import():
    """umap imports pynndescent; its explicitly typed kernels wait for their first call (13 s of
    compiling at import on a fresh install otherwise). Checked in a new process."""
    code = (
        "import sys; from numba.core.dispatcher import Dispatcher; "
        "from lib.reduce.layouts import umap_module; umap_module(); "
        "kernels = [v for m in list(sys.modules) if m.startswith('pynndescent') "
        "for v in vars(sys.modules[m]).values() if isinstance(v, Dispatcher)]; "
        "print(len(kernels), sum(len(k.signatures) for k in kernels))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=warmup.ROOT, check=True, timeout=120)  # fmt: skip
    kernels, compiled = map(int, done.stdout.split())
    assert kernels > 100 and compiled < 10  # 76 when imported plainly


def test_a_failed_step_is_logged_and_never_called_warm(fresh_warm_up, caplog):
    caplog.set_level(logging.INFO, logger=warmup.__name__)

    def broken_model() -> None:
        raise OSError("model folder unreadable")

    thread = warmup.start_warm_up(broken_model)
    thread.join(10)
    messages = [r.getMessage() for r in caplog.records]
    assert any("warm-up failed" in m for m in messages)
    assert not any(warmup.WARM_MESSAGE in m for m in messages)


def test_warm_up_can_be_switched_off(fresh_warm_up, monkeypatch):
    monkeypatch.setenv(warmup.WARM_UP_ENV, "0")
    assert warmup.start_warm_up(lambda: None) is None
    assert fresh_warm_up == []


def test_on_a_fresh_home_the_model_waits_for_the_first_page_run(
    fresh_warm_up, monkeypatch, tmp_path
):
    """While the compiler runs, the model lane lets a first visitor's page run go first: it
    starts when a page was served, or after FIRST_VIEW_GRACE_S; on a second start at once."""
    monkeypatch.setenv(reduce.NUMBA_CACHE_ENV, str(tmp_path))
    monkeypatch.setattr(warmup, "FIRST_VIEW_GRACE_S", 30.0)
    compiler = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(1)"])
    monkeypatch.setattr(warmup, "start_compiler", lambda: compiler)
    loaded: list[float] = []
    started = time.monotonic()
    thread = warmup.start_warm_up(lambda: loaded.append(time.monotonic() - started))
    time.sleep(1.5)
    assert loaded == []  # still waiting for a page run (the compiler is done by now)
    warmup.page_served()
    thread.join(10)
    assert len(loaded) == 1 and loaded[0] >= 1.5


def test_on_a_second_start_the_model_loads_at_once(fresh_warm_up, monkeypatch):
    monkeypatch.setattr(warmup, "FIRST_VIEW_GRACE_S", 30.0)
    started = time.monotonic()
    thread = warmup.start_warm_up(lambda: None)
    thread.join(warmup.FIRST_VIEW_GRACE_S / 2)
    # at once: well before the 30 s grace a first start would wait (not a CPU-speed bound)
    assert not thread.is_alive() and time.monotonic() - started < warmup.FIRST_VIEW_GRACE_S / 2


class _FakeModel:
    model_id = "fake-model"
    precision_check = None


def test_prepare_waits_for_the_model_and_the_compiler_and_marks_the_cache(monkeypatch, tmp_path):
    """`python -m lib.service.warmup --prepare` (the Dockerfile's build step) blocks until the
    model is loaded and the compiler is done, and leaves the marker a server's start finds."""
    monkeypatch.setenv(reduce.NUMBA_CACHE_ENV, str(tmp_path))
    steps: list[str] = []
    compiler = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.5)"])
    monkeypatch.setattr(warmup, "start_compiler", lambda: steps.append("compiler") or compiler)
    monkeypatch.setattr(
        warmup, "_load_default_model", lambda: steps.append("model") or _FakeModel()
    )
    line = warmup.prepare()
    assert steps == ["compiler", "model"] and compiler.returncode == 0
    assert warmup.compiled_marker().exists()
    assert "prepared fake-model (fp32, no faster path to check)" in line and str(tmp_path) in line


def test_prepare_fails_when_the_compiler_fails(monkeypatch, tmp_path):
    monkeypatch.setenv(reduce.NUMBA_CACHE_ENV, str(tmp_path))
    compiler = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    monkeypatch.setattr(warmup, "start_compiler", lambda: compiler)
    monkeypatch.setattr(warmup, "_load_default_model", _FakeModel)
    with pytest.raises(RuntimeError, match="compiler process failed"):
        warmup.prepare()
    assert not warmup.compiled_marker().exists()
