"""Clusters at two or three levels of detail, nested: a few broad groups, many fine ones.

The fine level is a flat clustering (lib.cluster.clusters, or any labels). The coarser levels
merge whole fine clusters: one agglomerative tree over the fine clusters' unit centroids (Ward
on unit vectors, whose squared distances are 2 - 2·cosine, or average linkage on cosine) cut at
each coarser level's count. Cutting one tree keeps every level nested in the next: each fine
cluster sits in exactly one medium cluster, and each medium one in exactly one broad cluster.

Every level is named by a naming function `(texts, labels) -> {cluster id: name}`; the default
is the c-TF-IDF namer `name_clusters`, and any better namer plugs in through `namer=`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from lib.cluster.clusters import NOISE, Clustering, name_clusters
from lib.errors import ParameterError, check_choice, check_int, invalid_parameter

Namer = Callable[[Sequence[str], np.ndarray], dict[int, str]]

BROAD, MEDIUM, FINE = "broad", "medium", "fine"
LEVEL_NAMES = (BROAD, MEDIUM, FINE)  # coarse to fine
LINKAGES = ("ward", "average")


@dataclass(frozen=True)
class HierarchyParams:
    """How to build the coarser levels above a fine clustering.

    `n_levels`: 2 (broad, fine) or 3 (broad, medium, fine). `n_broad`: broad clusters wanted;
    None picks round(sqrt(fine count)), at least 2. `n_medium`: None picks the geometric mean of
    the broad and fine counts; a medium level is kept only when its count lies strictly between
    them. `linkage`: "ward" (on unit centroids) or "average" (on cosine distance).
    """

    n_levels: int = 3
    n_broad: int | None = None
    n_medium: int | None = None
    linkage: str = "ward"

    def __post_init__(self) -> None:
        check_int("HierarchyParams", "n_levels", self.n_levels, 2, 3)
        for name in ("n_broad", "n_medium"):
            if getattr(self, name) is not None:
                check_int("HierarchyParams", name, getattr(self, name), 2, 200)
        check_choice("HierarchyParams", "linkage", self.linkage, LINKAGES)
        both = self.n_broad is not None and self.n_medium is not None
        if both and self.n_medium <= self.n_broad:
            raise invalid_parameter(
                "HierarchyParams", "n_medium", f"greater than n_broad ({self.n_broad})",
                self.n_medium,
            )  # fmt: skip


@dataclass(frozen=True)
class Level:
    """One level of detail: cluster id per point (`labels` (n,), NOISE = -1), names and sizes
    per id, and `parents`: each id's cluster in the next coarser level (empty for the broadest;
    NOISE maps to NOISE)."""

    name: str
    labels: np.ndarray
    names: dict[int, str]
    sizes: dict[int, int]
    parents: dict[int, int]

    @property
    def n_clusters(self) -> int:
        """Clusters at this level, noise not counted."""
        return sum(1 for cluster_id in self.sizes if cluster_id != NOISE)

    def as_clustering(self) -> Clustering:
        """This level as a flat Clustering (colouring, tables, point names)."""
        return Clustering(self.labels, self.names, self.sizes)


@dataclass(frozen=True)
class ClusterLevels:
    """Nested clusterings from coarse to fine (`levels[0]` broad, `levels[-1]` fine)."""

    levels: tuple[Level, ...]

    @property
    def names(self) -> tuple[str, ...]:
        """The level names, coarse to fine: ("broad", "fine") or ("broad", "medium", "fine")."""
        return tuple(level.name for level in self.levels)

    def level(self, name: str) -> Level:
        """The level called `name`."""
        check_choice("ClusterLevels.level", "name", name, self.names)
        return self.levels[self.names.index(name)]

    def ancestor_map(self, name: str) -> dict[int, int]:
        """Each fine cluster id -> its cluster at level `name` (the identity for "fine")."""
        target = self.names.index(self.level(name).name)
        mapping = {cid: cid for cid in self.levels[-1].sizes}
        for level in reversed(self.levels[target + 1 :]):
            mapping = {fine: level.parents[cid] for fine, cid in mapping.items()}
        return mapping


def cluster_levels(
    vectors: np.ndarray,
    texts: Sequence[str],
    fine_labels: np.ndarray,
    params: HierarchyParams = HierarchyParams(),
    namer: Namer = name_clusters,
) -> ClusterLevels:
    """Nested levels above the fine clustering `fine_labels` (n,) of `vectors` (n, d), each named
    by `namer(texts, labels)`. Deterministic: the same inputs give the same ids and names.

    Fine ids stay as given; coarser ids count from 0, the biggest cluster first. Noise (-1)
    stays noise at every level. With fewer than 3 fine clusters every level is the fine one.
    """
    fine_labels = np.asarray(fine_labels, dtype=np.int64)
    if not len(vectors) == len(texts) == len(fine_labels):
        raise ParameterError(
            f"Got {len(vectors)} vectors, {len(texts)} texts and {len(fine_labels)} labels; "
            "they must match."
        )
    fine_ids = sorted(int(c) for c in np.unique(fine_labels) if c != NOISE)
    counts = _level_counts(len(fine_ids), params)
    groups = _merge_fine_clusters(vectors, fine_labels, fine_ids, counts, params.linkage)
    levels: list[Level] = []
    for name, group_of in zip(counts, groups, strict=True):
        coarser = levels[-1] if levels else None
        levels.append(_level(name, texts, fine_labels, group_of, coarser, namer))
    return ClusterLevels(tuple(levels))


def _level_counts(n_fine: int, params: HierarchyParams) -> dict[str, int]:
    """Clusters per level, coarse to fine. Broad never exceeds fine (with 2 fine clusters both
    levels are the same); a medium level whose count is not strictly between is left out."""
    broad = params.n_broad or max(2, round(math.sqrt(n_fine)))
    broad = min(broad, n_fine)
    counts = {BROAD: broad}
    if params.n_levels == 3:
        medium = params.n_medium or round(math.sqrt(broad * n_fine))
        if broad < medium < n_fine:
            counts[MEDIUM] = medium
    counts[FINE] = n_fine
    return counts


def _merge_fine_clusters(
    vectors: np.ndarray, labels: np.ndarray, fine_ids: list[int], counts: dict[str, int], linkage
) -> list[dict[int, int]]:
    """For each level (coarse to fine): fine cluster id -> that level's group (0-based, cut
    from one tree, so nested)."""
    if len(fine_ids) < 3:
        return [{cid: position for position, cid in enumerate(fine_ids)} for _ in counts]
    from scipy.cluster.hierarchy import cut_tree
    from scipy.cluster.hierarchy import linkage as build_tree

    centroids = _unit_centroids(vectors, labels, fine_ids)
    if linkage == "ward":
        tree = build_tree(centroids, method="ward")
    else:
        tree = build_tree(centroids, method="average", metric="cosine")
    cuts = cut_tree(tree, n_clusters=list(counts.values()))  # (n_fine, n_levels)
    return [
        {cid: int(group) for cid, group in zip(fine_ids, cuts[:, column], strict=True)}
        for column in range(cuts.shape[1])
    ]


def _unit_centroids(vectors: np.ndarray, labels: np.ndarray, fine_ids: list[int]) -> np.ndarray:
    """The unit-length mean vector of each fine cluster, rows in `fine_ids` order (float64)."""
    vectors = np.asarray(vectors, dtype=np.float64)
    centroids = np.stack([vectors[labels == cid].mean(axis=0) for cid in fine_ids])
    norms = np.linalg.norm(centroids, axis=1, keepdims=True)
    return centroids / np.where(norms > 0, norms, 1.0)


def _level(
    name: str,
    texts: Sequence[str],
    fine_labels: np.ndarray,
    group_of: dict[int, int],
    coarser: Level | None,
    namer: Namer,
) -> Level:
    """One named level from fine id -> group; ids renumbered biggest first (fine ids kept)."""
    if name == FINE:
        mapping = {cid: cid for cid in group_of}
    else:
        mapping = _renumber_by_size(fine_labels, group_of)
    lookup = {**mapping, NOISE: NOISE}
    labels = np.array([lookup[int(c)] for c in fine_labels], dtype=np.int64)
    ids, sizes = np.unique(labels, return_counts=True)
    parents = {}
    if coarser is not None:  # the level built just before this one
        coarse_of = {int(f): int(c) for f, c in zip(fine_labels, coarser.labels, strict=True)}
        parents = {int(cid): coarse_of[_first_fine(mapping, int(cid))] for cid in ids}
    return Level(
        name=name,
        labels=labels,
        names=namer(texts, labels),
        sizes={int(c): int(k) for c, k in zip(ids, sizes, strict=True)},
        parents=parents,
    )


def _first_fine(mapping: dict[int, int], cluster_id: int) -> int:
    """A fine id inside `cluster_id` (NOISE for NOISE)."""
    if cluster_id == NOISE:
        return NOISE
    return next(fine for fine, group in mapping.items() if group == cluster_id)


def _renumber_by_size(fine_labels: np.ndarray, group_of: dict[int, int]) -> dict[int, int]:
    """fine id -> group id with groups numbered by size (documents), biggest first; ties by
    their smallest fine id."""
    fine_sizes = {int(c): int((fine_labels == c).sum()) for c in group_of}
    members: dict[int, list[int]] = {}
    for fine, group in group_of.items():
        members.setdefault(group, []).append(fine)
    order = sorted(
        members, key=lambda g: (-sum(fine_sizes[f] for f in members[g]), min(members[g]))
    )
    new_id = {group: position for position, group in enumerate(order)}
    return {fine: new_id[group] for fine, group in group_of.items()}
