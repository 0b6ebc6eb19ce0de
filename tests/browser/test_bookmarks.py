"""End to end in Chromium: a teacher saves a bookmark lesson; a second browser walks through it."""

import re

import pytest

from lib.ingest.corpus import load_sample
from tests.browser.conftest import ARTIFACTS, plotted_points, wait_for_app

pytestmark = [pytest.mark.browser, pytest.mark.model]

FIRST = "Ten topics, ten islands on the flat map"
SECOND = "The same map in three dimensions, coloured by label"


def idle(tab) -> None:
    tab.wait_for_selector('[data-testid="stStatusWidget"]', state="detached")


def traces(tab, field: str) -> list[str]:
    """One field ('type', 'name') of every trace of every Plotly chart on the page."""
    return tab.evaluate(
        """field => [...document.querySelectorAll('.js-plotly-plot')].flatMap(
            el => el.data.map(trace => trace[field]))""",
        field,
    )


def add_step(tab, caption: str, number: int) -> None:
    box = tab.get_by_label("Caption: what should students notice here?")
    box.fill(caption)
    box.press("Control+Enter")
    idle(tab)
    tab.get_by_role("button", name="Add the current view as a step").click()
    tab.get_by_text(f"Step {number} of {number}.").wait_for()
    idle(tab)


def test_a_second_browser_walks_a_saved_bookmark_lesson(page, browser, server_url):
    # The teacher comes in through the app's front page and its sidebar. (A direct /lessons
    # link as the very first request of a fresh server lands on the Map page: reported to the
    # owner of the routing in pages/state.py; the student's direct link below comes later.)
    page.goto(server_url)
    wait_for_app(page)
    page.locator('[data-testid="stSidebarNav"] a', has_text="Lessons").click()
    page.get_by_role("radio", name="11 · Bookmarks make lessons").click()
    page.get_by_role("button", name="Add the current view as a step").wait_for()
    idle(page)
    add_step(page, FIRST, 1)
    page.get_by_role("radio", name="3D").click()
    idle(page)
    page.get_by_label("Colour by").click()
    page.get_by_role("option", name="label", exact=True).click()
    idle(page)
    add_step(page, SECOND, 2)
    page.get_by_role("button", name="Save lesson").click()
    link = page.locator('[data-testid="stCode"] code').inner_text().strip()
    assert re.fullmatch(rf"{re.escape(server_url)}/lessons\?lesson=[A-Za-z0-9_-]{{24}}", link)
    page.screenshot(path=str(ARTIFACTS / "bookmarks-teacher.png"), full_page=True)

    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        student = context.new_page()
        student.set_default_timeout(180_000)
        student.goto(link)
        student.get_by_text(f"Step 1 of 2. {FIRST}").wait_for()
        idle(student)
        assert student.get_by_role("button", name="Add the current view as a step").count() == 0
        assert student.get_by_role("button", name="Save lesson").count() == 0
        student.get_by_role("button", name="Next").click()
        student.get_by_text(f"Step 2 of 2. {SECOND}").wait_for()
        idle(student)
        student.screenshot(path=str(ARTIFACTS / "bookmarks-student-step.png"), full_page=True)

        student.get_by_role("button", name="Show this step").click()
        student.wait_for_url(re.compile(r"/\?lesson=[^&]+&step=2$"))
        wait_for_app(student)
        assert set(traces(student, "type")) == {"scatter3d"}
        legend = sorted(name.split(" (")[0] for name in traces(student, "name"))
        assert legend == sorted(load_sample("topics").metadata["label"].unique())
        assert sum(plotted_points(student)) == 800
        student.screenshot(path=str(ARTIFACTS / "bookmarks-student-3d.png"))

        student.locator('[data-testid="stSidebarNav"] a', has_text="Lessons").click()
        student.get_by_text(f"Step 2 of 2. {SECOND}").wait_for()
        idle(student)
        assert "step=2" in student.url
        student.get_by_role("button", name="Previous").click()
        student.get_by_text(f"Step 1 of 2. {FIRST}").wait_for()
        idle(student)
        student.get_by_role("button", name="Show this step").click()
        student.wait_for_url(re.compile(r"/\?lesson=[^&]+&step=1$"))
        wait_for_app(student)
        assert "scatter3d" not in traces(student, "type")
        assert plotted_points(student) == [800]
        assert student.locator('[data-testid="stException"]').count() == 0
        student.screenshot(path=str(ARTIFACTS / "bookmarks-student-2d.png"))
    finally:
        context.close()
