"""Near-duplicate groups: planted copies are found, paraphrases at a lower threshold, no chains."""

import numpy as np
import pytest

from lib.errors import ParameterError
from lib.measure.duplicates import NONE, DuplicateParams, find_duplicates
from lib.reduce.neighbors import exact_knn, normalize_rows


def planted(n_free: int = 300, dimension: int = 64, seed: int = 0):
    """Random (near-orthogonal) rows plus planted groups of near-identical copies."""
    rng = np.random.default_rng(seed)
    vectors = list(rng.normal(size=(n_free, dimension)))
    groups = {}
    for size, source in ((2, 5), (3, 40), (25, 77)):  # 25 > the kNN's 16 candidates
        rows = [source]
        for _ in range(size - 1):
            rows.append(len(vectors))
            vectors.append(vectors[source] + rng.normal(scale=0.02, size=dimension))
        groups[source] = rows
    return normalize_rows(np.array(vectors)), groups


def test_planted_copies_form_exactly_their_groups():
    vectors, planted_groups = planted()
    found = find_duplicates(vectors, DuplicateParams(threshold=0.95))
    assert found.n_groups == 3 and found.n_grouped == 30 and found.n_removable == 27
    for source, rows in planted_groups.items():
        members = found.members(int(found.group[source]))
        assert sorted(members.tolist()) == sorted(rows)
        assert found.first[found.group[source]] == min(rows)  # the earliest row leads
    assert (found.group == NONE).sum() == len(vectors) - 30
    assert np.isnan(found.similarity[found.group == NONE]).all()
    assert (found.similarity[found.group != NONE] >= 0.95).all()
    assert found.summary().startswith("30 documents sit in 3 near-duplicate groups")


def test_the_deduplicated_rows_keep_one_per_group_and_every_other_row():
    vectors, planted_groups = planted()
    found = find_duplicates(vectors)
    keep = found.keep_rows()
    assert len(keep) == len(vectors) - found.n_removable
    assert np.all(np.diff(keep) > 0)
    for rows in planted_groups.values():
        assert np.isin(rows, keep).sum() == 1 and min(rows) in keep


def test_the_table_lists_groups_largest_first():
    vectors, _ = planted()
    texts = [f"doc {i}" for i in range(len(vectors))]
    table = find_duplicates(vectors).table(texts, preview=2)
    assert table["size"].tolist() == [25, 3, 2]
    assert table["first row"].tolist() == [77, 40, 5]
    assert table["texts"].iloc[2] == "doc 5 | doc 300"
    assert table["rows"].iloc[2] == (5, 300)


def test_groups_do_not_chain():
    # a path of rows, each 0.96 cosine to the next: pairs chain end to end, groups must not
    angles = np.arange(12) * np.arccos(0.96)
    vectors = np.stack([np.cos(angles), np.sin(angles)], axis=1).astype(np.float32)
    found = find_duplicates(vectors, DuplicateParams(threshold=0.95))
    for g in range(found.n_groups):
        members = vectors[found.members(g)]
        assert (members @ vectors[found.first[g]] >= 0.95 - 1e-6).all()
    assert found.n_groups >= 4  # 12 rows, each group at most 3 long (leader and its 2 sides)


def test_a_given_knn_is_reused_and_checked():
    vectors, _ = planted()
    neighbors = exact_knn(vectors, 5)
    assert find_duplicates(vectors, neighbors=neighbors).n_groups == 3
    with pytest.raises(ParameterError, match="one row per vector"):
        find_duplicates(vectors[:10], neighbors=neighbors)


@pytest.mark.parametrize("threshold", [0, -0.5, 1.01, True, "0.9"])
def test_the_threshold_must_be_in_0_1(threshold):
    message = r"'threshold' parameter of DuplicateParams must be a float in \(0, 1\]"
    with pytest.raises(ParameterError, match=message):
        DuplicateParams(threshold=threshold)


def test_tiny_corpora_have_no_groups():
    assert find_duplicates(np.ones((1, 4))).n_groups == 0
    assert find_duplicates(np.ones((2, 4))).n_groups == 1


BASE = [
    "The spacecraft reached orbit after a flawless launch from the coast.",
    "Simmer the tomato sauce with garlic for twenty minutes before serving.",
    "The striker scored twice in the second half to win the league title.",
    "Central banks raised interest rates again to fight persistent inflation.",
    "The band released a new album recorded live during their summer tour.",
    "A new vaccine cut hospital admissions sharply in the winter months.",
    "Heavy snow and strong wind are forecast for the mountains this weekend.",
    "The compiler crashed on a recursive function with a missing return type.",
]
PARAPHRASES = [
    "After a perfect launch from the coast, the spacecraft got into orbit.",
    "Before you serve it, let the tomato and garlic sauce simmer for 20 minutes.",
]


def test_the_real_model_groups_copies_and_case_changes_and_paraphrases_lower(real_model):
    texts = [*BASE, BASE[0].upper(), BASE[1].replace(",", "").rstrip("."), BASE[2], *PARAPHRASES]
    vectors = real_model.encode(texts)
    strict = find_duplicates(vectors, DuplicateParams(threshold=0.95))
    copies = {0: 8, 1: 9, 2: 10}
    assert strict.n_groups == 3 and strict.n_grouped == 6
    for source, copy in copies.items():
        assert strict.group[source] == strict.group[copy] != NONE
    loose = find_duplicates(vectors, DuplicateParams(threshold=0.75))
    assert loose.group[0] == loose.group[11] and loose.group[1] == loose.group[12]
    assert (loose.group[3:8] == NONE).all()  # distinct topics stay apart
