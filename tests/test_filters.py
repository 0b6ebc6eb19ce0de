"""Metadata filters: inferred kinds, the row mask they give, and their share-link form."""

import base64
import json
import zlib

import numpy as np
import pandas as pd
import pytest

from lib.errors import ParameterError
from lib.query.filters import (
    MAX_LINK_CHARS,
    MISSING,
    Filter,
    FilterColumn,
    applicable_filters,
    column_histogram,
    decode_filters,
    encode_filters,
    filter_mask,
    infer_filters,
)

DAY = "2023-12-31"


@pytest.fixture
def metadata() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "topic": pd.Series(["space", "food", "space", None, "sport", "food"], dtype="str"),
            "stars": [1, 2, 3, 1, 2, 3],
            "score": [0.5, 1.5, 2.5, 3.5, np.nan, 10.0],
            "when": ["2024-01-05", "2024-02-10", "2024-02-29", "2024-03-01T10:00Z", None, DAY],
            "stamp": pd.to_datetime(["2020-01-01"] * 3 + ["2021-06-01"] * 3),
            "same": ["x"] * 6,
            "free": [f"free text {i}" for i in range(6)],
        }
    )


def test_each_column_gets_the_filter_its_values_call_for(metadata):
    columns = {column.name: column for column in infer_filters(metadata)}
    assert columns["topic"] == FilterColumn(
        "topic", "categorical", values=("space", "food", MISSING, "sport")
    )
    assert columns["stars"].kind == "categorical"  # few distinct integers
    assert columns["score"] == FilterColumn("score", "numeric", low=0.5, high=10.0)
    assert columns["when"] == FilterColumn("when", "date", low="2023-12-31", high="2024-03-01")
    assert columns["stamp"].kind == "date"
    assert "same" not in columns  # one value: nothing to filter
    assert columns["free"].kind == "categorical"  # 6 distinct values, within the cap
    many = pd.DataFrame({"free": [f"t{i}" for i in range(200)], "n": range(200)})
    assert [(c.name, c.kind) for c in infer_filters(many)] == [("n", "numeric")]


def test_filters_give_the_rows_all_of_them_keep(metadata):
    topic = Filter("topic", "categorical", values=("space", MISSING))
    assert filter_mask(metadata, [topic]).tolist() == [1, 0, 1, 1, 0, 0]
    score = Filter("score", "numeric", low=1.0, high=3.5)
    assert filter_mask(metadata, [score]).tolist() == [0, 1, 1, 1, 0, 0]  # NaN never kept
    assert filter_mask(metadata, [topic, score]).tolist() == [0, 0, 1, 1, 0, 0]
    when = Filter("when", "date", low="2024-02-01", high="2024-03-01")  # inclusive days
    assert filter_mask(metadata, [when]).tolist() == [0, 1, 1, 1, 0, 0]
    open_ended = Filter("stamp", "date", low="2021-01-01")
    assert filter_mask(metadata, [open_ended]).tolist() == [0, 0, 0, 1, 1, 1]
    assert filter_mask(metadata, []).all()
    with pytest.raises(ParameterError, match="a column of the corpus"):
        filter_mask(metadata, [Filter("nope", "numeric", low=1)])


def test_filters_are_validated():
    with pytest.raises(ParameterError, match="'kind' parameter of Filter"):
        Filter("a", "fuzzy")
    with pytest.raises(ParameterError, match="finite number"):
        Filter("a", "numeric", low=float("nan"))
    with pytest.raises(ParameterError, match="ISO date"):
        Filter("a", "date", low="yesterday")
    with pytest.raises(ParameterError, match="at most high"):
        Filter("a", "date", low="2024-02-01", high="2024-01-01")
    with pytest.raises(ParameterError, match="at most 50 values"):
        Filter("a", "categorical", values=tuple(map(str, range(51))))


def test_filters_round_trip_through_a_short_link_string():
    chosen = (
        Filter("topic", "categorical", values=("space", "fööd & drink", MISSING)),
        Filter("score", "numeric", low=1.0, high=None),
        Filter("when", "date", low="2024-02-01", high="2024-03-01"),
    )
    text = encode_filters(chosen)
    assert text.replace("-", "").replace("_", "").isalnum() and len(text) < 200
    assert decode_filters(text) == chosen
    assert encode_filters(()) == "" and decode_filters("") == ()


def _packed(items) -> str:
    raw = zlib.compress(json.dumps(items).encode())
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x" * (MAX_LINK_CHARS + 1), f"at most {MAX_LINK_CHARS} characters"),
        ("not base64 at all!", "a filter string written by embedscope"),
        (_packed({"a": 1}), "a list of at most 20 filters"),
        (_packed([["a", "q", 1]]), r"\[column, kind, values\]"),
        (_packed([["a", "n", "low", 2]]), "valid filters"),
        (_packed([["a", "d", "2024-03-01", "2024-01-01"]]), "valid filters"),
        (_packed([["a", "c", ["x"]]] * 21), "at most 20 filters"),
        (base64.urlsafe_b64encode(zlib.compress(b"[" * 100_000)).decode(), "bytes unpacked"),
    ],
)
def test_a_malformed_or_oversized_link_is_refused_with_the_limit(text, message):
    with pytest.raises(ParameterError, match=message):
        decode_filters(text)


def test_only_filters_for_columns_of_the_same_kind_apply(metadata):
    columns = infer_filters(metadata)
    kept = Filter("score", "numeric", low=1.0)
    stale = (kept, Filter("score", "date", low="2024-01-01"), Filter("gone", "numeric", low=1))
    assert applicable_filters(stale, columns) == (kept,)


def test_histograms_count_rows_per_bin(metadata):
    columns = {column.name: column for column in infer_filters(metadata)}
    numeric = column_histogram(metadata, columns["score"], bins=5)
    assert numeric["count"].sum() == 5 and list(numeric.columns) == ["start", "count"]
    dates = column_histogram(metadata, columns["when"], bins=3)
    assert dates["count"].sum() == 5 and dates["start"].iloc[0] == pd.Timestamp("2023-12-31")
