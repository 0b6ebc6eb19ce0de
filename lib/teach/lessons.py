"""The computations behind the classroom lessons: one small function per number a lesson shows.

Every score is computed from the vectors and the map (numpy, scikit-learn, scipy); nothing here
draws or talks to Streamlit. Full-dimension comparisons use cosine on unit rows, map comparisons
euclidean distance on the coordinates, as the eye reads them.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from lib.errors import ParameterError, QueryError, check_choice, check_int
from lib.ingest.corpus import DATA_DIR
from lib.measure.honesty import check_k, check_points, check_same_length, map_knn, neighbor_overlap
from lib.query.words import WordVectors
from lib.reduce.neighbors import exact_knn, normalize_rows

LABEL_METRICS = ("cosine", "euclidean")
OVERALL_SAMPLE = 2000  # points sampled for the map's overall mean pairwise distance
QUESTION_COLUMNS = ("relation", "a", "b", "c", "expected")
ANALOGY_BATCH = 32  # questions per matrix product: 2 x 32 x 400,000 float32 scores = 100 MB
NEGATION_COLUMNS = ("sentence", "negation", "paraphrase")
NEGATIONS_FILE = DATA_DIR / "negations.csv"
ANALOGIES_FILE = DATA_DIR / "analogies.csv"
TRAPS_FILE = DATA_DIR / "similarity_traps.csv"
MAX_NEGATION_ROWS = 50
MIN_RANKED = 3  # a rank correlation of 2 values is always ±1: it needs 3 to say anything
OPPOSITES = (
    ("up", "down"),
    ("early", "late"),
    ("hot", "cold"),
    ("good", "bad"),
    ("big", "small"),
    ("rich", "poor"),
    ("love", "hate"),
    ("win", "lose"),
    ("buy", "sell"),
    ("north", "south"),
)


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman rank correlation; NaN when there are fewer than 2 values or one side is constant."""
    from scipy.stats import spearmanr

    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if len(x) < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan
    return float(spearmanr(x, y).statistic)


def _ranked_correlation(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman correlation of at least MIN_RANKED values, else NaN (see SizeReport)."""
    return _spearman(x, y) if len(x) >= MIN_RANKED else math.nan


def rank_agreement(guess_order: Sequence[tuple[int, int]], similarity: np.ndarray) -> float:
    """Lesson 1: Spearman correlation between the learner's order of pairs and their cosine order.

    `guess_order` lists sentence pairs (i, j), most similar first; `similarity` is the (m, m)
    cosine matrix of the sentences. 1 = the learner ordered them exactly as the model does.
    """
    matrix = np.asarray(similarity, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ParameterError(
            f"rank_agreement needs a square (m, m) similarity matrix; got shape {matrix.shape}."
        )
    pairs = [tuple(pair) for pair in guess_order]
    if len(pairs) < 2:
        raise ParameterError(f"Order at least 2 sentence pairs to compare; got {len(pairs)}.")
    for pair in pairs:
        if len(pair) != 2 or not all(0 <= i < len(matrix) for i in pair) or pair[0] == pair[1]:
            raise ParameterError(
                f"Each pair must name two different sentences in [0, {len(matrix) - 1}]; "
                f"got {pair}."
            )
    if len({frozenset(pair) for pair in pairs}) != len(pairs):
        raise ParameterError("Each sentence pair may appear only once in the order.")
    cosines = np.array([matrix[i, j] for i, j in pairs])
    rho = _spearman(-np.arange(len(pairs)), cosines)
    if math.isnan(rho):
        raise ParameterError("All these pairs are equally similar: there is no order to match.")
    return rho


def placement_error(guess_xy: np.ndarray, placed_xy: np.ndarray, coords: np.ndarray) -> float:
    """Lesson 2: distance from the learner's guess to the model's placement / the map's diagonal."""
    points = check_points("placement_error", "coords", coords)
    guess = np.asarray(guess_xy, dtype=np.float64).ravel()
    placed = np.asarray(placed_xy, dtype=np.float64).ravel()
    if not len(guess) == len(placed) == points.shape[1]:
        raise ParameterError(
            f"placement_error needs the guess ({len(guess)} values) and the placement "
            f"({len(placed)}) in the map's {points.shape[1]} dimensions."
        )
    diagonal = float(np.linalg.norm(np.ptp(points, axis=0)))
    if diagonal == 0:
        raise ParameterError(
            "The map has no extent (all points at one place); nothing to scale by."
        )
    return float(np.linalg.norm(guess - placed)) / diagonal


def seed_agreement(coords_a: np.ndarray, coords_b: np.ndarray, k: int = 10) -> np.ndarray:
    """Lesson 7: per point, the share of its k map neighbours that two maps agree on: (n,)."""
    first = check_points("seed_agreement", "coords_a", coords_a)
    second = check_points("seed_agreement", "coords_b", coords_b)
    n = check_same_length("seed_agreement", coords_a=first, coords_b=second)
    k = check_k("seed_agreement", k, n)
    return neighbor_overlap(map_knn(first, k), map_knn(second, k))


def _label_codes(owner: str, labels: Sequence) -> np.ndarray:
    """Integer codes (n,) of `labels` in sorted label order, so code order = label order."""
    series = pd.Series(list(labels), dtype=object)
    if series.isna().any():
        raise ParameterError(f"{owner}: {int(series.isna().sum())} labels are missing.")
    codes, _ = pd.factorize(series, sort=True)
    return codes


def label_recovery(
    points: np.ndarray, labels: Sequence, k: int = 10, metric: str = "cosine"
) -> float:
    """Lesson 8: how often the majority label of a point's k nearest (itself excluded) is its own.

    metric "cosine" for full-dimension vectors, "euclidean" for map coordinates. A tied vote
    goes to the smallest label (sorted order).
    """
    owner = "label_recovery"
    matrix = check_points(owner, "points", points)
    check_choice(owner, "metric", metric, LABEL_METRICS)
    codes = _label_codes(owner, labels)
    n = check_same_length(owner, points=matrix, labels=codes)
    k = check_k(owner, k, n)
    if metric == "cosine":
        neighbours = exact_knn(normalize_rows(matrix), k).indices
    else:
        neighbours = map_knn(matrix, k)
    return float((_majority_vote(codes[neighbours]) == codes).mean())


def _majority_vote(votes: np.ndarray) -> np.ndarray:
    """The most common code in each row of `votes` (n, k); ties go to the smallest code.

    O(n k^2) time and O(n k) memory, however many distinct labels there are.
    """
    ordered = np.sort(votes, axis=1)
    counts = np.stack([(ordered == ordered[:, [j]]).sum(axis=1) for j in range(votes.shape[1])], 1)
    # argmax takes the first of equal counts: in a sorted row, the smallest code
    return ordered[np.arange(len(votes)), counts.argmax(axis=1)]


def majority_share(labels: Sequence) -> float:
    """The baseline of label recovery: the share of the most common label."""
    codes = _label_codes("majority_share", labels)
    if len(codes) == 0:
        raise ParameterError("majority_share needs at least one label; got none.")
    return float(np.bincount(codes).max() / len(codes))


@dataclass(frozen=True)
class RecoveryReport:
    """Label recovery at `k` in full dimension, on the map, and the majority-label baseline."""

    full: float
    on_map: float
    baseline: float
    k: int


def recovery_report(
    vectors: np.ndarray, coords: np.ndarray, labels: Sequence, k: int = 10
) -> RecoveryReport:
    """Lesson 8: do labels survive the squeeze? kNN accuracy before and after mapping."""
    check_same_length("recovery_report", vectors=vectors, coords=coords, labels=labels)
    return RecoveryReport(
        full=label_recovery(vectors, labels, k, "cosine"),
        on_map=label_recovery(coords, labels, k, "euclidean"),
        baseline=majority_share(labels),
        k=k,
    )


def random_like(vectors: np.ndarray, seed: int = 0) -> np.ndarray:
    """Lesson 6: Gaussian random unit vectors (float32) of the same shape, structure removed."""
    shape = np.shape(vectors)
    if len(shape) != 2:
        raise ParameterError(f"random_like needs a 2-D array (n, d); got shape {shape}.")
    check_int("random_like", "seed", seed, 0)
    return normalize_rows(np.random.default_rng(seed).standard_normal(shape))


@dataclass(frozen=True)
class SizeReport:
    """Lesson 5: how big groups are and how far apart, really (full dimension) and as drawn.

    `table`, one row per group in sorted order: group, count, true_spread (mean pairwise cosine
    distance within the group / the corpus's), drawn_spread (mean pairwise map distance within
    the group / the map's), exaggeration (drawn / true). A spread of 1 means "as spread out as
    the whole corpus"; groups of one point have NaN spreads.
    `centre_distances`, one row per pair of groups: group_a, group_b, true (cosine distance of
    the normalised centroids / its mean over pairs), drawn (map distance of the centroids / its
    mean over pairs). `spread_correlation` and `gap_correlation` are the Spearman correlations
    of true with drawn: 1 = the map orders them faithfully. Each is NaN where it means nothing:
    with fewer than MIN_RANKED values (two groups have one gap, and two spreads are always in
    the same or the reverse order), or when one side has no spread of values.
    `spreads_measured`: groups with a spread (two or more members).
    """

    table: pd.DataFrame
    centre_distances: pd.DataFrame
    spread_correlation: float
    gap_correlation: float
    spreads_measured: int

    @property
    def gaps_measured(self) -> int:
        """Pairs of groups: the gaps the gap correlation orders."""
        return len(self.centre_distances)


def _mean_cosine_distance(unit: np.ndarray) -> float:
    """Exact mean of 1 - cos over pairs of distinct unit rows, from their sum (O(n d))."""
    n = len(unit)
    if n < 2:
        return math.nan
    total = unit.sum(axis=0)
    squared_norms = float(np.einsum("ij,ij->", unit, unit))
    return 1.0 - (float(total @ total) - squared_norms) / (n * (n - 1))


def _mean_map_distance(points: np.ndarray, limit: int, rng: np.random.Generator) -> float:
    """Mean euclidean distance over pairs of points, on a seeded sample of at most `limit`."""
    from scipy.spatial.distance import pdist

    if len(points) < 2:
        return math.nan
    if len(points) > limit:
        points = points[rng.choice(len(points), limit, replace=False)]
    return float(pdist(points).mean())


def sizes_and_gaps(
    vectors: np.ndarray,
    coords: np.ndarray,
    groups: Sequence,
    max_points_per_group: int = 300,
    seed: int = 0,
) -> SizeReport:
    """Lesson 5: true vs drawn size of each group and distance between groups.

    Cosine spreads and centroids use every point (exact, O(n d)); map spreads use a seeded
    sample of at most `max_points_per_group` points per group (OVERALL_SAMPLE for the map as a
    whole). Points whose group is missing count in the corpus totals only.
    """
    owner = "sizes_and_gaps"
    unit = normalize_rows(check_points(owner, "vectors", vectors)).astype(np.float64)
    points = check_points(owner, "coords", coords)
    labels = pd.Series(list(groups), dtype=object)
    check_same_length(owner, vectors=unit, coords=points, groups=labels)
    check_int(owner, "max_points_per_group", max_points_per_group, 2)
    check_int(owner, "seed", seed, 0)
    rng = np.random.default_rng(seed)
    corpus_true = _mean_cosine_distance(unit)
    corpus_drawn = _mean_map_distance(points, OVERALL_SAMPLE, rng)
    if not corpus_true > 0 or not corpus_drawn > 0:
        raise ParameterError(
            f"{owner} needs at least 2 distinct points, in full dimension and on the map."
        )
    known = labels.notna().to_numpy()
    if not known.any():
        raise ParameterError(f"{owner} needs a group for some points; every group is missing.")
    codes, names = pd.factorize(labels[known], sort=True)
    unit, points = unit[known], points[known]
    members = [np.flatnonzero(codes == code) for code in range(len(names))]
    table = pd.DataFrame(
        {
            "group": list(names),
            "count": [len(rows) for rows in members],
            "true_spread": [_mean_cosine_distance(unit[rows]) / corpus_true for rows in members],
            "drawn_spread": [
                _mean_map_distance(points[rows], max_points_per_group, rng) / corpus_drawn
                for rows in members
            ],
        }
    )
    table["exaggeration"] = table["drawn_spread"] / table["true_spread"]
    true_centres = normalize_rows(np.stack([unit[rows].mean(axis=0) for rows in members]))
    drawn_centres = np.stack([points[rows].mean(axis=0) for rows in members])
    centres = _centre_distances(list(names), true_centres, drawn_centres)
    measured = table["true_spread"].notna().to_numpy()
    return SizeReport(
        table=table,
        centre_distances=centres,
        spread_correlation=_ranked_correlation(
            table["true_spread"].to_numpy()[measured], table["drawn_spread"].to_numpy()[measured]
        ),
        gap_correlation=_ranked_correlation(
            centres["true"].to_numpy(), centres["drawn"].to_numpy()
        ),
        spreads_measured=int(measured.sum()),
    )


def _centre_distances(
    names: list, true_centres: np.ndarray, drawn_centres: np.ndarray
) -> pd.DataFrame:
    """Every pair of groups: centroid cosine distance and map distance, each over its mean."""
    first, second = np.triu_indices(len(names), k=1)
    true = 1.0 - np.einsum("ij,ij->i", true_centres[first], true_centres[second])
    drawn = np.linalg.norm(drawn_centres[first] - drawn_centres[second], axis=1)
    return pd.DataFrame(
        {
            "group_a": [names[i] for i in first],
            "group_b": [names[j] for j in second],
            "true": true / true.mean() if len(true) else true,
            "drawn": drawn / drawn.mean() if len(drawn) else drawn,
        }
    )


@dataclass(frozen=True)
class AnalogyBenchmark:
    """Lesson 9: analogy accuracy three ways.

    `per_relation`: relation, n, excluded_acc (3CosAdd, a b c skipped), unrestricted_acc
    (argmax over every word), c_only_acc (the nearest word to c alone, c skipped), in order of
    first appearance. `overall`: n and the three accuracies over every question.
    `per_question`: the questions with the word each method answered (excluded, unrestricted,
    c_only).
    """

    per_relation: pd.DataFrame
    overall: dict[str, float]
    per_question: pd.DataFrame


def _word_rows(words: WordVectors, column: pd.Series) -> np.ndarray:
    """Row ids of a column of words; every unknown word is named in one QueryError."""
    keys = column.astype(str).str.strip().str.lower().tolist()
    words.lookup(keys)
    return np.array([words.index[key] for key in keys], dtype=np.int64)


def analogy_benchmark(words: WordVectors, questions: pd.DataFrame) -> AnalogyBenchmark:
    """Lesson 9: answer every a : b :: c : ? question by 3CosAdd, unrestricted, and c-only.

    One matrix product per batch of ANALOGY_BATCH questions scores all words for both the
    3CosAdd target unit(b) - unit(a) + unit(c) (its length does not change the argmax) and c.
    """
    missing = [column for column in QUESTION_COLUMNS if column not in questions.columns]
    if missing:
        raise ParameterError(
            f"The analogy questions need columns {', '.join(QUESTION_COLUMNS)}; "
            f"missing: {', '.join(missing)}."
        )
    if questions.empty:
        raise ParameterError("There are no analogy questions to answer.")
    a, b, c, expected = (_word_rows(words, questions[name]) for name in QUESTION_COLUMNS[1:])
    answers = {"excluded": [], "unrestricted": [], "c_only": []}
    for start in range(0, len(a), ANALOGY_BATCH):
        batch = slice(start, start + ANALOGY_BATCH)
        rows = np.arange(len(a[batch]))
        targets = words.vectors[b[batch]] - words.vectors[a[batch]] + words.vectors[c[batch]]
        scores = np.vstack([targets, words.vectors[c[batch]]]) @ words.vectors.T
        analogy_scores, c_scores = scores[: len(rows)], scores[len(rows) :]
        answers["unrestricted"].append(analogy_scores.argmax(axis=1))
        for inputs in (a, b, c):
            analogy_scores[rows, inputs[batch]] = -np.inf
        c_scores[rows, c[batch]] = -np.inf
        answers["excluded"].append(analogy_scores.argmax(axis=1))
        answers["c_only"].append(c_scores.argmax(axis=1))
    per_question = questions.loc[:, list(QUESTION_COLUMNS)].reset_index(drop=True)
    correct = pd.DataFrame({"relation": per_question["relation"]})
    for method, batches in answers.items():
        chosen = np.concatenate(batches)
        per_question[method] = [words.words[row] for row in chosen]
        correct[f"{method}_acc"] = chosen == expected
    accuracy_columns = ["excluded_acc", "unrestricted_acc", "c_only_acc"]
    grouped = correct.groupby("relation", sort=False)
    per_relation = grouped[accuracy_columns].mean().reset_index()
    per_relation.insert(1, "n", grouped.size().to_numpy())
    overall = {"n": float(len(correct))} | {
        column: float(correct[column].mean()) for column in accuracy_columns
    }
    return AnalogyBenchmark(per_relation, overall, per_question)


def analogy_axes(
    words: WordVectors, a: str, b: str, c: str, candidates: Sequence[str]
) -> pd.DataFrame:
    """Lesson 9's two axes: per candidate word, x = cos(w, b - a) and y = cos(w, c)."""
    unit_a, unit_b, unit_c = words.lookup([a, b, c])
    offset = unit_b - unit_a
    length = float(np.linalg.norm(offset))
    if length == 0:
        raise QueryError(f"'{a}' and '{b}' are the same word, so b - a has no direction.")
    candidate_vectors = words.lookup(list(candidates))
    return pd.DataFrame(
        {
            "word": list(candidates),
            "x": (candidate_vectors @ (offset / length)).astype(np.float64),
            "y": (candidate_vectors @ unit_c).astype(np.float64),
        }
    )


def opposite_pairs_report(
    words: WordVectors, pairs: Sequence[tuple[str, str]] = OPPOSITES
) -> pd.DataFrame:
    """Lesson 10: opposites are close. Per pair: first, second, cosine, rank, nearest.

    rank is the opposite's place among the first word's neighbours (1 = nearest, the word itself
    excluded, ties counted in the opposite's favour); nearest is the first word's nearest word.
    """
    if not pairs:
        raise ParameterError("opposite_pairs_report needs at least one pair of words.")
    firsts = [first for first, _ in pairs]
    seconds = [second for _, second in pairs]
    first_rows = _word_rows(words, pd.Series(firsts))
    second_rows = _word_rows(words, pd.Series(seconds))
    scores = words.vectors[first_rows] @ words.vectors.T
    rows = np.arange(len(pairs))
    scores[rows, first_rows] = -np.inf
    cosines = scores[rows, second_rows]
    return pd.DataFrame(
        {
            "first": firsts,
            "second": seconds,
            "cosine": cosines.astype(np.float64),
            "rank": (scores > cosines[:, None]).sum(axis=1) + 1,
            "nearest": [words.words[row] for row in scores.argmax(axis=1)],
        }
    )


def load_analogies() -> pd.DataFrame:
    """data/analogies.csv: the analogy questions (a copy: callers may change it)."""
    return _bundled(ANALOGIES_FILE).copy()


def load_similarity_traps() -> pd.DataFrame:
    """data/similarity_traps.csv: sentence pairs that look alike or mean alike (a copy)."""
    return _bundled(TRAPS_FILE).copy()


@functools.cache
def _bundled(path: Path) -> pd.DataFrame:
    """A bundled CSV of ours, read once per process."""
    return pd.read_csv(path, keep_default_na=False)


def load_negations(path: str | Path = NEGATIONS_FILE) -> pd.DataFrame:
    """Lesson 10's sentences: each with its negation and a paraphrase (data/negations.csv).

    Checked on read: exactly the columns sentence, negation, paraphrase; 1 to MAX_NEGATION_ROWS
    rows; no blank cell.
    """
    table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    if tuple(table.columns) != NEGATION_COLUMNS:
        raise ParameterError(
            f"{Path(path).name} must have the columns {', '.join(NEGATION_COLUMNS)}; "
            f"got {', '.join(map(str, table.columns))} instead."
        )
    if not 1 <= len(table) <= MAX_NEGATION_ROWS:
        raise ParameterError(
            f"{Path(path).name} must have 1 to {MAX_NEGATION_ROWS} rows; got {len(table)} instead."
        )
    table = table.apply(lambda column: column.str.strip())
    blank = table.eq("").any(axis=1)
    if blank.any():
        raise ParameterError(
            f"{Path(path).name} must have no blank cell; got one in row "
            f"{int(np.flatnonzero(blank.to_numpy())[0]) + 1} instead."
        )
    return table


def neighbor_label_share(vectors: np.ndarray, labels: Sequence[object], k: int = 10) -> float:
    """The mean share of each row's k nearest neighbours (cosine, itself left out) that carry
    its label: what lesson 12 compares across models (chance: the label's frequency)."""
    values = np.asarray([str(label) for label in labels])
    if len(values) != len(vectors):
        raise ParameterError(
            f"neighbor_label_share labels must have one value per vector ({len(vectors)}); "
            f"got {len(values)} instead."
        )
    check_int("neighbor_label_share", "k", k, 1, len(vectors) - 1)
    rows = exact_knn(vectors, k).indices
    return float((values[rows] == values[:, None]).mean())
