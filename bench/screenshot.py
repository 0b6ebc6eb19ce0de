"""The README's picture, made from the real app: `streamlit run app.py` on a free loopback port and
headless Chromium at 1500×1400 on the Map page of the bundled `topics` sample.

    .venv/bin/python bench/screenshot.py               # writes docs/screenshot.png
    .venv/bin/python bench/screenshot.py --out x.png

Uses a fresh data folder, so what it shows is what a new user sees first.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from tests.browser.conftest import (  # noqa: E402
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    start_server,
    wait_for_app,
)

VIEWPORT = {"width": 1500, "height": 1400}  # tall enough for the whole map
MAP_TIMEOUT_MS = 120_000


def screenshot(out: Path) -> None:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as home:
        url, server = start_server({"EMBEDSCOPE_HOME": home, "EMBEDSCOPE_WARM_UP": "0"})
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                tab = browser.new_page(viewport=VIEWPORT)
                tab.goto(f"{url}/?sample=topics", timeout=MAP_TIMEOUT_MS)
                tab.wait_for_selector(".js-plotly-plot", timeout=MAP_TIMEOUT_MS)
                wait_for_app(tab)
                tab.wait_for_timeout(1_500)  # let Plotly finish drawing the WebGL points
                out.parent.mkdir(parents=True, exist_ok=True)
                tab.screenshot(path=str(out))
                browser.close()
        finally:
            server.terminate()
            server.wait(30)
    print(f"wrote {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshot.png")
    screenshot(parser.parse_args().out)


if __name__ == "__main__":
    main()
