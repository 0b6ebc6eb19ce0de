"""Lesson 11's draft: the teacher's unsaved steps (reorder, remove), saving them, the link.

The steps live in the session (pages/state.py); saving writes them to the server's lesson
store under a new id. The title is bounded like every authoring input.
"""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit, urlunsplit

import streamlit as st

from lib.errors import EmbedscopeError
from lib.share.bookmarks import LESSON_PARAM, MAX_TITLE_CHARS, Step, lesson_query, move_step
from pages import state
from pages._common import show_error
from pages.lesson_parts.common import lesson_store
from pages.lesson_parts.steps import show_step


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
    if pressed:
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
