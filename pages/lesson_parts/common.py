"""What the lessons share: the session's corpus, its vectors and map, pickers, measurements.

Every measurement comes from the engine, which keys it by everything it depends on (vectors,
map, labels); this module caches nothing. Lib errors stop a lesson with a message, never a
traceback.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

import numpy as np
import streamlit as st

from lib.cluster.clusters import ClusterParams
from lib.embed.models import DEFAULT_MODEL, format_seconds
from lib.errors import EmbedscopeError
from lib.figures.map import ColorBy, hover_labels
from lib.ingest.corpus import Corpus
from lib.query.words import WordVectors
from lib.reduce.layouts import Projection, UMAPParams, estimate_umap_seconds
from lib.service.engine import Embedding, LayoutParams
from lib.share.bookmarks import LessonStore
from lib.store.caches import default_home
from lib.teach.lessons import RecoveryReport
from pages import state
from pages._common import (
    active_corpus,
    active_embedding,
    clustering,
    current_map_params,
    engine,
    hosted,
    layout,
    md,
    show_error,
    text_model,
)

K = 10  # neighbours behind every kNN score of the lessons
ASK_FROM = 5.0  # seconds: maps expected to take longer wait for a click
# HDBSCAN on the map: what the eye would call clusters (the app default is KMeans on embeddings)
MAP_CLUSTERS = ClusterParams(method="hdbscan", space="map")
FOUND_CLUSTERS = "found clusters"


def glove() -> WordVectors:
    """GloVe 6B 50d, read once per server by the engine (shared, never mutated)."""
    with st.spinner("Loading the GloVe word vectors…"):
        return engine().glove()


def hover(corpus: Corpus) -> list[str]:
    """Escaped hover labels of this session's corpus: its texts and metadata."""
    return hover_labels(corpus.texts, corpus.metadata)


def recovery(found: Embedding, mapped: Projection, labels: list, k: int) -> RecoveryReport:
    """Label recovery of `labels` in full dimension, on one map, and the majority baseline."""
    with st.spinner("Measuring label recovery…"):
        return engine().recovery(found, mapped, labels, k)


def lesson_store() -> LessonStore:
    """Saved bookmark lessons of this server's data home, shared by every session."""
    return _lesson_store(str(default_home()))


@st.cache_resource(show_spinner=False, max_entries=4)
def _lesson_store(home: str) -> LessonStore:
    return LessonStore(home)


def fits_new_maps() -> bool:
    """Whether this lesson may fit new UMAP maps; on a hosted server it says why it may not."""
    if not hosted().hosted:
        return True
    st.info(
        "This lesson fits new UMAP maps for you, and this hosted server fits none per visitor "
        "(it serves its saved maps only). Run embedscope on your own machine to try it.",
        icon=":material/lock:",
    )
    return False


def sentence_model() -> str:
    """The corpus's text model, or the bundled one when the corpus came as uploaded vectors."""
    return state.source().model_name or DEFAULT_MODEL


def embed(texts: list[str], model_name: str) -> np.ndarray:
    """Unit vectors of a few typed texts (through the shared embedding cache)."""
    text_model(model_name)  # a spinner while it loads, the first time
    return engine().embed_queries(model_name, texts)


def corpus_context() -> tuple[Corpus, Embedding]:
    """The session's corpus and its vectors (stops the page on failure)."""
    try:
        corpus = active_corpus()
        found = active_embedding(corpus)
    except EmbedscopeError as error:
        st.error(f"Could not embed this corpus: {md(error)}")
        st.stop()
    return corpus, found


def honesty_k(n_points: int) -> int:
    """K, or fewer on a tiny corpus: trustworthiness needs k below half the points."""
    return max(1, min(K, (n_points - 1) // 2))


def umap_params() -> UMAPParams:
    """The Map page's UMAP settings in 2-D (the defaults when the Map page shows PCA)."""
    params = current_map_params()
    return replace(params, n_components=2) if isinstance(params, UMAPParams) else UMAPParams()


def map_of(found: Embedding, params: LayoutParams) -> Projection:
    """A cached map; lib errors stop the lesson with a message.

    On a hosted server a UMAP map other than the one the Map page shows would be a new fit for
    this visitor: the lesson says so and stops instead.
    """
    if isinstance(params, UMAPParams) and params != current_map_params() and not fits_new_maps():
        st.stop()
    try:
        return layout(found, params)
    except EmbedscopeError as error:
        show_error(error)
        st.stop()


def confirm_maps(wanted: list[tuple[Embedding, UMAPParams]], key: str) -> bool:
    """Say what the maps not computed yet cost; when that is more than ASK_FROM seconds, wait
    for a click (`key` names the button)."""
    missing = [
        (found, params) for found, params in wanted if engine().peek_layout(found, params) is None
    ]
    if not missing:
        return True
    n_points = max(len(found.vectors) for found, _ in missing)
    seconds = estimate_umap_seconds(n_points, len(missing))
    if seconds < ASK_FROM:
        return True
    maps = "A UMAP map" if len(missing) == 1 else f"{len(missing)} UMAP maps"
    st.caption(
        f"{maps} of {n_points:,} documents still to compute: about "
        f"{format_seconds(seconds)} on this server."
    )
    label = "Compute the map" if len(missing) == 1 else f"Compute the {len(missing)} maps"
    return st.button(label, key=key, type="primary")


def _held_map(found: Embedding, params: UMAPParams) -> bool:
    return engine().peek_layout(found, params) is not None


def map_id(mapped: Projection) -> str:
    return f"{mapped.method}:{mapped.params}"


def group_picker(
    corpus: Corpus,
    found: Embedding,
    mapped: Projection,
    widget_key: str,
    *,
    label: str = "Groups",
) -> ColorBy:
    """A label column of the corpus, or the clusters found in the embeddings, as a ColorBy."""
    options = [*corpus.label_columns(), FOUND_CLUSTERS]
    choice = st.selectbox(label, options, key=widget_key)
    if choice == FOUND_CLUSTERS:
        clusters = clustering(found, corpus, ClusterParams(), mapped)
        return ColorBy(FOUND_CLUSTERS, clusters.point_names())
    return ColorBy(choice, corpus.metadata[choice].to_numpy())


def revealed(name: str, guess: str, *, disabled: bool = False) -> bool:
    """A Reveal button that stays pressed while `guess` (what was guessed) is unchanged."""
    if st.button("Reveal", type="primary", key=f"{name}_button", disabled=disabled):
        state.set_revealed_guess(name, guess)
    return not disabled and state.revealed_guess(name) == guess


def digest(*parts: object) -> str:
    return hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()[:16]


def number_column(decimals: int = 3, **options) -> st.column_config.NumberColumn:
    """A table column of numbers shown to `decimals` places."""
    return st.column_config.NumberColumn(format=f"%.{decimals}f", **options)
