"""A newcomer's first minutes: `streamlit run app.py` on an empty data folder, opened in Chromium.

    python bench/newcomer.py [--runs 1] [--n 10000] [--no-pipeline]

Each run starts the server as README command 1 does (`streamlit run app.py`, the server already
installed in .venv) with a fresh temporary EMBEDSCOPE_HOME (numba's cache inside it, so nothing
compiled earlier on this machine helps), opens `/` in headless Chromium and times, from the
moment the page is opened: the page title (the Map page's heading), the first map
(`.js-plotly-plot`), and, from the server's start, the warm-up's "embedscope: warm in" line in
the server's log (lib/service/warmup.py). Then the server is stopped and started again on the
same data folder: the second start. Last, the bare-process and warmed-server click rows of
bench/pipeline.py on `--n` generated documents, beside naive, in the same run.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.pipeline import DEFAULT_N, click_rows, load_note, versions  # noqa: E402
from tests.browser.conftest import wait_healthy  # noqa: E402  (one health poll for all)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
TITLE = "h1"
MAP = ".js-plotly-plot"
WARM_LINE = re.compile(r"embedscope: warm in ([0-9.]+) s(.*)")
HEALTH_TIMEOUT_S = 180
PAGE_TIMEOUT_S = 300
WARM_TIMEOUT_S = 900
TARGETS = {"first map s": 6.0, "warm s": 20.0, "second warm s": 10.0}
TODAY = {  # issue 15's table, measured before this work
    "title s": "4.0",
    "first map s": "92.7 (fresh venv); 42.5-42.8 (numba cache filled)",
    "warm s": "92.4 (6.3 model + 86.1 numba), from the first view",
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(home: Path, log_path: Path) -> tuple[subprocess.Popen, str, float]:
    """README command 1 on a free loopback port; returns the process, its URL and start time."""
    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "EMBEDSCOPE_HOME": str(home),
           "NUMBA_CACHE_DIR": str(home / "numba")}  # fmt: skip
    env.pop("EMBEDSCOPE_WARM_UP", None)
    streamlit = Path(sys.executable).parent / "streamlit"
    command = [
        str(streamlit), "run", "app.py", "--server.headless", "true", "--server.port", str(port),
        "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    started = time.perf_counter()
    with log_path.open("w", encoding="utf-8") as log:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    return server, f"http://127.0.0.1:{port}", started


def open_page(url: str, shot: Path) -> dict[str, float]:
    """Seconds from opening `/` to the page title and to the first map, in headless Chromium."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(PAGE_TIMEOUT_S * 1000)
        opened = time.perf_counter()
        page.goto(f"{url}/")
        page.wait_for_selector(TITLE, state="visible")
        title = time.perf_counter() - opened
        page.wait_for_selector(MAP, state="visible")
        first_map = time.perf_counter() - opened
        page.screenshot(path=str(shot))
        browser.close()
    return {"title s": title, "first map s": first_map}


def wait_warm(log_path: Path, started: float, timeout: float) -> dict[str, float | str]:
    """Seconds from the server's start to the warm-up's log line, and the line's own figures."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = WARM_LINE.search(log_path.read_text(encoding="utf-8", errors="replace"))
        if found:
            return {"warm s": time.perf_counter() - started, "warm-up thread s":
                    float(found.group(1)), "warm-up steps": found.group(2).strip()}  # fmt: skip
        time.sleep(0.2)
    return {"warm s": float("nan"), "warm-up steps": "no 'embedscope: warm' line in the log"}


WARM_ALONE = (
    "import time; t = time.perf_counter(); from lib.service.warmup import start_warm_up; "
    "start_warm_up().join(); print(f'process {time.perf_counter() - t:.1f} s')"
)


def warm_up_alone(home: Path) -> dict[str, float | str]:
    """lib.service.warmup in a new process on `home` (what the server runs once the app calls it):
    seconds from the process start to its 'embedscope: warm' line."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "EMBEDSCOPE_HOME": str(home),
           "NUMBA_CACHE_DIR": str(home / "numba")}  # fmt: skip
    env.pop("EMBEDSCOPE_WARM_UP", None)
    started = time.perf_counter()
    try:
        done = subprocess.run(
            [sys.executable, "-c", WARM_ALONE], cwd=ROOT, env=env, capture_output=True,
            text=True, timeout=WARM_TIMEOUT_S, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return {"warm s": float("nan"), "warm-up steps": f"not warm after {WARM_TIMEOUT_S} s"}
    found = WARM_LINE.search(done.stdout + done.stderr)
    if found is None:
        return {"warm s": float("nan"), "warm-up steps": (done.stderr or "no output")[-300:]}
    return {"warm s": time.perf_counter() - started, "warm-up steps": found.group(2).strip()}


def warm_up_runs(runs: int) -> str:
    """The warm-up alone, `runs` times: a fresh data folder, then a second start on it."""
    firsts, seconds, steps = [], [], []
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="embedscope-warm-") as tmp:
            first, second = warm_up_alone(Path(tmp)), warm_up_alone(Path(tmp))
        firsts.append(first["warm s"])
        seconds.append(second["warm s"])
        steps += [f"fresh: {first['warm-up steps']}", f"second: {second['warm-up steps']}"]
        print(f"  warm-up alone: {firsts[-1]:.1f} s, second {seconds[-1]:.1f} s", file=sys.stderr)
    return "\n".join([
        f"warm-up alone (new process, lib.service.warmup): fresh data folder median "
        f"{median(firsts):.1f} s (runs {', '.join(f'{v:.1f}' for v in firsts)}) target "
        f"{TARGETS['warm s']:g}; second start median {median(seconds):.1f} s (runs "
        f"{', '.join(f'{v:.1f}' for v in seconds)}) target {TARGETS['second warm s']:g}; "
        f"today {TODAY['warm s']}",
        *(f"  {line}" for line in steps),
    ])  # fmt: skip


def one_start(home: Path, work: Path, label: str, warm_timeout: float) -> dict:
    """Start the server on `home`, open the page, wait for the warm line, stop the server."""
    log_path = work / f"server-{label}.log"
    server, url, started = start_server(home, log_path)
    try:
        wait_healthy(url, server)
        healthy = time.perf_counter() - started
        found = {"healthy s": healthy, **open_page(url, work / f"page-{label}.png")}
        found.update(wait_warm(log_path, started, warm_timeout))
    finally:
        server.terminate()
        server.wait(timeout=60)
    print(f"  {label}: {found}", file=sys.stderr, flush=True)
    return found


def newcomer_runs(runs: int, keep: Path | None, warm_timeout: float) -> list[tuple[dict, dict]]:
    """`runs` times: a fresh data folder, first start, then a second start on it."""
    found = []
    for run in range(runs):
        work = Path(tempfile.mkdtemp(prefix="embedscope-newcomer-"))
        home = work / "home"
        first = one_start(home, work, f"{run}-first", warm_timeout)
        second = one_start(home, work, f"{run}-second", warm_timeout)
        found.append((first, second))
        if keep is not None:
            shutil.copytree(work, keep / f"run-{run}", dirs_exist_ok=True)
        shutil.rmtree(work, ignore_errors=True)
    return found


def median(values: list[float]) -> float:
    return statistics.median(values)


def report(found: list[tuple[dict, dict]]) -> str:
    """Medians over runs (and every run), beside issue 15's figures and targets."""
    rows = []
    for key in ("title s", "first map s", "warm s"):
        firsts = [first[key] for first, _ in found]
        seconds = [second[key] for _, second in found]
        target = TARGETS.get(key)
        second_target = TARGETS.get(f"second {key}", target)
        rows.append(
            f"{key:<12} first start: median {median(firsts):6.1f} (runs "
            f"{', '.join(f'{v:.1f}' for v in firsts)}) target {target or '—'}; second start: "
            f"median {median(seconds):6.1f} (runs {', '.join(f'{v:.1f}' for v in seconds)}) "
            f"target {second_target or '—'}; today {TODAY.get(key, '—')}"
        )
    for label, index in (("first", 0), ("second", 1)):
        for run, pair in enumerate(found):
            rows.append(f"warm-up steps, {label} start, run {run}: {pair[index]['warm-up steps']}")
    return "\n".join(rows)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1, help="fresh-folder runs (default 1)")
    parser.add_argument("--n", type=int, default=DEFAULT_N, help="documents of the click rows")
    parser.add_argument("--no-pipeline", action="store_true", help="skip the click rows")
    parser.add_argument("--warm-timeout", type=float, default=WARM_TIMEOUT_S,
                        help="seconds to wait for the server's warm line")  # fmt: skip
    parser.add_argument("--keep", type=Path, help="copy logs and screenshots to this folder")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error(f"--runs must be at least 1; got {args.runs}")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    libraries = ", ".join(f"{name} {version}" for name, version in versions().items())
    print(
        f"embedscope newcomer benchmark — {datetime.now():%Y-%m-%d %H:%M}, {platform.system()} "
        f"{platform.machine()}, {os.cpu_count()} cores; {load_note('at start')}\n"
        f"libraries: {libraries}\n"
        "each start: streamlit run app.py (fresh EMBEDSCOPE_HOME with its numba cache), "
        "headless Chromium opens /; seconds from page open to the title (h1) and first map "
        "(.js-plotly-plot); warm = server start to the 'embedscope: warm in' log line",
        flush=True,
    )
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
    print(report(newcomer_runs(args.runs, args.keep, args.warm_timeout)), flush=True)
    print(warm_up_runs(args.runs), flush=True)
    if not args.no_pipeline:
        print(f"\nclick -> full map on {args.n:,} generated documents (bench/pipeline.py):")
        print(click_rows(args.n), flush=True)
    print(load_note("at the end"))


if __name__ == "__main__":
    main()
