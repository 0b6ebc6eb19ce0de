"""Lesson 10 · Similar is not synonymous: opposites in GloVe, negations in the sentence model."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from lib.errors import EmbedscopeError
from lib.figures.lessons import row_cosines, score_bars
from lib.teach.lessons import (
    MAX_NEGATION_ROWS,
    NEGATION_COLUMNS,
    load_negations,
)
from pages._common import engine, md, show_error
from pages.lesson_parts.common import embed, glove, number_column, sentence_model

MAX_CELL_CHARS = 300


def opposites() -> pd.DataFrame:
    """The built-in opposite word pairs and how close GloVe puts them."""
    glove()  # a spinner while GloVe loads, the first time
    return engine().opposites()


def negations() -> pd.DataFrame:
    """data/negations.csv: sentences with their negation and a paraphrase (checked on read)."""
    return load_negations()


def show() -> None:
    vocabulary = glove()
    st.markdown(
        "Embeddings put words that appear **in the same contexts** close together, and opposites "
        "do: *hot* and *cold* both describe weather, drinks and temperatures. So an opposite is "
        "often among a word's very nearest neighbours (rank 1 = the nearest of "
        f"{len(vocabulary.words):,} GloVe words). "
        "Sentence models do the same with negation: adding *not* barely moves a sentence, often "
        "less than rewording it with the same meaning."
    )
    try:
        report = opposites()
        table = negations()
    except EmbedscopeError as error:
        show_error(error)
        return
    pair_names = (report["first"] + " / " + report["second"]).tolist()
    chart, words = st.columns([3, 2])
    bars = score_bars(pair_names, {"cosine (GloVe)": report["cosine"]}, y_title="cosine")
    chart.plotly_chart(bars, key="lessons_opposites_bars")
    rank = st.column_config.NumberColumn(
        help="the opposite's place among the first word's neighbours"
    )
    words.dataframe(
        report, hide_index=True, column_config={"cosine": number_column(), "rank": rank}
    )
    negation_bars(table)


def negation_bars(table: pd.DataFrame) -> None:
    """The learner's (editable) sentences: cosine with their negation and with a paraphrase."""
    model_name = sentence_model()
    st.markdown(
        f"**Sentences** (model {md(model_name)}); edit or add rows (up to {MAX_NEGATION_ROWS} "
        f"rows of {MAX_CELL_CHARS} characters)."
    )
    text = st.column_config.TextColumn(max_chars=MAX_CELL_CHARS)
    edited = st.data_editor(
        table, num_rows="dynamic", hide_index=True, key="lessons_negations",
        column_config=dict.fromkeys(NEGATION_COLUMNS, text),
    )  # fmt: skip
    rows = edited.fillna("").astype(str).apply(lambda column: column.str.strip())
    rows = rows[(rows != "").all(axis=1)]
    if len(rows) > MAX_NEGATION_ROWS:
        st.warning(f"Only the first {MAX_NEGATION_ROWS} rows are compared.")
        rows = rows.head(MAX_NEGATION_ROWS)
    if rows.empty:
        st.info("Fill in at least one row: a sentence, its negation and a paraphrase.")
        return
    try:
        sentence, negation, paraphrase = (
            embed(rows[name].str.slice(0, MAX_CELL_CHARS).tolist(), model_name)
            for name in NEGATION_COLUMNS
        )
        scores = {
            "with its negation": row_cosines(sentence, negation),
            "with a paraphrase": row_cosines(sentence, paraphrase),
        }
    except EmbedscopeError as error:
        show_error(error)
        return
    bars = score_bars(rows["sentence"].tolist(), scores, y_title="cosine with the sentence")
    st.plotly_chart(bars, key="lessons_negation_bars")
