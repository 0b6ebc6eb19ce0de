"""Guided tour: what embeddings are, in five short live steps on the bundled sample (issue 4).

Every step uses the bundled "topics" sample and the bundled model, whatever corpus the session
has loaded, so the tour always works; each step ends with a link to the page that does more.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from lib.cluster.clusters import ClusterParams
from lib.embed.models import DEFAULT_MODEL
from lib.errors import EmbedscopeError
from lib.figures.map import ColorBy, hover_labels, map_figure
from lib.figures.query import map_positions, query_map_figure, similarity_heatmap, step_labels
from lib.ingest.corpus import Corpus
from lib.query.expressions import evaluate, parse_expression, rank
from lib.query.words import word_expression
from lib.reduce.layouts import Projection, UMAPParams
from lib.reduce.neighbors import cosine_matrix
from lib.service.engine import Embedding
from lib.teach.tour import cluster_agreement, vector_summary
from pages import state
from pages._common import (
    clustering,
    corpus_embedding,
    engine,
    honesty,
    layout,
    md,
    sample_corpus,
    show_error,
    text_model,
)

state.require_app_frame()  # a direct link on a fresh server: rerun inside app.py's frame

PAGES = Path(__file__).parent
SAMPLE = "topics"
LABEL_COLUMN = "label"
MAP_PARAMS = UMAPParams()
MAP_HEIGHT = 520
SHOWN_NUMBERS = 12
SHOWN_HITS = 5
MAX_SENTENCES = 6
DEFAULT_SENTENCE = "The rocket reached orbit after a flawless launch."
DEFAULT_SENTENCES = (
    "My cat is sleeping on the sofa.\nA kitten naps on the couch.\nThe stock market fell sharply."
)
DEFAULT_WORDS = "king - man + woman"
# Row 0 of the bundled "topics" sample is a weekend spent making ramen broth.
DEFAULT_EXPRESSION = '#0 - "cooking" + "gardening"'


def embed(texts: list[str]) -> np.ndarray:
    """Free text → unit vectors with the bundled model (cached on disk like the sample)."""
    text_model(DEFAULT_MODEL)  # a spinner while it loads, the first time
    return engine().embed_queries(DEFAULT_MODEL, texts)


def step(number: int, title: str, text: str) -> DeltaGenerator:
    """A bordered box for one step, opened with its numbered title and a short explanation."""
    box = st.container(border=True, key=f"tour_step_{number}")
    box.subheader(f"{number}. {title}")
    box.markdown(text)
    return box


def show_map(figure: go.Figure, key: str) -> None:
    """A map nobody selects on: dragging zooms instead of drawing a lasso."""
    figure.update_layout(dragmode="zoom")
    st.plotly_chart(figure, key=key)


def sample_map() -> tuple[Corpus, np.ndarray, str, Projection]:
    """The sample, its embeddings (progress shown the first time) and its UMAP map."""
    sample = sample_corpus(SAMPLE)
    found = corpus_embedding(sample, DEFAULT_MODEL)
    return sample, found, layout(found, MAP_PARAMS)


def show_vector() -> None:
    """Step 1: one sentence, its vector's size, length and first numbers."""
    sentence = st.text_input("Type a sentence", DEFAULT_SENTENCE, key="tour_sentence")
    if not sentence.strip():
        st.info("Type a sentence to see its vector.")
        return
    try:
        summary = vector_summary(embed([sentence])[0], SHOWN_NUMBERS)
    except EmbedscopeError as error:
        show_error(error)
        return
    size_column, length_column = st.columns(2)
    size_column.metric("Numbers in the vector", summary.dimension)
    length_column.metric(
        "Length of the vector",
        f"{summary.norm:.3f}",
        help="The square root of the sum of the squared numbers: every vector has length 1.",
    )
    st.caption(f"The first {len(summary.first)} of its {summary.dimension} numbers:")
    first = pd.DataFrame(
        [summary.first], columns=[str(i) for i in range(1, len(summary.first) + 1)]
    )
    st.dataframe(
        first,
        hide_index=True,
        column_config={name: st.column_config.NumberColumn(format="%.3f") for name in first},
    )


def show_similarity() -> None:
    """Step 2: cosine similarities of a few typed sentences."""
    typed = st.text_area(
        "Sentences to compare, one per line", DEFAULT_SENTENCES, height=110, key="tour_sentences"
    )
    sentences = [line.strip() for line in typed.splitlines() if line.strip()]
    if len(sentences) > MAX_SENTENCES:
        st.warning(f"Only the first {MAX_SENTENCES} sentences are compared.")
        sentences = sentences[:MAX_SENTENCES]
    if len(sentences) < 2:
        st.info("Type at least two sentences, one per line.")
        return
    try:
        matrix = cosine_matrix(embed(sentences))
    except EmbedscopeError as error:
        show_error(error)
        return
    st.plotly_chart(similarity_heatmap(matrix, sentences), key="tour_heatmap")


def show_clusters(sample: Corpus, found: Embedding, mapped: Projection, hover: list[str]) -> None:
    """Step 3: the map by topic, or by KMeans clusters, and how well the two agree."""
    labels = sample.metadata[LABEL_COLUMN].to_numpy()
    n_topics = int(sample.metadata[LABEL_COLUMN].nunique())
    by_clusters = st.toggle(
        f"Colour by the {n_topics} groups KMeans finds instead", value=False, key="tour_clusters"
    )
    try:
        params = ClusterParams(method="kmeans", n_clusters=n_topics, space="embeddings")
        clusters = clustering(found, sample, params, mapped)
        agreement = cluster_agreement(labels, clusters.labels)
    except EmbedscopeError as error:
        show_error(error)
        return
    st.metric(
        "Agreement of the groups with the topics (adjusted Rand index)",
        f"{agreement:.2f}",
        help="1: the same grouping; 0: no better than chance. Group names do not matter.",
    )
    color = (
        ColorBy("KMeans group", clusters.point_names()) if by_clusters else ColorBy("topic", labels)
    )
    show_map(map_figure(mapped.coords, hover, color=color, height=MAP_HEIGHT), "tour_cluster_map")


def show_word_arithmetic() -> None:
    """Step 4a: word arithmetic on GloVe, the nearest words beside the question."""
    question_column, answer_column = st.columns(2)
    with question_column:
        source = st.text_input("Word arithmetic", DEFAULT_WORDS, key="tour_words")
        exclude = st.toggle(
            "Hide the typed words",
            value=True,
            key="tour_words_exclude",
            help="The typed words are usually nearest of all; turn this off to see them.",
        )
    with answer_column:
        show_word_hits(source, exclude)


def show_word_hits(source: str, exclude: bool) -> None:
    """The words nearest to a word expression, or what is wrong with it."""
    if not source.strip():
        st.info("Type words joined by + and -, e.g. king - man + woman.")
        return
    try:
        with st.spinner("Loading the GloVe word vectors…"):
            vocabulary = engine().glove()
        _, hits = word_expression(vocabulary, source, SHOWN_HITS, exclude_inputs=exclude)
    except EmbedscopeError as error:
        show_error(error, source)
        return
    table = pd.DataFrame(
        {
            "rank": range(1, len(hits) + 1),
            "word": [hit.word for hit in hits],
            "cosine": [hit.score for hit in hits],
        }
    )
    st.dataframe(
        table,
        hide_index=True,
        column_config={"cosine": st.column_config.NumberColumn(format="%.3f")},
    )


def show_text_arithmetic(
    sample: Corpus, vectors: np.ndarray, mapped: Projection, hover: list[str]
) -> None:
    """Step 4b: a document plus and minus sentences, its nearest documents and its path."""
    source = st.text_input(
        "Arithmetic on documents (#id) and sentences (in quotes)",
        DEFAULT_EXPRESSION,
        key="tour_expression",
    )
    if not source.strip():
        st.info(f"Type an expression, e.g. {DEFAULT_EXPRESSION}")
        return
    try:
        expression = parse_expression(source)
        result = evaluate(expression, embed=embed, doc_vectors=vectors)
        hits = rank(vectors, result, SHOWN_HITS)
        with st.spinner("Placing the sum on the map…"):
            path_points = map_positions(result.path, mapped.transform)
    except EmbedscopeError as error:
        show_error(error, source)
        return
    for row in result.input_docs:
        st.caption(
            f"#{row} ({md(sample.metadata[LABEL_COLUMN].iloc[row])}): {md(sample.texts[row])}"
        )
    rows = [hit.index for hit in hits]
    table = pd.DataFrame(
        {
            "rank": range(1, len(rows) + 1),
            "id": rows,
            "cosine": [hit.score for hit in hits],
            "topic": sample.metadata[LABEL_COLUMN].iloc[rows].to_numpy(),
            "text": [sample.texts[row] for row in rows],
        }
    )
    st.dataframe(
        table,
        hide_index=True,
        column_config={
            "cosine": st.column_config.NumberColumn(format="%.3f"),
            "text": st.column_config.TextColumn(width="large"),
        },
    )
    figure = query_map_figure(
        mapped.coords,
        hover,
        color=ColorBy("topic", sample.metadata[LABEL_COLUMN].to_numpy()),
        path_points=path_points,
        path_labels=step_labels(expression.terms),
        hit_rows=rows,
        query_label=source,
        height=MAP_HEIGHT,
    )
    st.plotly_chart(figure, key="tour_query_map")


def show_honesty(found: Embedding, mapped: Projection, hover: list[str]) -> None:
    """Step 5: per-point share of true neighbours the map keeps, its mean and trustworthiness."""
    k = st.slider("Neighbours compared (k)", 5, 30, 10, key="tour_k")
    try:
        report = honesty(found, mapped, k)
    except EmbedscopeError as error:
        show_error(error)
        return
    kept_column, trust_column = st.columns(2)
    kept_column.metric("True neighbours kept (mean)", f"{report.mean:.0%}")
    trust_column.metric(
        "Trustworthiness",
        f"{report.trustworthiness:.3f}",
        help="scikit-learn's measure of the opposite question: are neighbours on the map true "
        "neighbours? 1: always.",
    )
    color = ColorBy(f"share of {k} true neighbours kept", report.per_point, continuous=True)
    show_map(map_figure(mapped.coords, hover, color=color, height=MAP_HEIGHT), "tour_honesty_map")


st.title("What are embeddings, really?")
sample = sample_corpus(SAMPLE)
st.caption(
    f"Short steps, each with something to try. They use the bundled {SAMPLE} sample "
    f"({len(sample):,} short texts on {sample.metadata[LABEL_COLUMN].nunique()} topics) and the "
    f"{DEFAULT_MODEL} model, whatever corpus you have loaded."
)

with step(
    1,
    "A sentence becomes a list of numbers",
    "An embedding model reads a text and returns a fixed-length list of numbers: its *vector*. "
    "No single number means anything on its own; what counts is how the vectors of different "
    "texts compare. Every vector is scaled to length 1, so only its direction carries meaning.",
):
    show_vector()
    st.page_link(
        PAGES / "corpus.py", label="Embed your own texts: Corpus", icon=":material/upload_file:"
    )

with step(
    2,
    "Relatedness is the dot product",
    "Texts with similar meanings get vectors that point the same way, even with no word in "
    "common. Multiply two vectors number by number and add up the products: because both have "
    "length 1, this *dot product* is the cosine of the angle between them, 1 for the same "
    "direction and near 0 for unrelated texts.",
):
    show_similarity()
    st.page_link(
        PAGES / "arithmetic.py",
        label="Compare documents and sentences: Arithmetic",
        icon=":material/calculate:",
    )

with step(
    3,
    "Meaning clusters",
    f"Each dot is one of the sample's {len(sample):,} texts, placed by UMAP so that texts with "
    "similar vectors sit close together. Colours show the topic each text was written for; switch "
    "to the groups KMeans finds in the vectors alone, without ever seeing the topics.",
):
    try:
        sample, found, mapped = sample_map()
    except EmbedscopeError as error:
        show_error(error, what="Could not map the sample")
        st.stop()
    hover = hover_labels(sample.texts, sample.metadata)
    show_clusters(sample, found, mapped, hover)
    st.page_link(
        PAGES / "map.py",
        label="Explore clusters and neighbours: Map",
        icon=":material/scatter_plot:",
    )

with step(
    4,
    "Vectors combine",
    "Because meaning is a direction, you can add and subtract it. With word vectors (GloVe), "
    "king − man + woman lands nearest to queen. It works for whole texts too: below, a document "
    "minus one topic plus another; on the map the arrows follow the sum to the star, and the "
    "ringed dots are its nearest documents.",
):
    show_word_arithmetic()
    show_text_arithmetic(sample, found.vectors, mapped, hover)
    words_column, arithmetic_column = st.columns(2)
    with words_column:
        st.page_link(
            PAGES / "words.py", label="Analogies and word maps: Words", icon=":material/abc:"
        )
    with arithmetic_column:
        st.page_link(
            PAGES / "arithmetic.py",
            label="Arithmetic on any corpus: Arithmetic",
            icon=":material/calculate:",
        )

with step(
    5,
    "How far to trust the 2-D picture",
    f"Squeezing {found.vectors.shape[1]} numbers into {mapped.coords.shape[1]} must bend some "
    "distances. For every text we take its k nearest neighbours by cosine in the full vectors and "
    "count how many are still among its k nearest on the map (yellow: most, purple: few). Expect "
    "clusters to survive and the order inside them to shuffle; trustworthiness checks the other "
    "way round, whether neighbours on the map are true neighbours.",
):
    show_honesty(found, mapped, hover)
    st.page_link(
        PAGES / "map.py",
        label="Check any map's honesty: Map, How honest is this map?",
        icon=":material/scatter_plot:",
    )

st.markdown("Ready for more? The lessons go deeper into what maps can and cannot show.")
st.page_link(PAGES / "lessons.py", label="Lessons", icon=":material/school:")
