"""Load: 10 visitors at once (one Chromium, 10 contexts) each embed their own corpus and query it.

Bounded on purpose: loopback only, a fixed number of sessions, one overall deadline. Prints and
writes to test-artifacts/load.txt the server's memory (VmRSS from /proc) and the session times.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.browser.conftest import (
    ALL_HOVER,
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    HITS_HOVER,
    POINTS,
    QUERY,
    open_front_page,
    start_server,
    status_mb,
    wait_or_error,
)

pytestmark = [pytest.mark.browser, pytest.mark.model, pytest.mark.load]

SESSIONS = 10
LINES = 30
DEADLINE_S = 900
STEP_TIMEOUT_MS = 600_000
SAMPLE_EVERY_S = 0.5
CODES = [
    "alpha",
    "bravo",
    "charlie",
    "delta",
    "echo",
    "foxtrot",
    "golf",
    "hotel",
    "india",
    "juliet",
]
SUBJECTS = [
    "the harbour ferry left late because of fog",
    "a sourdough starter needs feeding every day",
    "the chess club met to study endgames",
    "volunteers planted oak trees along the river",
    "the violinist tuned her instrument before the concert",
    "a power cut stopped the night trains for an hour",
]


@dataclass
class SessionResult:
    code: str
    seconds: float
    corpus_texts: list[str]
    hit_texts: list[str]
    page_text: str


def session_lines(code: str) -> list[str]:
    """30 documents that name the session's code word, so leaks are easy to spot."""
    return [f"{code} note {i}: {SUBJECTS[i % len(SUBJECTS)]}" for i in range(LINES)]


async def one_session(browser, url: str, code: str) -> SessionResult:
    """Open the app, paste and embed this session's corpus, then run an arithmetic query."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    page.set_default_timeout(STEP_TIMEOUT_MS)
    try:
        started = time.perf_counter()
        await page.goto(f"{url}/corpus")
        await page.get_by_text("Paste text", exact=True).click()
        area = page.get_by_role("textbox", name="One document per line")
        await area.fill("\n".join(session_lines(code)))
        await area.press("Control+Enter")
        await page.get_by_text(f"{LINES} documents · text column 'text'").wait_for()
        await page.get_by_role("button", name="Embed and map").click()
        await wait_or_error(page, POINTS, LINES)
        await page.locator('[data-testid="stSidebarNav"] a', has_text="Arithmetic").click()
        field = page.get_by_role("textbox", name="Expression")
        await field.fill(f'"{code} harbour ferry" + #1')
        await field.press("Enter")
        await wait_or_error(page, QUERY, code)
        await page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached")
        seconds = time.perf_counter() - started
        return SessionResult(
            code,
            seconds,
            corpus_texts=await page.evaluate(ALL_HOVER),
            hit_texts=await page.evaluate(HITS_HOVER),
            page_text=await page.locator('[data-testid="stMain"]').inner_text(),
        )
    except Exception:
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / f"load-{code}.png"))
        raise
    finally:
        await context.close()


async def watch_memory(pid: int, peak: list[float], stop: asyncio.Event) -> None:
    """Keep the highest VmRSS seen in `peak[0]` until `stop` is set."""
    while not stop.is_set():
        peak[0] = max(peak[0], status_mb(pid))
        await asyncio.sleep(SAMPLE_EVERY_S)


async def run_sessions(url: str, pid: int, peak: list[float]) -> list[SessionResult]:
    """All sessions at once in one Chromium, under one overall deadline."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        stop = asyncio.Event()
        watcher = asyncio.create_task(watch_memory(pid, peak, stop))
        try:
            sessions = [one_session(browser, url, code) for code in CODES[:SESSIONS]]
            return await asyncio.wait_for(asyncio.gather(*sessions), DEADLINE_S)
        finally:
            stop.set()
            await watcher
            await browser.close()


def in_own_thread(url: str, pid: int, peak: list[float]) -> list[SessionResult]:
    """asyncio Playwright in a fresh thread (the sync `browser` fixture owns this one's loop)."""
    outcome: dict[str, object] = {}

    def target() -> None:
        try:
            outcome["results"] = asyncio.run(run_sessions(url, pid, peak))
        except BaseException as error:  # handed to the test thread below
            outcome["error"] = error

    thread = threading.Thread(target=target, name="load-test")
    thread.start()
    thread.join(DEADLINE_S + 60)
    if thread.is_alive():
        raise TimeoutError(f"the load test did not finish within {DEADLINE_S + 60} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["results"]


@pytest.fixture(scope="module")
def quiet_server(browser) -> Iterator[tuple[str, int]]:
    """A server of its own that does not watch files: ten sessions importing pages at once while
    a watched file changes (another edit in this tree) see half-unloaded modules (KeyError).
    Its front page is opened once first (see `open_front_page`)."""
    ARTIFACTS.mkdir(exist_ok=True)
    url, process = start_server({"STREAMLIT_SERVER_FILE_WATCHER_TYPE": "none"})
    open_front_page(browser, url)
    yield url, process.pid
    process.terminate()
    process.wait(timeout=30)


def test_ten_concurrent_sessions_each_see_only_their_own_corpus(quiet_server):
    server_url, pid = quiet_server
    before = status_mb(pid)
    peak = [before]
    results = in_own_thread(server_url, pid, peak)
    after = status_mb(pid)

    assert [result.code for result in results] == CODES[:SESSIONS]
    for result in results:
        others = [code for code in CODES[:SESSIONS] if code != result.code]
        assert set(session_lines(result.code)) <= set(result.corpus_texts), result.code
        assert len(set(result.hit_texts)) >= 10  # the example query's chart may remain
        assert all(text.startswith(f"{result.code} note") for text in result.hit_texts)
        seen = " ".join([*result.corpus_texts, result.page_text])
        assert not [code for code in others if f"{code} note" in seen], result.code

    times = sorted(result.seconds for result in results)
    report = (
        f"sessions: {SESSIONS} concurrent (one Chromium, one context each), {LINES} documents "
        "each, embed + map + one arithmetic query\n"
        f"slowest session: {times[-1]:.1f} s; fastest: {times[0]:.1f} s; "
        f"median: {times[len(times) // 2]:.1f} s\n"
        f"server memory (VmRSS): before {before:.0f} MB, peak during load {peak[0]:.0f} MB, "
        f"after {after:.0f} MB; lifetime peak (VmHWM) {status_mb(pid, 'VmHWM'):.0f} MB\n"
    )
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "load.txt").write_text(report, encoding="utf-8")
    print(f"\n{report}")
