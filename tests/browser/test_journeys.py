"""End to end in Chromium: upload and map, lasso-select, query, save and share, export.

Each test is one visitor's journey on the shared server; a visitor's session lives as long as its
browser tab, so pages are reached through the sidebar, never by typing a new URL (that would start
a new session), except where a new session is the point (the share link).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import drag_lasso, plotted_points, wait_for_app

pytestmark = [pytest.mark.browser, pytest.mark.model]

TOPICS = {
    "space": "The {} rocket reached orbit and the crew watched the planet turn below",
    "baking": "Knead the {} dough, let it rise, then bake the bread until golden",
    "football": "The {} striker scored a late goal and the league title was decided",
}
ADJECTIVES = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth"]
FORMULA = '=HYPERLINK("https://evil.example","click me")'
MARKUP = "<img src=x onerror=alert(1)> a picture that never loads"


def journey_rows() -> list[dict[str, str]]:
    """27 topical documents in 3 labelled groups, plus a formula and a markup document."""
    rows = [
        {"text": template.format(adjective), "topic": topic}
        for topic, template in TOPICS.items()
        for adjective in ADJECTIVES
    ]
    return [*rows, {"text": FORMULA, "topic": "hostile"}, {"text": MARKUP, "topic": "hostile"}]


@pytest.fixture(scope="module")
def corpus_csv(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("journeys") / "journey.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["text", "topic"])
        writer.writeheader()
        writer.writerows(journey_rows())
    return path


@pytest.fixture
def dialogs(page) -> list[str]:
    """Every alert/confirm the page opens (an injected script would open one)."""
    opened: list[str] = []
    page.on("dialog", lambda dialog: (opened.append(dialog.message), dialog.dismiss()))
    return opened


def wait_for_points(tab, count: int) -> None:
    """Wait until some Plotly chart on the page shows exactly `count` points."""
    tab.wait_for_function(
        """count => [...document.querySelectorAll('.js-plotly-plot')].some(el => el.data &&
            el.data.reduce((n, t) => n + (t.customdata ? t.customdata.length : 0), 0) === count)""",
        arg=count,
    )
    tab.wait_for_selector('[data-testid="stStatusWidget"]', state="detached")


def sidebar_link(tab, name: str):
    return tab.locator('[data-testid="stSidebarNav"] a', has_text=name)


def upload_and_map(tab, server_url: str, path: Path, count: int) -> None:
    """Open the Corpus page, upload `path`, check the preview and embed it onto the Map page."""
    tab.goto(f"{server_url}/corpus")
    tab.get_by_text("Upload a file", exact=True).click()
    tab.locator('input[type="file"]').set_input_files(str(path))
    tab.get_by_text(f"{count} documents · text column 'text'").wait_for()
    tab.get_by_role("button", name="Embed and map").click()
    tab.get_by_role("heading", name="Map").wait_for()
    wait_for_points(tab, count)


def map_points(tab) -> list[tuple[int, float, float]]:
    """(row, x, y) of every point of the first chart, sorted by row (floats as drawn)."""
    points = tab.evaluate(
        """() => document.querySelector('.js-plotly-plot')._fullData.filter(t => t.customdata)
            .flatMap(t => Array.from(t.customdata, (row, i) => [row, t.x[i], t.y[i]]))"""
    )
    return sorted((int(row), x, y) for row, x, y in points)


def open_expander(tab, label: str) -> None:
    tab.locator('[data-testid="stExpander"] summary', has_text=label).click()


def test_an_uploaded_csv_is_mapped_point_for_point(page, server_url, corpus_csv, dialogs):
    upload_and_map(page, server_url, corpus_csv, 29)
    assert plotted_points(page) == [29]
    hover = page.evaluate(
        "() => document.querySelector('.js-plotly-plot').data.flatMap(t => t.hovertext || [])"
    )
    assert any(text.startswith("&lt;img src=x onerror=alert(1)&gt;") for text in hover)
    assert page.locator("img[src='x']").count() == 0
    expect(page.locator('[data-testid="stSidebar"]').get_by_text("journey.csv")).to_be_visible()
    assert page.locator('[data-testid="stException"]').count() == 0
    assert dialogs == []


def test_a_lasso_on_the_map_lists_the_documents_inside_it(page, server_url):
    page.goto(server_url)
    wait_for_app(page)
    area = page.locator(".js-plotly-plot .nsewdrag").first.bounding_box()
    left, top = area["x"] + 3, area["y"] + 3
    right, bottom = area["x"] + area["width"] / 2, area["y"] + area["height"] - 3
    inside = page.evaluate(
        """([left, top, right, bottom]) => {
            const el = document.querySelector('.js-plotly-plot');
            const box = el.getBoundingClientRect();
            const xa = el._fullLayout.xaxis, ya = el._fullLayout.yaxis;
            let n = 0;
            for (const t of el._fullData.filter(t => t.customdata)) {
                for (let i = 0; i < t.x.length; i++) {
                    const px = box.left + xa._offset + xa.l2p(t.x[i]);
                    const py = box.top + ya._offset + ya.l2p(t.y[i]);
                    if (px > left && px < right && py > top && py < bottom) n++;
                }
            }
            return n;
        }""",
        [left, top, right, bottom],
    )
    assert 100 < inside < 700, "the left half of the sample map holds a good share of it"
    drag_lasso(page, left, top, right, bottom)
    heading = page.get_by_role("heading", name=re.compile(r"^[\d,]+ selected$"))
    selected = int(heading.inner_text().split()[0].replace(",", ""))
    in_browser = page.evaluate(
        """() => document.querySelector('.js-plotly-plot')._fullData
            .reduce((n, t) => n + (t.selectedpoints || []).length, 0)"""
    )
    assert selected == in_browser, "the server got exactly the points the lasso selected"
    assert abs(selected - inside) <= 3, "those inside the drawn shape (edge points may differ)"
    expect(page.get_by_text("Look closer at")).to_be_visible()
    assert page.locator('[data-testid="stException"]').count() == 0


def test_an_arithmetic_query_puts_its_marker_on_the_map(page, server_url):
    page.goto(server_url)
    wait_for_app(page)
    sidebar_link(page, "Arithmetic").click()
    expression = '"a sunny beach holiday" - "rain" + #3'
    field = page.get_by_role("textbox", name="Expression")
    field.fill(expression)
    field.press("Enter")
    marker = page.wait_for_function(
        """() => {
            for (const el of document.querySelectorAll('.js-plotly-plot')) {
                const star = (el._fullData || []).find(t => t.name === 'query');
                if (star && star.hovertext[0].includes('a sunny beach holiday')) {
                    return {x: star.x[0], y: star.y[0], symbol: star.marker.symbol};
                }
            }
            return null;
        }"""
    ).json_value()
    assert marker["symbol"] == "star"
    assert all(isinstance(marker[axis], float | int) for axis in ("x", "y"))
    expect(page.get_by_role("heading", name="Arithmetic")).to_be_visible()
    assert page.locator('[data-testid="stException"]').count() == 0


def test_a_saved_project_opens_in_a_second_browser_context(page, browser, server_url, corpus_csv):
    upload_and_map(page, server_url, corpus_csv, 29)
    open_expander(page, "Save, share and export")
    page.get_by_role("textbox", name="Title").fill("Browser journey")
    page.get_by_role("button", name="Save project").click()
    code = page.locator('[data-testid="stCode"]', has_text="?project=")
    link = re.search(r"https?://\S+\?project=[A-Za-z0-9_-]+", code.inner_text()).group(0)
    wait_for_points(page, 29)
    saved = map_points(page)

    stranger = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        other = stranger.new_page()
        other.set_default_timeout(180_000)
        other.goto(link)
        wait_for_points(other, 29)
        assert map_points(other) == saved
        sidebar = other.locator('[data-testid="stSidebar"]')
        expect(sidebar.get_by_text("Browser journey")).to_be_visible()
        expect(sidebar.get_by_text("shown read-only")).to_be_visible()
        assert other.locator('[data-testid="stException"]').count() == 0
    finally:
        stranger.close()


def test_the_csv_export_holds_every_point_with_formulas_defused(page, server_url, corpus_csv):
    upload_and_map(page, server_url, corpus_csv, 29)
    open_expander(page, "Save, share and export")
    with page.expect_download() as download:
        page.get_by_role("button", name="Table (CSV)").click()
    assert download.value.suggested_filename == "embedscope-map.csv"
    table = pd.read_csv(download.value.path(), keep_default_na=False)
    assert len(table) == 29
    assert list(table.columns) == ["id", "text", "topic", "x", "y", "cluster", "cluster_label"]
    assert table["id"].tolist() == list(range(29))  # the #id of expressions
    expected = [row["text"] for row in journey_rows()]
    assert table["text"].tolist() == [*expected[:-2], f"'{FORMULA}", MARKUP]
    assert table["topic"].value_counts().to_dict() == {
        "space": 9,
        "baking": 9,
        "football": 9,
        "hostile": 2,
    }
    drawn = np.array([(x, y) for _, x, y in map_points(page)])
    np.testing.assert_allclose(table[["x", "y"]].to_numpy(), drawn, atol=1e-4)
