"""What the lessons share: cached data and measurements, the session's corpus and map, pickers.

Each expensive step is cached on the embeddings' content key and parameters; big arrays pass
unhashed (`_` prefix). Lib errors stop a lesson with a message, never a traceback.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

import numpy as np
import pandas as pd
import streamlit as st

from lib.cluster.clusters import ClusterParams
from lib.embed.models import DEFAULT_MODEL, embed_texts
from lib.errors import EmbedscopeError
from lib.figures.map import ColorBy, hover_labels
from lib.ingest.corpus import DATA_DIR, Corpus
from lib.query.words import WordVectors, load_glove
from lib.reduce.layouts import Projection, UMAPParams
from lib.service.engine import LayoutParams
from lib.share.bookmarks import LessonStore
from lib.store.caches import default_home
from lib.teach.lessons import RecoveryReport, recovery_report
from pages import state
from pages._common import (
    active_corpus,
    active_vectors,
    clustering,
    current_map_params,
    embedding_cache,
    hosted,
    md,
    projection,
    show_error,
    text_model,
)

K = 10  # neighbours behind every kNN score of the lessons
# HDBSCAN on the map: what the eye would call clusters (the app default is KMeans on embeddings)
MAP_CLUSTERS = ClusterParams(method="hdbscan", space="map")
FOUND_CLUSTERS = "found clusters"


@st.cache_resource(show_spinner="Loading the GloVe word vectors…")
def glove() -> WordVectors:
    """GloVe 6B 50d, read once per server and shared (never mutated)."""
    return load_glove()


@st.cache_data(show_spinner=False)
def read_data(name: str) -> pd.DataFrame:
    """A bundled CSV from data/ (traps, analogies), read once."""
    return pd.read_csv(DATA_DIR / name, keep_default_na=False)


@st.cache_data(show_spinner=False, max_entries=8)
def hover(_corpus: Corpus, content_hash: str) -> list[str]:
    """Escaped hover labels of the corpus, built once per corpus."""
    return hover_labels(_corpus.texts, _corpus.metadata)


@st.cache_data(show_spinner="Measuring label recovery…", max_entries=32)
def recovery(
    _vectors: np.ndarray,
    _coords: np.ndarray,
    _labels: list,
    key: str,
    map_key: str,
    column: str,
    k: int,
) -> RecoveryReport:
    """Label recovery of `column` in full dimension, on one map, and the majority baseline."""
    return recovery_report(_vectors, _coords, _labels, k)


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
    return embed_texts(texts, text_model(model_name), cache=embedding_cache()).vectors


def corpus_context() -> tuple[Corpus, np.ndarray, str]:
    """The session's corpus, its vectors and their content key (stops the page on failure)."""
    try:
        corpus = active_corpus()
        vectors, key = active_vectors(corpus)
    except EmbedscopeError as error:
        st.error(f"Could not embed this corpus: {md(error)}")
        st.stop()
    return corpus, vectors, key


def honesty_k(n_points: int) -> int:
    """K, or fewer on a tiny corpus: trustworthiness needs k below half the points."""
    return max(1, min(K, (n_points - 1) // 2))


def umap_params() -> UMAPParams:
    """The Map page's UMAP settings in 2-D (the defaults when the Map page shows PCA)."""
    params = current_map_params()
    return replace(params, n_components=2) if isinstance(params, UMAPParams) else UMAPParams()


def map_of(vectors: np.ndarray, key: str, params: LayoutParams) -> Projection:
    """A cached map; lib errors stop the lesson with a message.

    On a hosted server a UMAP map other than the one the Map page shows would be a new fit for
    this visitor: the lesson says so and stops instead.
    """
    if isinstance(params, UMAPParams) and params != current_map_params() and not fits_new_maps():
        st.stop()
    try:
        return projection(vectors, key, params)
    except EmbedscopeError as error:
        show_error(error)
        st.stop()


def map_id(mapped: Projection) -> str:
    return f"{mapped.method}:{mapped.params}"


def group_picker(
    corpus: Corpus,
    vectors: np.ndarray,
    key: str,
    mapped: Projection,
    widget_key: str,
    *,
    label: str = "Groups",
) -> ColorBy:
    """A label column of the corpus, or the clusters found in the embeddings, as a ColorBy."""
    options = [*corpus.label_columns(), FOUND_CLUSTERS]
    choice = st.selectbox(label, options, key=widget_key)
    if choice == FOUND_CLUSTERS:
        found = clustering(vectors, corpus, key, ClusterParams(), mapped)
        return ColorBy(FOUND_CLUSTERS, found.point_names())
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
