"""Issue 23 items 6 and 7 in Chromium: a lasso on the Map page gives a summary above its table,
the focus document's neighbours are marked on the map, and the redrawn map (a new widget) keeps
the selection: Plotly still shows it, and a second lasso replaces it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS, drag_lasso, wait_for_app

pytestmark = [pytest.mark.browser, pytest.mark.model]

# Overlay traces of the first map by name prefix: how many points each draws.
MARKS = """() => Object.fromEntries(document.querySelector('.js-plotly-plot')._fullData
    .filter(t => !t.customdata).map(t => [t.name, t.x.length]))"""
SHOWN_SELECTED = """() => document.querySelector('.js-plotly-plot')._fullData
    .reduce((n, t) => n + (t.customdata && t.selectedpoints ? t.selectedpoints.length : 0), 0)"""


def plot_box(tab) -> dict:
    return tab.locator(".js-plotly-plot").first.bounding_box()


def selected_count(tab) -> int:
    heading = tab.get_by_role("heading", name=re.compile(r"^[\d,]+ selected$"))
    return int(heading.inner_text().split()[0].replace(",", ""))


def wait_for_marks(tab, name_start: str) -> dict:
    tab.wait_for_function(f"() => Object.keys(({MARKS})()).some(n => n.startsWith({name_start!r}))")
    return tab.evaluate(MARKS)


def test_a_lasso_is_summarised_and_its_focus_neighbours_marked(page, server_url):
    page.set_viewport_size({"width": 1500, "height": 1000})
    page.goto(server_url)
    wait_for_app(page)
    box = plot_box(page)
    left, top = box["x"] + box["width"] * 0.15, box["y"] + box["height"] * 0.2
    drag_lasso(page, left, top, left + box["width"] * 0.3, top + box["height"] * 0.45)
    expect(page.get_by_text("Look closer at")).to_be_visible()
    first = selected_count(page)
    marks = wait_for_marks(page, "neighbours of #")
    assert marks[f"selected ({first})"] == first
    assert next(n for n in marks if n.startswith("neighbours of #")).endswith("(10)")
    assert any(name.startswith("looking at #") for name in marks)
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached")
    assert page.evaluate(SHOWN_SELECTED) == first, "the redrawn map still shows the selection"
    expect(page.get_by_text(re.compile(r"^Top words"))).to_be_visible()
    summary = page.get_by_text(re.compile(r"^Top words"))
    table = page.locator('[data-testid="stDataFrame"]').filter(has_text="text")
    assert summary.bounding_box()["y"] < table.last.bounding_box()["y"], "summary above table"
    page.screenshot(path=str(ARTIFACTS / "map-selection-marks.png"), full_page=True)
    page.wait_for_timeout(1500)  # no rerun may drop the kept selection
    assert selected_count(page) == first
    # a second lasso elsewhere replaces the kept selection
    right = box["x"] + box["width"] * 0.55
    drag_lasso(page, right, top, right + box["width"] * 0.3, top + box["height"] * 0.45)
    page.wait_for_function(
        """n => [...document.querySelectorAll('h3')].some(h => /^[\\d,]+ selected$/.test(
            h.innerText) && h.innerText !== `${n} selected`)""",
        arg=f"{first:,}",
    )
    second = selected_count(page)
    assert wait_for_marks(page, f"selected ({second})")[f"selected ({second})"] == second
    assert page.locator('[data-testid="stException"]').count() == 0
