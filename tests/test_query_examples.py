"""Example expressions are built from the corpus on screen: its groups, documents and words."""

import re

import numpy as np
import pandas as pd
import pytest

from lib.cluster.stopwords import content_words
from lib.errors import ParameterError
from lib.ingest.corpus import load_sample
from lib.query.examples import Example, corpus_examples
from lib.query.expressions import evaluate, parse_expression, rank
from lib.service.samples import shipped_vectors


def _labelled(texts: list[str], labels: list[str]) -> tuple[np.ndarray, dict[int, str]]:
    codes, values = pd.factorize(pd.Series(labels))
    return codes, dict(enumerate(values))


def test_examples_move_a_typical_document_towards_the_nearest_group(
    fake_model, topic_texts, topic_vectors
):
    texts, labels = topic_texts
    codes, names = _labelled(texts, labels)
    examples = corpus_examples(texts, topic_vectors, codes, names, free_text=True)
    assert all(isinstance(example, Example) for example in examples) and len(examples) == 4
    first = examples[0].expression
    row, word_a, word_b = re.fullmatch(r'#(\d+) - "(\w+)" \+ "(\w+)"', first).groups()
    group = labels[int(row)]
    assert group == max(names.values(), key=labels.count)  # the largest group (first on ties)
    pairs = list(zip(texts, labels, strict=True))
    assert any(word_a in content_words(text) for text, label in pairs if label == group)
    assert any(word_b in content_words(text) for text, label in pairs if label != group)
    vocabulary = {word for text in texts for word in content_words(text)}
    for example in examples:
        assert set(re.findall(r'"(\w+)"', example.expression)) <= vocabulary
        result = evaluate(
            parse_expression(example.expression), embed=fake_model.encode, doc_vectors=topic_vectors
        )
        assert rank(topic_vectors, result, 5)


def test_without_a_text_model_examples_use_ids_only(topic_texts, topic_vectors):
    texts, labels = topic_texts
    codes, names = _labelled(texts, labels)
    examples = corpus_examples(texts, topic_vectors, codes, names, free_text=False, max_examples=3)
    assert len(examples) == 3
    assert all('"' not in e.expression and re.search(r"#\d+", e.expression) for e in examples)


def test_without_groups_examples_fall_back_to_the_first_documents():
    vectors = np.eye(4, dtype=np.float32)
    texts = ["alpha beta", "gamma delta", "epsilon zeta", "eta theta"]
    examples = corpus_examples(texts, vectors, np.full(4, -1), {}, free_text=True)
    assert [e.expression for e in examples][:2] == ["#0", "#0 + #1"]
    only = corpus_examples(texts[:1], vectors[:1], np.array([-1]), {}, free_text=False)
    assert [e.expression for e in only] == ["#0"]
    assert corpus_examples([], np.zeros((0, 4)), np.array([]), {}, free_text=True) == []


def test_examples_of_the_samples_name_their_own_topics():
    for sample, expected in (("topics", "cooking"), ("multilingual", "football")):
        corpus = load_sample(sample)
        vectors = shipped_vectors(corpus.content_hash, "all-MiniLM-L6-v2")
        codes, names = _labelled(corpus.texts, corpus.metadata["label"].tolist())
        (first, *_) = corpus_examples(corpus.texts, vectors, codes, names, free_text=True)
        row = int(re.match(r"#(\d+)", first.expression).group(1))
        assert corpus.metadata["label"].iloc[row] == expected
        assert f"“{expected}”" in first.description


def test_bad_arguments():
    with pytest.raises(ParameterError, match="'max_examples' parameter of corpus_examples"):
        corpus_examples(["a"], np.ones((1, 2)), np.array([0]), {}, free_text=True, max_examples=0)
    with pytest.raises(ParameterError, match="Got 2 texts, 1 vectors and 1 group ids"):
        corpus_examples(["a", "b"], np.ones((1, 2)), np.array([0]), {}, free_text=True)
