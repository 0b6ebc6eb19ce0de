"""Compare two embeddings of the current corpus: aligned maps side by side, linked selection,
where their neighbours disagree, each document's neighbours under each, label recovery."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import streamlit as st

from lib.embed.models import MULTILINGUAL_MODEL, available_models, estimate_embedding
from lib.errors import EmbedscopeError
from lib.figures.compare import (
    agreement_color,
    agreement_histogram,
    compare_map,
    disagreement_table,
    neighbors_side_by_side,
    recovery_table,
)
from lib.figures.map import ColorBy, hover_labels, selected_rows
from lib.figures.tables import document_table
from lib.ingest.corpus import Corpus
from lib.measure.compare import (
    AGREEMENT_K,
    LabelRecovery,
    align_procrustes,
    alignment_gap,
)
from lib.reduce.layouts import PCAParams, Projection, UMAPParams
from lib.reduce.tsne import TSNEParams, estimate_tsne_seconds
from lib.service.engine import Embedding
from lib.share.export import to_csv_bytes
from pages import state
from pages._common import (
    active_corpus,
    active_embedding,
    corpus_embedding,
    engine,
    honesty,
    hosted,
    layout,
    md,
    show_error,
)

state.require_app_frame()  # a direct link on a fresh server: rerun inside app.py's frame

LAYOUTS = ("UMAP", "PCA", "t-SNE")
TSNE_ASK_FROM = 10.0  # seconds: a t-SNE expected to take longer waits for a button
EMBED_ASK_FROM = 5.0  # seconds: an embedding expected to take longer waits for a button
FP32 = "fp32"
CHARTS = ("compare_chart_first", "compare_chart_second")
AGREEMENT_COLOR = "neighbours in common"
NO_COLOR = "none"
SELECTION_MODES = ("points", "box", "lasso")
METHOD_NAMES = {"umap": "UMAP", "pca": "PCA", "tsne": "t-SNE"}


@dataclass(frozen=True)
class Choice:
    """One embedding the visitor can pick: a label, the text model (None: the session's own
    vectors) and an explicit precision (None: the server's)."""

    label: str
    model_name: str | None
    precision: str | None = None


def embedding_choices(corpus: Corpus, is_hosted: bool) -> list[Choice]:
    """What can be compared here; a hosted server offers only what is already computed."""
    source = state.source()
    choices = []
    if source.kind in (state.PROJECT, state.VECTORS):
        own = "saved project's vectors" if source.kind == state.PROJECT else "uploaded vectors"
        choices.append(Choice(own, None))
    for info in available_models():
        if not is_hosted or engine().peek_vectors(corpus, info.name) is not None:
            choices.append(Choice(info.name, info.name))
        if not is_hosted and len(info.precisions) > 1 and "@" in engine().model_id(info.name):
            choices.append(Choice(f"{info.name} at fp32", info.name, FP32))
    return choices


def second_default(choices: list[Choice]) -> int:
    """The multilingual model when it is offered (the comparison most worth seeing), else the
    second choice."""
    found = [i for i, c in enumerate(choices) if c.model_name == MULTILINGUAL_MODEL and i > 0]
    return found[0] if found else 1


def choice_embedding(corpus: Corpus, choice: Choice, side: str) -> Embedding | None:
    """The vectors of `choice` for `corpus`, through the engine and its caches; None while an
    embedding expected to take more than EMBED_ASK_FROM seconds waits for its button (the
    session's own embedding, which every page shows, does not)."""
    if choice.model_name is None:
        return active_embedding(corpus)
    own = choice.precision is None and choice.model_name == state.source().model_name
    if not (own or embedding_ready(corpus, choice) or confirm_embedding(corpus, choice, side)):
        return None
    if choice.precision is None:
        return corpus_embedding(corpus, choice.model_name)
    found = engine().peek_vectors(corpus, choice.model_name, choice.precision)
    if found is not None:
        return found
    with st.spinner(f"Embedding {len(corpus):,} documents at fp32…", show_time=True):
        return engine().vectors(corpus, choice.model_name, precision=choice.precision)


def embedding_ready(corpus: Corpus, choice: Choice) -> bool:
    """Whether some cache holds `choice`'s vectors of every document (nothing to embed)."""
    return engine().peek_vectors(corpus, choice.model_name, choice.precision) is not None


def confirm_embedding(corpus: Corpus, choice: Choice, side: str) -> bool:
    """Say what embedding the corpus with `choice` costs; a long one waits for a click."""
    estimate = estimate_embedding(choice.model_name, corpus.texts)
    if estimate.seconds < EMBED_ASK_FROM:
        return True
    st.caption(md(f"Embedding with {choice.label}: {estimate.summary()}."))
    return st.button(
        f"Embed {len(corpus):,} documents", key=f"compare_embed_{side}", icon=":material/bolt:"
    )


def choice_layout(found: Embedding, name: str, side: str) -> Projection | None:
    """The 2-D map of `found` by the layout `name`; None while a long t-SNE waits for a click."""
    if name == "PCA":
        return layout(found, PCAParams())
    if name == "UMAP":
        params = state.map_layout()
        params = params if isinstance(params, UMAPParams) else UMAPParams()
        return layout(found, replace(params, n_components=2))
    if engine().peek_layout(found, TSNEParams()) is None:
        seconds = estimate_tsne_seconds(len(found.vectors))
        st.caption(f"t-SNE of {len(found.vectors):,} documents: about {seconds:,.0f} s here.")
        if seconds >= TSNE_ASK_FROM and not st.button("Compute t-SNE", key=f"compare_tsne_{side}"):
            return None
    return layout(found, TSNEParams())  # the engine caches it like any map


def pick(side: str, choices: list[Choice], default: int) -> tuple[Choice, str]:
    """One side's embedding and layout pickers."""
    labels = [choice.label for choice in choices]
    label = st.selectbox(f"{side} embedding", labels, index=default, key=f"compare_{side.lower()}")
    method = st.segmented_control(
        f"{side} layout", LAYOUTS, default="UMAP", key=f"compare_{side.lower()}_layout"
    )
    return choices[labels.index(label)], method or "UMAP"


def linked_selection(n_rows: int) -> list[int]:
    """Rows selected on either map: a new lasso or click on one replaces the shared selection.

    Read before the charts are drawn; a chart redrawn with new highlights becomes a new widget
    whose own selection is then empty, which is not a new selection.
    """
    charts = {
        chart: tuple(selected_rows(st.session_state.get(chart), n_rows=n_rows)) for chart in CHARTS
    }
    return [row for row in state.compare_selection(charts) if row < n_rows]


def color_for(name: str, corpus: Corpus, agreement) -> ColorBy | None:
    if name == AGREEMENT_COLOR:
        return agreement_color(agreement)
    if name == NO_COLOR:
        return None
    return ColorBy(name, corpus.metadata[name].to_numpy())


def map_recovery(found: Embedding, mapped: Projection | None, labels: list) -> LabelRecovery:
    """Label recovery of one embedding, in full dimension and (when drawn) on its map."""
    return engine().label_recovery(found, labels, mapped)


# --- the page -------------------------------------------------------------------------------------

st.title("Compare embeddings")
st.caption(
    "Two embeddings of the same documents: where they agree on each document's nearest "
    f"neighbours ({AGREEMENT_K}, measured in full dimension), and how their maps differ."
)
is_hosted = hosted().hosted
try:
    corpus = active_corpus()
    choices = embedding_choices(corpus, is_hosted)
except EmbedscopeError as error:
    show_error(error, what="Reading the corpus")
    st.stop()
if len(corpus) <= AGREEMENT_K:
    st.info(f"Comparing needs more than {AGREEMENT_K} documents; this corpus has {len(corpus)}.")
    st.stop()
if len(choices) < 2:
    st.info(
        "This server compares only embeddings computed in advance, and this corpus has one. "
        "Open a saved project with two models, or run the app locally."
    )
    st.stop()

left, right = st.columns(2)
with left:
    first_choice, first_method = pick("First", choices, 0)
with right:
    second_choice, second_method = pick("Second", choices, second_default(choices))
if first_choice == second_choice:
    st.info("Pick two different embeddings to compare.")
    st.stop()

try:
    with left:
        first = choice_embedding(corpus, first_choice, "first")
    with right:
        second = choice_embedding(corpus, second_choice, "second")
    if first is None or second is None:
        st.info("Nothing is embedded until you ask: start it with the button above.")
        st.stop()
    if len(first.vectors) != len(corpus) or len(second.vectors) != len(corpus):
        st.error("These embeddings do not hold one vector per document of this corpus.")
        st.stop()
    agreement = engine().agreement(first, second, AGREEMENT_K)
    with left:
        first_map = choice_layout(first, first_method, "first")
    with right:
        second_map = choice_layout(second, second_method, "second")
except EmbedscopeError as error:
    show_error(error, what="Embedding or mapping the corpus")
    st.stop()

mean_col, same_col, none_col = st.columns(3)
mean_col.metric("Neighbours in common (mean)", f"{agreement.mean:.0%}")
same_col.metric("Documents with all in common", f"{(agreement.per_point == 1).sum():,}")
none_col.metric("Documents with none in common", f"{(agreement.per_point == 0).sum():,}")

colorings = [AGREEMENT_COLOR, *corpus.label_columns(), NO_COLOR]
color_name = st.segmented_control("Colour by", colorings, default=AGREEMENT_COLOR,
                                  key="compare_color") or AGREEMENT_COLOR  # fmt: skip
color = color_for(color_name, corpus, agreement)
selection = linked_selection(len(corpus))
hover = hover_labels(corpus.texts, corpus.metadata)

if first_map is not None and second_map is not None:
    second_coords = align_procrustes(first_map.coords, second_map.coords)
    st.caption(
        "The second map is rotated, scaled and shifted to line up with the first (Procrustes), "
        "which keeps every one of its neighbourhoods. Mean distance between a document's two "
        f"positions: {alignment_gap(first_map.coords, second_map.coords):.2f} before, "
        f"{alignment_gap(first_map.coords, second_coords):.2f} after (0 = identical)."
    )
else:
    second_coords = None
for column, found, mapped, coords, choice, chart in (
    (left, first, first_map, None, first_choice, CHARTS[0]),
    (right, second, second_map, second_coords, second_choice, CHARTS[1]),
):
    if mapped is None:
        continue
    figure = compare_map(
        mapped.coords if coords is None else coords, hover, highlight=selection, color=color,
        title=choice.label,
    )  # fmt: skip
    column.plotly_chart(figure, key=chart, on_select="rerun", selection_mode=SELECTION_MODES)
    kept = honesty(found, mapped, AGREEMENT_K)
    column.caption(
        f"{METHOD_NAMES.get(mapped.method, mapped.method)} keeps {kept.mean:.0%} of each "
        f"document's {AGREEMENT_K} true neighbours (trustworthiness {kept.trustworthiness:.3f})."
    )

if selection:
    st.subheader(f"{len(selection):,} selected documents")
    st.caption("Selected on either map, ringed in red on both.")
    if st.button("Clear selection", key="compare_clear"):
        state.clear_compare_selection()
        st.rerun()
    table = document_table(corpus, selection, agreement=np.round(agreement.per_point[selection], 3))
    st.dataframe(table, hide_index=True, height=260)

st.subheader("Where they disagree")
st.plotly_chart(agreement_histogram(agreement), key="compare_histogram")
disagreements = disagreement_table(corpus, agreement)
st.dataframe(disagreements, hide_index=True, height=320, key="compare_table")
st.download_button(
    "Download as CSV", to_csv_bytes(disagreements), file_name="agreement.csv", mime="text/csv"
)

st.subheader("A document's neighbours under each")
row = st.number_input(
    "Document id", 0, len(corpus) - 1, value=int(disagreements["id"].iloc[0]), key="compare_row"
)
st.markdown(f"**{md(corpus.texts[int(row)][:300])}**")
names = (first_choice.label, second_choice.label)
st.dataframe(neighbors_side_by_side(corpus, agreement, int(row), names), hide_index=True)

st.subheader("Which separates a label column?")
labels = corpus.label_columns()
if not labels:
    st.caption("This corpus has no label column (a metadata column with a few distinct values).")
else:
    label = st.selectbox("Label column", labels, key="compare_label")
    try:
        recoveries = {
            choice.label: map_recovery(found, mapped, corpus.metadata[label].tolist())
            for choice, found, mapped in (
                (first_choice, first, first_map),
                (second_choice, second, second_map),
            )
        }
    except EmbedscopeError as error:
        show_error(error, what=f"Label recovery for '{label}'")
    else:
        st.dataframe(recovery_table(recoveries), hide_index=True)
        st.caption(
            f"Share of documents whose {AGREEMENT_K} nearest labelled documents mostly carry their "
            "label, in full dimension and on each map; the baseline always guesses the commonest."
        )
