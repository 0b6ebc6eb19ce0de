"""Compare two embeddings of one corpus: where their neighbours agree, which separates a label
column better, and how to lay their maps out so shared structure sits in the same place.

Agreement is measured in full dimension (exact cosine neighbours), never on a map. Alignment
(`align_procrustes`) only rotates, reflects, scales and shifts the second map, so each map keeps
exactly the neighbours it had; `alignment_gap` says how well the two then line up.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lib.errors import ParameterError
from lib.measure.honesty import (
    check_k,
    check_points,
    check_same_length,
    map_knn,
    neighbor_overlap,
    true_knn,
)

logger = logging.getLogger(__name__)

AGREEMENT_K = 10
MIN_LABELLED = 2  # label recovery needs a labelled point and at least one labelled neighbour


@dataclass(frozen=True)
class Agreement:
    """How much two embeddings of the same documents agree on each document's neighbours.

    per_point: (n,) share in [0, 1] of its k true neighbours (cosine, full dimension) that both
    embeddings list; first_knn / second_knn: (n, k) int64 neighbour rows, nearest first.
    """

    k: int
    per_point: np.ndarray
    first_knn: np.ndarray
    second_knn: np.ndarray

    @property
    def mean(self) -> float:
        return float(self.per_point.mean())

    def shared(self, row: int) -> np.ndarray:
        """Rows among `row`'s neighbours under both embeddings, in the first one's order."""
        return self.first_knn[row][np.isin(self.first_knn[row], self.second_knn[row])]


def neighbor_agreement(
    first: np.ndarray,
    second: np.ndarray,
    k: int = AGREEMENT_K,
    *,
    first_knn: np.ndarray | None = None,
    second_knn: np.ndarray | None = None,
) -> Agreement:
    """Per document, the share of its k nearest neighbours two embeddings have in common.

    `first` (n, d1) and `second` (n, d2) hold the same n documents in the same order; their
    dimensions may differ (two models). `first_knn` / `second_knn` reuse computed graphs
    (itself excluded, nearest first, at least k columns).
    """
    owner = "neighbor_agreement"
    first_matrix = check_points(owner, "first", first)
    second_matrix = check_points(owner, "second", second)
    n = check_same_length(owner, first=first_matrix, second=second_matrix)
    k = check_k(owner, k, n)
    first_graph = true_knn(first_matrix, k, first_knn)
    second_graph = true_knn(second_matrix, k, second_knn)
    per_point = neighbor_overlap(first_graph, second_graph)
    logger.info("neighbour agreement at k=%d on %d documents: %.3f", k, n, per_point.mean())
    return Agreement(k, per_point, first_graph.astype(np.int64), second_graph.astype(np.int64))


# --- label recovery -------------------------------------------------------------------------------


@dataclass(frozen=True)
class LabelRecovery:
    """How well an embedding's neighbours recover a label column (leave-one-out k-NN vote).

    full / on_map: accuracy of the vote of each labelled document's k nearest labelled
    documents in full dimension and on the map (None without a map); baseline: the share of the
    most common label, what always guessing it scores. n_labelled: documents with a label.
    """

    k: int
    full: float
    on_map: float | None
    baseline: float
    n_labelled: int
    n_classes: int


def label_recovery(
    vectors: np.ndarray,
    labels: Sequence[object],
    coords: np.ndarray | None = None,
    k: int = AGREEMENT_K,
) -> LabelRecovery:
    """k-NN label accuracy of `vectors` (and of the map `coords`) beside the majority baseline.

    Documents without a label (None, NaN, blank) are left out, both as voters and as voted.
    """
    owner = "label_recovery"
    matrix = check_points(owner, "vectors", vectors)
    codes, n_classes = _label_codes(labels)
    check_same_length(owner, vectors=matrix, labels=codes)
    labelled = np.flatnonzero(codes >= 0)
    if len(labelled) <= MIN_LABELLED:
        raise ParameterError(
            f"{owner} needs more than {MIN_LABELLED} labelled documents; got {len(labelled)}."
        )
    k = check_k(owner, k, len(labelled))
    own = codes[labelled]
    full = knn_vote_accuracy(true_knn(matrix[labelled], k, None), own)
    on_map = None
    if coords is not None:
        points = check_points(owner, "coords", coords)
        check_same_length(owner, vectors=matrix, coords=points)
        on_map = knn_vote_accuracy(map_knn(points[labelled], k), own)
    baseline = float(np.bincount(own).max() / len(own))
    return LabelRecovery(k, full, on_map, baseline, len(labelled), n_classes)


def knn_vote_accuracy(knn: np.ndarray, codes: np.ndarray) -> float:
    """Share of rows whose neighbours' majority label (ties: the label of the nearest among the
    tied) equals their own; `knn` (n, k) rows into `codes` (n,) int labels, nearest first."""
    votes = codes[knn]
    n_classes = int(codes.max()) + 1
    counts = np.zeros((len(codes), n_classes), dtype=np.int64)
    np.add.at(counts, (np.repeat(np.arange(len(codes)), knn.shape[1]), votes.ravel()), 1)
    best = counts.max(axis=1, keepdims=True)
    tied = counts[np.arange(len(codes))[:, None], votes] == best  # (n, k): vote is a top label
    predicted = votes[np.arange(len(codes)), tied.argmax(axis=1)]
    return float((predicted == codes).mean())


def _label_codes(labels: Sequence[object]) -> tuple[np.ndarray, int]:
    """Integer codes of `labels` (-1 for missing ones) and the number of distinct labels."""
    series = pd.Series(list(labels), dtype=object)
    missing = series.isna() | (series.astype(str).str.strip() == "")
    codes, uniques = pd.factorize(series.where(~missing).astype(str).where(~missing))
    return np.where(missing, -1, codes).astype(np.int64), len(uniques)


# --- alignment ------------------------------------------------------------------------------------


def normalised(coords: np.ndarray) -> np.ndarray:
    """`coords` centred, scaled to unit root-mean-square distance from the centre."""
    points = check_points("normalised", "coords", coords)
    centred = points - points.mean(axis=0)
    scale = np.sqrt((centred**2).sum(axis=1).mean())
    return centred / (scale if scale > 0 else 1.0)


def alignment_gap(first: np.ndarray, second: np.ndarray) -> float:
    """Mean distance between each document's two positions, both maps `normalised` first.

    0 means the maps coincide; two unrelated maps of the same spread sit around 1.4.
    """
    first_points, second_points = _two_maps("alignment_gap", first=first, second=second)
    offsets = normalised(first_points) - normalised(second_points)
    return float(np.sqrt((offsets**2).sum(axis=1)).mean())


def align_procrustes(reference: np.ndarray, coords: np.ndarray) -> np.ndarray:
    """`coords` rotated (or reflected), scaled and shifted to lie closest to `reference`.

    Orthogonal Procrustes with scaling: distances within `coords` only grow or shrink together,
    so its neighbours on the map are exactly the ones it had. Returns float32 (n, d).
    """
    from scipy.linalg import orthogonal_procrustes

    target, points = _two_maps("align_procrustes", reference=reference, coords=coords)
    target_centre, points_centre = target.mean(axis=0), points.mean(axis=0)
    target_centred, points_centred = target - target_centre, points - points_centre
    rotation, singular_sum = orthogonal_procrustes(points_centred, target_centred)
    spread = (points_centred**2).sum()
    scale = singular_sum / spread if spread > 0 else 1.0
    return (scale * points_centred @ rotation + target_centre).astype(np.float32)


def _two_maps(owner: str, **maps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two maps of the same documents as float arrays with as many rows and dimensions."""
    (first_name, first), (second_name, second) = maps.items()
    first_points = check_points(owner, first_name, first)
    second_points = check_points(owner, second_name, second)
    check_same_length(owner, **{first_name: first_points, second_name: second_points})
    if first_points.shape[1] != second_points.shape[1]:
        raise ParameterError(
            f"{owner} needs maps with the same number of dimensions; got "
            f"{first_points.shape[1]} and {second_points.shape[1]}."
        )
    return first_points, second_points
