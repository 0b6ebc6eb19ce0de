"""Shared fixtures: an isolated data home, a deterministic fake embedder, small labelled corpora."""

from __future__ import annotations

import hashlib
import os
import tempfile

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["EMBEDSCOPE_WARM_UP"] = "0"  # no background numba compile racing the tests
os.environ["EMBEDSCOPE_PRECISION"] = "fp32"  # same vectors on every CPU; bf16 is tested explicitly
os.environ["EMBEDSCOPE_HOME"] = tempfile.mkdtemp(prefix="embedscope-tests-")
os.environ["EMBEDSCOPE_RAISE_ERRORS"] = "1"  # an unexpected error fails the test, not a message

import numpy as np
import pytest

TOPICS = {
    "space": ["rocket", "orbit", "planet", "astronaut", "telescope", "galaxy"],
    "cooking": ["recipe", "oven", "garlic", "simmer", "flour", "sauce"],
    "football": ["goal", "striker", "league", "referee", "penalty", "coach"],
    "finance": ["stocks", "interest", "bank", "inflation", "bond", "market"],
    "music": ["guitar", "melody", "concert", "album", "drummer", "chord"],
    "medicine": ["doctor", "vaccine", "symptom", "clinic", "dose", "surgery"],
    "weather": ["rain", "storm", "forecast", "humid", "snow", "wind"],
    "programming": ["python", "compiler", "bug", "function", "database", "server"],
}


class FakeModel:
    """A fast deterministic TextModel: keyword topic directions plus noise seeded by the text."""

    model_id = "fake/topics-32"
    dimension = 32
    max_tokens = None

    def __init__(self) -> None:
        rng = np.random.default_rng(7)
        self.directions = {topic: rng.normal(size=self.dimension) for topic in TOPICS}
        self.calls: list[list[str]] = []

    def encode(self, texts: list[str]) -> np.ndarray:
        self.calls.append(list(texts))
        return np.stack([self._vector(t) for t in texts]).astype(np.float32)

    def _vector(self, text: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
        vector = np.random.default_rng(seed).normal(scale=0.35, size=self.dimension)
        for topic, words in TOPICS.items():
            vector += sum(word in text.lower() for word in words) * self.directions[topic]
        return vector

    @property
    def texts_encoded(self) -> int:
        return sum(len(call) for call in self.calls)


def make_topic_texts(per_topic: int = 30, seed: int = 0) -> tuple[list[str], list[str]]:
    """Short synthetic documents, each mentioning two keywords of one topic, with their labels."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for topic, words in TOPICS.items():
        for i in range(per_topic):
            first, second = rng.choice(words, size=2, replace=False)
            texts.append(f"note {i}: the {first} and the {second} today")
            labels.append(topic)
    return texts, labels


@pytest.fixture
def fake_model() -> FakeModel:
    return FakeModel()


@pytest.fixture(scope="session")
def topic_texts() -> tuple[list[str], list[str]]:
    return make_topic_texts()


@pytest.fixture(scope="session")
def topic_vectors(topic_texts) -> np.ndarray:
    vectors = FakeModel().encode(topic_texts[0])
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.fixture(scope="session")
def real_model():
    from lib.embed.models import load_model

    return load_model()
