"""The fair queue for heavy work: at most `slots` jobs at once, in arrival order, each waiting
job told its place; a nested job passes through; the engine queues its heavy computations."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

import lib.service.engine as service
from lib.errors import ParameterError
from lib.reduce.layouts import PCAParams
from lib.service.engine import Engine
from lib.service.queue import FairQueue, slots_from_environment
from tests.conftest import FakeModel


def arrive_in_order(queue: FairQueue, jobs: int, hold: threading.Event, log: list) -> list:
    """Start `jobs` threads one after another (each waits before the next starts); each records
    its start, the places it was told and its end."""
    threads = []
    for job in range(jobs):
        told: list[int] = []

        def work(job=job, told=told) -> None:
            with queue.turn(on_wait=told.append):
                log.append(("start", job))
                hold.wait(5)
                log.append(("end", job))

        thread = threading.Thread(target=work)
        thread.start()
        threads.append((thread, told))
        deadline = time.monotonic() + 5
        while queue.state().running + queue.state().waiting < job + 1:
            assert time.monotonic() < deadline, "a job never reached the queue"
            time.sleep(0.005)
    return threads


def test_jobs_run_one_at_a_time_in_arrival_order_and_are_told_their_place():
    queue, hold, log = FairQueue(slots=1), threading.Event(), []
    threads = arrive_in_order(queue, 5, hold, log)
    assert queue.state().running == 1 and queue.state().waiting == 4
    hold.set()
    for thread, _ in threads:
        thread.join(10)
    starts = [job for event, job in log if event == "start"]
    assert starts == [0, 1, 2, 3, 4]
    assert all(log[2 * i] == ("start", i) and log[2 * i + 1] == ("end", i) for i in range(5))
    places = [told for _, told in threads]
    assert places[0] == []  # the first never waited
    assert [told[0] for told in places[1:]] == [1, 2, 3, 4]  # jobs ahead when it arrived
    assert all(told == sorted(told, reverse=True) for told in places)  # only ever moves up


def test_two_slots_run_two_jobs_at_once():
    queue, hold, log = FairQueue(slots=2), threading.Event(), []
    threads = arrive_in_order(queue, 3, hold, log)
    assert queue.state().running == 2 and queue.state().waiting == 1
    hold.set()
    for thread, _ in threads:
        thread.join(10)
    assert [job for event, job in log if event == "start"][:2] == [0, 1]


def test_a_job_inside_a_job_passes_through_and_a_failure_gives_the_turn_back():
    queue = FairQueue(slots=1)
    with queue.turn(), queue.turn():  # a fit that needs a kNN graph, on one thread
        assert queue.state().running == 1
    with pytest.raises(RuntimeError, match="boom"), queue.turn():
        raise RuntimeError("boom")
    assert queue.state().running == 0
    with queue.turn():  # the turn came back
        assert queue.state().running == 1


def test_slots_come_from_the_environment_and_bad_values_are_refused(monkeypatch):
    monkeypatch.setenv("EMBEDSCOPE_HEAVY_SLOTS", "3")
    assert slots_from_environment() == 3
    monkeypatch.setenv("EMBEDSCOPE_HEAVY_SLOTS", "many")
    with pytest.raises(ParameterError, match=r"EMBEDSCOPE_HEAVY_SLOTS must be an int"):
        slots_from_environment()
    monkeypatch.setenv("EMBEDSCOPE_HEAVY_SLOTS", "0")
    with pytest.raises(ParameterError, match=r"range \[1, 64\]"):
        slots_from_environment()


def test_the_engine_fits_maps_of_several_visitors_one_at_a_time(tmp_path, monkeypatch):
    """Four sessions ask for four new maps at once: the fits never overlap."""
    running, overlaps, lock = [0], [], threading.Lock()
    real_fit = service.project_pca

    def slow_fit(vectors, params):
        with lock:
            running[0] += 1
            overlaps.append(running[0])
        time.sleep(0.05)
        try:
            return real_fit(vectors, params)
        finally:
            with lock:
                running[0] -= 1

    monkeypatch.setattr(service, "project_pca", slow_fit)
    engine = Engine(tmp_path, model_loader=lambda name: FakeModel(), heavy_slots=1)
    rng = np.random.default_rng(0)
    uploads = [engine.uploaded(rng.normal(size=(30, 8))) for _ in range(4)]
    threads = [
        threading.Thread(target=engine.layout, args=(found, PCAParams())) for found in uploads
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(overlaps) == 4 and max(overlaps) == 1
