"""In Chromium: only the app's own navigation from the first paint of a fresh server (direct links
included), and a click on the map selects a point in the mode the map opens in."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS, start_server, wait_for_app

pytestmark = [pytest.mark.browser, pytest.mark.model]

APP_PAGES = {
    "Map", "Corpus", "Compare", "Arithmetic", "Words", "Concept axes", "What are embeddings?",
    "Lessons",
}  # fmt: skip


def sidebar_links_until_drawn(tab, url: str, drawn: str) -> list[set[str]]:
    """Every distinct set of sidebar links seen from the first paint until `drawn` shows."""
    seen: list[set[str]] = []
    tab.goto(url, wait_until="commit")
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        links = set(tab.locator('[data-testid="stSidebarNav"] a').all_inner_texts())
        if links and links not in seen:
            seen.append(links)
        if seen and tab.locator(drawn).count():
            break
        time.sleep(0.05)
    tab.wait_for_selector('[data-testid="stStatusWidget"]', state="detached")
    return seen


@pytest.mark.parametrize(
    ("path", "title"),
    [("/", "Map"), ("/map?sample=topics", "Map"), ("/lessons", "Lessons"), ("/corpus", "Corpus")],
)
def test_a_fresh_server_shows_only_the_apps_navigation(browser, path, title):
    """Direct links on a fresh server open the linked page inside the app's frame."""
    url, process = start_server({"EMBEDSCOPE_WARM_UP": "0"})
    try:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        tab = context.new_page()
        seen = sidebar_links_until_drawn(tab, url + path, "h1")
        assert seen, "the app's navigation was never shown"
        for links in seen:
            assert {link.split("\n")[-1].strip() for link in links} <= APP_PAGES, links
        assert tab.locator('[data-testid="stException"]').count() == 0
        expect(
            tab.locator('[data-testid="stSidebar"]').get_by_text("topics").first
        ).to_be_attached()
        assert tab.locator("h1").first.inner_text().startswith(title)
        if path != "/map?sample=topics":  # Streamlit serves the default page at / only
            assert tab.get_by_text("Page not found").count() == 0
        context.close()
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_a_click_on_the_map_selects_that_point(page, server_url):
    page.goto(server_url)
    wait_for_app(page)
    page.locator(".js-plotly-plot").first.scroll_into_view_if_needed()  # below the controls
    x, y, row = page.evaluate(
        """() => {
            const el = document.querySelector('.js-plotly-plot');
            const trace = el._fullData[0], box = el.getBoundingClientRect();
            const xa = el._fullLayout.xaxis, ya = el._fullLayout.yaxis;
            return [box.left + xa._offset + xa.d2p(trace.x[0]),
                    box.top + ya._offset + ya.d2p(trace.y[0]), trace.customdata[0]];
        }"""
    )
    page.mouse.click(x, y)
    page.get_by_text("1 selected").wait_for()
    expect(page.locator('[data-testid="stDataFrame"]:visible').first).to_be_visible()
    assert page.locator('[data-testid="stException"]').count() == 0
    page.screenshot(path=str(ARTIFACTS / "map-click.png"))
    assert isinstance(row, int)
