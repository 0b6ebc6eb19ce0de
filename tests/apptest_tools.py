"""Helpers for AppTests of the pages: a fresh app session, what it shows, what it holds."""

from __future__ import annotations

import json
from pathlib import Path

from streamlit.testing.v1 import AppTest

from pages import state

ROOT = Path(__file__).resolve().parent.parent


def new_app(timeout: float = 300) -> AppTest:
    """A new browser session of the app (nothing shared with other tests but the server caches)."""
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=timeout)


def chart_specs(at: AppTest) -> list[dict]:
    """The figure JSON of every Plotly chart on the page."""
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def figure_points(at: AppTest) -> list[int]:
    """Point counts (via customdata rows) of every Plotly chart on the page."""
    return [
        sum(len(trace.get("customdata") or []) for trace in spec["data"])
        for spec in chart_specs(at)
    ]


def shown(at: AppTest) -> state.Source:
    """What the session shows."""
    return at.session_state[state.SOURCE]


def document_tables(at: AppTest) -> list:
    """The page's document tables (those with an `id` column), in page order."""
    return [frame.value for frame in at.dataframe if "id" in frame.value.columns]
