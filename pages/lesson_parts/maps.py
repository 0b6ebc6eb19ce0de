"""Lesson 3 · Same data, different maps: PCA and UMAP side by side, each with its honesty."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from lib.engine.reduce import PCAParams
from lib.errors import EmbedscopeError
from lib.figures.lessons import highlight_figure
from lib.figures.map import ColorBy
from pages._common import honesty, md
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


def show() -> None:
    corpus, vectors, key = corpus_context()
    k = honesty_k(len(vectors))
    umap_map = map_of(vectors, key, umap_params())
    pca_map = map_of(vectors, key, PCAParams())
    st.markdown(
        "The same vectors, two maps. **PCA** keeps the two directions with the most variance: "
        "distances stay linear and honest at large scale, but most of the detail is lost. "
        "**UMAP** keeps each point's near neighbours and lets the big picture go. Under each map: "
        f"**true neighbours kept** (the share of each document's {k} true neighbours that are "
        f"also among its {k} nearest on the map) and **trustworthiness** (1 = no false "
        "neighbours on the map). Pick a group to ring it in both."
    )
    color = group_picker(corpus, vectors, key, umap_map, "lessons_maps_color", label="Colour by")
    rows, chosen = highlighted_group(color)
    labels = hover(corpus, corpus.content_hash)
    sides = zip(st.columns(2), (pca_map, umap_map), ("PCA", "UMAP"), strict=True)
    for column, mapped, title in sides:
        with column:
            try:
                report = honesty(vectors, key, mapped, k)
            except EmbedscopeError as error:
                st.error(md(error))
                continue
            figure = highlight_figure(
                mapped.coords, labels, color=color, rows=rows, highlight_name=chosen, title=title
            )
            st.plotly_chart(figure, key=f"lessons_maps_{title.lower()}")
            honesty_metrics(report, mapped.explained_variance)
    st.caption(
        "t-SNE is left out: on this server it takes far longer than UMAP even on a few hundred "
        "documents, and it cannot place new points on an existing map."
    )


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
