"""Curation: a visitor's renamed and merged clusters and tagged documents, saved with a project.

A `Curation` is a frozen value; every edit returns a new one. Renames and merges belong to the
clustering they were made on (`fingerprint`, a hash of its labels): applied to a different
clustering they would name the wrong clusters, so `for_clustering` drops them there. Tags are
per document and outlive any clustering.

    curation = Curation().for_clustering(labels).rename(3, "Rockets").merge(5, into=2)
    curation = curation.tag("to check", selected_rows)
    labels, names = apply_to_clusters(curation, labels, names)
    tags = tag_column(curation, n)       # "to check; keep" per row ("" for none)

JSON (`curation_to_dict` / `curation_from_dict`) is what a project's meta.json keeps.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

import numpy as np

from lib.errors import ParameterError, check_int, invalid_parameter

MAX_NAME_CHARS = 80
MAX_TAG_CHARS = 40
MAX_TAGS = 32
MAX_EDITS = 400  # renames, and merges, each
MAX_ROWS = 50_000  # the app's cap on documents
TAG_SEPARATOR = "; "
FORMAT = 1
_NOISE = -1


@dataclass(frozen=True)
class Curation:
    """renames: (cluster id, new name) pairs, by id; merges: (cluster, into) pairs in the order
    made; tags: (tag, sorted rows) pairs in the order made; fingerprint: the clustering the
    renames and merges were made on ("" when there are none)."""

    renames: tuple[tuple[int, str], ...] = ()
    merges: tuple[tuple[int, int], ...] = ()
    tags: tuple[tuple[str, tuple[int, ...]], ...] = ()
    fingerprint: str = ""

    def __post_init__(self) -> None:
        _check_pairs("renames", self.renames)
        ids = [_cluster_id("renames", cluster, _NOISE) for cluster, _ in self.renames]
        if len(set(ids)) != len(ids) or ids != sorted(ids):
            raise invalid_parameter("Curation", "renames", "pairs with distinct ids, by id", ids)
        for _, name in self.renames:
            _check_name("name", name, MAX_NAME_CHARS)
        _check_pairs("merges", self.merges)
        for cluster, into in self.merges:
            _cluster_id("merges", cluster, 0)
            _cluster_id("merges", into, 0)
            if cluster == into:
                raise invalid_parameter("Curation", "merges", "two different clusters", cluster)
        _check_pairs("tags", self.tags, MAX_TAGS)
        names = [_check_name("tag", tag, MAX_TAG_CHARS) for tag, _ in self.tags]
        if len(set(names)) != len(names):
            raise invalid_parameter("Curation", "tags", "distinct tag names", names)
        for tag, rows in self.tags:
            _check_rows(tag, rows)
        if not isinstance(self.fingerprint, str) or len(self.fingerprint) > 64:
            raise invalid_parameter("Curation", "fingerprint", "a str", self.fingerprint)

    @property
    def is_empty(self) -> bool:
        return not (self.renames or self.merges or self.tags)

    def for_clustering(self, labels: np.ndarray) -> Curation:
        """This curation for the clustering `labels`: its renames and merges kept if they were
        made on it, dropped otherwise; the tags always kept."""
        fingerprint = clustering_fingerprint(labels)
        if fingerprint == self.fingerprint:
            return self
        return replace(self, renames=(), merges=(), fingerprint=fingerprint)

    def rename(self, cluster: int, name: str) -> Curation:
        """Call cluster `cluster` `name` (stripped); an empty name undoes a rename."""
        name = name.strip() if isinstance(name, str) else name
        kept = tuple(pair for pair in self.renames if pair[0] != cluster)
        if name == "":
            return replace(self, renames=kept)
        return replace(self, renames=tuple(sorted((*kept, (cluster, name)))))

    def merge(self, cluster: int, *, into: int) -> Curation:
        """Move every document of cluster `cluster` into cluster `into` (its rename dropped)."""
        renames = tuple(pair for pair in self.renames if pair[0] != cluster)
        return replace(self, renames=renames, merges=(*self.merges, (cluster, into)))

    def tag(self, name: str, rows: Iterable[int]) -> Curation:
        """Add `rows` to the tag `name` (a new tag goes last)."""
        name = name.strip() if isinstance(name, str) else name
        new = {int(row) for row in rows}
        tags = dict(self.tags)
        tags[name] = tuple(sorted(set(tags.get(name, ())) | new))
        return replace(self, tags=tuple(tags.items()))

    def untag(self, name: str, rows: Iterable[int] | None = None) -> Curation:
        """Remove `rows` from tag `name` (all of them, and the tag, when rows is None)."""
        tags = dict(self.tags)
        if name in tags and rows is not None:
            tags[name] = tuple(sorted(set(tags[name]) - {int(row) for row in rows}))
        if rows is None or not tags.get(name, True):
            tags.pop(name, None)
        return replace(self, tags=tuple(tags.items()))

    def check_rows(self, n: int) -> None:
        """Raise unless every tagged row is a row of an n-document corpus."""
        for tag, rows in self.tags:
            if rows and rows[-1] >= n:
                raise invalid_parameter(
                    "Curation", f"tags[{tag!r}]", f"rows in the range [0, {n - 1}]", rows[-1]
                )


def clustering_fingerprint(labels: np.ndarray) -> str:
    """A short hash of cluster labels: which clustering renames and merges were made on."""
    data = np.ascontiguousarray(np.asarray(labels, dtype=np.int64)).tobytes()
    return hashlib.sha256(data).hexdigest()[:16]


def apply_to_clusters(
    curation: Curation, labels: np.ndarray, names: Mapping[int, str]
) -> tuple[np.ndarray, dict[int, str]]:
    """New labels (n,) and names with the merges, then the renames, applied (a copy).

    Renames and merges made on another clustering (see `for_clustering`) are not applied.
    Raises ParameterError for a cluster id the clustering does not have, or for a rename to a
    name another cluster has.
    """
    labels = np.array(labels, dtype=np.int64)
    names = {int(key): str(value) for key, value in names.items()}
    if curation.fingerprint and curation.fingerprint != clustering_fingerprint(labels):
        return labels, names
    for cluster, into in curation.merges:
        _known(names, cluster, into)
        labels[labels == cluster] = into
        names.pop(cluster)
    for cluster, name in curation.renames:
        _known(names, cluster)
        taken = {value: key for key, value in names.items() if key != cluster}
        if name in taken:
            raise ParameterError(
                f"Cluster {taken[name]} is already called {name!r}; choose another name, or "
                "merge the two clusters."
            )
        names[cluster] = name
    return labels, names


def tag_column(curation: Curation, n: int) -> np.ndarray:
    """(n,) object: each row's tags joined by TAG_SEPARATOR in the order made, "" for none."""
    check_int("tag_column", "n", n, 0)
    curation.check_rows(n)
    column = [[] for _ in range(n)]
    for tag, rows in curation.tags:
        for row in rows:
            column[row].append(tag)
    return np.array([TAG_SEPARATOR.join(tags) for tags in column], dtype=object)


def curation_to_dict(curation: Curation) -> dict:
    """JSON-able data (for meta.json)."""
    return {
        "format": FORMAT,
        "fingerprint": curation.fingerprint,
        "renames": [[cluster, name] for cluster, name in curation.renames],
        "merges": [[cluster, into] for cluster, into in curation.merges],
        "tags": [[tag, list(rows)] for tag, rows in curation.tags],
    }


def curation_from_dict(data: object) -> Curation:
    """The curation `curation_to_dict` wrote (validated); {} or None gives an empty one."""
    if not data:
        return Curation()
    if not isinstance(data, Mapping) or data.get("format") != FORMAT:
        raise invalid_parameter("curation_from_dict", "data", f"curation format {FORMAT}", data)
    try:
        return Curation(
            renames=tuple((cluster, name) for cluster, name in data.get("renames", [])),
            merges=tuple((cluster, into) for cluster, into in data.get("merges", [])),
            tags=tuple((tag, tuple(rows)) for tag, rows in data.get("tags", [])),
            fingerprint=data.get("fingerprint", ""),
        )
    except (TypeError, ValueError) as error:
        if isinstance(error, ParameterError):
            raise
        raise invalid_parameter(
            "curation_from_dict", "data", "pairs written by curation_to_dict", str(error)
        ) from None


def _check_pairs(name: str, pairs: object, limit: int = MAX_EDITS) -> None:
    if not isinstance(pairs, tuple) or len(pairs) > limit:
        raise invalid_parameter("Curation", name, f"a tuple of at most {limit} pairs", pairs)
    for pair in pairs:
        if not isinstance(pair, tuple) or len(pair) != 2:
            raise invalid_parameter("Curation", name, "a tuple of pairs", pair)


def _cluster_id(name: str, value: object, low: int) -> int:
    return check_int("Curation", name, value, low, 10_000)


def _check_name(what: str, value: object, limit: int) -> str:
    bad = not isinstance(value, str) or not value.strip() or value != value.strip()
    if bad or len(value) > limit or any(ch in value for ch in ";\n\r\t"):
        raise invalid_parameter(
            "Curation",
            what,
            f"a stripped, non-blank str of at most {limit} chars without ';' or line breaks",
            value,
        )
    return value


def _check_rows(tag: str, rows: object) -> None:
    if not isinstance(rows, tuple) or len(rows) > MAX_ROWS:
        raise invalid_parameter(
            "Curation", f"tags[{tag!r}]", f"a tuple of at most {MAX_ROWS} rows", type(rows)
        )
    previous = -1
    for row in rows:
        if isinstance(row, bool) or not isinstance(row, int | np.integer) or row <= previous:
            raise invalid_parameter(
                "Curation", f"tags[{tag!r}]", "increasing row numbers from 0", row
            )
        previous = row


def _known(names: Mapping[int, str], *clusters: int) -> None:
    missing = [cluster for cluster in clusters if cluster not in names]
    if missing:
        raise ParameterError(
            f"This clustering has no cluster {missing[0]}; its clusters are "
            f"{', '.join(map(str, sorted(names)))}."
        )
