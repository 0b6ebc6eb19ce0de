"""Lesson 6 · Noise makes clusters too: the same pipeline on random vectors of the same shape."""

from __future__ import annotations

import streamlit as st

from lib.cluster.clusters import NOISE
from lib.errors import EmbedscopeError
from lib.figures.lessons import highlight_figure, score_bars
from lib.figures.map import ColorBy
from lib.ingest.corpus import Corpus
from lib.reduce.layouts import Projection
from lib.service.engine import Embedding
from pages._common import clustering, engine, md, show_error
from pages.lesson_parts.common import (
    MAP_CLUSTERS,
    K,
    confirm_maps,
    corpus_context,
    fits_new_maps,
    hover,
    map_of,
    recovery,
    umap_params,
)

RANDOM_SEED = 0
REAL, RANDOM = "Your corpus", "Random vectors"

Side = tuple[Embedding, Projection]  # vectors and their map


def show() -> None:
    corpus, found = corpus_context()
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
    noise = engine().random_like(found, RANDOM_SEED)
    if not confirm_maps([(found, umap_params()), (noise, umap_params())], "lessons_noise_go"):
        return
    sides = {
        REAL: (found, map_of(found, umap_params())),
        RANDOM: (noise, map_of(noise, umap_params())),
    }
    labels = hover(corpus)
    for column, (title, (side, mapped)) in zip(st.columns(2), sides.items(), strict=True):
        try:
            clusters = clustering(side, corpus, MAP_CLUSTERS, mapped)
        except EmbedscopeError as error:
            column.error(md(error))
            return
        color = ColorBy("cluster", clusters.point_names())
        figure = highlight_figure(mapped.coords, labels, color=color, title=title)
        column.plotly_chart(figure, key=f"lessons_noise_{title.split()[0].lower()}")
        column.metric("Clusters found", f"{clusters.n_clusters}")
        column.caption(f"{clusters.sizes.get(NOISE, 0):,} documents fit no cluster.")
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
            title: recovery(side, mapped, values, K) for title, (side, mapped) in sides.items()
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
