"""An opt-in timing log of what the server does for each session, in its own log.

EMBEDSCOPE_TIMING_LOG=1 (or "true", "yes") turns it on; the pages then log one line per script
run and one when the Map page's figure has been handed to Streamlit, through the logging module
(logger `lib.service.timing`; to stderr when the server configured no handler for it):

    embedscope-timing session=<id> event=run page=<url path> start=<epoch s> seconds=<s> end=<how>
    embedscope-timing session=<id> event=figure page=map at=<epoch s>

`end` is how the run ended: done, stop (st.stop), rerun (st.rerun, st.switch_page) or error.
`parse_timing` reads the lines back out of a server log (bench/load.py does).
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass

from lib.errors import check_choice

TIMING_ENV = "EMBEDSCOPE_TIMING_LOG"
PREFIX = "embedscope-timing"
EVENTS = ("run", "figure")
RUN_ENDS = ("done", "stop", "rerun", "error")
_FIELD = re.compile(r"(\w+)=(\S+)")

logger = logging.getLogger(__name__)


def timing_enabled() -> bool:
    """Whether $EMBEDSCOPE_TIMING_LOG asks for the timing log."""
    return os.environ.get(TIMING_ENV, "").strip().lower() in ("1", "true", "yes")


@dataclass(frozen=True)
class TimingEvent:
    """One line of the timing log. run: `at` is the run's start, `seconds` its length; figure:
    `at` is when the figure was handed over, `seconds` is 0."""

    session: str
    event: str
    page: str
    at: float
    seconds: float = 0.0
    end: str = "done"

    def __post_init__(self) -> None:
        check_choice("TimingEvent", "event", self.event, EVENTS)
        check_choice("TimingEvent", "end", self.end, RUN_ENDS)

    def line(self) -> str:
        head = f"{PREFIX} session={self.session} event={self.event} page={self.page or '-'}"
        if self.event == "figure":
            return f"{head} at={self.at:.3f}"
        return f"{head} start={self.at:.3f} seconds={self.seconds:.3f} end={self.end}"


def log_event(event: TimingEvent) -> None:
    """Write `event` to the timing log (INFO), when the log is on."""
    if not timing_enabled():
        return
    if not logger.hasHandlers():
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.info(event.line())


def parse_timing(lines: Iterable[str]) -> list[TimingEvent]:
    """The timing events among `lines` (a server log: other lines are skipped), in log order."""
    events = []
    for line in lines:
        if PREFIX not in line:
            continue
        fields = dict(_FIELD.findall(line.split(PREFIX, 1)[1]))
        at = fields.get("start", fields.get("at"))
        if "session" not in fields or fields.get("event") not in EVENTS or at is None:
            continue
        session, event, page = fields["session"], fields["event"], fields.get("page", "-")
        seconds, end = float(fields.get("seconds", 0.0)), fields.get("end", "done")
        events.append(TimingEvent(session, event, page, float(at), seconds, end))
    return events
