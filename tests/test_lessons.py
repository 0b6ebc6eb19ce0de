"""Lesson computations, each compared with an independent recomputation (loops, scipy, numpy)."""

from __future__ import annotations

import itertools
import math
from collections import Counter

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from lib.errors import ParameterError, QueryError
from lib.query.words import WordVectors, load_glove
from lib.reduce.layouts import project_pca
from lib.teach import lessons
from lib.teach.lessons import (
    AnalogyBenchmark,
    RecoveryReport,
    SizeReport,
    analogy_axes,
    analogy_benchmark,
    label_recovery,
    load_negations,
    majority_share,
    opposite_pairs_report,
    placement_error,
    random_like,
    rank_agreement,
    recovery_report,
    seed_agreement,
    sizes_and_gaps,
)


@pytest.fixture(scope="module")
def glove() -> WordVectors:
    return load_glove()


def brute_label_recovery(points: np.ndarray, labels: list, k: int, metric: str) -> float:
    """kNN majority vote by a plain loop; ties go to the smallest label."""
    hits = 0
    for i in range(len(points)):
        if metric == "cosine":
            unit = points / np.linalg.norm(points, axis=1, keepdims=True)
            distances = [-(unit[i] @ unit[j]) for j in range(len(points))]
        else:
            distances = [np.linalg.norm(points[i] - points[j]) for j in range(len(points))]
        others = sorted((distances[j], j) for j in range(len(points)) if j != i)[:k]
        votes = Counter(labels[j] for _, j in others)
        top = max(votes.values())
        hits += min(label for label, count in votes.items() if count == top) == labels[i]
    return hits / len(points)


# Lesson 1


def test_rank_agreement_is_one_for_the_model_order_and_minus_one_reversed():
    similarity = np.array(
        [[1.0, 0.9, 0.2, 0.5], [0.9, 1.0, 0.1, 0.3], [0.2, 0.1, 1, 0.7], [0.5, 0.3, 0.7, 1]]
    )
    model_order = [(0, 1), (2, 3), (0, 3), (1, 3), (0, 2), (1, 2)]
    assert rank_agreement(model_order, similarity) == pytest.approx(1.0)
    assert rank_agreement(model_order[::-1], similarity) == pytest.approx(-1.0)


def test_rank_agreement_matches_the_spearman_formula():
    similarity = np.array(
        [[1.0, 0.9, 0.2, 0.5], [0.9, 1.0, 0.1, 0.3], [0.2, 0.1, 1, 0.7], [0.5, 0.3, 0.7, 1]]
    )
    guess = [(2, 3), (0, 1), (1, 2), (0, 3), (1, 3), (0, 2)]
    # model ranks (1 = most similar) of the guessed pairs, against guessed positions 1..6
    model_rank = {(0, 1): 1, (2, 3): 2, (0, 3): 3, (1, 3): 4, (0, 2): 5, (1, 2): 6}
    d2 = sum((position - model_rank[pair]) ** 2 for position, pair in enumerate(guess, 1))
    assert rank_agreement(guess, similarity) == pytest.approx(1 - 6 * d2 / (6 * (36 - 1)))


def test_rank_agreement_rejects_unusable_orders():
    similarity = np.eye(3)
    with pytest.raises(ParameterError, match="at least 2 sentence pairs"):
        rank_agreement([(0, 1)], similarity)
    with pytest.raises(ParameterError, match=r"two different sentences in \[0, 2\]; got \(1, 1\)"):
        rank_agreement([(0, 1), (1, 1)], similarity)
    with pytest.raises(ParameterError, match="only once"):
        rank_agreement([(0, 1), (1, 0)], similarity)
    with pytest.raises(ParameterError, match="equally similar"):
        rank_agreement([(0, 1), (1, 2)], similarity)


# Lesson 2


def test_placement_error_is_a_share_of_the_diagonal():
    coords = np.array([[0.0, 0.0], [3.0, 0.0], [1.0, 4.0]])  # a 3 x 4 box: diagonal 5
    assert placement_error([0, 0], [3, 4], coords) == pytest.approx(1.0)
    assert placement_error(np.array([1.0, 1.0]), np.array([1.0, 2.0]), coords) == pytest.approx(0.2)
    with pytest.raises(ParameterError, match="in the map's 2 dimensions"):
        placement_error([0, 0, 0], [1, 1], coords)
    with pytest.raises(ParameterError, match="no extent"):
        placement_error([0, 0], [1, 1], np.ones((3, 2)))


# Lesson 7


def test_seed_agreement_is_one_for_identical_and_rotated_maps():
    coords = np.random.default_rng(0).normal(size=(60, 2))
    np.testing.assert_array_equal(seed_agreement(coords, coords.copy(), k=5), 1.0)
    turn = np.array([[0.0, -1.0], [1.0, 0.0]])
    np.testing.assert_allclose(seed_agreement(coords, 3 * coords @ turn + 7, k=5), 1.0)


def test_seed_agreement_matches_a_loop_on_two_different_maps():
    rng = np.random.default_rng(1)
    first, second = rng.normal(size=(40, 2)), rng.normal(size=(40, 2))

    def knn(coords, i):
        return set(np.argsort(np.linalg.norm(coords - coords[i], axis=1))[1:5])

    expected = [len(knn(first, i) & knn(second, i)) / 4 for i in range(40)]
    np.testing.assert_allclose(seed_agreement(first, second, k=4), expected)
    with pytest.raises(ParameterError, match="Got 40 coords_a, 39 coords_b"):
        seed_agreement(first, second[:-1])


# Lesson 8 and 6


def test_label_recovery_matches_a_loop_in_both_spaces(topic_vectors, topic_texts):
    labels = topic_texts[1]
    coords = np.random.default_rng(2).normal(size=(240, 2))
    for points, metric in ((topic_vectors, "cosine"), (coords, "euclidean")):
        assert label_recovery(points, labels, 7, metric) == pytest.approx(
            brute_label_recovery(points, labels, 7, metric)
        )
    assert label_recovery(topic_vectors, labels, k=10) > 0.9


def test_a_tied_vote_goes_to_the_smallest_label():
    points = np.array([[0.0], [1.0], [-1.1], [5.0], [6.0], [7.0]])
    labels = ["a", "b", "a", "z", "z", "z"]
    # points 0 and 2 each see one "a" and one "b": the tie goes to "a", right for both (a vote
    # for "b", or for the nearest neighbour, would make one or both wrong); point 1 sees two "a"s.
    assert label_recovery(points, labels, k=2, metric="euclidean") == pytest.approx(
        brute_label_recovery(points, labels, 2, "euclidean")
    )
    assert label_recovery(points, labels, k=2, metric="euclidean") == pytest.approx(5 / 6)


def test_label_recovery_with_as_many_labels_as_points(topic_vectors):
    # every vote is a tie among distinct labels, none of them the point's own
    assert label_recovery(topic_vectors, list(range(240)), k=10) == 0.0
    assert majority_share(list(range(240))) == pytest.approx(1 / 240)


def test_majority_share():
    assert majority_share(["a", "b", "a", "c"]) == 0.5
    assert majority_share([3, 3, 3]) == 1.0
    with pytest.raises(ParameterError, match="1 labels are missing"):
        majority_share(["a", None])


def test_random_like_gives_seeded_unit_gaussian_rows(topic_vectors):
    random = random_like(topic_vectors, seed=4)
    assert random.shape == topic_vectors.shape
    assert random.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(random, axis=1), 1.0, atol=1e-6)
    np.testing.assert_array_equal(random, random_like(topic_vectors, seed=4))
    assert not np.allclose(random, random_like(topic_vectors, seed=5))
    with pytest.raises(ParameterError, match=r"2-D array \(n, d\); got shape \(3,\)"):
        random_like(np.zeros(3))


def test_random_vectors_recover_labels_at_the_baseline_rate():
    # 8 balanced labels x 150: accuracy has a standard deviation near 0.01 here; at 8 x 30 it is
    # about 0.024, too wide for a 0.03 bound to hold for every seed.
    labels = np.repeat(np.array(list("abcdefgh")), 150)
    random = random_like(np.zeros((1200, 32)), seed=0)
    assert majority_share(labels) == 0.125
    assert label_recovery(random, labels, k=10) == pytest.approx(0.125, abs=0.03)


def test_recovery_report_compares_full_dimension_with_the_map(topic_vectors, topic_texts):
    labels = topic_texts[1]
    coords = project_pca(topic_vectors).coords
    report = recovery_report(topic_vectors, coords, labels, k=10)
    assert report == RecoveryReport(
        full=label_recovery(topic_vectors, labels, 10, "cosine"),
        on_map=label_recovery(coords, labels, 10, "euclidean"),
        baseline=0.125,
        k=10,
    )
    assert report.full > 0.9
    assert report.baseline < report.on_map <= 1.0
    with pytest.raises(ParameterError, match="Got 240 vectors, 240 coords, 239 labels"):
        recovery_report(topic_vectors, coords, labels[:-1])


# Lesson 5


def brute_mean_pairwise(points: np.ndarray, metric: str) -> float:
    """Mean over pairs of distinct rows: cosine distance or euclidean distance, by a loop."""
    values = []
    for i, j in itertools.combinations(range(len(points)), 2):
        if metric == "cosine":
            cos = points[i] @ points[j] / np.linalg.norm(points[i]) / np.linalg.norm(points[j])
            values.append(1 - cos)
        else:
            values.append(np.linalg.norm(points[i] - points[j]))
    return float(np.mean(values))


@pytest.fixture(scope="module")
def three_groups() -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Tight, medium and wide clusters in 16-d; the map draws all three the same size."""
    rng = np.random.default_rng(5)
    centres = rng.normal(size=(3, 16))
    spreads = {"tight": 0.05, "medium": 0.3, "wide": 1.0}
    vectors, coords, groups = [], [], []
    for (name, spread), centre, place in zip(spreads.items(), centres, [0, 10, 30], strict=True):
        vectors.append(centre + spread * rng.normal(size=(40, 16)))
        coords.append(np.array([place, 0]) + rng.normal(size=(40, 2)))
        groups += [name] * 40
    return np.vstack(vectors), np.vstack(coords), groups


def test_sizes_and_gaps_equals_brute_force_loops(three_groups):
    vectors, coords, groups = three_groups
    report = sizes_and_gaps(vectors, coords, groups)
    assert isinstance(report, SizeReport)
    table = report.table.set_index("group")
    assert list(table.index) == ["medium", "tight", "wide"]
    assert table["count"].tolist() == [40, 40, 40]
    corpus_true = brute_mean_pairwise(vectors, "cosine")
    corpus_drawn = brute_mean_pairwise(coords, "euclidean")
    for name in ["medium", "tight", "wide"]:
        rows = [i for i, group in enumerate(groups) if group == name]
        true = brute_mean_pairwise(vectors[rows], "cosine") / corpus_true
        drawn = brute_mean_pairwise(coords[rows], "euclidean") / corpus_drawn
        # vectors are normalised in float32 as everywhere in lib: ~1e-7 on each cosine, which is
        # ~1e-5 relative on the tight group's small distances
        assert table.loc[name, "true_spread"] == pytest.approx(true, rel=1e-4)
        assert table.loc[name, "drawn_spread"] == pytest.approx(drawn, rel=1e-9)
        assert table.loc[name, "exaggeration"] == pytest.approx(drawn / true, rel=1e-4)
    # the sizes really differ, the map draws them alike: tight is exaggerated most
    assert table.loc["tight", "true_spread"] < table.loc["medium", "true_spread"]
    assert table.loc["medium", "true_spread"] < table.loc["wide", "true_spread"]
    assert table["exaggeration"].idxmax() == "tight"


def test_sizes_and_gaps_centre_distances_equal_a_loop(three_groups):
    vectors, coords, groups = three_groups
    report = sizes_and_gaps(vectors, coords, groups)
    names = ["medium", "tight", "wide"]
    members = {name: [i for i, g in enumerate(groups) if g == name] for name in names}
    true, drawn = [], []
    for first, second in itertools.combinations(names, 2):
        centre_a = (
            vectors[members[first]] / np.linalg.norm(vectors[members[first]], axis=1)[:, None]
        ).mean(0)
        centre_b = (
            vectors[members[second]] / np.linalg.norm(vectors[members[second]], axis=1)[:, None]
        ).mean(0)
        true.append(1 - centre_a @ centre_b / np.linalg.norm(centre_a) / np.linalg.norm(centre_b))
        drawn.append(
            np.linalg.norm(coords[members[first]].mean(0) - coords[members[second]].mean(0))
        )
    gaps = report.centre_distances
    assert list(zip(gaps["group_a"], gaps["group_b"], strict=True)) == list(
        itertools.combinations(names, 2)
    )
    np.testing.assert_allclose(gaps["true"], np.array(true) / np.mean(true), rtol=1e-5)
    np.testing.assert_allclose(gaps["drawn"], np.array(drawn) / np.mean(drawn), rtol=1e-9)
    assert report.gap_correlation == pytest.approx(spearmanr(true, drawn).statistic)
    assert report.spread_correlation == pytest.approx(
        spearmanr(report.table["true_spread"], report.table["drawn_spread"]).statistic
    )


def test_sizes_and_gaps_ranks_a_tight_and_a_wide_cluster_drawn_faithfully():
    rng = np.random.default_rng(8)
    centre = rng.normal(size=8)
    vectors = np.vstack(
        [centre + 0.05 * rng.normal(size=(30, 8)), -centre + rng.normal(size=(30, 8))]
    )
    coords = np.vstack([0.2 * rng.normal(size=(30, 2)), [10, 0] + 2 * rng.normal(size=(30, 2))])
    groups = ["tight"] * 30 + ["wide"] * 30
    table = sizes_and_gaps(vectors, coords, groups).table.set_index("group")
    assert table.loc["tight", "true_spread"] < table.loc["wide", "true_spread"]
    assert table.loc["tight", "drawn_spread"] < table.loc["wide", "drawn_spread"]


def test_sizes_and_gaps_samples_big_groups_with_a_seed(three_groups):
    vectors, coords, groups = three_groups
    sampled = sizes_and_gaps(vectors, coords, groups, max_points_per_group=25, seed=1)
    again = sizes_and_gaps(vectors, coords, groups, max_points_per_group=25, seed=1)
    exact = sizes_and_gaps(vectors, coords, groups)
    pd.testing.assert_frame_equal(sampled.table, again.table)
    # cosine spreads use every point; map spreads are estimates from 25 of 40 points
    np.testing.assert_allclose(sampled.table["true_spread"], exact.table["true_spread"])
    np.testing.assert_allclose(
        sampled.table["drawn_spread"], exact.table["drawn_spread"], rtol=0.15
    )
    assert not np.allclose(sampled.table["drawn_spread"], exact.table["drawn_spread"])


def test_sizes_and_gaps_single_point_groups_and_errors(three_groups):
    vectors, coords, groups = three_groups
    labels = ["solo", *groups[1:]]
    table = sizes_and_gaps(vectors, coords, labels).table.set_index("group")
    assert table.loc["solo", "count"] == 1
    assert math.isnan(table.loc["solo", "true_spread"])
    with pytest.raises(ParameterError, match="Got 120 vectors, 120 coords, 119 groups"):
        sizes_and_gaps(vectors, coords, groups[1:])
    with pytest.raises(ParameterError, match="at least 2 distinct points"):
        sizes_and_gaps(np.ones((4, 3)), np.zeros((4, 2)), ["a", "a", "b", "b"])
    with pytest.raises(ParameterError, match="every group is missing"):
        sizes_and_gaps(vectors, coords, [None] * 120)


def test_sizes_and_gaps_ranks_nothing_for_two_groups_and_says_how_many():
    """Defect 12: two groups have one gap and two spreads; a rank correlation of them is
    ±1 or undefined whatever the map does, so both are NaN, with the counts to explain why."""
    rng = np.random.default_rng(8)
    centre = rng.normal(size=8)
    vectors = np.vstack(
        [centre + 0.05 * rng.normal(size=(30, 8)), -centre + rng.normal(size=(30, 8))]
    )
    coords = np.vstack([0.2 * rng.normal(size=(30, 2)), [10, 0] + 2 * rng.normal(size=(30, 2))])
    report = sizes_and_gaps(vectors, coords, ["tight"] * 30 + ["wide"] * 30)
    assert math.isnan(report.spread_correlation) and math.isnan(report.gap_correlation)
    assert (report.spreads_measured, report.gaps_measured) == (2, 1)
    assert report.table["true_spread"].notna().all(), "the spreads themselves are defined"
    assert lessons.MIN_RANKED == 3


def test_sizes_and_gaps_ranks_from_three_groups_and_counts_measured_spreads(three_groups):
    vectors, coords, groups = three_groups
    report = sizes_and_gaps(vectors, coords, groups)
    assert (report.spreads_measured, report.gaps_measured) == (3, 3)
    assert not math.isnan(report.spread_correlation)
    with_solo = sizes_and_gaps(vectors, coords, ["solo", *groups[1:]])
    assert (with_solo.spreads_measured, with_solo.gaps_measured) == (3, 6)
    assert with_solo.spread_correlation == pytest.approx(
        spearmanr(
            with_solo.table["true_spread"].dropna(), with_solo.table["drawn_spread"].dropna()
        ).statistic
    )


def test_load_negations_reads_the_shipped_table():
    table = load_negations()
    assert tuple(table.columns) == ("sentence", "negation", "paraphrase")
    assert len(table) == 5
    assert table.iloc[0].tolist() == [
        "I love this movie",
        "I do not love this movie",
        "This film is one of my favourites",
    ]
    assert (table.apply(lambda column: column.str.len()) > 0).all().all()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("sentence,negation\na,b\n", "must have the columns sentence, negation, paraphrase"),
        ("sentence,negation,paraphrase\n", "must have 1 to 50 rows; got 0 instead"),
        ("sentence,negation,paraphrase\na,b,c\nd, ,f\n", "no blank cell; got one in row 2"),
    ],
)
def test_load_negations_refuses_malformed_tables(tmp_path, text, message):
    path = tmp_path / "negations.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ParameterError, match=message):
        load_negations(path)


def test_load_negations_refuses_too_many_rows(tmp_path):
    path = tmp_path / "negations.csv"
    rows = "".join(f"s{i},n{i},p{i}\n" for i in range(lessons.MAX_NEGATION_ROWS + 1))
    path.write_text("sentence,negation,paraphrase\n" + rows, encoding="utf-8")
    with pytest.raises(ParameterError, match=f"got {lessons.MAX_NEGATION_ROWS + 1} instead"):
        load_negations(path)


# Lesson 9 and 10


@pytest.fixture(scope="module")
def small_questions() -> pd.DataFrame:
    """The first three questions of every relation in the shipped benchmark (24 questions)."""
    questions = pd.read_csv("data/analogies.csv")
    return questions.groupby("relation", sort=False).head(3).reset_index(drop=True)


@pytest.fixture(scope="module")
def vectors64(glove) -> np.ndarray:
    return glove.vectors.astype(np.float64)


def loop_answers(glove: WordVectors, vectors: np.ndarray, question) -> tuple[str, str, str]:
    """Excluded, unrestricted and c-only answers of one question, in float64 one at a time."""
    a, b, c = (glove.index[question[name]] for name in ("a", "b", "c"))
    scores = vectors @ (vectors[b] - vectors[a] + vectors[c])
    unrestricted = int(np.argmax(scores))
    scores[[a, b, c]] = -np.inf
    c_scores = vectors @ vectors[c]
    c_scores[c] = -np.inf
    return (
        glove.words[int(np.argmax(scores))],
        glove.words[unrestricted],
        glove.words[int(np.argmax(c_scores))],
    )


def test_analogy_benchmark_equals_a_loop(monkeypatch, glove, vectors64, small_questions):
    monkeypatch.setattr(lessons, "ANALOGY_BATCH", 5)  # several batches, one partial
    result = analogy_benchmark(glove, small_questions)
    assert isinstance(result, AnalogyBenchmark)
    expected = [loop_answers(glove, vectors64, row) for _, row in small_questions.iterrows()]
    answers = result.per_question[["excluded", "unrestricted", "c_only"]]
    assert [tuple(row) for row in answers.itertuples(index=False)] == expected
    correct = pd.DataFrame(
        {
            method: [
                answer[i] == want
                for answer, want in zip(expected, small_questions["expected"], strict=True)
            ]
            for i, method in enumerate(["excluded_acc", "unrestricted_acc", "c_only_acc"])
        }
    )
    per_relation = result.per_relation.set_index("relation")
    assert list(per_relation.index) == list(small_questions["relation"].unique())
    assert per_relation["n"].tolist() == [3] * 8
    for relation, rows in small_questions.groupby("relation").groups.items():
        for column in correct.columns:
            assert per_relation.loc[relation, column] == pytest.approx(
                correct.loc[rows, column].mean()
            )
    assert result.overall == pytest.approx(
        {"n": 24.0} | {column: correct[column].mean() for column in correct.columns}
    )


def test_unrestricted_analogy_answers_the_input_king(glove, vectors64):
    question = pd.DataFrame(
        [{"relation": "gender", "a": "man", "b": "king", "c": "Woman", "expected": "queen"}]
    )
    answers = analogy_benchmark(glove, question).per_question.iloc[0]
    assert (answers["excluded"], answers["unrestricted"]) == ("queen", "king")
    assert (
        answers["c_only"]
        == loop_answers(glove, vectors64, {"a": "man", "b": "king", "c": "woman"})[2]
    )


def test_analogy_benchmark_rejects_bad_questions(glove, small_questions):
    with pytest.raises(ParameterError, match="missing: expected"):
        analogy_benchmark(glove, small_questions.drop(columns="expected"))
    with pytest.raises(ParameterError, match="no analogy questions"):
        analogy_benchmark(glove, small_questions.iloc[:0])
    broken = small_questions.copy()
    broken.loc[0, "c"] = "queeen"
    with pytest.raises(QueryError, match="'queeen' \\(did you mean queen"):
        analogy_benchmark(glove, broken)


def test_analogy_axes_are_cosines_with_the_offset_and_with_c(glove):
    axes = analogy_axes(glove, "man", "king", "woman", ["queen", "woman", "apple"])
    man, king, woman = (
        glove.vectors[glove.index[w]].astype(np.float64) for w in ("man", "king", "woman")
    )
    offset = (king - man) / np.linalg.norm(king - man)
    for word, x, y in axes.itertuples(index=False):
        vector = glove.vectors[glove.index[word]].astype(np.float64)
        assert x == pytest.approx(vector @ offset, abs=1e-6)
        assert y == pytest.approx(vector @ woman, abs=1e-6)
    assert axes.set_index("word").loc["woman", "y"] == pytest.approx(1.0, abs=1e-6)
    assert axes.set_index("word").loc["queen", "x"] > 0 > axes.set_index("word").loc["woman", "x"]
    with pytest.raises(QueryError, match="same word"):
        analogy_axes(glove, "man", "man", "woman", ["queen"])


def test_opposite_pairs_report_ranks_equal_a_count(glove, vectors64):
    report = opposite_pairs_report(glove, (("up", "down"), ("hot", "cold"), ("love", "hate")))
    assert list(report.columns) == ["first", "second", "cosine", "rank", "nearest"]
    for first, second, cosine, rank, nearest in report.itertuples(index=False):
        scores = vectors64 @ vectors64[glove.index[first]]
        scores[glove.index[first]] = -np.inf
        target = scores[glove.index[second]]
        assert cosine == pytest.approx(target, abs=1e-6)
        assert rank == int((scores > target).sum()) + 1
        assert nearest == glove.words[int(np.argmax(scores))]
    assert report.set_index("first").loc["up", "rank"] == 1
    assert report.set_index("first").loc["love", "rank"] > 10


def test_default_opposites_are_all_known_words(glove):
    report = opposite_pairs_report(glove)
    assert len(report) == len(lessons.OPPOSITES)
    assert report["rank"].min() == 1  # for some pairs the opposite is the nearest word of all
    assert report["cosine"].between(-1, 1).all()
    assert (
        report.loc[report["rank"] == 1, "second"] == report.loc[report["rank"] == 1, "nearest"]
    ).all()


def test_neighbor_label_share_matches_a_brute_force_loop():
    from lib.teach.lessons import neighbor_label_share

    rng = np.random.default_rng(4)
    vectors = rng.normal(size=(40, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    labels = [f"g{i % 3}" for i in range(40)]
    shares = []
    for i in range(40):
        scores = vectors @ vectors[i]
        scores[i] = -np.inf
        nearest = np.argsort(-scores, kind="stable")[:5]
        shares.append(np.mean([labels[j] == labels[i] for j in nearest]))
    assert neighbor_label_share(vectors, labels, k=5) == pytest.approx(np.mean(shares))
    with pytest.raises(ParameterError, match="labels must have one value per vector"):
        neighbor_label_share(vectors, labels[:-1])
