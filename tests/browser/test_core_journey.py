"""End to end in Chromium: the first screen draws the sample map, with no error box."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS, plotted_points, wait_for_app

pytestmark = [pytest.mark.browser, pytest.mark.model]


def test_first_screen_draws_the_sample_map(page, server_url):
    page.goto(server_url)
    wait_for_app(page)
    assert plotted_points(page) == [800]
    assert page.locator('[data-testid="stException"]').count() == 0
    links = page.locator('[data-testid="stSidebarNav"] a').all_inner_texts()
    assert any("Map" in link for link in links) and any("Corpus" in link for link in links)
    page.screenshot(path=str(ARTIFACTS / "map.png"))


def test_corpus_page_loads_with_the_sample_preview(page, server_url):
    page.goto(f"{server_url}/corpus")
    page.wait_for_selector('[data-testid="stDataFrame"]')
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached")
    expect(page.get_by_role("button", name="Embed and map")).to_be_enabled()
    assert page.locator('[data-testid="stException"]').count() == 0
    page.screenshot(path=str(ARTIFACTS / "corpus.png"))
