"""lib.teach.tour: the embedding glance and the cluster agreement score, checked by hand."""

import numpy as np
import pytest

from lib.errors import ParameterError
from lib.teach.tour import cluster_agreement, vector_summary


def test_vector_summary_counts_measures_and_cuts():
    summary = vector_summary(np.array([3.0, 4.0, 0.0, 12.0], dtype=np.float32), n=2)
    assert summary.dimension == 4
    assert summary.norm == pytest.approx(13.0)
    assert summary.first.tolist() == [3.0, 4.0]


def test_vector_summary_of_a_short_vector_shows_all_of_it():
    summary = vector_summary(np.array([0.6, -0.8]))
    assert summary.dimension == 2
    assert summary.norm == pytest.approx(1.0)
    assert summary.first.tolist() == [0.6, -0.8]


def test_vector_summary_copies_so_the_vector_stays_untouched():
    vector = np.array([1.0, 2.0, 3.0])
    vector_summary(vector).first[0] = 99.0
    assert vector[0] == 1.0


@pytest.mark.parametrize(
    "vector", [np.ones((2, 3)), np.array([]), np.array(["a", "b"])], ids=["2-D", "empty", "text"]
)
def test_vector_summary_rejects_what_is_not_one_vector(vector):
    with pytest.raises(ParameterError, match="non-empty 1-D array of numbers"):
        vector_summary(vector)


def test_vector_summary_rejects_a_zero_count():
    with pytest.raises(ParameterError, match=r"'n' parameter of vector_summary .* Got 0 instead"):
        vector_summary(np.ones(3), n=0)


def test_same_grouping_under_other_names_agrees_fully():
    labels = ["cooking", "cooking", "space", "space", "music", "music"]
    assert cluster_agreement(labels, [2, 2, 0, 0, 1, 1]) == pytest.approx(1.0)


def test_partial_agreement_matches_the_hand_computed_index():
    # Pairs together in both: 2; per label: 3 + 3 = 6; per cluster: 1 + 1 + 1 = 3; all pairs: 15.
    # Expected 6 * 3 / 15 = 1.2, maximum (6 + 3) / 2 = 4.5, so ARI = (2 - 1.2) / (4.5 - 1.2).
    labels = ["a", "a", "a", "b", "b", "b"]
    assert cluster_agreement(labels, [0, 0, 1, 1, 2, 2]) == pytest.approx(0.8 / 3.3)


def test_missing_labels_form_one_more_group():
    assert cluster_agreement(["a", None, "a", None], [5, 7, 5, 7]) == pytest.approx(1.0)
    assert cluster_agreement(["a", None, "a", None], [5, 5, 7, 7]) < 0


def test_cluster_agreement_needs_one_cluster_per_label():
    with pytest.raises(ParameterError, match="Got 3 labels and 2 clusters"):
        cluster_agreement(["a", "b", "c"], [0, 1])


def test_cluster_agreement_needs_two_points():
    with pytest.raises(ParameterError, match="at least 2 points"):
        cluster_agreement(["a"], [0])
