"""Issue 23's closing check: uploading a corpus of a few thousand documents, the embedding's
progress stays in the window (at 1500×1000) from the estimate before the first batch onwards.

Bounded: a server of its own (fresh data home, no warm-up), real model; the test watches the
model load and the first batches, then leaves (closing the tab stops the run at its next batch)
and stops the server.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS, open_front_page, start_server

pytestmark = [pytest.mark.browser, pytest.mark.model]

N_DOCS = 3_000
WINDOW = {"width": 1500, "height": 1000}
WATCH_S = 240  # model load plus the first batch, on a busy 2-core machine
PINNED = '[class*="st-key-pinned_progress_"]'
TOPICS = {
    "travel": "the night train to the coast was late again and the station cafe had closed early",
    "garden": "tomato seedlings need a warm windowsill and a little water every second morning",
    "music": "the choir rehearsed the new hymn twice before the organist finally approved it",
    "money": "the bank raised its savings rate while mortgage offers stayed exactly the same",
}


def write_corpus(path: Path) -> None:
    """N_DOCS distinct short labelled documents (about 110 characters each)."""
    rng = np.random.default_rng(0)
    labels = list(TOPICS)
    rows = []
    for i in range(N_DOCS):
        label = labels[i % len(labels)]
        words = TOPICS[label].split()
        rng.shuffle(words)
        rows.append({"text": f"note {i}: " + " ".join(words[:14]), "label": label})
    pd.DataFrame(rows).to_csv(path, index=False)


@pytest.fixture(scope="module")
def fresh_server(tmp_path_factory) -> str:
    ARTIFACTS.mkdir(exist_ok=True)
    home = tmp_path_factory.mktemp("progress-home")
    url, process = start_server({"EMBEDSCOPE_HOME": str(home), "EMBEDSCOPE_WARM_UP": "0"})
    yield url
    process.terminate()
    process.wait(timeout=60)


def in_window(box: dict | None) -> bool:
    return (
        box is not None
        and box["x"] >= 0
        and box["y"] >= 0
        and box["x"] + box["width"] <= WINDOW["width"]
        and box["y"] + box["height"] <= WINDOW["height"]
    )


def test_embedding_progress_stays_in_view(browser, fresh_server, tmp_path):
    corpus = tmp_path / "notes.csv"
    write_corpus(corpus)
    open_front_page(browser, fresh_server)
    context = browser.new_context(viewport=WINDOW)
    tab = context.new_page()
    tab.set_default_timeout(180_000)
    try:
        tab.goto(f"{fresh_server}/corpus")
        tab.get_by_text("Upload a file", exact=True).click()
        tab.locator('input[type="file"]').set_input_files(str(corpus))
        tab.get_by_text(f"{N_DOCS:,} documents · text column 'text'").wait_for()
        expect(
            tab.get_by_text(re.compile(r"Embedding: about .* for 3,000 documents"))
        ).to_be_visible()
        button = tab.get_by_role("button", name="Embed and map")
        button.scroll_into_view_if_needed()  # where the visitor is when they click
        button.click()
        pinned = tab.locator(PINNED)
        pinned.wait_for(state="visible")
        seen, deadline = [], time.monotonic() + WATCH_S
        while time.monotonic() < deadline:
            box, text = pinned.bounding_box(), pinned.inner_text()
            assert in_window(box), f"progress out of view: {box} ({text!r})"
            seen.append(text)
            if re.search(r"[1-9][\d,]* / 3,000 documents · [\d,]+ docs/s", text):
                break
            tab.wait_for_timeout(500)
        tab.screenshot(path=str(ARTIFACTS / "progress-in-view.png"))
        estimated = ("Estimate before starting", "left (estimate)")
        assert any(words in text for text in seen for words in estimated), seen[:3]
        assert re.search(r"[1-9][\d,]* / 3,000 documents", seen[-1]), seen[-3:]
        assert tab.locator('[data-testid="stException"]').count() == 0
    finally:
        context.close()
