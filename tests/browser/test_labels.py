"""In Chromium: the cluster names drawn on the map overlap nowhere, as the browser lays them out,
at the fine and the broad level of detail."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS, wait_for_app

pytestmark = [pytest.mark.browser, pytest.mark.model]

LABEL_BOXES = """() => [...document.querySelectorAll('.js-plotly-plot g.annotation rect.bg')]
    .map(r => r.getBoundingClientRect()).map(b => [b.left, b.right, b.top, b.bottom])"""


def overlapping_pairs(boxes: list[list[float]]) -> int:
    """Pairs of (left, right, top, bottom) boxes that overlap with positive area."""
    return sum(
        a[0] < b[1] and b[0] < a[1] and a[2] < b[3] and b[2] < a[3]
        for i, a in enumerate(boxes)
        for b in boxes[i + 1 :]
    )


def test_cluster_names_never_overlap_at_either_level(page, server_url):
    page.set_viewport_size({"width": 1366, "height": 900})  # a laptop: the narrowest usual map
    page.goto(server_url)
    wait_for_app(page)
    fine = page.evaluate(LABEL_BOXES)
    assert len(fine) == 10
    assert overlapping_pairs(fine) == 0
    page.get_by_text("Broad (3)", exact=True).click()
    expect(page.locator(".js-plotly-plot g.annotation")).to_have_count(3)
    broad = page.evaluate(LABEL_BOXES)
    assert overlapping_pairs(broad) == 0
    assert page.locator('[data-testid="stException"]').count() == 0
    page.screenshot(path=str(ARTIFACTS / "map-broad-names.png"))
