"""lib/figures/tables.py: the one document table and the ranked-words table every page shows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lib.errors import ParameterError
from lib.figures.tables import document_table, hits_table
from lib.ingest.corpus import corpus_from_frame
from lib.query.words import WordHit


@pytest.fixture
def corpus():
    frame = pd.DataFrame(
        {
            "text": ["alpha doc", "beta doc", "gamma doc", "delta doc"],
            "label": ["a", "b", "a", "b"],
            "id": [10, 11, 12, 13],  # a metadata column named like a fixed one
        }
    )
    return corpus_from_frame(frame, "text", source="four")


def test_document_table_orders_id_extras_text_metadata_cluster(corpus):
    table = document_table(
        corpus, [2, 0], cluster_names=["c2", "c0"], cosine=np.array([0.9, 0.5], np.float32)
    )
    assert list(table.columns) == ["id", "cosine", "text", "label", "id (metadata)", "cluster"]
    assert table["id"].tolist() == [2, 0]
    assert table["text"].tolist() == ["gamma doc", "alpha doc"]
    assert table["label"].tolist() == ["a", "a"]
    assert table["id (metadata)"].tolist() == [12, 10]
    assert table["cluster"].tolist() == ["c2", "c0"]
    np.testing.assert_allclose(table["cosine"], [0.9, 0.5])
    assert table["cosine"].dtype.kind == "f"


def test_document_table_keeps_extra_columns_in_the_order_given(corpus):
    table = document_table(corpus, [1], rank=[1], score=[0.3])
    assert list(table.columns) == ["id", "rank", "score", "text", "label", "id (metadata)"]


def test_document_table_of_no_rows_has_the_columns(corpus):
    assert list(document_table(corpus, []).columns) == ["id", "text", "label", "id (metadata)"]


def test_document_table_refuses_bad_rows_and_columns(corpus):
    with pytest.raises(ParameterError, match=r"rows must be ids in \[0, 3\]; got 4 instead"):
        document_table(corpus, [0, 4])
    with pytest.raises(ParameterError, match="column 'cosine' must have one value per row"):
        document_table(corpus, [0, 1], cosine=[0.5])
    with pytest.raises(ParameterError, match="column 'cluster_names' must have one value"):
        document_table(corpus, [0, 1], cluster_names=["x"])
    with pytest.raises(ParameterError, match=r"must have new names; got \['label'\] instead"):
        document_table(corpus, [0], label=["x"])


def test_hits_table_with_and_without_the_question_words():
    hits = [WordHit("king", 0.9, True), WordHit("queen", 0.8, False)]
    table = hits_table(hits)
    assert list(table.columns) == ["rank", "word", "cosine", "question word"]
    assert table["rank"].tolist() == [1, 2]
    assert table["question word"].tolist() == [True, False]
    assert list(hits_table(hits, show_inputs=False).columns) == ["rank", "word", "cosine"]
