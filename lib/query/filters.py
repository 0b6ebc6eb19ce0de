"""Metadata filters: which columns can filter a corpus, a row mask from chosen values, and a
compact, validated string that keeps the chosen values in a share link.

A column filters as
- "categorical" (a multiselect): text or bool columns with at most MAX_CATEGORIES distinct
  values, and integer columns with at most MAX_INTEGER_CATEGORIES;
- "numeric" (a range): other numeric columns;
- "date" (a date range): datetime columns, and text columns whose values are ISO dates
  ("2024-03-01", "2024-03-01T12:00:00Z").
Columns with one distinct value, or free text, do not filter.

Share-link form (`encode_filters`): compact JSON, zlib, URL-safe base64 without padding;
`decode_filters` refuses anything longer than MAX_LINK_CHARS, inflating past MAX_JSON_BYTES or
not of the expected shape, with a message naming the limit.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lib.errors import ParameterError, check_choice, check_int, invalid_parameter

CATEGORICAL, NUMERIC, DATE = "categorical", "numeric", "date"
KINDS = (CATEGORICAL, NUMERIC, DATE)
MAX_CATEGORIES = 50
MAX_INTEGER_CATEGORIES = 10
MISSING = "(missing)"  # how a categorical filter names an empty cell
MAX_FILTERS = 20
MAX_VALUE_CHARS = 200
MAX_LINK_CHARS = 2_000
MAX_JSON_BYTES = 16_384
DATE_SHARE = 0.9  # a text column is dates when this share of its filled cells parse as ISO dates
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?")
_KIND_CODES = {CATEGORICAL: "c", NUMERIC: "n", DATE: "d"}


@dataclass(frozen=True)
class FilterColumn:
    """A column that can filter: its kind, its values (categorical, by count, most first) or
    its range (numeric: floats; date: ISO day strings)."""

    name: str
    kind: str
    values: tuple[str, ...] = ()
    low: float | str | None = None
    high: float | str | None = None


@dataclass(frozen=True)
class Filter:
    """One chosen filter: `values` kept (categorical) or the inclusive range [low, high]
    (numeric: floats; date: ISO days "YYYY-MM-DD", either end may be None for open)."""

    column: str
    kind: str
    values: tuple[str, ...] = ()
    low: float | str | None = None
    high: float | str | None = None

    def __post_init__(self) -> None:
        _check_text("Filter", "column", self.column)
        check_choice("Filter", "kind", self.kind, KINDS)
        if self.kind == CATEGORICAL:
            if not isinstance(self.values, tuple) or len(self.values) > MAX_CATEGORIES:
                raise invalid_parameter(
                    "Filter", "values", f"a tuple of at most {MAX_CATEGORIES} values", self.values
                )
            for value in self.values:
                _check_text("Filter", "values", value)
        elif self.kind == NUMERIC:
            for name in ("low", "high"):
                value = getattr(self, name)
                if value is not None and (
                    isinstance(value, bool)
                    or not isinstance(value, int | float)
                    or not math.isfinite(value)
                ):
                    raise invalid_parameter("Filter", name, "a finite number or None", value)
        else:
            for name in ("low", "high"):
                value = getattr(self, name)
                if value is not None and _day(value) is None:
                    raise invalid_parameter("Filter", name, "an ISO date 'YYYY-MM-DD'", value)
        ranged = self.kind != CATEGORICAL and None not in (self.low, self.high)
        if ranged and _order(self.kind, self.low) > _order(self.kind, self.high):
            raise invalid_parameter("Filter", "low", f"at most high ({self.high!r})", self.low)


def infer_filters(metadata: pd.DataFrame) -> tuple[FilterColumn, ...]:
    """Every column of `metadata` that can filter, in column order."""
    found = (_infer_column(str(name), metadata[name]) for name in metadata.columns)
    return tuple(column for column in found if column is not None)


def filter_mask(metadata: pd.DataFrame, filters: Iterable[Filter]) -> np.ndarray:
    """(n,) bool: the rows every filter keeps (all rows when there are none)."""
    keep = np.ones(len(metadata), dtype=bool)
    for chosen in filters:
        if chosen.column not in metadata.columns:
            raise invalid_parameter(
                "filter_mask", "column", "a column of the corpus", chosen.column
            )
        keep &= _keeps(metadata[chosen.column], chosen)
    return keep


def applicable_filters(
    filters: Iterable[Filter], columns: Iterable[FilterColumn]
) -> tuple[Filter, ...]:
    """The filters whose column exists with the same kind (a link made for another corpus)."""
    kinds = {column.name: column.kind for column in columns}
    return tuple(chosen for chosen in filters if kinds.get(chosen.column) == chosen.kind)


def encode_filters(filters: Iterable[Filter]) -> str:
    """The share-link form of `filters` ("" for none); at most MAX_LINK_CHARS characters."""
    items = [_to_item(chosen) for chosen in filters]
    if not items:
        return ""
    if len(items) > MAX_FILTERS:
        raise invalid_parameter(
            "encode_filters", "filters", f"at most {MAX_FILTERS} filters", len(items)
        )
    raw = json.dumps(items, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text = base64.urlsafe_b64encode(zlib.compress(raw, 9)).decode("ascii").rstrip("=")
    if len(text) > MAX_LINK_CHARS:
        raise invalid_parameter(
            "encode_filters",
            "filters",
            f"at most {MAX_LINK_CHARS} characters in a link",
            f"{len(text)} characters",
        )
    return text


def decode_filters(text: object) -> tuple[Filter, ...]:
    """The filters of a share link's value; ParameterError when it is not one we wrote."""
    if text in ("", None):
        return ()
    if not isinstance(text, str) or len(text) > MAX_LINK_CHARS:
        size = f"{len(text)} characters" if isinstance(text, str) else text
        raise _bad_link(f"a str of at most {MAX_LINK_CHARS} characters", size)
    try:
        packed = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        inflater = zlib.decompressobj()
        raw = inflater.decompress(packed, MAX_JSON_BYTES + 1)
        if len(raw) > MAX_JSON_BYTES or inflater.unconsumed_tail:
            raise _bad_link(f"at most {MAX_JSON_BYTES} bytes unpacked", "more")
        items = json.loads(raw.decode("utf-8"))
    except (binascii.Error, zlib.error, UnicodeDecodeError, ValueError) as error:
        if isinstance(error, ParameterError):
            raise
        raise _bad_link("a filter string written by embedscope", text[:40]) from None
    if not isinstance(items, list) or len(items) > MAX_FILTERS:
        raise _bad_link(f"a list of at most {MAX_FILTERS} filters", type(items).__name__)
    return tuple(_from_item(item) for item in items)


def _bad_link(accepted: str, got: object) -> ParameterError:
    return invalid_parameter("the share link", "filters", accepted, got)


def _to_item(chosen: Filter) -> list:
    code = _KIND_CODES[chosen.kind]
    if chosen.kind == CATEGORICAL:
        return [chosen.column, code, list(chosen.values)]
    return [chosen.column, code, chosen.low, chosen.high]


def _from_item(item: object) -> Filter:
    kinds = {code: kind for kind, code in _KIND_CODES.items()}
    if not isinstance(item, list) or len(item) not in (3, 4) or item[1] not in kinds:
        raise _bad_link("[column, kind, values] or [column, kind, low, high]", item)
    kind = kinds[item[1]]
    try:
        if kind == CATEGORICAL and len(item) == 3 and isinstance(item[2], list):
            return Filter(item[0], kind, values=tuple(item[2]))
        if kind != CATEGORICAL and len(item) == 4:
            return Filter(item[0], kind, low=item[2], high=item[3])
    except ParameterError as error:
        raise _bad_link("valid filters", str(error)) from None
    raise _bad_link("[column, kind, values] or [column, kind, low, high]", item)


def _check_text(owner: str, name: str, value: object) -> None:
    if not isinstance(value, str) or len(value) > MAX_VALUE_CHARS:
        raise invalid_parameter(owner, name, f"a str of at most {MAX_VALUE_CHARS} chars", value)


def _infer_column(name: str, column: pd.Series) -> FilterColumn | None:
    filled = column.dropna()
    if filled.nunique() < 2:
        return None
    if pd.api.types.is_bool_dtype(column) or (
        pd.api.types.is_integer_dtype(column) and filled.nunique() <= MAX_INTEGER_CATEGORIES
    ):
        return _categorical(name, column)
    if pd.api.types.is_numeric_dtype(column):
        values = pd.to_numeric(filled, errors="coerce").astype(float)
        values = values[np.isfinite(values)]
        return FilterColumn(name, NUMERIC, low=float(values.min()), high=float(values.max()))
    days = _dates(column)
    if days is not None:
        return FilterColumn(name, DATE, low=_iso(days.min()), high=_iso(days.max()))
    if filled.astype(str).nunique() <= MAX_CATEGORIES:
        return _categorical(name, column)
    return None


def _categorical(name: str, column: pd.Series) -> FilterColumn:
    counts = _labels(column).value_counts(sort=True)
    return FilterColumn(name, CATEGORICAL, values=tuple(str(value) for value in counts.index))


def _labels(column: pd.Series) -> pd.Series:
    """A column's values as the strings a categorical filter names (empty cells: MISSING)."""
    return column.astype(object).where(column.notna(), MISSING).astype(str)


def _dates(column: pd.Series) -> pd.Series | None:
    """The column as UTC-naive timestamps (NaT where empty) when it holds dates, else None."""
    if pd.api.types.is_datetime64_any_dtype(column):
        parsed = pd.to_datetime(column, utc=True)
    elif pd.api.types.is_object_dtype(column) or pd.api.types.is_string_dtype(column):
        filled = column.dropna().astype(str).str.strip()
        if filled.empty or filled.str.fullmatch(_ISO_DATE).mean() < DATE_SHARE:
            return None
        parsed = pd.to_datetime(column.astype(object), utc=True, format="ISO8601", errors="coerce")
    else:
        return None
    return parsed.dt.tz_convert(None)


def _keeps(column: pd.Series, chosen: Filter) -> np.ndarray:
    if chosen.kind == CATEGORICAL:
        return _labels(column).isin(chosen.values).to_numpy()
    if chosen.kind == NUMERIC:
        values = pd.to_numeric(column, errors="coerce").astype(float).to_numpy()
        low, high = chosen.low, chosen.high
    else:
        days = _dates(column)
        if days is None:
            return np.zeros(len(column), dtype=bool)
        values = days.dt.normalize().to_numpy(dtype="datetime64[ns]")
        low, high = (_day(end) for end in (chosen.low, chosen.high))
    keep = ~pd.isna(values)
    if chosen.kind == DATE:
        low, high = (None if day is None else day.astype("datetime64[ns]") for day in (low, high))
    if low is not None:
        keep &= values >= low
    if high is not None:
        keep &= values <= high
    return np.asarray(keep, dtype=bool)


def _day(value: object) -> np.datetime64 | None:
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return None
    try:
        return np.datetime64(value, "D")
    except ValueError:
        return None


def _order(kind: str, value: float | str):
    return float(value) if kind == NUMERIC else _day(value)


def _iso(moment: pd.Timestamp) -> str:
    return moment.strftime("%Y-%m-%d")


def column_histogram(metadata: pd.DataFrame, column: FilterColumn, bins: int = 30) -> pd.DataFrame:
    """Counts per bin of a numeric or date column: columns "start" and "count" (for a chart
    beside its range slider)."""
    check_int("column_histogram", "bins", bins, 1, 500)
    if column.kind == NUMERIC:
        values = pd.to_numeric(metadata[column.name], errors="coerce").astype(float).dropna()
        counts, edges = np.histogram(values[np.isfinite(values)], bins=bins)
        return pd.DataFrame({"start": edges[:-1], "count": counts})
    if column.kind == DATE:
        days = _dates(metadata[column.name])
        days = days.dropna() if days is not None else pd.Series([], dtype="datetime64[ns]")
        nanoseconds = days.to_numpy(dtype="datetime64[ns]").astype(np.int64)
        counts, edges = np.histogram(nanoseconds, bins=bins)
        return pd.DataFrame({"start": pd.to_datetime(edges[:-1], unit="ns"), "count": counts})
    raise invalid_parameter("column_histogram", "column.kind", "'numeric' or 'date'", column.kind)
