"""The labelled corpus: one JSONL file per writer in data/aletheia/corpus/, validated and split.

The blind split is chosen by a hash of the normalized text, before any training: about one
row in five, the same rows on every machine and every run, whatever is added later.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from kura.aletheia.taxonomy import Category
from kura.aletheia.text import normalize

DATA_DIR = Path(__file__).resolve().parents[4] / "data" / "aletheia"
CORPUS_DIR = DATA_DIR / "corpus"
# Written afterwards by three other writers from a shorter brief; never trained or tuned on.
EXTERNAL_DIR = DATA_DIR / "external"
BLIND_SALT = "aletheia-blind-v1"
BLIND_SHARE = 5  # one in five
NEGATIVE_CATEGORIES = frozenset(
    {
        "idiom_hyperbole", "negation_resolved", "reported_speech", "therapy_clinical",
        "medication", "sadness", "anger", "grief", "scheduling", "jokes", "lookalike",
        "everyday",
    }
)  # fmt: skip
LANGUAGES = frozenset({"es", "en", "ca", "mixed"})
FIELDS = frozenset({"text", "language", "variety", "label", "category", "style"})


class CorpusError(ValueError):
    pass


@dataclass(frozen=True)
class Row:
    text: str
    language: str
    variety: str
    crisis: bool
    category: str
    style: tuple[str, ...]
    source: str  # the file (one writer's voice)

    @property
    def blind(self) -> bool:
        return is_blind(self.text)


def is_blind(text: str) -> bool:
    digest = hashlib.sha256(f"{BLIND_SALT}:{normalize(text)}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % BLIND_SHARE == 0


def _row(raw: dict[str, object], source: str, line: int) -> Row:
    where = f"{source}:{line}"
    if set(raw) != FIELDS:
        raise CorpusError(f"{where}: fields must be {sorted(FIELDS)}")
    text, label, category = str(raw["text"]).strip(), raw["label"], str(raw["category"])
    if not text:
        raise CorpusError(f"{where}: empty text")
    if label not in ("crisis", "no_crisis"):
        raise CorpusError(f"{where}: label must be crisis or no_crisis")
    crisis = label == "crisis"
    known = {c.value for c in Category} if crisis else NEGATIVE_CATEGORIES
    if category not in known:
        raise CorpusError(f"{where}: category {category!r} does not fit label {label}")
    if raw["language"] not in LANGUAGES:
        raise CorpusError(f"{where}: language must be one of {sorted(LANGUAGES)}")
    style = raw["style"]
    if not isinstance(style, list):
        raise CorpusError(f"{where}: style must be a list")
    return Row(
        text, str(raw["language"]), str(raw["variety"]), crisis, category,
        tuple(map(str, style)), source,
    )  # fmt: skip


def load_corpus(directory: Path = CORPUS_DIR) -> list[Row]:
    """Every row, validated; a text seen twice (after normalization) is kept once."""
    rows: list[Row] = []
    seen: set[str] = set()
    for path in sorted(directory.glob("*.jsonl")):
        for number, line in enumerate(path.read_text("utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
            except json.JSONDecodeError as exc:
                raise CorpusError(f"{path.name}:{number}: {exc.msg}") from None
            row = _row(raw, path.stem, number)
            key = normalize(row.text)
            if key in seen:
                continue
            seen.add(key)
            rows.append(row)
    if not rows:
        raise CorpusError(f"no corpus rows in {directory}")
    return rows


def split(rows: list[Row]) -> tuple[list[Row], list[Row]]:
    """(development rows, blind rows)."""
    return [r for r in rows if not r.blind], [r for r in rows if r.blind]
