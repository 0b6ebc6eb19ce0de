"""Embedding backends side by side: torch fp32 (1 thread and every core), torch bf16 (autocast),
OpenVINO bf16 and OpenVINO fp32 (what "auto" runs on a CPU without bf16).

    python bench/embedding.py [--n 2000] [--rounds 2] [--rows "torch fp32 t2,OpenVINO fp32"]

The same generated documents (bench/corpus_gen.py) are encoded by each backend of the bundled
all-MiniLM-L6-v2 in one process, in the app's batches (`embed_texts`, no cache), `--rounds`
times in turn, rows interleaved, after an untimed warm-up call each; printed: wall and CPU
seconds per round, sentences per wall second and per CPU second, the speed-up over torch fp32
on every core (the app's exact path) and over torch bf16, the share of the CPU's fp32 FMA peak
(best wall round), and each path's 10-NN overlap with torch fp32 (exact cosine neighbours; the
quality guard asks >= 0.95). Model loading is not timed.

Share of peak: useful work only (real tokens, no padding): per token 2 × 6 layers × (4h² + 2hf +
2sh) flops for MiniLM-L6 (h 384, f 1536, s the sentence's tokens), 0.597 GFLOP for a sentence of
27.8 tokens; the peak is `--peak` GFLOP/s, by default 156.5 for the 2-core AVX2 machine measured
for issue 21 (2 FMA units × 8 fp32 lanes × 2 flops × 2.445 GHz × 2 cores).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench.corpus_gen import generate_corpus  # noqa: E402
from bench.pipeline import SEED, load_note, versions  # noqa: E402

OVERLAP_K = 10
PEAK_GFLOPS = 156.5  # fp32 FMA peak of 2 AVX2 cores at 2.445 GHz (issue 21, /tmp/speed)
HIDDEN, FFN, LAYERS = 384, 1536, 6  # all-MiniLM-L6-v2
REFERENCE = "torch fp32 t{cores}"


@dataclass(frozen=True)
class Row:
    """One backend: its loaded model and the torch threads it runs with (None: not torch)."""

    name: str
    model: Any
    torch_threads: int | None = None


def sentence_flops(tokens: int) -> float:
    """Useful fp32 flops of one sentence of `tokens` tokens through MiniLM-L6's transformer."""
    per_token = 2 * LAYERS * (4 * HIDDEN * HIDDEN + 2 * HIDDEN * FFN + 2 * tokens * HIDDEN)
    return float(tokens * per_token)


def backends(cores: int) -> list[Row]:
    """Every encoder, loaded (untimed): the OpenVINO ones where the package is installed."""
    from lib.embed.models import DEFAULT_MODEL, SentenceTransformerModel, load_model
    from lib.embed.ov_backend import openvino_model

    fp32 = load_model(DEFAULT_MODEL, precision="fp32")
    rows = [
        Row(REFERENCE.format(cores=cores), fp32, cores),
        Row("torch fp32 t1", fp32, 1),
        Row("torch bf16", SentenceTransformerModel(fp32.model, fp32.model_id, "bf16"), cores),
    ]
    for precision in ("bf16", "fp32"):
        model = openvino_model(fp32, precision)
        if model is not None:
            rows.append(Row(f"OpenVINO {precision}", model))
    return rows


def encode(row: Row, texts: list[str]) -> tuple[float, float, Any]:
    """Wall s, CPU s and the vectors of one pass over `texts`."""
    import torch

    from lib.embed.models import embed_texts

    threads = torch.get_num_threads()
    torch.set_num_threads(row.torch_threads or threads)
    try:
        wall, cpu = time.perf_counter(), time.process_time()
        vectors = embed_texts(texts, row.model).vectors
        return time.perf_counter() - wall, time.process_time() - cpu, vectors
    finally:
        torch.set_num_threads(threads)


def useful_gflop(model: Any, texts: list[str]) -> float:
    """The corpus's useful work in GFLOP: each distinct text at its real token count (cut at the
    model's window), as `embed_texts` encodes it."""
    unique = list(dict.fromkeys(texts))
    ids = model.model.tokenizer(unique, truncation=True, max_length=model.max_tokens)["input_ids"]
    return sum(sentence_flops(len(row)) for row in ids) / 1e9


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="documents (default 2000)")
    parser.add_argument("--rounds", type=int, default=2, help="passes per backend (default 2)")
    parser.add_argument("--rows", default="", help="comma-separated row names (default: all)")
    parser.add_argument("--peak", type=float, default=PEAK_GFLOPS, help="fp32 peak, GFLOP/s")
    args = parser.parse_args(argv)
    from lib.embed.ov_backend import usable_cores
    from lib.measure.honesty import neighbor_overlap
    from lib.reduce.neighbors import exact_knn

    texts = generate_corpus(args.n, seed=SEED)["text"].tolist()
    print(f"embedding backends, {args.n:,} generated documents, {args.rounds} rounds; "
          f"{load_note('at start')}")  # fmt: skip
    print(", ".join(f"{k} {v}" for k, v in versions(("torch", "openvino", "transformers")).items()))
    cores = usable_cores()
    reference_name = REFERENCE.format(cores=cores)
    wanted = {name.strip() for name in args.rows.split(",") if name.strip()} | {reference_name}
    rows = [row for row in backends(cores) if not args.rows or row.name in wanted]
    gflop = useful_gflop(rows[0].model, texts)
    print(f"useful work {gflop:.1f} GFLOP ({gflop / args.n:.3f} per document); "
          f"fp32 peak {args.peak:.1f} GFLOP/s on {cores} cores")  # fmt: skip
    for row in rows:  # untimed first calls: kernel set-up and OpenVINO's first shapes
        encode(row, texts[:16])
    runs: dict[str, list[tuple[float, float]]] = {row.name: [] for row in rows}
    vectors = {}
    for _ in range(args.rounds):
        for row in rows:
            wall, cpu, vectors[row.name] = encode(row, texts)
            runs[row.name].append((wall, cpu))
    reference = exact_knn(vectors[reference_name], OVERLAP_K).indices
    fp32_best = min(wall for wall, _ in runs[reference_name])
    bf16_best = min((wall for wall, _ in runs.get("torch bf16", [])), default=None)
    print(f"{'backend':<16} {'wall s (rounds)':<18} {'CPU s':<14} {'sent/s':>7} {'/CPU-s':>7} "
          f"{'vs fp32':>8} {'vs bf16':>8} {'of peak':>8} {'10-NN overlap':>14}")  # fmt: skip
    for name, found in runs.items():
        best = min(wall for wall, _ in found)
        overlap = neighbor_overlap(reference, exact_knn(vectors[name], OVERLAP_K).indices).mean()
        walls = ", ".join(f"{wall:.1f}" for wall, _ in found)
        cpus = ", ".join(f"{cpu:.1f}" for _, cpu in found)
        versus_bf16 = "—" if bf16_best is None else f"{bf16_best / best:.2f}×"
        share = gflop / best / args.peak
        per_cpu = args.n / min(cpu for _, cpu in found)
        print(
            f"{name:<16} {walls:<18} {cpus:<14} {args.n / best:7.1f} {per_cpu:7.1f} "
            f"{fp32_best / best:7.2f}× {versus_bf16:>8} {share:8.1%} {overlap:14.3f}"
        )
    print(load_note("at the end"))


if __name__ == "__main__":
    main()
