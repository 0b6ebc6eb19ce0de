"""Lesson 4 · Parameters matter: a grid of UMAP maps over n_neighbors × min_dist."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import streamlit as st

from lib.errors import EmbedscopeError
from lib.figures.colors import category_colors
from lib.figures.lessons import PANEL_POINTS, small_multiples
from lib.ingest.corpus import Corpus
from lib.reduce.layouts import UMAPParams
from lib.service.engine import Embedding
from lib.teach.sampling import lesson_sample
from pages import state
from pages._common import clustering, engine, honesty, layout, show_error
from pages.lesson_parts.common import (
    MAP_CLUSTERS,
    confirm_maps,
    corpus_context,
    fits_new_maps,
    group_picker,
    honesty_k,
    map_of,
    number_column,
    umap_params,
)

GRID_NEIGHBOURS = (5, 15, 50)
GRID_MIN_DISTS = (0.0, 0.1, 0.5)
TABLE_COLUMNS = ["n_neighbors", "min_dist", "clusters", "kNN kept"]


def show() -> None:
    corpus, found = corpus_context()
    st.markdown(
        "UMAP has two main knobs. **n_neighbors** (rows) sets how many neighbours each point "
        "listens to: small values keep fine local detail, large ones the big picture. "
        "**min_dist** (columns) sets how tightly points may pack. Same vectors, one map per "
        "pair of settings; each title gives the number of clusters HDBSCAN finds on that map "
        "and the share of true neighbours it keeps (kNN kept). Clusters you see can be a "
        "setting, not a fact."
    )
    if not fits_new_maps():
        return
    sample = lesson_sample(len(found.vectors))
    if sample.sampled:
        st.caption(sample.note())
    whole, corpus = corpus, sample.corpus(corpus)
    found = engine().sample_of(found, sample)
    vectors = found.vectors
    grid = [
        replace(umap_params(), n_neighbors=n, min_dist=d)
        for n in GRID_NEIGHBOURS
        for d in GRID_MIN_DISTS
    ]
    if not confirm_maps([(found, params) for params in grid], "lessons_grid_go"):
        return
    try:
        panels, titles, table = measure_grid(corpus, found, grid)
    except EmbedscopeError as error:
        show_error(error)
        return
    main_map = map_of(found, grid[len(grid) // 2])  # the centre: 15 · 0.1, computed above
    color = group_picker(corpus, found, main_map, "lessons_grid_color", label="Colour by")
    labels = whole.metadata.get(color.name)  # a sample keeps the whole corpus's colours
    colors = None if labels is None else category_colors(labels.to_numpy())
    grid_figure = small_multiples(panels, titles, color.values, colors=colors)
    st.plotly_chart(grid_figure, key="lessons_grid_chart")
    if len(vectors) > PANEL_POINTS:
        st.caption(
            f"Each panel draws the same random {PANEL_POINTS:,} of the {len(vectors):,} documents."
        )
    st.dataframe(table, hide_index=True, column_config={"kNN kept": number_column()})
    choice = st.selectbox(
        "Make one of these the Map page's map",
        range(len(grid)),
        format_func=lambda i: f"n_neighbors {grid[i].n_neighbors} · min_dist {grid[i].min_dist}",
        key="lessons_grid_pick",
    )
    if st.button("Make this the main map", key="lessons_grid_apply"):
        state.set_map_layout(grid[choice])
        st.switch_page("pages/map.py")


def measure_grid(
    corpus: Corpus, found: Embedding, grid: list[UMAPParams]
) -> tuple[list[np.ndarray], list[str], pd.DataFrame]:
    """Each map of the grid (with a progress bar), its title, and a table of its numbers."""
    k = honesty_k(len(found.vectors))
    panels, titles, numbers = [], [], []
    bar = st.progress(0.0, text=f"Computing {len(grid)} maps (they share one neighbour graph)…")
    try:
        for position, params in enumerate(grid):
            bar.progress(
                position / len(grid),
                text=f"Map {position + 1} of {len(grid)}: n_neighbors = {params.n_neighbors}, "
                f"min_dist = {params.min_dist}…",
            )
            mapped = layout(found, params)
            clusters = clustering(found, corpus, MAP_CLUSTERS, mapped)
            report = honesty(found, mapped, k)
            panels.append(mapped.coords)
            titles.append(
                f"n_neighbors {params.n_neighbors} · min_dist {params.min_dist}\n"
                f"{clusters.n_clusters} clusters · kNN kept {report.mean:.2f}"
            )
            numbers.append((params.n_neighbors, params.min_dist, clusters.n_clusters, report.mean))
    finally:
        bar.empty()
    return panels, titles, pd.DataFrame(numbers, columns=TABLE_COLUMNS)
