"""Map page: the corpus as a 2-D or 3-D map; select points to read them and their neighbours."""

import pandas as pd
import streamlit as st

from lib.engine.cluster import NOISE
from lib.engine.honesty import misplaced_neighbors
from lib.engine.neighbors import neighbors_of
from lib.engine.scale import HUGE_MAP_ABOVE, category_labels, fitted_labels, huge_map_figure
from lib.errors import EmbedscopeError
from lib.figures.map import ColorBy, hover_labels, map_figure, selected_points, selected_rows
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
from pages._common import (
    active_corpus,
    active_embedding,
    current_cluster_params,
    current_map_params,
    engine,
    honesty,
    hosted,
    layout,
    md,
    open_project,
    project_store,
    saved_project,
    share_link,
    show_error,
)

CLUSTER_COLOR = "found clusters"
HONESTY_COLOR = "map honesty (true neighbours kept)"
FITTED_COLOR = "fitted or placed by UMAP"
AUTO_HONESTY_MAX = 20_000
MAX_TABLE_ROWS = 1_000

source = state.source()
is_hosted = hosted().hosted
try:
    corpus = active_corpus()
    found = active_embedding(corpus)
except EmbedscopeError as error:
    show_error(error)
    st.stop()
vectors, key = found.vectors, found.key
st.title("Map")
st.caption(f"{md(corpus.source)} · {len(corpus):,} documents")
huge = len(corpus) > HUGE_MAP_ABOVE  # precomputed: fixed layout, no per-point text in the figure
project = saved_project(source.name) if source.kind == state.PROJECT else None
fitted_mask = project.extra.get("fitted_mask") if huge and project is not None else None
if fitted_mask is not None and fitted_mask.all():
    fitted_mask = None  # one full fit: no point was placed by transform
fixed = huge or source.read_only or is_hosted  # the view is as saved / as the server offers it


def explain_fixed_view() -> None:
    """Why the layout and clustering controls are off, and how to change them where one can."""
    if huge:
        st.info(
            f"A precomputed map of {len(corpus):,} points: its layout and clusters are fixed here "
            "(recompute them with `embedscope-precompute`). Hovering names the group; select "
            "points to read their texts.",
            icon=":material/bolt:",
        )
    elif source.read_only:
        left, right = st.columns([4, 1], vertical_alignment="center")
        left.info("A saved project, shown as it was saved.", icon=":material/lock:")
        if not is_hosted:
            right.button(
                "Edit a copy", icon=":material/edit:", on_click=state.edit_copy,
                key="map_edit_copy", help="Change the layout or clustering; the saved project "
                "stays as it is until you save the copy as a new project.",
            )  # fmt: skip
    elif is_hosted:
        st.caption("This hosted server shows each corpus with its default layout and clusters.")


explain_fixed_view()
layout_col, view_col, neighbors_col, dist_col = st.columns([1, 1, 2, 2])
method = layout_col.segmented_control(
    "Layout", ["UMAP", "PCA"], key=state.MAP_METHOD, persist_state="session", disabled=fixed
)
view_col.segmented_control(
    "View", ["2D", "3D"], key=state.MAP_VIEW, persist_state="session", disabled=fixed
)
is_umap = method != "PCA"
neighbors_col.slider(
    "Neighbours (local ↔ global)",
    2,
    100,
    key=state.MAP_N_NEIGHBORS,
    persist_state="session",
    disabled=fixed or not is_umap,
    help="UMAP's n_neighbors: small values keep fine local detail, large ones the big picture.",
)
dist_col.slider(
    "Minimum distance",
    0.0,
    1.0,
    step=0.05,
    key=state.MAP_MIN_DIST,
    persist_state="session",
    disabled=fixed or not is_umap,
    help="UMAP's min_dist: how tightly points may pack together on the map.",
)

if huge:
    colorings = [CLUSTER_COLOR, *corpus.label_columns()]
    colorings += [FITTED_COLOR] if fitted_mask is not None else []
else:
    colorings = [CLUSTER_COLOR, *corpus.metadata.columns, HONESTY_COLOR]
if state.map_color() not in colorings:
    state.set_map_color(colorings[0])  # a saved or linked colouring this corpus lacks
color_col, method_col, size_col, space_col = st.columns([2, 1, 1, 1])
color_choice = color_col.selectbox(
    "Colour by", colorings, key=state.MAP_COLOR, persist_state="session"
)
cluster_method = method_col.selectbox(
    "Clustering",
    ["hdbscan", "kmeans"],
    key=state.MAP_CLUSTER,
    persist_state="session",
    format_func=str.upper,
    disabled=fixed,
)
if cluster_method == "kmeans":
    size_col.number_input(
        "Clusters (k)", 2, 200, key=state.MAP_K, persist_state="session", disabled=fixed
    )
else:
    size_col.number_input(
        "Min cluster size", 2, 1000, key=state.MAP_MIN_SIZE, persist_state="session", disabled=fixed
    )
space_col.selectbox(
    "Cluster on",
    ["map", "pca", "embeddings"],
    key=state.MAP_SPACE,
    persist_state="session",
    disabled=fixed,
    format_func={"map": "the map", "pca": "PCA of embeddings", "embeddings": "full embeddings"}.get,
    help="HDBSCAN finds dense groups best on the map; KMeans works well on full embeddings.",
)

try:
    params, cluster_params = current_map_params(), current_cluster_params()
    dimensions = params.n_components
    mapped = layout(found, params)
    with st.spinner("Finding clusters…"):
        clusters = engine().clusters(found, corpus, cluster_params, mapped)
except EmbedscopeError as error:
    show_error(error)
    st.stop()

for note in mapped.notes:
    st.info(note)


def explain_huge_honesty() -> None:
    """What a huge map can say about its honesty without an exact kNN of every point."""
    st.markdown(
        "Measuring every point's true neighbours takes minutes at this size, so this page does "
        "not. `bench/scale.py` measures it offline: points placed by transform keep fewer of "
        "their true neighbours than fitted points."
    )
    if fitted_mask is not None:
        fitted = int(fitted_mask.sum())
        st.caption(
            f"UMAP was fitted on {fitted:,} points; the other {len(corpus) - fitted:,} were "
            f"placed next to their nearest fitted neighbours. Colour by “{FITTED_COLOR}” to see "
            "which are which."
        )


def measure_honesty() -> int:
    """The honesty expander's controls and figures; returns the k chosen for neighbours."""
    st.markdown(
        f"A flat map cannot keep every distance of a {vectors.shape[1]}-dimensional space. "
        "For each document we "
        "compare its **k nearest neighbours in full dimension** with its k nearest on the map: "
        "the share that survives is its honesty score (1 = all kept)."
    )
    largest_k = min(50, (len(corpus) - 1) // 2)
    chosen_k = min(10, largest_k)
    if largest_k > 2:
        chosen_k = st.slider("k (neighbours compared)", 2, largest_k, chosen_k, key="map_k_true")
    measure = len(corpus) <= AUTO_HONESTY_MAX or color_choice == HONESTY_COLOR
    if largest_k < 1:
        st.caption("Too few documents to compare neighbourhoods.")
    elif measure or st.button("Measure (slow on big corpora)", key="map_honesty_go"):
        report = honesty(vectors, key, mapped, chosen_k)
        kept_col, trust_col, pca_col = st.columns(3)
        kept_col.metric("True neighbours kept (mean)", f"{report.mean:.0%}")
        trust_col.metric("Trustworthiness", f"{report.trustworthiness:.3f}")
        if mapped.explained_variance is not None:
            pca_col.metric("Variance kept by PCA", f"{mapped.explained_variance:.0%}")
        if report.note:
            st.caption(md(report.note))
        st.caption(
            "Trustworthiness (scikit-learn) asks the opposite question: are map neighbours "
            "true neighbours? Select a point below to see the true neighbours the map put far away."
        )
    return chosen_k


with st.expander("How honest is this map?", expanded=color_choice == HONESTY_COLOR):
    if huge:
        explain_huge_honesty()
        honesty_k = 10
    else:
        honesty_k = measure_honesty()


def huge_figure():
    """The huge map coloured by clusters, a label column, or fitted vs placed points."""
    if color_choice == CLUSTER_COLOR:
        return huge_map_figure(mapped.coords, clusters.labels, clusters.names)
    if color_choice == FITTED_COLOR:
        return huge_map_figure(mapped.coords, *fitted_labels(fitted_mask))
    return huge_map_figure(mapped.coords, *category_labels(corpus.metadata[color_choice]))


def regular_figure():
    """The map with hover text per point, coloured as chosen."""
    cluster_names = clusters.point_names()
    if color_choice == CLUSTER_COLOR:
        color = ColorBy("cluster", cluster_names)
    elif color_choice == HONESTY_COLOR:
        color = ColorBy("neighbours kept", honesty(vectors, key, mapped, honesty_k).per_point, True)
    else:
        color = ColorBy(color_choice, corpus.metadata[color_choice].to_numpy())
    metadata = corpus.metadata.assign(cluster=cluster_names)
    return map_figure(
        mapped.coords,
        hover_labels(corpus.texts, metadata),
        color=color,
        cluster_names=clusters.names if color_choice == CLUSTER_COLOR else None,
        cluster_labels=clusters.labels,
    )


try:
    drawn = huge_figure() if huge else None
except EmbedscopeError as error:
    show_error(error)
    st.stop()
figure = drawn.figure if drawn is not None else regular_figure()


def document_table(rows: list[int], **columns) -> pd.DataFrame:
    """Texts of the given rows with their metadata and cluster, plus any extra columns first."""
    table = corpus.metadata.iloc[rows].reset_index(drop=True)
    table["cluster"] = clusters.point_names(rows)
    for position, (name, values) in enumerate({"id": rows, **columns}.items()):
        table.insert(position, name, list(values))
    table.insert(len(columns) + 1, "text", [corpus.texts[i] for i in rows])
    return table


def show_focus(focus: int) -> None:
    """The focus document's true neighbours, and those of them the map placed far away."""
    neighbours = neighbors_of(vectors, focus, k=10)
    st.markdown("**Nearest neighbours in full dimension** (cosine similarity)")
    st.dataframe(
        document_table(neighbours.indices.tolist(), cosine=neighbours.scores.round(3)),
        hide_index=True,
    )
    if honesty_k < 1:
        return
    far = misplaced_neighbors(vectors, mapped.coords, focus, k=honesty_k)
    far = far[~far["kept"]]
    st.markdown(f"**True neighbours the map put far away** ({len(far)} of {honesty_k})")
    if len(far):
        rows = far["row"].tolist()
        st.dataframe(
            document_table(rows, cosine=far["cosine"].round(3), rank_on_map=far["map_rank"]),
            hide_index=True,
        )


@st.fragment
def map_and_selection() -> None:
    """The chart and what is selected on it; a selection reruns only this part."""
    if dimensions == 3:
        st.plotly_chart(figure, key="map_chart_3d")
        st.info("Selection works on the 2-D view (Plotly's 3-D charts have no box or lasso).")
        return
    event = st.plotly_chart(
        figure, key="map_chart", on_select="rerun", selection_mode=("points", "box", "lasso")
    )
    if drawn is not None:
        rows = drawn.rows(selected_points(event))
    else:
        rows = selected_rows(event, n_rows=len(corpus))
    if not rows:
        st.info("Click a point, or pick the lasso or box above the map and drag, to read those "
                "documents here.")  # fmt: skip
        return
    st.subheader(f"{len(rows):,} selected")
    if len(rows) > MAX_TABLE_ROWS:
        st.caption(f"The table shows the first {MAX_TABLE_ROWS:,} of them.")
        rows = rows[:MAX_TABLE_ROWS]
    st.dataframe(document_table(rows), hide_index=True, height=min(400, 38 + 35 * len(rows)))
    focus = st.selectbox(
        "Look closer at", rows, format_func=lambda i: f"#{i} · {corpus.texts[i][:90]}",
        key="map_focus",
    )  # fmt: skip
    show_focus(int(focus))


map_and_selection()

with st.expander(f"{clusters.n_clusters} clusters found"):
    summary = pd.DataFrame(
        {
            "cluster": list(clusters.names.values()),
            "documents": [clusters.sizes[c] for c in clusters.names],
        }
    )
    st.dataframe(summary, hide_index=True)
    if NOISE in clusters.sizes:
        st.caption(f"{clusters.sizes[NOISE]:,} documents fit no cluster (HDBSCAN noise).")


def export_table() -> pd.DataFrame:
    """Text, metadata, map coordinates and clusters: one row per point."""
    return map_table(corpus, mapped.coords, clusters.labels, clusters.names)


def projector_export() -> tuple[bytes, bytes]:
    """vectors.tsv and metadata.tsv for the TensorFlow Embedding Projector."""
    return projector_files(vectors, export_table().drop(columns=["x", "y", "z"], errors="ignore"))


def save_project(title: str) -> None:
    """Store this exact view as a new project; the session then shows it, read-only."""
    view = ProjectView.from_params(
        params, cluster_params, dimensions=dimensions, color_by=color_choice, page="map"
    )
    saved = project_store().save(
        title=title, model_name=source.model_name, corpus=corpus, vectors=vectors,
        coords=mapped.coords, cluster_labels=clusters.labels, cluster_names=clusters.names,
        view=view,
    )  # fmt: skip
    open_project(saved.id)
    state.set_saved_project_id(saved.id)


def save_section() -> None:
    """Save this view as a project, or say why it cannot be, or confirm what was saved."""
    if state.saved_project_id() == source.name and source.read_only:
        st.success(f"Saved as project {source.name}: the link below reopens this exact view.",
                   icon=":material/check_circle:")  # fmt: skip
    elif huge:
        st.markdown("**This precomputed project is saved**: its link reopens this view.")
    elif is_hosted:
        st.markdown("**Saving is off on this hosted server.**")
    elif source.read_only:
        st.markdown("**This project is saved**: its link reopens this view.")
    else:
        st.markdown("**Save as a project** to get a link that reopens this exact view.")
        title = st.text_input("Title", value=str(corpus.source)[:80], key="map_title")
        if st.button("Save project", icon=":material/save:", key="map_save"):
            try:
                save_project(title)
            except EmbedscopeError as error:
                show_error(error)
            else:
                st.rerun()
    link = share_link("")  # the Map is the default page: its URL is /
    if link:
        st.code(link, language=None, wrap_lines=True)


def download_section() -> None:
    """Table, figure and vectors, each made on click; the big ones left out on huge maps."""
    st.markdown("**Download** the table, the figure or the raw vectors (made on click).")
    tables = {
        "Table (CSV)": (lambda: to_csv_bytes(export_table()), "embedscope-map.csv"),
        "Table (Parquet)": (lambda: to_parquet_bytes(export_table()), "embedscope-map.parquet"),
        "Interactive figure (HTML)": (lambda: figure_html_bytes(figure), "embedscope-map.html"),
    }
    large = {  # an image, 1.5 GB of vectors or gigabytes of TSV are no use on a huge map
        "Static image (PNG)": (lambda: figure_png_bytes(figure) or b"", "embedscope-map.png"),
        "Vectors (.npy)": (lambda: npy_bytes(vectors), "embeddings.npy"),
        "Projector vectors.tsv": (lambda: projector_export()[0], "vectors.tsv"),
        "Projector metadata.tsv": (lambda: projector_export()[1], "metadata.tsv"),
    }
    downloads = tables if huge else {**tables, **large}
    for label, (make, filename) in downloads.items():
        st.download_button(label, make, filename, on_click="ignore", key=f"map_dl_{filename}")
    if not huge:
        st.caption(
            "The two .tsv files load in the TensorFlow Embedding Projector (Load → Choose file)."
        )


with st.expander("Save, share and export", expanded=state.saved_project_id() is not None):
    save_col, export_col = st.columns(2)
    with save_col:
        save_section()
    with export_col:
        download_section()
