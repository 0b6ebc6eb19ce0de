"""The app's frame: its page list, the shared sidebar with the share link, following a share
link, the last-resort error net around each page, and what the server does when it starts.
app.py is these calls."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import AsyncIterator
from urllib.parse import urlencode, urlsplit, urlunsplit

import streamlit as st

from lib.embed.models import DEFAULT_MODEL
from lib.errors import EmbedscopeError
from lib.query.filters import decode_filters
from lib.service import warmup
from lib.share.projects import PROJECT_PARAM, share_query, share_target
from pages import state
from pages._common import (
    active_corpus,
    hosted,
    md,
    open_project,
    sample_corpus,
    saved_project,
    set_corpus,
    show_error,
    start_warm_up,
)
from pages.timing import timed_run


@contextlib.asynccontextmanager
async def server_lifespan(_app: st.App) -> AsyncIterator[None]:
    """`streamlit run app.py` runs this once when the server starts (st.App's lifespan): the
    warm-up begins before anyone opens a page, and importing this module has already loaded the
    page plumbing the first page run needs."""
    start_warm_up()
    yield


# --- the last line of defence -------------------------------------------------------------------

RAISE_ENV = "EMBEDSCOPE_RAISE_ERRORS"  # "1": let unexpected errors through (the tests set it)
logger = logging.getLogger(__name__)


def run_page(page: st.navigation) -> None:
    """Run the page; an error nobody expected (a library's, not ours) becomes a short message
    for the visitor and a traceback in the server log, and the session goes on. With
    EMBEDSCOPE_TIMING_LOG=1 the run's page, start and length go to the server log."""
    try:
        with timed_run(page.url_path):
            page.run()
        warmup.page_served()
    except EmbedscopeError as error:
        show_error(error)
    except Exception as error:
        if os.environ.get(RAISE_ENV) == "1":
            raise
        logger.exception("unexpected error on page %s", page.url_path)
        st.error(
            f"Something went wrong on this page ({type(error).__name__}); it is logged on the "
            "server. Other pages, and this one with other settings, still work."
        )


FILTERS_PARAM = "filters"  # the Map page's metadata filters in a share link (lib.query.filters)

# --- share links and the sidebar ---------------------------------------------------------------


def follow_share_link() -> None:
    """Open what the URL names (?project=… or ?sample=…, plus dims/color), once per link."""
    try:
        target = share_target(st.query_params)
    except EmbedscopeError as error:
        show_error(error)
        return
    token = (
        target, st.query_params.get("dims"), st.query_params.get("color"),
        st.query_params.get(FILTERS_PARAM),
    )  # fmt: skip
    if target is None or state.link_opened(token):
        return
    try:
        if target.kind == PROJECT_PARAM:
            open_project(target.name)
        else:
            set_corpus(sample_corpus(target.name), DEFAULT_MODEL)
    except EmbedscopeError as error:
        show_error(error)
        return
    if st.query_params.get("dims") in ("2", "3"):
        state.set_dimensions(int(st.query_params["dims"]))
    if st.query_params.get("color"):
        state.set_map_color(st.query_params["color"])
    try:
        state.link_filters(decode_filters(st.query_params.get(FILTERS_PARAM, "")))
    except EmbedscopeError as error:
        show_error(error)


def share_link(url_path: str) -> str | None:
    """A link that reopens this view on this server, or None when the corpus must be saved first."""
    source = state.source()
    if source.kind == state.PROJECT and source.read_only:
        query = share_query(project_id=source.name)
    elif source.kind == state.SAMPLE and source.model_name == DEFAULT_MODEL:
        query = share_query(sample=source.name)
    else:
        return None
    if state.map_layout().n_components == 3:
        query["dims"] = "3"
    if state.map_color():
        query["color"] = state.map_color()
    if st.session_state.get(state.MAP_FILTERS):
        query[FILTERS_PARAM] = st.session_state.get(state.MAP_FILTERS)
    parts = urlsplit(st.context.url or "http://localhost:8501/")
    return urlunsplit((parts.scheme, parts.netloc, f"/{url_path}", urlencode(query), ""))


def sidebar(url_path: str) -> None:
    """The shared sidebar: what is loaded, and a link that reopens this view."""
    source = state.source()
    try:
        corpus = active_corpus()
    except EmbedscopeError as error:
        show_error(error)
        return
    st.markdown(f"**Corpus:** {md(corpus.source)}")
    model_text = md(source.model_name) if source.model_name else "uploaded vectors (no text model)"
    st.caption(f"{len(corpus):,} documents · {model_text}")
    if hosted().hosted:
        st.caption("Hosted demo: uploads are off on this server.")
    if source.kind == state.PROJECT:
        title = md(saved_project(source.name).title)
        if source.read_only:
            st.info(f"Saved project **{title}**, shown read-only.", icon=":material/lock:")
        else:
            st.info(f"An edited copy of **{title}**: save it to share it.", icon=":material/edit:")
    st.page_link("pages/corpus.py", label="Load another corpus", icon=":material/upload_file:")
    with st.popover("Copy share link", icon=":material/link:", width="stretch"):
        link = share_link(url_path)
        if link is None:
            st.write("Save this corpus as a project (at the bottom of the Map page) to share it.")
        else:
            st.code(link, language=None, wrap_lines=True)
            st.caption("Anyone who can reach this server opens exactly this view, read-only.")
