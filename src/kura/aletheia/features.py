"""The classifier's features, the same at training and at serving time.

Two bags: character n-grams inside words (typos and inflections share most of them) and word
uni/bigrams of Snowball stems (Spanish, Catalan and English stems all at once: the language of
a chat message is often mixed or unknown). TF-IDF weighting is computed here from the stored
idf so serving needs no scikit-learn; a test checks it equals scikit-learn's.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from itertools import pairwise

import snowballstemmer

from kura.aletheia.text import normalize

CHAR_NGRAMS = (2, 5)
STEM_LANGUAGES = ("spanish", "catalan", "english")


def char_ngrams(text: str) -> list[str]:
    """scikit-learn's `char_wb` n-grams (2-5) of the normalized text."""
    grams: list[str] = []
    low, high = CHAR_NGRAMS
    for word in normalize(text).split():
        padded = f" {word} "
        for n in range(low, high + 1):
            if len(padded) < n:
                break
            grams.extend(padded[i : i + n] for i in range(len(padded) - n + 1))
    return grams


@lru_cache(maxsize=1)
def _stemmers() -> tuple[snowballstemmer.stemmer, ...]:
    return tuple(snowballstemmer.stemmer(language) for language in STEM_LANGUAGES)


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """The shortest of the three languages' stems (agrees across languages more often)."""
    return min((str(s.stemWord(word)) for s in _stemmers()), key=len)


def stem_ngrams(text: str) -> list[str]:
    """Stem unigrams and bigrams ("no quiero vivir" -> "no", "quier", "no quier", ...)."""
    stems = [stem(w) for w in normalize(text).split()]
    return stems + [f"{a} {b}" for a, b in pairwise(stems)]


ANALYZERS = {"char": char_ngrams, "stem": stem_ngrams}


def tfidf(
    grams: Iterable[str], vocabulary: Mapping[str, int], idf: Sequence[float]
) -> dict[int, float]:
    """Sublinear TF x smoothed IDF, L2-normalized: scikit-learn's TfidfVectorizer."""
    counts = Counter(vocabulary[g] for g in grams if g in vocabulary)
    weights = {i: (1.0 + math.log(c)) * idf[i] for i, c in counts.items()}
    norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
    return {i: w / norm for i, w in weights.items()}
