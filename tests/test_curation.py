"""Curation: renames, merges and tags as a frozen value, applied to a clustering, saved as JSON."""

import json

import numpy as np
import pytest

from lib.errors import ParameterError
from lib.share.curation import (
    MAX_TAGS,
    Curation,
    apply_to_clusters,
    clustering_fingerprint,
    curation_from_dict,
    curation_to_dict,
    tag_column,
)

LABELS = np.array([0, 0, 1, 1, 2, 2, -1])
NAMES = {0: "rocket · orbit", 1: "garlic · oven", 2: "flour · sauce", -1: "unclustered"}


def test_renames_and_merges_give_new_labels_and_names():
    curation = Curation().for_clustering(LABELS).rename(0, " Space ").merge(2, into=1)
    curation = curation.rename(1, "Cooking")
    labels, names = apply_to_clusters(curation, LABELS, NAMES)
    assert labels.tolist() == [0, 0, 1, 1, 1, 1, -1]
    assert names == {0: "Space", 1: "Cooking", -1: "unclustered"}
    assert LABELS.tolist() == [0, 0, 1, 1, 2, 2, -1]  # the input is left alone
    assert apply_to_clusters(curation.rename(0, ""), LABELS, NAMES)[1][0] == "rocket · orbit"


def test_merges_chain_and_drop_the_merged_clusters_rename():
    curation = Curation().rename(0, "Space").merge(0, into=1).merge(1, into=2)
    assert curation.renames == ()
    labels, names = apply_to_clusters(curation, LABELS, NAMES)
    assert labels.tolist() == [2, 2, 2, 2, 2, 2, -1] and set(names) == {2, -1}


def test_renames_and_merges_of_another_clustering_are_not_applied():
    curation = Curation().for_clustering(LABELS).rename(0, "Space").tag("check", [1, 2])
    other = np.array([1, 1, 0, 0, 2, 2, -1])
    assert apply_to_clusters(curation, other, NAMES)[1] == NAMES
    moved = curation.for_clustering(other)
    assert moved.renames == () and moved.tags == curation.tags
    assert moved.fingerprint == clustering_fingerprint(other)
    assert curation.for_clustering(LABELS) is curation


def test_bad_edits_are_refused_with_the_rule():
    with pytest.raises(ParameterError, match="has no cluster 7; its clusters are -1, 0, 1, 2"):
        apply_to_clusters(Curation().merge(7, into=1), LABELS, NAMES)
    with pytest.raises(ParameterError, match="Cluster 1 is already called 'garlic · oven'"):
        apply_to_clusters(Curation().rename(0, "garlic · oven"), LABELS, NAMES)
    with pytest.raises(ParameterError, match="two different clusters"):
        Curation().merge(1, into=1)
    with pytest.raises(ParameterError, match="'merges' parameter of Curation must be an int"):
        Curation().merge(-1, into=1)
    with pytest.raises(ParameterError, match="at most 80 chars"):
        Curation().rename(0, "x" * 81)
    with pytest.raises(ParameterError, match="without ';'"):
        Curation().tag("a;b", [1])
    with pytest.raises(ParameterError, match="increasing row numbers from 0"):
        Curation().tag("t", [-3])
    many = Curation()
    for i in range(MAX_TAGS):
        many = many.tag(f"t{i}", [i])
    with pytest.raises(ParameterError, match=f"at most {MAX_TAGS} pairs"):
        many.tag("one more", [0])


def test_tags_become_a_column_in_the_order_made():
    curation = Curation().tag("check", [4, 1]).tag("keep", [1, 2]).tag("check", [6])
    assert tag_column(curation, 7).tolist() == ["", "check; keep", "keep", "", "check", "", "check"]
    assert curation.untag("check", [1, 4, 6]).tags == (("keep", (1, 2)),)
    assert curation.untag("keep").tags == (("check", (1, 4, 6)),)
    with pytest.raises(ParameterError, match=r"rows in the range \[0, 4\]"):
        tag_column(curation, 5)


def test_a_curation_round_trips_through_json():
    curation = (
        Curation().for_clustering(LABELS).rename(-1, "Misc").merge(2, into=0).tag("ok", [0, 3])
    )
    data = json.loads(json.dumps(curation_to_dict(curation)))
    assert curation_from_dict(data) == curation
    assert curation_from_dict({}) == Curation() == curation_from_dict(None)
    assert Curation().is_empty and not curation.is_empty


@pytest.mark.parametrize(
    "data",
    [
        {"format": 2},
        {"format": 1, "renames": [[0]]},
        {"format": 1, "renames": [["zero", "x"]]},
        {"format": 1, "tags": [["t", [3, 1]]]},
        {"format": 1, "tags": "t"},
        [1, 2],
    ],
)
def test_malformed_saved_curations_are_refused(data):
    with pytest.raises(ParameterError, match="must be"):
        curation_from_dict(data)
