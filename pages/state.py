"""Every key of st.session_state, and the only functions that write them.

Pages read the session through the getters here and change it through the setters; share links
and saved projects use the same setters. The session holds small things (ids, hashes, parameter
dataclasses, selections); arrays live in the engine's caches.
"""

from __future__ import annotations

import streamlit as st

from lib.engine.reduce import PCAParams, UMAPParams

# Map page view (widget keys are bound to these names, so they survive navigation).
MAP_PARAMS = "map_params"
MAP_METHOD = "map_method"
MAP_VIEW = "map_view"
MAP_N_NEIGHBORS = "map_n_neighbors"
MAP_MIN_DIST = "map_min_dist"


def set_map_layout(params: UMAPParams | PCAParams) -> None:
    """Make `params` the Map page's layout (before its widgets are drawn)."""
    st.session_state[MAP_PARAMS] = params
    st.session_state[MAP_METHOD] = "PCA" if isinstance(params, PCAParams) else "UMAP"
    st.session_state[MAP_VIEW] = "3D" if params.n_components == 3 else "2D"
    if isinstance(params, UMAPParams):
        st.session_state[MAP_N_NEIGHBORS] = params.n_neighbors
        st.session_state[MAP_MIN_DIST] = params.min_dist


# --- Lessons and bookmarks (keys and setters of pages/lessons.py and pages/lesson_parts/) ---
