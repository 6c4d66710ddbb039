"""The shipped classifier: its card matches the corpus and the blind split, its features equal
scikit-learn's, and its n-gram head is reproduced by the training code."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kura.aletheia.classifier import CrisisClassifier, classifier, load_spec
from kura.aletheia.features import char_ngrams, stem_ngrams, tfidf
from kura.aletheia.screen import screen_text
from kura.aletheia.training.card import corpus_digest
from kura.aletheia.training.corpus import CorpusError, is_blind, load_corpus, split
from kura.aletheia.training.designs import NgramLogistic
from kura.aletheia.training.metrics import Rate, false_alarms, threshold_at

SAMPLES = [
    "Q m kiero morir 😭",
    "I don't want to be here anymore, tbh",
    "m'agradaria no despertar-me demà",
    "ok nos vemos el martes a las 5!!",
    "",
]


def test_the_card_describes_the_corpus_it_was_trained_on() -> None:
    spec = load_spec()
    rows = load_corpus()
    development, blind = split(rows)
    card = spec["card"]
    assert card["corpus_sha256"] == corpus_digest(), "corpus changed: run `make train-screen`"
    assert (card["rows"], card["blind_rows"], card["development_rows"]) == (
        len(rows),
        len(blind),
        len(development),
    )
    assert sorted({r.source for r in rows}) == card["writers"]


# The encoder's 4-bit kernels take a different SIMD path on another CPU (AVX-512 or AVX2):
# the last digits of a probability move, and a message scored this close to the threshold
# may land on either side of it. Seen: a negative at 0.47484 against 0.475059.
BORDERLINE = 1e-3


def _card_count(rate: float, total: int) -> int:
    return round(rate * total)


@pytest.mark.timeout(600)
def test_the_shipped_model_scores_the_blind_split_as_its_card_says() -> None:
    """Every message counts as on the card, except those this CPU scores within BORDERLINE of
    the threshold (each may count either way): the range they allow must hold the card's."""
    spec = load_spec()
    _, blind = split(load_corpus())
    model = classifier()
    served = spec["card"]["blind"]["classifier + rules (served)"]
    for crisis, rate in ((True, served["recall"]), (False, served["false_alarms"])):
        rows = [r for r in blind if r.crisis is crisis]
        flagged = 0
        borderline = {True: 0, False: 0}  # by whether it was flagged here
        for row in rows:
            flag = screen_text(row.text, model).needs_alert
            flagged += flag
            if abs(model.predict(row.text).probability - model.threshold) < BORDERLINE:
                borderline[flag] += 1
        low, high = flagged - borderline[True], flagged + borderline[False]
        assert low <= _card_count(rate, len(rows)) <= high, (crisis, flagged, borderline)
        assert borderline[True] + borderline[False] <= 3  # a few, not a different model


def test_features_are_scikit_learns_tfidf() -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer

    corpus = [r.text for r in load_corpus()[:300]]
    for analyzer in (char_ngrams, stem_ngrams):
        vectorizer = TfidfVectorizer(analyzer=analyzer, sublinear_tf=True, min_df=2)
        vectorizer.fit(corpus)
        expected = vectorizer.transform(SAMPLES).toarray()
        for row, text in zip(expected, SAMPLES, strict=True):
            ours = tfidf(analyzer(text), vectorizer.vocabulary_, list(vectorizer.idf_))
            dense = np.zeros(len(vectorizer.vocabulary_))
            for index, weight in ours.items():
                dense[index] = weight
            assert np.allclose(dense, row, atol=1e-12)
    # scikit-learn's own char_wb n-grams on normalized text are ours.
    reference = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5)).build_analyzer()
    assert sorted(char_ngrams("hola que tal")) == sorted(reference("hola que tal"))


def test_training_reproduces_the_shipped_ngram_head() -> None:
    spec = load_spec()
    development, _ = split(load_corpus())
    design = NgramLogistic()
    design.fit([r.text for r in development], [int(r.crisis) for r in development])
    blocks = spec["ngram"]["blocks"]
    assert [len(b["vocabulary"]) for b in blocks] == [
        len(design.char.vocabulary_),
        len(design.stem.vocabulary_),
    ]
    shipped = np.concatenate([b["coef"] for b in blocks])
    assert np.allclose(shipped, design.model.coef_[0], atol=1e-5)
    served = CrisisClassifier(spec, None).ngram
    for text in SAMPLES:
        ours = served.probability(text)
        theirs = float(design.scores([text])[0])
        assert math.isclose(ours, theirs, abs_tol=1e-4), text


def test_without_the_encoder_the_ngram_head_serves_and_says_so() -> None:
    degraded = CrisisClassifier(load_spec(), None)
    prediction = degraded.predict("ya no quiero vivir, tengo las pastillas guardadas")
    assert prediction.degraded and prediction.crisis
    assert not degraded.predict("gracias, hasta el jueves").crisis


def test_the_blind_split_is_fixed_by_the_text_alone() -> None:
    assert is_blind("hola") == is_blind("  HOLA ") == is_blind("hola!")
    share = sum(is_blind(f"message {n}") for n in range(5000)) / 5000
    assert 0.17 < share < 0.23


def test_a_bad_corpus_row_is_refused_with_its_place(tmp_path: object) -> None:
    from pathlib import Path

    directory = Path(str(tmp_path))
    (directory / "x.jsonl").write_text(
        '{"text": "hola", "language": "es", "variety": "es-ES", "label": "crisis", '
        '"category": "sadness", "style": []}\n'
    )
    with pytest.raises(CorpusError, match="x:1: category 'sadness' does not fit label crisis"):
        load_corpus(directory)


def test_metrics_intervals_and_thresholds() -> None:
    assert Rate(0, 10).interval()[0] == 0.0 and Rate(0, 10).interval()[1] > 0.2
    assert Rate(9, 10).show().startswith("0.90 [")
    scores, labels = [0.9, 0.8, 0.3, 0.2, 0.1], [True, False, True, False, False]
    threshold = threshold_at(scores, labels, 0.34)  # one negative in three may alarm
    assert [s >= threshold for s in scores] == [True, True, True, False, False]
    assert false_alarms([s >= threshold for s in scores], labels).hits == 1
