"""Latency of arithmetic queries over 10k and 100k random unit vectors (p50 / p95), one table.

Run: .venv/bin/python bench/queries.py [--sizes 10000 100000] [--repeats 200]
Free-text terms use the real packaged model through a warm in-memory memo (as the app's cache
serves repeated terms); document terms (#id) read the corpus matrix. Target: p95 <= 100 ms at 100k.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from lib.embed.models import load_model
from lib.query.expressions import run_query
from lib.reduce.neighbors import normalize_rows

EXPRESSIONS = [
    '#12 - "formal" + "casual"',
    '"a rainy day" + "beach"',
    "mean(#1, #2, #3) - 0.5 * #4",
]


def memo_embedder():
    """The real model behind a dict memo: repeated terms cost a lookup, new ones an encode."""
    model, memo = load_model(), {}

    def embed(texts: list[str]) -> np.ndarray:
        missing = [t for t in texts if t not in memo]
        if missing:
            memo.update(zip(missing, normalize_rows(model.encode(missing)), strict=True))
        return np.stack([memo[t] for t in texts])

    return embed


def measure(n: int, repeats: int, embed) -> tuple[float, float]:
    vectors = normalize_rows(np.random.default_rng(0).normal(size=(n, 384)))
    for source in EXPRESSIONS:  # first call of each term pays the model once
        run_query(source, embed=embed, doc_vectors=vectors)
    times = []
    for i in range(repeats):
        started = time.perf_counter()
        run_query(EXPRESSIONS[i % len(EXPRESSIONS)], embed=embed, doc_vectors=vectors, k=10)
        times.append(time.perf_counter() - started)
    return float(np.percentile(times, 50) * 1000), float(np.percentile(times, 95) * 1000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()
    print(f"query latency — {platform.platform()}, {os.cpu_count()} cores, numpy {np.__version__}")
    print(f"expressions: {EXPRESSIONS}; k=10, inputs excluded; {args.repeats} queries per size")
    embed = memo_embedder()
    print(f"{'vectors':>9}  {'p50 ms':>7}  {'p95 ms':>7}")
    for n in args.sizes:
        p50, p95 = measure(n, args.repeats, embed)
        print(f"{n:>9,}  {p50:>7.1f}  {p95:>7.1f}")
    print("target: p95 <= 100 ms at 100,000 vectors")


if __name__ == "__main__":
    main()
