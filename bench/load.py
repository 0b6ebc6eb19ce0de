"""Many visitors: concurrent Chromium sessions on one `streamlit run app.py` server.

Three scenarios (`--scenario`), each timed on both sides: in the browser (navigation or click until
the plot is drawn) and on the server, from its own timing log (EMBEDSCOPE_TIMING_LOG=1:
`lib.service.timing`; a session's first script run until the Map page handed over its figure, and
every script run's length). The browsers run at the lowest CPU priority (`nice -n 19`), so the
server's figures are the server's.

hosted   a hosted server (EMBEDSCOPE_HOSTED=1) with a precomputed project; `--sessions` visitors
         open its share link at once. Step: first (navigation until its map is drawn).
         Target (quiet machine, 30 visitors): p95 time to first map <= 10 s.
busy     a server without hosting; one session uploads `--big-docs` documents (10,000) and embeds
         them; meanwhile `--sessions` others (10) open the sample's map and switch pages
         (`--rounds` times Corpus, then Map). Target: p95 page run (server) <= 3 s.
uploads  (the default) the journey below for `--sessions` uploaders at once. Target (30 × 500):
         every session gets its map, in queue order (the order of their clicks on "Embed and
         map"), the first within a minute of the first click, server memory < 2.5 GB.

The uploads journey, each session in a browser context of its own:

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
    .venv/bin/python bench/load.py --scenario hosted --sessions 30
    .venv/bin/python bench/load.py --scenario busy --sessions 10 --big-docs 10000
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
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
from lib.errors import check_choice, check_int  # noqa: E402
from lib.reduce.layouts import UMAPParams  # noqa: E402
from lib.service.timing import TIMING_ENV, TimingEvent, parse_timing  # noqa: E402
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

SCENARIOS = ("uploads", "hosted", "busy")
STEPS = {  # browser-side steps per scenario, in journey order
    "uploads": ("open", "upload", "map", "query", "share"),
    "hosted": ("first map",),
    "busy": ("open map", "corpus", "map"),
}
MARKER = re.compile(r"visitor\d{3}")
PROJECT_MARKER = "sharedproject"
PROJECT_SEED = 10_000  # far from the sessions' seeds (0, 1, 2, …)
SAMPLE_POINTS = 800  # the bundled sample "topics", which a new session shows
WARM_DOCS = 20  # the untimed first visit that loads the model and compiles UMAP
SAMPLE_EVERY_S = 0.5
STATUS = '[data-testid="stStatusWidget"]'
LIBRARIES = ("streamlit", "playwright", "torch", "sentence-transformers", "umap-learn", "plotly")
NICE_CHROMIUM = '#!/bin/sh\nexec nice -n 19 {chromium} "$@"\n'
TARGETS = {  # what a quiet full run must show (bench/README.md)
    "hosted": "30 visitors: p95 first map <= 10 s (server and browser)",
    "busy": "10 sessions beside a 10,000-document embedding: p95 page run (server) <= 3 s",
    "uploads": "30 × 500: every map, in queue order, the first within 60 s, memory < 2,500 MB",
}


@dataclass(frozen=True)
class LoadParams:
    """Which scenario; how many sessions, how big their corpora and the saved project, how long a
    step may take; for `busy`, the embedding session's corpus and the page switches per session."""

    sessions: int = 30
    docs: int = 500
    project_docs: int = 200
    step_timeout_s: int = 1_200
    deadline_s: int = 3_600
    scenario: str = "uploads"
    big_docs: int = 10_000
    rounds: int = 3

    def __post_init__(self) -> None:
        check_int("LoadParams", "sessions", self.sessions, 1, 999)
        check_int("LoadParams", "docs", self.docs, 10, 5_000)
        check_int("LoadParams", "project_docs", self.project_docs, 10, 5_000)
        check_int("LoadParams", "step_timeout_s", self.step_timeout_s, 10)
        check_int("LoadParams", "deadline_s", self.deadline_s, 10)
        check_choice("LoadParams", "scenario", self.scenario, SCENARIOS)
        check_int("LoadParams", "big_docs", self.big_docs, 10, 50_000)
        check_int("LoadParams", "rounds", self.rounds, 1, 100)

    @property
    def steps(self) -> tuple[str, ...]:
        return STEPS[self.scenario]


@dataclass
class Journey:
    """A session's outcome: seconds per finished step (a step done again is timed again), its
    first error, markers it saw wrongly, and moments (epoch seconds) of note."""

    marker: str
    steps: tuple[str, ...]
    seconds: dict[str, list[float]] = field(default_factory=dict)
    error: str | None = None
    leaks: set[str] = field(default_factory=set)
    moments: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None and not self.leaks and all(s in self.seconds for s in self.steps)

    @property
    def total(self) -> float:
        return sum(sum(values) for values in self.seconds.values())


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
    seconds = time.perf_counter() - started
    journey.seconds.setdefault(name, []).append(seconds)
    print(f"{journey.marker} {name}: {seconds:.1f} s", file=sys.stderr, flush=True)


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


async def upload(page, url: str, journey: Journey, csv: bytes, docs: int) -> None:
    """Steps open and upload: the session's own CSV read on the Corpus page."""
    with step(journey, "open"):
        await page.goto(f"{url}/corpus")
        await page.get_by_text("Upload a file", exact=True).click()
    with step(journey, "upload"):
        await page.locator('input[type="file"]').set_input_files(
            {"name": f"{journey.marker}.csv", "mimeType": "text/csv", "buffer": csv}
        )
        await page.get_by_text(f"{docs:,} documents · text column 'text'").wait_for()
        await settled(page)


async def upload_and_map(page, url: str, journey: Journey, csv: bytes, docs: int) -> None:
    """Steps open, upload and map: the session's own corpus on the Map page, no other marker.
    The moments of the click on "Embed and map" (its place in the queue) and of its map drawn
    are kept."""
    await upload(page, url, journey, csv, docs)
    with step(journey, "map"):
        journey.moments["queued"] = time.time()
        await page.get_by_role("button", name="Embed and map").click()
        await wait_or_error(page, POINTS, docs)
        journey.moments["mapped"] = time.time()
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


async def open_share_link(page, url: str, link: str, journey: Journey, docs: int,
                          name: str = "share") -> None:  # fmt: skip
    """Step `name`: the saved project's link; its map, and none of any session's documents."""
    with step(journey, name):
        await page.goto(f"{url}{link}")
        await wait_or_error(page, POINTS, docs)
        await settled(page)
    texts = await visible_texts(page)
    if not any(text.startswith(PROJECT_MARKER) for text in texts):
        raise JourneyError("the shared project's map shows none of its documents")
    journey.leaks |= foreign_markers(texts, None)


async def browse_sample(page, url: str, journey: Journey, rounds: int) -> None:
    """Steps of `busy`: the sample's map on a new session, then Corpus and Map `rounds` times;
    no visitor's documents anywhere."""
    with step(journey, "open map"):
        await page.goto(url)
        await wait_or_error(page, POINTS, SAMPLE_POINTS)
        await settled(page)
    for _ in range(rounds):
        with step(journey, "corpus"):
            await page.locator(FRONT_PAGE_NAV, has_text="Corpus").click()
            await page.get_by_text("Upload a file", exact=True).wait_for()
            await settled(page)
        with step(journey, "map"):
            await page.locator(FRONT_PAGE_NAV, has_text="Map").click()
            await wait_or_error(page, POINTS, SAMPLE_POINTS)
            await settled(page)
        journey.leaks |= foreign_markers(await visible_texts(page), None)


@dataclass(frozen=True)
class Target:
    """Where the sessions go: the server's address, the saved project's link, the parameters."""

    url: str
    link: str
    params: LoadParams


async def one_journey(browser, target: Target, journey: Journey) -> None:
    """One visitor's journey of the scenario in its own browser context; the first failure ends
    it."""
    params = target.params
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    page.set_default_timeout(params.step_timeout_s * 1000)
    try:
        if params.scenario == "hosted":
            await open_share_link(page, target.url, target.link, journey, params.project_docs,
                                  name="first map")  # fmt: skip
        elif params.scenario == "busy":
            await browse_sample(page, target.url, journey, params.rounds)
        else:
            csv = corpus_csv(journey.marker, params.docs, seed=int(journey.marker[-3:]))
            await upload_and_map(page, target.url, journey, csv, params.docs)
            await query(page, journey)
            await open_share_link(page, target.url, target.link, journey, params.project_docs)
    except Exception as error:  # a benchmark reports every failure and goes on
        await failed(page, journey, error)
    finally:
        await context.close()


async def failed(page, journey: Journey, error: Exception) -> None:
    """Record the journey's first failure, and a screenshot of it."""
    journey.error = f"{type(error).__name__}: {str(error).splitlines()[0][:300]}"
    journey.error = f"step {unfinished(journey)}: {journey.error}"
    print(f"{journey.marker} failed: {journey.error}", file=sys.stderr, flush=True)
    with contextlib.suppress(Exception):
        await page.screenshot(path=str(ARTIFACTS / f"load-bench-{journey.marker}.png"))


def unfinished(journey: Journey) -> str:
    return next((name for name in journey.steps if name not in journey.seconds), "after")


async def all_journeys(browser, target: Target, journeys: list[Journey]) -> list[Journey]:
    """Every journey at once; those still going at the deadline are stopped and say so."""
    deadline = target.params.deadline_s
    tasks = [asyncio.create_task(one_journey(browser, target, j)) for j in journeys]
    _, late = await asyncio.wait(tasks, timeout=deadline)
    for task in late:
        task.cancel()
    await asyncio.gather(*late, return_exceptions=True)
    for journey in journeys:
        if journey.error is None and unfinished(journey) != "after":
            journey.error = f"step {unfinished(journey)}: unfinished at the {deadline} s deadline"
    return journeys


async def big_embedding(browser, target: Target, journey: Journey, log: Path):
    """`busy`'s heavy session: upload `big_docs` documents and press "Embed and map"; returns
    once the embedding has started: its page, and the server's session ids this session added."""
    params = target.params
    before = {event.session for event in read_timing(log)}
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    page.set_default_timeout(params.step_timeout_s * 1000)
    csv = corpus_csv(journey.marker, params.big_docs, seed=int(journey.marker[-3:]))
    await upload(page, target.url, journey, csv, params.big_docs)
    journey.moments["queued"] = time.time()
    await page.get_by_role("button", name="Embed and map").click()
    await page.get_by_text(f"Embedding {params.big_docs:,} documents").first.wait_for()
    return page, {event.session for event in read_timing(log)} - before


async def finish_big_embedding(page, journey: Journey, docs: int, seconds: float) -> None:
    """Wait (at most `seconds` after its click) for the heavy session's map: its step "map"."""

    async def mapped() -> None:
        await wait_or_error(page, POINTS, docs, polling_ms=1000)
        await settled(page)

    try:
        left = max(1.0, seconds - (time.time() - journey.moments["queued"]))
        await asyncio.wait_for(mapped(), timeout=left)
        journey.seconds["map"] = [time.time() - journey.moments["queued"]]
    except Exception as error:  # reported with the rest
        await failed(page, journey, error)
    finally:
        await page.context.close()


def read_timing(log: Path) -> list[TimingEvent]:
    return parse_timing(log.read_text(errors="replace").splitlines()) if log.exists() else []


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


def niced_chromium(folder: Path) -> str:
    """A launcher that runs Chromium (and so all its processes) at the lowest CPU priority."""
    launcher = folder / "chromium-nice"
    launcher.write_text(NICE_CHROMIUM.format(chromium=CHROMIUM))
    launcher.chmod(0o755)
    return str(launcher)


async def warm_up(browser, target: Target, facts: dict[str, str]) -> None:
    """Untimed: the front page (routing); for uploads and busy, one small upload's journey too
    (the model loaded, UMAP compiled), and for busy one visit of the sample's map and pages. A
    hosted server serves saved maps and needs neither."""
    await first_visit(browser, target.url)
    if target.params.scenario == "hosted":
        facts["warm-up (not in the tables)"] = "the front page once"
        return
    warm_params = replace(target.params, scenario="uploads", docs=WARM_DOCS)
    warm = Journey(marker(999), STEPS["uploads"])
    await one_journey(browser, replace(target, params=warm_params), warm)
    if not warm.ok:
        raise RuntimeError(f"the warm-up journey failed: {warm.error or warm.leaks}")
    facts["warm-up journey (not in the tables)"] = f"{warm.total:.1f} s, {WARM_DOCS} documents"
    if target.params.scenario == "busy":  # the sample's map computed before the pages are timed
        sample = Journey(marker(998), STEPS["busy"])
        await one_journey(browser, replace(target, params=replace(target.params, rounds=1)), sample)
        if not sample.ok:
            raise RuntimeError(f"the sample's warm-up failed: {sample.error or sample.leaks}")
        facts["warm-up journey (not in the tables)"] += f"; the sample's map {sample.total:.1f} s"


async def measured(browser, target: Target, log: Path, facts: dict[str, str]):
    """The scenario's sessions; returns the journeys and the server sessions not to count as
    page sessions (busy's embedding session)."""
    params = target.params
    journeys = [Journey(marker(i), params.steps) for i in range(params.sessions)]
    if params.scenario != "busy":
        return await all_journeys(browser, target, journeys), set()
    heavy = Journey(marker(params.sessions), ("open", "upload", "map"))
    page, excluded = await big_embedding(browser, target, heavy, log)
    await all_journeys(browser, target, journeys)
    overlapped = not await page.evaluate(f"({POINTS})({params.big_docs})")
    facts["embedding still running when the page sessions ended"] = "yes" if overlapped else "no"
    await finish_big_embedding(page, heavy, params.big_docs, params.deadline_s)
    seconds = heavy.seconds.get("map", [float("nan")])[0]
    facts[f"embedding session ({params.big_docs:,} documents)"] = (
        f"click to map {seconds:.1f} s" if heavy.error is None else heavy.error
    )
    return [*journeys, heavy] if heavy.error else journeys, excluded


async def drive(target: Target, pid: int, log: Path, facts: dict[str, str], scratch: Path):
    """The untimed warm-up, then the scenario's sessions in one niced Chromium, the server's
    memory sampled meanwhile; its figures go into `facts`. Returns the journeys, the epoch when
    the measured sessions began and the server sessions to leave out."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=niced_chromium(scratch), args=CHROMIUM_ARGS
        )
        try:
            await warm_up(browser, target, facts)
            peak = [tree_rss_mb(pid)]
            before, stop, started = peak[0], asyncio.Event(), time.perf_counter()
            since = time.time()
            watcher = asyncio.create_task(watch_memory(pid, peak, stop))
            journeys, excluded = await measured(browser, target, log, facts)
            stop.set()
            await watcher
        finally:
            await browser.close()
    facts["wall time, all sessions"] = f"{time.perf_counter() - started:.1f} s"
    facts["server memory (VmRSS, server + children)"] = (
        f"after warm-up {before:.0f} MB, peak {peak[0]:.0f} MB, after {tree_rss_mb(pid):.0f} MB"
    )
    facts["server lifetime peak (VmHWM)"] = f"{status_mb(pid, 'VmHWM'):.0f} MB"
    return journeys, since, excluded


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "missing"
    return found


def table(title: str, rows: list[tuple[str, list[float]]]) -> list[str]:
    """`title`, then one line per row: how many values, p50, p95, max seconds."""
    lines = [title, f"{'step':<22}{'n':>6}{'p50 s':>9}{'p95 s':>9}{'max s':>9}"]
    for name, values in rows:
        if not values:
            lines.append(f"{name:<22}{0:>6}{'-':>9}{'-':>9}{'-':>9}")
            continue
        p50, p95 = np.percentile(values, [50, 95])
        lines.append(f"{name:<22}{len(values):>6}{p50:>9.1f}{p95:>9.1f}{max(values):>9.1f}")
    return lines


def browser_rows(journeys: list[Journey], steps: tuple[str, ...]) -> list[tuple[str, list[float]]]:
    """Per step, every time it was done; and whole journeys that finished every step."""
    rows = [(name, [v for j in journeys for v in j.seconds.get(name, [])]) for name in steps]
    if len(steps) > 1:
        rows.append(("journey", [j.total for j in journeys if unfinished(j) == "after"]))
    return rows


@dataclass(frozen=True)
class ServerSession:
    """One session's lines of the timing log: its script runs and figures, in order."""

    id: str
    runs: tuple[TimingEvent, ...]
    figures: tuple[TimingEvent, ...]

    @property
    def first_map(self) -> float | None:
        """Seconds from its first script run's start to its first figure handed over."""
        if not self.runs or not self.figures:
            return None
        return self.figures[0].at - self.runs[0].at


def server_sessions(events: list[TimingEvent], since: float, excluded: set[str]):
    """The sessions whose first run began at `since` or later, less `excluded`, by first run."""
    by_id: dict[str, list[TimingEvent]] = {}
    for event in events:
        by_id.setdefault(event.session, []).append(event)
    sessions = []
    for session, mine in by_id.items():
        runs = tuple(sorted((e for e in mine if e.event == "run"), key=lambda e: e.at))
        figures = tuple(sorted((e for e in mine if e.event == "figure"), key=lambda e: e.at))
        if session not in excluded and runs and runs[0].at >= since:
            sessions.append(ServerSession(session, runs, figures))
    return sorted(sessions, key=lambda s: s.runs[0].at)


def server_queue(sessions: list[ServerSession]) -> list[str]:
    """uploads, server side: the order of the runs that embedded (a Corpus page run that ended
    by switching to the Map page) against the order of the figures that followed them."""
    embeds = {}
    for session in sessions:
        run = next((r for r in session.runs if r.page == "corpus" and r.end == "rerun"), None)
        figure = next((f for f in session.figures if run and f.at >= run.at), None)
        if run is not None:
            embeds[session.id] = (run.at, figure.at if figure else None)
    queued = sorted(embeds, key=lambda s: embeds[s][0])
    mapped = sorted((s for s in embeds if embeds[s][1]), key=lambda s: embeds[s][1])
    swaps = out_of_order(queued, mapped)
    return [f"server side: {len(mapped)}/{len(embeds)} embedding runs reached a figure, "
            f"pairs out of queue order: {swaps}"]  # fmt: skip


def out_of_order(queued: list[str], arrived: list[str]) -> int:
    """Pairs that arrived in the opposite order to their queue order (among those that did)."""
    places = [arrived.index(name) for name in queued if name in arrived]
    return sum(a > b for i, a in enumerate(places) for b in places[i + 1 :])


def server_rows(sessions: list[ServerSession]) -> list[tuple[str, list[float]]]:
    """First run -> first figure per session; every run's length, all and per page."""
    runs = [run for session in sessions for run in session.runs]
    firsts = [s.first_map for s in sessions if s.first_map is not None]
    pages = sorted({run.page for run in runs})
    return [
        ("first run -> figure", firsts),
        ("page run (all)", [run.seconds for run in runs]),
        *((f"page run {page}", [r.seconds for r in runs if r.page == page]) for page in pages),
    ]


def queue_order(journeys: list[Journey]) -> list[str]:
    """uploads: the order maps arrived against the order of the clicks (the queue order)."""
    timed = [j for j in journeys if "queued" in j.moments]
    clicked = [j.marker for j in sorted(timed, key=lambda j: j.moments["queued"])]
    arrived = [j for j in timed if "mapped" in j.moments]
    mapped = [j.marker for j in sorted(arrived, key=lambda j: j.moments["mapped"])]
    swaps = out_of_order(clicked, mapped)
    first = min((j.moments["mapped"] for j in arrived), default=None)
    start = min((j.moments["queued"] for j in timed), default=None)
    lines = [
        f"queue order (clicks on Embed and map): {' '.join(m[-3:] for m in clicked)}",
        f"maps arrived in the order:            {' '.join(m[-3:] for m in mapped)}",
        f"browser side: maps {len(mapped)}/{len(journeys)}, pairs out of queue order: {swaps}",
    ]
    if first is not None and start is not None:
        lines.append(f"first map {first - start:.1f} s after the first click")
    return lines


def report(params: LoadParams, facts: dict[str, str], journeys: list[Journey],
           sessions: list[ServerSession]) -> str:  # fmt: skip
    """Parameters, versions and memory as `name: value` lines, then the step tables (browser and
    server side), the queue order (uploads) and errors."""
    leaks = [f"{j.marker} saw {sorted(j.leaks)}" for j in journeys if j.leaks]
    errors = [f"{j.marker} {j.error}" for j in journeys if j.error]
    steps = params.steps
    lines = [
        f"scenario: {params.scenario} (target of a quiet full run: {TARGETS[params.scenario]})",
        f"sessions: {params.sessions} concurrent (one niced Chromium, one context each)",
        *scenario_lines(params),
        *(f"{name}: {value}" for name, value in facts.items()),
        *(f"{name}: {value}" for name, value in versions().items()),
        f"sessions OK: {sum(j.ok for j in journeys)}/{len(journeys)}",
        f"sessions that saw another's data: {len(leaks)}",
        f"server sessions in the timing log: {len(sessions)}",
        "",
        *table("browser side (navigation or click until drawn)", browser_rows(journeys, steps)),
        "",
        *table("server side (its timing log)", server_rows(sessions)),
    ]
    if params.scenario == "uploads":
        lines += ["", *queue_order(journeys), *server_queue(sessions)]
    if leaks or errors:
        lines += ["", "problems:", *leaks, *errors]
    return "\n".join(lines) + "\n"


def scenario_lines(params: LoadParams) -> list[str]:
    if params.scenario == "hosted":
        return [f"hosted server; shared project: {params.project_docs} documents (UMAP)"]
    if params.scenario == "busy":
        return [f"one session embeds {params.big_docs:,} documents; the others open the "
                f"sample's map, then Corpus and Map {params.rounds} times"]  # fmt: skip
    return [
        f"documents per session: {params.docs} (CSV upload); shared project: "
        f"{params.project_docs} documents (UMAP, opened by its share link)"
    ]


def load_average() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


def snapshot(folder: Path) -> str:
    """Write the committed tree (HEAD) into `folder`; return its short commit id."""
    archive = subprocess.run(["git", "archive", "HEAD"], cwd=ROOT, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True)
    return commit.stdout.decode().strip()


def server_env(params: LoadParams, home: Path) -> dict[str, str]:
    env = {"EMBEDSCOPE_HOME": str(home), "STREAMLIT_SERVER_FILE_WATCHER_TYPE": "none",
           TIMING_ENV: "1"}  # fmt: skip
    if params.scenario == "hosted":
        env["EMBEDSCOPE_HOSTED"] = "1"
    return env


def run(params: LoadParams, live_tree: bool):
    """Save the project, start the server, drive the sessions, stop the server; read its log."""
    ARTIFACTS.mkdir(exist_ok=True)
    facts = {"machine": f"{os.cpu_count()} cores, load average at start {load_average()}"}
    with tempfile.TemporaryDirectory(prefix="embedscope-load-") as folder:
        scratch = Path(folder)
        home, app = scratch / "home", scratch / "app"
        home.mkdir()
        app.mkdir()
        code = "working tree" if live_tree else f"commit {snapshot(app)} (a copy)"
        facts["server code"] = f"{code}, file watcher off, timing log on"
        started = time.perf_counter()
        link = share_path(save_project(home, params.project_docs))
        facts["project saved in"] = f"{time.perf_counter() - started:.1f} s"
        url, server = start_server(server_env(params, home), root=ROOT if live_tree else app)
        log = ARTIFACTS / f"server-{url.rsplit(':', 1)[1]}.log"
        facts["server log"] = str(log.relative_to(ROOT))
        try:
            facts["server memory at start (VmRSS)"] = f"{tree_rss_mb(server.pid):.0f} MB"
            target = Target(url, link, params)
            journeys, since, excluded = asyncio.run(drive(target, server.pid, log, facts, scratch))
            facts["load average at end"] = load_average()
        finally:
            server.terminate()
            server.wait(timeout=60)
    return facts, journeys, server_sessions(read_timing(log), since, excluded)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", choices=SCENARIOS, default=LoadParams.scenario)
    parser.add_argument("--sessions", type=int, default=LoadParams.sessions)
    parser.add_argument("--docs", type=int, default=LoadParams.docs, help="per session")
    parser.add_argument("--project-docs", type=int, default=LoadParams.project_docs)
    parser.add_argument("--big-docs", type=int, default=LoadParams.big_docs,
                        help="busy: the embedding session's documents")  # fmt: skip
    parser.add_argument("--rounds", type=int, default=LoadParams.rounds,
                        help="busy: Corpus-then-Map switches per session")  # fmt: skip
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
    params = LoadParams(sessions, docs, args.project_docs, args.step_timeout, args.deadline,
                        args.scenario, args.big_docs, args.rounds)  # fmt: skip
    facts, journeys, sessions_seen = run(params, args.live_tree)
    text = report(params, facts, journeys, sessions_seen)
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    return 0 if all(journey.ok for journey in journeys) else 1


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the server is stopped too
    sys.exit(main())
