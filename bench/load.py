"""Many visitors: concurrent Chromium sessions on one `streamlit run app.py` server.

Each session (one browser context of one headless Chromium) walks a visitor's journey:

1. open     the Corpus page;
2. upload   its own CSV ("Upload a file"): `--docs` generated sentences, every one starting with
            the session's marker word (visitor000, visitor001, …);
3. map      "Embed and map", until the Map page plots exactly `--docs` points;
4. query    an expression on the Arithmetic page, until the query star and its hits are drawn;
5. share    the share link of a project saved before the sessions start (`precompute`), until
            its map plots exactly `--project-docs` points.

Checks: no step shows an error box (`stException`) or times out, point counts are right, and no
session ever sees a marker word but its own (map hover labels, hits and the page's text; the shared
project must show none). Reports seconds per step (p50/p95/max), the server's peak memory (VmRSS of
the server and its children sampled every 0.5 s, and the kernel's VmHWM of the server), errors,
parameters and library versions. A benchmark, not a test: it exits 1 when any check fails.

    .venv/bin/python bench/load.py            # 30 sessions × 500 documents: 10–20 min on 2 cores
    .venv/bin/python bench/load.py --quick    # 5 sessions × 100 documents
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from importlib import metadata
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# numba's compiled UMAP kept between runs (the warm-up journey is untimed, but faster with it)
os.environ.setdefault("NUMBA_CACHE_DIR", str(ROOT / "test-artifacts" / "numba-cache"))

from bench.corpus_gen import generate_corpus  # noqa: E402
from lib.batch.precompute import precompute, share_path  # noqa: E402
from lib.errors import check_int  # noqa: E402
from lib.reduce.layouts import UMAPParams  # noqa: E402
from tests.browser.conftest import (  # noqa: E402
    ALL_HOVER,
    ARTIFACTS,
    BOOT_SECONDS,
    CHROMIUM,
    CHROMIUM_ARGS,
    ERROR_BOX,
    FRONT_PAGE_NAV,
    HITS_HOVER,
    POINTS,
    QUERY,
    start_server,
    status_mb,
    tree_rss_mb,
    wait_or_error,
)

STEPS = ("open", "upload", "map", "query", "share")
MARKER = re.compile(r"visitor\d{3}")
PROJECT_MARKER = "sharedproject"
PROJECT_SEED = 10_000  # far from the sessions' seeds (0, 1, 2, …)
WARM_DOCS = 20  # the untimed first visit that loads the model and compiles UMAP
SAMPLE_EVERY_S = 0.5
STATUS = '[data-testid="stStatusWidget"]'
LIBRARIES = ("streamlit", "playwright", "torch", "sentence-transformers", "umap-learn", "plotly")


@dataclass(frozen=True)
class LoadParams:
    """How many sessions, how big their corpora and the saved project, how long a step may take."""

    sessions: int = 30
    docs: int = 500
    project_docs: int = 200
    step_timeout_s: int = 1_200
    deadline_s: int = 3_600

    def __post_init__(self) -> None:
        check_int("LoadParams", "sessions", self.sessions, 1, 999)
        check_int("LoadParams", "docs", self.docs, 10, 5_000)
        check_int("LoadParams", "project_docs", self.project_docs, 10, 5_000)
        check_int("LoadParams", "step_timeout_s", self.step_timeout_s, 10)
        check_int("LoadParams", "deadline_s", self.deadline_s, 10)


@dataclass
class Journey:
    """A session's outcome: seconds per finished step, its first error, markers it saw wrongly."""

    marker: str
    seconds: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    leaks: set[str] = field(default_factory=set)

    @property
    def ok(self) -> bool:
        return self.error is None and not self.leaks and len(self.seconds) == len(STEPS)


class JourneyError(Exception):
    """A step ended in an error box, a wrong point count or a missing marker."""


def marker(index: int) -> str:
    return f"visitor{index:03d}"


def corpus_csv(prefix: str, docs: int, seed: int) -> bytes:
    """`docs` generated sentences (with their topic column), each starting with `prefix`."""
    frame = generate_corpus(docs, seed=seed)
    frame["text"] = [f"{prefix}: {text}" for text in frame["text"]]
    return frame.to_csv(index=False).encode()


def save_project(home: Path, docs: int) -> str:
    """Precompute and save the shared project (UMAP map) into `home`; return its id."""
    path = home / "shared-project.csv"
    path.write_bytes(corpus_csv(PROJECT_MARKER, docs, PROJECT_SEED))
    project = precompute(path, title="Load test project", text_column="text",
                         layout=UMAPParams(), home=home)  # fmt: skip
    return project.id


def foreign_markers(texts: list[str], own: str | None) -> set[str]:
    """Marker words in `texts` other than `own`."""
    return {found for text in texts for found in MARKER.findall(text)} - {own}


@contextmanager
def step(journey: Journey, name: str) -> Iterator[None]:
    started = time.perf_counter()
    yield
    journey.seconds[name] = time.perf_counter() - started
    print(f"{journey.marker} {name}: {journey.seconds[name]:.1f} s", file=sys.stderr, flush=True)


async def settled(page) -> None:
    """Wait until the script run is over, then fail on any error box."""
    await page.wait_for_selector(STATUS, state="detached")
    boxes = page.locator(ERROR_BOX)
    if await boxes.count():
        raise JourneyError(f"error box: {(await boxes.first.inner_text())[:300]}")


async def visible_texts(page) -> list[str]:
    """Hover labels of every plotted point, and the main area's text."""
    hovers = await page.evaluate(ALL_HOVER)
    return [*hovers, await page.locator('[data-testid="stMain"]').inner_text()]


async def upload_and_map(page, url: str, journey: Journey, csv: bytes, docs: int) -> None:
    """Steps open, upload and map: the session's own corpus on the Map page, no other marker."""
    with step(journey, "open"):
        await page.goto(f"{url}/corpus")
        await page.get_by_text("Upload a file", exact=True).click()
    with step(journey, "upload"):
        await page.locator('input[type="file"]').set_input_files(
            {"name": f"{journey.marker}.csv", "mimeType": "text/csv", "buffer": csv}
        )
        await page.get_by_text(f"{docs:,} documents · text column 'text'").wait_for()
        await settled(page)
    with step(journey, "map"):
        await page.get_by_role("button", name="Embed and map").click()
        await wait_or_error(page, POINTS, docs)
        await settled(page)
    hovers = await page.evaluate(ALL_HOVER)
    if not any(text.startswith(journey.marker) for text in hovers):
        raise JourneyError("the map shows none of this session's documents")
    journey.leaks |= foreign_markers(await visible_texts(page), journey.marker)


async def query(page, journey: Journey) -> None:
    """Step query: an expression mixing free text and a document; its hits must be the session's."""
    with step(journey, "query"):
        await page.locator(FRONT_PAGE_NAV, has_text="Arithmetic").click()
        box = page.get_by_role("textbox", name="Expression")
        await box.fill(f'"{journey.marker} rocket launch" + #1')
        await box.press("Enter")
        await wait_or_error(page, QUERY, journey.marker)
        await settled(page)
    hits = await page.evaluate(HITS_HOVER)
    if not hits or not all(text.startswith(journey.marker) for text in hits):
        raise JourneyError(f"query hits are not this session's documents: {hits[:3]}")
    journey.leaks |= foreign_markers([*hits, *await visible_texts(page)], journey.marker)


async def open_share_link(page, url: str, link: str, journey: Journey, docs: int) -> None:
    """Step share: the saved project's link; its map, and none of any session's documents."""
    with step(journey, "share"):
        await page.goto(f"{url}{link}")
        await wait_or_error(page, POINTS, docs)
        await settled(page)
    texts = await visible_texts(page)
    if not any(text.startswith(PROJECT_MARKER) for text in texts):
        raise JourneyError("the shared project's map shows none of its documents")
    journey.leaks |= foreign_markers(texts, None)


async def one_journey(browser, url: str, link: str, journey: Journey, params: LoadParams) -> None:
    """One visitor's journey in its own browser context; the first failure ends it."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    page.set_default_timeout(params.step_timeout_s * 1000)
    try:
        csv = corpus_csv(journey.marker, params.docs, seed=int(journey.marker[-3:]))
        await upload_and_map(page, url, journey, csv, params.docs)
        await query(page, journey)
        await open_share_link(page, url, link, journey, params.project_docs)
    except Exception as error:  # a benchmark reports every failure and goes on
        journey.error = f"{type(error).__name__}: {str(error).splitlines()[0][:300]}"
        journey.error = f"step {unfinished(journey)}: {journey.error}"
        print(f"{journey.marker} failed: {journey.error}", file=sys.stderr, flush=True)
        await page.screenshot(path=str(ARTIFACTS / f"load-bench-{journey.marker}.png"))
    finally:
        await context.close()


def unfinished(journey: Journey) -> str:
    return next((name for name in STEPS if name not in journey.seconds), "after")


async def all_journeys(browser, url: str, link: str, params: LoadParams) -> list[Journey]:
    """Every session at once; those still going at `params.deadline_s` are stopped and say so."""
    journeys = [Journey(marker(i)) for i in range(params.sessions)]
    tasks = [asyncio.create_task(one_journey(browser, url, link, j, params)) for j in journeys]
    _, late = await asyncio.wait(tasks, timeout=params.deadline_s)
    for task in late:
        task.cancel()
    await asyncio.gather(*late, return_exceptions=True)
    for journey in journeys:
        if journey.error is None and unfinished(journey) != "after":
            journey.error = (
                f"step {unfinished(journey)}: unfinished at the {params.deadline_s} s deadline"
            )
    return journeys


async def watch_memory(pid: int, peak: list[float], stop: asyncio.Event) -> None:
    """Keep the highest VmRSS of the server and its children in `peak[0]` until `stop` is set."""
    while not stop.is_set():
        peak[0] = max(peak[0], tree_rss_mb(pid))
        await asyncio.sleep(SAMPLE_EVERY_S)


async def first_visit(browser, url: str) -> None:
    """The front page once, so that Streamlit routes direct links through app.py from now on
    (tests/browser/conftest.py `open_front_page` says why)."""
    context = await browser.new_context()
    try:
        page = await context.new_page()
        await page.goto(url)
        await page.wait_for_selector(FRONT_PAGE_NAV, timeout=BOOT_SECONDS * 1000)
    finally:
        await context.close()


async def drive(url: str, link: str, pid: int, params: LoadParams, facts: dict[str, str]):
    """One untimed warm-up journey, then all journeys at once in one Chromium, the server's
    memory sampled meanwhile; its figures go into `facts`."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            await first_visit(browser, url)
            warm = Journey(marker(params.sessions))
            await one_journey(browser, url, link, warm, replace(params, docs=WARM_DOCS))
            if not warm.ok:
                raise RuntimeError(f"the warm-up journey failed: {warm.error or warm.leaks}")
            facts["warm-up journey (not in the table)"] = (
                f"{sum(warm.seconds.values()):.1f} s, {WARM_DOCS} documents"
            )
            peak = [tree_rss_mb(pid)]
            before, stop, started = peak[0], asyncio.Event(), time.perf_counter()
            watcher = asyncio.create_task(watch_memory(pid, peak, stop))
            journeys = await all_journeys(browser, url, link, params)
            stop.set()
            await watcher
        finally:
            await browser.close()
    facts["wall time, all sessions"] = f"{time.perf_counter() - started:.1f} s"
    facts["server memory (VmRSS, server + children)"] = (
        f"after warm-up {before:.0f} MB, peak {peak[0]:.0f} MB, after {tree_rss_mb(pid):.0f} MB"
    )
    facts["server lifetime peak (VmHWM)"] = f"{status_mb(pid, 'VmHWM'):.0f} MB"
    return journeys


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "missing"
    return found


def step_rows(journeys: list[Journey]) -> list[str]:
    """One line per step and one for whole journeys: finished count, p50, p95, max seconds."""
    rows = [f"{'step':<10}{'done':>6}{'p50 s':>9}{'p95 s':>9}{'max s':>9}"]
    totals = [sum(j.seconds.values()) for j in journeys if len(j.seconds) == len(STEPS)]
    for name, values in [*((s, [j.seconds[s] for j in journeys if s in j.seconds]) for s in STEPS),
                         ("journey", totals)]:  # fmt: skip
        if not values:
            rows.append(f"{name:<10}{0:>6}{'-':>9}{'-':>9}{'-':>9}")
            continue
        p50, p95 = np.percentile(values, [50, 95])
        rows.append(f"{name:<10}{len(values):>6}{p50:>9.1f}{p95:>9.1f}{max(values):>9.1f}")
    return rows


def report(params: LoadParams, facts: dict[str, str], journeys: list[Journey]) -> str:
    """Parameters, versions and memory as `name: value` lines, then the step table and errors."""
    leaks = [f"{j.marker} saw {sorted(j.leaks)}" for j in journeys if j.leaks]
    errors = [f"{j.marker} {j.error}" for j in journeys if j.error]
    lines = [
        f"sessions: {params.sessions} concurrent (one Chromium, one context each)",
        f"documents per session: {params.docs} (CSV upload); shared project: "
        f"{params.project_docs} documents (UMAP, opened by its share link)",
        *(f"{name}: {value}" for name, value in facts.items()),
        *(f"{name}: {value}" for name, value in versions().items()),
        f"sessions OK: {sum(j.ok for j in journeys)}/{len(journeys)}",
        f"sessions that saw another's data: {len(leaks)}",
        "",
        *step_rows(journeys),
    ]
    if leaks or errors:
        lines += ["", "problems:", *leaks, *errors]
    return "\n".join(lines) + "\n"


def load_average() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


def snapshot(folder: Path) -> str:
    """Write the committed tree (HEAD) into `folder`; return its short commit id."""
    archive = subprocess.run(["git", "archive", "HEAD"], cwd=ROOT, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True)
    return commit.stdout.decode().strip()


def run(params: LoadParams, live_tree: bool) -> tuple[dict[str, str], list[Journey]]:
    """Save the project, start the server, drive the sessions, stop the server."""
    ARTIFACTS.mkdir(exist_ok=True)
    facts = {"machine": f"{os.cpu_count()} cores, load average at start {load_average()}"}
    with tempfile.TemporaryDirectory(prefix="embedscope-load-") as scratch:
        home, app = Path(scratch) / "home", Path(scratch) / "app"
        home.mkdir()
        app.mkdir()
        code = "working tree" if live_tree else f"commit {snapshot(app)} (a copy)"
        facts["server code"] = f"{code}, file watcher off"
        started = time.perf_counter()
        link = share_path(save_project(home, params.project_docs))
        facts["project saved in"] = f"{time.perf_counter() - started:.1f} s"
        url, server = start_server(
            {"EMBEDSCOPE_HOME": str(home), "STREAMLIT_SERVER_FILE_WATCHER_TYPE": "none"},
            root=ROOT if live_tree else app,
        )
        try:
            facts["server memory at start (VmRSS)"] = f"{tree_rss_mb(server.pid):.0f} MB"
            journeys = asyncio.run(drive(url, link, server.pid, params, facts))
            facts["load average at end"] = load_average()
        finally:
            server.terminate()
            server.wait(timeout=60)
    return facts, journeys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=LoadParams.sessions)
    parser.add_argument("--docs", type=int, default=LoadParams.docs, help="per session")
    parser.add_argument("--project-docs", type=int, default=LoadParams.project_docs)
    parser.add_argument("--step-timeout", type=int, default=LoadParams.step_timeout_s,
                        help="seconds one step may take")  # fmt: skip
    parser.add_argument("--deadline", type=int, default=LoadParams.deadline_s,
                        help="seconds for all sessions; later steps: unfinished")  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="5 sessions × 100 documents")
    parser.add_argument("--out", type=Path, help="also write the report to this file")
    parser.add_argument(
        "--live-tree",
        action="store_true",
        help="serve the working tree as it is (default: a copy of HEAD, safe from edits)",
    )
    args = parser.parse_args(argv)
    sessions, docs = (5, 100) if args.quick else (args.sessions, args.docs)
    params = LoadParams(sessions, docs, args.project_docs, args.step_timeout, args.deadline)
    facts, journeys = run(params, args.live_tree)
    text = report(params, facts, journeys)
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    return 0 if all(journey.ok for journey in journeys) else 1


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the server is stopped too
    sys.exit(main())
