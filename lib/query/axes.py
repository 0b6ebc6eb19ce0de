"""Concept axes: place documents on axes between prompt poles, and score how an axis splits labels.

Each pole (A, B, C, D) is the normalised mean of its prompts' unit vectors. A document's
coordinates are differences of cosines:

    x = cos(doc, A) - cos(doc, B) = unit(doc) · (A - B)
    y = cos(doc, C) - cos(doc, D) = unit(doc) · (C - D)

so x runs from about -2 (like B) to 2 (like A), with 0 where the document leans to neither pole.
Two axes between related concepts point in similar directions, so x and y are correlated and the
map is sheared. `orthogonal=True` removes from the y difference v = C - D its component along the
x direction x̂ = unit(A - B) (Gram–Schmidt):

    y = unit(doc) · (v - (v · x̂) x̂) = |v⊥| · (unit(doc) · ŷ)

that is, the projection onto the direction ŷ = unit(v⊥), kept in the units of a cosine difference:
y is the C-versus-D difference minus the part of it that the x axis already explains. When the two
differences are already perpendicular, both variants give the same y.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lib.errors import ParameterError

SEPARATION_COLUMNS = ["label", "count", "mean", "auc"]


@dataclass(frozen=True)
class AxisProjection:
    """`coords` (n, 2) float32 (x, y); the unit directions used; angle between the raw axes."""

    coords: np.ndarray
    x_direction: np.ndarray
    y_direction: np.ndarray
    orthogonal: bool
    angle_degrees: float


MAX_POLE_CHARS = 400
MAX_PROMPTS = 10


def split_prompts(pole: str) -> list[str]:
    """Split a pole's text on commas and new lines: "formal, polite" -> ["formal", "polite"].

    At most MAX_POLE_CHARS characters and MAX_PROMPTS prompts: each prompt is embedded (and
    cached), so a pole's cost stays bounded.
    """
    if len(pole) > MAX_POLE_CHARS:
        raise ParameterError(
            f"A pole must be at most {MAX_POLE_CHARS} characters; got {len(pole):,} instead."
        )
    prompts = [part.strip() for line in pole.splitlines() for part in line.split(",")]
    prompts = list(dict.fromkeys(prompt for prompt in prompts if prompt))
    if not prompts:
        raise ParameterError(
            f"A pole needs at least one prompt, e.g. 'formal, polite, official'. Got {pole!r}."
        )
    if len(prompts) > MAX_PROMPTS:
        raise ParameterError(
            f"A pole must have at most {MAX_PROMPTS} prompts; got {len(prompts)} instead."
        )
    return prompts


def _unit(vector: np.ndarray, what: str) -> np.ndarray:
    """`vector` scaled to length 1 (float64); ParameterError naming `what` if it is zero."""
    norm = float(np.linalg.norm(vector))
    if norm < 1e-9:
        raise ParameterError(f"{what} is the zero vector, so it has no direction.")
    return vector / norm


def pole_vector(pole_vectors: np.ndarray) -> np.ndarray:
    """One pole from its prompts' vectors (m, d) or (d,): the mean of unit rows, normalised."""
    rows = np.atleast_2d(np.asarray(pole_vectors, dtype=np.float64))
    if rows.shape[0] == 0:
        raise ParameterError("A pole needs at least one prompt vector. Got none.")
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    mean = (rows / np.where(norms == 0, 1, norms)).mean(axis=0)
    return _unit(mean, "The mean of this pole's prompts (they cancel out)").astype(np.float32)


def axis_projection(
    doc_vectors: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    c: np.ndarray,
    d: np.ndarray,
    *,
    orthogonal: bool = False,
) -> AxisProjection:
    """Documents (n, dim) on x = cos(doc, a) - cos(doc, b), y = cos(doc, c) - cos(doc, d).

    With orthogonal=True, y uses (c - d) minus its component along (a - b): see the module doc.
    """
    docs = np.asarray(doc_vectors)
    poles = [np.asarray(pole, dtype=np.float64).ravel() for pole in (a, b, c, d)]
    if docs.ndim != 2 or any(pole.shape != (docs.shape[1],) for pole in poles):
        raise ParameterError(
            f"The documents have shape {docs.shape} and the poles "
            f"{[pole.shape for pole in poles]}; poles must be vectors of the documents' "
            "dimension, from the same model."
        )
    unit_a, unit_b, unit_c, unit_d = (_unit(pole, "A pole") for pole in poles)
    x_raw, y_raw = unit_a - unit_b, unit_c - unit_d
    x_direction = _unit(x_raw, "The x axis (its two poles are the same)")
    y_direction = _unit(y_raw, "The y axis (its two poles are the same)")
    angle = math.degrees(math.acos(float(np.clip(x_direction @ y_direction, -1.0, 1.0))))
    if orthogonal:
        y_raw = y_raw - (y_raw @ x_direction) * x_direction
        y_direction = _unit(y_raw, "The y axis minus its x component (the axes are parallel)")
    norms = np.sqrt(np.einsum("ij,ij->i", docs, docs, dtype=np.float64))
    coords = (docs @ np.stack([x_raw, y_raw], axis=1)) / np.where(norms == 0, 1, norms)[:, None]
    return AxisProjection(
        coords=coords.astype(np.float32),
        x_direction=x_direction.astype(np.float32),
        y_direction=y_direction.astype(np.float32),
        orthogonal=orthogonal,
        angle_degrees=angle,
    )


def axis_separation(values: np.ndarray, labels: Sequence) -> pd.DataFrame:
    """Per label, ROC AUC of `values` for "this label vs the rest" (1 = label at the high end).

    Columns label, count, mean, auc; sorted by |auc - 0.5|, strongest first (ties: larger count,
    then first appearance). A label that every document carries has nothing to be told apart
    from: its auc is NaN. Missing labels (None, NaN) are skipped.
    """
    from sklearn.metrics import roc_auc_score

    values = np.asarray(values, dtype=np.float64).ravel()
    labels = pd.Series(labels, dtype=object).reset_index(drop=True)
    if len(values) != len(labels):
        raise ParameterError(
            f"axis_separation needs one label per value. Got {len(values)} values and "
            f"{len(labels)} labels."
        )
    if not np.isfinite(values).all():
        raise ParameterError("The axis values contain NaN or infinity; they must be finite.")
    known = labels.notna().to_numpy()
    values, labels = values[known], labels[known]
    rows = []
    for label in labels.unique():
        member = (labels == label).to_numpy()
        auc = roc_auc_score(member, values) if 0 < member.sum() < len(member) else math.nan
        rows.append((label, int(member.sum()), float(values[member].mean()), float(auc)))
    table = pd.DataFrame(rows, columns=SEPARATION_COLUMNS)
    strength = (table["auc"] - 0.5).abs().fillna(-1.0)
    order = np.lexsort((-table["count"].to_numpy(), -strength.to_numpy()))
    return table.iloc[order].reset_index(drop=True)
