"""Lesson 3 · Same data, different maps: PCA, UMAP and t-SNE side by side, each with its honesty."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from lib.errors import EmbedscopeError
from lib.figures.lessons import highlight_figure
from lib.figures.map import ColorBy
from lib.reduce.layouts import PCAParams, Projection
from lib.reduce.tsne import TSNEParams, estimate_tsne_seconds
from lib.service.engine import Embedding
from pages._common import engine, honesty, hosted, show_error
from pages.lesson_parts.common import (
    corpus_context,
    group_picker,
    honesty_k,
    hover,
    map_of,
    umap_params,
)
from pages.widgets import honesty_metrics

NONE = "(none)"
TSNE_ASK_FROM = 10.0  # seconds: a t-SNE expected to take longer waits for a click


def show() -> None:
    corpus, found = corpus_context()
    k = honesty_k(len(found.vectors))
    umap_map = map_of(found, umap_params())
    pca_map = map_of(found, PCAParams())
    st.markdown(
        "The same vectors, three maps. **PCA** keeps the two directions with the most variance: "
        "distances stay linear and honest at large scale, but most of the detail is lost. "
        "**UMAP** keeps each point's near neighbours and lets the big picture go. **t-SNE** "
        "keeps near neighbours too, but the distances between its groups mean little. Under "
        "each map: "
        f"**true neighbours kept** (the share of each document's {k} true neighbours that are "
        f"also among its {k} nearest on the map) and **trustworthiness** (1 = no false "
        "neighbours on the map). Pick a group to ring it in both."
    )
    color = group_picker(corpus, found, umap_map, "lessons_maps_color", label="Colour by")
    rows, chosen = highlighted_group(color)
    labels = hover(corpus)
    columns = st.columns(3)
    with columns[2]:
        tsne_map = tsne_of(found)
    sides = zip(columns, (pca_map, umap_map, tsne_map), ("PCA", "UMAP", "t-SNE"), strict=True)
    for column, mapped, title in sides:
        if mapped is None:
            continue
        with column:
            try:
                report = honesty(found, mapped, k)
            except EmbedscopeError as error:
                show_error(error)
                continue
            figure = highlight_figure(
                mapped.coords, labels, color=color, rows=rows, highlight_name=chosen, title=title
            )
            st.plotly_chart(figure, key=f"lessons_maps_{title.lower()}")
            honesty_metrics(report, mapped.explained_variance, narrow=True)


def tsne_of(found: Embedding) -> Projection | None:
    """The t-SNE map when it is cached or quick; else its cost and a button (None until then).
    A hosted server computes none for a visitor."""
    params = TSNEParams()
    drawn = engine().peek_layout(found, params)
    if drawn is not None:
        return drawn
    seconds = estimate_tsne_seconds(len(found.vectors))
    if hosted().hosted:
        st.caption("t-SNE: this hosted server computes no new map for a visitor.")
        return None
    if seconds >= TSNE_ASK_FROM:
        st.caption(f"t-SNE of {len(found.vectors):,} documents takes about {seconds:,.0f} s here.")
        if not st.button("Compute t-SNE", key="lessons_maps_tsne"):
            return None
    return map_of(found, params)


def highlighted_group(color: ColorBy) -> tuple[list[int], str]:
    """The rows of the group picked to ring in both maps, and its name (none: [], "")."""
    if color.is_numeric:
        return [], ""
    values = pd.Series(color.values).astype(str)
    choice = st.selectbox(
        "Highlight in both", [NONE, *sorted(values.unique())], key="lessons_maps_pick"
    )
    if choice == NONE:
        return [], ""
    return np.flatnonzero(values.to_numpy() == choice).tolist(), choice
