"""The server warm-up thread: once per process, model and UMAP together, one "warm" log line."""

import logging

import pytest

import lib.engine.reduce as reduce
from lib.engine import warmup


@pytest.fixture
def fresh_warm_up(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """No thread started yet in this process; UMAP steps recorded instead of compiled."""
    steps: list[str] = []
    monkeypatch.setattr(warmup, "_thread", None)
    monkeypatch.setenv(warmup.WARM_UP_ENV, "1")
    monkeypatch.setattr(reduce, "umap_module", lambda: steps.append("import"))
    monkeypatch.setattr(reduce, "warm_up", lambda: steps.append("compile"))
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
    assert "model" in line and "UMAP compile" in line and "process CPU" in line


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
