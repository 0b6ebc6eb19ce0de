"""Shared page plumbing: session defaults, cached engine calls with progress, safe text display.

Not a page itself (app.py routes only to the page files). Every expensive call in the app goes
through one cached function here, keyed by content hashes and parameter dataclasses.
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict

import numpy as np
import streamlit as st

from lib.cluster import Clustering, ClusterParams, cluster_corpus
from lib.corpus import Corpus, load_sample
from lib.embed import DEFAULT_MODEL, TextModel, embed_texts, load_model
from lib.honesty import HonestyReport, honesty_report
from lib.neighbors import exact_knn
from lib.reduce import (
    KnnGraph,
    PCAParams,
    Projection,
    UMAPParams,
    compute_knn,
    knn_size,
    project_pca,
    project_umap,
)
from lib.store import EmbeddingCache

DEFAULT_SAMPLE = "topics"
MEMO_ENTRIES = 8
_MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def init_session() -> None:
    """Session defaults, set once per browser tab (small values only)."""
    st.session_state.setdefault("corpus", None)
    st.session_state.setdefault("model_name", DEFAULT_MODEL)


def md(text: object) -> str:
    """User text made inert for st.markdown/st.caption: every markdown and HTML special escaped."""
    return _MARKDOWN_SPECIALS.sub(r"\\\1", str(text))


def active_corpus() -> Corpus:
    """The session's corpus; a new session starts on the bundled sample so a map shows at once."""
    if st.session_state.get("corpus") is None:
        st.session_state["corpus"] = sample_corpus(DEFAULT_SAMPLE)
    return st.session_state["corpus"]


def current_map_params() -> UMAPParams | PCAParams:
    """The layout chosen on the Map page (kept outside widget state so other pages can reuse it)."""
    return st.session_state.get("map_params") or UMAPParams()


def current_map(corpus: Corpus | None = None) -> tuple[Corpus, np.ndarray, str, Projection]:
    """The session's corpus, its embeddings, their key and the map the Map page shows."""
    corpus = corpus or active_corpus()
    model_name = st.session_state["model_name"]
    vectors = corpus_vectors(corpus, model_name)
    key = vectors_key(corpus, model_name)
    return corpus, vectors, key, projection(vectors, key, current_map_params())


def set_corpus(corpus: Corpus, model_name: str) -> None:
    """Make `corpus` the session's corpus; selections of the previous one no longer apply."""
    st.session_state["corpus"] = corpus
    st.session_state["model_name"] = model_name or DEFAULT_MODEL
    for key in [k for k in st.session_state if str(k).startswith("map_")]:
        del st.session_state[key]


@st.cache_resource(show_spinner=False, max_entries=8)
def sample_corpus(name: str) -> Corpus:
    """Bundled samples are immutable and shared by every session."""
    return load_sample(name)


@st.cache_resource(show_spinner="Loading the embedding model…", max_entries=4)
def text_model(name: str) -> TextModel:
    """One model object per server; shared, never mutated."""
    return load_model(name)


@st.cache_resource(show_spinner=False)
def embedding_cache() -> EmbeddingCache:
    """The persistent (model, text) → vector cache shared by all sessions."""
    return EmbeddingCache()


class _Memo:
    """A small thread-safe LRU of arrays shared across sessions, keyed by content hashes."""

    def __init__(self, size: int) -> None:
        self._items: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self._size = size

    def get(self, key: tuple) -> np.ndarray | None:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
            return self._items.get(key)

    def put(self, key: tuple, value: np.ndarray) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


@st.cache_resource(show_spinner=False)
def _vectors_memo() -> _Memo:
    return _Memo(MEMO_ENTRIES)


def vectors_key(corpus: Corpus, model_name: str) -> str:
    """The content key of a corpus's embeddings: its text hash and the model."""
    return f"{corpus.content_hash}:{model_name}"


def corpus_vectors(corpus: Corpus, model_name: str) -> np.ndarray:
    """Embeddings of the corpus, computed with a live progress bar the first time, then instant."""
    key = (corpus.content_hash, model_name)
    memo = _vectors_memo()
    cached = memo.get(key)
    if cached is not None:
        return cached
    model = text_model(model_name)
    total = len(corpus)
    with st.status(f"Embedding {total:,} documents…", expanded=True) as status:
        bar = st.progress(0.0, text="Looking up the embedding cache…")
        started = time.perf_counter()

        def report(done: int, total: int) -> None:
            bar.progress(done / max(total, 1), text=_rate_text(done, total, started))

        run = embed_texts(corpus.texts, model, cache=embedding_cache(), progress=report)
        seconds = time.perf_counter() - started
        status.update(
            label=f"Embedded {total:,} documents in {seconds:.1f} s "
            f"({run.n_computed:,} computed, {run.n_reused:,} from the cache)",
            state="complete",
            expanded=False,
        )
    memo.put(key, run.vectors)
    return run.vectors


def _rate_text(done: int, total: int, started: float) -> str:
    elapsed = max(time.perf_counter() - started, 1e-6)
    rate = done / elapsed
    eta = (total - done) / rate if rate > 0 else float("inf")
    eta_text = f"{eta:.0f} s left" if np.isfinite(eta) else "estimating…"
    return f"{done:,} / {total:,} documents · {rate:,.0f} docs/s · {eta_text}"


@st.cache_resource(show_spinner=False, max_entries=8)
def knn_graph(_vectors: np.ndarray, key: str, k: int) -> KnnGraph:
    """One kNN graph per corpus and size, shared by every UMAP refit of that corpus."""
    return compute_knn(_vectors, k)


@st.cache_resource(show_spinner=False, max_entries=32)
def _projection(_vectors: np.ndarray, key: str, params: UMAPParams | PCAParams) -> Projection:
    if isinstance(params, PCAParams):
        return project_pca(_vectors, params)
    graph = knn_graph(_vectors, key, knn_size(len(_vectors), params.n_neighbors))
    return project_umap(_vectors, params, graph)


def projection(vectors: np.ndarray, key: str, params: UMAPParams | PCAParams) -> Projection:
    """The map for (embeddings key, params); computing it shows a spinner, repeats are instant."""
    label = "Computing the map (the first UMAP in a new server also compiles code)…"
    with st.spinner(label, show_time=True):
        return _projection(vectors, key, params)


@st.cache_resource(show_spinner=False, max_entries=8)
def true_neighbors(_vectors: np.ndarray, key: str, k: int) -> np.ndarray:
    """Exact full-dimension kNN (n, k), computed once per corpus and k."""
    return exact_knn(_vectors, k).indices


@st.cache_data(show_spinner="Measuring how honest the map is…", max_entries=32)
def _honesty(_vectors, _coords, key: str, layout: str, k: int) -> HonestyReport:
    return honesty_report(_vectors, _coords, k, full_knn=true_neighbors(_vectors, key, k))


def honesty(vectors: np.ndarray, key: str, mapped: Projection, k: int) -> HonestyReport:
    """Share of true neighbours kept on this map, per point, plus trustworthiness."""
    return _honesty(vectors, mapped.coords, key, repr(mapped.params), k)


@st.cache_data(show_spinner="Finding clusters…", max_entries=64)
def _clustering(
    _vectors: np.ndarray, _texts: tuple[str, ...], _coords: np.ndarray | None, key: str, params
) -> Clustering:
    return cluster_corpus(_vectors, _texts, params, map_coords=_coords)


def clustering(
    vectors: np.ndarray, corpus: Corpus, key: str, params: ClusterParams, mapped: Projection
) -> Clustering:
    """Clusters keyed by embeddings + params (+ the map's params when clustering on the map)."""
    if params.space == "map":
        return _clustering(vectors, corpus.texts, mapped.coords, f"{key}|{mapped.params}", params)
    return _clustering(vectors, corpus.texts, None, key, params)
