"""AppTest of the fair queue as a visitor sees it: a map that waits for another visitor's heavy
job says how many jobs are ahead of it, and is drawn once that job is done (the queue itself:
tests/test_queue.py)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from streamlit.runtime.forward_msg_queue import ForwardMsgQueue

from pages import state
from pages._common import engine
from tests.test_pages_hosted import linked_session, precomputed


def record_alerts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every info/warning/error text any session sends from now on, even those replaced later in
    the same run (an AppTest shows only the final page)."""
    sent: list[str] = []
    enqueue = ForwardMsgQueue.enqueue

    def recording(self, msg) -> None:
        if msg.HasField("delta") and msg.delta.new_element.HasField("alert"):
            sent.append(msg.delta.new_element.alert.body)
        enqueue(self, msg)

    monkeypatch.setattr(ForwardMsgQueue, "enqueue", recording)
    return sent


def wait_until(condition, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_map_waiting_for_another_visitors_job_shows_its_place_then_draws(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("EMBEDSCOPE_HOME", str(tmp_path))
    project = precomputed(tmp_path, "Queued", seed=21)
    at = linked_session(project.id)
    at.button(key="map_edit_copy").click().run()
    assert not at.exception
    queue, release = engine().queue, threading.Event()
    assert queue is not None

    def other_visitors_job() -> None:
        with queue.turn():
            release.wait(60)

    holder = threading.Thread(target=other_visitors_job)
    holder.start()
    wait_until(lambda: queue.state().running == 1)
    alerts = record_alerts(monkeypatch)
    at.segmented_control(key=state.MAP_VIEW).set_value("3D")
    runner = threading.Thread(target=at.run)  # a new 3-D map: a fit, which waits its turn
    runner.start()
    try:
        wait_until(lambda: any("In the queue: 1 job of other visitors" in a for a in alerts))
        assert runner.is_alive(), "the map was drawn while another job held the queue"
    finally:
        release.set()
        holder.join(10)
        runner.join(120)
    assert not at.exception, at.exception
    assert len(at.get("plotly_chart")) >= 1
    assert not any("In the queue" in info.value for info in at.info)  # gone once its turn came
    assert queue.state().running == 0 and queue.state().waiting == 0
