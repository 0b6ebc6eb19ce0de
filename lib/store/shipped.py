"""The files the bundled samples ship in data/samples/: vectors, default maps, default clustering.

Each shipped sample is two files:

- `<sample>.npz`: `vectors` (n, d) float16, one float32 coordinate array per shipped layout
  (`layout_2d`, `layout_3d`) and `clusters` (n,), the default clustering's labels;
- `<sample>.json`: what they were made from: the corpus content hash, model id, precision (fp32),
  each layout's parameters, the clustering's parameters, names and sizes, library versions and
  the machine.

This module only reads them, by (corpus content hash, model id); `lib.service.samples` serves them
to the engine and regenerates them (`python -m lib.service.samples`).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np

from lib.ingest.corpus import DATA_DIR

SAMPLES_DIR = DATA_DIR / "samples"
PRECISION = "fp32"
VECTOR_DTYPE = np.float16


def find(corpus_hash: str, model_id: str, folder: Path = SAMPLES_DIR) -> tuple[dict, dict] | None:
    """The arrays and metadata shipped for (corpus, model id), or None."""
    meta = _catalogue(folder).get((corpus_hash, model_id))
    if meta is None:
        return None
    with np.load(folder / f"{meta['sample']}.npz", allow_pickle=False) as stored:
        return {name: stored[name] for name in stored.files}, meta


def vectors(corpus_hash: str, model_id: str) -> np.ndarray | None:
    """The shipped vectors (n, d) as float32, or None (stored as float16: not quite unit rows)."""
    found = find(corpus_hash, model_id)
    return None if found is None else found[0]["vectors"].astype(np.float32)


def forget() -> None:
    """Read the catalogue again on the next look-up (after regenerating the files)."""
    _catalogue.cache_clear()


@functools.cache
def _catalogue(folder: Path) -> dict[tuple[str, str], dict]:
    """Metadata of every shipped sample by (corpus content hash, model id); read once."""
    found = {}
    for path in sorted(folder.glob("*.json")):
        meta = json.loads(path.read_text(encoding="utf-8"))
        found[(meta["content_hash"], meta["model_id"])] = meta
    return found
