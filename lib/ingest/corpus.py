"""Corpus boundary: read an upload, a path, pasted text or a bundled sample into a trusted `Corpus`.

Everything downstream (embedding, maps, search) relies on what is checked here: texts are
non-blank stripped strings of at most `MAX_TEXT_CHARS` characters, one metadata row per text, and
`content_hash` identifies the texts in order.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import json
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from lib.errors import CorpusError, check_int, invalid_parameter

logger = logging.getLogger(__name__)

MAX_DOCUMENTS = 50_000
MAX_FILE_BYTES = 200 * 1024**2
MAX_TEXT_CHARS = 20_000
MAX_LABEL_VALUES = 50
# Bounds on what one upload may cost (issue 14): every reader stops as soon as one is passed.
MAX_COLUMNS = 1_000  # columns of any table: CSV/TSV header, distinct JSON keys, Parquet schema
MAX_FIELD_CHARS = 131_072  # one CSV/TSV field (the csv module's own field_size_limit)
MAX_JSON_DEPTH = 64  # nesting of a JSON value: a record is 1, a list inside it 2, ...
MAX_JSON_CELLS = 10_000_000  # rows x distinct keys: missing keys still cost one cell each
MAX_PARQUET_BYTES = MAX_FILE_BYTES  # decoded size of a Parquet file's columns (no bombs)
SUPPORTED_FORMATS = ("csv", "tsv", "txt", "jsonl", "json", "parquet")
DATA_DIR = Path(__file__).resolve().parents[2] / "data"

PASTED_SOURCE = "pasted text"
_TEXT_HINTS = (
    "text",
    "body",
    "content",
    "sentence",
    "document",
    "review",
    "comment",
    "message",
    "description",
)
_GUESS_ROWS = 5_000
_SNIFF_CHARS = 65_536
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
_NEWLINE = re.compile(r"\r\n|\r|\n")
_NON_BLANK = re.compile(r"\S")
_LINE_WITH_END = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)?")
_FILLED_LINE = re.compile(r"\S[^\r\n]*")  # a line's text from its first non-blank character
_JSON_SPACE = re.compile(r"[ \t\n\r]*")
_PARQUET_BATCH_ROWS = 1_024
_COUNT_BYTES = 65_536  # bytes whose line breaks are counted at once (finding a prefix's end)
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)  # line breaks are not b"\n" bytes there
_DELIMITERS = {"csv": ",", "tsv": "\t"}
_JSON_KINDS = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
_JSON_KIND_BY_START = {"{": "object", '"': "string", "t": "boolean", "f": "boolean", "n": "null"}
_JSON_KIND_BY_START |= dict.fromkeys("-0123456789", "number")


@dataclass(frozen=True)
class Corpus:
    """Canonical corpus: non-blank texts in order, one metadata row per text."""

    texts: tuple[str, ...] = field(repr=False)
    metadata: pd.DataFrame = field(repr=False, compare=False)
    text_column: str
    source: str
    content_hash: str
    n_blank_dropped: int = 0
    n_duplicates: int = 0
    n_truncated: int = 0
    encoding: str = "utf-8"

    def __post_init__(self) -> None:
        if len(self.metadata) != len(self.texts):
            raise CorpusError(
                f"Corpus metadata has {len(self.metadata)} rows but there are "
                f"{len(self.texts)} texts; they must have one row per text."
            )

    def __len__(self) -> int:
        return len(self.texts)

    def label_columns(self) -> list[str]:
        """Metadata columns with 2..MAX_LABEL_VALUES distinct values (for colour-by and scores)."""
        return [
            name
            for name in self.metadata.columns
            if 2 <= _distinct_count(self.metadata[name]) <= MAX_LABEL_VALUES
        ]


def read_table(
    data: bytes, filename: str, *, max_bytes: int = MAX_FILE_BYTES, max_rows: int = MAX_DOCUMENTS
) -> pd.DataFrame:
    """Parse file bytes by extension into a frame; `frame.attrs["encoding"]` records how.

    Reading stops at the first bound passed: `max_rows` data rows (at row max_rows + 1),
    MAX_COLUMNS columns, MAX_FIELD_CHARS per CSV field, MAX_JSON_DEPTH / MAX_JSON_CELLS for JSON,
    and Parquet's metadata is checked (rows, columns, decoded bytes) before any row is read.
    A text file longer than the cap is decoded and parsed only up to the cap (`_read_text`).
    """
    check_int("read_table", "max_bytes", max_bytes, 1)
    check_int("read_table", "max_rows", max_rows, 1)
    file_format = _format_of(filename)
    _check_size(len(data), filename, max_bytes)
    if file_format == "parquet":
        frame, encoding = _read_parquet(data, filename, max_rows), "utf-8"
    else:
        frame, encoding = _read_text(data, filename, file_format, max_rows)
    if len(frame) == 0:
        raise CorpusError(f"{filename} has no data rows; it needs at least one document.")
    frame = _with_str_columns(frame)
    frame.attrs["encoding"] = encoding
    return frame


def guess_text_column(frame: pd.DataFrame) -> str:
    """Name of the likeliest free-text column: long, mostly unique strings; name hints count x2."""
    frame = _with_str_columns(frame)
    scores = {name: _text_score(frame[name].head(_GUESS_ROWS), name) for name in frame.columns}
    candidates = {name: score for name, score in scores.items() if score > 0}
    if not candidates:
        raise CorpusError(
            f"No column holds text; columns found: {_quoted(frame.columns) or 'none'}. "
            "The file needs a column of documents (for example one named 'text')."
        )
    return max(candidates, key=candidates.__getitem__)


def corpus_from_frame(
    frame: pd.DataFrame,
    text_column: str | None = None,
    *,
    source: str,
    max_documents: int = MAX_DOCUMENTS,
) -> Corpus:
    """Canonicalise a frame: strip and drop blank texts, truncate long ones, enforce the cap."""
    check_int("corpus_from_frame", "max_documents", max_documents, 1)
    frame = _with_str_columns(frame)
    column = guess_text_column(frame) if text_column is None else str(text_column)
    if column not in frame.columns:
        raise CorpusError(
            f"column {column!r} not found in {source}; available: {_quoted(frame.columns)}"
        )
    cleaned = [_as_text(value) for value in frame[column]]
    keep = [row for row, (text, _) in enumerate(cleaned) if text]
    n_read = len(cleaned) + frame.attrs.get("n_blank_lines", 0)  # TXT skips blank lines
    _check_count(len(keep), n_read, column, source, max_documents)
    n_blank = n_read - len(keep)
    texts = tuple(cleaned[row][0] for row in keep)
    corpus = Corpus(
        texts=texts,
        metadata=frame.drop(columns=column).iloc[keep].reset_index(drop=True),
        text_column=column,
        source=source,
        content_hash=_content_hash(texts),
        n_blank_dropped=n_blank,
        n_duplicates=len(texts) - len(set(texts)),
        n_truncated=sum(cleaned[row][1] for row in keep),
        encoding=frame.attrs.get("encoding", "utf-8"),
    )
    logger.info("Loaded %s: %d texts from column %r", source, len(corpus), column)
    return corpus


def load_corpus(
    data: bytes | str | Path,
    *,
    filename: str | None = None,
    text_column: str | None = None,
    max_documents: int = MAX_DOCUMENTS,
    max_bytes: int = MAX_FILE_BYTES,
) -> Corpus:
    """Read an upload (bytes plus its `filename`) or a file path into a `Corpus`."""
    if isinstance(data, bytes):
        if not filename:
            raise invalid_parameter(
                "load_corpus", "filename", "a file name such as 'docs.csv' when data is bytes", None
            )
    else:
        filename = filename or Path(data).name
        data = _read_path(Path(data), max_bytes)
    frame = read_table(data, filename, max_bytes=max_bytes, max_rows=max_documents)
    return corpus_from_frame(frame, text_column, source=filename, max_documents=max_documents)


def corpus_from_pasted(text: str, *, max_documents: int = MAX_DOCUMENTS) -> Corpus:
    """One document per pasted line; blank lines are dropped and counted."""
    check_int("corpus_from_pasted", "max_documents", max_documents, 1)
    frame = _text_frame(text, PASTED_SOURCE, max_documents)
    return corpus_from_frame(frame, "text", source=PASTED_SOURCE, max_documents=max_documents)


def list_samples() -> list[str]:
    """Names (file stems) of the bundled corpora: data/*.csv files with a 'text' column, sorted."""
    return sorted(path.stem for path in DATA_DIR.glob("*.csv") if _has_text_header(path))


def _has_text_header(path: Path) -> bool:
    """True when the CSV's header names a 'text' column (lesson tables in data/ have none)."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return "text" in next(csv.reader(handle), [])


def load_sample(name: str) -> Corpus:
    """Load the bundled sample `name` (its 'text' column; the other columns become metadata)."""
    samples = list_samples()
    if name not in samples:
        raise CorpusError(
            f"unknown sample {name!r}; available: {_quoted(samples) or 'none (data/ has no CSV)'}"
        )
    return replace(load_corpus(DATA_DIR / f"{name}.csv", text_column="text"), source=name)


def _format_of(filename: str) -> str:
    """The format named by the file extension, or a CorpusError listing the supported ones."""
    suffix = Path(filename).suffix.lower().lstrip(".")
    if suffix not in SUPPORTED_FORMATS:
        found = f"extension '.{suffix}'" if suffix else "no extension"
        supported = ", ".join(f".{name}" for name in SUPPORTED_FORMATS)
        raise CorpusError(f"{filename} has {found}, which is unsupported; supported: {supported}")
    return suffix


def _check_size(n_bytes: int, filename: str, max_bytes: int) -> None:
    """Refuse files over `max_bytes`, saying both sizes."""
    if n_bytes > max_bytes:
        raise CorpusError(
            f"{filename} is {_human_size(n_bytes)}; the limit is {_human_size(max_bytes)}. "
            "Use a smaller file, or precompute with the command line (see README)."
        )


def _human_size(n_bytes: int) -> str:
    """'830 bytes' below one MB, else '12.5 MB'."""
    return f"{n_bytes:,} bytes" if n_bytes < 1024**2 else f"{n_bytes / 1024**2:,.1f} MB"


def _read_path(path: Path, max_bytes: int) -> bytes:
    """Bytes of the file at `path`, checking its size before reading it."""
    try:
        _check_size(path.stat().st_size, path.name, max_bytes)
        return path.read_bytes()
    except OSError as error:
        raise CorpusError(f"cannot read {path}: {error.strerror or error}") from error


class _RowCapError(CorpusError):
    """The refusal of a file over the row cap (the one outcome a prefix may decide)."""


def _read_text(
    data: bytes, filename: str, file_format: str, max_rows: int
) -> tuple[pd.DataFrame, str]:
    """Decode and parse a text upload; one longer than the row cap only up to row max_rows + 1.

    Every row takes at least one line, so a file with more than max_rows + 1 line breaks may
    pass the cap. Its prefixes are read first, each ending after a line break, from
    max_rows + 2 lines (a header and the row past the cap) doubling: the rows before a line
    break read the same in the whole file, so a prefix that passes the cap refuses the file.
    Any other outcome of a prefix (rows cut by blank lines or multi-line values, an error in
    its last value) is decided by the next one; one longer than half the file is not read, the
    whole file is instead. So at most twice the file is decoded and parsed, and a file far over
    the cap costs the first prefix. Breaks are counted in the bytes (b"\\n", not decoded);
    UTF-16 files and JSON arrays on one line are decoded whole.
    """
    breaks_are_bytes = not data.startswith(_UTF16_BOMS) and b"\x00" not in data
    lines = max_rows + 2
    while breaks_are_bytes and 0 < (end := _after_line_breaks(data, lines)) <= len(data) // 2:
        try:
            _decode_and_parse(data[:end], filename, file_format, max_rows)
        except _RowCapError:
            raise
        except CorpusError:
            pass
        lines *= 2
    return _decode_and_parse(data, filename, file_format, max_rows)


def _after_line_breaks(data: bytes, n_breaks: int) -> int:
    """The offset just past the `n_breaks`-th b"\\n" of `data`, or len(data) if it has fewer."""
    position = 0
    while position < len(data):
        found = data.count(b"\n", position, position + _COUNT_BYTES)
        if found >= n_breaks:
            break
        n_breaks -= found
        position += _COUNT_BYTES
    else:
        return len(data)
    for _ in range(n_breaks):
        position = data.index(b"\n", position) + 1
    return position


def _decode_and_parse(
    data: bytes, filename: str, file_format: str, max_rows: int
) -> tuple[pd.DataFrame, str]:
    """Decode `data` whole and parse it by format."""
    text, encoding = _decode(data, filename)
    if not text or text.isspace():
        raise CorpusError(f"{filename} is empty; it needs at least one document.")
    return _parse_text(text, filename, file_format, max_rows), encoding


def _decode(data: bytes, filename: str) -> tuple[str, str]:
    """Decode text bytes: by BOM (UTF-8, UTF-16), else UTF-8, cp1252, latin-1; binary is refused."""
    encodings = [codec for bom, codec in _BOMS if data.startswith(bom)]
    if not encodings:
        if b"\x00" in data:
            raise _not_text(filename)
        encodings = ["utf-8", "cp1252", "latin-1"]
    for encoding in encodings:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return _reject_binary(text, filename), encoding
    raise _not_text(filename)


def _reject_binary(text: str, filename: str) -> str:
    """Return `text` unless its start is dense with control characters (a binary file)."""
    sample = text[:_SNIFF_CHARS]
    if len(_CONTROL_CHARS.findall(sample)) > len(sample) / 100:
        raise _not_text(filename)
    return text


def _not_text(filename: str) -> CorpusError:
    """The one message for binary or undecodable uploads."""
    return CorpusError(
        f"{filename} does not look like a text file (it contains binary data); "
        "save it as UTF-8 text, for example CSV from a spreadsheet, and upload it again."
    )


def _parse_text(text: str, filename: str, file_format: str, max_rows: int) -> pd.DataFrame:
    """Dispatch decoded text to the reader for its format."""
    if file_format in _DELIMITERS:
        return _read_delimited(text, filename, _DELIMITERS[file_format], max_rows)
    if file_format == "jsonl":
        return _read_jsonl(text, filename, max_rows)
    if file_format == "json":
        return _read_json(text, filename, max_rows)
    return _text_frame(text, filename, max_rows)


def _read_delimited(text: str, filename: str, delimiter: str, max_rows: int) -> pd.DataFrame:
    """CSV/TSV with a header row; every row must have the header's number of fields."""
    rows = _csv_records(text, filename, delimiter)
    _, header = next(rows)
    _check_columns(len(header), filename, "columns in its header")
    records = []
    for line, row in rows:
        if len(row) != len(header):
            raise CorpusError(
                f"{filename} line {line} has {_plural(len(row), 'field')} but the header has "
                f"{len(header)}; every row needs one value per column (quote values that "
                f"contain {delimiter!r})."
            )
        if len(records) == max_rows:
            raise _too_many_rows(filename, max_rows)
        records.append(row)
    names = _column_names(name.strip() for name in header)
    if not records:
        return pd.DataFrame(columns=names)
    columns = zip(*records, strict=True)
    return pd.DataFrame({name: _typed(values) for name, values in zip(names, columns, strict=True)})


def _csv_records(text: str, filename: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """Yield (first line number, fields) for each non-empty record; bad quoting is an error."""
    lines = (
        match.group() for match in _LINE_WITH_END.finditer(text) if match.end() > match.start()
    )
    reader = csv.reader(lines, delimiter=delimiter, strict=True)  # no StringIO: 4 bytes a char
    start = 1
    try:
        for row in reader:
            if row:
                yield start, row
            start = reader.line_num + 1
    except csv.Error as error:
        if "field larger than field limit" in str(error):
            raise CorpusError(
                f"Each value of {filename} must be at most {MAX_FIELD_CHARS:,} characters long; "
                f"got a longer one in the row starting on line {start} instead (a quote left "
                "open makes the rest of the file one value). Close the quote, or shorten the "
                f"value: documents are cut to {MAX_TEXT_CHARS:,} characters anyway."
            ) from error
        raise CorpusError(
            f"{filename}: the row starting on line {start} is malformed ({error}); a quoted value "
            f"must be closed and followed by {delimiter!r} or the end of the line."
        ) from error


def _typed(values: tuple[str, ...]) -> pd.Series:
    """Empty fields become missing; a column whose values are all numbers becomes numeric."""
    column = pd.Series(values, dtype=object)
    column = column.mask(column == "")
    numbers = pd.to_numeric(column, errors="coerce")
    return numbers if numbers.count() == column.count() else column.astype("str")


def _text_frame(text: str, source: str, max_rows: int) -> pd.DataFrame:
    """One row per line; past `max_rows` lines, only non-blank lines are kept (and counted)."""
    n_lines = _line_count(text)
    if n_lines <= max_rows:
        return pd.DataFrame({"text": _lines(text)}, dtype=object)
    lines = []
    for match in _FILLED_LINE.finditer(text):  # skips runs of blank lines at C speed
        if len(lines) == max_rows:
            raise _too_many_rows(source, max_rows, what="non-blank lines")
        lines.append(match.group())
    frame = pd.DataFrame({"text": lines}, dtype=object)
    frame.attrs["n_blank_lines"] = n_lines - len(lines)
    return frame


def _line_count(text: str) -> int:
    """len(_lines(text)), counted without splitting."""
    if not text:
        return 0
    return _line_breaks(text, 0, len(text)) + (0 if text.endswith(("\n", "\r")) else 1)


def _line_breaks(text: str, start: int, end: int) -> int:
    """Line breaks (\\r\\n, \\r or \\n) in text[start:end], counted at C speed."""
    crlf = text.count("\r\n", start, end)
    return text.count("\n", start, end) + text.count("\r", start, end) - crlf


class _Records:
    """JSON records read so far; refused past max_rows, MAX_COLUMNS keys or MAX_JSON_CELLS."""

    def __init__(self, filename: str, max_rows: int) -> None:
        self.filename, self.max_rows = filename, max_rows
        self.records: list[dict] = []
        self.keys: set[str] = set()

    def add(self, value: object, where: str) -> None:
        """Append one parsed value, which must be a JSON object within every bound."""
        record = _require_object(value, where)
        if len(self.records) == self.max_rows:
            raise _too_many_rows(self.filename, self.max_rows, what="records")
        _check_columns(len(record), self.filename, f"keys in {where}")
        self.keys.update(record)
        _check_columns(len(self.keys), self.filename, f"distinct keys by {where}")
        cells = (len(self.records) + 1) * len(self.keys)
        if cells > MAX_JSON_CELLS:
            raise CorpusError(
                f"The table of {self.filename} (records x distinct keys) must be at most "
                f"{MAX_JSON_CELLS:,} cells; got more by {where} instead ({len(self.keys):,} keys). "
                "Give every record the same few keys."
            )
        if any(isinstance(child, dict | list) for child in record.values()):
            _check_depth(record, where)
        self.records.append(record)

    def frame(self) -> pd.DataFrame:
        """The records as a frame; lone surrogate escapes (\\ud800) cannot be stored."""
        try:
            return pd.DataFrame.from_records(self.records)
        except UnicodeEncodeError as error:
            raise CorpusError(
                f"{self.filename} contains an invalid character escape ({error.reason}: "
                f"{error.object[error.start : error.end]!a}); fix or remove it and upload again."
            ) from error


def _read_jsonl(text: str, filename: str, max_rows: int) -> pd.DataFrame:
    """One JSON object per non-blank line."""
    records, line, counted_to = _Records(filename, max_rows), 1, 0
    for match in _FILLED_LINE.finditer(text):
        line += _line_breaks(text, counted_to, match.start())
        counted_to = match.start()
        try:
            value = json.loads(match.group())
        except (ValueError, RecursionError) as error:
            line_start = max(text.rfind("\n", 0, match.start()), text.rfind("\r", 0, match.start()))
            indent = match.start() - line_start - 1  # error columns count from the line's start
            raise _json_error(error, filename, line, indent) from error
        records.add(value, f"{filename} line {line:,}")
    return records.frame()


def _read_json(text: str, filename: str, max_rows: int) -> pd.DataFrame:
    """A JSON array of objects, decoded one item at a time (reading stops at a bound)."""
    position = _JSON_SPACE.match(text).end()
    if not text.startswith("[", position):  # said from the first character: nothing is parsed
        kind = _JSON_KIND_BY_START.get(text[position : position + 1])
        if kind in ("boolean", "null") and not text.startswith(("true", "false", "null"), position):
            kind = None
        if kind is None:
            error = json.JSONDecodeError("Expecting value", text, position)
            raise _json_error(error, filename, 1)
        raise CorpusError(
            f"{filename} holds a JSON {kind}; it must hold a list of records "
            'such as [{"text": "..."}].'
        )
    records, decoder = _Records(filename, max_rows), json.JSONDecoder()
    position = _JSON_SPACE.match(text, position + 1).end()
    closed = text.startswith("]", position)
    position += closed
    while not closed:
        try:
            item, position = decoder.raw_decode(text, position)
        except (ValueError, RecursionError) as error:  # a JSONDecodeError counts whole-file lines
            line = 1 if isinstance(error, json.JSONDecodeError) else _line_of(text, position)
            raise _json_error(error, filename, line) from error
        records.add(item, f"{filename} item {len(records.records) + 1:,}")
        position = _JSON_SPACE.match(text, position).end()
        closed = text.startswith("]", position)
        if not closed and not text.startswith(",", position):
            error = json.JSONDecodeError("Expecting ',' delimiter", text, position)
            raise _json_error(error, filename, 1)
        position = _JSON_SPACE.match(text, position + 1).end()
    if _JSON_SPACE.match(text, position).end() < len(text):
        raise _json_error(json.JSONDecodeError("Extra data", text, position), filename, 1)
    return records.frame()


def _json_error(error: Exception, filename: str, line: int, indent: int = 0) -> CorpusError:
    """Our message for a JSON parse failure; `line` is the file line the parsed text starts on."""
    if isinstance(error, json.JSONDecodeError):
        column = error.colno + (indent if error.lineno == 1 else 0)
        return CorpusError(
            f"{filename} is not valid JSON at line {line + error.lineno - 1}, column {column}: "
            f"{error.msg}."
        )
    if isinstance(error, RecursionError):
        return CorpusError(
            f"JSON values in {filename} must be nested at most {MAX_JSON_DEPTH} levels deep; got "
            f"deeper nesting near line {line:,} instead."
        )
    return CorpusError(f"{filename} line {line:,} cannot be read as JSON ({error}).")


def _check_depth(value: object, where: str) -> None:
    """Refuse a record nested deeper than MAX_JSON_DEPTH (walked without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise CorpusError(
                f"JSON values must be nested at most {MAX_JSON_DEPTH} levels deep; got deeper "
                f"nesting in {where} instead."
            )
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)


def _line_of(text: str, offset: int) -> int:
    """The 1-based line number of `offset` in `text` (for messages only: it scans the prefix)."""
    return _line_breaks(text, 0, offset) + 1


def _require_object(value: object, where: str) -> dict:
    """Return `value` if it is a JSON object, else say what it is instead."""
    if not isinstance(value, dict):
        raise CorpusError(
            f"{where} is a JSON {_json_kind(value)}; each record must be an object "
            'such as {"text": "..."}.'
        )
    return value


def _json_kind(value: object) -> str:
    """JSON's name for the type of a parsed value."""
    return _JSON_KINDS.get(type(value), "number")


def _read_parquet(data: bytes, filename: str, max_rows: int) -> pd.DataFrame:
    """Read Parquet bytes with pyarrow: metadata checked first, rows in batches within bounds."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(pa.BufferReader(data))
        _check_parquet_metadata(parquet.metadata, filename, max_rows)
        table = pa.Table.from_batches(_parquet_batches(parquet, filename, max_rows),
                                      schema=parquet.schema_arrow)  # fmt: skip
        table.validate(full=True)  # e.g. strings that are not UTF-8
    except (pa.ArrowException, OSError, ValueError) as error:
        raise CorpusError(f"{filename} is not a readable Parquet file ({error}).") from error
    try:
        frame = table.to_pandas()
    except Exception as error:  # the pandas metadata in the file is untrusted JSON
        raise CorpusError(f"{filename} is not a readable Parquet file ({error}).") from error
    return frame.reset_index(drop=not any(frame.index.names))


def _check_parquet_metadata(metadata: object, filename: str, max_rows: int) -> None:
    """Refuse from the footer alone: too many rows, columns or row groups, or too many bytes."""
    if metadata.num_rows > max_rows or metadata.num_row_groups > max_rows:
        raise _too_many_rows(filename, max_rows, found=max(metadata.num_rows, max_rows + 1))
    _check_columns(metadata.num_columns, filename, "columns")
    size = sum(metadata.row_group(i).total_byte_size for i in range(metadata.num_row_groups))
    _check_decoded_size(size, filename)


def _parquet_batches(parquet: object, filename: str, max_rows: int) -> list:
    """Record batches, stopping at row max_rows + 1 or MAX_PARQUET_BYTES (the footer may lie)."""
    batches, rows, size = [], 0, 0
    for batch in parquet.iter_batches(batch_size=_PARQUET_BATCH_ROWS):
        rows, size = rows + batch.num_rows, size + _decoded_nbytes(batch)
        if rows > max_rows:
            raise _too_many_rows(filename, max_rows)
        _check_decoded_size(size, filename)
        batches.append(batch)
    return batches


def _decoded_nbytes(batch: object) -> int:
    """Bytes of a record batch once decoded: dictionary-encoded text counts every repeat."""
    import pyarrow as pa
    import pyarrow.compute as pc

    total = 0
    for column in batch.columns:
        total += column.nbytes
        if pa.types.is_dictionary(column.type) and _is_text_type(column.dictionary.type):
            lengths = pc.take(pc.binary_length(column.dictionary), column.indices)
            total += pc.sum(lengths).as_py() or 0
    return total


def _is_text_type(data_type: object) -> bool:
    """Whether pyarrow's `data_type` holds variable-length strings or bytes."""
    import pyarrow as pa

    kinds = (pa.types.is_string, pa.types.is_large_string, pa.types.is_binary,
             pa.types.is_large_binary)  # fmt: skip
    return any(kind(data_type) for kind in kinds)


def _check_decoded_size(n_bytes: int, filename: str) -> None:
    """Refuse a Parquet file whose columns decode to more than MAX_PARQUET_BYTES."""
    if n_bytes > MAX_PARQUET_BYTES:
        raise CorpusError(
            f"The decoded size of {filename} must be at most {_human_size(MAX_PARQUET_BYTES)}; "
            f"got {_human_size(n_bytes)} instead (a highly compressed file). Upload fewer rows "
            "or columns."
        )


def _check_columns(n_columns: int, filename: str, what: str) -> None:
    """Refuse a table wider than MAX_COLUMNS, before it is built."""
    if n_columns > MAX_COLUMNS:
        raise CorpusError(
            f"The number of columns of {filename} must be at most {MAX_COLUMNS:,}; got "
            f"{n_columns:,} {what} instead. Keep the text column and the metadata you need."
        )


def _too_many_rows(
    filename: str, max_rows: int, *, what: str = "rows", found: int | None = None
) -> CorpusError:
    """The message for a file over the document cap, raised when row max_rows + 1 is read."""
    count = f"{found:,} {what}" if found is not None else f"more than {max_rows:,} {what}"
    return _RowCapError(
        f"{filename} has {count} (reading stopped there); the limit here is {max_rows:,} "
        "documents. To map more, precompute with the command line (see README)."
    )


def _lines(text: str) -> list[str]:
    """Split on any newline convention; a final newline does not start an extra line."""
    lines = _NEWLINE.split(text)
    return lines[:-1] if lines[-1] == "" else lines


def _with_str_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with unique str column names (user names are data: cast, never trusted)."""
    names = _column_names(frame.columns)
    return frame if names == list(frame.columns) else frame.set_axis(names, axis=1)


def _column_names(names: Iterable[object]) -> list[str]:
    """Unique, non-empty str names: a repeated 'a' becomes 'a.1', an empty one 'column_3'.

    Linear: each base name remembers the last suffix it used (a header of 2,000 'a's once took
    cubic time).
    """
    unique: list[str] = []
    taken: set[str] = set()
    last_suffix: dict[str, int] = {}
    for position, name in enumerate(names, start=1):
        base = str(name) or f"column_{position}"
        candidate, suffix = base, last_suffix.get(base, 0)
        if suffix:
            candidate = f"{base}.{suffix}"
        while candidate in taken:
            suffix += 1
            candidate = f"{base}.{suffix}"
        last_suffix[base] = suffix
        taken.add(candidate)
        unique.append(candidate)
    return unique


def _text_score(values: pd.Series, name: str) -> float:
    """Mean length x distinct share of non-blank strings (x2 for a hinted name); 0 if not text."""
    present = values.dropna().tolist()
    stripped = [value.strip() for value in present if isinstance(value, str)]
    strings = [value for value in stripped if value]
    if not strings or len(present) - len(stripped) > len(strings):
        return 0.0
    mean_length = sum(map(len, strings)) / len(strings)
    uniqueness = len(set(strings)) / len(strings)
    hint = 2.0 if any(word in name.lower() for word in _TEXT_HINTS) else 1.0
    return mean_length * uniqueness * hint


def _as_text(value: object) -> tuple[str, bool]:
    """A cell as (stripped UTF-8-encodable text cut to MAX_TEXT_CHARS, whether it was cut).

    Missing values become ''. A huge cell is never copied whole: only its first MAX_TEXT_CHARS
    characters from the first non-blank one are.
    """
    if not isinstance(value, str):
        if pd.api.types.is_scalar(value) and pd.isna(value):
            return "", False
        value = str(value)
    first = _NON_BLANK.search(value)
    if first is None:
        return "", False
    end = first.start() + MAX_TEXT_CHARS
    text = value[first.start() : end]
    cut = _NON_BLANK.search(value, end) is not None
    text = text if cut else text.rstrip()
    return text.encode("utf-8", "replace").decode("utf-8"), cut


def _check_count(n_texts: int, n_rows: int, column: str, source: str, max_documents: int) -> None:
    """Refuse a corpus with no non-blank text or more texts than `max_documents`."""
    if n_texts == 0:
        raise CorpusError(
            f"no text to map in {source}: column {column!r} has no non-blank values "
            f"({_plural(n_rows, 'row')} read)."
        )
    if n_texts > max_documents:
        raise CorpusError(
            f"{source} has {n_texts:,} documents; the limit here is {max_documents:,}. "
            "To map more, precompute with the command line (see README)."
        )


def values_digest(values: Iterable[object]) -> str:
    """sha256 of a sequence of values by type and text, in order (labels, groups, metadata)."""
    series = pd.Series(list(values), dtype=object)
    typed = series.map(lambda value: f"{type(value).__name__}:{value}")
    digest = hashlib.sha256(len(series).to_bytes(8, "big"))
    digest.update(pd.util.hash_pandas_object(typed, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def _content_hash(texts: Iterable[str]) -> str:
    """sha256 over length-prefixed UTF-8 texts, so ('ab', 'c') and ('a', 'bc') differ."""
    digest = hashlib.sha256()
    for text in texts:
        encoded = text.encode("utf-8")
        digest.update(len(encoded).to_bytes(8, "big"))
        digest.update(encoded)
    return digest.hexdigest()


def _distinct_count(column: pd.Series) -> int:
    """Distinct non-missing values; 0 when values are unhashable (lists, dicts from JSON)."""
    try:
        return int(column.nunique(dropna=True))
    except TypeError:
        return 0


def _plural(count: int, word: str) -> str:
    """'1 row', '3 rows'."""
    return f"{count:,} {word}" if count == 1 else f"{count:,} {word}s"


def _quoted(names: Iterable[object]) -> str:
    """'a', 'b' for messages."""
    return ", ".join(repr(str(name)) for name in names)
