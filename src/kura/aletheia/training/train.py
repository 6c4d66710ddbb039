"""`kura aletheia train`: fit the shipped classifier on the development split and card it.

Thresholds are chosen on out-of-fold scores from leave-one-writer-out cross-validation (each
corpus file is one writer's voice), never on the blind split; the blind split is scored once,
at the end, and written to the card.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from kura.aletheia.training.corpus import BLIND_SALT, Row, load_corpus, split
from kura.aletheia.training.designs import Design, EmbeddingLogistic, NgramLogistic, embed
from kura.aletheia.training.metrics import threshold_at

MODEL_DIR = Path(__file__).resolve().parents[1] / "model"
TARGET_FALSE_ALARMS = 0.10  # out-of-fold, on hard negatives, before the rules are added
GATES = (0.3, 0.25, 0.2, 0.15, 0.1, 0.05, 0.0)
SEED = 20261201


def out_of_fold(make: Callable[[], Design], rows: Sequence[Row]) -> np.ndarray:
    """Each writer's rows scored by a model trained on the other writers."""
    scores = np.zeros(len(rows))
    for source in sorted({r.source for r in rows}):
        train = [r for r in rows if r.source != source]
        held = [i for i, r in enumerate(rows) if r.source == source]
        design = make()
        design.fit([r.text for r in train], [int(r.crisis) for r in train])
        scores[held] = design.scores([rows[i].text for i in held])
    return scores


def encoder_gate(
    ngram: np.ndarray, mean: np.ndarray, labels: list[bool], threshold: float
) -> float:
    """The highest n-gram score below which skipping the encoder lost no out-of-fold crisis."""
    positives = np.asarray(labels)
    caught = (mean >= threshold) & positives
    for gate in GATES:
        if not np.any(caught & (ngram < gate)):
            return gate
    return 0.0


def _ngram_spec(design: NgramLogistic) -> dict[str, Any]:
    coef = design.model.coef_[0]
    blocks = []
    offset = 0
    for analyzer, vectorizer in (("char", design.char), ("stem", design.stem)):
        size = len(vectorizer.vocabulary_)
        blocks.append(
            {
                "analyzer": analyzer,
                "vocabulary": {k: int(v) for k, v in sorted(vectorizer.vocabulary_.items())},
                "idf": [round(float(x), 6) for x in vectorizer.idf_],
                "coef": [round(float(x), 6) for x in coef[offset : offset + size]],
            }
        )
        offset += size
    return {"blocks": blocks, "intercept": float(design.model.intercept_[0])}


def _category_head(rows: Sequence[Row]) -> dict[str, Any]:
    from sklearn.linear_model import LogisticRegression

    crisis = [r for r in rows if r.crisis]
    model = LogisticRegression(C=4.0, max_iter=5000)
    model.fit(embed([r.text for r in crisis]), [r.category for r in crisis])
    return {
        "classes": [str(c) for c in model.classes_],
        "coef": [[round(float(x), 6) for x in row] for row in model.coef_],
        "intercept": [float(x) for x in model.intercept_],
    }


def build(corpus_dir: Path | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """(model spec, out-of-fold scores): every head fitted on the development split."""
    rows = load_corpus(corpus_dir) if corpus_dir else load_corpus()
    dev, blind = split(rows)
    labels = [r.crisis for r in dev]
    ngram_oof = out_of_fold(NgramLogistic, dev)
    embedding_oof = out_of_fold(EmbeddingLogistic, dev)
    mean_oof = (ngram_oof + embedding_oof) / 2
    threshold = threshold_at(list(mean_oof), labels, TARGET_FALSE_ALARMS)
    ngram_threshold = threshold_at(list(ngram_oof), labels, TARGET_FALSE_ALARMS)
    gate = encoder_gate(ngram_oof, mean_oof, labels, threshold)
    texts, targets = [r.text for r in dev], [int(r.crisis) for r in dev]
    ngram = NgramLogistic()
    ngram.fit(texts, targets)
    embedding = EmbeddingLogistic()
    embedding.fit(texts, targets)
    return {
        "card": {
            "trained": dt.date.today().isoformat(),
            "rows": len(rows),
            "development_rows": len(dev),
            "blind_rows": len(blind),
            "blind_rule": f"sha256('{BLIND_SALT}:' + normalized text) % 5 == 0",
            "writers": sorted({r.source for r in rows}),
            "target_false_alarms": TARGET_FALSE_ALARMS,
            "command": "kura aletheia train",
        },
        "ngram": _ngram_spec(ngram),
        "embedding": {
            "coef": [round(float(x), 6) for x in embedding.model.coef_[0]],
            "intercept": float(embedding.model.intercept_[0]),
        },
        "category": _category_head(dev),
        "threshold": round(float(threshold), 6),
        "ngram_threshold": round(float(ngram_threshold), 6),
        "encoder_gate": gate,
    }, {"ngram": ngram_oof, "embedding": embedding_oof, "mean": mean_oof, "labels": labels}


def write(spec: dict[str, Any], directory: Path = MODEL_DIR) -> Path:
    """The model file, byte-identical for identical inputs (no timestamps inside gzip)."""
    path = directory / "screen-model.json.gz"
    payload = json.dumps(spec, sort_keys=True, separators=(",", ":")).encode()
    path.write_bytes(gzip.compress(payload, mtime=0))
    return path
