"""Downloads: the map as a table (CSV, Parquet), the figure (HTML, PNG), vectors (TSV, .npy).

Everything returns bytes for a download button; nothing here imports Streamlit. CSV cells that a
spreadsheet would run as a formula are neutralised (OWASP "CSV injection").
"""

from __future__ import annotations

import importlib.util
import io
import logging
import re
from collections.abc import Mapping

import numpy as np
import pandas as pd

from lib.errors import ParameterError
from lib.ingest.corpus import Corpus

logger = logging.getLogger(__name__)

AXES = ("x", "y", "z")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
METADATA_SUFFIX = " (metadata)"
PNG_SIZE = (1200, 800)
_TSV_BREAKS = re.compile(r"\r\n|[\t\r\n]")


def map_table(
    corpus: Corpus,
    coords: np.ndarray,
    cluster_labels: np.ndarray,
    cluster_names: Mapping[int, str],
) -> pd.DataFrame:
    """One row per point: id, text, metadata, x, y[, z], cluster id and cluster name.

    `id` is the row's `#id` in query expressions (its position in the corpus), so a row of the
    CSV can be asked about. A metadata column named like one of ours gets METADATA_SUFFIX, so no
    column is lost.
    """
    coords = np.asarray(coords)
    labels = np.asarray(cluster_labels)
    n = len(corpus)
    if coords.ndim != 2 or coords.shape[0] != n or coords.shape[1] not in (2, 3):
        raise ParameterError(
            f"map_table needs coordinates of shape ({n}, 2) or ({n}, 3) for {n} documents; "
            f"got {coords.shape}."
        )
    if labels.shape != (n,):
        raise ParameterError(
            f"map_table needs one cluster label per document ({n}); got shape {labels.shape}."
        )
    unnamed = sorted(set(labels.tolist()) - set(cluster_names))
    if unnamed:
        raise ParameterError(f"cluster_names has no name for cluster ids {unnamed}.")
    axes = AXES[: coords.shape[1]]
    ours = {"id", "text", *axes, "cluster", "cluster_label"}
    metadata = corpus.metadata.reset_index(drop=True)
    metadata = metadata.rename(
        columns={name: f"{name}{METADATA_SUFFIX}" for name in metadata.columns if name in ours}
    )
    computed = {axis: coords[:, i] for i, axis in enumerate(axes)}
    computed["cluster"] = labels.astype(np.int64)
    computed["cluster_label"] = [cluster_names[int(label)] for label in labels]
    return pd.concat(
        [
            pd.DataFrame({"id": np.arange(n), "text": list(corpus.texts)}),
            metadata,
            pd.DataFrame(computed),
        ],
        axis=1,
    )


def neutralise_formula(value: object) -> object:
    """Prefix a string that a spreadsheet would evaluate (=, +, -, @, tab, CR) with a quote."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def to_csv_bytes(frame: pd.DataFrame) -> bytes:
    """RFC 4180 CSV (UTF-8, no BOM, CRLF rows, no index); text cells and names formula-neutralised.

    Only text is touched: numeric columns keep their values, negative numbers included.
    """
    safe = frame.rename(columns=lambda name: neutralise_formula(str(name)))
    text_columns = {
        name: safe[name].map(neutralise_formula)
        for name in safe.columns
        if _holds_text(safe[name].dtype)
    }
    return safe.assign(**text_columns).to_csv(index=False, lineterminator="\r\n").encode("utf-8")


def to_parquet_bytes(frame: pd.DataFrame) -> bytes:
    """Parquet (pyarrow, no index); object columns Arrow cannot type are stored as text."""
    buffer = io.BytesIO()
    _arrow_safe(frame).to_parquet(buffer, index=False, engine="pyarrow")
    return buffer.getvalue()


def figure_html_bytes(figure) -> bytes:
    """A standalone interactive HTML page (plotly.js embedded, works offline).

    Plotly escapes '<', '>' and '/' inside the embedded JSON, so user text cannot close the script.
    """
    import plotly.io as pio

    return pio.to_html(figure, include_plotlyjs=True, full_html=True).encode("utf-8")


def png_export_available() -> bool:
    """Whether `kaleido` is importable, so a page can offer (or explain the lack of) PNG export."""
    return importlib.util.find_spec("kaleido") is not None


def figure_png_bytes(
    figure, *, width: int = PNG_SIZE[0], height: int = PNG_SIZE[1]
) -> bytes | None:
    """A static PNG, or None when it cannot be made here.

    Needs the `kaleido` package (>= 1.0, which drives a local Chrome/Chromium); without it, or
    when the browser fails, this returns None and the page should offer HTML instead.
    """
    if not png_export_available():
        logger.info("PNG export unavailable: the 'kaleido' package is not installed")
        return None
    import plotly.io as pio

    try:
        return pio.to_image(figure, format="png", width=width, height=height, scale=2)
    except Exception as error:  # kaleido raises its own types (no browser, timeout, crash)
        logger.warning("PNG export failed, offering HTML only: %s", error)
        return None


def projector_files(vectors: np.ndarray, metadata: pd.DataFrame) -> tuple[bytes, bytes]:
    """vectors.tsv and metadata.tsv for projector.tensorflow.org.

    vectors.tsv: one row per vector, tab-separated, no header, float32-exact (9 digits).
    metadata.tsv: a header row only when there is more than one column (the Projector's rule);
    tabs and line breaks inside cells become spaces, missing values empty.
    """
    matrix = _matrix(vectors, "projector_files")
    if len(metadata) != len(matrix):
        raise ParameterError(
            f"projector_files got {len(matrix)} vectors but {len(metadata)} metadata rows; "
            "they must match."
        )
    if metadata.shape[1] == 0:
        raise ParameterError("projector_files needs at least one metadata column (the labels).")
    vector_buffer = io.StringIO()
    np.savetxt(vector_buffer, matrix.astype(np.float32), fmt="%.9g", delimiter="\t")
    lines = [
        "\t".join(_tsv_cell(value) for value in row)
        for row in metadata.itertuples(index=False, name=None)
    ]
    if metadata.shape[1] > 1:
        lines.insert(0, "\t".join(_tsv_cell(name) for name in metadata.columns))
    metadata_text = "".join(line + "\n" for line in lines)
    return vector_buffer.getvalue().encode("utf-8"), metadata_text.encode("utf-8")


def npy_bytes(vectors: np.ndarray) -> bytes:
    """The array as a .npy file (numbers only: readable with np.load(..., allow_pickle=False))."""
    buffer = io.BytesIO()
    np.save(buffer, _matrix(vectors, "npy_bytes"), allow_pickle=False)
    return buffer.getvalue()


def _matrix(vectors: np.ndarray, owner: str) -> np.ndarray:
    """`vectors` as a 2-D numeric array, or a ParameterError naming `owner`."""
    matrix = np.asarray(vectors)
    if matrix.ndim != 2 or matrix.dtype.kind not in "biuf":
        raise ParameterError(
            f"{owner} needs a 2-D numeric array (rows × dimensions); got shape {matrix.shape} "
            f"of dtype {matrix.dtype}."
        )
    return matrix


def _holds_text(dtype: object) -> bool:
    """Whether a column may hold strings (object, str or categorical dtype)."""
    return pd.api.types.is_object_dtype(dtype) or isinstance(
        dtype, pd.StringDtype | pd.CategoricalDtype
    )


def _tsv_cell(value: object) -> str:
    """A value as one TSV field: missing → '', tabs and line breaks → spaces."""
    if pd.api.types.is_scalar(value) and pd.isna(value):
        return ""
    return _TSV_BREAKS.sub(" ", str(value))


def _arrow_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Object columns Arrow cannot type (mixed numbers and strings, say) converted to text."""
    import pyarrow as pa

    converted = {}
    for name in frame.columns:
        if not pd.api.types.is_object_dtype(frame[name].dtype):
            continue
        try:
            pa.array(frame[name], from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            converted[name] = frame[name].map(_text_or_missing)
    if converted:
        logger.info("Stored columns %s as text for Parquet", sorted(converted))
    return frame.assign(**converted)


def _text_or_missing(value: object) -> object:
    """str(value), keeping missing values missing."""
    if pd.api.types.is_scalar(value) and pd.isna(value):
        return None
    return str(value)
