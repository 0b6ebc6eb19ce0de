"""Stop words for naming clusters: scikit-learn's English list plus the bundled samples' languages.

The lists live in data/stopwords/<language>.txt (one word a line; `en.txt` adds filler words that
scikit-learn's ENGLISH_STOP_WORDS leaves out). A document is filtered with the English list plus
the list of its own language, guessed from which list its words hit most, so a word that is filler
in one language and content in another ("son" in Spanish and French, "die" in German) is dropped
only where it is filler.
"""

from __future__ import annotations

import functools
import re

from lib.errors import check_choice
from lib.ingest.corpus import DATA_DIR

STOP_WORDS_DIR = DATA_DIR / "stopwords"
LANGUAGES = ("en", "es", "fr", "de")
MIN_WORD_LETTERS = 3  # two-letter tokens ("la", "na", "ok") are almost never a topic's word
_TOKEN = re.compile(r"(?u)\b[^\W\d_]+\b")


@functools.cache
def stop_words(language: str) -> frozenset[str]:
    """The stop words of `language` (one of LANGUAGES), lower case; English includes sklearn's."""
    check_choice("stop_words", "language", language, LANGUAGES)
    lines = (STOP_WORDS_DIR / f"{language}.txt").read_text(encoding="utf-8").splitlines()
    words = {line.strip().lower() for line in lines if line.strip() and not line.startswith("#")}
    if language == "en":
        from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

        words |= ENGLISH_STOP_WORDS
    return frozenset(words)


def all_stop_words() -> frozenset[str]:
    """Every language's stop words together (for checks; filtering uses `content_words`)."""
    return frozenset().union(*(stop_words(language) for language in LANGUAGES))


def guess_language(tokens: list[str]) -> str:
    """The language whose stop words the lower-case `tokens` hit most; English on a tie."""
    hits = {language: sum(t in stop_words(language) for t in tokens) for language in LANGUAGES}
    return max(LANGUAGES, key=lambda language: hits[language])


def content_words(text: str) -> list[str]:
    """The lower-case words of `text` (letters only, at least MIN_WORD_LETTERS) that are not stop
    words of English or of the text's own language, in order."""
    tokens = _TOKEN.findall(text.lower())
    filler = stop_words("en") | stop_words(guess_language(tokens))
    return [t for t in tokens if len(t) >= MIN_WORD_LETTERS and t not in filler]
