"""Overlapping cluster labels on the map: labels at cluster medians (the old map) vs placed.

    python bench/labels.py                  # the bundled samples and a generated 5,000-doc corpus
    python bench/labels.py --n 5000 --home /tmp/bench-home   # where vectors and maps are kept

For each corpus: vectors, the default 2-D UMAP map and clusters from the engine service as the Map
page asks for them (the bundled samples' shipped files; the generated corpus embedded with the
default model once and kept in --home), then nested levels (lib/cluster/hierarchy.py) above two
fine clusterings: the page's default (KMeans, 10) and a fine one (KMeans, 40). For every level it
prints how many label boxes overlap when each name sits on its cluster's median, as
lib/figures/map.py draws them, and when lib/figures/labels.py places them, at the default plot
size (LabelStyle()), with the labels moved (leader lines) and dropped.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.corpus_gen import generate_corpus  # noqa: E402
from lib.cluster.clusters import NOISE, ClusterParams  # noqa: E402
from lib.cluster.hierarchy import cluster_levels  # noqa: E402
from lib.embed.models import DEFAULT_MODEL  # noqa: E402
from lib.figures.labels import (  # noqa: E402
    LabelStyle,
    boxes_at,
    count_overlaps,
    extent_of,
    label_sizes_px,
    level_labels,
    place_labels,
    shorten,
)
from lib.ingest.corpus import corpus_from_frame, load_sample  # noqa: E402
from lib.reduce.layouts import UMAPParams  # noqa: E402
from lib.service.engine import Engine  # noqa: E402

CLUSTERINGS = {"kmeans 10 (default)": ClusterParams(), "kmeans 40": ClusterParams(n_clusters=40)}
LIBRARIES = ("numpy", "scipy", "scikit-learn", "umap-learn", "plotly")


def median_boxes(coords: np.ndarray, labels: np.ndarray, names: dict, style: LabelStyle):
    """The old map's label boxes: each cluster's name centred on its members' median."""
    ids = [c for c in names if c != NOISE and (labels == c).any()]
    centres = np.array([np.median(coords[labels == c, :2], axis=0) for c in ids])
    texts = [shorten(names[c], style.max_chars) for c in ids]
    view = place_labels(np.empty((0, 2)), [], extent_of(coords), style=style).view
    return boxes_at(centres, label_sizes_px(texts, style.font_size) * view.units_per_px)


def corpora(n: int) -> dict:
    """The corpora measured: the two bundled samples and a generated one of `n` documents."""
    generated = corpus_from_frame(
        generate_corpus(n, seed=0), "text", source=f"generated corpus ({n:,})"
    )
    return {"topics": load_sample("topics"), "multilingual": load_sample("multilingual"),
            f"generated {n:,}": generated}  # fmt: skip


def measure(engine: Engine, name: str, corpus) -> list[dict]:
    """One row per (clustering, level): label count, overlaps old vs new, moved, dropped."""
    embedding = engine.vectors(corpus, DEFAULT_MODEL)
    layout = engine.layout(embedding, UMAPParams())
    rows = []
    for clustering_name, params in CLUSTERINGS.items():
        fine = engine.clusters(embedding, corpus, params, layout)
        levels = cluster_levels(embedding.vectors, corpus.texts, fine.labels)
        for level in levels.levels:
            wanted = level_labels(level, layout.coords)
            style = LabelStyle(font_size=wanted.font_size)
            started = time.perf_counter()
            placed = place_labels(
                wanted.anchors, wanted.texts, extent_of(layout.coords),
                priorities=wanted.priorities, style=style,
            )  # fmt: skip
            seconds = time.perf_counter() - started
            old = median_boxes(layout.coords, level.labels, level.names, style)
            rows.append(
                {
                    "corpus": name,
                    "docs": len(corpus),
                    "clustering": clustering_name,
                    "level": level.name,
                    "labels": len(wanted.texts),
                    "font px": style.font_size,
                    "overlaps old": count_overlaps(old),
                    "overlaps new": count_overlaps(placed.boxes),
                    "moved": int(placed.leader.sum()),
                    "dropped": int(placed.dropped.sum()),
                    "place ms": round(seconds * 1000, 1),
                }
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5_000, help="documents in the generated corpus")
    parser.add_argument("--home", default=str(Path(tempfile.gettempdir()) / "bench-labels-home"))
    args = parser.parse_args()
    engine = Engine(args.home)
    rows = []
    for name, corpus in corpora(args.n).items():
        rows += measure(engine, name, corpus)
    style = LabelStyle()
    print(
        f"plot area {style.width_px}x{style.height_px} px, gap {style.gap_px} px, max shift "
        f"{style.max_shift_px} px; map UMAPParams(), model {DEFAULT_MODEL}"
    )
    print(pd.DataFrame(rows).to_string(index=False))
    print(" ".join(f"{lib} {metadata.version(lib)}" for lib in LIBRARIES))


if __name__ == "__main__":
    main()
