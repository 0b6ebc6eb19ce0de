"""The server's timing log seen from the pages (`lib.service.timing`, opt-in with
EMBEDSCOPE_TIMING_LOG=1): each script run's page, start and length, and the moment the Map page
handed its figure to Streamlit, per session."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

from streamlit.runtime.scriptrunner_utils.exceptions import RerunException, StopException

from lib.service.timing import TimingEvent, log_event, timing_enabled
from pages import state

DEFAULT_PAGE = "map"  # pages.routes: map.py is the default page, whose URL path is ""


@contextlib.contextmanager
def timed_run(url_path: str) -> Iterator[None]:
    """Log the run of the page at `url_path` that the body is, however it ends."""
    if not timing_enabled():
        yield
        return
    session, start, end = state.session_id(), time.time(), "error"
    page = url_path or DEFAULT_PAGE
    try:
        yield
        end = "done"
    except StopException:
        end = "stop"
        raise
    except RerunException:
        end = "rerun"
        raise
    finally:
        log_event(TimingEvent(session, "run", page, start, time.time() - start, end))


def figure_sent(page: str = "map") -> None:
    """Log that `page` has just handed its figure to st.plotly_chart."""
    if timing_enabled():
        log_event(TimingEvent(state.session_id(), "figure", page, time.time()))
