"""Concept axes page: documents between prompt poles, and how well each axis separates labels."""

import streamlit as st

from lib.errors import EmbedscopeError
from lib.figures.map import ColorBy, hover_labels
from lib.figures.query import axes_figure
from lib.query.axes import (
    MAX_POLE_CHARS,
    axis_projection,
    axis_separation,
    pole_vector,
    split_prompts,
)
from pages import state
from pages._common import active_corpus, active_embedding, md, show_error, text_embedder

state.require_app_frame()  # a direct link on a fresh server: rerun inside app.py's frame

AUC_TEXT = (
    "**AUC** is the chance that a random document with the label lies further toward the first "
    "pole (right, or up) than a random document without it: **0.5** means the axis does not tell "
    "that label apart at all, **1.0** means every such document lies beyond all the others "
    "(**0.0**: all of them on the opposite side)."
)

corpus = active_corpus()
st.title("Concept axes")
st.caption(
    "Each document's x is cos(document, A) − cos(document, B) and its y is cos(document, C) − "
    "cos(document, D), where each pole is the mean of its prompts (comma-separated)."
)
embed = text_embedder()
if embed is None:
    st.info(
        "These vectors were uploaded without a text model, so the pole prompts cannot be "
        "embedded in the same space; concept axes need a corpus embedded by a text model."
    )
    st.stop()
try:
    vectors = active_embedding(corpus).vectors
except EmbedscopeError as error:
    show_error(error, what="Could not embed this corpus")
    st.stop()

a_column, b_column = st.columns(2)
pole_a = a_column.text_input(
    "x axis, right end (A)", "formal, polite, official", key="axes_a", max_chars=MAX_POLE_CHARS
)
pole_b = b_column.text_input(
    "x axis, left end (B)", "casual, slang, chatty", key="axes_b", max_chars=MAX_POLE_CHARS
)
c_column, d_column = st.columns(2)
pole_c = c_column.text_input(
    "y axis, top end (C)", "science, technology, research", key="axes_c", max_chars=MAX_POLE_CHARS
)
pole_d = d_column.text_input(
    "y axis, bottom end (D)", "nature, outdoors", key="axes_d", max_chars=MAX_POLE_CHARS
)
orthogonal = st.toggle(
    "Make y orthogonal to x",
    value=False,
    key="axes_orthogonal",
    help="Removes from the y direction the part that points along x, so the two axes measure "
    "different things.",
)
label_columns = corpus.label_columns()
color_column = st.selectbox("Colour by", label_columns, key="axes_color") if label_columns else None

try:
    poles = [pole_vector(embed(split_prompts(pole))) for pole in (pole_a, pole_b, pole_c, pole_d)]
    placed = axis_projection(vectors, *poles, orthogonal=orthogonal)
except EmbedscopeError as error:
    show_error(error)
    st.stop()

angle = f"The x and y directions are {placed.angle_degrees:.0f}° apart (90° = unrelated)"
st.caption(f"{angle}; y has been made orthogonal to x." if orthogonal else f"{angle}.")
color = None
if color_column is not None:
    color = ColorBy(color_column, corpus.metadata[color_column].to_numpy())
figure = axes_figure(
    placed.coords,
    hover_labels(corpus.texts, corpus.metadata),
    color=color,
    x_poles=(pole_a, pole_b),
    y_poles=(pole_c, pole_d),
)
st.plotly_chart(figure, key="axes_chart")

if color_column is None:
    st.info(
        "This corpus has no label column (a metadata column with 2 to 50 distinct values), so "
        "there is nothing to score the axes against."
    )
    st.stop()

st.header(f"How well each axis separates '{md(color_column)}'")
st.markdown(AUC_TEXT)
auc_config = {
    "mean": st.column_config.NumberColumn("mean position", format="%.3f"),
    "auc": st.column_config.ProgressColumn("AUC", min_value=0.0, max_value=1.0, format="%.2f"),
}
labels = corpus.metadata[color_column]
for column, name, axis in zip(st.columns(2), ("x axis", "y axis"), (0, 1), strict=True):
    column.subheader(name)
    separation = axis_separation(placed.coords[:, axis], labels)
    column.dataframe(separation, hide_index=True, column_config=auc_config)
