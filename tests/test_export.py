"""Downloads: tables parse back exactly, formulas are neutralised, figures keep every point."""

from __future__ import annotations

import base64
import io
import json

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from lib.errors import ParameterError
from lib.figures.map import ColorBy, hover_labels, map_figure
from lib.ingest.corpus import corpus_from_frame
from lib.query.expressions import parse_expression
from lib.share import export
from lib.share.export import (
    figure_html_bytes,
    figure_png_bytes,
    map_table,
    npy_bytes,
    projector_files,
    to_csv_bytes,
    to_parquet_bytes,
)

HOSTILE = [
    '=HYPERLINK("http://x","click")',
    "+1",
    "-2+3",
    "@SUM(A1)",
    "\tTAB",
    "\rCR",
    "</script><script>alert(1)</script>",
    'plain, with comma and "quotes"\nand a newline',
]
N = len(HOSTILE)


def _corpus():
    frame = pd.DataFrame(
        {
            "text": HOSTILE,
            "raw": HOSTILE,
            "=cmd": ["=1+1"] * N,
            "delta": np.linspace(-3.5, 2.0, N),
            "x": ["metadata named x"] * N,
        }
    )
    return corpus_from_frame(frame, "text", source="hostile.csv")


def _coords(dims: int = 2) -> np.ndarray:
    return np.random.default_rng(5).standard_normal((N, dims)).astype(np.float32) * 10


def _table(dims: int = 2) -> pd.DataFrame:
    labels = np.array([0, 1, -1, 0, 1, -1, 0, 1])
    return map_table(_corpus(), _coords(dims), labels, {-1: "unclustered", 0: "=a", 1: "b"})


def test_map_table_has_every_point_column_and_keeps_clashing_metadata():
    table = _table(3)
    assert list(table.columns) == [
        "id",
        "text",
        "raw",
        "=cmd",
        "delta",
        "x (metadata)",
        "x",
        "y",
        "z",
        "cluster",
        "cluster_label",
    ]
    assert table["text"].tolist() == [text.strip() for text in HOSTILE]  # corpus texts are stripped
    assert table["raw"].tolist() == HOSTILE
    np.testing.assert_array_equal(table[["x", "y", "z"]].to_numpy(), _coords(3))
    assert table["cluster_label"].tolist()[:3] == ["=a", "b", "unclustered"]
    assert table["x (metadata)"].eq("metadata named x").all()


@pytest.mark.parametrize(
    ("coords", "labels", "names", "message"),
    [
        (np.zeros((N, 4)), np.zeros(N), {0: "a"}, r"shape \(8, 2\) or \(8, 3\)"),
        (np.zeros((N - 1, 2)), np.zeros(N), {0: "a"}, r"got \(7, 2\)"),
        (np.zeros((N, 2)), np.zeros(N - 1), {0: "a"}, r"one cluster label per document \(8\)"),
        (np.zeros((N, 2)), np.arange(N), {0: "a"}, r"no name for cluster ids \[1, 2"),
    ],
)
def test_map_table_refuses_mismatched_inputs(coords, labels, names, message):
    with pytest.raises(ParameterError, match=message):
        map_table(_corpus(), coords, labels, names)


def test_csv_parses_back_with_exact_coordinates_and_neutralised_formulas():
    table = _table()
    parsed = pd.read_csv(io.BytesIO(to_csv_bytes(table)), keep_default_na=False)

    assert len(parsed) == N
    assert list(parsed.columns) == ["id", "text", "raw", "'=cmd", "delta", *table.columns[5:]]
    for axis in ("x", "y"):
        np.testing.assert_array_equal(parsed[axis].to_numpy(np.float32), table[axis].to_numpy())
    np.testing.assert_array_equal(parsed["delta"].to_numpy(), table["delta"].to_numpy())
    assert (parsed["delta"] < 0).sum() == 5  # negative numbers stay numbers, unquoted
    assert parsed["cluster"].tolist() == table["cluster"].tolist()
    assert parsed["raw"].tolist() == [
        "'" + HOSTILE[0],
        "'+1",
        "'-2+3",
        "'@SUM(A1)",
        "'\tTAB",
        "'\rCR",
        HOSTILE[6],
        HOSTILE[7],
    ]
    assert parsed["text"].tolist()[3:6] == ["'@SUM(A1)", "TAB", "CR"]
    assert parsed["'=cmd"].eq("'=1+1").all()
    assert parsed["cluster_label"].tolist()[:3] == ["'=a", "b", "unclustered"]


def test_csv_rows_carry_the_id_that_expressions_use():
    """Rows could not be matched to `#id` in expressions: the CSV had no row id."""
    corpus = _corpus()
    parsed = pd.read_csv(io.BytesIO(to_csv_bytes(_table())), keep_default_na=False)
    ((_, term),) = parse_expression("#6").terms
    row = parsed[parsed["id"] == term.value]
    assert parsed["id"].tolist() == list(range(N))
    assert row["text"].tolist() == [corpus.texts[6]]


def test_csv_is_plain_utf8_without_index():
    frame = pd.DataFrame({"text": ["naïve café", "日本語"], "n": [-1, 2]})
    data = to_csv_bytes(frame)
    assert not data.startswith(b"\xef\xbb\xbf")
    assert data.decode("utf-8") == "text,n\r\nnaïve café,-1\r\n日本語,2\r\n"


def test_parquet_round_trip_is_exact():
    table = _table(3)
    parsed = pd.read_parquet(io.BytesIO(to_parquet_bytes(table)))
    pd.testing.assert_frame_equal(parsed, table)
    assert parsed["x"].dtype == np.float32


def test_parquet_stores_untypeable_object_columns_as_text():
    frame = pd.DataFrame({"mixed": pd.Series([1, "two", None], dtype=object), "n": [1, 2, 3]})
    parsed = pd.read_parquet(io.BytesIO(to_parquet_bytes(frame)))
    assert parsed["mixed"].tolist()[:2] == ["1", "two"]
    assert pd.isna(parsed["mixed"].iloc[2])
    assert parsed["n"].tolist() == [1, 2, 3]


def _figure_traces(html: str) -> list[dict]:
    """The trace list passed to Plotly.newPlot in an exported page."""
    start = html.index("Plotly.newPlot(")
    opening = html.index("[", start)
    traces, _ = json.JSONDecoder().raw_decode(html[opening:])
    return traces


def _decode(values: list | dict) -> np.ndarray:
    """Plotly's JSON arrays: plain lists or base64 typed arrays {"dtype", "bdata"}."""
    if isinstance(values, list):
        return np.asarray(values, dtype=np.float64)
    return np.frombuffer(base64.b64decode(values["bdata"]), dtype=np.dtype(values["dtype"]))


def test_html_contains_every_point_and_no_live_user_script():
    corpus = _corpus()
    coords = _coords()
    groups = np.array(["a", "b", "c", "a", "b", "c", "a", "b"])
    figure = map_figure(
        coords, hover=hover_labels(corpus.texts), color=ColorBy("group", groups), title="map"
    )
    html = figure_html_bytes(figure).decode("utf-8")

    traces = _figure_traces(html)
    assert len(traces) == 3  # one per category: every trace's points must be counted
    xs = np.concatenate([_decode(trace["x"]) for trace in traces])
    np.testing.assert_array_equal(np.sort(xs.astype(np.float32)), np.sort(coords[:, 0]))
    hover = [text for trace in traces for text in trace["hovertext"]]
    assert sum("&lt;/script&gt;&lt;script&gt;alert(1)" in text for text in hover) == 1
    assert "<script>alert" not in html
    assert html.startswith("<!DOCTYPE html>") or html.lower().startswith("<!doctype html>")
    assert "<script src=" not in html  # plotly.js is embedded: the file works offline
    assert len(html) > 1_000_000


def test_html_escapes_raw_user_text_even_without_hover_escaping():
    figure = go.Figure(go.Scatter(x=[1, 2], y=[3, 4], hovertext=["</script><img src=x>", "b"]))
    html = figure_html_bytes(figure).decode("utf-8")
    assert "</script><img" not in html
    assert _figure_traces(html)[0]["hovertext"] == ["</script><img src=x>", "b"]


def test_png_is_none_without_kaleido(monkeypatch):
    monkeypatch.setattr(export, "png_export_available", lambda: False)
    assert figure_png_bytes(go.Figure()) is None


def test_png_is_none_when_the_renderer_fails(monkeypatch):
    import plotly.io as pio

    def broken(*args, **kwargs):
        raise RuntimeError("no Chrome found")

    monkeypatch.setattr(export, "png_export_available", lambda: True)
    monkeypatch.setattr(pio, "to_image", broken)
    assert figure_png_bytes(go.Figure()) is None


def test_png_passes_size_to_the_renderer(monkeypatch):
    import plotly.io as pio

    calls = []
    monkeypatch.setattr(export, "png_export_available", lambda: True)
    monkeypatch.setattr(pio, "to_image", lambda fig, **kw: calls.append(kw) or b"\x89PNG")
    assert figure_png_bytes(go.Figure(), width=300, height=200) == b"\x89PNG"
    assert calls == [{"format": "png", "width": 300, "height": 200, "scale": 2}]


@pytest.mark.skipif(not export.png_export_available(), reason="kaleido is not installed")
def test_png_real_render_when_kaleido_is_installed():
    png = figure_png_bytes(go.Figure(go.Scatter(x=[1, 2], y=[3, 4])), width=200, height=100)
    assert png is not None and png.startswith(b"\x89PNG\r\n\x1a\n")


def test_projector_files_keep_rows_and_columns():
    vectors = np.random.default_rng(1).standard_normal((N, 5)).astype(np.float32)
    metadata = pd.DataFrame({"raw": HOSTILE, "cluster": [0, 1, 2, 0, 1, 2, 0, None]})
    vector_tsv, metadata_tsv = projector_files(vectors, metadata)

    vector_lines = vector_tsv.decode().splitlines()
    assert len(vector_lines) == N
    assert all(len(line.split("\t")) == 5 for line in vector_lines)
    parsed = np.loadtxt(io.StringIO(vector_tsv.decode()), delimiter="\t", dtype=np.float32)
    np.testing.assert_array_equal(parsed, vectors)

    metadata_lines = metadata_tsv.decode().split("\n")
    assert metadata_lines[-1] == ""  # file ends with one newline
    rows = [line.split("\t") for line in metadata_lines[:-1]]
    assert rows[0] == ["raw", "cluster"]
    assert len(rows) == N + 1 and all(len(row) == 2 for row in rows)
    assert rows[5] == [" TAB", "1.0"]
    assert rows[8] == ['plain, with comma and "quotes" and a newline', ""]


def test_projector_metadata_with_one_column_has_no_header():
    _, metadata_tsv = projector_files(np.eye(3), pd.DataFrame({"word": ["a", "b\tc", "d"]}))
    assert metadata_tsv == b"a\nb c\nd\n"


@pytest.mark.parametrize(
    ("vectors", "metadata", "message"),
    [
        (np.eye(3), pd.DataFrame({"a": [1, 2]}), "got 3 vectors but 2 metadata rows"),
        (np.eye(3), pd.DataFrame(index=range(3)), "at least one metadata column"),
        (np.ones(3), pd.DataFrame({"a": [1, 2, 3]}), r"2-D numeric array .* shape \(3,\)"),
    ],
)
def test_projector_files_refuse_bad_input(vectors, metadata, message):
    with pytest.raises(ParameterError, match=message):
        projector_files(vectors, metadata)


def test_npy_round_trip_without_pickle():
    vectors = np.random.default_rng(2).standard_normal((4, 3)).astype(np.float32)
    loaded = np.load(io.BytesIO(npy_bytes(vectors)), allow_pickle=False)
    assert loaded.dtype == np.float32
    np.testing.assert_array_equal(loaded, vectors)


def test_npy_refuses_object_arrays():
    with pytest.raises(ParameterError, match="npy_bytes needs a 2-D numeric array"):
        npy_bytes(np.array([[1, "a"]], dtype=object))


def test_neutralise_formula_touches_only_dangerous_strings():
    assert export.neutralise_formula("=1") == "'=1"
    assert export.neutralise_formula("a=1") == "a=1"
    assert export.neutralise_formula(-2) == -2
    assert export.neutralise_formula("") == ""
