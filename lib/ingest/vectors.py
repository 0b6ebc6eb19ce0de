"""Bring your own vectors: precomputed embeddings (of images, audio, anything) as a labelled corpus.

Accepted uploads, told apart by file name:

- `x.npy` (a 2-D numeric array), optionally with a metadata `.csv`, `.tsv` or `.parquet`;
- one `.parquet`, `.csv` or `.tsv` table whose vectors are ONE column of lists (JSON lists such as
  "[0.1, 0.2]" in CSV), or numeric columns: those named like dim_0, dim_1, … when present, else
  every numeric column; the other columns become metadata;
- the TensorFlow Projector pair `vectors.tsv` (numbers only, no header) and `metadata.tsv` (a
  header row when it has more than one column, none when it has one).

With two files, the `.npy`, or else the file whose name does not contain "meta", holds the vectors.
Rows are numbered from 1 in messages, header rows not counted.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import math
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from lib.errors import CorpusError, VectorsError
from lib.ingest.corpus import Corpus, corpus_from_frame, read_table

MAX_VECTOR_ROWS = 50_000
MAX_DIMENSIONS = 4096
VECTOR_FORMATS = ("npy", "parquet", "csv", "tsv")
METADATA_FORMATS = ("parquet", "csv", "tsv")
LABEL_COLUMN = "label"
ITEM_COLUMN = "item"
ROWS_NAMED = 5  # rows listed in an error before "and N more"
_NPY_MAGIC = b"\x93NUMPY"
_NPY_VERSIONS = ((1, 0), (2, 0), (3, 0))
_NPY_HINT = "save a float array with numpy.save('vectors.npy', array.astype('float32'))"
_DIM_COLUMN = re.compile(r"(dim_?)?\d+", re.IGNORECASE)
_DELIMITERS = {"csv": ",", "tsv": "\t"}
_FIRST_LINE = re.compile(rb"\s*([^\r\n]*)")


@dataclass(frozen=True, eq=False)
class UploadedVectors:
    """Uploaded vectors ready to map.

    vectors: (n, d) float32, L2-normalised rows. corpus: one text per row (the chosen label column,
    else "item 0", "item 1", …) and the metadata. content_hash: sha256 of shape and float32 bytes.
    """

    vectors: np.ndarray
    corpus: Corpus
    source: str
    content_hash: str


def load_vectors(files: Mapping[str, bytes], *, text_column: str | None = None) -> UploadedVectors:
    """Read uploaded vectors (and optional metadata) by file name; every problem is a VectorsError.

    `text_column` names the metadata column whose values label the points.
    """
    vectors_name, metadata_name = _roles(files)
    matrix, metadata = _read_vectors(files[vectors_name], vectors_name)
    _check_shape(matrix.shape, vectors_name)
    if metadata is None:
        metadata = pd.DataFrame(index=pd.RangeIndex(len(matrix)))
    if metadata_name is not None:
        metadata = _joined_metadata(metadata, files[metadata_name], metadata_name, vectors_name)
    unit = _unit_rows(matrix, vectors_name)
    source = " + ".join(name for name in (vectors_name, metadata_name) if name)
    corpus = _labelled_corpus(metadata, text_column, source)
    digest = hashlib.sha256(f"{unit.shape[0]}x{unit.shape[1]}:".encode())
    digest.update(unit.astype("<f4").tobytes())
    return UploadedVectors(unit, corpus, source, digest.hexdigest())


def _roles(files: Mapping[str, bytes]) -> tuple[str, str | None]:
    """(vectors file, metadata file or None) among one or two uploads."""
    names = list(files)
    if not 1 <= len(names) <= 2:
        raise VectorsError(
            f"Upload one vectors file, optionally with one metadata file; got {len(names)} files. "
            f"Vectors: {_extensions(VECTOR_FORMATS)}; metadata: {_extensions(METADATA_FORMATS)}."
        )
    for name in names:
        if _format_of(name) not in VECTOR_FORMATS:
            raise VectorsError(
                f"{name} is not a supported vectors or metadata file; "
                f"use {_extensions(VECTOR_FORMATS)}."
            )
    if len(names) == 1:
        return names[0], None
    arrays = [name for name in names if _format_of(name) == "npy"]
    unmarked = [name for name in names if "meta" not in Path(name).stem.lower()]
    if len(arrays) == 1:
        vectors = arrays[0]
    elif not arrays and len(unmarked) == 1:
        vectors = unmarked[0]
    else:
        raise VectorsError(
            f"Cannot tell which of {_quoted(names)} holds the vectors: name the metadata file "
            "metadata.tsv (as the TensorFlow Projector does) or upload the vectors as .npy."
        )
    return vectors, next(name for name in names if name != vectors)


def _read_vectors(data: bytes, name: str) -> tuple[np.ndarray, pd.DataFrame | None]:
    """The raw matrix of a vectors file and the metadata columns it carries (None: none)."""
    if not data or data.isspace():
        raise VectorsError(f"{name} is empty; it needs one vector per row.")
    file_format = _format_of(name)
    if file_format == "npy":
        return _read_npy(data, name), None
    if file_format in _DELIMITERS and _is_headerless(data, _DELIMITERS[file_format]):
        return _read_numeric_text(data, name, _DELIMITERS[file_format]), None
    return _split_table(_read_table(data, name), name)


def _read_npy(data: bytes, name: str) -> np.ndarray:
    """A plain numeric 2-D .npy array, checked from its header before any value is read.

    Pickles, archives and object arrays are refused; so is a header whose shape is over the
    limits or does not match the bytes that follow it (nothing is allocated from the header).
    """
    if not data.startswith(_NPY_MAGIC):
        raise VectorsError(
            f"{name} is not a .npy file (no .npy header; pickles and other formats are "
            f"refused); {_NPY_HINT}."
        )
    shape, fortran_order, dtype, offset = _npy_header(data, name)
    if dtype.hasobject:
        raise VectorsError(
            f"{name} is not a plain numeric .npy array (pickled objects are refused); {_NPY_HINT}."
        )
    if dtype.kind not in "iuf":
        raise VectorsError(
            f"{name} holds values of type {dtype}; vectors must be numbers. {_NPY_HINT}."
        )
    _check_shape(shape, name)
    count = math.prod(shape)
    if len(data) - offset < count * dtype.itemsize:
        raise VectorsError(
            f"{name} is not a readable .npy file (EOF: its header promises "
            f"{count * dtype.itemsize:,} bytes of values, the file holds {len(data) - offset:,}); "
            f"{_NPY_HINT}."
        )
    values = np.frombuffer(data, dtype=dtype, count=count, offset=offset)
    return values.reshape(shape, order="F" if fortran_order else "C")


def _npy_header(data: bytes, name: str) -> tuple[tuple[int, ...], bool, np.dtype, int]:
    """(shape, fortran_order, dtype, offset of the values) from a .npy header alone."""
    stream = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(stream)
        if version not in _NPY_VERSIONS:
            raise ValueError(f"unknown .npy format version {version}")
        if version == (1, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(stream)
        else:
            shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(stream)
    except Exception as error:  # numpy parses the untrusted header (ValueError, SyntaxError, ...)
        raise VectorsError(f"{name} is not a readable .npy file ({error}); {_NPY_HINT}.") from error
    return tuple(shape), bool(fortran_order), dtype, stream.tell()


def _is_headerless(data: bytes, delimiter: str) -> bool:
    """Whether the first line is all numbers (TensorFlow Projector vectors.tsv).

    A first line 0, 1, 2, … is the header pandas writes for an unnamed matrix, not a vector.
    """
    values = _first_line(data).decode("utf-8-sig", "replace").split(delimiter)
    if not all(_is_float(value) for value in values):
        return False
    return [value.strip() for value in values] != [str(i) for i in range(len(values))]


def _first_line(data: bytes) -> bytes:
    """The first non-blank line, without copying the rest of the file."""
    return _FIRST_LINE.match(data).group(1)


def _read_numeric_text(data: bytes, name: str, delimiter: str) -> np.ndarray:
    """A headerless delimited matrix; on failure, the first ragged row or non-number is named."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise VectorsError(
            f"{name} is not UTF-8 text; vectors files hold plain numbers."
        ) from error
    width = len(_first_line(data).split(delimiter.encode()))
    if width > MAX_DIMENSIONS:
        _check_shape((1, width), name)  # raises before the rows are read
    try:  # one row past the limit is enough to refuse
        with warnings.catch_warnings():  # "blank lines are not counted towards max_rows": fine
            warnings.simplefilter("ignore", UserWarning)
            return np.loadtxt(io.StringIO(text), delimiter=delimiter, dtype=np.float64, ndmin=2,
                              comments=None, max_rows=MAX_VECTOR_ROWS + 1)  # fmt: skip
    except ValueError as error:
        rows = (line.split(delimiter) for line in text.splitlines() if line.strip())
        _stack(list(itertools.islice(rows, MAX_VECTOR_ROWS + 1)), name)  # the precise error
        raise VectorsError(f"{name} could not be read as numbers ({error}).") from error


def _read_table(data: bytes, name: str) -> pd.DataFrame:
    """A CSV/TSV (header row) or Parquet table via the corpus reader; its errors as VectorsError.

    Reading stops at row MAX_VECTOR_ROWS + 1.
    """
    try:
        return read_table(data, name, max_rows=MAX_VECTOR_ROWS)
    except CorpusError as error:
        raise VectorsError(str(error)) from error


def _split_table(frame: pd.DataFrame, name: str) -> tuple[np.ndarray, pd.DataFrame]:
    """Vectors (one list column, or dim_N / numeric columns) and the remaining metadata."""
    list_columns = [column for column in frame.columns if _holds_lists(frame[column])]
    if len(list_columns) > 1:
        raise VectorsError(
            f"{name} has {len(list_columns)} columns of lists ({_quoted(list_columns)}); "
            "keep only the vectors column."
        )
    if list_columns:
        column = list_columns[0]
        rows = [_as_list(value, name, row) for row, value in enumerate(frame[column], start=1)]
        return _stack(rows, name), frame.drop(columns=column)
    dims = [column for column in frame.columns if _DIM_COLUMN.fullmatch(column)]
    dims = dims or [column for column in frame.columns if _is_numeric(frame[column])]
    if not dims:
        raise VectorsError(
            f"{name} has no vectors: expected one column of lists or numeric columns such as "
            f"dim_0, dim_1, …; columns found: {_quoted(frame.columns)}."
        )
    for column in dims:
        _check_numeric_column(frame[column], name)
    return frame[dims].to_numpy(dtype=np.float64), frame.drop(columns=dims)


def _holds_lists(column: pd.Series) -> bool:
    """Whether the first present value is a list/array or a string that starts like a JSON list."""
    present = column.dropna()
    if present.empty:
        return False
    first = present.iloc[0]
    return isinstance(first, list | tuple | np.ndarray) or (
        isinstance(first, str) and first.lstrip().startswith("[")
    )


def _as_list(value: object, name: str, row: int) -> Sequence:
    """One cell of a vectors column as a sequence (JSON lists are parsed, never evaluated)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError) as error:  # also too deep, or a 4,301-digit number
            reason = error.msg if isinstance(error, json.JSONDecodeError) else str(error)[:80]
            raise VectorsError(
                f"{name} row {row}: the vector is not a JSON list of numbers ({reason})."
            ) from error
    if not isinstance(value, list | tuple | np.ndarray):
        raise VectorsError(f"{name} row {row} has no vector (got {_short(value)}).")
    return value


def _stack(rows: list[Sequence], name: str) -> np.ndarray:
    """Rows of equal length as a float64 matrix; the first ragged row or non-number is named."""
    if not rows:
        raise VectorsError(f"{name} has no vectors (0 rows).")
    expected = len(rows[0])
    for number, row in enumerate(rows, start=1):
        if len(row) != expected:
            raise VectorsError(
                f"{name} row {number} has {len(row)} values, expected {expected} (as in row 1); "
                "every vector needs the same number of dimensions."
            )
    try:
        return np.asarray(rows, dtype=np.float64).reshape(len(rows), expected)
    except (TypeError, ValueError) as error:
        for number, row in enumerate(rows, start=1):
            for position, value in enumerate(row, start=1):
                if not _is_float(value):
                    raise _not_a_number(name, f"row {number}, value {position}", value) from error
        raise VectorsError(f"{name} could not be read as numbers ({error}).") from error


def _is_float(value: object) -> bool:
    """Whether float() accepts `value` (a number or numeric text)."""
    try:
        float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return True


def _is_numeric(column: pd.Series) -> bool:
    """Numbers, not booleans."""
    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def _check_numeric_column(column: pd.Series, name: str) -> None:
    """Raise naming the first non-numeric value of a vectors column (missing values pass)."""
    if _is_numeric(column):
        return
    numbers = pd.to_numeric(column, errors="coerce")
    bad = np.flatnonzero((numbers.isna() & column.notna()).to_numpy())
    if bad.size:  # else all values are missing: reported as NaN rows later
        row = int(bad[0])
        raise _not_a_number(name, f"column {column.name!r}, row {row + 1}", column.iloc[row])


def _not_a_number(name: str, where: str, value: object) -> VectorsError:
    """The one message for a value that is not a number."""
    return VectorsError(
        f"{name} {where} is {_short(value)}, not a number; vectors hold numbers only."
    )


def _check_shape(shape: tuple[int, ...], name: str) -> None:
    """2-D, at least one row and two dimensions, within MAX_VECTOR_ROWS and MAX_DIMENSIONS."""
    if len(shape) != 2 or min(shape) < 0:
        raise VectorsError(
            f"{name} holds an array of shape {shape}; vectors must be a 2-D array "
            "(one row per item, one column per dimension)."
        )
    n_rows, n_dims = shape
    if n_rows == 0:
        raise VectorsError(f"{name} has no vectors (0 rows).")
    if n_dims < 2:
        raise VectorsError(
            f"{name} has {n_dims} value per row; vectors need at least 2 dimensions."
        )
    if n_rows > MAX_VECTOR_ROWS:
        raise VectorsError(
            f"{name} has {n_rows:,} vectors; the limit here is {MAX_VECTOR_ROWS:,}. "
            "Upload a sample of the rows."
        )
    if n_dims > MAX_DIMENSIONS:
        raise VectorsError(
            f"{name} has {n_dims:,} dimensions; the limit here is {MAX_DIMENSIONS:,}. "
            "Reduce them first (for example with PCA)."
        )


def _unit_rows(matrix: np.ndarray, name: str) -> np.ndarray:
    """float32 rows scaled to length 1; NaN/inf (also float32 overflow) and zero rows refused."""
    with np.errstate(over="ignore"):
        values = matrix.astype(np.float32)
    not_finite = np.flatnonzero(~np.isfinite(values).all(axis=1))
    if not_finite.size:
        raise VectorsError(
            f"{name} has NaN or infinite values in {_rows_text(not_finite)}; every value must "
            "be a finite number (within float32 range). Fix or drop those rows."
        )
    zero = np.flatnonzero(~values.any(axis=1))
    if zero.size:
        raise VectorsError(
            f"{name} has all-zero vectors in {_rows_text(zero)}; a zero vector has no direction, "
            "so its similarities are undefined. Drop those rows."
        )
    # Norms in float64: squaring large float32 values would overflow to inf.
    norms = np.linalg.norm(values.astype(np.float64), axis=1, keepdims=True)
    return (values / norms).astype(np.float32)


def _joined_metadata(own: pd.DataFrame, data: bytes, name: str, vectors_name: str) -> pd.DataFrame:
    """The vectors file's own metadata columns followed by the metadata file's (one row each)."""
    one_column_tsv = _format_of(name) == "tsv" and b"\t" not in _first_line(data)
    if one_column_tsv:  # the Projector's one-column metadata.tsv has no header row
        frame = _read_table(data, f"{Path(name).stem}.txt").set_axis([LABEL_COLUMN], axis=1)
    else:
        frame = _read_table(data, name)
    if len(frame) != len(own):
        hint = (
            " A one-column metadata.tsv has no header row (TensorFlow Projector format); "
            "remove the header line."
            if one_column_tsv and len(frame) == len(own) + 1
            else ""
        )
        raise VectorsError(
            f"{vectors_name} has {len(own):,} rows but {name} has {len(frame):,}; they need one "
            f"metadata row per vector.{hint}"
        )
    frame = frame.rename(columns=lambda c: f"{c} ({name})" if c in own.columns else c)
    return pd.concat([own.reset_index(drop=True), frame.reset_index(drop=True)], axis=1)


def _labelled_corpus(metadata: pd.DataFrame, text_column: str | None, source: str) -> Corpus:
    """A corpus of point labels: `text_column`'s values (blank ones become "item i") or "item i"."""
    frame = metadata.reset_index(drop=True)
    items = pd.Series([f"item {row}" for row in range(len(frame))], dtype=object)
    if text_column is None:
        column = ITEM_COLUMN
        while column in frame.columns:
            column += "_"
        frame = frame.assign(**{column: items})
    elif text_column not in frame.columns:
        raise VectorsError(
            f"column {text_column!r} not found in {source}; metadata columns: "
            f"{_quoted(frame.columns) or 'none'}."
        )
    else:
        column = text_column
        labels = frame[column].astype(object)
        blank = labels.isna() | (labels.astype(str).str.strip() == "")
        frame = frame.assign(**{column: labels.mask(blank, items)})
    return corpus_from_frame(frame, column, source=source, max_documents=MAX_VECTOR_ROWS)


def _format_of(name: str) -> str:
    """Lower-case extension without the dot."""
    return Path(name).suffix.lower().lstrip(".")


def _extensions(formats: Iterable[str]) -> str:
    """'.npy, .csv' for messages."""
    return ", ".join(f".{name}" for name in formats)


def _rows_text(indices: np.ndarray) -> str:
    """'row 3' or 'rows 3, 7, 9 (and 12 more)', 1-based."""
    shown = ", ".join(str(int(i) + 1) for i in indices[:ROWS_NAMED])
    more = f" (and {len(indices) - ROWS_NAMED:,} more)" if len(indices) > ROWS_NAMED else ""
    return f"row {shown}" if len(indices) == 1 else f"rows {shown}{more}"


def _short(value: object) -> str:
    """repr of a value, cut to 40 characters for messages."""
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


def _quoted(names: Iterable[object]) -> str:
    """'a', 'b' for messages."""
    return ", ".join(repr(str(name)) for name in names)
