"""End to end in Chromium: search the map, filter it by a link, pick a table row (issue 22)."""

import pytest
from playwright.sync_api import expect

from lib.query.filters import Filter, encode_filters
from tests.browser.conftest import ARTIFACTS, ERROR_BOX, wait_for_app

pytestmark = [pytest.mark.browser, pytest.mark.model]

# True once the map fades some points (a per-point opacity array, maybe typed, below 1).
FADED = """() => [...document.querySelectorAll('.js-plotly-plot')].some(el =>
    (el._fullData || []).some(t => t.customdata && t.marker && t.marker.opacity
        && t.marker.opacity.length && Array.from(t.marker.opacity).some(o => o < 1)))"""
# True once a trace named `name` (a ringed row) is on a map.
RINGED = """name => [...document.querySelectorAll('.js-plotly-plot')].some(el =>
    (el._fullData || []).some(t => t.name === name))"""


def test_search_highlights_hits_and_a_picked_row_is_ringed(page, server_url):
    page.goto(server_url)
    wait_for_app(page)
    box = page.get_by_label("Search the texts")
    box.fill("python")
    box.press("Enter")
    heading = page.get_by_role("heading", name="documents found")
    expect(heading).to_be_visible()
    page.wait_for_function(FADED)
    assert page.locator(ERROR_BOX).count() == 0
    grid = page.locator('[data-testid="stDataFrame"]:visible').last
    grid.scroll_into_view_if_needed()
    frame = grid.bounding_box()
    x, y = frame["x"] + 16, frame["y"] + 35 + 17  # the first row's selection cell
    page.mouse.move(x, y)
    page.wait_for_timeout(500)  # the grid draws its checkbox on hover
    page.mouse.click(x, y)
    picked = page.get_by_text("Picked: #")
    expect(picked).to_be_visible()
    page.wait_for_function(RINGED, arg="#" + picked.inner_text().split("#")[1].strip())
    expect(page.get_by_text("Nearest neighbours in full dimension").last).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "find.png"))


def test_a_share_link_with_a_filter_filters_map_and_table(page, server_url):
    link = encode_filters([Filter("label", "categorical", values=("cooking",))])
    page.goto(f"{server_url}/?sample=topics&filters={link}")
    wait_for_app(page)
    expect(page.get_by_role("heading", name="documents found")).to_contain_text(
        "80 documents found"
    )
    page.wait_for_function(FADED)
    assert page.locator(ERROR_BOX).count() == 0
