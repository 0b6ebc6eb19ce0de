"""A short, seeded run of bench/fuzz.py's targets, and every crash the fuzzer found, kept.

The long run (≥ 1,000,000 executions, coverage-guided with atheris) is `bench/fuzz.py`; here each
target gets a few dozen derandomized hypothesis examples: only EmbedscopeError may escape.
"""

from __future__ import annotations

import io

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings

from bench.fuzz import execute, input_strategy, targets
from lib.errors import CorpusError, EmbedscopeError, VectorsError
from lib.figures.lessons import clicked_guess
from lib.ingest.corpus import load_corpus
from lib.ingest.vectors import load_vectors
from lib.share.bookmarks import parse_rows

TARGETS = targets()


@pytest.mark.parametrize(
    "name",
    [name for name in sorted(TARGETS)],
)
def test_a_short_seeded_fuzz_run_raises_only_our_errors(name):
    target = TARGETS[name]

    @settings(max_examples=30, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(input_strategy(target))
    def run(data: bytes) -> None:
        error = execute(target, data)
        assert error is None, f"{type(error).__name__}: {error} on {data[:200]!r}"

    run()


def test_every_seed_input_runs_cleanly():
    for target in TARGETS.values():
        for data in target.seeds:
            assert execute(target, data) is None, (target.name, data[:80])


# --- crashes found by the fuzzer (bench/fuzz.py), kept as regressions ---------------------------


def test_an_npy_header_that_numpy_cannot_tokenize_is_our_error():
    """atheris, target "vectors": numpy's header parser raised tokenize.TokenError."""
    header = b"\x93NUMPY\x01\x00v\x00{'descr': '<f4'\x00\x93NUMPY\x01\x00v\x00{'descr': '<f4', "
    data = header + b"'fortran_order': False, 'shape': (3, 2), }" + b" " * 53 + b"\n" + bytes(24)
    with pytest.raises(VectorsError, match=r"vectors\.npy is not a readable \.npy file"):
        load_vectors({"vectors.npy": data})


@pytest.mark.parametrize(
    "pandas_metadata",
    [
        b'{"index_columns": [{"kind": "rangf"}], "columns": []}',
        b'{"index_columns": [], "colum.s": []}',
        b'{"index_columns": [{"kind": "range", "name": null, "stort": 0}], "columns": []}',
        b'{"index_co\xec',
        b'{"index_columns": [], "columns": [{"name": "text", "numpy_type": "svr"}]}',
    ],
    ids=["unknown-index-kind", "no-columns", "no-start", "not-utf8", "unknown-dtype"],
)
def test_parquet_with_broken_pandas_metadata_is_our_error(pandas_metadata):
    """atheris, target "corpus_parquet": pandas read the file's metadata and raised KeyError,
    ValueError, TypeError or UnicodeDecodeError."""
    table = pa.table({"text": ["a rocket", "a recipe"]})
    table = table.replace_schema_metadata({b"pandas": pandas_metadata})
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    try:
        corpus = load_corpus(buffer.getvalue(), filename="meta.parquet")
    except CorpusError as error:
        assert "meta.parquet is not a readable Parquet file" in str(error)
    else:  # metadata pandas can ignore is ignored
        assert corpus.texts == ("a rocket", "a recipe")


def test_parquet_strings_that_are_not_utf8_are_our_error():
    """atheris, target "corpus_parquet": pyarrow raised ArrowException later, in pandas."""
    texts = pa.array([b"a rocket", b"bad \xff\xfe"], pa.binary()).view(pa.string())
    buffer = io.BytesIO()
    pq.write_table(pa.table({"text": texts}), buffer)
    with pytest.raises(CorpusError, match=r"bad\.parquet is not a readable Parquet file"):
        load_corpus(buffer.getvalue(), filename="bad.parquet")


@pytest.mark.parametrize(
    ("cell", "reason"),
    [(b"[" * 5000, "maximum recursion depth"), (b"[" + b"1" * 5000 + b", 2]", "4300 digits")],
    ids=["deep", "long-number"],
)
def test_a_vectors_cell_json_cannot_decode_is_our_error(cell, reason):
    """Found by reading while fuzzing: json.loads raised RecursionError / a plain ValueError."""
    data = b'vec,label\n"' + cell + b'",a\n'
    message = rf"v\.csv row 1: the vector is not a JSON list of numbers \(.*{reason}"
    with pytest.raises(VectorsError, match=message):
        load_vectors({"v.csv": data})


def test_an_npy_of_the_wrong_byte_count_is_read_from_the_header_only():
    buffer = io.BytesIO()
    np.save(buffer, np.ones((3, 2), np.float32))
    data = buffer.getvalue()
    result = load_vectors({"v.npy": data + b"trailing bytes are ignored, as numpy does"})
    assert result.vectors.shape == (3, 2)
    with pytest.raises(VectorsError, match=r"EOF: its header promises 24 bytes of values"):
        load_vectors({"v.npy": data[:-1]})


def test_a_typed_document_id_of_5000_digits_is_our_error():
    with pytest.raises(EmbedscopeError, match=r"is not a document id|There is no document"):
        parse_rows("1" * 5000, 10)


@pytest.mark.parametrize(
    "event",
    [{"selection": {"points": [{"customdata": "g:\u00b2"}]}}, {"selection": {"points": 5}}],
    ids=["superscript-cell", "points-not-a-list"],
)
def test_a_forged_click_on_the_lessons_guess_map_is_ignored(event):
    assert clicked_guess(event, np.zeros((5, 2)), np.zeros((4, 2))) is None
