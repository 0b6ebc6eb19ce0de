"""docs/hosting.md's nginx set-up, checked: the app under a prefix behind nginx, on loopback.

    python bench/proxy.py

Needs nginx (`apt-get install nginx-light`) and Chromium at /usr/bin/chromium. Starts
`streamlit run app.py --server.baseUrlPath=embedscope` (XSRF on, as in .streamlit/config.toml)
and nginx with the guide's proxy lines (plain HTTP on a loopback port, no TLS), then in headless
Chromium through nginx: the health endpoint, the first map (the websocket at
/embedscope/_stcore/stream must upgrade), and an upload on the Corpus page (a PUT to
/_stcore/upload_file carrying the XSRF token). Prints what passed; exits non-zero on a failure.
Never collected by pytest.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.newcomer import CHROMIUM, CHROMIUM_ARGS, MAP  # noqa: E402
from tests.browser.conftest import free_port, wait_healthy  # noqa: E402

PREFIX = "embedscope"
UPLOAD_ROWS = 40
TIMEOUT_MS = 300_000

NGINX_CONF = """
pid {work}/nginx.pid;
error_log {work}/error.log;
events {{}}
http {{
    access_log {work}/access.log;
    client_body_temp_path {work};
    proxy_temp_path {work};
    map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
    server {{
        listen 127.0.0.1:{proxy_port};
        client_max_body_size 200m;
        location /{prefix}/ {{
            proxy_pass http://127.0.0.1:{app_port}/{prefix}/;
            proxy_http_version 1.1;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_read_timeout 1d;
            proxy_buffering off;
        }}
    }}
}}
"""


def through_nginx(url: str, corpus: Path) -> None:
    """The map, then an upload, in Chromium through the proxy at `url`."""
    from playwright.sync_api import sync_playwright

    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=10) as reply:
        print(f"health through nginx: {reply.status} {reply.read().decode()}")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(TIMEOUT_MS)
        started = time.perf_counter()
        page.goto(f"{url}/")
        page.wait_for_selector(MAP, state="visible")
        print(f"first map through nginx under /{PREFIX}/: {time.perf_counter() - started:.1f} s")
        page.goto(f"{url}/corpus")
        page.get_by_text("Upload a file", exact=True).click()
        page.locator('input[type="file"]').set_input_files(str(corpus))
        page.get_by_text(f"{UPLOAD_ROWS} documents · text column 'text'").wait_for()
        cookies = sorted(cookie["name"] for cookie in page.context.cookies())
        print(f"upload through nginx with XSRF on: previewed {UPLOAD_ROWS} documents ({cookies})")
        browser.close()


def main() -> None:
    app_port, proxy_port = free_port(), free_port()
    with tempfile.TemporaryDirectory(prefix="embedscope-proxy-") as tmp:
        work = Path(tmp)
        conf = work / "nginx.conf"
        conf.write_text(NGINX_CONF.format(work=work, proxy_port=proxy_port, app_port=app_port,
                                          prefix=PREFIX))  # fmt: skip
        lines = (ROOT / "data/topics.csv").read_text(encoding="utf-8").splitlines()
        corpus = work / "forty.csv"
        corpus.write_text("\n".join(lines[: UPLOAD_ROWS + 1]) + "\n", encoding="utf-8")
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "EMBEDSCOPE_WARM_UP": "0",
               "EMBEDSCOPE_HOME": str(work / "home")}  # fmt: skip
        server = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
             "--server.port", str(app_port), "--server.address", "127.0.0.1",
             "--server.baseUrlPath", PREFIX],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        proxy = subprocess.Popen(["nginx", "-c", str(conf), "-g", "daemon off;"],
                                 start_new_session=True)  # fmt: skip
        try:
            wait_healthy(f"http://127.0.0.1:{app_port}/{PREFIX}", server)
            through_nginx(f"http://127.0.0.1:{proxy_port}/{PREFIX}", corpus)
            log = (work / "access.log").read_text()
            statuses = {line.split('"')[2].split()[0] for line in log.splitlines()
                        if "_stcore/stream" in line}  # fmt: skip
            print(f"websocket requests in nginx's log answered {sorted(statuses)} (101: upgraded)")
        finally:
            for process in (server, proxy):
                os.killpg(process.pid, 15)
                process.wait(30)


if __name__ == "__main__":
    main()
