"""Arithmetic page: add and subtract documents and free text; the hits and the path on the map."""

import numpy as np
import pandas as pd
import streamlit as st

from lib.errors import EmbedscopeError, QueryError
from lib.figures.map import ColorBy, hover_labels
from lib.figures.query import map_positions, query_map_figure, similarity_heatmap, step_labels
from lib.ingest.corpus import Corpus
from lib.query.examples import Example
from lib.query.expressions import Hit, evaluate, parse_expression, rank
from lib.reduce.layouts import Projection
from lib.reduce.neighbors import cosine_matrix
from lib.service.engine import Embedding
from pages import state
from pages._common import (
    NO_TEXT_MODEL,
    clustering,
    current_cluster_params,
    current_map,
    engine,
    md,
    show_error,
    text_embedder,
)

state.require_app_frame()  # a direct link on a fresh server: rerun inside app.py's frame

GRAMMAR = (
    'Terms: "quoted text", #id (a document), or bare words; combine with + and -, weight with '
    '0.5 * "text", group with ( ), average with mean(a, b, ...).'
)
MAX_COMPARE = 12
DEFAULT_SENTENCES = "He kicked the bucket\nHe kicked the bucket across the yard\nHe passed away"


def no_text_model(texts: list[str]) -> np.ndarray:
    """Stands in for the text model when the vectors were uploaded without one."""
    raise QueryError(NO_TEXT_MODEL)


embedder = text_embedder()
embed = embedder or no_text_model


def examples_for(corpus: Corpus, found: Embedding, mapped: Projection) -> list[Example]:
    """Examples built from this corpus: its first label column's groups, else its clusters."""
    columns = corpus.label_columns()
    if columns:
        groups, values = pd.factorize(corpus.metadata[columns[0]])
        names = {code: str(value) for code, value in enumerate(values)}
    else:
        clusters = clustering(found, corpus, current_cluster_params(), mapped)
        groups, names = clusters.labels, clusters.names
    return engine().examples(corpus, found, groups, names, free_text=embedder is not None)


st.title("Arithmetic")
try:
    corpus, found, mapped = current_map()
    vectors = found.vectors
except EmbedscopeError as error:
    st.error(f"Could not build the map: {md(error)}")
    st.stop()
label_columns = corpus.label_columns()
color = (
    ColorBy(label_columns[0], corpus.metadata[label_columns[0]].to_numpy())
    if label_columns
    else None
)
st.caption(
    f"{md(corpus.source)} · {len(corpus):,} documents · "
    "add and subtract documents and free text, then find the documents nearest the result."
)

examples = examples_for(corpus, found, mapped)
state.prepare_arith_expression(found.key, examples[0].expression if examples else "")
bar = st.container(horizontal=True, vertical_alignment="center")
bar.caption("Examples:")
for example in examples:
    bar.button(
        f"`{example.expression}`",
        on_click=state.use_arith_example,
        args=(example.expression,),
        type="tertiary",
        help=md(example.description),
    )
source = st.text_input("Expression", key=state.ARITH_EXPRESSION, help=GRAMMAR)
k_column, keep_column = st.columns([2, 1])
k = k_column.slider("Results (k)", 1, 50, 10, key="arith_k")
keep_inputs = keep_column.toggle(
    "Keep input documents",
    value=False,
    key="arith_keep",
    help="The #id documents of the expression are left out of the results unless this is on.",
)


def run(source: str) -> tuple[list[str], np.ndarray, list[Hit]] | None:
    """Parse, evaluate, rank and place the path on the map; errors are shown and give None."""
    try:
        expression = parse_expression(source)
        result = evaluate(expression, embed=embed, doc_vectors=vectors)
        hits = rank(vectors, result, k, exclude_inputs=not keep_inputs)
        with st.spinner("Placing the query on the map…"):
            path_points = map_positions(result.path, mapped.transform)
    except EmbedscopeError as error:
        show_error(error, source)
        return None
    return step_labels(expression.terms), path_points, hits


def results_table(hits: list[Hit]) -> pd.DataFrame:
    """Rank, id, cosine, text and the label columns of the hits (and which ones were inputs)."""
    rows = [hit.index for hit in hits]
    table = corpus.metadata.iloc[rows][label_columns].reset_index(drop=True)
    table.insert(0, "text", [corpus.texts[row] for row in rows])
    table.insert(0, "cosine", [hit.score for hit in hits])
    table.insert(0, "id", rows)
    table.insert(0, "rank", range(1, len(rows) + 1))
    if keep_inputs:
        table["input"] = [hit.is_input for hit in hits]
    return table


def show_query(source: str) -> None:
    """The hits as a table, then the map with the hits, the path and the query star."""
    if not source.strip():
        st.info("Type an expression, or click one of the examples above.")
        return
    ran = run(source)
    if ran is None:
        return
    labels, path_points, hits = ran
    st.dataframe(
        results_table(hits),
        hide_index=True,
        column_config={
            "cosine": st.column_config.NumberColumn(format="%.3f"),
            "text": st.column_config.TextColumn(width="large"),
        },
    )
    figure = query_map_figure(
        mapped.coords,
        hover_labels(corpus.texts, corpus.metadata),
        color=color,
        path_points=path_points,
        path_labels=labels,
        hit_rows=[hit.index for hit in hits],
        query_label=source,
    )
    st.plotly_chart(figure, key="arith_map")
    st.caption(
        f"The star and the path are placed on the current map without refitting it, so their "
        f"{mapped.coords.shape[1]}-D positions are approximations; the ranking is computed in the "
        f"full {vectors.shape[1]} dimensions."
    )


show_query(source)

st.header("Similarity")
st.caption(
    "Cosine similarity in the full dimension between documents you pick and sentences you type. "
    "The example sentences show a trap: the literal look-alike scores far above the true "
    "paraphrase, because the model leans on shared words."
)
documents = st.multiselect(
    "Documents",
    range(len(corpus)),
    format_func=lambda row: f"#{row} · {corpus.texts[row][:90]}",
    max_selections=MAX_COMPARE,
    key="arith_compare_docs",
)
typed = st.text_area(
    "Sentences, one per line",
    DEFAULT_SENTENCES if embedder else "",
    height=110,
    key="arith_compare_text",
    disabled=embedder is None,
    help=None if embedder else NO_TEXT_MODEL,
)
sentences = [line.strip() for line in typed.splitlines() if line.strip()]
if len(sentences) > MAX_COMPARE:
    st.warning(f"Only the first {MAX_COMPARE} sentences are compared.")
    sentences = sentences[:MAX_COMPARE]
if len(documents) + len(sentences) < 2:
    st.info("Pick or type at least two items to compare.")
else:
    try:
        parts = [vectors[documents], embed(sentences)] if sentences else [vectors[documents]]
        matrix = cosine_matrix(np.vstack(parts))
    except EmbedscopeError as error:
        st.error(md(error))
    else:
        names = [f"#{row} {corpus.texts[row]}" for row in documents] + sentences
        st.plotly_chart(similarity_heatmap(matrix, names), key="arith_heatmap")
