"""Lesson 2 · Guess the placement: click where a typed sentence lands, then see where it does."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import streamlit as st

from lib.errors import EmbedscopeError
from lib.figures.lessons import (
    clicked_guess,
    guess_figure,
    guess_grid,
    moved_points,
    placement_figure,
)
from lib.figures.map import ColorBy
from lib.figures.tables import document_table
from lib.ingest.corpus import Corpus
from lib.reduce.layouts import Projection
from lib.service.engine import Embedding
from lib.teach.lessons import placement_error
from pages import state
from pages._common import current_map_params, engine, show_error
from pages.lesson_parts.common import (
    corpus_context,
    digest,
    embed,
    group_picker,
    hover,
    map_of,
    number_column,
    revealed,
)

NEIGHBOURS = 5
MAX_SENTENCE_CHARS = 500


def show() -> None:
    corpus, found = corpus_context()
    mapped = map_of(found, replace(current_map_params(), n_components=2))
    st.markdown(
        "A map squeezes hundreds of dimensions into two. A new sentence can be **placed** on an "
        "existing map without redrawing it: the map's reducer computes where it would have gone. "
        "Type a sentence, **click on the map where you think it lands**, then reveal. The score "
        "is the distance from your guess to the model's placement, as a share of the map's "
        f"diagonal (0 = spot on). Its {NEIGHBOURS} true neighbours (full dimension) are ringed."
    )
    sentence = st.text_input(
        "Your sentence",
        "The goalkeeper saved a penalty in extra time",
        max_chars=MAX_SENTENCE_CHARS,
        key="lessons_place_text",
    ).strip()
    color = group_picker(corpus, found, mapped, "lessons_place_color", label="Colour by")
    labels = hover(corpus)
    grid = guess_grid(mapped.coords)
    event = st.plotly_chart(
        guess_figure(mapped.coords, labels, grid, color=color),
        key="lessons_place_chart",
        on_select="rerun",
        selection_mode="points",
    )
    guess = clicked_guess(event, mapped.coords, grid)
    model_name = state.source().model_name
    if model_name is None:
        st.info(
            "These vectors were uploaded without a text model, so a typed sentence cannot be "
            "placed on their map."
        )
    elif not sentence:
        st.info("Type a sentence first.")
    elif guess is None:
        st.info("Click on the map where you think your sentence lands.")
    else:
        st.caption(f"Your guess: x = {guess[0]:.2f}, y = {guess[1]:.2f}.")
        if revealed("lessons_place_revealed", digest(sentence, guess.tolist())):
            reveal(corpus, found, mapped, guess, sentence, model_name, color)


def reveal(
    corpus: Corpus,
    found: Embedding,
    mapped: Projection,
    guess: np.ndarray,
    sentence: str,
    model_name: str,
    color: ColorBy,
) -> None:
    """Where the sentence lands, how far the guess missed, and that no point of the map moved."""
    try:
        query = embed([sentence], model_name)
        before = mapped.coords.copy()
        placed = mapped.transform(query)[0]
        moved = moved_points(before, mapped.coords)
        nearest = engine().nearest(found, query[0], NEIGHBOURS)
        miss_share = placement_error(guess, placed, mapped.coords)
    except EmbedscopeError as error:
        show_error(error)
        return
    labels = hover(corpus)
    figure = placement_figure(
        mapped.coords, labels, guess=guess, placed=placed, neighbour_rows=nearest.indices,
        sentence=sentence, color=color,
    )  # fmt: skip
    st.plotly_chart(figure, key="lessons_place_reveal")
    miss, where, still = st.columns(3)
    miss.metric("Your miss (share of the map's diagonal)", f"{miss_share:.1%}")
    where.metric("Placed at", f"({placed[0]:.2f}, {placed[1]:.2f})")
    still.metric("Existing points moved", f"{moved:,} of {len(before):,}")
    st.caption(
        "The map's coordinate array is "
        + ("identical before and after placing" if moved == 0 else "changed by placing")
        + f" ({'no' if moved == 0 else moved} points differ): placing reads the map, never "
        "redraws it."
    )
    st.markdown(f"**Its {NEIGHBOURS} nearest documents in full dimension**")
    table = document_table(corpus, nearest.indices, cosine=nearest.scores)
    st.dataframe(table, hide_index=True, column_config={"cosine": number_column()})
