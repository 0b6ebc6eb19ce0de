"""Lesson 7 · One map is one sample: the same UMAP with two seeds, neighbour by neighbour."""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from lib.errors import EmbedscopeError
from lib.figures.lessons import agreement_figure
from pages._common import engine, honesty, show_error
from pages.lesson_parts.common import (
    K,
    confirm_maps,
    corpus_context,
    fits_new_maps,
    hover,
    map_of,
    umap_params,
)

MAX_SEED = 2**31 - 1


def show() -> None:
    corpus, found = corpus_context()
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
    second = replace(params, seed=second_seed)
    if not confirm_maps([(found, params), (found, second)], "lessons_seed_go"):
        return
    maps = (map_of(found, params), map_of(found, second))
    try:
        shared = engine().seed_agreement(found, *maps, K)
        kept = [honesty(found, mapped, K).mean for mapped in maps]
    except EmbedscopeError as error:
        show_error(error)
        return
    labels = hover(corpus)
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
