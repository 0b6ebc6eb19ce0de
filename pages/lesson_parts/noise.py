"""Lesson 6 · Noise makes clusters too: the same pipeline on random vectors of the same shape."""

from __future__ import annotations

import numpy as np
import streamlit as st

from lib.cluster.clusters import NOISE
from lib.errors import EmbedscopeError
from lib.figures.lessons import highlight_figure, score_bars
from lib.figures.map import ColorBy
from lib.ingest.corpus import Corpus
from lib.reduce.layouts import Projection
from lib.teach.lessons import random_like
from pages._common import clustering, md, show_error
from pages.lesson_parts.common import (
    MAP_CLUSTERS,
    K,
    corpus_context,
    fits_new_maps,
    hover,
    map_id,
    map_of,
    recovery,
    umap_params,
)

RANDOM_SEED = 0
REAL, RANDOM = "Your corpus", "Random vectors"

Side = tuple[np.ndarray, str, Projection]  # vectors, their key, their map


@st.cache_resource(show_spinner=False, max_entries=4)
def random_vectors(_vectors: np.ndarray, key: str, seed: int) -> np.ndarray:
    """Random unit vectors shaped like the embeddings: structure removed, size kept."""
    return random_like(_vectors, seed)


def show() -> None:
    corpus, vectors, key = corpus_context()
    st.markdown(
        "Clustering always finds something. Here the corpus's vectors are replaced by **random "
        "vectors of the same number and dimension**, then mapped with the same UMAP settings and "
        "clustered the same way (HDBSCAN on the map). Random data has no groups, yet clusters "
        "are still found, and even named after their commonest words. With a label "
        f"column, **label recovery** (how often a document's {K} nearest neighbours mostly share "
        "its label) falls to the **majority share**, what always guessing the commonest label "
        "would score: the blobs carry no meaning."
    )
    if not fits_new_maps():
        return
    # The random vectors' key must not start with the corpus's: the engine serves a bundled
    # sample's shipped maps by that prefix, and the random side would show the real map.
    random_key = f"random-{RANDOM_SEED}|{key}"
    noise = random_vectors(vectors, key, RANDOM_SEED)
    sides = {
        REAL: (vectors, key, map_of(vectors, key, umap_params())),
        RANDOM: (noise, random_key, map_of(noise, random_key, umap_params())),
    }
    labels = hover(corpus, corpus.content_hash)
    for column, (title, (matrix, matrix_key, mapped)) in zip(
        st.columns(2), sides.items(), strict=True
    ):
        try:
            found = clustering(matrix, corpus, matrix_key, MAP_CLUSTERS, mapped)
        except EmbedscopeError as error:
            column.error(md(error))
            return
        color = ColorBy("cluster", found.point_names())
        figure = highlight_figure(mapped.coords, labels, color=color, title=title)
        column.plotly_chart(figure, key=f"lessons_noise_{title.split()[0].lower()}")
        column.metric("Clusters found", f"{found.n_clusters}")
        column.caption(f"{found.sizes.get(NOISE, 0):,} documents fit no cluster.")
    compare_recovery(corpus, sides)


def compare_recovery(corpus: Corpus, sides: dict[str, Side]) -> None:
    """Label recovery on the real and the random map, against the majority share."""
    label_columns = corpus.label_columns()
    if not label_columns:
        st.info("This corpus has no label column, so there is no label recovery to compare.")
        return
    column = st.selectbox("Label column", label_columns, key="lessons_noise_label")
    values = corpus.metadata[column].astype(str).tolist()
    try:
        scores = {
            title: recovery(matrix, mapped.coords, values, matrix_key, map_id(mapped), column, K)
            for title, (matrix, matrix_key, mapped) in sides.items()
        }
    except EmbedscopeError as error:
        show_error(error)
        return
    chart, numbers = st.columns([3, 2])
    bars = {
        "full dimension": [report.full for report in scores.values()],
        "on the map": [report.on_map for report in scores.values()],
        "majority share": [report.baseline for report in scores.values()],
    }
    y_title = f"label recovery of '{column}' (k = {K})"
    chart.plotly_chart(score_bars(list(scores), bars, y_title=y_title), key="lessons_noise_bars")
    numbers.metric("Recovery on the real map", f"{scores[REAL].on_map:.3f}")
    numbers.metric("Recovery on the random map", f"{scores[RANDOM].on_map:.3f}")
    numbers.metric("Majority share (the baseline)", f"{scores[RANDOM].baseline:.3f}")
