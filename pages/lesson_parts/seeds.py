"""Lesson 7 · One map is one sample: the same UMAP with two seeds, neighbour by neighbour."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import streamlit as st

from lib.errors import EmbedscopeError
from lib.figures.lessons import agreement_figure
from lib.teach.lessons import seed_agreement
from pages._common import honesty, show_error
from pages.lesson_parts.common import (
    K,
    corpus_context,
    fits_new_maps,
    hover,
    map_id,
    map_of,
    umap_params,
)

MAX_SEED = 2**31 - 1


@st.cache_data(show_spinner=False, max_entries=16)
def agreement(
    _first: np.ndarray, _second: np.ndarray, key: str, first_id: str, second_id: str, k: int
) -> np.ndarray:
    """Per document, the share of its k map neighbours two maps agree on."""
    return seed_agreement(_first, _second, k)


def show() -> None:
    corpus, vectors, key = corpus_context()
    params = umap_params()
    st.markdown(
        "UMAP starts from a random layout, so the **seed** changes the map. Run it again with "
        f"another seed and compare, for each document, its {K} nearest neighbours on both maps: "
        "the share they agree on is the colour (blue = same neighbours, red = different)."
    )
    if not fits_new_maps():
        return
    seed_column, _ = st.columns([1, 3])
    other = seed_column.number_input(
        "Another seed", 0, MAX_SEED, params.seed + 1, key="lessons_seed_other"
    )
    second_seed = int(other)
    maps = (map_of(vectors, key, params), map_of(vectors, key, replace(params, seed=second_seed)))
    try:
        shared = agreement(maps[0].coords, maps[1].coords, key, *map(map_id, maps), K)
        kept = [honesty(vectors, key, mapped, K).mean for mapped in maps]
    except EmbedscopeError as error:
        show_error(error)
        return
    labels = hover(corpus, corpus.content_hash)
    st.metric("Map neighbours the two seeds agree on (mean)", f"{shared.mean():.2f}")
    for column, name, mapped in zip(st.columns(2), ("first", "second"), maps, strict=True):
        figure = agreement_figure(mapped.coords, labels, shared, title=f"seed {mapped.params.seed}")
        column.plotly_chart(figure, key=f"lessons_seed_{name}")
    st.markdown(
        "**Full dimension:** the true neighbours involve no randomness. They are computed once "
        "from the vectors and are the same whatever the seed; only the maps move around them. "
        f"How much of them each map keeps (of each document's {K}):"
    )
    for column, mapped, share in zip(st.columns(2), maps, kept, strict=True):
        column.metric(f"True neighbours kept, seed {mapped.params.seed}", f"{share:.1%}")
