"""Page plumbing: thin st.cache_resource shells over the engine, progress display, the shared
sidebar and share links, and safe text display.

Not a page itself (app.py routes only to the page files). The engine (lib/service/engine.py)
owns every key and get-or-compute; this module only adds what needs Streamlit: spinners and
progress bars while the engine computes, and which corpus this session shows (pages/state.py).
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import streamlit as st

from lib.cluster.clusters import Clustering, ClusterParams
from lib.embed.models import DEFAULT_MODEL, TextModel, estimate_embedding, format_seconds
from lib.errors import EmbedscopeError, StoreError
from lib.ingest.corpus import Corpus, list_samples
from lib.measure.honesty import HonestyReport
from lib.query.expressions import pointer
from lib.reduce.layouts import Projection
from lib.service.engine import Embedding, Engine, LayoutParams, SavedView
from lib.share.hosting import HostedConfig, ProjectListing, hosted_config, listed_projects
from lib.share.projects import (
    Project,
    ProjectStore,
    check_project_id,
)
from lib.store.caches import EmbeddingCache, default_home
from pages import state
from pages.progress import ProgressText, draw_preview, pinned_progress

DEFAULT_SAMPLE = "topics"
PREVIEW_FROM = 2_000  # corpora this big show a growing preview map while they embed
PROJECTS_IN_MEMORY = 8
_MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")

NO_TEXT_MODEL = (
    "These vectors were uploaded without a text model, so free-text terms are off; "
    "document ids (#12) still work."
)


# --- the engine and the stores, one per data home, shared by every session -------------------


def engine() -> Engine:
    """This server's engine (EMBEDSCOPE_HOME names the data home)."""
    return _engine(str(default_home()))


@st.cache_resource(show_spinner=False, max_entries=4)
def _engine(home: str) -> Engine:
    return Engine(Path(home))


def project_store() -> ProjectStore:
    """Saved projects of this server's data home, shared by every session."""
    return _project_store(str(default_home()))


@st.cache_resource(show_spinner=False, max_entries=4)
def _project_store(home: str) -> ProjectStore:
    """One ProjectStore per data home: `home` keys the cache, ProjectStore() opens its store."""
    return ProjectStore()


@st.cache_resource(show_spinner="Opening the project…", max_entries=PROJECTS_IN_MEMORY)
def _project(home: str, project_id: str) -> Project:
    """A saved project, read once per server (arrays memory-mapped) and shared read-only."""
    return project_store().load(project_id)


def saved_project(project_id: str) -> Project:
    """A saved project this server offers (a hosted server's allow-list applies)."""
    if not hosted().allows(check_project_id(project_id)):
        raise StoreError(f"This server does not offer a project with id {project_id}.")
    return _project(str(default_home()), project_id)


def sample_corpus(name: str) -> Corpus:
    """A bundled sample (immutable, shared by every session)."""
    return engine().sample(name)


def text_model(name: str) -> TextModel:
    """The loaded text model (one per server), with a spinner the first time."""
    with st.spinner("Loading the embedding model…"):
        return engine().model(name)


def embedding_cache() -> EmbeddingCache:
    """The persistent (model, text) → vector cache shared by all sessions."""
    return engine().embedding_cache


# --- the session's corpus and its vectors -------------------------------------------------------


def init_session() -> None:
    """Session defaults, set once per browser tab; starts the server's warm-up."""
    start_warm_up()
    state.init(DEFAULT_SAMPLE, DEFAULT_MODEL)


def active_corpus() -> Corpus:
    """The corpus this session shows (a new session starts on the bundled sample)."""
    source = state.source()
    if source.kind == state.SAMPLE:
        return sample_corpus(source.name)
    if source.kind == state.PROJECT:
        return saved_project(source.name).corpus
    return state.uploaded_corpus()


def active_embedding(corpus: Corpus | None = None) -> Embedding:
    """The session corpus's vectors (embedded on first use, with progress)."""
    source = state.source()
    if source.kind == state.PROJECT:
        return _adopt(saved_project(source.name))
    if source.kind == state.VECTORS:
        found = engine().embedding(source.name, None)
        if found is None:
            raise StoreError("The uploaded vectors are no longer on this server: upload again.")
        return found
    return corpus_embedding(corpus or active_corpus(), source.model_name)


def _adopt(project: Project) -> Embedding:
    """The project's vectors, map and clusters, served by the engine exactly as saved."""
    view = project.view
    clusters = Clustering(project.cluster_labels, project.cluster_names, _sizes(project))
    saved = SavedView(project.coords, view.layout_params(), view.cluster_params(), clusters)
    return engine().adopt_saved(f"project:{project.id}", project.vectors, project.model_name, saved)


def _sizes(project: Project) -> dict[int, int]:
    ids, counts = np.unique(project.cluster_labels, return_counts=True)
    return {int(c): int(n) for c, n in zip(ids, counts, strict=True)}


def current_map_params() -> LayoutParams:
    """The layout the Map page shows: a read-only project's as saved, else the one chosen."""
    source = state.source()
    if source.kind == state.PROJECT and source.read_only:
        return saved_project(source.name).view.layout_params()
    return state.map_layout()


def current_cluster_params() -> ClusterParams:
    """The clustering the Map page shows: a read-only project's as saved, else the one chosen."""
    source = state.source()
    if source.kind == state.PROJECT and source.read_only:
        return saved_project(source.name).view.cluster_params()
    return state.map_clusters()


def current_map(corpus: Corpus | None = None) -> tuple[Corpus, Embedding, Projection]:
    """The session's corpus, its vectors and the map the Map page shows."""
    corpus = corpus or active_corpus()
    found = active_embedding(corpus)
    return corpus, found, layout(found, current_map_params())


def text_embedder() -> Callable[[list[str]], np.ndarray] | None:
    """Embed free text with the corpus's model (through the cache); None for uploaded vectors."""
    model_name = state.source().model_name
    if model_name is None:
        return None
    text_model(model_name)  # loads with a spinner now, not inside a query
    return lambda texts: engine().embed_queries(model_name, texts)


def set_corpus(corpus: Corpus, model_name: str | None) -> None:
    """Show a sample (when `corpus` is one) or a visitor's own corpus, embedded with the model."""
    if is_bundled_sample(corpus):
        state.set_source(state.Source(state.SAMPLE, corpus.source, model_name))
    else:
        state.set_source(state.Source(state.UPLOAD, corpus.content_hash, model_name), corpus)


def show_vectors(corpus: Corpus, vectors: np.ndarray) -> None:
    """Show uploaded vectors (kept by the engine under a key of their numbers)."""
    key = engine().uploaded(vectors).key
    state.set_source(state.Source(state.VECTORS, key, None), corpus)


def open_project(project_id: str) -> Project:
    """Show a saved project read-only: its vectors, map and clusters, with no re-embedding."""
    project = saved_project(project_id)
    state.set_source(state.Source(state.PROJECT, project.id, project.model_name, read_only=True))
    view = project.view
    state.set_map_view(view.layout_params(), view.cluster_params(), view.color_by)
    state.set_dimensions(view.dimensions)
    state.set_curation(project.curation)
    return project


def is_bundled_sample(corpus: Corpus) -> bool:
    """True when the corpus is exactly one of the bundled samples (so a stable link exists)."""
    return corpus.source in list_samples() and (
        sample_corpus(corpus.source).content_hash == corpus.content_hash
    )


def corpus_embedding(corpus: Corpus, model_name: str) -> Embedding:
    """Vectors of `corpus`: from a cache at once, else embedded with progress pinned in view
    (the estimate first, then the measured rate and time left; see `pinned_progress`)."""
    found = engine().peek_vectors(corpus, model_name)
    if found is not None:
        return found
    total = len(corpus)
    estimate = estimate_embedding(model_name, corpus.texts)
    started = time.perf_counter()
    # the record in the page's flow (with the growing preview); the live progress pinned in view
    with (
        pinned_progress() as box,
        st.status(f"Embedding {total:,} documents…", expanded=True) as status,
    ):
        box.markdown(f"**Embedding {total:,} documents** with {md(model_name)}")
        with box:
            text_model(model_name)
        bar = box.progress(0.0, text=f"Estimate before starting: {estimate.summary()}.")
        tracker = ProgressText(estimate.seconds)
        report = lambda done, total: bar.progress(done / max(total, 1), text=tracker(done, total))  # noqa: E731
        on_step = None
        if total >= PREVIEW_FROM:
            preview = st.empty()
            on_step = lambda rows, vectors: draw_preview(preview, corpus, rows, vectors)  # noqa: E731
        with box, queue_place():  # a wait for other visitors' jobs is said in view too
            found = engine().vectors(corpus, model_name, progress=report, on_step=on_step)
        seconds = format_seconds(time.perf_counter() - started)
        status.update(
            label=f"Embedded {total:,} documents in {seconds}", state="complete", expanded=False
        )
    return found


# --- maps, clusters and measurements (the engine computes; these show that it does) ------------


def layout(found: Embedding, params: LayoutParams) -> Projection:
    """The map of `found` for `params`; computing it shows a spinner, repeats are instant."""
    mapped = engine().peek_layout(found, params)
    if mapped is not None:
        return mapped
    wait_for_warm_up()
    with st.spinner("Computing the map…", show_time=True), queue_place():
        return engine().layout(found, params)


def clustering(
    found: Embedding, corpus: Corpus, params: ClusterParams, mapped: Projection
) -> Clustering:
    """Clusters of the documents, named by words of `corpus`."""
    with st.spinner("Finding clusters…"), queue_place():
        return engine().clusters(found, corpus, params, mapped)


def true_neighbors(found: Embedding, k: int) -> np.ndarray:
    """Exact full-dimension kNN (n, k), computed once per vectors and k."""
    return engine().true_neighbors(found, k)


def honesty(found: Embedding, mapped: Projection, k: int) -> HonestyReport:
    """Share of true neighbours kept on this map, per point, plus trustworthiness."""
    with st.spinner("Measuring how honest the map is…"), queue_place():
        return engine().honesty(found, mapped, k)


@contextlib.contextmanager
def queue_place() -> Iterator[None]:
    """While a heavy job started inside waits for its turn on this server (first come, first
    served: `lib.service.queue`), show the visitor how many jobs are ahead of theirs."""
    slot = st.empty()

    def show(ahead: int) -> None:
        jobs = "job" if ahead == 1 else "jobs"
        slot.info(
            f"In the queue: {ahead} {jobs} of other visitors ahead of yours. This server runs "
            "one heavy job (embedding, a map, clusters) at a time, in arrival order.",
            icon=":material/hourglass_top:",
        )

    try:
        with engine().queue.reporting(show):
            yield
    finally:
        slot.empty()


# --- warm-up ------------------------------------------------------------------------------------


def start_warm_up() -> threading.Thread | None:
    """Once per server process: load the default model (into the engine, where the pages find
    it) and import and compile UMAP, in a background thread; logs "embedscope: warm" when done.

    EMBEDSCOPE_WARM_UP=0 skips it (the tests do, to keep compilation serial).
    """
    from lib.service import warmup

    the_engine = engine()
    return warmup.start_warm_up(lambda: the_engine.model(DEFAULT_MODEL))


def wait_for_warm_up() -> None:
    """Let a running warm-up finish before compiling anything else: numba compiles one at a time."""
    thread = start_warm_up()
    if thread is not None and thread.is_alive():
        with st.spinner("Finishing the server's warm-up (loading the model, compiling UMAP)…"):
            thread.join()


# --- display ------------------------------------------------------------------------------------


def show_error(
    error: EmbedscopeError, source: str | None = None, *, what: str | None = None
) -> None:
    """A lib error as a message (after `what` failed, when given); for a malformed expression
    also the source with a caret. The one way pages show errors."""
    st.error(md(f"{what}: {error}" if what else error))
    position = getattr(error, "position", None)
    if source is not None and position is not None:
        st.code(pointer(source, position), language=None)


def md(text: object) -> str:
    """User text made inert for st.markdown/st.caption: every markdown and HTML special escaped."""
    return _MARKDOWN_SPECIALS.sub(r"\\\1", str(text))


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
