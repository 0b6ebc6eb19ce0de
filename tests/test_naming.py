"""Cluster names: centroid-close words beat frequent generic ones, signatures do not name a topic,
phrases and MMR avoid repeats, any partition (broad or fine) is named, deterministically."""

import numpy as np
import pytest

from lib.cluster.naming import (
    NamingParams,
    name_partition,
    naming_input,
    pick_terms,
    strip_attribution,
    term_closeness,
)
from lib.errors import ParameterError

SPACE = ["rocket", "orbit", "planet", "astronaut", "telescope", "galaxy"]
COOKING = ["recipe", "oven", "garlic", "simmer", "flour", "sauce"]
MUSIC = ["guitar", "melody", "concert", "album", "drummer", "chord"]


def quotes(words: list[str], filler: str, author: str | None, n: int = 12) -> list[str]:
    """`n` short quotes: two topic words each, a filler word in every one; `author` signs the
    first five (under half, so the cluster is not about its author)."""
    texts = []
    for i in range(n):
        text = f"The {words[i % 6]} said {filler} that the {words[(i + 2) % 6]} was ready."
        texts.append(text if author is None or i >= 5 else f"{text}\n\t\t-- {author}")
    return texts


@pytest.fixture
def corpus(fake_model):
    """Three clusters of fake quotes; every space quote says "yesterday" and 5 of 12 cooking quotes
    are signed by Julia Child, so plain c-TF-IDF ranks "yesterday" and "julia" first."""
    texts = (
        quotes(SPACE, "yesterday", None)
        + quotes(COOKING, "perhaps", "Julia Child")
        + quotes(MUSIC, "somehow", None)
    )
    labels = np.repeat(np.arange(3), 12)
    model = fake_model
    vectors = model.encode([strip_attribution(t)[0] for t in texts])
    return texts, labels, vectors, model.encode


def test_a_centroid_close_word_wins_over_a_frequent_generic_word(corpus):
    texts, labels, vectors, embed = corpus
    plain = name_partition(texts, labels, vectors, embed, NamingParams(centroid_weight=0.0))
    assert plain[0].terms[0] == "yesterday"  # in every space quote and no other: c-TF-IDF's top
    names = name_partition(texts, labels, vectors, embed)
    assert names[0].terms[0] in SPACE
    assert names[1].terms[0] in COOKING and names[2].terms[0] in MUSIC


def test_an_attribution_does_not_name_a_topic_cluster(corpus):
    texts, labels, vectors, embed = corpus
    kept = name_partition(texts, labels, vectors, embed,
                          NamingParams(centroid_weight=0.0, strip_attributions=False))  # fmt: skip
    assert {"julia", "child", "julia child"} & set(kept[1].terms)  # the signature would win
    for params in (NamingParams(), NamingParams(centroid_weight=0.0)):
        terms = " ".join(name_partition(texts, labels, vectors, embed, params)[1].terms)
        assert "julia" not in terms and "child" not in terms


def test_signatures_are_split_off_the_text():
    text = 'Wagner\'s music is better than it sounds.\n\t\t-- Mark Twain,\n\t\t"Autobiography"'
    assert strip_attribution(text) == ("Wagner's music is better than it sounds.", "Mark Twain")
    inline = "One is less than two.                -- The Juice Media (2016)"
    assert strip_attribution(inline) == ("One is less than two.", "The Juice Media (2016)")
    for unsigned in ("I came -- and I saw.", "-- just a dash line", "no signature"):
        assert strip_attribution(unsigned) == (unsigned, None)


def test_signatures_that_share_a_word_in_most_of_a_cluster_are_kept():
    """A cluster of one author's quotes, or of one show's (the signatures all say "stardate"),
    may be named from them; a cluster signed by many different people may not."""
    twain = [f"Quote {i} on rivers.\n-- Mark Twain" for i in range(8)] + ["Quote on rafts."]
    trek = [f"Quote {i} on ships.\n-- {who}, stardate {i}.1"
            for i, who in enumerate(["Kirk", "Spock", "McCoy"] * 3)]  # fmt: skip
    authors = ["Ann Lee", "Bo Diaz", "Cy Young", "Di Ross", "Ed Wood", "Flo Rida", "Gil Scott"]
    mixed = [f"Quote {i} on trains.\n-- {who}" for i, who in enumerate(authors)]
    labels = np.repeat([0, 1, 2], [9, 9, 7])
    texts = naming_input(twain + trek + mixed, labels)
    assert texts[:18] == twain + trek
    assert texts[18:] == [f"Quote {i} on trains." for i in range(7)]
    assert naming_input(twain + trek + mixed, labels, strip=False) == twain + trek + mixed


def test_a_phrase_wins_where_it_is_more_specific_than_its_words(fake_model):
    """The words "star" and "trek" also occur apart in the other cluster; "star trek" does not."""
    texts = [f"we love the star trek, part {i}" for i in range(6)]
    texts += [f"we love the star and the long trek, part {i}" for i in range(6)]
    labels = np.repeat([0, 1], 6)
    vectors = fake_model.encode(texts)
    plain = NamingParams(centroid_weight=0.0)
    names = name_partition(texts, labels, vectors, fake_model.encode, plain)
    assert names[0].terms[0] == "star trek"
    words = [word for term in names[0].terms for word in term.split()]
    assert len(words) == len(set(words))  # "star trek" never beside "star" or "trek"
    flat = name_partition(texts, labels, vectors, fake_model.encode,
                          NamingParams(centroid_weight=0.0, phrases=False))  # fmt: skip
    assert all(" " not in term for name in flat.values() for term in name.terms)


def test_mmr_skips_a_near_duplicate_of_the_first_term():
    terms = ["rocket", "rocketry", "galaxy", "today"]
    vectors = np.array([[1.0, 0.0, 0.0], [0.99, 0.14, 0.0], [0.6, 0.0, 0.8], [0.1, 0.995, 0.0]])
    centroid = np.array([1.0, 0.0, 0.0])
    tfidf = np.array([1.0, 0.9, 0.7, 0.1])
    closeness = vectors @ centroid
    params = NamingParams(max_terms=2, centroid_weight=0.5, diversity=0.5)
    assert pick_terms(terms, tfidf, vectors, closeness, params) == ("rocket", "galaxy")
    no_mmr = NamingParams(max_terms=2, centroid_weight=0.5, diversity=0.0)
    assert pick_terms(terms, tfidf, vectors, closeness, no_mmr) == ("rocket", "rocketry")


def test_a_plural_never_stands_beside_its_singular():
    terms = ["kids", "kid", "school"]
    vectors = np.eye(3)
    tfidf = np.array([1.0, 0.9, 0.5])
    params = NamingParams(centroid_weight=0.0, diversity=0.0)
    assert pick_terms(terms, tfidf, vectors, np.ones(3), params) == ("kids", "school")


def test_any_partition_is_named_broad_and_fine_with_a_central_document(topic_texts, fake_model):
    texts, topics = topic_texts
    model = fake_model
    vectors = model.encode(texts)
    fine = np.unique(topics, return_inverse=True)[1]  # 8 topics
    broad = fine // 4  # 2 groups of 4 topics, each fine cluster inside one broad one
    for labels in (broad, fine):
        names = name_partition(texts, labels, vectors, model.encode)
        assert sorted(names) == sorted(set(labels.tolist()))
        for cluster_id, name in names.items():
            assert 1 <= len(name.terms) <= 3
            assert labels[name.representative] == cluster_id
    assert name_partition(texts, fine, vectors, model.encode) == names  # deterministic


def test_noise_is_not_named_and_bad_input_is_refused(topic_texts, fake_model):
    texts, _ = topic_texts
    model = fake_model
    vectors = model.encode(texts)
    labels = np.where(np.arange(len(texts)) % 5 == 0, -1, np.arange(len(texts)) // 30)
    assert -1 not in name_partition(texts, labels, vectors, model.encode)
    with pytest.raises(ParameterError, match="must match"):
        name_partition(texts[:-1], labels, vectors, model.encode)
    with pytest.raises(ParameterError, match="max_terms"):
        NamingParams(max_terms=0)
    only_stop_words = ["the and of", "it is a"] * 3
    names = name_partition(only_stop_words, np.zeros(6, dtype=int), vectors[:6], model.encode)
    assert names[0].terms == ()


def test_coverage_names_a_mixed_cluster_after_its_largest_theme():
    """Six documents on one theme, four on another: the vague in-between term is nearest the
    centroid, but the majority's term is the nearest candidate of the most documents."""
    members = np.array([[1.0, 0.0]] * 6 + [[0.0, 1.0]] * 4)
    terms = np.array([[1.0, 0.0], [0.0, 1.0], [0.5**0.5, 0.5**0.5]])  # majority, minority, between
    centroid = members.mean(axis=0) / np.linalg.norm(members.mean(axis=0))
    assert np.argmax(term_closeness(terms, members, centroid, "centroid")) == 2
    assert term_closeness(terms, members, centroid, "coverage").tolist() == [0.6, 0.4, 0.0]
    assert np.argmax(term_closeness(terms, members, centroid, "both")) == 0
