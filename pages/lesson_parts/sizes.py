"""Lesson 5 · Sizes and gaps lie: true against drawn spread of groups and gaps between them."""

from __future__ import annotations

import math

import streamlit as st

from lib.cluster.clusters import NOISE_NAME
from lib.errors import EmbedscopeError
from lib.figures.lessons import truth_vs_drawing
from lib.teach.lessons import MIN_RANKED, SizeReport
from pages._common import engine, show_error
from pages.lesson_parts.common import (
    FOUND_CLUSTERS,
    corpus_context,
    group_picker,
    map_of,
    number_column,
    umap_params,
)


def show() -> None:
    corpus, found = corpus_context()
    mapped = map_of(found, umap_params())
    st.markdown(
        "On a UMAP map a big blob is not necessarily a varied group, and two blobs far apart are "
        "not necessarily unrelated: UMAP evens out density, so tight and loose groups can be "
        "drawn the same size, and it places whole groups only loosely. "
        "Here each group's **true spread** (mean cosine distance between its members, in full "
        "dimension) is set against its **drawn spread** (mean distance on the map), each relative "
        "to the corpus as a whole (1 = average). The same for the distance between group centres. "
        "Dots on the dashed line are drawn true to size; the rank correlations say whether the "
        f"map at least keeps the order (1 = same order, 0 = none; they need {MIN_RANKED} groups)."
    )
    color = group_picker(corpus, found, mapped, "lessons_sizes_groups")
    groups = list(color.values)
    if color.name == FOUND_CLUSTERS:  # noise is no group
        groups = [None if name == NOISE_NAME else name for name in groups]
        if all(group is None for group in groups):
            st.info("No clusters were found in this corpus, so there are no groups to measure.")
            return
    try:
        with st.spinner("Measuring sizes and gaps…"):
            report = engine().sizes(found, mapped, groups)
    except EmbedscopeError as error:
        show_error(error)
        return
    spread_column, gap_column = st.columns(2)
    with spread_column:
        correlation("Spread order kept (Spearman)", report.spread_correlation,
                    report.spreads_measured, "group spreads")  # fmt: skip
        st.plotly_chart(spread_figure(report), key="lessons_sizes_spread")
    with gap_column:
        correlation("Gap order kept (Spearman)", report.gap_correlation,
                    report.gaps_measured, "gaps between groups")  # fmt: skip
        st.plotly_chart(gap_figure(report), key="lessons_sizes_gaps")
    ratio = number_column(2)
    exaggeration = number_column(2, help="drawn spread ÷ true spread: above 1 = drawn too big")
    st.dataframe(report.table, hide_index=True, column_config={
        "true_spread": ratio, "drawn_spread": ratio, "exaggeration": exaggeration,
    })  # fmt: skip


def correlation(label: str, value: float, count: int, what: str) -> None:
    """A rank correlation where it is defined; otherwise why there is none."""
    if not math.isnan(value):
        st.metric(label, f"{value:+.2f}")
    elif count < MIN_RANKED:
        st.info(
            f"**{label}:** not defined here ({what}: {count}). A rank correlation needs at least "
            f"{MIN_RANKED} values to order: one value has no order, and two are always in the "
            "same or the reverse order (±1), whatever the map does. Pick a column with more groups."
        )
    else:
        st.info(
            f"**{label}:** not defined here: all {count} {what} measure the same in full "
            "dimension or on the map, so there is no order to compare."
        )


def spread_figure(report: SizeReport):
    table = report.table
    return truth_vs_drawing(
        table["true_spread"], table["drawn_spread"], table["group"].astype(str),
        x_title="true spread (full dimension, 1 = corpus average)",
        y_title="drawn spread (map, 1 = corpus average)",
    )  # fmt: skip


def gap_figure(report: SizeReport):
    centres = report.centre_distances
    return truth_vs_drawing(
        centres["true"], centres["drawn"],
        centres["group_a"].astype(str) + " ↔ " + centres["group_b"].astype(str),
        x_title="true gap between centres (1 = average gap)",
        y_title="drawn gap (1 = average gap)",
    )  # fmt: skip
