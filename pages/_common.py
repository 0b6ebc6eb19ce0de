"""Shared page plumbing: session defaults, cached engine calls with progress, safe text display.

Not a page itself (app.py routes only to the page files). Every expensive call in the app goes
through one cached function here, keyed by content hashes and parameter dataclasses.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from urllib.parse import urlencode, urlsplit, urlunsplit

import numpy as np
import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

from lib.engine.cluster import Clustering, ClusterParams, cluster_corpus
from lib.engine.corpus import Corpus, list_samples, load_sample
from lib.engine.embed import (
    DEFAULT_MODEL,
    TextModel,
    cached_vectors,
    embed_in_steps,
    embed_texts,
    load_model,
    model_id_for,
    store_corpus_vectors,
    stored_corpus_vectors,
)
from lib.engine.honesty import HonestyReport, honesty_report
from lib.engine.neighbors import exact_knn
from lib.engine.reduce import (
    KnnGraph,
    PCAParams,
    Projection,
    UMAPParams,
    compute_knn,
    knn_size,
    project_pca,
    project_umap,
    saved_projection,
    warm_up,
)
from lib.engine.store import EmbeddingCache, ResultCache, default_home, library_versions, result_key
from lib.errors import EmbedscopeError, StoreError
from lib.figures.map import ColorBy, hover_labels, map_figure
from lib.query.expressions import pointer
from lib.share.hosting import HostedConfig, ProjectListing, hosted_config, listed_projects
from lib.share.projects import (
    PROJECT_PARAM,
    Project,
    ProjectStore,
    ProjectView,
    check_project_id,
    share_query,
    share_target,
)

DEFAULT_SAMPLE = "topics"
WARM_UP_ENV = "EMBEDSCOPE_WARM_UP"
PREVIEW_FROM = 2_000  # corpora this big show a growing preview map while they embed
MEMO_ENTRIES = 8
_MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


NO_TEXT_MODEL = (
    "These vectors were uploaded without a text model, so free-text terms are off; "
    "document ids (#12) still work."
)


def _claim_pages_folder() -> None:
    """Route every URL through app.py's st.navigation, even a direct link on a fresh server.

    Streamlit still treats a folder named pages/ beside the entry script as a v1 multipage app
    until some run calls st.navigation; a first visitor opening /map?project=... would otherwise
    get the bare page without the app's frame. Switch that off and rerun through app.py.
    """
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


_claim_pages_folder()


@st.cache_resource(show_spinner=False)
def start_warm_up() -> threading.Thread | None:
    """Once per server, from the first page view on: load the default text model, then compile
    UMAP's numba code, in a background thread, so that no visitor waits for either.

    umap (and with it numba, scipy, scikit-learn) is imported here first: imports racing
    between the thread and a page run can leave a module half initialised. Set
    EMBEDSCOPE_WARM_UP=0 to skip it (the tests do, to keep timings and compilation serial).
    """
    if os.environ.get(WARM_UP_ENV, "1") == "0":
        return None
    import umap  # noqa: F401

    thread = threading.Thread(target=_warm_up_server, name="embedscope-warm-up", daemon=True)
    thread.start()
    return thread


def wait_for_warm_up() -> None:
    """Let a running warm-up finish before compiling anything else: numba compiles one at a time."""
    thread = start_warm_up()
    if thread is not None and thread.is_alive():
        with st.spinner("Finishing the server's warm-up (loading the model, compiling UMAP)…"):
            thread.join()


def init_session() -> None:
    """Session defaults, set once per browser tab.

    corpus: the Corpus on the map; model_name: its text model, None for uploaded vectors;
    own_vectors/own_key: vectors that come from an upload or a saved project instead of the model;
    project: the saved project being viewed (read-only), if any.
    """
    start_warm_up()
    st.session_state.setdefault("corpus", None)
    st.session_state.setdefault("model_name", DEFAULT_MODEL)
    st.session_state.setdefault("own_vectors", None)
    st.session_state.setdefault("own_key", None)
    st.session_state.setdefault("project", None)


def show_error(error: EmbedscopeError, source: str | None = None) -> None:
    """A lib error as a message; for a malformed expression also the source with a caret."""
    st.error(md(error))
    position = getattr(error, "position", None)
    if source is not None and position is not None:
        st.code(pointer(source, position), language=None)


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


def active_vectors(corpus: Corpus | None = None) -> tuple[np.ndarray, str]:
    """The session corpus's vectors and their content key (embedded on first use, with progress)."""
    if st.session_state.get("own_vectors") is not None:
        return st.session_state["own_vectors"], st.session_state["own_key"]
    corpus = corpus or active_corpus()
    model_name = st.session_state["model_name"]
    return corpus_vectors(corpus, model_name), vectors_key(corpus, model_name)


def current_map(corpus: Corpus | None = None) -> tuple[Corpus, np.ndarray, str, Projection]:
    """The session's corpus, its embeddings, their key and the map the Map page shows."""
    corpus = corpus or active_corpus()
    vectors, key = active_vectors(corpus)
    return corpus, vectors, key, projection(vectors, key, current_map_params())


def text_embedder() -> Callable[[list[str]], np.ndarray] | None:
    """Embed free text with the corpus's model (through the cache); None for uploaded vectors."""
    model_name = st.session_state.get("model_name")
    if model_name is None:
        return None
    return lambda texts: embed_texts(texts, text_model(model_name), cache=embedding_cache()).vectors


def set_corpus(
    corpus: Corpus,
    model_name: str | None,
    *,
    own_vectors: np.ndarray | None = None,
    own_key: str | None = None,
    project: Project | None = None,
) -> None:
    """Make `corpus` the session's corpus; settings and selections of the previous one are reset."""
    st.session_state["corpus"] = corpus
    st.session_state["model_name"] = model_name
    st.session_state["own_vectors"] = own_vectors
    st.session_state["own_key"] = own_key
    st.session_state["project"] = project
    for key in [k for k in st.session_state if str(k).startswith("map_")]:
        del st.session_state[key]


def project_store() -> ProjectStore:
    """Saved projects of this server's data home (EMBEDSCOPE_HOME), shared by every session."""
    return _project_store(str(default_home()))


def open_project(project_id: str) -> Project:
    """Show a saved project read-only: its vectors, map and clusters, with no re-embedding.

    A hosted server with a fixed project list opens only those (links to others included).
    """
    if not hosted().allows(check_project_id(project_id)):
        raise StoreError(f"This server does not offer a project with id {project_id}.")
    project = project_store().load(project_id)
    own_key = f"project:{project.id}"
    set_corpus(
        project.corpus, project.model_name, own_vectors=project.vectors, own_key=own_key,
        project=project,
    )  # fmt: skip
    apply_view(project.view)
    return project


def apply_view(view: ProjectView) -> None:
    """Preset the Map page's widgets to a saved view (before they are drawn)."""
    layout = view.layout_params()
    clusters = view.cluster_params()
    st.session_state["map_params"] = layout
    st.session_state["map_view"] = "3D" if view.dimensions == 3 else "2D"
    st.session_state["map_method"] = "PCA" if isinstance(layout, PCAParams) else "UMAP"
    if isinstance(layout, UMAPParams):
        st.session_state["map_n_neighbors"] = layout.n_neighbors
        st.session_state["map_min_dist"] = layout.min_dist
    st.session_state["map_color"] = view.color_by
    st.session_state["map_cluster"] = clusters.method
    st.session_state["map_k"] = clusters.n_clusters
    st.session_state["map_min_size"] = clusters.min_cluster_size
    st.session_state["map_space"] = clusters.space


def follow_share_link() -> None:
    """Open what the URL names (?project=… or ?sample=…, plus dims/color), once per link."""
    try:
        target = share_target(st.query_params)
    except EmbedscopeError as error:
        show_error(error)
        return
    token = (target, st.query_params.get("dims"), st.query_params.get("color"))
    if target is None or st.session_state.get("opened_link") == token:
        return
    st.session_state["opened_link"] = token
    try:
        if target.kind == PROJECT_PARAM:
            open_project(target.name)
        else:
            set_corpus(sample_corpus(target.name), DEFAULT_MODEL)
    except EmbedscopeError as error:
        show_error(error)
        return
    if st.query_params.get("dims") in ("2", "3"):
        st.session_state["map_view"] = f"{st.query_params['dims']}D"
    if st.query_params.get("color"):
        st.session_state["map_color"] = st.query_params["color"]


def share_link(url_path: str) -> str | None:
    """A link that reopens this view on this server, or None when the corpus must be saved first."""
    project: Project | None = st.session_state.get("project")
    corpus = active_corpus()
    if project is not None:
        query = share_query(project_id=project.id)
    elif is_bundled_sample(corpus) and st.session_state.get("model_name") == DEFAULT_MODEL:
        query = share_query(sample=corpus.source)
    else:
        return None
    if st.session_state.get("map_view") == "3D":
        query["dims"] = "3"
    if st.session_state.get("map_color"):
        query["color"] = st.session_state["map_color"]
    parts = urlsplit(st.context.url or "http://localhost:8501/")
    return urlunsplit((parts.scheme, parts.netloc, f"/{url_path}", urlencode(query), ""))


def is_bundled_sample(corpus: Corpus) -> bool:
    """True when the corpus is exactly one of the bundled samples (so a stable link exists)."""
    return corpus.source in list_samples() and (
        sample_corpus(corpus.source).content_hash == corpus.content_hash
    )


def sidebar(url_path: str) -> None:
    """The shared sidebar: what is loaded, and a link that reopens this view."""
    corpus = active_corpus()
    model_name = st.session_state.get("model_name")
    st.markdown(f"**Corpus:** {md(corpus.source)}")
    model_text = md(model_name) if model_name else "uploaded vectors (no text model)"
    st.caption(f"{len(corpus):,} documents · {model_text}")
    if hosted().hosted:
        st.caption("Hosted demo: uploads are off on this server.")
    project: Project | None = st.session_state.get("project")
    if project is not None:
        st.info(f"Saved project **{md(project.title)}**, shown read-only.", icon=":material/lock:")
    st.page_link("pages/corpus.py", label="Load another corpus", icon=":material/upload_file:")
    with st.popover("Copy share link", icon=":material/link:", width="stretch"):
        link = share_link(url_path)
        if link is None:
            st.write("Save this corpus as a project (at the bottom of the Map page) to share it.")
        else:
            st.code(link, language=None, wrap_lines=True)
            st.caption("Anyone who can reach this server opens exactly this view, read-only.")


def saved_result(key: str, params: object, kind: str):
    """The open project's stored map or clusters when they match what is asked, else None."""
    project: Project | None = st.session_state.get("project")
    if project is None or key != f"project:{project.id}":
        return None
    view = project.view
    if kind == "map" and params == view.layout_params():
        return saved_projection(project.coords, params, project.vectors)
    if kind == "clusters" and params.effective() == view.cluster_params().effective():
        sizes = dict(zip(*np.unique(project.cluster_labels, return_counts=True), strict=True))
        sizes = {int(c): int(n) for c, n in sizes.items()}
        return Clustering(project.cluster_labels, project.cluster_names, sizes)
    return None


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
    """The content key of a corpus's embeddings: its text hash and the model at its precision."""
    return f"{corpus.content_hash}:{model_id_for(model_name)}"


def corpus_vectors(corpus: Corpus, model_name: str) -> np.ndarray:
    """Embeddings of the corpus, computed with a live progress bar the first time, then instant."""
    key = (corpus.content_hash, model_name)
    whole_key = vectors_key(corpus, model_name)
    memo = _vectors_memo()
    cached = memo.get(key)
    if cached is None:
        cached = stored_corpus_vectors(result_cache(), whole_key)
    if cached is None:
        cached = cached_vectors(corpus.texts, model_id_for(model_name), embedding_cache())
        if cached is not None:
            store_corpus_vectors(result_cache(), whole_key, cached)
    if cached is not None:
        memo.put(key, cached)
        return cached
    model = text_model(model_name)
    total = len(corpus)
    with st.status(f"Embedding {total:,} documents…", expanded=True) as status:
        bar = st.progress(0.0, text="Looking up the embedding cache…")
        started = time.perf_counter()

        def report(done: int, total: int) -> None:
            bar.progress(done / max(total, 1), text=_rate_text(done, total, started))

        if total < PREVIEW_FROM:
            run = embed_texts(corpus.texts, model, cache=embedding_cache(), progress=report)
        else:
            preview = st.empty()
            run = embed_in_steps(
                corpus.texts, model, cache=embedding_cache(), progress=report,
                on_step=lambda rows, vectors: _draw_preview(preview, corpus, rows, vectors),
            )  # fmt: skip
        seconds = time.perf_counter() - started
        status.update(
            label=f"Embedded {total:,} documents in {seconds:.1f} s "
            f"({run.n_computed:,} computed, {run.n_reused:,} from the cache)",
            state="complete",
            expanded=False,
        )
    store_corpus_vectors(result_cache(), whole_key, run.vectors)
    memo.put(key, run.vectors)
    return run.vectors


def _draw_preview(slot, corpus: Corpus, rows: np.ndarray, vectors: np.ndarray) -> None:
    """A quick PCA map of the random sample embedded so far, while the rest is embedded."""
    coords = project_pca(vectors).coords
    labels = corpus.label_columns()
    color = ColorBy(labels[0], corpus.metadata[labels[0]].to_numpy()[rows]) if labels else None
    hover = hover_labels([corpus.texts[i] for i in rows])
    title = f"Preview: PCA of {len(rows):,} of {len(corpus):,} documents, growing as they embed"
    slot.plotly_chart(map_figure(coords, hover, color=color, title=title, height=420))


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


@st.cache_resource(show_spinner=False)
def result_cache() -> ResultCache:
    """Maps and clusters on disk by content key: a restarted server gets them back at once."""
    return ResultCache()


@st.cache_resource(show_spinner=False, max_entries=32)
def _projection(_vectors: np.ndarray, key: str, params: UMAPParams | PCAParams) -> Projection:
    disk_key = result_key("map", vectors=key, params=repr(params))
    stored = result_cache().get(disk_key)
    if stored is not None:
        arrays, meta = stored
        return saved_projection(
            arrays["coords"], params, _vectors, notes=tuple(meta["notes"]),
            explained_variance=meta["explained_variance"],
        )  # fmt: skip
    if isinstance(params, PCAParams):
        mapped = project_pca(_vectors, params)
    else:
        wait_for_warm_up()
        graph = knn_graph(_vectors, key, knn_size(len(_vectors), params.n_neighbors))
        mapped = project_umap(_vectors, params, graph)
    meta = {"params": repr(params), "notes": list(mapped.notes), "versions": library_versions(),
            "explained_variance": mapped.explained_variance}  # fmt: skip
    result_cache().put(disk_key, {"coords": mapped.coords}, meta)
    return mapped


def projection(vectors: np.ndarray, key: str, params: UMAPParams | PCAParams) -> Projection:
    """The map for (embeddings key, params); computing it shows a spinner, repeats are instant."""
    saved = saved_result(key, params, "map")
    if saved is not None:
        return saved
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
    disk_key = result_key("clusters", vectors=key, params=repr(params))
    stored = result_cache().get(disk_key)
    if stored is not None:
        arrays, meta = stored
        names = {int(c): name for c, name in meta["names"].items()}
        sizes = {int(c): int(n) for c, n in meta["sizes"].items()}
        return Clustering(arrays["labels"], names, sizes)
    found = cluster_corpus(_vectors, _texts, params, map_coords=_coords)
    meta = {"names": found.names, "sizes": found.sizes, "params": repr(params),
            "versions": library_versions()}  # fmt: skip
    result_cache().put(disk_key, {"labels": found.labels}, meta)
    return found


def clustering(
    vectors: np.ndarray, corpus: Corpus, key: str, params: ClusterParams, mapped: Projection
) -> Clustering:
    """Clusters keyed by embeddings + params (+ the map's params when clustering on the map)."""
    saved = saved_result(key, params, "clusters")
    if saved is not None:
        return saved
    if params.space == "map":
        return _clustering(vectors, corpus.texts, mapped.coords, f"{key}|{mapped.params}", params)
    return _clustering(vectors, corpus.texts, None, key, params)


def hosted() -> HostedConfig:
    """This server's hosted-mode settings, read from the environment on every run (cheap).

    A malformed setting stops the page with its message: better than guessing whether uploads
    were meant to be on.
    """
    try:
        return hosted_config()
    except EmbedscopeError as error:
        show_error(error)
        st.stop()


def saved_projects() -> ProjectListing:
    """The saved projects this server lists: all of them, or a hosted server's configured ones."""
    return listed_projects(project_store().list(), hosted())


@st.cache_resource(show_spinner=False)
def _warm_up_server() -> None:
    """The warm-up thread's work: the default model into text_model's cache, then numba.

    Itself a cached function, so that text_model, nested in it, draws no spinner: this thread
    has no page (Streamlit would log a missing ScriptRunContext). A page that needs the model
    meanwhile waits for this load (Streamlit locks each cache entry) instead of loading it again.
    """
    try:
        text_model(DEFAULT_MODEL)
    except EmbedscopeError as error:
        logging.getLogger(__name__).warning("Warm-up: no model %s (%s)", DEFAULT_MODEL, error)
    warm_up()


@st.cache_resource(show_spinner=False, max_entries=4)
def _project_store(home: str) -> ProjectStore:
    """One ProjectStore per data home: `home` keys the cache, ProjectStore() opens its store."""
    return ProjectStore()
