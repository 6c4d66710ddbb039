"""`kura aletheia train | evaluate` — rebuild and measure the screen's classifier."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kura.cli_support import err, out

aletheia_app = typer.Typer(help="AletheIA's crisis screen.", no_args_is_help=True)
CARD_FILE = "MODEL_CARD.md"


def _require_training_extras() -> None:
    try:
        import sklearn  # noqa: F401  (only checking it is installed)
    except ImportError:
        err.print("error: training needs the dev extras: pip install -e '.[dev]' (scikit-learn)")
        raise typer.Exit(2) from None


@aletheia_app.command("train")
def train(
    output: Annotated[
        Path | None, typer.Option(help="Directory for the model and card (default: shipped)")
    ] = None,
) -> None:
    """Fit the classifier on the development split, score the blind split, write the card."""
    _require_training_extras()
    from kura.aletheia.classifier import CrisisClassifier, _Encoder
    from kura.aletheia.training.card import corpus_digest, render
    from kura.aletheia.training.corpus import EXTERNAL_DIR, load_corpus, split
    from kura.aletheia.training.report import blind_report, cross_validation_report
    from kura.aletheia.training.train import MODEL_DIR, TARGET_FALSE_ALARMS, build, write

    directory = output or MODEL_DIR
    rows = load_corpus()
    _, blind = split(rows)
    out.print(f"corpus: {len(rows)} rows ({len(blind)} blind); training (a few minutes)…")
    spec, oof = build()
    spec["card"]["corpus_sha256"] = corpus_digest()
    model = CrisisClassifier(spec, _Encoder())
    tables, headline = blind_report(model, blind, {})
    spec["card"]["blind"] = headline
    external = load_corpus(EXTERNAL_DIR) if any(EXTERNAL_DIR.glob("*.jsonl")) else []
    if external:
        external_tables, external_headline = blind_report(model, external, {})
        spec["card"]["external"] = external_headline
        tables += "\n\n## External set (other writers, never tuned on)\n\n" + external_tables
    cv = cross_validation_report(oof, TARGET_FALSE_ALARMS)
    path = write(spec, directory)
    (directory / CARD_FILE).write_text(render(spec, tables, cv), "utf-8")
    served = headline["classifier + rules (served)"]
    out.print(
        f"wrote {path} and {CARD_FILE}: blind recall {served['recall']:.2f}, "
        f"false alarms {served['false_alarms']:.2f}"
    )
