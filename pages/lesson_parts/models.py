"""Lesson 12 · Which model? The multilingual sample under the default model and the multilingual
one: do documents group by meaning or by language? Numbers measured here, on this server."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from lib.embed.models import DEFAULT_MODEL, MULTILINGUAL_MODEL
from lib.errors import EmbedscopeError
from lib.teach.lessons import neighbor_label_share
from pages._common import corpus_embedding, engine, hosted, set_corpus, show_error

SAMPLE = "multilingual"
MODELS = (DEFAULT_MODEL, MULTILINGUAL_MODEL)


def show() -> None:
    st.markdown(
        "The `multilingual` sample says the same 90 things in English, Spanish, French and "
        "German. A model that maps **meaning** puts a sentence next to its translations; one "
        "trained mostly on English puts it next to other sentences **of its language**. For "
        "each model: the share of each sentence's 10 nearest neighbours (full dimension) with "
        "its **topic**, and with its **language**, beside what chance gives."
    )
    corpus = engine().sample(SAMPLE)
    rows = []
    for model_name in MODELS:
        found = sample_vectors(corpus, model_name)
        if found is None:
            continue
        try:
            topic = neighbor_label_share(found.vectors, corpus.metadata["label"].tolist())
            language = neighbor_label_share(found.vectors, corpus.metadata["language"].tolist())
        except EmbedscopeError as error:
            show_error(error)
            return
        rows.append({"model": model_name, "same topic": topic, "same language": language})
    if not rows:
        return
    st.dataframe(pd.DataFrame(rows), hide_index=True, column_config={
        "same topic": st.column_config.ProgressColumn(format="%.2f", min_value=0, max_value=1),
        "same language": st.column_config.ProgressColumn(format="%.2f", min_value=0, max_value=1),
    })  # fmt: skip
    st.caption("Chance: 0.10 for the topic (10 topics), 0.25 for the language (4 languages).")
    st.markdown(
        "See it on two maps side by side: the **Compare** page puts this sample under both "
        "models. Colour by `language`, then by `label`."
    )
    if st.button("Compare the two models on this sample", icon=":material/compare:",
                 key="lessons_models_compare"):  # fmt: skip
        set_corpus(corpus, DEFAULT_MODEL)
        st.switch_page("pages/compare.py")


def sample_vectors(corpus, model_name: str):
    """The sample's vectors under `model_name`; a hosted server embeds nothing for a visitor."""
    found = engine().peek_vectors(corpus, model_name)
    if found is not None:
        return found
    if hosted().hosted:
        st.caption(f"{model_name}: not precomputed on this hosted server.")
        return None
    return corpus_embedding(corpus, model_name)
