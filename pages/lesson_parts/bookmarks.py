"""Lesson 11 · Bookmarks make lessons: a teacher turns views into the steps of a saved lesson.

Off on a hosted server (visitors only read there). Every input is bounded: at most MAX_STEPS
steps, titles, captions, expressions and row lists each to a character limit the labels name.
"""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import urlencode, urlsplit, urlunsplit

import streamlit as st

from lib.engine.embed import DEFAULT_MODEL
from lib.errors import EmbedscopeError
from lib.query.expressions import MAX_LENGTH as MAX_QUERY_CHARS
from lib.share.bookmarks import (
    LESSON_PARAM,
    MAX_CAPTION_CHARS,
    MAX_STEPS,
    MAX_TITLE_CHARS,
    STEP_PAGES,
    Step,
    lesson_query,
    move_step,
    parse_rows,
)
from lib.share.projects import PROJECT_PARAM, SAMPLE_PARAM, ProjectView, ShareTarget
from pages import state
from pages._common import (
    active_corpus,
    current_map_params,
    hosted,
    is_bundled_sample,
    saved_project,
    show_error,
)
from pages.lesson_parts.common import FOUND_CLUSTERS, MAP_CLUSTERS, lesson_store
from pages.lesson_parts.steps import STEP_FILES, show_step

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


def current_source() -> ShareTarget | None:
    """What a step can reopen for the session's corpus: its saved project or bundled sample."""
    source = state.source()
    if source.kind == state.PROJECT:
        return ShareTarget(PROJECT_PARAM, source.name)
    if source.model_name == DEFAULT_MODEL and is_bundled_sample(active_corpus()):
        return ShareTarget(SAMPLE_PARAM, active_corpus().source)
    return None


def current_view(page: str, dimensions: int, color_by: str, query: str) -> ProjectView:
    """The Map page's layout in `dimensions`, with the open project's clustering (or the Map's)."""
    source = state.source()
    if source.kind == state.PROJECT:
        clusters = saved_project(source.name).view.cluster_params()
    else:
        clusters = MAP_CLUSTERS
    layout = replace(current_map_params(), n_components=dimensions)
    return ProjectView.from_params(
        layout, clusters, page=page, dimensions=dimensions, color_by=color_by, query=query
    )


def saved_color() -> str:
    """The colouring a new step starts from: the open project's, else the found clusters."""
    source = state.source()
    if source.kind == state.PROJECT:
        return saved_project(source.name).view.color_by
    return FOUND_CLUSTERS


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
    texts = {
        "The expression": (query, MAX_QUERY_CHARS),
        "The document ids": (rows, MAX_ROWS_CHARS),
        "The caption": (caption, MAX_CAPTION_CHARS),
    }
    if not pressed or full or not within_limits(texts):
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


def within_limits(texts: dict[str, tuple[str, int]]) -> bool:
    """Whether each text fits its limit; shows a message naming the limit for each that does not."""
    fits = True
    for name, (text, limit) in texts.items():
        if len(text) > limit:
            st.error(f"{name} can be {limit:,} characters at most; it has {len(text):,}.")
            fits = False
    return fits


def reorder(index: int, offset: int) -> None:
    """Move draft step `index` by `offset` places (a button callback)."""
    state.set_draft_steps(move_step(state.draft_steps(), index, offset))


def remove(index: int) -> None:
    """Drop draft step `index` (a button callback)."""
    steps = state.draft_steps()
    state.set_draft_steps(steps[:index] + steps[index + 1 :])


def draft_row(step: Step, index: int, total: int) -> None:
    """One draft step with its move up / move down / remove buttons."""
    text, up, down, drop = st.columns([12, 1, 1, 1], vertical_alignment="center")
    with text:
        show_step(step, index + 1, total)
    up.button("", icon=":material/arrow_upward:", key=f"bookmarks_up_{index}", help="Move up",
              disabled=index == 0, on_click=reorder, args=(index, -1))  # fmt: skip
    down.button("", icon=":material/arrow_downward:", key=f"bookmarks_down_{index}",
                help="Move down", disabled=index == total - 1, on_click=reorder,
                args=(index, 1))  # fmt: skip
    drop.button("", icon=":material/delete:", key=f"bookmarks_remove_{index}", help="Remove",
                on_click=remove, args=(index,))  # fmt: skip


def save_draft(draft: tuple[Step, ...]) -> None:
    """The title, the Save button and, once saved, the lesson's link."""
    title = st.text_input(
        f"Lesson title (up to {MAX_TITLE_CHARS} characters)", "A walk through this map",
        max_chars=MAX_TITLE_CHARS, key="bookmarks_title",
    )  # fmt: skip
    pressed = st.button(
        "Save lesson", icon=":material/save:", disabled=not draft, key="bookmarks_save"
    )
    if pressed and within_limits({"The title": (title, MAX_TITLE_CHARS)}):
        try:
            state.set_saved_lesson_id(lesson_store().save(title=title, steps=draft).id)
        except EmbedscopeError as error:
            show_error(error)
    saved = state.saved_lesson_id()
    if saved is not None:
        st.success("Saved. Students open this link and step through the lesson read-only:")
        st.code(lesson_link(saved), language=None, wrap_lines=True)
        st.page_link("pages/lessons.py", label="Open it here as a student",
                     icon=":material/play_arrow:", query_params=lesson_query(saved))  # fmt: skip


def lesson_link(lesson_id: str) -> str:
    """The link that opens lesson `lesson_id` on this server's Lessons page."""
    parts = urlsplit(st.context.url or "http://localhost:8501/")
    query = urlencode({LESSON_PARAM: lesson_id})
    return urlunsplit((parts.scheme, parts.netloc, "/lessons", query, ""))
