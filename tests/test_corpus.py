"""lib.ingest.corpus: every format, decoding, guessing, counting, hashing and every refusal."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from lib.errors import CorpusError, ParameterError
from lib.ingest import corpus as corpus_module
from lib.ingest.corpus import (
    MAX_TEXT_CHARS,
    Corpus,
    corpus_from_frame,
    corpus_from_pasted,
    guess_text_column,
    list_samples,
    load_corpus,
    load_sample,
    read_table,
)

TEXTS = ["Hello, world", 'She said "hi"', "naïve café über", "tabs\tand more"]
LABELS = ["greeting", "quote", "food", "format"]
SCORES = [1.5, 2.0, -3.25, 0.0]


def _reference_frame() -> pd.DataFrame:
    return pd.DataFrame({"text": TEXTS, "label": LABELS, "score": SCORES})


def _encode(file_format: str) -> bytes:
    """The reference frame written in `file_format` by pandas/pyarrow, not by our reader."""
    frame = _reference_frame()
    if file_format == "parquet":
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False)
        return buffer.getvalue()
    writers = {
        "csv": lambda: frame.to_csv(index=False),
        "tsv": lambda: frame.to_csv(index=False, sep="\t"),
        "txt": lambda: "\n".join(TEXTS) + "\n",
        "jsonl": lambda: frame.to_json(orient="records", lines=True, force_ascii=False),
        "json": lambda: frame.to_json(orient="records", force_ascii=False),
    }
    return writers[file_format]().encode("utf-8")


@pytest.mark.parametrize("file_format", ["csv", "tsv", "jsonl", "json", "parquet"])
def test_table_formats_round_trip_texts_and_metadata(file_format: str) -> None:
    corpus = load_corpus(_encode(file_format), filename=f"docs.{file_format.upper()}")
    assert corpus.texts == tuple(TEXTS)
    assert corpus.text_column == "text"
    assert corpus.source == f"docs.{file_format.upper()}"
    assert list(corpus.metadata.columns) == ["label", "score"]
    assert corpus.metadata["label"].tolist() == LABELS
    assert corpus.metadata["score"].tolist() == SCORES
    assert isinstance(corpus.metadata.index, pd.RangeIndex)
    assert (corpus.n_blank_dropped, corpus.n_duplicates, corpus.n_truncated) == (0, 0, 0)


def test_txt_is_one_document_per_line() -> None:
    corpus = load_corpus(b"first line\r\n\r\n  second line  \nthird\n", filename="notes.txt")
    assert corpus.texts == ("first line", "second line", "third")
    assert corpus.text_column == "text"
    assert corpus.n_blank_dropped == 1
    assert corpus.metadata.shape == (3, 0)


def test_txt_round_trips_reference_texts() -> None:
    assert load_corpus(_encode("txt"), filename="docs.txt").texts == tuple(TEXTS)


def test_csv_quoted_multiline_field_and_duplicate_header() -> None:
    data = b'text,text,id\n"line one\nline two",x,007\nplain,y,8\n'
    frame = read_table(data, "multi.csv")
    assert list(frame.columns) == ["text", "text.1", "id"]
    assert frame["text"].tolist() == ["line one\nline two", "plain"]
    assert frame["id"].tolist() == [7, 8]
    assert frame.attrs["encoding"] == "utf-8"


def test_csv_empty_fields_are_missing_and_header_names_stripped() -> None:
    frame = read_table(b"text , n\na,\nb,2\n", "gaps.csv")
    assert list(frame.columns) == ["text", "n"]
    assert frame["n"].isna().tolist() == [True, False]
    assert frame["n"].iloc[1] == 2


def test_parquet_named_index_becomes_a_column() -> None:
    buffer = io.BytesIO()
    _reference_frame().set_axis(pd.Index([10, 11, 12, 13], name="doc_id")).to_parquet(buffer)
    corpus = load_corpus(buffer.getvalue(), filename="indexed.parquet")
    assert corpus.metadata["doc_id"].tolist() == [10, 11, 12, 13]
    assert corpus.texts == tuple(TEXTS)


def test_guess_text_column_among_id_label_text_number() -> None:
    frame = pd.DataFrame(
        {
            "id": [f"doc-{i:04d}" for i in range(6)],
            "label": ["a", "b", "a", "b", "a", "b"],
            "content_text": [f"sentence number {i} about something else" for i in range(6)],
            "number": np.arange(6) * 1.5,
        }
    )
    assert guess_text_column(frame) == "content_text"


def test_guess_prefers_longer_column_and_name_hint() -> None:
    titles_and_bodies = pd.DataFrame(
        {"title": ["Short A", "Short B"], "body": ["a much longer body text", "another body"]}
    )
    assert guess_text_column(titles_and_bodies) == "body"
    urls_and_comments = pd.DataFrame(
        {
            "url": ["https://ex.com/a/1", "https://ex.com/a/2"],
            "comment": ["nice one here", "not so nice"],
        }
    )
    assert guess_text_column(urls_and_comments) == "comment"


def test_guess_raises_when_no_text_column() -> None:
    frame = pd.DataFrame({"a": [1, 2], "b": [0.5, 0.25]})
    with pytest.raises(CorpusError, match="No column holds text; columns found: 'a', 'b'"):
        guess_text_column(frame)


def test_blank_texts_dropped_counted_and_metadata_aligned() -> None:
    frame = pd.DataFrame(
        {
            "text": ["  alpha ", "", "   ", None, np.nan, "beta", 42],
            "label": ["x1", "x2", "x3", "x4", "x5", "x6", "x7"],
        }
    )
    corpus = corpus_from_frame(frame, source="frame")
    assert corpus.texts == ("alpha", "beta", "42")
    assert corpus.n_blank_dropped == 4
    assert corpus.metadata["label"].tolist() == ["x1", "x6", "x7"]
    assert list(corpus.metadata.index) == [0, 1, 2]
    assert len(corpus) == 3


def test_duplicates_are_kept_and_counted() -> None:
    corpus = corpus_from_pasted("x\ny\nx\nx\n")
    assert corpus.texts == ("x", "y", "x", "x")
    assert corpus.n_duplicates == 2


def test_long_texts_are_truncated_and_counted() -> None:
    long_text = "a" * (MAX_TEXT_CHARS + 5)
    corpus = corpus_from_frame(pd.DataFrame({"text": [long_text, "short"]}), source="long")
    assert len(corpus.texts[0]) == MAX_TEXT_CHARS
    assert corpus.texts[1] == "short"
    assert corpus.n_truncated == 1


def test_integer_column_names_become_str() -> None:
    frame = pd.DataFrame({0: ["some text", "other text"], 1: ["a", "b"]})
    corpus = corpus_from_frame(frame, 0, source="ints")
    assert corpus.text_column == "0"
    assert list(corpus.metadata.columns) == ["1"]
    assert guess_text_column(frame) == "0"


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        ("text,name\ncafé,Müller\n".encode("latin-1"), "cp1252"),
        (b"text,name\ncaf\xe9 \x81,M\xfcller\n", "latin-1"),
        ("text,name\ncafé,Müller\n".encode("utf-16"), "utf-16"),
        (b"\xfe\xff" + "text,name\ncafé,Müller\n".encode("utf-16-be"), "utf-16"),
        (b"\xef\xbb\xbf" + "text,name\ncafé,Müller\n".encode(), "utf-8-sig"),
    ],
    ids=["latin-1-as-cp1252", "latin-1", "utf-16-le-bom", "utf-16-be-bom", "utf-8-bom"],
)
def test_encodings_decode_to_the_right_text(data: bytes, encoding: str) -> None:
    corpus = load_corpus(data, filename="names.csv")
    assert corpus.texts[0].startswith("café")
    assert corpus.metadata["name"].tolist() == ["Müller"]
    assert corpus.text_column == "text"
    assert corpus.encoding == encoding


def _random_bytes_without_nul() -> bytes:
    return np.random.default_rng(0).integers(1, 256, size=4096, dtype=np.uint8).tobytes()


@pytest.mark.parametrize(
    ("data", "filename", "match"),
    [
        (bytes(range(256)) * 4, "x.csv", r"x\.csv does not look like a text file"),
        (_random_bytes_without_nul(), "x.csv", r"x\.csv does not look like a text file"),
        (b"\xff\xfe\x00\xd8", "x.txt", r"x\.txt does not look like a text file"),
        (b"", "x.csv", r"x\.csv is empty"),
        (b" \n\n", "x.txt", r"x\.txt is empty"),
        (b"text,label\n", "x.csv", r"x\.csv has no data rows"),
        (b"[]", "x.json", r"x\.json has no data rows"),
        (b"text,label\na,b\nc,d,e\n", "x.csv", r"line 3 has 3 fields but the header has 2"),
        (b"text\tlabel\na\n", "x.tsv", r"line 2 has 1 field but the header has 2"),
        (b'text,label\n"open,x\ny,z\n', "x.csv", r"row starting on line 2 is malformed"),
        (b"text", "x.docx", r"extension '\.docx'.*supported: \.csv, \.tsv, \.txt, \.jsonl"),
        (b"text", "README", r"README has no extension, which is unsupported; supported: \.csv"),
        (b'{"text": "a"}\n{"text": \n', "x.jsonl", r"not valid JSON at line 2, column 10"),
        (b'{"text": "a"}\n\n[1]\n', "x.jsonl", r"x\.jsonl line 3 is a JSON array"),
        (b'[{"text": "a"},\n  {"text"}]', "x.json", r"not valid JSON at line 2, column 10"),
        (b'{"text": "a"}', "x.json", r"holds a JSON object; it must hold a list of records"),
        (b'[{"text": "a"}, "b"]', "x.json", r"x\.json item 2 is a JSON string"),
        (b"PAR1 not really", "x.parquet", r"x\.parquet is not a readable Parquet file"),
    ],
    ids=[
        "binary-nul",
        "binary-no-nul",
        "bad-utf16",
        "empty",
        "blank-lines",
        "header-only",
        "empty-json",
        "too-many-fields",
        "too-few-fields",
        "unclosed-quote",
        "unknown-extension",
        "no-extension",
        "jsonl-bad-line",
        "jsonl-not-object",
        "json-bad",
        "json-not-list",
        "json-item-not-object",
        "parquet-junk",
    ],
)
def test_unreadable_files_raise_corpus_error(data: bytes, filename: str, match: str) -> None:
    with pytest.raises(CorpusError, match=match):
        read_table(data, filename)


def test_over_size_says_size_and_limit(tmp_path) -> None:
    with pytest.raises(CorpusError, match=r"big\.csv is 30 bytes; the limit is 10 bytes"):
        read_table(b"x" * 30, "big.csv", max_bytes=10)
    path = tmp_path / "big.csv"
    path.write_bytes(b"text\n" + b"y" * 2 * 1024**2)
    with pytest.raises(CorpusError, match=r"big\.csv is 2\.0 MB; the limit is 1\.0 MB"):
        load_corpus(path, max_bytes=1024**2)


def test_missing_column_lists_available() -> None:
    data = b"title,text\nHello,World\n"
    message = r"column 'body' not found in x\.csv; available: 'title', 'text'"
    with pytest.raises(CorpusError, match=message):
        load_corpus(data, filename="x.csv", text_column="body")


def test_all_blank_texts_raise() -> None:
    frame = pd.DataFrame({"text": ["", "  ", None], "label": ["a", "b", "c"]})
    with pytest.raises(CorpusError, match=r"column 'text' has no non-blank values \(3 rows read\)"):
        corpus_from_frame(frame, "text", source="blank.csv")
    with pytest.raises(CorpusError, match=r"no text to map in pasted text"):
        corpus_from_pasted("\n   \n")


def test_over_max_documents_says_count_limit_and_cli() -> None:
    data = "text\n" + "\n".join(f"doc {i}" for i in range(5))
    message = r"has 5 documents; the limit here is 3\. To map more, precompute with the command"
    with pytest.raises(CorpusError, match=message):
        corpus_from_frame(pd.DataFrame({"text": [f"doc {i}" for i in range(5)]}), source="many",
                          max_documents=3)  # fmt: skip
    read = r"many\.csv has more than 3 rows \(reading stopped there\); "
    read += r"the limit here is 3 documents\. To map more, precompute with the command"
    with pytest.raises(CorpusError, match=read):
        load_corpus(data.encode(), filename="many.csv", max_documents=3)
    assert len(load_corpus(data.encode(), filename="many.csv", max_documents=5)) == 5


def test_content_hash_is_length_prefixed_sha256() -> None:
    corpus = corpus_from_pasted("a\nb")
    expected = hashlib.sha256(b"\0" * 7 + b"\1a" + b"\0" * 7 + b"\1b").hexdigest()
    assert corpus.content_hash == expected
    assert expected == "3c9d591045bc8876f9d0399bbfb05c6a412096e906f73278f98406cd5dca86df"


def test_content_hash_depends_on_texts_only() -> None:
    base = corpus_from_frame(pd.DataFrame({"text": ["ab", "c"], "k": [1, 2]}), source="one")
    other_meta = corpus_from_frame(pd.DataFrame({"text": ["ab", "c"], "k": [9, 9]}), source="two")
    changed = corpus_from_frame(pd.DataFrame({"text": ["ab", "d"]}), source="three")
    regrouped = corpus_from_frame(pd.DataFrame({"text": ["a", "bc"]}), source="four")
    reordered = corpus_from_frame(pd.DataFrame({"text": ["c", "ab"]}), source="five")
    assert base.content_hash == other_meta.content_hash
    hashes = {base.content_hash, changed.content_hash, regrouped.content_hash}
    assert len(hashes | {reordered.content_hash}) == 4


def test_lone_surrogates_replaced_in_frames_and_refused_in_json() -> None:
    frame = pd.DataFrame({"text": ["bad \ud800 char"]}, dtype=object)
    assert corpus_from_frame(frame, source="s").texts == ("bad ? char",)
    with pytest.raises(CorpusError, match=r"s\.json contains an invalid character escape"):
        load_corpus(b'[{"text": "bad \\ud800 char"}]', filename="s.json")


def test_pasted_text() -> None:
    corpus = corpus_from_pasted("first\n\n second \r\nthird")
    assert corpus.texts == ("first", "second", "third")
    assert corpus.source == "pasted text"
    assert corpus.text_column == "text"
    assert corpus.n_blank_dropped == 1
    assert corpus.metadata.shape == (3, 0)


def test_load_corpus_from_path_and_errors(tmp_path) -> None:
    path = tmp_path / "reviews.jsonl"
    path.write_text("\n".join(json.dumps({"review": t, "stars": 5}) for t in TEXTS))
    corpus = load_corpus(path)
    assert corpus.texts == tuple(TEXTS)
    assert corpus.source == "reviews.jsonl"
    assert corpus.text_column == "review"
    assert load_corpus(str(path)).content_hash == corpus.content_hash
    with pytest.raises(CorpusError, match=r"cannot read .*missing\.csv: No such file"):
        load_corpus(tmp_path / "missing.csv")
    with pytest.raises(ParameterError, match=r"'filename' parameter of load_corpus"):
        load_corpus(b"text\nx\n")


def test_label_columns_have_2_to_50_values() -> None:
    n = 60
    frame = pd.DataFrame(
        {
            "text": [f"document {i}" for i in range(n)],
            "label": ["a", "b", "c"] * (n // 3),
            "id": list(range(n)),
            "constant": ["same"] * n,
            "stars": [1, 2, 3, 4, 5] * (n // 5),
            "tags": [["x", "y"]] * n,
        }
    )
    corpus = corpus_from_frame(frame, source="labels")
    assert corpus.label_columns() == ["label", "stars"]


def test_corpus_rejects_misaligned_metadata() -> None:
    with pytest.raises(CorpusError, match=r"metadata has 1 rows but there are 2 texts"):
        Corpus(("a", "b"), pd.DataFrame(index=range(1)), "text", "x", "hash")


def test_samples_listed_and_loaded_from_data_dir(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(corpus_module, "DATA_DIR", tmp_path)
    (tmp_path / "zoo.csv").write_text("label,text\nanimal,a cat sat\nanimal,a dog ran\n")
    (tmp_path / "alpha.csv").write_text("text,label\nx,y\n")
    (tmp_path / "notes.txt").write_text("ignored")
    (tmp_path / "lesson.csv").write_text("a,b,expected\nman,king,queen\n")
    assert list_samples() == ["alpha", "zoo"]
    corpus = load_sample("zoo")
    assert corpus.texts == ("a cat sat", "a dog ran")
    assert corpus.source == "zoo"
    assert corpus.metadata["label"].tolist() == ["animal", "animal"]
    with pytest.raises(CorpusError, match=r"unknown sample 'nope'; available: 'alpha', 'zoo'"):
        load_sample("nope")


_SAMPLES = list_samples() or [
    pytest.param(None, marks=pytest.mark.skip(reason="data/ has no sample CSV yet"))
]


@pytest.mark.parametrize("name", _SAMPLES)
def test_bundled_sample_has_real_content(name: str) -> None:
    corpus = load_sample(name)
    assert len(corpus) >= 300
    assert corpus.text_column == "text"
    assert "label" in corpus.label_columns()
    assert corpus.metadata["label"].nunique() >= 8
    assert all(corpus.texts)


def _outcome(read: Callable[[], object]) -> tuple[str, object]:
    try:
        frame = read()
    except CorpusError as error:
        return "refused", str(error)
    frame = frame[0] if isinstance(frame, tuple) else frame
    return "read", frame.to_dict("list")


_QUOTED = 'text\n"one\n\n\nvalue"\n' + "x\n" * 2  # a value over 5 lines: prefixes cut it
_PREFIX_CASES = {
    "over the cap": ("rows.txt", "a\n" * 40),
    "blank lines first": ("blank.txt", "\n" * 40 + "a\nb\n"),
    "blank lines then over": ("late.txt", "\n" * 40 + "a\n" * 5),
    "quoted value across the cut": ("quoted.csv", _QUOTED + "\n" * 30),
    "quoted, then over the cap": ("quoted-over.csv", _QUOTED + "y\n" * 30),
    "open quote after the cap": ("open.csv", "text\n" + "a\n" * 4 + '"never closed\n' * 30),
    "bad row after the cap": ("bad.jsonl", '{"text": "a"}\n' * 4 + "not json\n" * 30),
    "bad row before the cap": ("early.jsonl", '{"text": "a"}\nnot json\n' + "\n" * 30),
    "json array, one item a line": ("items.json", "[\n" + '{"text": "a"},\n' * 30 + "{}]\n"),
    "cp1252 after the prefix": ("latin.txt", "a\n\n" * 8 + "caf\xe9\n" * 30),
}


@pytest.mark.parametrize("case", _PREFIX_CASES.values(), ids=list(_PREFIX_CASES))
def test_reading_a_prefix_first_never_changes_the_outcome(case, monkeypatch):
    """read_table reads prefixes of a long file first (lib.ingest.corpus._read_text); with a cap
    of 3 rows, its outcome is the whole file's: the same frame, or the same refusal."""
    filename, text = case
    data = text.encode("cp1252")
    decoded, decode = [], corpus_module._decode
    monkeypatch.setattr(corpus_module, "_decode", lambda b, f: decoded.append(b) or decode(b, f))
    with_prefixes = _outcome(lambda: read_table(data, filename, max_rows=3))
    assert len(decoded[0]) < len(data), "a prefix is read first"
    monkeypatch.setattr(corpus_module, "_after_line_breaks", lambda data, n: len(data))
    assert with_prefixes == _outcome(lambda: read_table(data, filename, max_rows=3))
