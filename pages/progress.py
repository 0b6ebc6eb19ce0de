"""Long work's progress on a page: a box pinned in view, its progress line, a growing preview.

Not a page itself. Used by pages/_common.py while a corpus embeds.
"""

from __future__ import annotations

import contextlib
import itertools
import time
from collections.abc import Iterator

import numpy as np
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from lib.embed.models import format_seconds
from lib.figures.colors import category_colors
from lib.figures.map import ColorBy, hover_labels, map_figure
from lib.ingest.corpus import Corpus
from lib.reduce.layouts import project_pca

PINNED_KEY = "pinned_progress"  # Streamlit gives a box keyed <this>_<n> the class st-key-<key>
PINNED_CSS = (  # fixed below the app's header, centred, above the page
    f'[class*="st-key-{PINNED_KEY}_"] {{position: fixed; top: 4rem; left: 50%;'
    " transform: translateX(-50%); width: min(46rem, 92vw); z-index: 999990; background: #fff;"
    " padding: 0.75rem 1rem; border: 1px solid #d0d3da; border-radius: 0.5rem;"
    " box-shadow: 0 4px 16px rgba(0,0,0,.18);}"
)
_PINNED_IDS = itertools.count()


@contextlib.contextmanager
def pinned_progress() -> Iterator[DeltaGenerator]:
    """A box pinned to the top of the window (fixed, above the page) for long work's progress,
    so it stays in view wherever the visitor had scrolled; removed when the work ends."""
    st.html(f"<style>{PINNED_CSS}</style>")
    slot = st.empty()
    try:
        yield slot.container(key=f"{PINNED_KEY}_{next(_PINNED_IDS)}")  # unique in a run
    finally:
        slot.empty()


def draw_preview(slot, corpus: Corpus, rows: np.ndarray, vectors: np.ndarray) -> None:
    """A quick PCA map of the random sample embedded so far, while the rest is embedded."""
    coords = project_pca(vectors).coords
    labels = corpus.label_columns()
    color = None
    if labels:  # the sample keeps the whole corpus's colours
        column = corpus.metadata[labels[0]].to_numpy()
        color = ColorBy(labels[0], column[rows], colors=category_colors(column))
    hover = hover_labels([corpus.texts[i] for i in rows])
    title = f"Preview: PCA of {len(rows):,} of {len(corpus):,} documents, growing as they embed"
    slot.plotly_chart(map_figure(coords, hover, color=color, title=title, height=420))


class ProgressText:
    """The progress line of a long embedding: documents done, the rate measured since the first
    report (cache hits come at once and are not a rate), and the time left; before any batch has
    been timed, the estimate made before starting."""

    def __init__(self, estimate_seconds: float) -> None:
        self.estimate_seconds = estimate_seconds
        self.first: tuple[int, float] | None = None

    def __call__(self, done: int, total: int) -> str:
        now = time.perf_counter()
        if self.first is None:
            self.first = (done, now)
        first_done, first_time = self.first
        counted = f"{done:,} / {total:,} documents"
        if done <= first_done or now <= first_time:
            return f"{counted} · about {format_seconds(self.estimate_seconds)} left (estimate)"
        rate = (done - first_done) / (now - first_time)
        return f"{counted} · {rate:,.0f} docs/s · {format_seconds((total - done) / rate)} left"
