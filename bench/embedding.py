"""Embedding backends side by side: torch fp32, torch bf16 (autocast) and OpenVINO bf16.

    python bench/embedding.py [--n 2000] [--rounds 2]

The same generated documents (bench/corpus_gen.py) are encoded by each backend of the bundled
all-MiniLM-L6-v2 in one process, in the app's batches (`embed_texts`, no cache), `--rounds`
times in turn; printed: wall and CPU seconds per round, sentences per second, the speed-up over
torch bf16 (the path before OpenVINO), and each path's 10-NN overlap with torch fp32 (exact
cosine neighbours; the quality guard asks >= 0.95). Model loading is not timed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench.corpus_gen import generate_corpus  # noqa: E402
from bench.pipeline import SEED, load_note, versions  # noqa: E402

OVERLAP_K = 10


def backends() -> dict:
    """The three encoders, loaded (untimed)."""
    from lib.embed.models import DEFAULT_MODEL, SentenceTransformerModel, load_model
    from lib.embed.ov_backend import openvino_model

    fp32 = load_model(DEFAULT_MODEL, precision="fp32")
    found = {
        "torch fp32": fp32,
        "torch bf16": SentenceTransformerModel(fp32.model, fp32.model_id, "bf16"),
    }
    openvino = openvino_model(fp32)
    if openvino is not None:
        found["OpenVINO bf16"] = openvino
    return found


def encode(model, texts: list[str]) -> tuple[float, float, object]:
    """Wall s, CPU s and the vectors of one pass over `texts`."""
    from lib.embed.models import embed_texts

    wall, cpu = time.perf_counter(), time.process_time()
    vectors = embed_texts(texts, model).vectors
    return time.perf_counter() - wall, time.process_time() - cpu, vectors


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="documents (default 2000)")
    parser.add_argument("--rounds", type=int, default=2, help="passes per backend (default 2)")
    args = parser.parse_args(argv)
    from lib.measure.honesty import neighbor_overlap
    from lib.reduce.neighbors import exact_knn

    texts = generate_corpus(args.n, seed=SEED)["text"].tolist()
    print(f"embedding backends, {args.n:,} generated documents, {args.rounds} rounds; "
          f"{load_note('at start')}")  # fmt: skip
    print(", ".join(f"{k} {v}" for k, v in versions(("torch", "openvino", "transformers")).items()))
    models = backends()
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in models}
    vectors = {}
    for _ in range(args.rounds):
        for name, model in models.items():
            wall, cpu, vectors[name] = encode(model, texts)
            runs[name].append((wall, cpu))
    reference = exact_knn(vectors["torch fp32"], OVERLAP_K).indices
    base = min(wall for wall, _ in runs["torch bf16"])
    print(f"{'backend':<14} {'wall s (rounds)':<18} {'CPU s':<14} {'sent/s':>7} "
          f"{'vs torch bf16':>13} {'10-NN overlap with fp32':>24}")  # fmt: skip
    for name, found in runs.items():
        best = min(wall for wall, _ in found)
        overlap = neighbor_overlap(reference, exact_knn(vectors[name], OVERLAP_K).indices).mean()
        walls = ", ".join(f"{wall:.1f}" for wall, _ in found)
        cpus = ", ".join(f"{cpu:.1f}" for _, cpu in found)
        print(f"{name:<14} {walls:<18} {cpus:<14} {args.n / best:7.0f} {base / best:12.2f}× "
              f"{overlap:24.3f}")  # fmt: skip
    print(load_note("at the end"))


if __name__ == "__main__":
    main()
