"""Labelled corpora of real text that nobody here wrote, for measuring cluster names.

Both come from Debian packages (data only, installed with `apt-get install fortunes wordnet-base`,
or unpacked anywhere with `apt-get download …` + `dpkg-deb -x` and passed as `root`):

- `fortunes`: the fortune-mod quotation files (Debian package `fortunes`, 1:1.99.1; BSD licence,
  the collection of Ken Arnold, Amy A. Lewis and the fortune-mod maintainers). Each file is a
  category ("art", "kids", "love", …) of quips and quotations separated by "%" lines, many with
  an attribution line ("-- Mark Twain"). We keep 16 topical files and the entries of at most
  MAX_FORTUNE_CHARS characters: about 5,000 short documents in 16 categories.
- `wordnet`: the noun glosses of Princeton WordNet 3.0 (Debian package `wordnet-base`, WordNet 3.0
  licence: free use with the copyright notice kept). A document is "lemma: gloss" of one synset,
  its category the synset's lexicographer file (noun.animal, noun.food, …); 320 synsets drawn per
  category with a fixed seed from 16 concrete-to-abstract files: 5,120 documents.

The category *names* are part of the corpus: the name-accuracy measure embeds them, so each is
spelled as a reader would say it ("men and women", not "men-women").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FORTUNE_DIR = Path("usr/share/games/fortunes")
WORDNET_NOUNS = Path("usr/share/wordnet/data.noun")
MAX_FORTUNE_CHARS = 320
WORDNET_PER_CATEGORY = 320
SEED = 0

# fortune file -> category name as a reader would say it
FORTUNE_CATEGORIES = {
    "art": "art",
    "computers": "computers",
    "drugs": "drugs",
    "education": "education",
    "food": "food",
    "kids": "kids",
    "law": "law",
    "love": "love",
    "medicine": "medicine",
    "men-women": "men and women",
    "pets": "pets",
    "politics": "politics",
    "science": "science",
    "sports": "sports",
    "startrek": "star trek",
    "work": "work",
}

# WordNet lexicographer file number (see lexnames(5WN)) -> category name
WORDNET_CATEGORIES = {
    5: "animal",
    6: "artifact",
    8: "body",
    9: "cognition",
    10: "communication",
    11: "event",
    12: "feeling",
    13: "food",
    14: "group",
    15: "location",
    18: "person",
    20: "plant",
    21: "possession",
    23: "quantity",
    27: "substance",
    28: "time",
}


@dataclass(frozen=True)
class LabelledCorpus:
    """Documents with one category each; `categories` lists the category names in a fixed order."""

    name: str
    texts: list[str]
    labels: list[str]
    source: str

    @property
    def categories(self) -> list[str]:
        return sorted(set(self.labels))


def fortunes(root: Path = Path("/")) -> LabelledCorpus:
    """The 16 topical fortune files, entries of at most MAX_FORTUNE_CHARS characters."""
    texts, labels = [], []
    for file_name, category in FORTUNE_CATEGORIES.items():
        path = root / FORTUNE_DIR / file_name
        if not path.exists():
            raise FileNotFoundError(f"{path} is missing; install it: apt-get install fortunes")
        raw = path.read_text(encoding="utf-8", errors="replace")
        for entry in re.split(r"^%\s*$", raw, flags=re.MULTILINE):
            text = entry.strip()
            if 0 < len(text) <= MAX_FORTUNE_CHARS:
                texts.append(text)
                labels.append(category)
    return LabelledCorpus("fortunes", texts, labels, "Debian fortunes 1:1.99.1 (fortune-mod)")


def wordnet(root: Path = Path("/")) -> LabelledCorpus:
    """WORDNET_PER_CATEGORY noun synsets per lexicographer file, as "lemma: gloss"."""
    path = root / WORDNET_NOUNS
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing; install it: apt-get install wordnet-base")
    by_category: dict[str, list[str]] = {name: [] for name in WORDNET_CATEGORIES.values()}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("  ") or "|" not in line:  # the licence header
            continue
        fields, gloss = line.split("|", 1)
        parts = fields.split()
        category = WORDNET_CATEGORIES.get(int(parts[1]))
        if category is not None:
            lemma = parts[4].replace("_", " ")
            by_category[category].append(f"{lemma}: {gloss.strip()}")
    rng = np.random.default_rng(SEED)
    texts, labels = [], []
    for category, entries in by_category.items():
        for i in sorted(rng.choice(len(entries), size=WORDNET_PER_CATEGORY, replace=False)):
            texts.append(entries[i])
            labels.append(category)
    return LabelledCorpus("wordnet", texts, labels, "Debian wordnet-base 1:3.0 (WordNet 3.0)")


CORPORA = {"fortunes": fortunes, "wordnet": wordnet}

if __name__ == "__main__":
    for load in CORPORA.values():
        corpus = load()
        counts = {c: corpus.labels.count(c) for c in corpus.categories}
        print(corpus.name, len(corpus.texts), counts)
        print("  e.g.", repr(corpus.texts[len(corpus.texts) // 2]))
