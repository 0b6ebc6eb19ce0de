"""Every key of st.session_state, and the only functions that write them.

Pages read the session through the getters here and change it through the setters; share links
and saved projects use the same setters. The session holds small things (what is shown as a
`Source`, parameter values, selections); arrays live in the engine's caches. A visitor's own
upload is the one exception: their corpus (texts and metadata) stays in their session.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TypeVar

import streamlit as st

from lib.cluster.clusters import ClusterParams
from lib.errors import check_choice
from lib.ingest.corpus import Corpus
from lib.reduce.layouts import PCAParams, UMAPParams
from lib.reduce.tsne import TSNEParams
from lib.service.engine import LayoutParams
from pages.routes import app_pages

T = TypeVar("T")

SAMPLE, PROJECT, UPLOAD, VECTORS = "sample", "project", "upload", "vectors"
SOURCE_KINDS = (SAMPLE, PROJECT, UPLOAD, VECTORS)


@dataclass(frozen=True)
class Source:
    """What the session shows.

    kind: "sample" (name = sample name), "project" (name = project id), "upload" (name = the
    corpus's content hash; the corpus is kept in the session) or "vectors" (uploaded vectors;
    name = their engine key). model_name: the text model, None for uploaded vectors.
    read_only: a saved project as saved; False once the visitor edits a copy of it.
    """

    kind: str
    name: str
    model_name: str | None
    read_only: bool = False

    def __post_init__(self) -> None:
        check_choice("Source", "kind", self.kind, SOURCE_KINDS)


SOURCE = "source"
UPLOADED_CORPUS = "uploaded_corpus"
PARSED_UPLOAD = "parsed_upload"  # (upload id, parsed frame): the Corpus page reads a file once
OPENED_LINK = "opened_link"

# The Map page's view: widget keys that outlive the page (its widgets use persist_state).
MAP_METHOD = "map_method"
MAP_VIEW = "map_view"
MAP_N_NEIGHBORS = "map_n_neighbors"
MAP_MIN_DIST = "map_min_dist"
MAP_COLOR = "map_color"
MAP_CLUSTER = "map_cluster"
MAP_K = "map_k"
MAP_MIN_SIZE = "map_min_size"
MAP_SPACE = "map_space"
MAP_SAVED = "map_saved"  # id of the project just saved from the Map page (for its confirmation)
SESSION_ID = "session_id"  # a short random id naming this session in the server's timing log


def map_defaults() -> dict[str, object]:
    """The Map page's settings for a new corpus: the engine's default parameters."""
    layout, clusters = UMAPParams(), ClusterParams()
    return {
        MAP_METHOD: "UMAP", MAP_VIEW: "2D", MAP_N_NEIGHBORS: layout.n_neighbors,
        MAP_MIN_DIST: layout.min_dist, MAP_CLUSTER: clusters.method, MAP_K: clusters.n_clusters,
        MAP_MIN_SIZE: clusters.min_cluster_size, MAP_SPACE: clusters.space,
    }  # fmt: skip


def init(default_sample: str, default_model: str) -> None:
    """Session defaults, once per browser tab; and the Map view kept across page changes."""
    st.session_state.setdefault(SOURCE, Source(SAMPLE, default_sample, default_model))
    for key, value in map_defaults().items():
        st.session_state.setdefault(key, value)


def set_widget(key: str, value: object) -> None:
    """Set a widget's value before it is drawn (a callback, a share link's preset)."""
    st.session_state[key] = value


def session_id() -> str:
    """A short random id of this browser session, made at its first call (the timing log)."""
    if SESSION_ID not in st.session_state:
        st.session_state[SESSION_ID] = uuid.uuid4().hex[:12]
    return st.session_state[SESSION_ID]


def source() -> Source:
    """What this session shows; a page run without app.py's frame is first routed through it."""
    require_app_frame()
    return st.session_state[SOURCE]


def require_app_frame() -> None:
    """Every page calls this first: a page file run on its own reruns through app.py."""
    if SOURCE not in st.session_state:
        _route_through_app()


def _route_through_app() -> None:
    """Rerun through app.py when a page file ran on its own.

    On a fresh server, before any run has called st.navigation, Streamlit treats pages/ as a
    folder of stand-alone pages, and a direct link (/map?sample=topics) runs the page without
    the app's frame (no session defaults, no sidebar). Calling st.navigation with the app's
    pages switches that off for the whole server and keeps the linked page known; the rerun
    then goes through app.py, which shows it.
    """
    st.navigation(app_pages(), position="hidden")
    st.rerun()


def parsed_upload(file_id: str, parse: Callable[[], T]) -> T:
    """The session's current upload parsed once: `parse()` runs again only for a new file
    (`file_id` is Streamlit's id of one upload). Held by this session alone, never shared."""
    held = st.session_state.get(PARSED_UPLOAD)
    if held is None or held[0] != file_id:
        held = (file_id, parse())
        st.session_state[PARSED_UPLOAD] = held
    return held[1]


def uploaded_corpus() -> Corpus | None:
    return st.session_state.get(UPLOADED_CORPUS)


def set_source(new: Source, corpus: Corpus | None = None) -> None:
    """Show `new`; the Map view and selections of the previous corpus are reset."""
    st.session_state[SOURCE] = new
    st.session_state[UPLOADED_CORPUS] = corpus
    for key in [k for k in st.session_state if str(k).startswith("map_")]:
        del st.session_state[key]
    st.session_state.update(map_defaults())


def edit_copy() -> None:
    """Let the visitor change a saved project's view (the saved project itself stays as is)."""
    st.session_state[SOURCE] = replace(source(), read_only=False)


def map_layout() -> LayoutParams:
    """The layout the Map page shows, from its settings (other pages reuse it); t-SNE is 2-D."""
    dimensions = 3 if st.session_state.get(MAP_VIEW) == "3D" else 2
    if st.session_state.get(MAP_METHOD) == "PCA":
        return PCAParams(n_components=dimensions)
    if st.session_state.get(MAP_METHOD) == "t-SNE":
        return TSNEParams()
    return replace(map_umap_params(), n_components=dimensions)


def map_clusters() -> ClusterParams:
    """The clustering the Map page shows, from its settings (min cluster size None: automatic)."""
    min_size = st.session_state[MAP_MIN_SIZE]
    return ClusterParams(
        method=st.session_state[MAP_CLUSTER], n_clusters=int(st.session_state[MAP_K]),
        min_cluster_size=None if min_size is None else int(min_size),
        space=st.session_state[MAP_SPACE],
    ).effective()  # fmt: skip


def cluster_method_changed() -> None:
    """A new clustering method starts on its own space (HDBSCAN would find almost nothing in
    the full embeddings KMeans uses) and, for HDBSCAN, the automatic min cluster size."""
    method = st.session_state[MAP_CLUSTER]
    st.session_state[MAP_SPACE] = ClusterParams(method=method).space
    st.session_state[MAP_MIN_SIZE] = None


def set_map_layout(params: LayoutParams) -> None:
    """Make `params` the Map page's layout (before its widgets are drawn)."""
    names = {PCAParams: "PCA", TSNEParams: "t-SNE"}
    st.session_state[MAP_METHOD] = names.get(type(params), "UMAP")
    st.session_state[MAP_VIEW] = "3D" if params.n_components == 3 else "2D"
    if isinstance(params, UMAPParams):
        st.session_state[MAP_N_NEIGHBORS] = params.n_neighbors
        st.session_state[MAP_MIN_DIST] = params.min_dist


def set_map_view(
    layout: LayoutParams, clusters: ClusterParams, color_by: str | None = None
) -> None:
    """Preset the whole Map view (a saved project's, a lesson's)."""
    set_map_layout(layout)
    st.session_state[MAP_CLUSTER] = clusters.method
    st.session_state[MAP_K] = clusters.n_clusters
    st.session_state[MAP_MIN_SIZE] = clusters.min_cluster_size
    st.session_state[MAP_SPACE] = clusters.space
    if color_by:
        st.session_state[MAP_COLOR] = color_by


def set_dimensions(dimensions: int) -> None:
    st.session_state[MAP_VIEW] = f"{dimensions}D"


def map_color() -> str | None:
    return st.session_state.get(MAP_COLOR)


def set_map_color(color_by: str) -> None:
    st.session_state[MAP_COLOR] = color_by


def link_opened(token: object) -> bool:
    """True if this share link was already followed in this session (then it is not again)."""
    if st.session_state.get(OPENED_LINK) == token:
        return True
    st.session_state[OPENED_LINK] = token
    return False


def saved_project_id() -> str | None:
    """The project just saved from the Map page, for its confirmation."""
    return st.session_state.get(MAP_SAVED)


def set_saved_project_id(project_id: str) -> None:
    st.session_state[MAP_SAVED] = project_id


def map_umap_params() -> UMAPParams:
    """The Map page's UMAP settings in 2-D, whatever layout it shows now."""
    return UMAPParams(
        n_neighbors=int(st.session_state[MAP_N_NEIGHBORS]),
        min_dist=float(st.session_state[MAP_MIN_DIST]),
    )


# --- Map page: search, metadata filters, the documents table, curation (issue 22) ---

from lib.query.filters import Filter, decode_filters, encode_filters  # noqa: E402
from lib.share.curation import Curation, curation_from_dict, curation_to_dict  # noqa: E402

MAP_SEARCH_MODE = "map_search_mode"  # "Keyword", "Regex" or "Meaning"
MAP_SEARCH = "map_search"  # the search box
MAP_SEARCH_LIMIT = "map_search_limit"  # hits of a search by meaning
MAP_FILTER_PREFIX = "map_filter:"  # + column name: that column's filter widget
MAP_FILTERS = "map_filters"  # the active filters in their share-link form ("" for none)
MAP_FILTERS_LINKED = "map_filters_linked"  # filters a share link asked for, not yet drawn
MAP_TABLE = "map_table"  # + ":<what is found>": the documents table (a picked row is ringed)
MAP_TABLE_SHOWN = "map_table_shown"  # the key of the documents table drawn last
MAP_CURATION = "map_curation"  # renames, merges and tags (curation_to_dict data)


def filter_widget_key(column: str) -> str:
    return MAP_FILTER_PREFIX + column


def map_filters() -> tuple[Filter, ...]:
    """The Map page's active filters (as last drawn)."""
    return decode_filters(st.session_state.get(MAP_FILTERS, ""))


def set_map_filters(filters: Iterable[Filter]) -> None:
    """Record the filters the Map page applies (for the share link)."""
    st.session_state[MAP_FILTERS] = encode_filters(filters)


def link_filters(filters: tuple[Filter, ...]) -> None:
    """Filters from a share link: the Map page presets its widgets with them when it draws."""
    if not filters:
        return
    st.session_state[MAP_FILTERS_LINKED] = filters
    st.session_state[MAP_FILTERS] = encode_filters(filters)


def take_linked_filters() -> tuple[Filter, ...] | None:
    """The filters a share link asked for, once (None when there are none pending)."""
    return st.session_state.pop(MAP_FILTERS_LINKED, None)


def curation() -> Curation:
    """The renames, merges and tags of the corpus shown (kept as plain data in the session)."""
    return curation_from_dict(st.session_state.get(MAP_CURATION))


def set_curation(value: Curation) -> None:
    st.session_state[MAP_CURATION] = curation_to_dict(value)


def set_table_shown(key: str) -> None:
    st.session_state[MAP_TABLE_SHOWN] = key


def table_selection(key: str) -> list[int]:
    """Positions selected in the Map page's documents table `key` (from its last run)."""
    event = st.session_state.get(key)
    try:
        return [int(row) for row in event["selection"]["rows"]]
    except (KeyError, TypeError):
        return []


# --- Compare page: one selection shared by both maps ---
COMPARE_SELECTION = "compare_selection"  # rows selected on either map (a tuple)
COMPARE_LAST_SEEN = f"{COMPARE_SELECTION}_last_seen"  # each chart's rows as last read


def compare_selection(charts: dict[str, tuple[int, ...]]) -> tuple[int, ...]:
    """The shared selection after reading each chart's current rows (see `kept_selection`)."""
    return kept_selection(COMPARE_SELECTION, charts)


def clear_compare_selection() -> None:
    st.session_state[COMPARE_SELECTION] = ()


MAP_SELECTION = "map_selection"  # rows selected on the Map page's map (a tuple)


def map_selection(rows: tuple[int, ...]) -> tuple[int, ...]:
    """The Map page's selection after reading its chart's current `rows` (see `kept_selection`):
    the map is redrawn with the focus document's neighbours marked, a new widget whose own
    selection is empty."""
    return kept_selection(MAP_SELECTION, {"map_chart": rows})


def map_selected() -> tuple[int, ...]:
    """The Map page's selection as last read (nothing is read from the chart here)."""
    return tuple(st.session_state.get(MAP_SELECTION, ()))


def clear_map_selection() -> None:
    st.session_state[MAP_SELECTION] = ()


def kept_selection(store: str, charts: dict[str, tuple[int, ...]]) -> tuple[int, ...]:
    """The selection kept under `store` after reading each chart's current rows: a chart whose
    selection changed since the last read replaces it (a redrawn chart's empty one does not)."""
    last_seen_key = f"{store}_last_seen"
    last_seen = st.session_state.get(last_seen_key, {})
    for chart, rows in charts.items():
        if rows and rows != last_seen.get(chart):
            st.session_state[store] = rows
    st.session_state[last_seen_key] = dict(charts)
    return st.session_state.get(store, ())


# --- Lessons and bookmarks (keys and setters of pages/lessons.py and pages/lesson_parts/) ---

from collections.abc import Iterable  # noqa: E402

from lib.share.bookmarks import (  # noqa: E402  (this section's own import)
    LessonLink,
    Step,
    step_from_dict,
    step_to_dict,
)

LESSONS_REVEALED = "lessons_revealed"  # lesson name -> what the learner had guessed at Reveal
LESSONS_BENCH = "lessons_bench"  # the analogy benchmark was asked for (it takes a while)
BOOKMARKS_DRAFT = "bookmarks_draft"  # the teacher's unsaved steps (as step_to_dict data)
BOOKMARKS_SAVED = "bookmarks_saved"  # id of the lesson just saved (for its link)
BOOKMARKS_FOLLOWING = "bookmarks_following"  # the LessonLink this tab follows
ARITH_EXPRESSION = "arith_expression"  # the Arithmetic page's expression box
ARITH_EXAMPLES_FOR = "arith_examples_for"  # the vectors key that expression was set for


def revealed_guess(name: str) -> str | None:
    """What the learner had guessed when they last pressed Reveal in lesson `name`."""
    return st.session_state.get(LESSONS_REVEALED, {}).get(name)


def set_revealed_guess(name: str, guess: str) -> None:
    st.session_state[LESSONS_REVEALED] = {**st.session_state.get(LESSONS_REVEALED, {}), name: guess}


def bench_requested() -> bool:
    return bool(st.session_state.get(LESSONS_BENCH))


def request_bench() -> None:
    st.session_state[LESSONS_BENCH] = True


def draft_steps() -> tuple[Step, ...]:
    """The teacher's unsaved steps, in order.

    Kept as plain data (`step_to_dict`), so a module reloaded while the server runs never
    leaves the session holding objects of a class that is no longer lib's `Step`.
    """
    return tuple(step_from_dict(data) for data in st.session_state.get(BOOKMARKS_DRAFT, ()))


def set_draft_steps(steps: Iterable[Step]) -> None:
    st.session_state[BOOKMARKS_DRAFT] = tuple(step_to_dict(step) for step in steps)


def saved_lesson_id() -> str | None:
    return st.session_state.get(BOOKMARKS_SAVED)


def set_saved_lesson_id(lesson_id: str) -> None:
    st.session_state[BOOKMARKS_SAVED] = lesson_id


def followed_lesson_link() -> LessonLink | None:
    """The LessonLink this tab follows, or None."""
    return st.session_state.get(BOOKMARKS_FOLLOWING)


def follow_lesson(link: LessonLink) -> None:
    st.session_state[BOOKMARKS_FOLLOWING] = link


def stop_following_lesson() -> None:
    st.session_state.pop(BOOKMARKS_FOLLOWING, None)


def use_arith_example(expression: str) -> None:
    """Put an example into the Arithmetic page's expression box."""
    st.session_state[ARITH_EXPRESSION] = expression


def prepare_arith_expression(vectors_key: str, default: str) -> None:
    """Give the Arithmetic page's box this corpus's `default` when the corpus changed since the
    page last ran; an expression set before the page's first run (a lesson step, a link) stays."""
    previous = st.session_state.get(ARITH_EXAMPLES_FOR)
    if previous == vectors_key:
        return
    st.session_state[ARITH_EXAMPLES_FOR] = vectors_key
    if previous is not None or not st.session_state.get(ARITH_EXPRESSION):
        st.session_state[ARITH_EXPRESSION] = default


def set_arith_expression(expression: str, vectors_key: str) -> None:
    """Preset the Arithmetic page's expression box for the corpus whose vectors have
    `vectors_key` (so the page keeps it instead of that corpus's first example)."""
    st.session_state[ARITH_EXPRESSION] = expression
    st.session_state[ARITH_EXAMPLES_FOR] = vectors_key
