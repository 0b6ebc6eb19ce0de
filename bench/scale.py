"""Big maps: sample fit + transform, honesty of placed points, clustering, payload, browser draw.

    python bench/scale.py                    # 100,000 x 384 generated clustered unit vectors
    python bench/scale.py --million          # also 1,000,000 x 384 (about 1.5 GB of vectors)
    python bench/scale.py --n 20000 --quick  # smoke run: 50 UMAP epochs, small sample

For each size: UMAP fitted on a seeded sample (lib/reduce/scale.py), the rest placed by transform,
timed apart; neighbour preservation (k=10, lib/measure/honesty.py) of fitted vs placed points (up to
--honesty-max points: it needs an exact kNN of every point); clustering + c-TF-IDF names of
generated texts; the project saved as the CLI saves it; the figure JSON of `huge_map_figure`
in bytes per point; and, unless --no-browser, the seconds from opening the page to the plot
drawn in headless Chromium (Playwright), served by `streamlit run app.py` (the Map page opened
by the project's share link), plus that server's peak memory.
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lib.batch.precompute import NO_LIMIT  # noqa: E402
from lib.cluster.clusters import ClusterParams  # noqa: E402
from lib.cluster.scale import cluster_at_scale  # noqa: E402
from lib.figures.huge import huge_map_figure  # noqa: E402
from lib.ingest.corpus import corpus_from_frame  # noqa: E402
from lib.measure.honesty import neighbor_preservation  # noqa: E402
from lib.reduce.layouts import UMAPParams, project_umap  # noqa: E402
from lib.reduce.neighbors import exact_knn  # noqa: E402
from lib.reduce.scale import SAMPLE_SIZE, ScaleParams, project_at_scale  # noqa: E402
from lib.share.projects import ProjectStore, ProjectView  # noqa: E402
from tests.browser.conftest import wait_healthy  # noqa: E402  (one health poll for all)

DIM = 384
N_TOPICS = 50
LATENT_DIMS = 3  # each topic is a 3-D patch in the 384-d space
PATCH_SCALE = 0.35
NOISE_SCALE = 0.1
SEED = 0
HONESTY_K = 10
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TARGET_DRAW_S = 20.0
TARGET_BYTES = 12.0
LIBRARIES = ("numpy", "umap-learn", "pynndescent", "numba", "scikit-learn", "plotly", "streamlit")
DRAWN = """n => {
    const el = document.querySelector('.js-plotly-plot');
    if (!el || !el._fullData || !el._fullLayout || !el._fullLayout._glcanvas) return false;
    return el._fullData.reduce((total, trace) => total + (trace._length || 0), 0) === n;
}"""


def clustered_unit_vectors(
    n: int, dim: int = DIM, seed: int = SEED
) -> tuple[np.ndarray, np.ndarray]:
    """(n, dim) float32 unit vectors and each one's topic.

    Each of N_TOPICS topics is a random direction plus a random 3-D patch around it; a point is
    a random spot on its topic's patch plus a little noise. True neighbours are then decided by
    position on the patch, not by noise, so a 2-D map can keep them (as with real corpora).
    """
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(N_TOPICS, dim)) / np.sqrt(dim)
    patches = rng.normal(scale=PATCH_SCALE / np.sqrt(dim), size=(N_TOPICS, LATENT_DIMS, dim))
    topics = rng.integers(0, N_TOPICS, size=n)
    vectors = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, 100_000):
        stop = min(start + 100_000, n)
        block_topics = topics[start:stop]
        latent = rng.normal(size=(stop - start, LATENT_DIMS))
        block = centres[block_topics] + np.einsum("nl,nld->nd", latent, patches[block_topics])
        block += rng.normal(scale=NOISE_SCALE / np.sqrt(dim), size=block.shape)
        vectors[start:stop] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return vectors, topics


def topic_texts(topics: np.ndarray, seed: int = SEED) -> list[str]:
    """Short texts: four words of the point's topic vocabulary and two shared words."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    vocabulary = ["".join(rng.choice(letters, 7)) for _ in range(N_TOPICS * 8 + 40)]
    own = np.array(vocabulary[: N_TOPICS * 8]).reshape(N_TOPICS, 8)
    shared = np.array(vocabulary[N_TOPICS * 8 :])
    picks = rng.integers(0, 8, size=(len(topics), 4))
    common = rng.integers(0, len(shared), size=(len(topics), 2))
    words = np.concatenate([own[topics[:, None], picks], shared[common]], axis=1)
    return [" ".join(row) for row in words.tolist()]


@contextmanager
def timed(results: dict, name: str):
    started = time.perf_counter()
    yield
    results[name] = time.perf_counter() - started
    print(f"  {name}: {results[name]:.1f} s", file=sys.stderr, flush=True)


def report(results: dict, *names: str) -> None:
    """Print measured values to stderr at once (a long run that fails later keeps them)."""
    shown = ", ".join(f"{name} {format_value(results.get(name))}" for name in names)
    print(f"  {shown}", file=sys.stderr, flush=True)


def run_size(n: int, args: argparse.Namespace, work: Path) -> dict:
    """Every measurement for one corpus size."""
    print(f"n = {n:,}", file=sys.stderr, flush=True)
    results: dict = {"n": n}
    with timed(results, "generate s"):
        vectors, topics = clustered_unit_vectors(n)
        texts = topic_texts(topics)
    layout = UMAPParams(n_epochs=50) if args.quick else UMAPParams()
    scale = ScaleParams(sample_size=min(args.sample_size, n))
    chunks: list[tuple[float, int]] = []  # (time, points placed) after each transform chunk

    started = time.perf_counter()
    mapped = project_at_scale(
        vectors, layout, scale, lambda done, total: chunks.append((time.perf_counter(), done))
    )
    finished = time.perf_counter()
    fitted_at = chunks[0][0] if chunks else finished
    results["fit s"] = fitted_at - started
    results["transform s"] = finished - fitted_at
    results["fitted"] = int(mapped.fitted_mask.sum())
    if len(chunks) > 2:  # after the first chunk (numba compiles transform code on first use)
        (first_at, first_done), (last_at, last_done) = chunks[1], chunks[-1]
        results["placed/s"] = (last_done - first_done) / (last_at - first_at)
    report(results, "fit s", "transform s", "placed/s")
    if n <= args.honesty_max:
        with timed(results, "honesty s"):
            true_knn = exact_knn(vectors, HONESTY_K).indices
            kept = neighbor_preservation(vectors, mapped.coords, HONESTY_K, full_knn=true_knn)
        placed = ~mapped.fitted_mask
        results["kept fitted"] = float(kept[mapped.fitted_mask].mean())
        results["kept placed"] = float(kept[placed].mean()) if placed.any() else None
        results["kept all"] = float(kept.mean())
        report(results, "kept fitted", "kept placed", "kept all")
        if args.full_fit and placed.any():
            with timed(results, "full fit s"):
                full = project_umap(vectors, layout)
            kept_full = neighbor_preservation(vectors, full.coords, HONESTY_K, full_knn=true_knn)
            results["kept full fit"] = float(kept_full.mean())
            results["kept full fit, sample rows"] = float(kept_full[mapped.fitted_mask].mean())
            report(results, "kept full fit", "kept full fit, sample rows")
    for method in args.cluster:
        params = ClusterParams(method=method, n_clusters=N_TOPICS, min_cluster_size=50)
        with timed(results, f"{method} s"):
            clusters = cluster_at_scale(vectors, texts, params, mapped)
        results[f"{method} clusters"] = clusters.n_clusters
        results[f"{method} purity"] = purity(topics, clusters.labels)
        report(results, f"{method} clusters", f"{method} purity")
    with timed(results, "save s"):
        frame = pd.DataFrame({"text": texts})
        corpus = corpus_from_frame(frame, "text", source=f"bench-{n}", max_documents=NO_LIMIT)
        project = ProjectStore(work / "home" / "projects").save(
            title=f"bench {n:,}",
            model_name=None,
            corpus=corpus,
            vectors=vectors,
            coords=mapped.coords,
            cluster_labels=clusters.labels,
            cluster_names=clusters.names,
            view=ProjectView.from_params(layout, params),
            extra={"fitted_mask": mapped.fitted_mask},
        )
    del vectors, corpus
    with timed(results, "figure s"):
        payload = huge_map_figure(project.coords, project.cluster_labels, project.cluster_names)
        results["bytes/point"] = len(payload.figure.to_json()) / n
    report(results, "bytes/point")
    del project, payload
    if not args.no_browser:
        results.update(browser_draw(work, n, results_id(work, n)))
    return results


def results_id(work: Path, n: int) -> str:
    """The id of the project saved for size n (the only one with that size)."""
    summaries = ProjectStore(work / "home" / "projects").list()
    return next(summary.id for summary in summaries if summary.n_docs == n)


def purity(topics: np.ndarray, labels: np.ndarray) -> float:
    """Share of points in their cluster's majority topic (noise counts as wrong)."""
    frame = pd.DataFrame({"topic": topics, "label": labels})
    clustered = frame[frame["label"] >= 0]
    majority = clustered.groupby("label")["topic"].agg(lambda s: s.value_counts().iloc[0]).sum()
    return float(majority / len(frame))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def browser_draw(work: Path, n: int, project_id: str) -> dict:
    """Seconds from page open to the plot drawn, and the server's peak RSS, in a fresh server."""
    from playwright.sync_api import sync_playwright

    port = free_port()
    env = {
        **os.environ, "HF_HUB_OFFLINE": "1", "EMBEDSCOPE_HOME": str(work / "home"),
        "EMBEDSCOPE_WARM_UP": "0",  # time the page, not a warm-up racing it for the 2 cores
    }  # fmt: skip
    command = [
        sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.headless", "true",
        "--server.port", str(port), "--server.address", "127.0.0.1",
        "--server.maxMessageSize", "1000", "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    log = (work / f"server-{n}.log").open("w")
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, server)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(600_000)
            started = time.perf_counter()
            page.goto(f"{url}/?project={project_id}")
            page.wait_for_function(DRAWN, arg=n, polling=100)
            page.evaluate(
                "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"
            )
            drawn = time.perf_counter() - started
            page.screenshot(path=str(work / f"map-{n}.png"))
            browser.close()
        peak = peak_rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=60)
        log.close()
    print(f"  drawn in {drawn:.1f} s; server peak RSS {peak:,.0f} MB", file=sys.stderr)
    return {"drawn s": drawn, "server peak MB": peak}


def peak_rss_mb(pid: int) -> float:
    """VmHWM (peak resident memory) of a process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def print_table(rows: list[dict], args: argparse.Namespace) -> None:
    versions = ", ".join(f"{name} {metadata.version(name)}" for name in LIBRARIES)
    print(
        f"# bench/scale.py  {os.cpu_count()} CPUs  {platform.machine()}  "
        f"python {platform.python_version()}"
    )
    print(f"# {versions}")
    print(
        f"# vectors: {DIM}-d unit vectors on {N_TOPICS} 3-D topic patches (seed {SEED}); "
        f"UMAP {'50 epochs (quick)' if args.quick else 'defaults (200 epochs)'}; "
        f"sample {args.sample_size:,}; honesty k={HONESTY_K}"
    )
    columns = list(dict.fromkeys(key for row in rows for key in row))
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for row in rows:
        print("| " + " | ".join(format_value(row.get(column)) for column in columns) + " |")
    print(
        f"# targets: drawn <= {TARGET_DRAW_S:.0f} s after the page opens; "
        f"payload <= {TARGET_BYTES:.0f} bytes/point"
    )


def format_value(value) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.3f}" if value < 10 else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--million", action="store_true", help="also run 1,000,000 points")
    parser.add_argument("--sample-size", type=int, default=SAMPLE_SIZE)
    parser.add_argument("--honesty-max", type=int, default=200_000)
    parser.add_argument("--full-fit", action="store_true", help="also fit UMAP on every point")
    parser.add_argument(
        "--cluster", nargs="+", default=["kmeans", "hdbscan"], choices=("kmeans", "hdbscan")
    )
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--work", help="folder for projects, logs, screenshots (default: temp)")
    args = parser.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="embedscope-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("NUMBA_CACHE_DIR", str(work / "numba"))
    sizes = [args.n] + ([1_000_000] if args.million else [])
    rows = [run_size(n, args, work) for n in sizes]
    print_table(rows, args)
    print(f"# artefacts (projects, screenshots, server logs): {work}")


if __name__ == "__main__":
    main()
