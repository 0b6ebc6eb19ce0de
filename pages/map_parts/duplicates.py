"""Near-duplicates of the corpus shown: a count, a table of groups, a deduplicated download
(Corpus page), and a colouring of the map (Map page)."""

from __future__ import annotations

import numpy as np
import streamlit as st

from lib.errors import EmbedscopeError
from lib.figures.colors import OTHER
from lib.ingest.corpus import Corpus
from lib.measure.duplicates import DEFAULT_THRESHOLD, NONE, DuplicateParams, Duplicates
from lib.service.engine import Embedding
from lib.share.export import to_csv_bytes
from pages._common import engine, md, show_error

DUPLICATES_COLOR = "near-duplicate groups"
THRESHOLD_KEY = "duplicates_threshold"  # shared by the Corpus and Map pages
ASK_ABOVE = 10_000  # documents: a bigger corpus waits for a click (exact kNN, ~30 s at 50,000)
TABLE_GROUPS = 500


def threshold() -> float:
    return float(st.session_state.get(THRESHOLD_KEY, DEFAULT_THRESHOLD))


def duplicates(found: Embedding) -> Duplicates:
    """The near-duplicate groups of these vectors at the chosen threshold (computed once)."""
    return engine().duplicates(found, DuplicateParams(threshold=threshold()))


def group_values(groups: Duplicates) -> np.ndarray:
    """One colour value per row: its group ("group 3") or OTHER (drawn grey) for none."""
    names = np.array([f"group {g}" for g in range(groups.n_groups)] + [OTHER], dtype=object)
    return names[np.where(groups.group == NONE, groups.n_groups, groups.group)]


def duplicates_section(corpus: Corpus, found: Embedding) -> None:
    """Count, table and deduplicated download for the corpus shown now."""
    st.subheader("Near-duplicates")
    st.caption(md(f"In the corpus shown now: {corpus.source} ({len(corpus):,} documents)."))
    st.slider(
        "Cosine similarity at least", 0.80, 1.0, DEFAULT_THRESHOLD, 0.01, key=THRESHOLD_KEY,
        help="Documents this similar to a group's first document join its group. 1.0: "
        "identical vectors; 0.95: the same text with small edits; 0.85: close paraphrases.",
    )  # fmt: skip
    params = DuplicateParams(threshold=threshold())
    ready = len(corpus) <= ASK_ABOVE or engine().peek_duplicates(found, params) is not None
    if not ready and not st.button("Find near-duplicates", key="duplicates_go"):
        st.caption(f"Comparing {len(corpus):,} documents takes a while: start it with the button.")
        return
    try:
        with st.spinner("Comparing every document with its nearest…"):
            groups = duplicates(found)
    except EmbedscopeError as error:
        show_error(error)
        return
    st.markdown(f"**{groups.summary()}**")  # numbers only: no user text
    if not groups.n_groups:
        return
    table = groups.table(corpus.texts)
    if len(table) > TABLE_GROUPS:
        st.caption(f"The table lists the {TABLE_GROUPS:,} largest groups.")
    st.dataframe(table.head(TABLE_GROUPS).drop(columns="rows"), hide_index=True, height=300)
    st.caption('The map can be coloured by these groups ("Colour by" on the Map page).')
    st.download_button(
        f"Deduplicated corpus (CSV, {len(groups.keep_rows()):,} documents)",
        lambda: to_csv_bytes(deduplicated(corpus, groups)), "embedscope-deduplicated.csv",
        on_click="ignore", key="duplicates_download",
    )  # fmt: skip


def deduplicated(corpus: Corpus, groups: Duplicates):
    """The corpus's text and metadata with one document per group (its first), in order."""
    keep = groups.keep_rows()
    frame = corpus.metadata.iloc[keep].reset_index(drop=True)
    frame.insert(0, corpus.text_column, [corpus.texts[i] for i in keep])
    return frame
