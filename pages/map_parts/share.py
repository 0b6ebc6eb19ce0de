"""The Map page's "Save, share and export" part."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from lib.errors import EmbedscopeError
from lib.share.curation import tag_column
from lib.share.export import (
    figure_html_bytes,
    figure_png_bytes,
    map_table,
    npy_bytes,
    projector_files,
    to_csv_bytes,
    to_parquet_bytes,
)
from lib.share.projects import ProjectView
from pages import state
from pages._common import open_project, project_store, show_error
from pages.frame import share_link
from pages.map_parts.view import MapView


def share_section(view: MapView) -> None:
    """Saving on the left, downloads on the right."""
    save_col, export_col = st.columns(2)
    with save_col:
        save_section(view)
    with export_col:
        download_section(view)


def save_project(view: MapView, title: str) -> None:
    """Store this exact view as a new project; the session then shows it, read-only."""
    saved_view = ProjectView.from_params(
        view.params, view.cluster_params, dimensions=view.params.n_components,
        color_by=view.color_choice, page="map",
    )  # fmt: skip
    saved = project_store().save(
        title=title, model_name=view.source.model_name, corpus=view.corpus,
        vectors=view.found.vectors, coords=view.mapped.coords,
        cluster_labels=view.found_clusters.labels, cluster_names=view.found_clusters.names,
        view=saved_view, curation=view.curation,
    )  # fmt: skip
    open_project(saved.id)
    state.set_saved_project_id(saved.id)


def save_section(view: MapView) -> None:
    """Save this view as a project, or say why it cannot be, or confirm what was saved."""
    source = view.source
    if state.saved_project_id() == source.name and source.read_only:
        st.success(f"Saved as project {source.name}: the link below reopens this exact view.",
                   icon=":material/check_circle:")  # fmt: skip
    elif view.huge:
        st.markdown("**This precomputed project is saved**: its link reopens this view.")
    elif view.is_hosted:
        st.markdown("**Saving is off on this hosted server.**")
    elif source.read_only:
        st.markdown("**This project is saved**: its link reopens this view.")
    else:
        st.markdown("**Save as a project** to get a link that reopens this exact view.")
        title = st.text_input("Title", value=str(view.corpus.source)[:80], key="map_title")
        if st.button("Save project", icon=":material/save:", key="map_save"):
            try:
                save_project(view, title)
            except EmbedscopeError as error:
                show_error(error)
            else:
                st.rerun()
    link = share_link("")  # the Map is the default page: its URL is /
    if link:
        st.code(link, language=None, wrap_lines=True)


def export_table(view: MapView) -> pd.DataFrame:
    """Text, metadata, map coordinates and clusters (as curated), and tags: one row per point."""
    table = map_table(view.corpus, view.mapped.coords, view.clusters.labels, view.clusters.names)
    if view.curation.tags:
        table[_free_name(table, "tags")] = tag_column(view.curation, len(view.corpus))
    return table


def _free_name(table: pd.DataFrame, name: str) -> str:
    """`name`, or `name` with underscores added until no column of `table` has it."""
    while name in table.columns:
        name += "_"
    return name


def projector_export(view: MapView) -> tuple[bytes, bytes]:
    """vectors.tsv and metadata.tsv for the TensorFlow Embedding Projector."""
    table = export_table(view).drop(columns=["x", "y", "z"], errors="ignore")
    return projector_files(view.found.vectors, table)


def download_section(view: MapView) -> None:
    """Table, figure and vectors, each made on click; only the table and figure on huge maps,
    and on a hosted server no table of a huge map (built in memory per click)."""
    st.markdown("**Download** the table, the figure or the raw vectors (made on click).")
    figure = view.figure
    tables = {
        "Table (CSV)": (lambda: to_csv_bytes(export_table(view)), "embedscope-map.csv"),
        "Table (Parquet)": (lambda: to_parquet_bytes(export_table(view)), "embedscope-map.parquet"),
    }
    html = {"Interactive figure (HTML)": (lambda: figure_html_bytes(figure), "embedscope-map.html")}
    large = {  # an image, 1.5 GB of vectors or gigabytes of TSV are no use on a huge map
        "Static image (PNG)": (lambda: figure_png_bytes(figure) or b"", "embedscope-map.png"),
        "Vectors (.npy)": (lambda: npy_bytes(view.found.vectors), "embeddings.npy"),
        "Projector vectors.tsv": (lambda: projector_export(view)[0], "vectors.tsv"),
        "Projector metadata.tsv": (lambda: projector_export(view)[1], "metadata.tsv"),
    }
    if not view.huge:
        downloads = {**tables, **html, **large}
    elif view.is_hosted:
        downloads = html
    else:
        downloads = {**tables, **html}
    for label, (make, filename) in downloads.items():
        st.download_button(label, make, filename, on_click="ignore", key=f"map_dl_{filename}")
    if not view.huge:
        st.caption(
            "The two .tsv files load in the TensorFlow Embedding Projector (Load → Choose file)."
        )
