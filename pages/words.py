"""Words page: GloVe analogies and word arithmetic; a word map where analogies are arrows."""

import re

import pandas as pd
import streamlit as st

from lib.errors import EmbedscopeError, QueryError
from lib.figures.query import word_map_figure
from lib.query.words import (
    WordHit,
    WordVectors,
    analogy,
    frequent_words,
    word_expression,
)
from lib.reduce.layouts import PCAParams, UMAPParams
from pages import state
from pages._common import engine, hosted, layout, md, show_error

state.require_app_frame()  # a direct link on a fresh server: rerun inside app.py's frame

MAX_EXTRA_WORDS = 50  # each unknown word is looked up among 50,000 for suggestions
MAX_WORD_CHARS = 40
NEIGHBOURS_LABELLED = 5  # the word map names this many nearest answers of each question
ANALOGY_KEYS = ("words_a", "words_b", "words_c")


def glove() -> WordVectors:
    """GloVe 6B 50d, read once per server by the engine (shared, never mutated)."""
    with st.spinner("Loading 400,000 GloVe word vectors…"):
        return engine().glove()


def hits_table(hits: list[WordHit], show_inputs: bool) -> pd.DataFrame:
    """Rank, word and cosine of each hit (and whether the question used it)."""
    table = pd.DataFrame(
        {
            "rank": range(1, len(hits) + 1),
            "word": [hit.word for hit in hits],
            "cosine": [hit.score for hit in hits],
        }
    )
    if show_inputs:
        table["input"] = [hit.is_input for hit in hits]
    return table


def use_spelling(keys: tuple[str, ...], wrong: str, right: str) -> None:
    """Put `right` in place of the word `wrong` in the text inputs `keys` (a button's callback)."""
    pattern = re.compile(rf"(?<![\w'-]){re.escape(wrong)}(?![\w'-])", re.IGNORECASE)
    for key in keys:
        value = st.session_state.get(key)
        if isinstance(value, str):
            state.set_widget(key, pattern.sub(right, value))


def offer_spellings(error: EmbedscopeError, keys: tuple[str, ...], name: str) -> None:
    """The close spellings of an unknown word as buttons that put one in its place."""
    for wrong, close in getattr(error, "suggestions", {}).items():
        columns = st.columns([3, 1, 1, 1, 2])  # up to three spellings (lib.query.words.suggest)
        columns[0].caption(f"Did you mean, for '{md(wrong)}':")
        for column, right in zip(columns[1:], close, strict=False):
            column.button(
                right, key=f"{name}_spelling_{wrong}_{right}", on_click=use_spelling,
                args=(keys, wrong, right),
            )  # fmt: skip


def show_hits(hits: list[WordHit], show_inputs: bool) -> None:
    st.dataframe(
        hits_table(hits, show_inputs),
        hide_index=True,
        column_config={"cosine": st.column_config.NumberColumn(format="%.3f")},
    )


st.title("Words")
vocabulary = glove()
st.caption(
    f"GloVe 6B word vectors: {len(vocabulary.words):,} lowercase words in 50 dimensions, "
    "compared by cosine. Word mode works on single words, not on the corpus."
)

st.header("Analogy")
st.caption("a is to b as c is to ?, answered by the words nearest to b − a + c (3CosAdd).")
a_column, b_column, c_column = st.columns(3)
a = a_column.text_input("a", "man", key="words_a", max_chars=MAX_WORD_CHARS)
b = b_column.text_input("is to b", "king", key="words_b", max_chars=MAX_WORD_CHARS)
c = c_column.text_input("as c is to ?", "woman", key="words_c", max_chars=MAX_WORD_CHARS)
k_column, exclude_column = st.columns([2, 1])
k = k_column.slider("Results (k)", 1, 30, 10, key="words_k")
exclude = exclude_column.toggle(
    "Exclude the question's words",
    value=True,
    key="words_exclude",
    help="a, b and c (or the expression's words) are usually nearest; leave them out of the "
    "results to see the answer.",
)
answer = None
analogy_hits: list[WordHit] = []
expression_hits: list[WordHit] = []
try:
    analogy_hits = analogy(vocabulary, a, b, c, k, exclude_inputs=exclude)
except EmbedscopeError as error:
    show_error(error)
    offer_spellings(error, ANALOGY_KEYS, "analogy")
else:
    answer = analogy_hits[0].word
    st.markdown(f"{md(a)} : {md(b)} :: {md(c)} : **{md(answer)}**")
    show_hits(analogy_hits, not exclude)

st.header("Word arithmetic")
source = st.text_input(
    "Expression over words",
    "paris - france + italy",
    key="words_expression",
    max_chars=500,
    help="Single words combined with + and -, weights like 0.5 * word, and mean(a, b).",
)
if source.strip():
    try:
        _, expression_hits = word_expression(vocabulary, source, k, exclude_inputs=exclude)
    except EmbedscopeError as error:
        show_error(error, source)
        offer_spellings(error, ("words_expression",), "expression")
    else:
        show_hits(expression_hits, not exclude)

st.header("Word map")
st.caption(
    "The most frequent words plus the analogy's words (and any you add). PCA is a linear "
    "projection, so arrows that are parallel in the full 50 dimensions stay parallel on it, and "
    "how parallel a → b and c → answer look shows how well the analogy holds. UMAP keeps "
    "neighbourhoods instead and bends the arrows, often out of sight."
)
layout_column, view_column, size_column = st.columns([1, 1, 3])
layouts = (
    ["PCA"] if hosted().hosted else ["PCA", "UMAP"]
)  # a hosted server fits no UMAP per visitor
method = layout_column.segmented_control("Layout", layouts, default="PCA", key="words_method")
view = view_column.segmented_control("View", ["2D", "3D"], default="2D", key="words_view")
n_words = size_column.slider("Most frequent words", 200, 3000, 1000, 100, key="words_n")
extra = st.text_input(
    f"More words to place (up to {MAX_EXTRA_WORDS}, separated by spaces or commas)",
    key="words_extra", max_chars=MAX_EXTRA_WORDS * (MAX_WORD_CHARS + 1),
)  # fmt: skip

question = [word.strip().lower() for word in (a, b, c)]
typed = list(dict.fromkeys(extra.lower().replace(",", " ").split()))
if len(typed) > MAX_EXTRA_WORDS:
    st.warning(f"Only the first {MAX_EXTRA_WORDS} of {len(typed):,} words are placed.")
    typed = typed[:MAX_EXTRA_WORDS]
typed = [word[:MAX_WORD_CHARS] for word in typed]
try:
    vocabulary.lookup(typed)
except QueryError as error:
    st.warning(md(error))
    offer_spellings(error, ("words_extra",), "extra")
    typed = [word for word in typed if word in vocabulary.index]
analogy_words = [*question, answer] if answer else []
arrows = [(question[0], question[1]), (question[2], answer)] if answer else []
neighbours = [
    hit.word for hits in (analogy_hits, expression_hits) for hit in hits[:NEIGHBOURS_LABELLED]
]
shown = list(dict.fromkeys(analogy_words + typed + neighbours))  # labelled on the map
mapped_words = tuple(dict.fromkeys(frequent_words(vocabulary, n_words) + shown))
dimensions = 3 if view == "3D" else 2
params = UMAPParams(n_components=dimensions) if method == "UMAP" else PCAParams(dimensions)
try:
    mapped = layout(engine().words(mapped_words), params)
    figure = word_map_figure(mapped.coords, mapped_words, labelled=shown, arrows=arrows)
except EmbedscopeError as error:
    show_error(error)
else:
    st.plotly_chart(figure, key="words_map")
