"""A real `streamlit run app.py` on a free loopback port, driven by Debian Chromium (Playwright)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
BOOT_SECONDS = 120
# `expect(...)` waits this long for what a run draws (Playwright's 5 s is short on a busy CI core).
expect.set_options(timeout=60_000)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_healthy(url: str, process: subprocess.Popen, timeout: float = BOOT_SECONDS) -> None:
    """Poll /_stcore/health until it answers 200; fail if the server exits or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"streamlit did not become healthy within {timeout:.0f} s")


def start_server(
    extra_env: dict[str, str] | None = None, root: Path = ROOT
) -> tuple[str, subprocess.Popen]:
    """`streamlit run <root>/app.py` on a free port, healthy; its output goes to ARTIFACTS."""
    port = free_port()
    command = [
        sys.executable, "-m", "streamlit", "run", str(root / "app.py"),
        "--server.headless", "true", "--server.port", str(port),
        "--server.address", "127.0.0.1", "--client.showErrorDetails", "full",
    ]  # fmt: skip
    log = open(ARTIFACTS / f"server-{port}.log", "w")  # noqa: SIM115 - closed with the process
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "EMBEDSCOPE_WARM_UP": "1", **(extra_env or {})}
    process = subprocess.Popen(command, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    wait_healthy(url, process)
    return url, process


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    ARTIFACTS.mkdir(exist_ok=True)
    url, process = start_server()
    yield url
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    tab = context.new_page()
    tab.set_default_timeout(180_000)
    yield tab
    failed = getattr(request.node, "failed_call", False)
    if failed:
        ARTIFACTS.mkdir(exist_ok=True)
        tab.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call" and report.failed:
        item.failed_call = True
    return report


def wait_for_app(tab) -> None:
    """Wait until Streamlit has finished running the script and drawn at least one chart."""
    tab.wait_for_selector(".js-plotly-plot .main-svg")
    tab.wait_for_selector('[data-testid="stStatusWidget"]', state="detached")


def plotted_points(tab) -> list[int]:
    """Points per Plotly chart, counted from the rows in each trace's customdata."""
    return tab.evaluate(
        """() => [...document.querySelectorAll('.js-plotly-plot')].map(
            el => el.data.reduce((n, t) => n + (t.customdata ? t.customdata.length : 0), 0))"""
    )


def drag_lasso(tab, left: float, top: float, right: float, bottom: float) -> None:
    """Pick the lasso in the mode bar of the chart under (left, top) (maps open in pan mode, where
    a click selects a point), then draw along the rectangle's edges with the mouse, as users do."""
    tab.evaluate(
        """([x, y]) => {
            const plot = [...document.querySelectorAll('.js-plotly-plot')].find(el => {
                const box = el.getBoundingClientRect();
                return x >= box.left && x <= box.right && y >= box.top && y <= box.bottom;
            });
            plot.querySelector('.modebar-btn[data-title="Lasso Select"]').click();
        }""",
        [left + 2, top + 2],
    )
    tab.mouse.move(left, top)
    tab.mouse.down()
    for x, y in [(right, top), (right, bottom), (left, bottom), (left, top + 1)]:
        tab.mouse.move(x, y, steps=8)
    tab.mouse.up()


# --- shared by the load test and bench/load.py -------------------------------------------------

# Hover labels of every map point (line breaks undone: <br> → space).
ALL_HOVER = """() => [...document.querySelectorAll('.js-plotly-plot')].flatMap(el =>
    el._fullData.filter(t => t.customdata).flatMap(t => Array.from(t.hovertext || [])))
    .map(text => text.replaceAll('<br>', ' '))"""
# Hover labels of the ringed hits of an Arithmetic query.
HITS_HOVER = """() => [...document.querySelectorAll('.js-plotly-plot')].flatMap(el =>
    el._fullData.filter(t => /^top \\d+$/.test(t.name)).flatMap(t => Array.from(t.hovertext)))
    .map(text => text.replaceAll('<br>', ' '))"""
# True once some chart plots exactly `count` points.
POINTS = """count => [...document.querySelectorAll('.js-plotly-plot')].some(el => el._fullData &&
    el._fullData.reduce((n, t) => n + (t.customdata ? t.customdata.length : 0), 0) === count)"""
# True once a chart shows the query star whose label contains `code`.
QUERY = """code => [...document.querySelectorAll('.js-plotly-plot')].some(el => (el._fullData || [])
    .some(t => t.name === 'query' && t.hovertext[0].includes(code)))"""


def status_mb(pid: int, field: str = "VmRSS") -> float:
    """A memory figure of /proc/<pid>/status (VmRSS now, VmHWM the peak) in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise LookupError(f"{field} missing from /proc/{pid}/status")


def process_tree(pid: int) -> list[int]:
    """`pid` and all its descendants alive now (read from /proc/<pid>/task/*/children)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            try:
                todo.extend(int(child) for child in task.read_text().split())
            except OSError:
                continue
    return found


def tree_rss_mb(pid: int) -> float:
    """VmRSS of `pid` and its descendants together, in MB (processes that just ended count 0)."""
    total = 0.0
    for member in process_tree(pid):
        try:
            total += status_mb(member)
        except (OSError, LookupError):
            continue
    return total


ERROR_BOX = '[data-testid="stException"]'


async def wait_or_error(page, predicate: str, arg: object, polling_ms: int = 250) -> None:
    """Await the JS `predicate(arg)` (async Playwright page); an error box ends the wait at once,
    raising an AssertionError with its text instead of running into the timeout. Checked every
    `polling_ms`, not every animation frame: dozens of tabs polling per frame eat a core."""
    either = f"arg => ({predicate})(arg) || !!document.querySelector('{ERROR_BOX}')"
    await page.wait_for_function(either, arg=arg, polling=polling_ms)
    boxes = page.locator(ERROR_BOX)
    if await boxes.count():
        raise AssertionError(f"error box: {(await boxes.first.inner_text())[:300]}")


FRONT_PAGE_NAV = '[data-testid="stSidebarNav"] a'


def open_front_page(browser, url: str) -> None:
    """Open `url` once (sync Playwright) until the app's navigation shows.

    On a fresh server, until some run has gone through app.py's st.navigation, Streamlit serves
    pages/ as stand-alone pages: a first visit straight to /corpus runs pages/corpus.py without
    app.py (no sidebar, no session defaults) and, as that page never reads the session's source,
    it is never routed back through app.py (pages/state.py `_route_through_app`).
    """
    context = browser.new_context()
    try:
        context.new_page().goto(url)
        context.pages[0].wait_for_selector(FRONT_PAGE_NAV, timeout=BOOT_SECONDS * 1000)
    finally:
        context.close()
