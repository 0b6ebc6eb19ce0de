"""Lesson 1 · Guess the similarity: order sentence pairs, then see the model's cosines."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from lib.errors import EmbedscopeError
from lib.figures.lessons import pair_name, pair_table, sentence_pairs, trap_sentences
from lib.figures.query import similarity_heatmap
from lib.reduce.neighbors import cosine_matrix
from lib.teach.lessons import load_similarity_traps, rank_agreement
from pages._common import md, show_error
from pages.lesson_parts.common import (
    digest,
    embed,
    number_column,
    revealed,
    sentence_model,
)

PRESET = "A trap from our collection"
OWN_SENTENCES = (
    "The cat sat on the mat\nA kitten was resting on the rug\nThe cat sat on the hat\n"
    "Interest rates rose again"
)
MIN_SENTENCES, MAX_SENTENCES = 4, 6
MAX_TYPED_CHARS = 2_000


def show() -> None:
    st.markdown(
        "A sentence model turns each sentence into a vector, and **cosine similarity** says how "
        "close two vectors point (1 = same direction). It is tempting to read it as *means the "
        "same*, but models also reward shared words. Order the pairs below from most to least "
        "similar **as you expect the model to score them**, then reveal what it computes. The "
        "score compares your order with the model's (Spearman: 1 = same order, −1 = reversed)."
    )
    traps = load_similarity_traps()
    try:
        sentences, row = pick_sentences(traps)
    except EmbedscopeError as error:
        show_error(error)
        return
    if not MIN_SENTENCES <= len(sentences) <= MAX_SENTENCES:
        st.warning(
            f"Type {MIN_SENTENCES} to {MAX_SENTENCES} sentences, one per line; "
            f"there are {len(sentences)} now."
        )
        return
    st.markdown("\n".join(f"{i}. {md(sentence)}" for i, sentence in enumerate(sentences, 1)))
    pairs = sentence_pairs(len(sentences))
    state = digest(*sentences)
    order = st.multiselect(
        "Pick the pairs one by one, the most similar first (at least 2; all of them is best)",
        pairs,
        format_func=lambda pair: pair_name(pair, sentences),
        key=f"lessons_sim_order_{state}",
        select_all=False,  # "Select all" would order every pair for the learner: no guess left
    )
    st.caption(f"{len(order)} of {len(pairs)} pairs ordered.")
    if revealed("lessons_sim_revealed", digest(state, order), disabled=len(order) < 2):
        reveal(sentences, order, None if row is None else traps["note"].iloc[row])


def pick_sentences(traps: pd.DataFrame) -> tuple[list[str], int | None]:
    """A trap from data/ (and its row) or the learner's own sentences (row None)."""
    source = st.radio(
        "Sentences", [PRESET, "My own sentences"], horizontal=True, key="lessons_sim_source"
    )
    if source == PRESET:
        row = st.selectbox(
            "Trap",
            range(len(traps)),
            format_func=lambda r: traps["anchor"].iloc[r],
            key="lessons_sim_trap",
        )
        return trap_sentences(traps, row), row
    typed = st.text_area(
        f"{MIN_SENTENCES} to {MAX_SENTENCES} sentences, one per line "
        f"(up to {MAX_TYPED_CHARS:,} characters)",
        OWN_SENTENCES,
        max_chars=MAX_TYPED_CHARS,
        key="lessons_sim_own",
    )
    return [line.strip() for line in typed.splitlines() if line.strip()], None


def reveal(sentences: list[str], order: list[tuple[int, int]], trap_note: str | None) -> None:
    """The model's cosines, the learner's rank agreement and, for a trap, why it is one."""
    try:
        similarity = cosine_matrix(embed(sentences, sentence_model()))
        rho = rank_agreement(order, similarity)
    except EmbedscopeError as error:
        show_error(error)
        return
    chart, numbers = st.columns([3, 2])
    chart.plotly_chart(similarity_heatmap(similarity, sentences), key="lessons_sim_heatmap")
    numbers.metric("Your order vs the model's (Spearman)", f"{rho:+.2f}")
    numbers.dataframe(
        pair_table(order, similarity), hide_index=True, column_config={"cosine": number_column()}
    )
    if trap_note is not None:
        numbers.markdown(
            f"The look-alike (2) scores **{similarity[0, 1]:.2f}** with the anchor (1), the "
            f"paraphrase (3) **{similarity[0, 2]:.2f}**: the model follows the shared words. "
            f"*Why it is a trap:* {md(trap_note)}"
        )
