"""Name the clusters of any partition: c-TF-IDF candidates (words and two-word phrases), re-ranked
by what they mean (closeness to the cluster's centroid and the share of its documents they are
nearest to), picked with MMR, plus a representative document.

Pure functions: the caller passes the texts, the cluster id per document, the document vectors
and an `embed_words(list[str]) -> np.ndarray` callable (the same model that embedded the
documents); nothing here loads a model. The same inputs give the same names.

Why each step (measured by bench/names.py: name accuracy on real labelled corpora):
- c-TF-IDF alone picks words that are frequent in a cluster and rare elsewhere, which on short
  texts are often generic ("people", "time") or an attribution's author ("twain").
- The re-rank keeps only candidates that c-TF-IDF found, so a name is always in the cluster's own
  words, but orders them by how well the word says what the documents mean: its cosine to the
  centroid, plus its coverage (the share of documents whose nearest candidate it is), so a mixed
  cluster is named after its largest theme rather than the vague average ("life", "man").
- MMR stops the second and third term from repeating the first ("star trek · trek · star").
- Attributions ("-- Mark Twain") are removed from the naming input, unless most of a cluster's
  signatures share a word (one author, one show): then the signatures say what the cluster is
  about and the name may use them.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from lib.errors import ParameterError, check_choice, check_float, check_int

EmbedWords = Callable[[list[str]], np.ndarray]

NOISE = -1
NAME_SEPARATOR = " · "
MIN_TERM_DOCUMENTS = 2  # a name's term appears in at least this many of its cluster's documents
MIN_TERM_SHARE = 0.01  # ... and in at least this share of them
MIN_TERM_LETTERS = 3
CLOSENESS = ("centroid", "coverage", "both")
AUTHOR_SHARE = 0.5  # signatures sharing a word in this share of a cluster say what it is about

_TOKEN = re.compile(r"(?u)\b[^\W\d_]+\b")
# a signature to the end of the text: a dash ("--", "—", "―", "~") opening a line, or set off by a
# tab or two spaces, then the name and any indented lines after it ("-- Mark Twain,\n\t'Pudd'nhead')
_ATTRIBUTION = re.compile(
    r"(?:(?:^|\n)[ \t]*|\t[ \t]*|  +)(?:--+|—|―|~)[ \t]*(\S[^\n]*(?:\n[ \t]+\S[^\n]*)*)\s*\Z"
)


@dataclass(frozen=True)
class NamingParams:
    """How to name clusters.

    max_terms: terms in a name (1-3 read well on a map). candidates: c-TF-IDF candidates per
    cluster that the centroid re-rank chooses from. phrases: whether two-word phrases compete with
    single words. centroid_weight: 0 ranks by c-TF-IDF alone, 1 by closeness alone (c-TF-IDF then
    only proposes the candidates). closeness: "centroid", "coverage" or "both" (see
    `term_closeness`).
    diversity: MMR's weight on not repeating a term already chosen (0: none).
    strip_attributions: drop "-- Author" signatures from the naming input (unless most of a
    cluster's signatures share a word: see `naming_input`). min_share: the share of a cluster's
    documents that must hold a term (and at least MIN_TERM_DOCUMENTS of them).
    """

    max_terms: int = 3
    candidates: int = 30
    phrases: bool = True
    centroid_weight: float = 1.0
    diversity: float = 0.3
    strip_attributions: bool = True
    min_share: float = MIN_TERM_SHARE
    closeness: str = "both"

    def __post_init__(self) -> None:
        check_int("NamingParams", "max_terms", self.max_terms, 1, 10)
        check_int("NamingParams", "candidates", self.candidates, 1, 500)
        check_float("NamingParams", "centroid_weight", self.centroid_weight, 0.0, 1.0)
        check_float("NamingParams", "diversity", self.diversity, 0.0, 1.0)
        check_float("NamingParams", "min_share", self.min_share, 0.0, 1.0)
        check_choice("NamingParams", "closeness", self.closeness, CLOSENESS)


@dataclass(frozen=True)
class ClusterName:
    """A cluster's name terms, best first, and the index of its most central document."""

    terms: tuple[str, ...]
    representative: int

    @property
    def label(self) -> str:
        """The terms as one short label ("star trek · kirk · enterprise")."""
        return NAME_SEPARATOR.join(self.terms)


def name_partition(
    texts: Sequence[str],
    labels: np.ndarray,
    vectors: np.ndarray,
    embed_words: EmbedWords,
    params: NamingParams = NamingParams(),
) -> dict[int, ClusterName]:
    """Name every cluster id of `labels` (n,) except NOISE (-1), which still counts as a class
    in the c-TF-IDF statistics. A cluster with no qualifying term gets an empty `terms`.

    Works on any partition: for nested levels call it once per level with that level's labels.
    """
    labels = np.asarray(labels)
    if not len(texts) == len(labels) == len(vectors):
        raise ParameterError(
            f"Got {len(texts)} texts, {len(labels)} labels and {len(vectors)} vectors; "
            "they must match."
        )
    ids = sorted(int(c) for c in np.unique(labels))
    naming_texts = naming_input(texts, labels, params.strip_attributions)
    candidates = candidate_terms(naming_texts, labels, ids, params)
    centroids = cluster_centroids(vectors, labels, ids)
    unit_vectors = _unit(np.asarray(vectors, dtype=np.float64))
    terms = sorted({term for found in candidates.values() for term, _ in found})
    term_vectors = _unit(np.asarray(embed_words(terms), dtype=np.float64)) if terms else None
    row = {term: i for i, term in enumerate(terms)}
    names = {}
    for position, cluster_id in enumerate(ids):
        if cluster_id == NOISE:
            continue
        found = candidates[cluster_id]
        if term_vectors is None or not found:
            chosen: tuple[str, ...] = ()
        else:
            vectors_found = term_vectors[[row[term] for term, _ in found]]
            members = unit_vectors[labels == cluster_id]
            chosen = pick_terms(
                [term for term, _ in found],
                np.array([score for _, score in found]),
                vectors_found,
                term_closeness(vectors_found, members, centroids[position], params.closeness),
                params,
            )
        representative = representative_document(vectors, labels, cluster_id, centroids[position])
        names[cluster_id] = ClusterName(chosen, representative)
    return names


def strip_attribution(text: str) -> tuple[str, str | None]:
    """The text without a trailing "-- Author" signature, and the signature's first line (None
    when there is none)."""
    match = _ATTRIBUTION.search(text)
    if match is None or match.start() == 0:
        return text, None
    author = match.group(1).split("\n", 1)[0].strip().rstrip(",").strip()
    return text[: match.start()].rstrip(), author or None


def naming_input(texts: Sequence[str], labels: np.ndarray, strip: bool = True) -> list[str]:
    """The texts the names are drawn from: without their signatures, except in clusters whose
    signatures share a word in at least AUTHOR_SHARE of the cluster's documents. There the
    signature says what the cluster is about: one author's quotes ("twain"), or quotes from one
    show whose signatures all cite it ("-- Kirk, 'The Menagerie', stardate 3012.4")."""
    if not strip:
        return list(texts)
    stripped = [strip_attribution(text) for text in texts]
    signature_words: dict[int, Counter] = {}
    sizes = Counter(int(c) for c in labels)
    for (_, signature), cluster_id in zip(stripped, labels, strict=True):
        words = set(document_terms(signature, phrases=False)) if signature else set()
        signature_words.setdefault(int(cluster_id), Counter()).update(words)
    topical = {
        cluster_id
        for cluster_id, words in signature_words.items()
        if cluster_id != NOISE
        and max(words.values(), default=0) >= AUTHOR_SHARE * sizes[cluster_id]
    }
    return [
        original if int(cluster_id) in topical else text
        for original, (text, _), cluster_id in zip(texts, stripped, labels, strict=True)
    ]


def _most_shared(words: Counter) -> int:
    """How many of a cluster's signatures hold its most common signature word."""
    return max(words.values(), default=0)


def document_terms(text: str, phrases: bool = True) -> list[str]:
    """The candidate terms of one text: its content words (see lib.cluster.stopwords) and, with
    `phrases`, each pair of adjacent content words ("star trek") with no stop word between them."""
    from lib.cluster.stopwords import guess_language, stop_words

    tokens = _TOKEN.findall(text.lower())
    filler = stop_words("en") | stop_words(guess_language(tokens))
    content = [len(t) >= MIN_TERM_LETTERS and t not in filler for t in tokens]
    terms = [t for t, keep in zip(tokens, content, strict=True) if keep]
    if phrases:
        terms += [
            f"{tokens[i]} {tokens[i + 1]}"
            for i in range(len(tokens) - 1)
            if content[i] and content[i + 1] and tokens[i] != tokens[i + 1]
        ]
    return terms


def candidate_terms(
    texts: Sequence[str], labels: np.ndarray, ids: list[int], params: NamingParams
) -> dict[int, list[tuple[str, float]]]:
    """Per cluster id, up to `params.candidates` (term, c-TF-IDF score) pairs, best first.

    c-TF-IDF on document counts: the share of the cluster's documents that hold the term times
    log(1 + A / f_t), f_t the term's documents in all clusters, A the average number of term
    occurrences per cluster. A term must be held by at least MIN_TERM_DOCUMENTS and
    `params.min_share` of the cluster's documents, so one odd document cannot name its cluster.
    """
    from scipy import sparse
    from sklearn.feature_extraction.text import CountVectorizer

    vectorizer = CountVectorizer(
        analyzer=lambda text: document_terms(text, params.phrases), binary=True
    )
    try:
        counts = vectorizer.fit_transform(texts)
    except ValueError:  # no text holds a content word
        return {cluster_id: [] for cluster_id in ids}
    labels = np.asarray(labels)
    membership = sparse.csr_matrix(
        (np.ones(len(labels)), (np.searchsorted(ids, labels), np.arange(len(labels)))),
        shape=(len(ids), len(labels)),
    )
    per_class = (membership @ counts).tocsr().astype(np.float64)
    sizes = np.asarray(membership.sum(axis=1)).ravel()
    idf = np.log1p(per_class.sum(axis=1).mean() / np.maximum(per_class.sum(axis=0).A1, 1))
    vocabulary = vectorizer.get_feature_names_out()
    found = {}
    for row, cluster_id in enumerate(ids):
        held = per_class.getrow(row).toarray().ravel()
        scores = held / max(sizes[row], 1) * idf
        scores[held < max(MIN_TERM_DOCUMENTS, np.ceil(params.min_share * sizes[row]))] = -np.inf
        order = np.argsort(-scores, kind="stable")[: params.candidates]
        found[cluster_id] = [(str(vocabulary[i]), float(scores[i])) for i in order
                             if np.isfinite(scores[i])]  # fmt: skip
    return found


def cluster_centroids(vectors: np.ndarray, labels: np.ndarray, ids: list[int]) -> np.ndarray:
    """The unit-length mean of each cluster's unit-length document vectors, in `ids` order."""
    unit = _unit(np.asarray(vectors, dtype=np.float64))
    return _unit(np.stack([unit[labels == cluster_id].mean(axis=0) for cluster_id in ids]))


def term_closeness(
    term_vectors: np.ndarray, members: np.ndarray, centroid: np.ndarray, how: str
) -> np.ndarray:
    """How well each candidate term (unit rows) says what the cluster's documents (unit rows
    `members`) mean: "centroid", its cosine to the centroid; "coverage", the share of the
    documents whose nearest candidate it is (a heterogeneous cluster is then named after its
    largest theme rather than after the vague average of all of them); "both", the two scaled to
    [0, 1] and added."""
    to_centroid = term_vectors @ centroid
    if how == "centroid":
        return to_centroid
    nearest = np.argmax(members @ term_vectors.T, axis=1)
    coverage = np.bincount(nearest, minlength=len(term_vectors)) / max(len(members), 1)
    return coverage if how == "coverage" else _rescale(to_centroid) + _rescale(coverage)


def pick_terms(
    terms: list[str],
    tfidf: np.ndarray,
    term_vectors: np.ndarray,
    closeness: np.ndarray,
    params: NamingParams,
) -> tuple[str, ...]:
    """Up to `params.max_terms` of the candidate `terms`, by MMR over their relevance.

    Relevance blends the terms' `closeness` (see `term_closeness`) with their c-TF-IDF score,
    both scaled to [0, 1] among the candidates; each next term maximises
    (1 - diversity) * relevance - diversity * (its highest cosine to a term already chosen).
    A term inside a chosen phrase, or a phrase holding a chosen word, is never added twice.
    """
    weight = params.centroid_weight
    relevance = weight * _rescale(closeness) + (1 - weight) * _rescale(tfidf)
    similarity = term_vectors @ term_vectors.T
    chosen: list[int] = []
    remaining = list(range(len(terms)))
    while remaining and len(chosen) < params.max_terms:
        redundancy = similarity[np.ix_(remaining, chosen)].max(axis=1) if chosen else 0.0
        gains = (1 - params.diversity) * relevance[remaining] - params.diversity * redundancy
        best = remaining[int(np.argmax(gains))]
        chosen.append(best)
        remaining = [i for i in remaining if not _overlaps(terms[i], terms[best])]
    return tuple(terms[i] for i in chosen)


def representative_document(
    vectors: np.ndarray, labels: np.ndarray, cluster_id: int, centroid: np.ndarray
) -> int:
    """The index of the cluster's document nearest (cosine) to its centroid; lowest on a tie."""
    members = np.flatnonzero(np.asarray(labels) == cluster_id)
    closeness = _unit(np.asarray(vectors[members], dtype=np.float64)) @ centroid
    return int(members[int(np.argmax(closeness))])


def _overlaps(term: str, chosen: str) -> bool:
    """Whether `term` repeats `chosen`: one's words inside the other's, a plural "s" aside."""
    words, taken = _stems(term), _stems(chosen)
    return words <= taken or taken <= words


def _stems(term: str) -> set[str]:
    """The words of `term` without a plural "s" ("kids" -> "kid"), for `_overlaps`."""
    return {word[:-1] if len(word) > 3 and word.endswith("s") else word for word in term.split()}


def _rescale(values: np.ndarray) -> np.ndarray:
    """`values` mapped linearly onto [0, 1] (all ones when they are all equal)."""
    span = values.max() - values.min()
    return np.ones_like(values) if span <= 0 else (values - values.min()) / span


def _unit(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero)."""
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    return matrix / np.where(norms > 0, norms, 1.0)
