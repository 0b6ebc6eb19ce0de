"""Bring-your-own vectors: each accepted form gives the same unit rows; each refusal explains."""

from __future__ import annotations

import hashlib
import io
import json
import pickle

import numpy as np
import pandas as pd
import pytest

from lib.errors import VectorsError
from lib.ingest import vectors as vectors_module
from lib.ingest.vectors import UploadedVectors, load_vectors
from lib.share.export import npy_bytes, projector_files

N, D = 6, 4
WORDS = ["apple", "banana", "cherry", "date", "elder", "fig"]


def _matrix() -> np.ndarray:
    return np.random.default_rng(11).standard_normal((N, D)).astype(np.float32)


def _unit(matrix: np.ndarray) -> np.ndarray:
    matrix = matrix.astype(np.float64)
    return (matrix / np.linalg.norm(matrix, axis=1, keepdims=True)).astype(np.float32)


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def _parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def _csv(frame: pd.DataFrame, sep: str = ",") -> bytes:
    return frame.to_csv(index=False, sep=sep).encode("utf-8")


def _tsv_rows(rows: list[list[object]]) -> bytes:
    return "".join("\t".join(map(str, row)) + "\n" for row in rows).encode("utf-8")


def _assert_same_vectors(result: UploadedVectors, matrix: np.ndarray) -> None:
    assert result.vectors.dtype == np.float32
    np.testing.assert_allclose(result.vectors, _unit(matrix), rtol=0, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(result.vectors, axis=1), 1.0, atol=1e-6)
    assert len(result.corpus) == len(matrix)


def test_npy_alone_gives_item_labels_and_a_content_hash():
    matrix = _matrix()
    result = load_vectors({"emb.npy": _npy(matrix)})
    _assert_same_vectors(result, matrix)
    assert result.corpus.texts == tuple(f"item {i}" for i in range(N))
    assert list(result.corpus.metadata.columns) == []
    assert result.source == "emb.npy"
    expected = hashlib.sha256(f"{N}x{D}:".encode() + _unit(matrix).astype("<f4").tobytes())
    assert result.content_hash == expected.hexdigest()


def test_content_hash_follows_direction_not_scale():
    matrix = _matrix()
    same = load_vectors({"a.npy": _npy(matrix * 4)})  # a power of two scales exactly
    other = load_vectors({"a.npy": _npy(matrix[::-1].copy())})
    assert same.content_hash == load_vectors({"b.npy": _npy(matrix)}).content_hash
    assert other.content_hash != same.content_hash


def test_integer_and_float64_npy_are_accepted():
    counts = np.arange(1, N * D + 1, dtype=np.int64).reshape(N, D)
    _assert_same_vectors(load_vectors({"counts.npy": _npy(counts)}), counts)
    doubles = _matrix().astype(np.float64)
    _assert_same_vectors(load_vectors({"d.npy": _npy(doubles)}), doubles)


def test_huge_values_are_normalised_without_overflow():
    matrix = np.full((2, 3), 3e37, dtype=np.float32)
    result = load_vectors({"big.npy": _npy(matrix)})
    np.testing.assert_allclose(result.vectors, np.full((2, 3), 1 / np.sqrt(3)), atol=1e-6)


@pytest.mark.parametrize("suffix", ["csv", "tsv", "parquet"])
def test_npy_with_a_metadata_table(suffix):
    matrix = _matrix()
    metadata = pd.DataFrame({"word": WORDS, "year": range(2000, 2000 + N)})
    encoded = {"csv": _csv, "tsv": lambda f: _csv(f, "\t"), "parquet": _parquet}[suffix](metadata)
    result = load_vectors(
        {f"meta.{suffix}": encoded, "vectors.npy": _npy(matrix)}, text_column="word"
    )
    _assert_same_vectors(result, matrix)
    assert result.corpus.texts == tuple(WORDS)
    assert result.corpus.metadata["year"].tolist() == list(range(2000, 2000 + N))
    assert result.source == f"vectors.npy + meta.{suffix}"


def test_parquet_with_one_list_column_and_metadata():
    matrix = _matrix()
    frame = pd.DataFrame({"title": WORDS, "embedding": list(matrix), "score": np.arange(N) / 2})
    result = load_vectors({"items.parquet": _parquet(frame)}, text_column="title")
    _assert_same_vectors(result, matrix)
    assert result.corpus.texts == tuple(WORDS)
    assert list(result.corpus.metadata.columns) == ["score"]  # numbers stay metadata here


def test_csv_with_json_list_column():
    matrix = _matrix()
    frame = pd.DataFrame({"word": WORDS, "vector": [json.dumps(row.tolist()) for row in matrix]})
    result = load_vectors({"items.csv": _csv(frame)})
    _assert_same_vectors(result, matrix)
    assert result.corpus.metadata["word"].tolist() == WORDS
    assert result.corpus.texts[0] == "item 0"


def test_csv_dim_columns_win_over_other_numeric_columns():
    matrix = _matrix()
    frame = pd.DataFrame(matrix, columns=[f"dim_{i}" for i in range(D)])
    frame.insert(0, "year", range(1990, 1990 + N))
    frame["word"] = WORDS
    result = load_vectors({"table.csv": _csv(frame)}, text_column="word")
    _assert_same_vectors(result, matrix)
    assert list(result.corpus.metadata.columns) == ["year"]


def test_csv_without_dim_names_uses_every_numeric_column():
    matrix = _matrix()
    frame = pd.DataFrame(matrix, columns=["a", "b", "c", "d"])
    frame["word"] = WORDS
    result = load_vectors({"table.csv": _csv(frame)}, text_column="word")
    _assert_same_vectors(result, matrix)
    assert result.corpus.texts == tuple(WORDS)


def test_pandas_default_header_0_to_d_is_a_header_not_a_vector():
    matrix = _matrix()
    result = load_vectors({"frame.csv": _csv(pd.DataFrame(matrix))})
    _assert_same_vectors(result, matrix)


def test_headerless_numeric_csv():
    matrix = _matrix()
    text = "\n".join(",".join(repr(float(v)) for v in row) for row in matrix)
    _assert_same_vectors(load_vectors({"plain.csv": text.encode()}), matrix)


def test_projector_pair_with_multi_column_metadata():
    matrix = _matrix()
    metadata = pd.DataFrame({"word": WORDS, "kind\tof": ["fruit\tsweet"] * N})
    vectors_tsv, metadata_tsv = projector_files(matrix, metadata)
    result = load_vectors(
        {"vectors.tsv": vectors_tsv, "metadata.tsv": metadata_tsv}, text_column="word"
    )
    _assert_same_vectors(result, matrix)
    assert result.corpus.texts == tuple(WORDS)
    assert result.corpus.metadata.to_dict("list") == {"kind of": ["fruit sweet"] * N}


def test_projector_pair_with_one_column_metadata_has_no_header():
    matrix = _matrix()
    vectors_tsv, metadata_tsv = projector_files(matrix, pd.DataFrame({"word": WORDS}))
    assert metadata_tsv.decode().splitlines() == WORDS
    result = load_vectors(
        {"metadata.tsv": metadata_tsv, "vectors.tsv": vectors_tsv}, text_column="label"
    )
    _assert_same_vectors(result, matrix)
    assert result.corpus.texts == tuple(WORDS)


def test_crlf_and_blank_lines_in_vectors_tsv():
    matrix = np.array([[1.0, 2.0], [3.0, 4.0], [0.5, -1.0]])
    data = b"1\t2\r\n\r\n3\t4\r\n0.5\t-1\r\n"
    _assert_same_vectors(load_vectors({"vectors.tsv": data}), matrix)


def test_blank_labels_become_item_names():
    frame = pd.DataFrame({"word": ["a", "", None, "  ", "e", "f"]})
    result = load_vectors({"v.npy": _npy(_matrix()), "meta.csv": _csv(frame)}, text_column="word")
    assert result.corpus.texts == ("a", "item 1", "item 2", "item 3", "e", "f")


def test_an_item_column_in_metadata_is_kept():
    frame = pd.DataFrame({"item": WORDS})
    result = load_vectors({"v.npy": _npy(_matrix()), "meta.csv": _csv(frame)})
    assert result.corpus.texts[1] == "item 1"
    assert result.corpus.metadata["item"].tolist() == WORDS


def test_duplicate_metadata_names_across_files_are_kept_apart():
    matrix = _matrix()
    frame = pd.DataFrame({"word": WORDS, "vector": list(matrix)})
    metadata = pd.DataFrame({"word": [w.upper() for w in WORDS]})
    result = load_vectors({"v.parquet": _parquet(frame), "meta.csv": _csv(metadata)})
    assert result.corpus.metadata["word"].tolist() == WORDS
    assert result.corpus.metadata["word (meta.csv)"].tolist()[0] == "APPLE"


# Refusals ------------------------------------------------------------------------------------


def _hostile_object_npy() -> tuple[bytes, list]:
    """A real pickle inside a .npy: an object array whose element runs code when unpickled."""
    ran: list[str] = []

    class Payload:
        def __reduce__(self):
            return (ran.append, ("code ran",))

    array = np.empty((2, 2), dtype=object)
    array[:] = [[Payload(), 1.0], [2.0, 3.0]]
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue(), ran


def test_pickled_object_array_disguised_as_npy_is_refused():
    data, ran = _hostile_object_npy()
    with pytest.raises(VectorsError, match=r"x\.npy is not a plain numeric \.npy array \(pickled"):
        load_vectors({"x.npy": data})
    assert ran == []


def test_raw_pickle_renamed_npy_is_refused():
    data = pickle.dumps(_matrix())
    with pytest.raises(VectorsError, match=r"x\.npy is not a \.npy file .*pickles"):
        load_vectors({"x.npy": data})


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({}, "Upload one vectors file, optionally with one metadata file; got 0 files"),
        ({"a.npy": b"1", "b.csv": b"1", "c.csv": b"1"}, "got 3 files"),
        ({"vectors.json": b"[]"}, r"vectors\.json is not a supported .* \.npy, \.parquet"),
        ({"a.tsv": b"1\t2", "b.tsv": b"a"}, "Cannot tell which of 'a.tsv', 'b.tsv' holds"),
        ({"a.npy": b"", "b.npy": b""}, "Cannot tell which"),
        ({"x.npy": b""}, r"x\.npy is empty"),
        ({"v.tsv": b"  \n\n"}, r"v\.tsv is empty"),
        ({"v.npy": b"PK\x03\x04zip"}, r"v\.npy is not a \.npy file"),
        ({"v.npy": _npy(_matrix())[:-6]}, r"v\.npy is not a readable \.npy file \(EOF"),
        ({"v.npy": _npy(np.array([["a", "b"]]))}, r"holds values of type <U1; .* numbers"),
        ({"v.npy": _npy(np.ones(5))}, r"array of shape \(5,\); vectors must be a 2-D array"),
        ({"v.npy": _npy(np.ones((2, 3, 4)))}, r"shape \(2, 3, 4\)"),
        ({"v.npy": _npy(np.ones((0, 4)))}, r"has no vectors \(0 rows\)"),
        ({"v.npy": _npy(np.ones((5, 1)))}, "has 1 value per row; vectors need at least 2"),
        ({"t.csv": b"name,size\nab,3\ncd,4\n"}, "has 1 value per row"),
        ({"t.csv": b"name,kind\nab,x\ncd,y\n"}, r"has no vectors: .* columns found: 'name'"),
        (
            {"t.parquet": _parquet(pd.DataFrame({"a": [[1.0, 2.0]], "b": [[3.0, 4.0]]}))},
            r"has 2 columns of lists \('a', 'b'\)",
        ),
    ],
)
def test_refusals(files, message):
    with pytest.raises(VectorsError, match=message):
        load_vectors(files)


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (
            {"vectors.tsv": _tsv_rows([[1, 2, 3, 4], [1, 2, 3, 4], [1, 2, 3, 4, 5]])},
            r"vectors\.tsv row 3 has 5 values, expected 4",
        ),
        (
            {"t.parquet": _parquet(pd.DataFrame({"v": [[1.0, 2.0], [1.0, 2.0, 3.0]]}))},
            r"t\.parquet row 2 has 3 values, expected 2",
        ),
        (
            {"t.csv": _csv(pd.DataFrame({"v": ["[1, 2]", "[3]", "[4, 5]"]}))},
            r"t\.csv row 2 has 1 values, expected 2",
        ),
    ],
)
def test_ragged_rows_are_named(files, message):
    with pytest.raises(VectorsError, match=message):
        load_vectors(files)


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"vectors.tsv": _tsv_rows([[1, 2], [3, "abc"]])}, r"row 2, value 2 is 'abc', not a num"),
        ({"t.csv": _csv(pd.DataFrame({"v": ["[1, 2]", '[3, "x"]']}))}, r"row 2, value 2 is 'x'"),
        ({"t.csv": _csv(pd.DataFrame({"v": ["[1, 2]", "[3, oops]"]}))}, "row 2: .* not a JSON"),
        ({"t.csv": _csv(pd.DataFrame({"v": ["[1, 2]", None]}))}, r"row 2 has no vector"),
        (
            {"t.csv": b"dim_0,dim_1\n1,2\n3,n/a\n"},
            r"t\.csv column 'dim_1', row 2 is 'n/a', not a number",
        ),
    ],
)
def test_non_numeric_values_are_named(files, message):
    with pytest.raises(VectorsError, match=message):
        load_vectors(files)


def test_nan_and_inf_rows_are_listed_first_few():
    matrix = np.ones((12, 3))
    bad_rows = [1, 2, 4, 6, 8, 10, 11]
    matrix[bad_rows[::2], 0] = np.nan
    matrix[bad_rows[1::2], 2] = np.inf
    with pytest.raises(VectorsError, match=r"NaN or infinite values in rows 2, 3, 5, 7, 9 \(and 2"):
        load_vectors({"v.npy": _npy(matrix)})


def test_values_beyond_float32_count_as_infinite():
    matrix = np.ones((3, 2))
    matrix[1, 1] = 1e39
    with pytest.raises(VectorsError, match=r"NaN or infinite values in row 2;.*float32 range"):
        load_vectors({"v.npy": _npy(matrix)})


def test_missing_cells_are_nan_rows():
    with pytest.raises(VectorsError, match=r"NaN or infinite values in row 2;"):
        load_vectors({"t.csv": b"dim_0,dim_1,word\n1,2,a\n3,,b\n"})


def test_zero_vectors_are_refused():
    matrix = _matrix()
    matrix[[0, 4]] = 0
    with pytest.raises(VectorsError, match=r"all-zero vectors in rows 1, 5; a zero vector"):
        load_vectors({"v.npy": _npy(matrix)})


def test_row_count_mismatch_names_both_files():
    matrix = np.random.default_rng(0).standard_normal((100, 3))
    vectors_tsv, _ = projector_files(matrix, pd.DataFrame({"w": range(100)}))
    metadata_tsv = _tsv_rows([["word", "kind"]] + [[f"w{i}", "k"] for i in range(99)])
    with pytest.raises(VectorsError, match=r"vectors\.tsv has 100 rows but metadata\.tsv has 99"):
        load_vectors({"vectors.tsv": vectors_tsv, "metadata.tsv": metadata_tsv})


def test_one_column_metadata_with_a_header_gets_a_hint():
    vectors_tsv, _ = projector_files(_matrix(), pd.DataFrame({"w": WORDS}))
    metadata_tsv = "\n".join(["word", *WORDS]).encode()
    with pytest.raises(VectorsError, match=r"has 7.*one-column metadata.tsv has no header row"):
        load_vectors({"vectors.tsv": vectors_tsv, "metadata.tsv": metadata_tsv})


def test_empty_metadata_file_is_a_vectors_error():
    with pytest.raises(VectorsError, match=r"meta\.csv is empty"):
        load_vectors({"v.npy": _npy(_matrix()), "meta.csv": b""})


def test_unknown_text_column_lists_the_metadata_columns():
    frame = pd.DataFrame({"word": WORDS, "year": range(N)})
    with pytest.raises(VectorsError, match=r"column 'title' not found .*: 'word', 'year'"):
        load_vectors({"v.npy": _npy(_matrix()), "meta.csv": _csv(frame)}, text_column="title")
    with pytest.raises(VectorsError, match="metadata columns: none"):
        load_vectors({"v.npy": _npy(_matrix())}, text_column="title")


def test_row_and_dimension_limits(monkeypatch):
    monkeypatch.setattr(vectors_module, "MAX_VECTOR_ROWS", 5)
    with pytest.raises(VectorsError, match="has 6 vectors; the limit here is 5"):
        load_vectors({"v.npy": _npy(_matrix())})
    monkeypatch.setattr(vectors_module, "MAX_VECTOR_ROWS", 50)
    monkeypatch.setattr(vectors_module, "MAX_DIMENSIONS", 3)
    with pytest.raises(VectorsError, match="has 4 dimensions; the limit here is 3"):
        load_vectors({"v.npy": _npy(_matrix())})


def test_exported_npy_loads_back():
    matrix = _matrix()
    _assert_same_vectors(load_vectors({"export.npy": npy_bytes(matrix)}), matrix)
