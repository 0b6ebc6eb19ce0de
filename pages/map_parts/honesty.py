"""The Map page's "How honest is this map?" part: true neighbours kept, trustworthiness, and the
same measures for the UMAP, PCA and t-SNE maps of the corpus side by side."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from lib.reduce.layouts import PCAParams
from lib.reduce.tsne import TSNEParams, estimate_tsne_seconds
from pages import state
from pages._common import engine, honesty, layout
from pages.map_parts.view import FITTED_COLOR, HONESTY_COLOR, MapView
from pages.widgets import honesty_metrics

AUTO_HONESTY_MAX = 20_000  # documents measured without a click


def honesty_intro(view: MapView) -> int:
    """What the measures mean and the k slider; returns the k of true neighbours compared (10 on
    huge maps, 0 when the corpus is too small). Measuring is `honesty_measures`, after the map."""
    if view.huge:
        explain_huge_honesty(view)
        return 10
    n_docs, dimensions = view.found.vectors.shape
    st.markdown(
        f"A flat map cannot keep every distance of a {dimensions}-dimensional space. For each "
        "document we compare its **k nearest neighbours in full dimension** with its k nearest on "
        "the map: the share that survives is its honesty score (1 = all kept)."
    )
    largest_k = min(50, (n_docs - 1) // 2)
    if largest_k < 1:
        return 0
    chosen_k = min(10, largest_k)
    if largest_k > 2:
        chosen_k = st.slider("k (neighbours compared)", 2, largest_k, chosen_k, key="map_k_true")
    return chosen_k


def explain_huge_honesty(view: MapView) -> None:
    """What a huge map can say about its honesty without an exact kNN of every point."""
    st.markdown(
        "Measuring every point's true neighbours takes minutes at this size, so this page does "
        "not. `bench/scale.py` measures it offline: points placed by transform keep fewer of "
        "their true neighbours than fitted points."
    )
    if view.fitted_mask is not None:
        fitted = int(view.fitted_mask.sum())
        st.caption(
            f"UMAP was fitted on {fitted:,} points; the other {len(view.corpus) - fitted:,} were "
            f"placed next to their nearest fitted neighbours. Colour by “{FITTED_COLOR}” to see "
            "which are which."
        )


def honesty_measures(view: MapView, k: int) -> None:
    """The map's two measures at `k` and the three layouts compared (a button on big corpora)."""
    if view.huge:
        return
    if k < 1:
        st.caption("Too few documents to compare neighbourhoods.")
        return
    measure = len(view.corpus) <= AUTO_HONESTY_MAX or view.color_choice == HONESTY_COLOR
    if measure or st.button("Measure (slow on big corpora)", key="map_honesty_go"):
        report = honesty(view.found, view.mapped, k)
        honesty_metrics(report, view.mapped.explained_variance)
        st.caption(
            "Trustworthiness (scikit-learn) asks the opposite question: are map neighbours "
            "true neighbours? Select a point below to see the true neighbours the map put far away."
        )
        compare_layouts(view, k)


def compare_layouts(view: MapView, k: int) -> None:
    """The same two measures for the 2-D UMAP, PCA and t-SNE maps of this corpus, side by side."""
    candidates = {
        "UMAP": state.map_umap_params(),
        "PCA": PCAParams(),
        "t-SNE": TSNEParams(),
    }
    rows, missing = [], []
    for name, params in candidates.items():
        drawn = engine().peek_layout(view.found, params)
        if drawn is None:
            missing.append(name)
            continue
        report = honesty(view.found, drawn, k)
        rows.append({"layout (2-D)": name, "true neighbours kept": report.mean,
                     "trustworthiness": report.trustworthiness})  # fmt: skip
    st.markdown(f"**Three layouts of these {len(view.corpus):,} documents, measured the same way**")
    if rows:
        st.dataframe(pd.DataFrame(rows), hide_index=True, column_config={
            "true neighbours kept": st.column_config.NumberColumn(format="percent"),
            "trustworthiness": st.column_config.NumberColumn(format="%.3f"),
        })  # fmt: skip
    if missing and not view.fixed:
        compute_missing(view, {name: candidates[name] for name in missing})


def compute_missing(view: MapView, missing: dict) -> None:
    """A button that computes the layouts not yet measured (saying what t-SNE costs)."""
    label = f"Compute {' and '.join(missing)}"
    if "t-SNE" in missing:
        label += f" (about {estimate_tsne_seconds(len(view.corpus)):,.0f} s)"
    if st.button(label, key="map_layouts_go"):
        for params in missing.values():
            layout(view.found, params)
        st.rerun()
