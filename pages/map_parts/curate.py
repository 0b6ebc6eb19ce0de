"""The Map page's curation: rename or merge clusters and tag documents (saved with a project).

The session keeps one `Curation` (pages/state.py); the page applies it to the clustering it
shows. A saved project shows its curation read-only: "Edit a copy" makes it editable, and the
copy saves as a new project, as for every other change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import streamlit as st

from lib.cluster.clusters import NOISE, Clustering
from lib.cluster.hierarchy import FINE, Level
from lib.errors import EmbedscopeError
from lib.share.curation import (
    MAX_NAME_CHARS,
    MAX_TAG_CHARS,
    Curation,
    apply_to_clusters,
    clustering_fingerprint,
    tag_column,
)
from pages import state
from pages._common import md, show_error

TAGS_COLOR = "tags (curation)"
UNTAGGED = "untagged"


def curated(clusters: Clustering, curation: Curation) -> Clustering:
    """The clustering with the session's renames and merges applied (as is if they fail)."""
    if not (curation.renames or curation.merges):
        return clusters
    try:
        labels, names = apply_to_clusters(curation, clusters.labels, clusters.names)
    except EmbedscopeError as error:
        show_error(error)
        return clusters
    ids, counts = np.unique(labels, return_counts=True)
    sizes = {int(i): int(c) for i, c in zip(ids, counts, strict=True)}
    return Clustering(labels, {c: names[c] for c in names if c in sizes}, sizes)


def renamed_level(level: Level, curation: Curation, raw: Clustering) -> Level:
    """The fine level with the curation's names (the levels name their clusters afresh)."""
    made_here = curation.fingerprint == clustering_fingerprint(raw.labels)
    if level.name != FINE or not curation.renames or not made_here:
        return level
    renamed = {c: name for c, name in curation.renames if c in level.names}
    return replace(level, names={**level.names, **renamed})


def tag_values(curation: Curation, n: int) -> np.ndarray | None:
    """Each row's tags ("untagged" for none) for colouring; None when there are no tags."""
    if not curation.tags:
        return None
    tags = tag_column(curation, n)
    return np.where(tags == "", UNTAGGED, tags).astype(object)


def curation_controls(
    raw: Clustering,
    shown: Clustering,
    *,
    editable: bool,
    selected: Sequence[int],
    found: Sequence[int] | None,
) -> None:
    """Rename, merge and tag; read-only (with the reason) when the view is fixed."""
    curation = state.curation()
    if not editable:
        st.caption("A saved project shows its names, merges and tags as saved: **Edit a copy** "
                   "(top of the page) to change them.")  # fmt: skip
    elsewhere = curation.fingerprint != clustering_fingerprint(raw.labels)
    if curation.fingerprint and (curation.renames or curation.merges) and elsewhere:
        st.caption("The renames and merges were made on another clustering; they show again "
                   "with that clustering.")  # fmt: skip
    base = curation.for_clustering(raw.labels)
    clusters = [c for c in shown.names if c != NOISE]
    rename_col, merge_col, tag_col = st.columns(3)
    with rename_col:
        _rename(base, shown, clusters, raw, editable)
    with merge_col:
        _merge(base, shown, clusters, raw, editable)
    with tag_col:
        _tag(curation, len(raw.labels), editable, selected, found)
    if not curation.is_empty and st.button(
        "Undo every rename, merge and tag", key="map_curation_clear", disabled=not editable
    ):
        state.set_curation(Curation())
        st.rerun()


def _label(shown: Clustering):
    return lambda c: f"{shown.names[c]} ({shown.sizes.get(c, 0):,})"


def _rename(base: Curation, shown, clusters, raw: Clustering, editable: bool) -> None:
    st.markdown("**Rename a cluster**")
    cluster = st.selectbox(
        "Cluster", clusters, format_func=_label(shown), key="map_rename_cluster",
        disabled=not editable,
    )  # fmt: skip
    name = st.text_input(
        "New name", max_chars=MAX_NAME_CHARS, key="map_rename_name", disabled=not editable,
        help="Leave empty and press Rename to bring back the found name.",
    )  # fmt: skip
    if st.button("Rename", key="map_rename_go", disabled=not editable or cluster is None):
        _commit(lambda: base.rename(int(cluster), name), raw)


def _merge(base: Curation, shown, clusters, raw: Clustering, editable: bool) -> None:
    st.markdown("**Merge two clusters**")
    source = st.selectbox(
        "Move every document of", clusters, format_func=_label(shown), key="map_merge_from",
        disabled=not editable,
    )  # fmt: skip
    targets = [c for c in clusters if c != source]
    into = st.selectbox(
        "into", targets, format_func=_label(shown), key="map_merge_into", disabled=not editable
    )
    if st.button("Merge", key="map_merge_go", disabled=not editable or into is None):
        _commit(lambda: base.merge(int(source), into=int(into)), raw)


def _tag(curation: Curation, n: int, editable: bool, selected, found) -> None:
    st.markdown("**Tag documents**")
    choices = {f"selected on the map ({len(selected):,})": list(selected)}
    if found is not None:
        choices[f"found by search and filters ({len(found):,})"] = list(found)
    which = st.radio("Which", list(choices), key="map_tag_which", disabled=not editable)
    name = st.text_input(
        "Tag", max_chars=MAX_TAG_CHARS, key="map_tag_name", disabled=not editable,
        placeholder="to check",
    )  # fmt: skip
    rows = choices.get(which, [])
    if st.button("Tag them", key="map_tag_go", disabled=not editable or not rows):
        _commit(lambda: curation.tag(name, rows), None, n)
    for tag, tagged in curation.tags:
        st.caption(f"{md(tag)}: {len(tagged):,} documents")


def _commit(edit, raw: Clustering | None, n: int | None = None) -> None:
    """Make the edit the session's curation (checked first: a clash of names is refused)."""
    try:
        new = edit()
        if raw is not None:
            apply_to_clusters(new, raw.labels, raw.names)
        if n is not None:
            new.check_rows(n)
    except EmbedscopeError as error:
        show_error(error)
        return
    state.set_curation(new)
    st.rerun()
