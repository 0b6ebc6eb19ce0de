"""The container image, built and checked here: size, build time, start to healthy, warm, first map.

    python bench/container.py [--rebuild-base] [--skip-build] [--keep]

Run as root on a Debian machine with podman and debootstrap (`apt-get install -y podman
debootstrap`), and Chromium at /usr/bin/chromium for Playwright. Steps:

1. Base image: no Python image can be pulled here, so `debootstrap --variant=minbase bookworm`
   with python3, python3-venv and ca-certificates, imported as localhost/embedscope-base
   (kept between runs; --rebuild-base makes it again).
2. `podman build --isolation=chroot` of the repository's Dockerfile with that base
   (BASE_IMAGE); pip's CA bundle and the local CPU-only torch wheel that this machine's pip
   set-up points at (find-links) go into docker/build-extra/ first. Timed; the image's size.
3. Running a container is refused here (setrlimit), so the image is checked the way a
   container would run it: `podman create` + `podman mount` give the image's writable root
   filesystem; /proc, /sys, /dev and an empty host folder as the /data volume are mounted into
   it, and the image's ENTRYPOINT runs under `chroot` as the image's USER (UID 1000) with the
   image's environment, on the host network, on a free port (PORT). Timed from that start: the
   health endpoint answers, the image's HEALTHCHECK passes inside the root, the first map shows
   in headless Chromium (opened as soon as the server is healthy), and the server logs
   "embedscope: warm in". The server's peak memory is the largest VmRSS of its process tree,
   sampled every 0.2 s until it is warm and a map has been opened.
4. A second start on the volume the first one left (what a restarted container finds).
5. Hosted: the same, on a new empty volume, with EMBEDSCOPE_HOSTED=1 and a mounted /corpora
   holding 300 documents of data/topics.csv: the entrypoint precomputes the project before
   the server starts; its map is opened by the share path the precompute printed.

Never collected by pytest (bench/ is outside testpaths).
"""

from __future__ import annotations

import argparse
import configparser
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.newcomer import CHROMIUM, CHROMIUM_ARGS, MAP, WARM_LINE  # noqa: E402
from tests.browser.conftest import free_port, tree_rss_mb, wait_healthy  # noqa: E402

BASE_IMAGE = "localhost/embedscope-base:bookworm"
IMAGE = "localhost/embedscope:bench"
BASE_PACKAGES = "python3,python3-venv,ca-certificates"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
EXTRA = ROOT / "docker" / "build-extra"
TORCH_WHEEL = "torch-2.13.0+cpu-cp311-*.whl"
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
HEALTH_TIMEOUT_S = 600
WARM_TIMEOUT_S = 900
PAGE_TIMEOUT_S = 300
SAMPLE_EVERY_S = 0.2
HOSTED_DOCS = 300
PROJECT_LINE = re.compile(r"^/\S*\?project=(\S+)$", re.MULTILINE)  # precompute's share path


def run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    """Run `command`, raising with its output when it fails."""
    done = subprocess.run(command, capture_output=True, text=True, check=False, **kwargs)
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-3000:]}"
        )
    return done


# --- 1. the base image ---------------------------------------------------------------------------


def base_image(work: Path, rebuild: bool) -> float | None:
    """Make BASE_IMAGE from a debootstrapped Debian unless it exists; returns seconds or None."""
    exists = subprocess.run(["podman", "image", "exists", BASE_IMAGE], check=False)
    if exists.returncode == 0 and not rebuild:
        return None
    started = time.perf_counter()
    rootfs = work / "rootfs"
    shutil.rmtree(rootfs, ignore_errors=True)
    run(["nice", "-n", "10", "debootstrap", "--variant=minbase", f"--include={BASE_PACKAGES}",
         "bookworm", str(rootfs), DEBIAN_MIRROR])  # fmt: skip
    for leftover in [
        *rootfs.glob("var/cache/apt/archives/*.deb"),
        *rootfs.glob("var/lib/apt/lists/*_*"),
    ]:
        leftover.unlink()  # downloaded packages and lists (apt-get update remakes them)
    tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
    run(["podman", "import", "--change", "CMD=/bin/bash", "-", BASE_IMAGE], stdin=tar.stdout)
    tar.wait()
    shutil.rmtree(rootfs, ignore_errors=True)
    return time.perf_counter() - started


# --- 2. the build --------------------------------------------------------------------------------


def local_torch_wheel() -> Path | None:
    """The CPU torch wheel this machine's pip set-up finds: PIP_FIND_LINKS or the find-links of
    pip's configuration files (here /etc/xdg/pip/pip.conf names /opt/wheels)."""
    folders = os.environ.get("PIP_FIND_LINKS", "").split()
    parser = configparser.ConfigParser()
    parser.read(["/etc/pip.conf", "/etc/xdg/pip/pip.conf", Path.home() / ".config/pip/pip.conf"])
    for section in parser.sections():
        folders += parser[section].get("find-links", "").split()
    for folder in folders:
        found = sorted(Path(folder.removeprefix("file://")).glob(TORCH_WHEEL))
        if found:
            return found[-1]
    return None


def fill_build_extra() -> str:
    """Put this machine's CA bundle and CPU torch wheel into docker/build-extra/ (git ignores
    them; the Dockerfile's deps stage uses them and the final image never holds them)."""
    notes = []
    if CA_BUNDLE.exists():
        shutil.copyfile(CA_BUNDLE, EXTRA / "ca-certificates.crt")
        notes.append(f"CA bundle {CA_BUNDLE}")
    wheel = local_torch_wheel()
    if wheel is not None:
        (EXTRA / "wheels").mkdir(exist_ok=True)
        target = EXTRA / "wheels" / wheel.name
        if not target.exists():
            shutil.copyfile(wheel, target)
        notes.append(f"torch wheel {wheel}")
    return ", ".join(notes) or "nothing (TORCH_INDEX_URL is used)"


def build(log: Path) -> float:
    """`podman build --isolation=chroot` of the Dockerfile on BASE_IMAGE; returns seconds."""
    command = [
        "nice", "-n", "10", "podman", "build", "--isolation=chroot", "--network=host",
        "--format=docker",  # the OCI format has no HEALTHCHECK: podman would drop it
        "--build-arg", f"BASE_IMAGE={BASE_IMAGE}", "--layers", "-t", IMAGE, str(ROOT),
    ]  # fmt: skip
    started = time.perf_counter()
    with log.open("w") as out:
        done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"podman build failed; see {log}:\n{log.read_text()[-3000:]}")
    return time.perf_counter() - started


def image_facts() -> dict:
    """The image's size and config (Env, Entrypoint, User, WorkingDir, Healthcheck)."""
    [facts] = json.loads(run(["podman", "image", "inspect", IMAGE]).stdout)
    return facts


# --- 3. and 4. the image's root filesystem under chroot ------------------------------------------


@dataclass
class Mounted:
    """A created (never started) container's writable root filesystem with the mounts a
    container runtime would add."""

    root: Path
    container: str
    mounts: list[Path] = field(default_factory=list)

    def bind(self, source: Path, target: str, *options: str) -> None:
        where = self.root / target.lstrip("/")
        where.mkdir(parents=True, exist_ok=True)
        run(["mount", *options, str(source), str(where)])
        self.mounts.append(where)


@contextmanager
def image_root(volume: Path, corpora: Path | None) -> Iterator[Mounted]:
    """The image's root filesystem, /data bound to `volume` (and /corpora to `corpora`)."""
    container = run(["podman", "create", IMAGE]).stdout.strip()
    mounted = Mounted(Path(run(["podman", "mount", container]).stdout.strip()), container)
    try:
        mounted.bind(Path("/proc"), "/proc", "--bind")
        mounted.bind(Path("/sys"), "/sys", "--bind")
        mounted.bind(Path("/dev"), "/dev", "--rbind")
        mounted.bind(volume, "/data", "--bind")
        if corpora is not None:
            mounted.bind(corpora, "/corpora", "--bind", "-o", "ro")
        yield mounted
    finally:
        for where in reversed(mounted.mounts):
            subprocess.run(["umount", "-l", str(where)], check=False)
        subprocess.run(["podman", "umount", container], capture_output=True, check=False)
        subprocess.run(["podman", "rm", "-f", container], capture_output=True, check=False)


def user_of(root: Path, user: str) -> tuple[int, int, str]:
    """UID, GID and home folder of the image's USER ("1000", "1000:1000" or a name)."""
    name, _, group = user.partition(":")
    for line in (root / "etc/passwd").read_text().splitlines():
        fields = line.split(":")
        if name in (fields[0], fields[2]):
            return int(fields[2]), int(group or fields[3]), fields[5]
    return int(name), int(group or name), "/"


def chroot_command(root: Path, config: dict, command: list[str], extra_env: dict) -> list[str]:
    """`command` in the image's root as its USER, with its Env (+ HOME, + extra_env), in its
    WorkingDir: what a container runtime does, short of namespaces and limits."""
    uid, gid, home = user_of(root, config.get("User") or "0")
    env = [*config.get("Env", []), f"HOME={home}", *(f"{k}={v}" for k, v in extra_env.items())]
    workdir = config.get("WorkingDir") or "/"
    return [
        "chroot", f"--userspec={uid}:{gid}", str(root), "/usr/bin/env", "-i", *env,
        "/bin/sh", "-c", f'cd "{workdir}" && exec "$@"', "sh", *command,
    ]  # fmt: skip


def open_map(url: str, shot: Path) -> float:
    """Seconds from opening `url` in headless Chromium until a Plotly map shows."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(PAGE_TIMEOUT_S * 1000)
        opened = time.perf_counter()
        page.goto(url)
        page.wait_for_selector(MAP, state="visible")
        seconds = time.perf_counter() - opened
        page.screenshot(path=str(shot))
        browser.close()
    return seconds


def wait_for(pattern: re.Pattern, log: Path, server: subprocess.Popen, timeout: float):
    """The first match of `pattern` in the server's log, or None after `timeout` or its exit."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = pattern.search(log.read_text(errors="replace"))
        if found or server.poll() is not None:
            return found
        time.sleep(0.2)
    return None


class PeakMemory:
    """The largest VmRSS of a process tree, sampled every SAMPLE_EVERY_S in a thread."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss_mb(self.pid))
            time.sleep(SAMPLE_EVERY_S)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak


def stop(server: subprocess.Popen, log: Path) -> None:
    """End the server's process group; when it had ended by itself, show its log's tail."""
    if server.poll() is not None:
        print(f"the server exited with code {server.returncode}; its log ends:", file=sys.stderr)
        print(log.read_text(errors="replace")[-3000:], file=sys.stderr)
        return
    os.killpg(server.pid, 15)
    try:
        server.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, 9)
        server.wait()


def serve(config: dict, work: Path, name: str, hosted: bool, fresh: bool) -> dict[str, object]:
    """One container start, on an empty volume (`fresh`) or on the one the last start of `name`
    left: the timings and memory of step 3 or 4."""
    volume, corpora = work / f"{name}-data", None
    if fresh:
        shutil.rmtree(volume, ignore_errors=True)
    volume.mkdir(exist_ok=True)
    extra_env = {"PORT": str(free_port())}
    if hosted:
        corpora = work / f"{name}-corpora"
        corpora.mkdir(exist_ok=True)
        lines = (ROOT / "data/topics.csv").read_text(encoding="utf-8").splitlines()
        (corpora / "talks.csv").write_text("\n".join(lines[: HOSTED_DOCS + 1]) + "\n")
        extra_env["EMBEDSCOPE_HOSTED"] = "1"
    log = work / f"{name}-{'fresh' if fresh else 'again'}-server.log"
    url = f"http://127.0.0.1:{extra_env['PORT']}"
    facts: dict[str, object] = {}
    with image_root(volume, corpora) as mounted:
        uid_gid = user_of(mounted.root, config.get("User") or "0")[:2]
        os.chown(volume, *uid_gid)  # a named volume starts owned by the image's /data owner
        entry = [*(config.get("Entrypoint") or []), *(config.get("Cmd") or [])]
        command = chroot_command(mounted.root, config, entry, extra_env)
        started = time.perf_counter()
        with log.open("w") as out:
            server = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        memory = PeakMemory(server.pid)
        try:
            wait_healthy(url, server, HEALTH_TIMEOUT_S)
            facts["start → healthy s"] = round(time.perf_counter() - started, 1)
            check = config["Healthcheck"].get("Test", [])[1:]  # ["CMD", ...]
            if not check:
                raise RuntimeError("the image has no HEALTHCHECK")
            done = subprocess.run(chroot_command(mounted.root, config, check, extra_env),
                                  capture_output=True, text=True, check=False)  # fmt: skip
            facts["HEALTHCHECK exit code"] = done.returncode
            path = "/"
            if hosted:
                shared = PROJECT_LINE.search(log.read_text(errors="replace"))
                # the README's link form (the printed /map?project=… opens the project too,
                # under a "Page not found" notice from Streamlit's router)
                path = f"/?project={shared.group(1)}" if shared else "/"
                facts["project link"] = path
            opened = time.perf_counter() - started
            page_s = open_map(url + path, work / f"{name}-map.png")
            facts["page opened at s"] = round(opened, 1)
            facts["page open → map s"] = round(page_s, 1)
            facts["start → first map s"] = round(opened + page_s, 1)
            warm = wait_for(WARM_LINE, log, server, WARM_TIMEOUT_S)
            facts["start → warm s"] = round(time.perf_counter() - started, 1) if warm else None
            facts["warm-up line"] = warm.group(0) if warm else "no warm line"
            facts["RSS after map, MB"] = round(tree_rss_mb(server.pid))
        finally:
            facts["peak RSS of the server tree, MB"] = round(memory.stop())
            stop(server, log)
        facts["data home after the start"] = sorted(p.name for p in volume.iterdir())
        compiled = list((volume / "numba").glob("embedscope-compiled-*"))
        facts["compiled marker in the volume"] = bool(compiled)
        facts["server log"] = str(log)
    return facts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rebuild-base", action="store_true", help="debootstrap the base again")
    parser.add_argument("--skip-build", action="store_true", help="check the image already built")
    parser.add_argument("--work", default="/tmp/embedscope-container", help="scratch folder")
    args = parser.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    print(f"# bench/container.py  {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}  "
          f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")  # fmt: skip
    seconds = base_image(work, args.rebuild_base)
    print(
        f"base image {BASE_IMAGE}: " + (f"made in {seconds:.0f} s" if seconds else "reused"),
        flush=True,
    )
    if not args.skip_build:
        print(f"build inputs: {fill_build_extra()}")
        seconds = build(work / "build.log")
        print(f"build (nice -n 10, podman --isolation=chroot): {seconds:.0f} s")
    facts = image_facts()
    print(f"image {IMAGE}: {facts['Size'] / 1e9:.2f} GB ({facts['Size'] / 2**30:.2f} GiB)")
    # podman keeps the HEALTHCHECK beside the config, not in it (docker format only)
    config = {**facts["Config"], "Healthcheck": facts.get("Healthcheck") or {}}
    starts = (
        ("default", False, True, "empty volume at /data"),
        ("default", False, False, "again, on the volume the first start left"),
        ("hosted", True, True, "EMBEDSCOPE_HOSTED=1, /corpora mounted, empty volume"),
    )
    for name, hosted, fresh, what in starts:
        print(f"\n## container start: {name}, {what}", flush=True)
        for key, value in serve(config, work, name, hosted, fresh).items():
            print(f"- {key}: {value}", flush=True)
    print(f"\n(load average at the end {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
