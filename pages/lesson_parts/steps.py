"""Lesson steps: what a new step reopens (the session's corpus and Map view), and a saved step
as the teacher and the students see it (what it opens, the documents it points at).

A step on a saved project reads it through `saved_project`, so a hosted server's allow-list
applies: a project the server does not offer shows a refusal, never its title or texts.
"""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from lib.embed.models import DEFAULT_MODEL
from lib.errors import EmbedscopeError
from lib.figures.tables import document_table
from lib.ingest.corpus import Corpus
from lib.reduce.layouts import UMAPParams
from lib.share.bookmarks import Step
from lib.share.projects import PROJECT_PARAM, SAMPLE_PARAM, ProjectView, ShareTarget
from pages import state
from pages._common import (
    active_corpus,
    current_map_params,
    is_bundled_sample,
    md,
    sample_corpus,
    saved_project,
    show_error,
)
from pages.lesson_parts.common import FOUND_CLUSTERS, MAP_CLUSTERS

STEP_FILES = {"map": ("pages/map.py", "Map"), "arithmetic": ("pages/arithmetic.py", "Arithmetic")}


def step_corpus(source: ShareTarget) -> Corpus:
    """The corpus a step opens (a saved project's or a bundled sample)."""
    if source.kind == PROJECT_PARAM:
        return saved_project(source.name).corpus
    return sample_corpus(source.name)


def describe(step: Step) -> str:
    """One line saying what a step opens and how."""
    view = step.view
    layout = view.layout_params()
    if isinstance(layout, UMAPParams):
        method = f"UMAP (n_neighbors {layout.n_neighbors}, min_dist {layout.min_dist})"
    else:
        method = "PCA"
    if step.source.kind == PROJECT_PARAM:
        source = f"saved project “{saved_project(step.source.name).title}”"
    else:
        source = f"sample “{step.source.name}”"
    parts = [STEP_FILES[view.page][1], source, f"{view.dimensions}-D {method}"]
    parts.append(f"coloured by {view.color_by}")
    if view.query:
        parts.append(f"expression {view.query}")
    if step.selection:
        parts.append(f"{len(step.selection)} documents pointed at")
    return " · ".join(parts)


def show_step(step: Step, number: int, total: int) -> None:
    """A step's caption, what it opens and the documents it points at."""
    with st.container(border=True):
        st.markdown(f"**Step {number} of {total}.** " + (md(step.caption) or "*(no caption)*"))
        try:
            st.caption(md(describe(step)))
            if step.selection:
                corpus = step_corpus(step.source)
                rows = [row for row in step.selection if row < len(corpus)]
                st.dataframe(document_table(corpus, rows), hide_index=True)
        except EmbedscopeError as error:  # e.g. the step's project was deleted, or is not offered
            show_error(error)


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
