"""Lessons on a large corpus work on a seeded random sample, and say so."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from lib.errors import check_int
from lib.ingest.corpus import Corpus

LESSON_SAMPLE = 1_500  # documents a map-fitting lesson works on: a few seconds per UMAP on 2 cores
SAMPLE_SEED = 0


@dataclass(frozen=True)
class LessonSample:
    """Which documents a lesson works on: all `n_total`, or a seeded random `rows` (sorted)."""

    rows: np.ndarray = field(repr=False)
    n_total: int
    seed: int

    @property
    def sampled(self) -> bool:
        return len(self.rows) < self.n_total

    @property
    def key_suffix(self) -> str:
        """Appended to a vectors key so the sample's maps are cached apart from the corpus's."""
        return f":sample-{len(self.rows)}-seed-{self.seed}" if self.sampled else ""

    def note(self) -> str:
        """What a lesson says about it (empty when it works on every document)."""
        if not self.sampled:
            return ""
        return (
            f"This corpus has {self.n_total:,} documents, so this lesson works on a random sample "
            f"of {len(self.rows):,} (seed {self.seed}: the same sample every time) to stay quick."
        )

    def corpus(self, corpus: Corpus) -> Corpus:
        """`corpus` cut to the sample's rows (itself when nothing is left out)."""
        if not self.sampled:
            return corpus
        return dataclasses.replace(
            corpus, texts=tuple(corpus.texts[i] for i in self.rows),
            metadata=corpus.metadata.iloc[self.rows].reset_index(drop=True),
            content_hash=f"{corpus.content_hash}{self.key_suffix}",
        )  # fmt: skip


def lesson_sample(n_total: int, size: int = LESSON_SAMPLE, seed: int = SAMPLE_SEED) -> LessonSample:
    """Every row of a corpus of `n_total` documents up to `size`, else a seeded sample of `size`."""
    check_int("lesson_sample", "n_total", n_total, 1)
    check_int("lesson_sample", "size", size, 1)
    if n_total <= size:
        return LessonSample(np.arange(n_total), n_total, seed)
    rows = np.sort(np.random.default_rng(seed).choice(n_total, size=size, replace=False))
    return LessonSample(rows, n_total, seed)
