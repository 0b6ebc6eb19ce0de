"""Figures and tables of the Compare page: two maps of one corpus with the same documents
highlighted on both, where the two embeddings disagree, and each document's neighbours under each.

Arrays in, figures and frames out (no models, no Streamlit). Selections come back by row id in
customdata (`lib.figures.map.selected_rows`); highlighted documents are an overlay trace without
customdata, so a map's selectable points are always its base trace.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from lib.errors import ParameterError
from lib.figures.map import (
    ColorBy,
    add_rings,
    check_lengths,
    clear_of_modebar,
    escape_text,
    map_figure,
)
from lib.figures.tables import document_table
from lib.ingest.corpus import Corpus
from lib.measure.compare import Agreement, LabelRecovery

AGREEMENT_NAME = "neighbours in common"
SELECTED_NAME = "selected"


def agreement_color(agreement: Agreement) -> ColorBy:
    """Colour by the share of each document's neighbours both embeddings list (0 = disagree)."""
    return ColorBy(AGREEMENT_NAME, np.asarray(agreement.per_point, np.float64), continuous=True)


def compare_map(
    coords: np.ndarray,
    hover: Sequence[str],
    *,
    highlight: Sequence[int] = (),
    color: ColorBy | None = None,
    title: str = "",
    height: int = 520,
) -> go.Figure:
    """One of the two side-by-side maps: `map_figure`, then the `highlight` rows ringed on top.

    `hover` must already be escaped (`hover_labels`); highlight rows out of range are an error.
    """
    coords = np.asarray(coords, dtype=np.float32)
    rows = np.asarray(list(highlight), dtype=np.int64)
    if rows.size and (rows.min() < 0 or rows.max() >= len(coords)):
        raise ParameterError(
            f"compare_map highlight must hold row ids in [0, {len(coords) - 1}]; "
            f"got {int(rows.max() if rows.max() >= len(coords) else rows.min())} instead."
        )
    figure = map_figure(coords, hover, color=color, title=title, height=height)
    figure.update_layout(uirevision="compare")  # zoom kept when the highlights change
    if rows.size:
        add_rings(
            figure, coords[rows], name=f"{SELECTED_NAME} ({rows.size})",
            hover=[hover[row] for row in rows], size=12,
        )  # fmt: skip
    return figure


def disagreement_table(corpus: Corpus, agreement: Agreement) -> pd.DataFrame:
    """Every document, least agreement first: id, neighbours in common (share and count), text,
    metadata."""
    check_lengths(agreement.per_point, texts=corpus.texts)
    rows = np.lexsort((np.arange(len(corpus)), agreement.per_point))
    shares = agreement.per_point[rows]
    return document_table(
        corpus, rows.tolist(), agreement=np.round(shares, 3),
        shared=np.rint(shares * agreement.k).astype(int),
    )  # fmt: skip


def neighbors_side_by_side(
    corpus: Corpus, agreement: Agreement, row: int, names: tuple[str, str]
) -> pd.DataFrame:
    """The document's k nearest neighbours under each embedding, rank by rank, with whether the
    other embedding lists it too. Columns: rank, then per name "<name>" (text) and "<name> id",
    then "in both" flags."""
    if not 0 <= row < len(agreement.per_point):
        raise ParameterError(
            f"neighbors_side_by_side row must be in [0, {len(agreement.per_point) - 1}]; "
            f"got {row} instead."
        )
    first, second = agreement.first_knn[row], agreement.second_knn[row]
    first_name, second_name = names
    if first_name == second_name:
        second_name = f"{second_name} (2)"
    return pd.DataFrame(
        {
            "rank": np.arange(1, len(first) + 1),
            f"{first_name} id": first,
            first_name: [corpus.texts[i] for i in first],
            "in both (1)": np.isin(first, second),
            f"{second_name} id": second,
            second_name: [corpus.texts[i] for i in second],
            "in both (2)": np.isin(second, first),
        }
    )


def recovery_table(recoveries: Mapping[str, LabelRecovery]) -> pd.DataFrame:
    """One row per embedding: k-NN label accuracy in full dimension and on its map, beside the
    majority baseline (what always guessing the commonest label scores)."""
    return pd.DataFrame(
        {
            "embedding": list(recoveries),
            "full dimension": [found.full for found in recoveries.values()],
            "on the map": [found.on_map for found in recoveries.values()],
            "majority baseline": [found.baseline for found in recoveries.values()],
            "labelled documents": [found.n_labelled for found in recoveries.values()],
        }
    )


def agreement_histogram(agreement: Agreement, *, height: int = 220) -> go.Figure:
    """How many documents share 0, 1, …, k of their neighbours under the two embeddings."""
    counts = np.bincount(np.rint(agreement.per_point * agreement.k).astype(int),
                         minlength=agreement.k + 1)  # fmt: skip
    figure = go.Figure(go.Bar(x=np.arange(agreement.k + 1), y=counts, marker_color="#4c78a8"))
    figure.update_layout(
        height=height,
        margin=dict(l=10, r=10, t=30, b=10),
        title=dict(text=escape_text(f"Neighbours in common (of {agreement.k})", 80)),
        xaxis_title="neighbours both embeddings list",
        yaxis_title="documents",
        bargap=0.1,
    )
    return clear_of_modebar(figure)
