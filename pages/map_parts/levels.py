"""The Map page's levels of detail: a "Detail" control (Broad / Medium / Fine) that picks which
level of nested clusters (lib/cluster/hierarchy.py) colours the map and names it, with the
names placed without overlap (lib/figures/labels.py).

A control rather than zoom: Streamlit hears a Plotly chart's selections, not its zoom, so the
server cannot swap names as the reader zooms without a rerun it never gets; a segmented control
is one click, works the same in 2-D and 3-D, and is testable. Changing it redraws the figure,
which clears a selection on the map (a new figure is a new widget).
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from lib.cluster.clusters import Clustering
from lib.cluster.hierarchy import BROAD, FINE, MEDIUM, ClusterLevels, Level
from lib.figures.labels import LabelStyle, add_labels, extent_of, level_labels, place_labels
from lib.ingest.corpus import Corpus
from lib.service.engine import Embedding
from pages import state
from pages._common import engine, queue_place

DETAIL_KEY = "map_detail"
DETAIL_OPTIONS = {"Broad": BROAD, "Medium": MEDIUM, "Fine": FINE}


def levels_of(found: Embedding, corpus: Corpus, clusters: Clustering) -> ClusterLevels:
    """The nested levels above the page's clustering (the fine level), from the engine."""
    with st.spinner("Grouping the clusters…"), queue_place():
        return engine().cluster_levels(found, corpus, clusters)


def detail_control(levels: ClusterLevels) -> Level:
    """The segmented control over the levels this clustering has; the level chosen."""
    options = [label for label, name in DETAIL_OPTIONS.items() if name in levels.names]
    if st.session_state.get(DETAIL_KEY) not in options:
        state.set_widget(DETAIL_KEY, "Fine")
    counts = {label: levels.level(DETAIL_OPTIONS[label]).n_clusters for label in options}
    chosen = st.segmented_control(
        "Detail", options, key=DETAIL_KEY, format_func=lambda o: f"{o} ({counts[o]})",
        help="Nested groups: each fine cluster lies inside one medium and one broad group. "
        "Pick how much detail the colours and names show.",
    )  # fmt: skip
    return levels.level(DETAIL_OPTIONS[chosen or "Fine"])


def draw_level_names(figure: go.Figure, level: Level, coords: np.ndarray) -> go.Figure:
    """The level's cluster names on a 2-D map, placed so that none overlap (some may be left
    out on a crowded map; hovering still names every point's cluster)."""
    wanted = level_labels(level, coords)
    placed = place_labels(
        wanted.anchors, wanted.texts, extent_of(coords), priorities=wanted.priorities,
        style=LabelStyle(font_size=wanted.font_size),
    )  # fmt: skip
    left_out = int(placed.dropped.sum())
    if left_out:
        st.caption(
            f"{left_out} of {len(placed.texts)} cluster names are left out where they had no room: "
            "hover a point to read its cluster, or pick less detail."
        )
    return add_labels(figure, placed)
