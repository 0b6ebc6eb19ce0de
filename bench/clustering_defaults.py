"""Clustering defaults on a real corpus: share unclustered and clusters found per method and space.

The corpus is real text nobody here wrote: the short quotations of Debian's `fortunes` package
(`apt-get install fortunes`; /usr/share/games/fortunes), 16 of its topical files as labels, up
to 400 seeded quotations of 20 to 300 characters each: a few thousand short labelled documents
like the ones a user uploads (the corpus of issue 23 had 4,935 of them). Vectors come from the
default model through the embedding cache (set EMBEDSCOPE_HOME to keep them apart from the
app's), the map is the Map page's default UMAP.

    .venv/bin/python bench/clustering_defaults.py
    .venv/bin/python bench/clustering_defaults.py --per-label 150

Prints, per setting: clusters found, the share of documents unclustered (HDBSCAN noise), the
adjusted Rand index against the file labels (noise counted as one group), and seconds.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

FORTUNES = Path("/usr/share/games/fortunes")
LABELS = (
    "art", "computers", "education", "food", "kids", "law", "linux", "literature", "love",
    "medicine", "politics", "science", "sports", "startrek", "wisdom", "work",
)  # fmt: skip
MIN_CHARS, MAX_CHARS = 20, 300


def fortunes_corpus(per_label: int = 400, seed: int = 0) -> tuple[list[str], list[str]]:
    """Up to `per_label` quotations per label file (seeded), whitespace-normalised, and labels."""
    if not FORTUNES.is_dir():
        sys.exit(f"{FORTUNES} is missing: apt-get install fortunes")
    rng = np.random.default_rng(seed)
    texts: list[str] = []
    labels: list[str] = []
    for label in LABELS:
        entries = (FORTUNES / label).read_text(encoding="utf-8", errors="replace").split("\n%\n")
        found = sorted({" ".join(e.split()) for e in entries if len(e.strip()) >= MIN_CHARS})
        found = [text for text in found if len(text) <= MAX_CHARS]
        chosen = rng.choice(len(found), size=min(per_label, len(found)), replace=False)
        texts += [found[i] for i in sorted(chosen)]
        labels += [label] * len(chosen)
    return texts, labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-label", type=int, default=400)
    args = parser.parse_args()

    from sklearn.metrics import adjusted_rand_score

    from lib.cluster.clusters import (
        NOISE,
        ClusterParams,
        auto_min_cluster_size,
        clustering_space,
        find_clusters,
    )
    from lib.embed.models import embed_texts, load_model
    from lib.reduce.layouts import PCAParams, UMAPParams, project_pca, project_umap
    from lib.store.caches import EmbeddingCache

    texts, labels = fortunes_corpus(args.per_label)
    lengths = [len(t) for t in texts]
    print(
        f"corpus: {len(texts):,} fortunes, {len(set(labels))} labels, "
        f"mean {np.mean(lengths):.0f} characters"
    )
    start = time.perf_counter()
    vectors = embed_texts(texts, load_model(), cache=EmbeddingCache()).vectors
    print(f"embedded in {time.perf_counter() - start:.0f} s")
    maps = {
        "map": project_umap(vectors, UMAPParams()).coords,
        "PCA map": project_pca(vectors, PCAParams()).coords,
    }
    n = len(texts)
    auto = auto_min_cluster_size(n)
    settings = [  # (method, space, min_cluster_size or k, what it is)
        ("hdbscan", "embeddings", 10, "before: KMeans's space kept, fixed size"),
        ("hdbscan", "map", 10, "before: on the map, fixed size"),
        ("hdbscan", "pca", auto, "PCA (20-D) of the embeddings"),
        ("hdbscan", "map", auto, "default now"),
        ("hdbscan", "map", 2 * auto, "twice the default size"),
        ("hdbscan", "PCA map", auto, "on a PCA map"),
        ("kmeans", "embeddings", 10, "KMeans default"),
    ]
    print(f"HDBSCAN's default: on the map, min_cluster_size {auto} for {n:,} documents")
    print(f"{'method':8} {'space':10} {'size':>4} {'clusters':>8} {'unclustered':>11} {'ARI':>5} "
          f"{'s':>5}  setting")  # fmt: skip
    for method, space, size, what in settings:
        params = ClusterParams(
            method=method, space="map" if space == "PCA map" else space,
            min_cluster_size=size, n_clusters=size,
        )  # fmt: skip
        start = time.perf_counter()
        points = clustering_space(vectors, params, maps[space] if "map" in space else None)
        found = find_clusters(points, params)
        seconds = time.perf_counter() - start
        clusters = len(set(found.tolist()) - {NOISE})
        print(
            f"{method:8} {space:10} {size:4d} {clusters:8d} {np.mean(found == NOISE):11.0%} "
            f"{adjusted_rand_score(labels, found):5.2f} {seconds:5.1f}  {what}",
            flush=True,
        )


if __name__ == "__main__":
    main()
