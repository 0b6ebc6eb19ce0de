"""lib.measure.compare against brute-force loops (agreement, label recovery), Procrustes alignment,
and the bundled multilingual model behind the TextModel protocol (targets on
data/multilingual.csv, model-marked)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lib.embed.models import (
    MULTILINGUAL_MODEL,
    MULTILINGUAL_MODEL_ID,
    available_models,
    embed_texts,
    load_model,
    model_id_for,
    model_max_tokens,
)
from lib.errors import ParameterError
from lib.measure.compare import (
    align_procrustes,
    alignment_gap,
    knn_vote_accuracy,
    label_recovery,
    neighbor_agreement,
    normalised,
)
from lib.measure.honesty import map_knn
from lib.reduce.neighbors import normalize_rows

DATA = Path(__file__).resolve().parent.parent / "data"


def _brute_neighbors(vectors: np.ndarray, row: int, k: int) -> list[int]:
    """The k rows most cosine-similar to `row` (itself excluded), ties by lower row, by loop."""
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    scores = [
        (-float(unit[row] @ unit[other]), other) for other in range(len(unit)) if other != row
    ]
    return [other for _, other in sorted(scores)[:k]]


def _random_unit(n: int, d: int, seed: int) -> np.ndarray:
    return normalize_rows(np.random.default_rng(seed).normal(size=(n, d)))


def test_agreement_matches_a_brute_force_loop():
    first = _random_unit(60, 12, 0)
    second = normalize_rows(first[:, :8] + 0.3 * _random_unit(60, 8, 1))  # related, other dim
    agreement = neighbor_agreement(first, second, k=10)
    expected = [
        len(set(_brute_neighbors(first, row, 10)) & set(_brute_neighbors(second, row, 10))) / 10
        for row in range(60)
    ]
    np.testing.assert_allclose(agreement.per_point, expected)
    assert agreement.mean == pytest.approx(np.mean(expected))
    assert 0.0 < agreement.mean < 1.0
    shared = agreement.shared(5)
    assert set(shared) == set(_brute_neighbors(first, 5, 10)) & set(_brute_neighbors(second, 5, 10))


def test_agreement_is_one_for_the_same_embedding_and_reuses_graphs():
    vectors = _random_unit(40, 6, 2)
    assert neighbor_agreement(vectors, vectors * 3.0, k=5).per_point.tolist() == [1.0] * 40
    graph = np.array([_brute_neighbors(vectors, row, 5) for row in range(40)])
    reused = neighbor_agreement(vectors, vectors, k=5, first_knn=graph, second_knn=graph[:, ::-1])
    assert reused.mean == 1.0  # same sets, other order


def test_agreement_rejects_mismatched_inputs():
    with pytest.raises(ParameterError, match="one row per point"):
        neighbor_agreement(_random_unit(10, 4, 0), _random_unit(11, 4, 0))
    with pytest.raises(ParameterError, match="'k' parameter of neighbor_agreement"):
        neighbor_agreement(_random_unit(10, 4, 0), _random_unit(10, 4, 1), k=10)


def _brute_vote_accuracy(knn: np.ndarray, labels: list[str]) -> float:
    """Majority of each row's neighbours' labels; a tie goes to the tied label met first."""
    hits = 0
    for row, neighbours in enumerate(knn):
        votes = [labels[other] for other in neighbours]
        counts = Counter(votes)
        top = max(counts.values())
        predicted = next(label for label in votes if counts[label] == top)
        hits += predicted == labels[row]
    return hits / len(knn)


def test_vote_accuracy_matches_a_brute_force_loop_with_ties():
    rng = np.random.default_rng(5)
    labels = [str(x) for x in rng.integers(0, 3, size=50)]
    knn = np.array([rng.choice([i for i in range(50) if i != row], 4, replace=False)
                    for row in range(50)])  # fmt: skip
    codes = pd.factorize(pd.Series(labels))[0]
    assert knn_vote_accuracy(knn, codes) == pytest.approx(_brute_vote_accuracy(knn, labels))


def test_label_recovery_full_and_map_beside_the_baseline(topic_vectors, topic_texts):
    labels = list(topic_texts[1])
    labels[0] = None  # unlabelled documents are left out
    labels[1] = "  "
    coords = np.random.default_rng(0).normal(size=(len(labels), 2))  # a map that knows nothing
    found = label_recovery(topic_vectors, labels, coords, k=10)
    kept = [row for row, label in enumerate(labels) if label not in (None, "  ")]
    kept_labels = [labels[row] for row in kept]
    local_knn = np.array(
        [_brute_neighbors(topic_vectors[kept], row, 10) for row in range(len(kept))]
    )
    assert found.n_labelled == len(kept) and found.n_classes == len(set(kept_labels))
    assert found.full == pytest.approx(_brute_vote_accuracy(local_knn, kept_labels))
    assert found.on_map == pytest.approx(
        _brute_vote_accuracy(map_knn(coords[kept], 10), kept_labels)
    )
    assert found.baseline == pytest.approx(max(Counter(kept_labels).values()) / len(kept))
    assert found.full > 0.9 > found.baseline and found.on_map < 0.6


def test_label_recovery_needs_labels():
    with pytest.raises(ParameterError, match="more than 2 labelled documents"):
        label_recovery(_random_unit(5, 3, 0), ["a", None, None, None, "b"])
    with pytest.raises(ParameterError, match="one row per point"):
        label_recovery(_random_unit(5, 3, 0), ["a", "b"])


def test_procrustes_keeps_neighbours_and_undoes_a_rotation():
    reference = np.random.default_rng(6).normal(size=(80, 2))
    angle = 1.1
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    moved = 3.0 * reference @ rotation + np.array([5.0, -2.0])
    moved[:, 0] *= -1  # a reflection too
    aligned = align_procrustes(reference, moved)
    np.testing.assert_allclose(aligned, reference, atol=1e-4)
    assert alignment_gap(reference, aligned) < 1e-4 < alignment_gap(reference, moved)
    noisy = moved + np.random.default_rng(7).normal(scale=0.5, size=moved.shape)
    np.testing.assert_array_equal(map_knn(align_procrustes(reference, noisy), 5), map_knn(noisy, 5))


def test_alignment_helpers_check_their_inputs():
    with pytest.raises(ParameterError, match="same number of dimensions"):
        align_procrustes(np.zeros((4, 2)), np.zeros((4, 3)))
    with pytest.raises(ParameterError, match="one row per point"):
        alignment_gap(np.zeros((4, 2)), np.zeros((5, 2)))
    points = normalised(np.random.default_rng(8).normal(size=(50, 2)) * 7 + 3)
    assert np.abs(points.mean(axis=0)).max() < 1e-9
    assert np.sqrt((points**2).sum(axis=1).mean()) == pytest.approx(1.0)


# --- the bundled multilingual model ----------------------------------------------------------


def test_model_registry_offers_the_multilingual_model_fp32_only():
    models = {info.name: info for info in available_models()}
    info = models[MULTILINGUAL_MODEL]
    assert info.model_id == MULTILINGUAL_MODEL_ID and info.precisions == ("fp32",)
    assert info.dimension == 512 and info.max_tokens is None and info.note
    assert model_id_for(MULTILINGUAL_MODEL, "bf16") == MULTILINGUAL_MODEL_ID
    assert model_max_tokens(MULTILINGUAL_MODEL) is None


@pytest.mark.model
def test_multilingual_model_groups_by_topic_not_language(monkeypatch):
    monkeypatch.setenv("EMBEDSCOPE_PRECISION", "bf16")  # asked for bf16: still fp32, plain id
    model = load_model(MULTILINGUAL_MODEL)
    assert model.model_id == MULTILINGUAL_MODEL_ID and "@" not in model.model_id
    frame = pd.read_csv(DATA / "multilingual.csv")
    vectors = embed_texts(frame["text"].tolist(), model, batch_size=64).vectors
    assert vectors.shape == (len(frame), 512)
    knn = np.array([_brute_neighbors(vectors, row, 10) for row in range(len(frame))])
    topic = frame["label"].to_numpy()
    language = frame["language"].to_numpy()
    assert (topic[knn] == topic[:, None]).mean() >= 0.78
    assert (language[knn] == language[:, None]).mean() <= 0.30
