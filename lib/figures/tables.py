"""Tables the pages show beside their figures: documents of a corpus, ranked words.

Plain pandas frames from a `Corpus` and row ids; no Streamlit. One shape everywhere: a
document table starts with the row id (`id`), then the caller's extra columns in the order
given, the text, the corpus's metadata columns and, when given, each row's cluster name.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from lib.errors import ParameterError
from lib.ingest.corpus import Corpus
from lib.query.words import WordHit

ID_COLUMN = "id"
TEXT_COLUMN = "text"
CLUSTER_COLUMN = "cluster"
INPUT_COLUMN = "question word"
FIXED_COLUMNS = (ID_COLUMN, TEXT_COLUMN, CLUSTER_COLUMN)


def document_table(
    corpus: Corpus,
    rows: Sequence[int],
    *,
    cluster_names: Sequence[str] | None = None,
    **columns: Sequence,
) -> pd.DataFrame:
    """The documents `rows` of `corpus`: id, the extra `columns`, text, metadata (, cluster).

    `cluster_names` and every extra column hold one value per row, in the order of `rows`.
    An extra column may not reuse the name of a fixed column (id, text, cluster) or of a
    metadata column.
    """
    rows = [int(row) for row in rows]
    bad = [row for row in rows if not 0 <= row < len(corpus)]
    if bad:
        raise ParameterError(
            f"document_table rows must be ids in [0, {len(corpus) - 1}]; got {bad[0]} instead."
        )
    extras = {"cluster_names": cluster_names} if cluster_names is not None else {}
    for name, values in {**extras, **columns}.items():
        if len(values) != len(rows):
            raise ParameterError(
                f"document_table column '{name}' must have one value per row ({len(rows)}); "
                f"got {len(values)} instead."
            )
    table = corpus.metadata.iloc[rows].reset_index(drop=True).rename(columns=_metadata_name)
    clashes = sorted({ID_COLUMN, TEXT_COLUMN, CLUSTER_COLUMN, *table.columns}.intersection(columns))
    if clashes:
        raise ParameterError(
            f"document_table extra columns must have new names; got {clashes} instead."
        )
    table.insert(0, TEXT_COLUMN, [corpus.texts[row] for row in rows])
    for position, (name, values) in enumerate({ID_COLUMN: rows, **columns}.items()):
        table.insert(position, name, np.asarray(values))
    if cluster_names is not None:
        table[CLUSTER_COLUMN] = list(cluster_names)
    return table


def _metadata_name(name: object) -> object:
    """A metadata column keeps its name unless a fixed column has it ("id" → "id (metadata)")."""
    return f"{name} (metadata)" if name in FIXED_COLUMNS else name


def hits_table(hits: Sequence[WordHit], show_inputs: bool = True) -> pd.DataFrame:
    """Rank, word and cosine of ranked words (and, with `show_inputs`, which the question used)."""
    table = pd.DataFrame(
        {
            "rank": range(1, len(hits) + 1),
            "word": [hit.word for hit in hits],
            "cosine": [hit.score for hit in hits],
        }
    )
    if show_inputs:
        table[INPUT_COLUMN] = [hit.is_input for hit in hits]
    return table
