"""Lessons page: eleven short lessons on what embeddings and their maps can and cannot tell.

Lessons 2 to 8 run on the session's corpus, 1 and 10 on sentences typed here, 9 and 10 on GloVe
words; 11 lets a teacher save views as a lesson with a link. Only the picked lesson renders.
Numbers come from lib.teach.lessons / lib.engine.honesty, figures from lib.figures.lessons;
each expensive step is
cached on the embeddings' content key and parameters. A link `?lesson=<id>&step=<n>` (or a lesson
this tab already follows) replaces the picker with that lesson's steps, read-only.
"""

import hashlib
from dataclasses import replace
from urllib.parse import urlencode, urlsplit, urlunsplit

import numpy as np
import pandas as pd
import streamlit as st

from lib.engine.cluster import NOISE, NOISE_NAME, ClusterParams
from lib.engine.corpus import DATA_DIR, Corpus
from lib.engine.embed import DEFAULT_MODEL, embed_texts
from lib.engine.honesty import neighbor_overlap
from lib.engine.neighbors import cosine_matrix, top_k
from lib.engine.reduce import PCAParams, Projection, UMAPParams
from lib.errors import EmbedscopeError
from lib.figures.lessons import (
    PANEL_POINTS,
    agreement_figure,
    analogy_axes_figure,
    clicked_guess,
    guess_figure,
    guess_grid,
    highlight_figure,
    input_gap,
    moved_points,
    pair_name,
    pair_table,
    placement_figure,
    row_cosines,
    score_bars,
    sentence_pairs,
    small_multiples,
    trap_sentences,
    truth_vs_drawing,
)
from lib.figures.map import ColorBy, hover_labels
from lib.figures.query import similarity_heatmap
from lib.query.words import WordHit, WordVectors, analogy, load_glove, word_expression
from lib.share.bookmarks import (
    LESSON_PARAM,
    MAX_CAPTION_CHARS,
    STEP_PAGES,
    STEP_PARAM,
    Lesson,
    LessonLink,
    LessonStore,
    Step,
    lesson_query,
    lesson_target,
    move_step,
    parse_rows,
)
from lib.share.projects import PROJECT_PARAM, SAMPLE_PARAM, Project, ProjectView, ShareTarget
from lib.teach.lessons import (
    AnalogyBenchmark,
    RecoveryReport,
    SizeReport,
    analogy_axes,
    analogy_benchmark,
    opposite_pairs_report,
    placement_error,
    random_like,
    rank_agreement,
    recovery_report,
    seed_agreement,
    sizes_and_gaps,
)
from pages._common import (
    active_corpus,
    active_vectors,
    apply_view,
    clustering,
    current_map_params,
    embedding_cache,
    honesty,
    is_bundled_sample,
    md,
    open_project,
    project_store,
    projection,
    sample_corpus,
    set_corpus,
    text_model,
    true_neighbors,
)

K = 10  # neighbours behind every kNN score on this page
PLACEMENT_NEIGHBOURS = 5
ANALOGY_HITS = 10
GRID_NEIGHBOURS = (5, 15, 50)
GRID_MIN_DISTS = (0.0, 0.1, 0.5)
MAP_CLUSTERS = ClusterParams(space="map")  # HDBSCAN on the map: what the eye would call clusters
FOUND_CLUSTERS = "found clusters"
RANDOM_SEED = 0
MAX_K = 50
STEP_FILES = {"map": ("pages/map.py", "Map"), "arithmetic": ("pages/arithmetic.py", "Arithmetic")}
NEGATIONS = pd.DataFrame(
    {
        "sentence": [
            "I love this movie",
            "She passed the exam",
            "The restaurant is open on Sundays",
            "This medicine is safe for children",
            "The flight was on time",
        ],
        "negation": [
            "I do not love this movie",
            "She did not pass the exam",
            "The restaurant is not open on Sundays",
            "This medicine is not safe for children",
            "The flight was not on time",
        ],
        "paraphrase": [
            "This film is one of my favourites",
            "She got through the test",
            "You can eat there at the weekend",
            "Kids can take this drug without risk",
            "The plane arrived as scheduled",
        ],
    }
)


# Cached steps: keyed by content key + parameters; big arrays pass unhashed (`_` prefix).


@st.cache_resource(show_spinner="Loading the GloVe word vectors…")
def glove() -> WordVectors:
    """GloVe 6B 50d, read once per server and shared (never mutated)."""
    return load_glove()


@st.cache_data(show_spinner=False)
def read_data(name: str) -> pd.DataFrame:
    """A bundled CSV from data/ (traps, analogies), read once."""
    return pd.read_csv(DATA_DIR / name, keep_default_na=False)


@st.cache_data(show_spinner=False, max_entries=8)
def hover(_corpus: Corpus, content_hash: str) -> list[str]:
    """Escaped hover labels of the corpus, built once per corpus."""
    return hover_labels(_corpus.texts, _corpus.metadata)


@st.cache_resource(show_spinner=False, max_entries=4)
def random_vectors(_vectors: np.ndarray, key: str, seed: int) -> np.ndarray:
    """Random unit vectors shaped like the embeddings: structure removed, size kept."""
    return random_like(_vectors, seed)


@st.cache_data(show_spinner="Measuring sizes and gaps…", max_entries=32)
def sizes(
    _vectors: np.ndarray, _coords: np.ndarray, _groups: list, key: str, map_id: str, groups: str
) -> SizeReport:
    """True and drawn spreads and gaps of the groups `groups` on one map."""
    return sizes_and_gaps(_vectors, _coords, _groups)


@st.cache_data(show_spinner="Measuring label recovery…", max_entries=32)
def recovery(
    _vectors: np.ndarray,
    _coords: np.ndarray,
    _labels: list,
    key: str,
    map_id: str,
    column: str,
    k: int,
) -> RecoveryReport:
    """Label recovery of `column` in full dimension, on one map, and the majority baseline."""
    return recovery_report(_vectors, _coords, _labels, k)


@st.cache_data(show_spinner=False, max_entries=16)
def agreement(
    _first: np.ndarray, _second: np.ndarray, key: str, first_id: str, second_id: str, k: int
) -> np.ndarray:
    """Per document, the share of its k map neighbours two maps agree on."""
    return seed_agreement(_first, _second, k)


@st.cache_data(show_spinner="Answering every analogy question three ways…")
def benchmark() -> AnalogyBenchmark:
    """data/analogies.csv through 3CosAdd (inputs excluded), unrestricted, and c alone."""
    return analogy_benchmark(glove(), read_data("analogies.csv"))


@st.cache_data(show_spinner=False)
def opposites() -> pd.DataFrame:
    """The built-in opposite word pairs and how close GloVe puts them."""
    return opposite_pairs_report(glove())


@st.cache_resource(show_spinner=False)
def lesson_store() -> LessonStore:
    """Saved bookmark lessons, shared by every session of this server."""
    return LessonStore()


@st.cache_resource(show_spinner=False, max_entries=4)
def saved_project(project_id: str) -> Project:
    """A saved project a lesson step names (read-only, shared), for its title and texts."""
    return project_store().load(project_id)


# Shared pieces


def show_error(error: EmbedscopeError) -> None:
    st.error(md(error))


def sentence_model() -> str:
    """The corpus's text model, or the bundled one when the corpus came as uploaded vectors."""
    return st.session_state.get("model_name") or DEFAULT_MODEL


def embed(texts: list[str], model_name: str) -> np.ndarray:
    """Unit vectors of a few typed texts (through the shared embedding cache)."""
    return embed_texts(texts, text_model(model_name), cache=embedding_cache()).vectors


def corpus_context() -> tuple[Corpus, np.ndarray, str]:
    """The session's corpus, its vectors and their content key (stops the page on failure)."""
    corpus = active_corpus()
    try:
        vectors, key = active_vectors(corpus)
    except EmbedscopeError as error:
        st.error(f"Could not embed this corpus: {md(error)}")
        st.stop()
    return corpus, vectors, key


def honesty_k(n_points: int) -> int:
    """K, or fewer on a tiny corpus: trustworthiness needs k below half the points."""
    return max(1, min(K, (n_points - 1) // 2))


def umap_params() -> UMAPParams:
    """The Map page's UMAP settings in 2-D (the defaults when the Map page shows PCA)."""
    params = current_map_params()
    return replace(params, n_components=2) if isinstance(params, UMAPParams) else UMAPParams()


def map_of(vectors: np.ndarray, key: str, params: UMAPParams | PCAParams) -> Projection:
    """A cached map; lib errors stop the lesson with a message."""
    try:
        return projection(vectors, key, params)
    except EmbedscopeError as error:
        show_error(error)
        st.stop()


def map_id(mapped: Projection) -> str:
    return f"{mapped.method}:{mapped.params}"


def group_picker(
    corpus: Corpus,
    vectors: np.ndarray,
    key: str,
    mapped: Projection,
    widget_key: str,
    *,
    label: str = "Groups",
) -> ColorBy:
    """A label column of the corpus, or the clusters found in the embeddings, as a ColorBy."""
    options = [*corpus.label_columns(), FOUND_CLUSTERS]
    choice = st.selectbox(label, options, key=widget_key)
    if choice == FOUND_CLUSTERS:
        found = clustering(vectors, corpus, key, ClusterParams(), mapped)
        return ColorBy(FOUND_CLUSTERS, found.point_names())
    return ColorBy(choice, corpus.metadata[choice].to_numpy())


def revealed(name: str, state: str, label: str, *, disabled: bool = False) -> bool:
    """A Reveal button that stays pressed while `state` (what was guessed) is unchanged."""
    if st.button(label, type="primary", key=f"{name}_button", disabled=disabled):
        st.session_state[name] = state
    return not disabled and st.session_state.get(name) == state


def digest(*parts: object) -> str:
    return hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()[:16]


# 1. Guess, then see: similarity

OWN_SENTENCES = (
    "The cat sat on the mat\nA kitten was resting on the rug\nThe cat sat on the hat\n"
    "Interest rates rose again"
)


def lesson_similarity() -> None:
    st.markdown(
        "A sentence model turns each sentence into a vector, and **cosine similarity** says how "
        "close two vectors point (1 = same direction). It is tempting to read it as *means the "
        "same*, but models also reward shared words. Order the pairs below from most to least "
        "similar **as you expect the model to score them**, then reveal what it computes. The "
        "score compares your order with the model's (Spearman: 1 = same order, −1 = reversed)."
    )
    traps = read_data("similarity_traps.csv")
    source = st.radio(
        "Sentences",
        ["A trap from our collection", "My own sentences"],
        horizontal=True,
        key="lessons_sim_source",
    )
    preset = source == "A trap from our collection"
    try:
        if preset:
            row = st.selectbox(
                "Trap",
                range(len(traps)),
                format_func=lambda r: traps["anchor"].iloc[r],
                key="lessons_sim_trap",
            )
            sentences = trap_sentences(traps, row)
        else:
            typed = st.text_area(
                "4 to 6 sentences, one per line", OWN_SENTENCES, key="lessons_sim_own"
            )
            sentences = [line.strip() for line in typed.splitlines() if line.strip()]
    except EmbedscopeError as error:
        show_error(error)
        return
    if not 4 <= len(sentences) <= 6:
        st.warning(f"Type 4 to 6 sentences, one per line; there are {len(sentences)} now.")
        return
    st.markdown("\n".join(f"{i}. {md(sentence)}" for i, sentence in enumerate(sentences, 1)))
    pairs = sentence_pairs(len(sentences))
    state = digest(*sentences)
    order = st.multiselect(
        "Pick the pairs one by one, the most similar first (at least 2; all of them is best)",
        pairs,
        format_func=lambda pair: pair_name(pair, sentences),
        key=f"lessons_sim_order_{state}",
    )
    st.caption(f"{len(order)} of {len(pairs)} pairs ordered.")
    if not revealed(
        "lessons_sim_revealed", digest(state, order), "Reveal", disabled=len(order) < 2
    ):
        return
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
        pair_table(order, similarity),
        hide_index=True,
        column_config={"cosine": st.column_config.NumberColumn(format="%.3f")},
    )
    if preset:
        numbers.markdown(
            f"The look-alike (2) scores **{similarity[0, 1]:.2f}** with the anchor (1), the "
            f"paraphrase (3) **{similarity[0, 2]:.2f}**: the model follows the shared words. "
            f"*Why it is a trap:* {md(traps['note'].iloc[row])}"
        )


# 2. Guess, then see: placement


def lesson_placement() -> None:
    corpus, vectors, key = corpus_context()
    params = replace(current_map_params(), n_components=2)
    mapped = map_of(vectors, key, params)
    st.markdown(
        "A map squeezes hundreds of dimensions into two. A new sentence can be **placed** on an "
        "existing map without redrawing it: the map's reducer computes where it would have gone. "
        "Type a sentence, **click on the map where you think it lands**, then reveal. The score "
        "is the distance from your guess to the model's placement, as a share of the map's "
        f"diagonal (0 = spot on). Its {PLACEMENT_NEIGHBOURS} true neighbours (full dimension) "
        "are ringed."
    )
    sentence = st.text_input(
        "Your sentence", "The goalkeeper saved a penalty in extra time", key="lessons_place_text"
    )
    color = group_picker(corpus, vectors, key, mapped, "lessons_place_color", label="Colour by")
    labels = hover(corpus, corpus.content_hash)
    grid = guess_grid(mapped.coords)
    event = st.plotly_chart(
        guess_figure(mapped.coords, labels, grid, color=color),
        key="lessons_place_chart",
        on_select="rerun",
        selection_mode="points",
    )
    guess = clicked_guess(event, mapped.coords, grid)
    model_name = st.session_state.get("model_name")
    if model_name is None:
        st.info(
            "These vectors were uploaded without a text model, so a typed sentence cannot be "
            "placed on their map."
        )
        return
    if not sentence.strip():
        st.info("Type a sentence first.")
        return
    if guess is None:
        st.info("Click on the map where you think your sentence lands.")
        return
    st.caption(f"Your guess: x = {guess[0]:.2f}, y = {guess[1]:.2f}.")
    if not revealed("lessons_place_revealed", digest(sentence, guess.tolist()), "Reveal"):
        return
    try:
        query = embed([sentence.strip()], model_name)
        before = mapped.coords.copy()
        placed = mapped.transform(query)[0]
        moved = moved_points(before, mapped.coords)
        found = top_k(vectors, query[0], PLACEMENT_NEIGHBOURS)
        miss_share = placement_error(guess, placed, mapped.coords)
    except EmbedscopeError as error:
        show_error(error)
        return
    figure = placement_figure(
        mapped.coords,
        labels,
        guess=guess,
        placed=placed,
        neighbour_rows=found.indices,
        sentence=sentence,
        color=color,
    )
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
    table = corpus.metadata.iloc[found.indices].reset_index(drop=True)
    table.insert(0, "cosine", found.scores)
    table.insert(0, "text", [corpus.texts[row] for row in found.indices])
    table.insert(0, "row", found.indices)
    st.markdown(f"**Its {PLACEMENT_NEIGHBOURS} nearest documents in full dimension**")
    st.dataframe(
        table,
        hide_index=True,
        column_config={"cosine": st.column_config.NumberColumn(format="%.3f")},
    )


# 3. Same data, different maps


def lesson_pca_umap() -> None:
    corpus, vectors, key = corpus_context()
    k = honesty_k(len(vectors))
    umap_map = map_of(vectors, key, umap_params())
    pca_map = map_of(vectors, key, PCAParams())
    st.markdown(
        "The same vectors, two maps. **PCA** keeps the two directions with the most variance: "
        "distances stay linear and honest at large scale, but most of the detail is lost. "
        "**UMAP** keeps each point's near neighbours and lets the big picture go. Under each map: "
        f"**kNN kept** (the share of each document's {k} true neighbours that are also among its "
        f"{k} nearest on the map) and **trustworthiness** (1 = no false neighbours on the map). "
        "Pick a group to ring it in both."
    )
    color = group_picker(corpus, vectors, key, umap_map, "lessons_maps_color", label="Colour by")
    rows: list[int] = []
    chosen = ""
    if not color.is_numeric:
        values = pd.Series(color.values).astype(str)
        choice = st.selectbox(
            "Highlight in both", ["(none)", *sorted(values.unique())], key="lessons_maps_pick"
        )
        if choice != "(none)":
            rows, chosen = np.flatnonzero(values.to_numpy() == choice).tolist(), choice
    labels = hover(corpus, corpus.content_hash)
    for column, mapped, title in zip(
        st.columns(2), (pca_map, umap_map), ("PCA", "UMAP"), strict=True
    ):
        try:
            report = honesty(vectors, key, mapped, k)
        except EmbedscopeError as error:
            column.error(md(error))
            continue
        figure = highlight_figure(
            mapped.coords, labels, color=color, rows=rows, highlight_name=chosen, title=title
        )
        column.plotly_chart(figure, key=f"lessons_maps_{title.lower()}")
        kept, trust, variance = column.columns(3)
        kept.metric("kNN kept", f"{report.mean:.2f}")
        trust.metric("Trustworthiness", f"{report.trustworthiness:.3f}")
        if mapped.explained_variance is not None:
            variance.metric("Variance kept", f"{mapped.explained_variance:.0%}")
        if report.note:
            column.caption(md(report.note))
    st.caption(
        "t-SNE is left out: on this server it takes far longer than UMAP even on a few hundred "
        "documents, and it cannot place new points on an existing map."
    )


# 4. Parameters matter


def lesson_parameters() -> None:
    corpus, vectors, key = corpus_context()
    k = honesty_k(len(vectors))
    st.markdown(
        "UMAP has two main knobs. **n_neighbors** (rows) sets how many neighbours each point "
        "listens to: small values keep fine local detail, large ones the big picture. "
        "**min_dist** (columns) sets how tightly points may pack. Same vectors, one map per "
        "pair of settings; each title gives the number of clusters HDBSCAN finds on that map "
        "and the share of true neighbours it keeps (kNN kept). Clusters you see can be a "
        "setting, not a fact."
    )
    grid = [
        replace(umap_params(), n_neighbors=n, min_dist=d)
        for n in GRID_NEIGHBOURS
        for d in GRID_MIN_DISTS
    ]
    color = group_picker(
        corpus,
        vectors,
        key,
        map_of(vectors, key, umap_params()),
        "lessons_grid_color",
        label="Colour by",
    )
    panels, titles, numbers = [], [], []
    bar = st.progress(0.0, text=f"Computing {len(grid)} maps (they share one neighbour graph)…")
    try:
        for position, params in enumerate(grid):
            bar.progress(
                position / len(grid),
                text=f"Map {position + 1} of {len(grid)}: n_neighbors = {params.n_neighbors}, "
                f"min_dist = {params.min_dist}…",
            )
            mapped = projection(vectors, key, params)
            found = clustering(vectors, corpus, key, MAP_CLUSTERS, mapped)
            report = honesty(vectors, key, mapped, k)
            panels.append(mapped.coords)
            titles.append(
                f"n_neighbors {params.n_neighbors} · min_dist {params.min_dist}\n"
                f"{found.n_clusters} clusters · kNN kept {report.mean:.2f}"
            )
            numbers.append((params.n_neighbors, params.min_dist, found.n_clusters, report.mean))
    except EmbedscopeError as error:
        bar.empty()
        show_error(error)
        return
    bar.empty()
    st.plotly_chart(small_multiples(panels, titles, color.values), key="lessons_grid_chart")
    if len(vectors) > PANEL_POINTS:
        st.caption(
            f"Each panel draws the same random {PANEL_POINTS:,} of the {len(vectors):,} documents."
        )
    table = pd.DataFrame(numbers, columns=["n_neighbors", "min_dist", "clusters", "kNN kept"])
    st.dataframe(
        table,
        hide_index=True,
        column_config={"kNN kept": st.column_config.NumberColumn(format="%.3f")},
    )
    choice = st.selectbox(
        "Make one of these the Map page's map",
        range(len(grid)),
        format_func=lambda i: f"n_neighbors {grid[i].n_neighbors} · min_dist {grid[i].min_dist}",
        key="lessons_grid_pick",
    )
    if st.button("Make this the main map", key="lessons_grid_apply"):
        chosen = grid[choice]
        # Preset the Map page's layout widgets the way _common.apply_view does for a project.
        st.session_state["map_params"] = chosen
        st.session_state["map_method"] = "UMAP"
        st.session_state["map_view"] = "2D"
        st.session_state["map_n_neighbors"] = chosen.n_neighbors
        st.session_state["map_min_dist"] = chosen.min_dist
        st.switch_page("pages/map.py")


# 5. Sizes and gaps lie


def lesson_sizes() -> None:
    corpus, vectors, key = corpus_context()
    mapped = map_of(vectors, key, umap_params())
    st.markdown(
        "On a UMAP map a big blob is not necessarily a varied group, and two blobs far apart are "
        "not necessarily unrelated: UMAP evens out density, so tight and loose groups can be "
        "drawn the same size, and it places whole groups only loosely. "
        "Here each group's **true spread** (mean cosine distance between its members, in full "
        "dimension) is set against its **drawn spread** (mean distance on the map), each relative "
        "to the corpus as a whole (1 = average). The same for the distance between group centres. "
        "Dots on the dashed line are drawn true to size; the rank correlations say whether the "
        "map at least keeps the order (1 = same order, 0 = none)."
    )
    color = group_picker(corpus, vectors, key, mapped, "lessons_sizes_groups")
    groups = list(color.values)
    if color.name == FOUND_CLUSTERS:  # noise is no group
        groups = [None if name == NOISE_NAME else name for name in groups]
        if all(group is None for group in groups):
            st.info("No clusters were found in this corpus, so there are no groups to measure.")
            return
    try:
        report = sizes(vectors, mapped.coords, groups, key, map_id(mapped), color.name)
    except EmbedscopeError as error:
        show_error(error)
        return
    spread_column, gap_column = st.columns(2)
    spread_column.metric("Spread order kept (Spearman)", f"{report.spread_correlation:+.2f}")
    spread_column.plotly_chart(
        truth_vs_drawing(
            report.table["true_spread"],
            report.table["drawn_spread"],
            report.table["group"].astype(str),
            x_title="true spread (full dimension, 1 = corpus average)",
            y_title="drawn spread (map, 1 = corpus average)",
        ),
        key="lessons_sizes_spread",
    )
    centres = report.centre_distances
    gap_column.metric("Gap order kept (Spearman)", f"{report.gap_correlation:+.2f}")
    gap_column.plotly_chart(
        truth_vs_drawing(
            centres["true"],
            centres["drawn"],
            centres["group_a"].astype(str) + " ↔ " + centres["group_b"].astype(str),
            x_title="true gap between centres (1 = average gap)",
            y_title="drawn gap (1 = average gap)",
        ),
        key="lessons_sizes_gaps",
    )
    number = st.column_config.NumberColumn(format="%.2f")
    st.dataframe(
        report.table,
        hide_index=True,
        column_config={
            "true_spread": number,
            "drawn_spread": number,
            "exaggeration": st.column_config.NumberColumn(
                format="%.2f", help="drawn spread ÷ true spread: above 1 = drawn too big"
            ),
        },
    )


# 6. Noise makes clusters too


def lesson_noise() -> None:
    corpus, vectors, key = corpus_context()
    params = umap_params()
    st.markdown(
        "Clustering always finds something. Here the corpus's vectors are replaced by **random "
        "vectors of the same number and dimension**, then mapped with the same UMAP settings and "
        "clustered the same way (HDBSCAN on the map). Random data has no groups, yet clusters "
        "are still found, and even named after their commonest words. With a label "
        f"column, **label recovery** (how often a document's {K} nearest neighbours mostly share "
        "its label) falls to the **majority share**, what always guessing the commonest label "
        "would score: the blobs carry no meaning."
    )
    random_key = f"{key}|random-{RANDOM_SEED}"
    noise = random_vectors(vectors, key, RANDOM_SEED)
    real_map = map_of(vectors, key, params)
    noise_map = map_of(noise, random_key, params)
    labels = hover(corpus, corpus.content_hash)
    reports = {}
    columns = st.columns(2)
    sides = (
        ("Your corpus", vectors, key, real_map),
        ("Random vectors", noise, random_key, noise_map),
    )
    for column, (title, matrix, matrix_key, mapped) in zip(columns, sides, strict=True):
        try:
            found = clustering(matrix, corpus, matrix_key, MAP_CLUSTERS, mapped)
        except EmbedscopeError as error:
            column.error(md(error))
            return
        figure = highlight_figure(
            mapped.coords,
            labels,
            color=ColorBy("cluster", found.point_names()),
            title=title,
        )
        column.plotly_chart(figure, key=f"lessons_noise_{title.split()[0].lower()}")
        column.metric("Clusters found", f"{found.n_clusters}")
        column.caption(f"{found.sizes.get(NOISE, 0):,} documents fit no cluster.")
        reports[title] = (matrix, matrix_key, mapped)
    label_columns = corpus.label_columns()
    if not label_columns:
        st.info("This corpus has no label column, so there is no label recovery to compare.")
        return
    column = st.selectbox("Label column", label_columns, key="lessons_noise_label")
    values = corpus.metadata[column].astype(str).tolist()
    try:
        scores = {
            title: recovery(matrix, mapped.coords, values, matrix_key, map_id(mapped), column, K)
            for title, (matrix, matrix_key, mapped) in reports.items()
        }
    except EmbedscopeError as error:
        show_error(error)
        return
    real, noise_report = scores["Your corpus"], scores["Random vectors"]
    chart, numbers = st.columns([3, 2])
    chart.plotly_chart(
        score_bars(
            list(scores),
            {
                "full dimension": [report.full for report in scores.values()],
                "on the map": [report.on_map for report in scores.values()],
                "majority share": [report.baseline for report in scores.values()],
            },
            y_title=f"label recovery of '{column}' (k = {K})",
        ),
        key="lessons_noise_bars",
    )
    numbers.metric("Recovery on the real map", f"{real.on_map:.3f}")
    numbers.metric("Recovery on the random map", f"{noise_report.on_map:.3f}")
    numbers.metric("Majority share (the baseline)", f"{noise_report.baseline:.3f}")


# 7. One map is one sample


def lesson_seeds() -> None:
    corpus, vectors, key = corpus_context()
    params = umap_params()
    st.markdown(
        "UMAP starts from a random layout, so the **seed** changes the map. Run it again with "
        f"another seed and compare, for each document, its {K} nearest neighbours on both maps: "
        "the share they agree on is the colour (blue = same neighbours, red = different). The "
        "full-dimension neighbours involve no randomness: they are the same whatever the seed."
    )
    seed_column, _ = st.columns([1, 3])
    second_seed = seed_column.number_input(
        "Another seed", 0, 2**31 - 1, params.seed + 1, key="lessons_seed_other"
    )
    first_map = map_of(vectors, key, params)
    second_map = map_of(vectors, key, replace(params, seed=int(second_seed)))
    try:
        shared = agreement(
            first_map.coords, second_map.coords, key, map_id(first_map), map_id(second_map), K
        )
    except EmbedscopeError as error:
        show_error(error)
        return
    labels = hover(corpus, corpus.content_hash)
    st.metric("Map neighbours the two seeds agree on (mean)", f"{shared.mean():.2f}")
    maps = (("first", first_map), ("second", second_map))
    for column, (name, mapped) in zip(st.columns(2), maps, strict=True):
        figure = agreement_figure(mapped.coords, labels, shared, title=f"seed {mapped.params.seed}")
        column.plotly_chart(figure, key=f"lessons_seed_{name}")
    for_first = true_neighbors(vectors, key, K)
    for_second = true_neighbors(vectors, key, K)
    same = neighbor_overlap(for_first, for_second).mean()
    identity = "one and the same object" if for_first is for_second else "two equal objects"
    st.markdown(
        f"**Full dimension:** the neighbour lists used with seed {params.seed} and with seed "
        f"{int(second_seed)} are {identity} (computed once from the vectors); they agree on "
        f"**{same:.3f}** of each document's {K} neighbours."
    )


# 8. Can this map answer my question?


def lesson_question() -> None:
    corpus, vectors, key = corpus_context()
    mapped = map_of(vectors, key, umap_params())
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
    k = k_pick.slider(
        "Neighbours (k)",
        1,
        min(MAX_K, len(vectors) - 1),
        min(K, len(vectors) - 1),
        key="lessons_question_k",
    )
    values = corpus.metadata[column].astype(str).tolist()
    try:
        report = recovery(vectors, mapped.coords, values, key, map_id(mapped), column, k)
    except EmbedscopeError as error:
        show_error(error)
        return
    full, on_map, baseline = st.columns(3)
    full.metric("Full dimension", f"{report.full:.3f}")
    on_map.metric("On the map", f"{report.on_map:.3f}")
    baseline.metric("Majority baseline", f"{report.baseline:.3f}")
    st.plotly_chart(
        score_bars(
            ["full dimension", "on the map", "majority baseline"],
            {f"label recovery of '{column}'": [report.full, report.on_map, report.baseline]},
            y_title=f"share of documents (k = {report.k})",
            height=320,
        ),
        key="lessons_question_bars",
    )


# 9. Analogies, honestly


def hits_frame(hits: list[WordHit]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "rank": range(1, len(hits) + 1),
            "word": [hit.word for hit in hits],
            "cosine": [hit.score for hit in hits],
            "question word": [hit.is_input for hit in hits],
        }
    )


def grey_inputs(row: pd.Series) -> list[str]:
    return ["color: #9e9e9e" if row["question word"] else ""] * len(row)


def lesson_analogies() -> None:
    st.markdown(
        "*man is to king as woman is to …?* The famous answer **queen** comes from the word "
        "nearest to king − man + woman, **after the question's own words are removed** from the "
        "candidates. Left in, the nearest word is usually one of them. And often the answer is "
        "simply the word nearest to **c** alone. The plot separates the two parts: across, how "
        "much a word moves along b − a; up, how close it is to c."
    )
    vocabulary = glove()
    st.caption(
        f"GloVe 6B: {len(vocabulary.words):,} lowercase words in "
        f"{vocabulary.vectors.shape[1]} dimensions, compared by cosine."
    )
    a_column, b_column, c_column = st.columns(3)
    a = a_column.text_input("a", "man", key="lessons_analogy_a")
    b = b_column.text_input("is to b", "king", key="lessons_analogy_b")
    c = c_column.text_input("as c is to ?", "woman", key="lessons_analogy_c")
    exclude = st.toggle(
        "Exclude the question's words (the usual, rarely stated rule)",
        value=False,
        key="lessons_analogy_exclude",
    )
    question = [word.strip().lower() for word in (a, b, c)]
    try:
        everything = analogy(vocabulary, a, b, c, k=ANALOGY_HITS, exclude_inputs=False)
        answers = analogy(vocabulary, a, b, c, k=ANALOGY_HITS, exclude_inputs=True)
        gap = input_gap(everything)
        c_alone = word_expression(vocabulary, c, k=1)[1][0]
        candidates = [*question, *(hit.word for hit in everything), c_alone.word]
        axes = analogy_axes(vocabulary, a, b, c, list(dict.fromkeys(candidates)))
    except EmbedscopeError as error:
        show_error(error)
        return
    shown = answers if exclude else everything
    rule = "question words excluded" if exclude else "every word allowed"
    ranked, plot = st.columns([2, 3])
    ranked.markdown(f"{md(a)} : {md(b)} :: {md(c)} : **{md(shown[0].word)}** ({rule})")
    table = hits_frame(shown)
    ranked.dataframe(
        table.drop(columns="question word") if exclude else table.style.apply(grey_inputs, axis=1),
        hide_index=True,
        column_config={"cosine": st.column_config.NumberColumn(format="%.3f")},
    )
    if gap.top.is_input:
        ranked.markdown(
            f"With every word allowed, **{md(gap.top.word)}** (a question word) wins at "
            f"{gap.top.score:.3f}. Excluding the question's words gives "
            f"**{md(gap.answer.word)}** at {gap.answer.score:.3f}: a gap of **{gap.gap:.3f}**."
        )
    else:
        ranked.markdown(f"**{md(gap.answer.word)}** wins even with every word allowed.")
    same = c_alone.word == gap.answer.word
    ranked.markdown(
        f"The word nearest to **{md(c)}** alone is **{md(c_alone.word)}** "
        f"(cosine {c_alone.score:.3f})" + (": the same answer, no analogy needed." if same else ".")
    )
    plot.plotly_chart(
        analogy_axes_figure(axes, a=a, b=b, c=c, answer=gap.answer.word, c_nearest=c_alone.word),
        key="lessons_analogy_axes",
    )
    questions = read_data("analogies.csv")
    st.markdown(
        f"**Benchmark:** {len(questions):,} questions in {questions['relation'].nunique()} "
        "relations (data/analogies.csv), answered three ways."
    )
    if st.button("Run the benchmark", key="lessons_bench_button"):
        st.session_state["lessons_bench"] = True
    if not st.session_state.get("lessons_bench"):
        return
    try:
        result = benchmark()
    except EmbedscopeError as error:
        show_error(error)
        return
    overall = result.overall
    excluded, unrestricted, c_only = st.columns(3)
    excluded.metric("Inputs excluded (the usual score)", f"{overall['excluded_acc']:.0%}")
    unrestricted.metric("Every word allowed", f"{overall['unrestricted_acc']:.0%}")
    c_only.metric("Nearest word to c alone", f"{overall['c_only_acc']:.0%}")
    table = result.per_relation
    st.plotly_chart(
        score_bars(
            table["relation"].tolist(),
            {
                "inputs excluded": table["excluded_acc"],
                "every word allowed": table["unrestricted_acc"],
                "c alone": table["c_only_acc"],
            },
            y_title="share answered correctly",
            number_format=".0%",
        ),
        key="lessons_bench_bars",
    )
    with st.expander(f"All {int(overall['n'])} questions and each method's answer"):
        st.dataframe(result.per_question, hide_index=True)


# 10. Similar is not synonymous


def lesson_opposites() -> None:
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
    except EmbedscopeError as error:
        show_error(error)
        return
    pair_names = (report["first"] + " / " + report["second"]).tolist()
    chart, table = st.columns([3, 2])
    chart.plotly_chart(
        score_bars(pair_names, {"cosine (GloVe)": report["cosine"]}, y_title="cosine"),
        key="lessons_opposites_bars",
    )
    table.dataframe(
        report,
        hide_index=True,
        column_config={
            "cosine": st.column_config.NumberColumn(format="%.3f"),
            "rank": st.column_config.NumberColumn(
                help="the opposite's place among the first word's neighbours"
            ),
        },
    )
    model_name = sentence_model()
    st.markdown(f"**Sentences** (model {md(model_name)}); edit or add rows.")
    edited = st.data_editor(NEGATIONS, num_rows="dynamic", hide_index=True, key="lessons_negations")
    rows = edited.fillna("").astype(str).apply(lambda column: column.str.strip())
    rows = rows[(rows != "").all(axis=1)]
    if rows.empty:
        st.info("Fill in at least one row: a sentence, its negation and a paraphrase.")
        return
    try:
        sentence, negation, paraphrase = (
            embed(rows[name].tolist(), model_name) for name in NEGATIONS
        )
        with_negation = row_cosines(sentence, negation)
        with_paraphrase = row_cosines(sentence, paraphrase)
    except EmbedscopeError as error:
        show_error(error)
        return
    st.plotly_chart(
        score_bars(
            rows["sentence"].tolist(),
            {"with its negation": with_negation, "with a paraphrase": with_paraphrase},
            y_title="cosine with the sentence",
        ),
        key="lessons_negation_bars",
    )


# 11. Bookmarks make lessons


def current_source() -> ShareTarget | None:
    """What a step can reopen for the session's corpus: its saved project or bundled sample."""
    project: Project | None = st.session_state.get("project")
    if project is not None:
        return ShareTarget(PROJECT_PARAM, project.id)
    corpus = active_corpus()
    if is_bundled_sample(corpus) and st.session_state.get("model_name") == DEFAULT_MODEL:
        return ShareTarget(SAMPLE_PARAM, corpus.source)
    return None


def current_view(page: str, dimensions: int, color_by: str, query: str) -> ProjectView:
    """The Map page's layout in `dimensions`, with the open project's clustering (or the Map's)."""
    project: Project | None = st.session_state.get("project")
    clusters = project.view.cluster_params() if project is not None else MAP_CLUSTERS
    layout = replace(current_map_params(), n_components=dimensions)
    return ProjectView.from_params(
        layout, clusters, page=page, dimensions=dimensions, color_by=color_by, query=query
    )


def step_corpus(source: ShareTarget) -> Corpus:
    """The corpus a step opens (a saved project's or a bundled sample)."""
    if source.kind == PROJECT_PARAM:
        return saved_project(source.name).corpus
    return sample_corpus(source.name)


def describe(step: Step) -> str:
    """One line saying what a step opens and how."""
    view = step.view
    layout = view.layout_params()
    if isinstance(layout, UMAPParams):
        method = f"UMAP (n_neighbors {layout.n_neighbors}, min_dist {layout.min_dist})"
    else:
        method = "PCA"
    if step.source.kind == PROJECT_PARAM:
        source = f"saved project “{saved_project(step.source.name).title}”"
    else:
        source = f"sample “{step.source.name}”"
    parts = [STEP_FILES[view.page][1], source, f"{view.dimensions}-D {method}"]
    parts.append(f"coloured by {view.color_by}")
    if view.query:
        parts.append(f"expression {view.query}")
    if step.selection:
        parts.append(f"{len(step.selection)} documents pointed at")
    return " · ".join(parts)


def show_step(step: Step, number: int, total: int) -> None:
    """A step's caption, what it opens and the documents it points at."""
    with st.container(border=True):
        st.markdown(f"**Step {number} of {total}.** " + (md(step.caption) or "*(no caption)*"))
        try:
            st.caption(md(describe(step)))
            if step.selection:
                corpus = step_corpus(step.source)
                rows = [row for row in step.selection if row < len(corpus)]
                texts = [corpus.texts[row] for row in rows]
                st.dataframe(pd.DataFrame({"id": rows, "text": texts}), hide_index=True)
        except EmbedscopeError as error:  # e.g. the step's project was deleted since
            show_error(error)


def lesson_link(lesson_id: str) -> str:
    """The link that opens lesson `lesson_id` on this server's Lessons page."""
    parts = urlsplit(st.context.url or "http://localhost:8501/")
    query = urlencode({LESSON_PARAM: lesson_id})
    return urlunsplit((parts.scheme, parts.netloc, "/lessons", query, ""))


def reorder(index: int, offset: int) -> None:
    """Move draft step `index` by `offset` places (a button callback)."""
    st.session_state["bookmarks_draft"] = move_step(
        st.session_state["bookmarks_draft"], index, offset
    )


def remove(index: int) -> None:
    """Drop draft step `index` (a button callback)."""
    del st.session_state["bookmarks_draft"][index]


def lesson_bookmarks() -> None:
    st.markdown(
        "A map is easier to explain than to find. Set up a view on the **Map** page (corpus, "
        "UMAP or PCA, its settings), come back here, say what to notice and add it as a step. "
        "Repeat, then save: the link opens the steps in order for anyone who can reach this "
        "server. Students step through them **read-only**; *Show this step* reopens the saved "
        "corpus and view exactly, even in a browser that has never been here."
    )
    st.session_state.setdefault("bookmarks_draft", [])
    draft: list[Step] = st.session_state["bookmarks_draft"]
    source = current_source()
    if source is None:
        st.info(
            "This corpus has no stable link yet: save this corpus as a project first (Map page, "
            "*Save, share and export*), then add its views here."
        )
    else:
        add_step(source)
    for index, step in enumerate(draft):
        text, up, down, drop = st.columns([12, 1, 1, 1], vertical_alignment="center")
        with text:
            show_step(step, index + 1, len(draft))
        up.button(
            "",
            icon=":material/arrow_upward:",
            key=f"bookmarks_up_{index}",
            help="Move up",
            disabled=index == 0,
            on_click=reorder,
            args=(index, -1),
        )
        down.button(
            "",
            icon=":material/arrow_downward:",
            key=f"bookmarks_down_{index}",
            help="Move down",
            disabled=index == len(draft) - 1,
            on_click=reorder,
            args=(index, 1),
        )
        drop.button(
            "",
            icon=":material/delete:",
            key=f"bookmarks_remove_{index}",
            help="Remove",
            on_click=remove,
            args=(index,),
        )
    title = st.text_input("Lesson title", "A walk through this map", key="bookmarks_title")
    if st.button("Save lesson", icon=":material/save:", disabled=not draft, key="bookmarks_save"):
        try:
            st.session_state["bookmarks_saved"] = lesson_store().save(title=title, steps=draft).id
        except EmbedscopeError as error:
            show_error(error)
    saved = st.session_state.get("bookmarks_saved")
    if saved is not None:
        st.success("Saved. Students open this link and step through the lesson read-only:")
        st.code(lesson_link(saved), language=None, wrap_lines=True)
        st.page_link("pages/lessons.py", label="Open it here as a student",
                     icon=":material/play_arrow:", query_params=lesson_query(saved))  # fmt: skip


def add_step(source: ShareTarget) -> None:
    """The controls that turn the current view into a step of the draft."""
    corpus = active_corpus()
    project: Project | None = st.session_state.get("project")
    colors = [FOUND_CLUSTERS, *corpus.metadata.columns]
    saved_color = project.view.color_by if project is not None else FOUND_CLUSTERS
    page_col, view_col, color_col = st.columns(3)
    page = page_col.selectbox(
        "Page", STEP_PAGES, format_func=lambda name: STEP_FILES[name][1], key="bookmarks_page"
    )
    dims = view_col.segmented_control(
        "View", ["2D", "3D"], default=f"{current_map_params().n_components}D", required=True,
        key="bookmarks_view",
    )  # fmt: skip
    color = color_col.selectbox(
        "Colour by", colors, index=colors.index(saved_color) if saved_color in colors else 0,
        key="bookmarks_color",
    )  # fmt: skip
    query = st.text_input(
        "Expression to run (Arithmetic page)", key="bookmarks_query", disabled=page != "arithmetic"
    )
    rows = st.text_input(
        "Documents to point at (optional): ids from the Map page's selection table",
        placeholder="12, 40, 57",
        key="bookmarks_rows",
    )
    caption = st.text_area(
        "Caption: what should students notice here?", max_chars=MAX_CAPTION_CHARS,
        key="bookmarks_caption",
    )  # fmt: skip
    if st.button("Add the current view as a step", icon=":material/add:", key="bookmarks_add"):
        try:
            view = current_view(page, int(dims[0]), color, query if page == "arithmetic" else "")
            step = Step(source, view, parse_rows(rows, len(corpus)), caption.strip())
        except EmbedscopeError as error:
            show_error(error)
            return
        st.session_state["bookmarks_draft"].append(step)


def followed_lesson() -> tuple[Lesson, int] | None:
    """The lesson this tab follows and its step number: from ?lesson=…, else the session's."""
    try:
        link = lesson_target(st.query_params)
    except EmbedscopeError as error:
        show_error(error)
        return None
    if link is None:
        link = st.session_state.get("bookmarks_following")
        if link is None:
            return None
        st.query_params.update(lesson_query(link.lesson_id, link.step))
    try:
        lesson = lesson_store().load(link.lesson_id)
    except EmbedscopeError as error:
        st.session_state.pop("bookmarks_following", None)
        show_error(error)
        return None
    number = min(link.step, len(lesson.steps))
    st.session_state["bookmarks_following"] = LessonLink(lesson.id, number)
    return lesson, number


def go_to_step(lesson_id: str, number: int) -> None:
    """Show step `number` of the followed lesson, in the URL too (a button callback)."""
    st.query_params.update(lesson_query(lesson_id, number))
    st.session_state["bookmarks_following"] = LessonLink(lesson_id, number)


def leave_lesson() -> None:
    """Stop following a lesson: the page shows the lessons again (a button callback)."""
    st.session_state.pop("bookmarks_following", None)
    for name in (LESSON_PARAM, STEP_PARAM):
        st.query_params.pop(name, None)


def open_step(step: Step) -> None:
    """Make the step's corpus the session's and preset its page's widgets to the step's view."""
    if step.source.kind == PROJECT_PARAM:
        open_project(step.source.name)
    else:
        set_corpus(sample_corpus(step.source.name), DEFAULT_MODEL)
    apply_view(step.view)
    if step.view.query:
        st.session_state["arith_expression"] = step.view.query


def play_lesson(lesson: Lesson, number: int) -> None:
    """One step of a saved lesson, read-only, with Previous / Show this step / Next."""
    total = len(lesson.steps)
    step = lesson.steps[number - 1]
    st.title(md(lesson.title))
    st.progress(number / total)
    show_step(step, number, total)
    buttons = st.container(horizontal=True)
    buttons.button(
        "Previous",
        icon=":material/arrow_back:",
        disabled=number == 1,
        on_click=go_to_step,
        args=(lesson.id, number - 1),
        key="bookmarks_previous",
    )
    show = buttons.button(
        "Show this step", icon=":material/visibility:", type="primary", key="bookmarks_show"
    )
    buttons.button(
        "Next",
        icon=":material/arrow_forward:",
        disabled=number == total,
        on_click=go_to_step,
        args=(lesson.id, number + 1),
        key="bookmarks_next",
    )
    buttons.button(
        "Leave this lesson",
        icon=":material/logout:",
        type="tertiary",
        on_click=leave_lesson,
        key="bookmarks_leave",
    )
    st.caption(
        f"*Show this step* opens it on the {STEP_FILES[step.view.page][1]} page; come back with "
        "**Lessons** in the sidebar to go on."
    )
    if show:
        try:
            open_step(step)
        except EmbedscopeError as error:
            show_error(error)
            return
        page_file = STEP_FILES[step.view.page][0]
        st.switch_page(page_file, query_params=lesson_query(lesson.id, number))


LESSONS = {
    "similarity": ("1 · Guess the similarity", lesson_similarity),
    "placement": ("2 · Guess the placement", lesson_placement),
    "maps": ("3 · Same data, different maps", lesson_pca_umap),
    "parameters": ("4 · Parameters matter", lesson_parameters),
    "sizes": ("5 · Sizes and gaps lie", lesson_sizes),
    "noise": ("6 · Noise makes clusters too", lesson_noise),
    "seeds": ("7 · One map is one sample", lesson_seeds),
    "question": ("8 · Can this map answer my question?", lesson_question),
    "analogies": ("9 · Analogies, honestly", lesson_analogies),
    "opposites": ("10 · Similar is not synonymous", lesson_opposites),
    "bookmarks": ("11 · Bookmarks make lessons", lesson_bookmarks),
}

following = followed_lesson()
if following is not None:
    play_lesson(*following)
    st.stop()

corpus = active_corpus()
st.title("Lessons")
st.caption(
    f"Short lessons on what embeddings and their maps can and cannot tell. Lessons 2–8 use the "
    f"current corpus ({md(corpus.source)}, {len(corpus):,} documents); 9 and 10 use GloVe words."
)
picked = st.pills(
    "Lesson",
    list(LESSONS),
    default="similarity",
    required=True,
    format_func=lambda name: LESSONS[name][0],
    key="lessons_pick",
)
title, lesson = LESSONS[picked]
st.header(title)
lesson()
