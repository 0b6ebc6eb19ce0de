"""Saved lesson steps as the teacher and the students see them: what a step opens, its documents.

A step on a saved project reads it through `saved_project`, so a hosted server's allow-list
applies: a project the server does not offer shows a refusal, never its title or texts.
"""

from __future__ import annotations

import streamlit as st

from lib.engine.corpus import Corpus
from lib.engine.reduce import UMAPParams
from lib.errors import EmbedscopeError
from lib.figures.tables import document_table
from lib.share.bookmarks import Step
from lib.share.projects import PROJECT_PARAM, ShareTarget
from pages._common import md, sample_corpus, saved_project, show_error

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
