"""The lesson-link player: a saved bookmark lesson, one step at a time, read-only.

A link `?lesson=<id>&step=<n>` (or a lesson this tab already follows) replaces the Lessons
page's picker with the lesson's steps. *Show this step* opens the step's corpus and view on
its page; the tab keeps following the lesson, so coming back goes on where it was.
"""

from __future__ import annotations

import streamlit as st

from lib.embed.models import DEFAULT_MODEL
from lib.errors import EmbedscopeError
from lib.share.bookmarks import (
    LESSON_PARAM,
    STEP_PARAM,
    Lesson,
    LessonLink,
    Step,
    lesson_query,
    lesson_target,
)
from lib.share.projects import PROJECT_PARAM
from pages import state
from pages._common import (
    active_embedding,
    md,
    open_project,
    sample_corpus,
    set_corpus,
    show_error,
)
from pages.lesson_parts.common import lesson_store
from pages.lesson_parts.steps import STEP_FILES, show_step


def followed_lesson() -> tuple[Lesson, int] | None:
    """The lesson this tab follows and its step number: from ?lesson=…, else the session's."""
    try:
        link = lesson_target(st.query_params)
    except EmbedscopeError as error:
        show_error(error)
        return None
    if link is None:
        link = state.followed_lesson_link()
        if link is None:
            return None
        st.query_params.update(lesson_query(link.lesson_id, link.step))
    try:
        lesson = lesson_store().load(link.lesson_id)
    except EmbedscopeError as error:
        state.stop_following_lesson()
        show_error(error)
        return None
    number = min(link.step, len(lesson.steps))
    state.follow_lesson(LessonLink(lesson.id, number))
    return lesson, number


def go_to_step(lesson_id: str, number: int) -> None:
    """Show step `number` of the followed lesson, in the URL too (a button callback)."""
    st.query_params.update(lesson_query(lesson_id, number))
    state.follow_lesson(LessonLink(lesson_id, number))


def leave_lesson() -> None:
    """Stop following a lesson: the page shows the lessons again (a button callback)."""
    state.stop_following_lesson()
    for name in (LESSON_PARAM, STEP_PARAM):
        st.query_params.pop(name, None)


def open_step(step: Step) -> None:
    """Make the step's corpus the session's and preset its page's widgets to the step's view."""
    if step.source.kind == PROJECT_PARAM:
        open_project(step.source.name)
    else:
        set_corpus(sample_corpus(step.source.name), DEFAULT_MODEL)
    view = step.view
    state.set_map_view(view.layout_params(), view.cluster_params(), view.color_by)
    state.set_dimensions(view.dimensions)
    if view.query:
        state.set_arith_expression(view.query, active_embedding().key)


def play_lesson(lesson: Lesson, number: int) -> None:
    """One step of a saved lesson, read-only, with Previous / Show this step / Next."""
    total = len(lesson.steps)
    step = lesson.steps[number - 1]
    st.title(md(lesson.title))
    st.progress(number / total)
    show_step(step, number, total)
    buttons = st.container(horizontal=True)
    buttons.button(
        "Previous", icon=":material/arrow_back:", disabled=number == 1, on_click=go_to_step,
        args=(lesson.id, number - 1), key="bookmarks_previous",
    )  # fmt: skip
    show = buttons.button(
        "Show this step", icon=":material/visibility:", type="primary", key="bookmarks_show"
    )
    buttons.button(
        "Next", icon=":material/arrow_forward:", disabled=number == total, on_click=go_to_step,
        args=(lesson.id, number + 1), key="bookmarks_next",
    )  # fmt: skip
    buttons.button(
        "Leave this lesson", icon=":material/logout:", type="tertiary", on_click=leave_lesson,
        key="bookmarks_leave",
    )  # fmt: skip
    page_file, page_title = STEP_FILES[step.view.page]
    st.caption(
        f"*Show this step* opens it on the {page_title} page; come back with **Lessons** in the "
        "sidebar to go on."
    )
    if show:
        try:
            open_step(step)
        except EmbedscopeError as error:
            show_error(error)
            return
        st.switch_page(page_file, query_params=lesson_query(lesson.id, number))
