"""The opt-in timing log (EMBEDSCOPE_TIMING_LOG=1): a line per script run and one when the Map
page hands over its figure, per session, parseable back out of a server log; nothing when off."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from lib.service.timing import TimingEvent, parse_timing
from tests.test_pages_hosted import linked_session, precomputed

TIMING_LOGGER = "lib.service.timing"


def test_lines_round_trip_and_other_log_lines_are_skipped():
    run = TimingEvent("abc123", "run", "map", 1_700_000_000.25, 1.5, "rerun")
    figure = TimingEvent("abc123", "figure", "map", 1_700_000_001.75)
    lines = ["2026-12-07 streamlit: something else", f"INFO {run.line()}", figure.line()]
    assert parse_timing(lines) == [run, figure]
    assert run.line() == (
        "embedscope-timing session=abc123 event=run page=map start=1700000000.250 "
        "seconds=1.500 end=rerun"
    )
    assert figure.line() == (
        "embedscope-timing session=abc123 event=figure page=map at=1700000001.750"
    )


def timing_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == TIMING_LOGGER]


def test_a_linked_map_logs_its_runs_and_its_figure_per_session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    monkeypatch.setenv("EMBEDSCOPE_HOME", str(tmp_path))
    monkeypatch.setenv("EMBEDSCOPE_TIMING_LOG", "1")
    project = precomputed(tmp_path, "Timed", seed=11)
    caplog.set_level(logging.INFO, logger=TIMING_LOGGER)
    first, second = linked_session(project.id), linked_session(project.id)
    events = parse_timing(timing_lines(caplog))
    sessions = list(dict.fromkeys(event.session for event in events))
    assert len(sessions) == 2, events
    for session in sessions:
        mine = [event for event in events if event.session == session]
        runs = [event for event in mine if event.event == "run"]
        figures = [event for event in mine if event.event == "figure"]
        assert [run.page for run in runs] == ["map"] and runs[0].end == "done"
        assert [figure.page for figure in figures] == ["map"]
        assert runs[0].at <= figures[0].at <= runs[0].at + runs[0].seconds
    assert first.session_state["session_id"] != second.session_state["session_id"]


def test_nothing_is_logged_when_the_log_is_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    monkeypatch.setenv("EMBEDSCOPE_HOME", str(tmp_path))
    monkeypatch.delenv("EMBEDSCOPE_TIMING_LOG", raising=False)
    project = precomputed(tmp_path, "Untimed", seed=12)
    caplog.set_level(logging.INFO, logger=TIMING_LOGGER)
    linked_session(project.id)
    assert timing_lines(caplog) == []
