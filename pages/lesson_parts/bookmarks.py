"""Lesson 11 · Bookmarks make lessons: a teacher turns views into the steps of a saved lesson.

Off on a hosted server (visitors only read there). Every input is bounded: at most MAX_STEPS
steps, titles, captions, expressions and row lists each to a character limit the labels name.
"""

from __future__ import annotations

import streamlit as st

from lib.errors import EmbedscopeError
from lib.query.expressions import MAX_LENGTH as MAX_QUERY_CHARS
from lib.share.bookmarks import (
    MAX_CAPTION_CHARS,
    MAX_STEPS,
    STEP_PAGES,
    Step,
    parse_rows,
)
from lib.share.projects import ShareTarget
from pages import state
from pages._common import (
    active_corpus,
    current_map_params,
    hosted,
    show_error,
)
from pages.lesson_parts.common import FOUND_CLUSTERS
from pages.lesson_parts.drafts import draft_row, save_draft
from pages.lesson_parts.steps import STEP_FILES, current_source, current_view, saved_color

MAX_ROWS_CHARS = 8_000  # room for MAX_SELECTION row ids with separators
HOSTED_OFF = (
    "Saving lessons is off on this hosted server: visitors read, query and look. "
    "Write lessons on your own copy of embedscope and open their links here."
)


def show() -> None:
    st.markdown(
        "A map is easier to explain than to find. Set up a view on the **Map** page (corpus, "
        "UMAP or PCA, its settings), come back here, say what to notice and add it as a step. "
        "Repeat, then save: the link opens the steps in order for anyone who can reach this "
        "server. Students step through them **read-only**; *Show this step* reopens the saved "
        "corpus and view exactly, even in a browser that has never been here."
    )
    if hosted().hosted:
        st.info(HOSTED_OFF, icon=":material/lock:")
        return
    source = current_source()
    if source is None:
        st.info(
            "This corpus has no stable link yet: save this corpus as a project first (Map page, "
            "*Save, share and export*), then add its views here."
        )
    else:
        add_step(source)
    draft = state.draft_steps()
    for index, step in enumerate(draft):
        draft_row(step, index, len(draft))
    save_draft(draft)


def add_step(source: ShareTarget) -> None:
    """The controls that turn the current view into a step of the draft."""
    page, dims, color = view_controls()
    query = st.text_input(
        f"Expression to run (Arithmetic page; up to {MAX_QUERY_CHARS} characters)",
        max_chars=MAX_QUERY_CHARS,
        key="bookmarks_query",
        disabled=page != "arithmetic",
    )
    rows = st.text_input(
        "Documents to point at (optional): ids from the Map page's selection table",
        placeholder="12, 40, 57",
        max_chars=MAX_ROWS_CHARS,
        key="bookmarks_rows",
    )
    caption = st.text_area(
        f"Caption: what should students notice here? (up to {MAX_CAPTION_CHARS:,} characters)",
        max_chars=MAX_CAPTION_CHARS,
        key="bookmarks_caption",
    )
    full = len(state.draft_steps()) >= MAX_STEPS
    if full:
        st.caption(f"A lesson holds {MAX_STEPS} steps at most: save this one, or remove a step.")
    pressed = st.button(
        "Add the current view as a step", icon=":material/add:", key="bookmarks_add", disabled=full
    )
    if not pressed or full:  # Streamlit drops a value over max_chars: each text fits
        return
    try:
        view = current_view(page, dims, color, query if page == "arithmetic" else "")
        step = Step(source, view, parse_rows(rows, len(active_corpus())), caption.strip())
    except EmbedscopeError as error:
        show_error(error)
        return
    state.set_draft_steps([*state.draft_steps(), step])


def view_controls() -> tuple[str, int, str]:
    """The page a step opens, its dimensions (2 or 3) and what it is coloured by."""
    colors = [FOUND_CLUSTERS, *active_corpus().metadata.columns]
    start = saved_color()
    page_col, view_col, color_col = st.columns(3)
    page = page_col.selectbox(
        "Page", STEP_PAGES, format_func=lambda name: STEP_FILES[name][1], key="bookmarks_page"
    )
    dims = view_col.segmented_control(
        "View",
        ["2D", "3D"],
        default=f"{current_map_params().n_components}D",
        required=True,
        key="bookmarks_view",
    )
    color = color_col.selectbox(
        "Colour by",
        colors,
        index=colors.index(start) if start in colors else 0,
        key="bookmarks_color",
    )
    return page, int(dims[0]), color
