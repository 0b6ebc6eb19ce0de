"""Lesson 8 · Can this map answer my question? Label recovery in full dimension and on the map."""

from __future__ import annotations

import streamlit as st

from lib.errors import EmbedscopeError
from lib.figures.lessons import score_bars
from pages._common import show_error
from pages.lesson_parts.common import K, corpus_context, map_of, recovery, umap_params

MAX_K = 50


def show() -> None:
    corpus, found = corpus_context()
    mapped = map_of(found, umap_params())
    st.markdown(
        "Before reading a map for a question (*do the topics separate?*), check that the answer "
        "survives the squeeze. **Label recovery** asks, for each document, whether most of its k "
        "nearest neighbours share its label. Compare it **in full dimension**, **on the map**, "
        "and against the **majority baseline** (always guessing the commonest label). If the map "
        "scores near the baseline, it cannot answer this question, whatever it looks like."
    )
    label_columns = corpus.label_columns()
    if not label_columns:
        st.info(
            "This corpus has no label column (a metadata column with 2 to 50 distinct values), "
            "so there is no question to check. Load a corpus with one on the Corpus page."
        )
        return
    column_pick, k_pick = st.columns(2)
    column = column_pick.selectbox("Label column", label_columns, key="lessons_question_label")
    largest = min(MAX_K, len(found.vectors) - 1)
    k = k_pick.slider("Neighbours (k)", 1, largest, min(K, largest), key="lessons_question_k")
    values = corpus.metadata[column].astype(str).tolist()
    try:
        report = recovery(found, mapped, values, k)
    except EmbedscopeError as error:
        show_error(error)
        return
    full, on_map, baseline = st.columns(3)
    full.metric("Full dimension", f"{report.full:.3f}")
    on_map.metric("On the map", f"{report.on_map:.3f}")
    baseline.metric("Majority baseline", f"{report.baseline:.3f}")
    bars = score_bars(
        ["full dimension", "on the map", "majority baseline"],
        {f"label recovery of '{column}'": [report.full, report.on_map, report.baseline]},
        y_title=f"share of documents (k = {report.k})",
        height=320,
    )
    st.plotly_chart(bars, key="lessons_question_bars")
