"""Concept axes: poles, projections (plain and orthogonal) and label separation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lib.errors import ParameterError
from lib.query.axes import axis_projection, axis_separation, pole_vector, split_prompts

DIM = 16


def unit(vector: np.ndarray) -> np.ndarray:
    return vector / np.linalg.norm(vector)


def cos(row: np.ndarray, pole: np.ndarray) -> float:
    return float(row @ pole / (np.linalg.norm(row) * np.linalg.norm(pole)))


@pytest.fixture
def docs() -> np.ndarray:
    """60 document vectors of varied length (the projection must use cosines, not dots)."""
    rng = np.random.default_rng(3)
    return rng.normal(size=(60, DIM)) * rng.uniform(0.5, 3.0, size=(60, 1))


@pytest.fixture
def poles() -> list[np.ndarray]:
    return [unit(row) for row in np.random.default_rng(4).normal(size=(4, DIM))]


def test_split_prompts():
    assert split_prompts("formal, polite, official") == ["formal", "polite", "official"]
    assert split_prompts(" calm,\n relaxed ,, calm\n") == ["calm", "relaxed"]
    assert split_prompts("one phrase, with words") == ["one phrase", "with words"]


@pytest.mark.parametrize("pole", ["", " , ,\n"])
def test_split_prompts_rejects_an_empty_pole(pole):
    with pytest.raises(ParameterError, match="A pole needs at least one prompt"):
        split_prompts(pole)


def test_pole_vector_is_the_normalised_mean_of_unit_rows():
    rows = np.array([[3.0, 0.0, 0.0], [0.0, 0.5, 0.0]])
    np.testing.assert_allclose(pole_vector(rows), [math.sqrt(0.5), math.sqrt(0.5), 0], atol=1e-6)
    np.testing.assert_allclose(pole_vector(np.array([0.0, 2.0, 0.0])), [0, 1, 0])


def test_pole_vector_rejects_empty_and_cancelling_prompts():
    with pytest.raises(ParameterError, match="at least one prompt vector"):
        pole_vector(np.empty((0, 3)))
    with pytest.raises(ParameterError, match="cancel out"):
        pole_vector(np.array([[1.0, 0.0], [-1.0, 0.0]]))


def test_projection_is_a_difference_of_cosines(docs, poles):
    a, b, c, d = poles
    projection = axis_projection(docs, a, b, c, d)
    expected = [[cos(row, a) - cos(row, b), cos(row, c) - cos(row, d)] for row in docs]
    assert projection.coords.dtype == np.float32
    np.testing.assert_allclose(projection.coords, expected, atol=1e-5)
    np.testing.assert_allclose(projection.x_direction, unit(a - b), atol=1e-6)
    np.testing.assert_allclose(projection.y_direction, unit(c - d), atol=1e-6)
    angle = math.degrees(math.acos(unit(a - b) @ unit(c - d)))
    assert projection.angle_degrees == pytest.approx(angle)
    assert projection.orthogonal is False


def test_orthogonal_projection_removes_the_x_component(docs, poles):
    a, b, c, d = poles
    plain = axis_projection(docs, a, b, c, d)
    projection = axis_projection(docs, a, b, c, d, orthogonal=True)
    x_hat, v = unit(a - b), c - d
    v_perp = v - (v @ x_hat) * x_hat
    assert float(projection.y_direction @ projection.x_direction) == pytest.approx(0, abs=1e-6)
    np.testing.assert_allclose(projection.y_direction, unit(v_perp), atol=1e-6)
    np.testing.assert_allclose(projection.coords[:, 0], plain.coords[:, 0])
    unit_docs = docs / np.linalg.norm(docs, axis=1, keepdims=True)
    explained = (v @ x_hat) * (unit_docs @ x_hat)
    np.testing.assert_allclose(projection.coords[:, 1], plain.coords[:, 1] - explained, atol=1e-5)
    scaled = np.linalg.norm(v_perp) * (unit_docs @ unit(v_perp))
    np.testing.assert_allclose(projection.coords[:, 1], scaled, atol=1e-5)
    assert projection.angle_degrees == pytest.approx(plain.angle_degrees)
    assert abs(projection.angle_degrees - 90) > 1


def test_orthogonal_changes_nothing_for_perpendicular_axes(docs):
    a, b, c, d = np.eye(DIM)[:4]
    plain = axis_projection(docs, a, b, c, d)
    projection = axis_projection(docs, a, b, c, d, orthogonal=True)
    assert plain.angle_degrees == pytest.approx(90)
    np.testing.assert_allclose(projection.coords, plain.coords)


def test_degenerate_axes_are_rejected(docs, poles):
    a, b, c, d = poles
    with pytest.raises(ParameterError, match=r"The x axis \(its two poles are the same\)"):
        axis_projection(docs, a, a, c, d)
    with pytest.raises(ParameterError, match="the axes are parallel"):
        axis_projection(docs, a, b, 2 * a, 2 * b, orthogonal=True)
    with pytest.raises(ParameterError, match="poles must be vectors of the documents' dimension"):
        axis_projection(docs, a[:5], b, c, d)


def pairwise_auc(values: np.ndarray, member: np.ndarray) -> float:
    """Probability that a member outranks a non-member (ties count half), by brute force."""
    wins = [
        1.0 if p > n else 0.5 if p == n else 0.0 for p in values[member] for n in values[~member]
    ]
    return float(np.mean(wins))


def test_separation_finds_the_label_along_the_axis():
    rng = np.random.default_rng(5)
    docs = rng.normal(size=(600, DIM))
    labels = np.array(["along", "other", "third"] * 200)
    docs[labels == "along", 0] += 10.0
    a, b, c, d = np.eye(DIM)[:4]
    x = axis_projection(docs, a, b, c, d).coords[:, 0]
    table = axis_separation(x, labels)
    assert list(table.columns) == ["label", "count", "mean", "auc"]
    assert table.loc[0, "label"] == "along"
    assert table.loc[0, "auc"] > 0.99
    assert table["count"].tolist() == [200, 200, 200]
    along = table.set_index("label").loc["along"]
    assert along["mean"] == pytest.approx(float(x[labels == "along"].mean()))
    for label, auc in zip(table["label"], table["auc"], strict=True):
        assert auc == pytest.approx(pairwise_auc(x, labels == label))

    shuffled = axis_separation(x, rng.permutation(labels))
    assert (shuffled["auc"] - 0.5).abs().max() < 0.06


def test_separation_sorts_by_strength_and_handles_edge_labels():
    values = np.array([0.1, 0.2, 0.3, 0.4, 0.9, 1.0])
    table = axis_separation(values, ["a", "a", None, "b", "c", "c"])
    assert table["label"].tolist() == ["a", "c", "b"]
    assert table["auc"].tolist() == pytest.approx([0.0, 1.0, 0.5])
    assert table["count"].tolist() == [2, 2, 1]
    single = axis_separation(values[:2], ["x", "x"])
    assert single["count"].tolist() == [2]
    assert math.isnan(single.loc[0, "auc"])


def test_separation_rejects_bad_input():
    with pytest.raises(ParameterError, match=r"one label per value\. Got 3 values and 2 labels"):
        axis_separation(np.zeros(3), ["a", "b"])
    with pytest.raises(ParameterError, match="NaN or infinity"):
        axis_separation(np.array([0.0, np.nan]), ["a", "b"])


def test_a_pole_has_bounded_prompts():
    from lib.query.axes import MAX_POLE_CHARS, MAX_PROMPTS

    with pytest.raises(ParameterError, match=f"at most {MAX_PROMPTS} prompts; got 11 instead"):
        split_prompts(", ".join(f"p{i}" for i in range(11)))
    with pytest.raises(ParameterError, match=f"at most {MAX_POLE_CHARS} characters; got 401"):
        split_prompts("x" * 401)
