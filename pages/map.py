"""Map page: the corpus as a 2-D or 3-D map; select points to read them and their neighbours."""

from dataclasses import replace

import pandas as pd
import streamlit as st

from lib.cluster.clusters import NOISE, auto_min_cluster_size
from lib.cluster.selection import summarize_selection
from lib.errors import EmbedscopeError
from lib.figures import tables
from lib.figures.emphasis import RING_AT_MOST, fade_points, ring_rows
from lib.figures.focus import MAX_RINGED, with_focus
from lib.figures.huge import HUGE_MAP_ABOVE
from lib.figures.map import ColorBy, hover_labels, map_figure, selected_points, selected_rows
from lib.reduce.tsne import TSNEParams, estimate_tsne_seconds
from pages import state, timing
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
    saved_project,
    show_error,
)
from pages.map_parts.curate import (
    TAGS_COLOR,
    curated,
    curation_controls,
    renamed_level,
    tag_values,
)
from pages.map_parts.duplicates import DUPLICATES_COLOR, duplicates, group_values
from pages.map_parts.find import documents_table, find_controls, found_caption, picked_row
from pages.map_parts.honesty import honesty_intro, honesty_measures
from pages.map_parts.levels import detail_control, draw_level_names, levels_of
from pages.map_parts.share import share_section
from pages.map_parts.view import CLUSTER_COLOR, FITTED_COLOR, HONESTY_COLOR, MapView

state.require_app_frame()  # a direct link on a fresh server: rerun inside app.py's frame

TSNE_ASK_FROM = 10.0  # seconds: a t-SNE expected to take longer waits for a click
MAX_TABLE_ROWS = 1_000

source = state.source()
is_hosted = hosted().hosted
try:
    corpus = active_corpus()
    found = active_embedding(corpus)
except EmbedscopeError as error:
    show_error(error)
    st.stop()
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


def confirm_tsne(params: TSNEParams) -> None:
    """Say what a t-SNE costs before it runs; a long one waits for a click."""
    if engine().peek_layout(found, params) is not None:
        return
    seconds = estimate_tsne_seconds(len(corpus))
    st.caption(f"t-SNE of {len(corpus):,} documents takes about {seconds:,.0f} s on this server.")
    if seconds >= TSNE_ASK_FROM and not st.button("Compute t-SNE", key="map_tsne_go"):
        st.info("t-SNE has not run yet for this corpus: start it with the button above.")
        st.stop()


layout_col, view_col, neighbors_col, dist_col = st.columns([1.5, 1, 2, 2])
method = layout_col.segmented_control(
    "Layout", ["UMAP", "PCA", "t-SNE"], key=state.MAP_METHOD, persist_state="session",
    disabled=fixed, help="t-SNE (openTSNE) keeps local neighbourhoods well; 2-D only, slower.",
)  # fmt: skip
view_col.segmented_control(
    "View", ["2D", "3D"], key=state.MAP_VIEW, persist_state="session",
    disabled=fixed or method == "t-SNE",
)  # fmt: skip
is_umap = method == "UMAP"
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
    colorings += [TAGS_COLOR] if state.curation().tags else []
    colorings += [DUPLICATES_COLOR]
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
    on_change=state.cluster_method_changed,
)
if cluster_method == "kmeans":
    size_col.number_input(
        "Clusters (k)", 2, 200, key=state.MAP_K, persist_state="session", disabled=fixed
    )
else:
    size_col.number_input(
        "Min cluster size", 2, 100_000, key=state.MAP_MIN_SIZE, persist_state="session",
        disabled=fixed, placeholder=f"auto: {auto_min_cluster_size(len(corpus))}",
        help="Empty: 1% of the documents, at least 10, so a bigger corpus gets fewer, bigger "
        "clusters.",
    )  # fmt: skip
space_col.selectbox(
    "Cluster on",
    ["map", "pca", "embeddings"],
    key=state.MAP_SPACE,
    persist_state="session",
    disabled=fixed,
    format_func={"map": "the map", "pca": "PCA of embeddings", "embeddings": "full embeddings"}.get,
    help="HDBSCAN finds dense groups best on the map; KMeans works well on full embeddings.",
)
if cluster_method == "hdbscan" and method == "PCA" and state.map_clusters().space == "map":
    st.caption("HDBSCAN finds few dense groups on a PCA map (90% of 4,050 fortunes were left "
               "unclustered): UMAP or t-SNE maps, or KMeans, cluster better.")  # fmt: skip

try:
    params, cluster_params = current_map_params(), current_cluster_params()
    dimensions = params.n_components
    if isinstance(params, TSNEParams):
        confirm_tsne(params)
    mapped = layout(found, params)
    with st.spinner("Finding clusters…"):
        clusters = engine().clusters(found, corpus, cluster_params, mapped)
except EmbedscopeError as error:
    show_error(error)
    st.stop()

for note in mapped.notes:
    st.info(note)

curation = state.curation()  # renames and merges of clusters, tags of documents
raw_clusters, clusters = clusters, curated(clusters, curation)
tags = tag_values(curation, len(corpus))
finding = find_controls(corpus, found)  # the search box and metadata filters
found_caption(finding)


view = MapView(
    source=source, corpus=corpus, found=found, params=params, cluster_params=cluster_params,
    mapped=mapped, clusters=clusters, color_choice=color_choice, fixed=fixed, huge=huge,
    is_hosted=is_hosted, fitted_mask=fitted_mask, curation=curation, raw_clusters=raw_clusters,
)  # fmt: skip
honesty_box = st.expander("How honest is this map?", expanded=color_choice == HONESTY_COLOR)
with honesty_box:  # the measures are filled in below the map, so the map shows first
    honesty_k = honesty_intro(view)


def regular_figure():
    """The map with hover text per point, coloured as chosen; clusters at the chosen detail."""
    cluster_names = clusters.point_names()
    if color_choice == CLUSTER_COLOR:
        color = ColorBy("cluster", detail.as_clustering().point_names())
    elif color_choice == HONESTY_COLOR:
        color = ColorBy("neighbours kept", honesty(found, mapped, honesty_k).per_point, True)
    elif color_choice == TAGS_COLOR and tags is not None:
        color = ColorBy("tags", tags)
    elif color_choice == DUPLICATES_COLOR:
        with st.spinner("Finding near-duplicates…"):
            groups = duplicates(found)
        st.caption(groups.summary())
        color = ColorBy("near-duplicate group", group_values(groups), continuous=False)
    else:
        color = ColorBy(color_choice, corpus.metadata[color_choice].to_numpy())
    metadata = corpus.metadata.assign(cluster=cluster_names)
    drawn_map = map_figure(mapped.coords, hover_labels(corpus.texts, metadata), color=color)
    if color_choice == CLUSTER_COLOR and dimensions == 2:
        draw_level_names(drawn_map, detail, mapped.coords)
    return drawn_map


show_levels = color_choice == CLUSTER_COLOR and not huge
detail = detail_control(levels_of(found, corpus, clusters)) if show_levels else None
if detail is not None:
    detail = renamed_level(detail, curation, raw_clusters)  # the visitor's names shown
try:
    drawn = view.huge_figure() if huge else None
except EmbedscopeError as error:
    show_error(error)
    st.stop()
figure = drawn.figure if drawn is not None else regular_figure()
# where each row sits in the figure: a huge map draws its coordinates rescaled (HugeMap)
plotted = drawn.figure_coords(mapped.coords) if drawn is not None else mapped.coords
if finding.active and huge:
    ring_rows(figure, plotted, finding.rows()[:RING_AT_MOST], name="found")
elif finding.active:
    fade_points(figure, finding.opacity(), plotted)  # what is found stands out
picked = picked_row(finding)
if picked is not None:
    ring_rows(figure, plotted, [picked], name=f"#{picked}")


def document_table(rows: list[int], **columns) -> pd.DataFrame:
    """Texts of the given rows with their metadata and cluster, plus any extra columns first."""
    names = clusters.point_names(rows)
    if tags is not None:
        columns["tags"] = tags[rows]
    return tables.document_table(corpus, rows, cluster_names=list(names), **columns)


FOCUS_K = 10  # true neighbours listed and marked for the focus document


def show_focus(focus: int, neighbours) -> None:
    """The focus document's true neighbours, and those of them the map placed far away."""
    st.markdown("**Nearest neighbours in full dimension** (cosine similarity; ◇ on the map)")
    st.dataframe(
        document_table(neighbours.indices.tolist(), cosine=neighbours.scores.round(3)),
        hide_index=True,
    )
    if honesty_k < 1:
        return
    far = engine().misplaced(found, mapped, focus, k=honesty_k)
    far = far[~far["kept"]]
    st.markdown(f"**True neighbours the map put far away** ({len(far)} of {honesty_k})")
    if len(far):
        rows = far["row"].tolist()
        st.dataframe(
            document_table(rows, cosine=far["cosine"].round(3), rank_on_map=far["map_rank"]),
            hide_index=True,
        )


def read_selection() -> list[int]:
    """The rows selected on the map, read before it is drawn: the map is redrawn with the marks
    below (a new widget whose own selection is empty), so the selection is kept in the session
    until a new one replaces it or it is cleared."""
    event = st.session_state.get("map_chart")
    if drawn is not None:
        rows = drawn.rows(selected_points(event))
    else:
        rows = selected_rows(event, n_rows=len(corpus))
    return list(state.map_selection(tuple(rows)))


def focus_of(rows: list[int]) -> int | None:
    """The document to look closer at: the one picked below the map, else the first selected."""
    if not rows:
        return None
    picked = st.session_state.get("map_focus")
    return picked if picked in rows else rows[0]


def show_summary(rows: list[int]) -> None:
    """What the selection holds: its distinctive words and how many of each group."""
    by_label = color_choice in corpus.label_columns()
    name = color_choice if by_label else "cluster"
    groups = corpus.metadata[color_choice].tolist() if by_label else clusters.point_names()
    summary = summarize_selection(corpus.texts, groups, rows, group_column=name)
    words = " · ".join(summary.words) or "none stands out"
    st.markdown(f"**Top words** (against the rest of the corpus): {md(words)}")
    st.dataframe(
        summary.groups, hide_index=True, height=min(250, 38 + 35 * len(summary.groups)),
        column_config={"share of selection": st.column_config.NumberColumn(format="percent")},
    )  # fmt: skip


@st.fragment
def map_and_selection() -> None:
    """The chart and what is selected on it; a selection reruns only this part."""
    if dimensions == 3:
        st.plotly_chart(figure, key="map_chart_3d")
        timing.figure_sent()
        st.info("Selection works on the 2-D view (Plotly's 3-D charts have no box or lasso).")
        return
    rows = read_selection()
    focus = focus_of(rows)
    neighbours = None if focus is None else engine().neighbors(found, focus, k=FOCUS_K)
    near = [] if neighbours is None else neighbours.indices.tolist()
    marked_rows = sorted({*rows[:MAX_RINGED], *near, *([] if focus is None else [focus])})
    hover = dict(
        zip(marked_rows, hover_labels([corpus.texts[i] for i in marked_rows]), strict=True)
    )
    marked = with_focus(figure, plotted, hover, selected=rows, focus=focus, neighbours=near)
    st.plotly_chart(
        marked, key="map_chart", on_select="rerun", selection_mode=("points", "box", "lasso")
    )
    timing.figure_sent()
    if not rows:
        st.info("Click a point, or pick the lasso or box above the map and drag, to read those "
                "documents here.")  # fmt: skip
        return
    heading, clear = st.columns([5, 1], vertical_alignment="bottom")
    heading.subheader(f"{len(rows):,} selected")
    clear.button("Clear selection", key="map_clear", on_click=state.clear_map_selection)
    show_summary(rows)
    if len(rows) > MAX_TABLE_ROWS:
        st.caption(f"The table shows the first {MAX_TABLE_ROWS:,} of them.")
        rows = rows[:MAX_TABLE_ROWS]
    st.dataframe(document_table(rows), hide_index=True, height=min(400, 38 + 35 * len(rows)))
    picked = st.selectbox(
        "Look closer at", rows, format_func=lambda i: f"#{i} · {corpus.texts[i][:90]}",
        key="map_focus",
    )  # fmt: skip
    if picked != focus:  # the list holds the first MAX_TABLE_ROWS only
        neighbours = engine().neighbors(found, int(picked), k=FOCUS_K)
    show_focus(int(picked), neighbours)


map_and_selection()
documents_table(  # a row picked in it is ringed on the map, its neighbours listed
    finding, document_table,
    lambda row: show_focus(row, engine().neighbors(found, row, k=FOCUS_K)),
)  # fmt: skip
with honesty_box:
    honesty_measures(view, honesty_k)

with st.expander(f"{clusters.n_clusters} clusters found"):
    summary = pd.DataFrame(
        {
            "cluster": list(clusters.names.values()),
            "documents": [clusters.sizes[c] for c in clusters.names],
        }
    )
    if finding.active:  # the cluster counts of what the search and filters keep
        shown = pd.Series(clusters.labels[finding.shown()]).value_counts()
        summary.insert(1, "shown", [int(shown.get(c, 0)) for c in clusters.names])
    st.dataframe(summary, hide_index=True)
    if NOISE in clusters.sizes:
        st.caption(f"{clusters.sizes[NOISE]:,} documents fit no cluster (HDBSCAN noise).")

with st.expander("Rename, merge and tag", icon=":material/edit_note:"):
    on_map = [] if huge or dimensions == 3 else state.map_selected()
    curation_controls(
        raw_clusters, clusters, editable=not source.read_only and not huge,
        selected=[row for row in on_map if finding.kept is None or finding.kept[row]],
        found=finding.rows().tolist() if finding.active else None,
    )  # fmt: skip


with st.expander("Save, share and export", expanded=state.saved_project_id() is not None):
    share_section(replace(view, figure=figure))
