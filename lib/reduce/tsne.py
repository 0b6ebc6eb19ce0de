"""t-SNE maps (openTSNE, FFT-accelerated), the Embedding Projector's third layout beside UMAP/PCA.

2-D only: openTSNE's FFT gradients exist for one or two dimensions; a 3-D t-SNE needs
Barnes-Hut, which is many times slower on big corpora. FFT gradients from FFT_FROM points up;
below, Barnes-Hut (openTSNE's own rule; measured here at 800 points: 7 s against 21 s for FFT,
whose cost hardly shrinks with n). Seeded, so the same vectors and parameters give the same
map. New points are placed from the positions of their true neighbours (`placement`), as
for UMAP maps, not by another optimisation.
"""

from __future__ import annotations

import logging
import time
import warnings
from dataclasses import dataclass, replace

import numpy as np

from lib.errors import check_float, check_int
from lib.reduce.layouts import Projection, check_vectors, placement
from lib.reduce.neighbors import normalize_rows

logger = logging.getLogger(__name__)

MIN_TSNE_POINTS = 5
N_JOBS = 1  # 2 threads ran 3x slower than 1 on the shared 2-core machine (800 points: 66 s, 21 s)
FFT_FROM = 10_000
# Seconds of `project_tsne` measured at 800, 10,000 and 50,000 random unit vectors (384-d,
# perplexity 30, 750 iterations, n_jobs=1) on 2 cores shared with other work (load ~11): a quiet
# machine is faster. See `estimate_tsne_seconds`.
MEASURED_SECONDS = ((800, 7.8), (10_000, 76.0), (50_000, 596.0))


@dataclass(frozen=True)
class TSNEParams:
    """t-SNE settings: perplexity (effective neighbours, 5–100), 2 components, seed.

    n_iter: optimisation steps after the 250 of early exaggeration (openTSNE's default 500).
    """

    perplexity: float = 30.0
    n_components: int = 2
    seed: int = 42
    n_iter: int = 500

    def __post_init__(self) -> None:
        check_float("TSNEParams", "perplexity", self.perplexity, 2.0, 100.0)
        check_int("TSNEParams", "n_components", self.n_components, 2, 2)
        check_int("TSNEParams", "seed", self.seed, 0)
        check_int("TSNEParams", "n_iter", self.n_iter, 50, 2000)


def _clip_perplexity(params: TSNEParams, n_points: int) -> tuple[TSNEParams, tuple[str, ...]]:
    """Lower the perplexity below n/3 for small corpora, recording why (params stay untouched)."""
    highest = (n_points - 1) / 3
    if params.perplexity <= highest:
        return params, ()
    clipped = max(1.0, round(highest, 1))
    note = f"perplexity lowered from {params.perplexity:g} to {clipped:g}: only {n_points} points."
    warnings.warn(note, stacklevel=3)
    return replace(params, perplexity=clipped), (note,)


def project_tsne(vectors: np.ndarray, params: TSNEParams = TSNEParams()) -> Projection:
    """Fit openTSNE (cosine, PCA initialisation, seeded; FFT gradients from FFT_FROM points) on
    `vectors` (n, d).

    Returns a Projection with method "tsne"; its `transform` places new vectors at the
    similarity-weighted mean position of their nearest documents.
    """
    from openTSNE import TSNE

    matrix = normalize_rows(check_vectors(vectors, MIN_TSNE_POINTS))
    effective, notes = _clip_perplexity(params, len(matrix))
    started = time.perf_counter()
    fitted = TSNE(
        n_components=effective.n_components,
        perplexity=effective.perplexity,
        n_iter=effective.n_iter,
        metric="cosine",
        negative_gradient_method="fft" if len(matrix) >= FFT_FROM else "bh",
        initialization="pca",
        n_jobs=N_JOBS,
        random_state=effective.seed,
        verbose=False,
    ).fit(matrix)
    coords = np.asarray(fitted, dtype=np.float32)
    logger.info(
        "t-SNE fitted on %d points in %.1f s (%s)",
        len(matrix), time.perf_counter() - started, effective,
    )  # fmt: skip
    return Projection(coords, "tsne", effective, placement(matrix, coords), notes)


def estimate_tsne_seconds(n_points: int) -> float:
    """Expected seconds for `project_tsne` on `n_points` documents on this kind of machine.

    Interpolated (log-log) between MEASURED_SECONDS, extrapolated linearly in n beyond them; a
    rough guide to show before starting, not a promise (a loaded machine is slower).
    """
    check_int("estimate_tsne_seconds", "n_points", n_points, 1)
    sizes = np.log([n for n, _ in MEASURED_SECONDS])
    seconds = np.log([s for _, s in MEASURED_SECONDS])
    largest, slowest = MEASURED_SECONDS[-1]
    if n_points > largest:
        return float(slowest * n_points / largest)
    return float(np.exp(np.interp(np.log(n_points), sizes, seconds)))
