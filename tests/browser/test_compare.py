"""The Compare page in Chromium: a lasso on one map rings the same documents on the other map
and lists them in the table (the bundled sample, all-MiniLM-L6-v2 against the multilingual
model)."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import drag_lasso, wait_for_app

pytestmark = pytest.mark.browser

MAPS_DRAWN = """() => {
    const maps = [...document.querySelectorAll('.js-plotly-plot')]
        .filter(el => (el._fullData || []).some(t => t.customdata && t.customdata.length));
    return maps.length === 2 && maps.every(el => el._fullLayout && el._fullLayout._glcanvas);
}"""
ASKS = """[...document.querySelectorAll('button')].some(b => /Embed [\\d,]+ documents/
    .test(b.innerText))"""  # the button's text follows its icon's name
RINGED = """() => [...document.querySelectorAll('.js-plotly-plot')]
    .filter(el => (el._fullData || []).some(t => t.customdata && t.customdata.length))
    .map(el => {
        const ring = el._fullData.find(t => (t.name || '').startsWith('selected'));
        return ring ? Array.from(ring.hovertext).sort() : [];
    })"""
INSIDE = """([left, top, right, bottom]) => {
    const el = [...document.querySelectorAll('.js-plotly-plot')]
        .filter(el => (el._fullData || []).some(t => t.customdata && t.customdata.length))[0];
    const box = el.getBoundingClientRect();
    const xa = el._fullLayout.xaxis, ya = el._fullLayout.yaxis;
    const texts = [];
    for (const t of el._fullData.filter(t => t.customdata)) {
        for (let i = 0; i < t.x.length; i++) {
            const px = box.left + xa._offset + xa.l2p(t.x[i]);
            const py = box.top + ya._offset + ya.l2p(t.y[i]);
            if (px > left && px < right && py > top && py < bottom) texts.push(t.hovertext[i]);
        }
    }
    return texts.sort();
}"""


def test_a_lasso_on_one_map_rings_the_same_documents_on_the_other(page, server_url):
    page.goto(server_url)
    wait_for_app(page)
    page.locator('[data-testid="stSidebarNav"] a', has_text="Compare").click()
    # the second model's embedding is a cost said first (when it takes seconds): asked for here
    ask = page.get_by_role("button", name=re.compile(r"Embed [\d,]+ documents"))
    page.wait_for_function(f"() => ({MAPS_DRAWN})() || {ASKS}", polling=500)
    if ask.count():
        ask.click()
    page.wait_for_function(MAPS_DRAWN, polling=500)
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached")
    assert page.evaluate(RINGED) == [[], []]

    first_map = page.locator(".js-plotly-plot .nsewdrag").first
    first_map.scroll_into_view_if_needed()
    first_map.hover()
    page.locator('.js-plotly-plot .modebar-btn[data-title="Lasso Select"]').first.click()
    area = first_map.bounding_box()
    left, top = area["x"] + 3, area["y"] + 3
    right, bottom = area["x"] + area["width"] * 0.4, area["y"] + area["height"] - 3
    inside = page.evaluate(INSIDE, [left, top, right, bottom])
    assert 20 < len(inside) < 700
    drag_lasso(page, left, top, right, bottom)

    heading = page.get_by_role("heading", name=re.compile(r"^[\d,]+ selected documents$"))
    selected = int(heading.inner_text().split()[0].replace(",", ""))
    assert abs(selected - len(inside)) <= 3, "the documents inside the drawn shape"
    page.wait_for_function(f"() => ({RINGED})().every(r => r.length === {selected})")
    first_ring, second_ring = page.evaluate(RINGED)
    assert first_ring == second_ring, "the same documents ringed on both maps"
    assert page.locator('[data-testid="stException"]').count() == 0
