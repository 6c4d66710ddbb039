"""The screen run on every inbound message: the trained classifier with the rules as a floor.

Final risk is the highest of the rules, the classifier and the recent conversation; none of
them can lower another. The screen flags for a human: it raises, never clears, and it says
what it found (tier or class and flags), never a diagnosis.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from kura.aletheia.classifier import CrisisClassifier, classifier
from kura.aletheia.rules import screen_rules
from kura.aletheia.taxonomy import LEVEL_NAMES, LEVELS, Flag, Risk

__all__ = ["LEVEL_NAMES", "Risk", "ScreenResult", "screen_message"]
CONTEXT_MESSAGES = 5  # earlier messages of the window joined with the new one


@dataclass(frozen=True)
class ScreenResult:
    level: int = 0
    risk: Risk = Risk.LOW
    flags: tuple[str, ...] = field(default_factory=tuple)
    category: str | None = None  # the tier or crisis class, when at risk
    probability: float | None = None  # the classifier's crisis probability

    @property
    def needs_alert(self) -> bool:
        return self.risk >= Risk.HIGH

    @property
    def label(self) -> str:
        return self.category or LEVEL_NAMES.get(self.level, "none")


def screen_text(
    text: str, model: CrisisClassifier | None = None, *, cheap: bool = False
) -> ScreenResult:
    """One text, rules and classifier (the shipped one unless `model` is given); `cheap`
    leaves the sentence encoder out (the conversation pass: bounded cost per message)."""
    rules = screen_rules(text)
    # Whatever the rules noticed is always read by the encoder too.
    prediction = (model or classifier()).predict(text, use_encoder=bool(rules.flags), cheap=cheap)
    flags = {flag.value for flag in rules.flags}
    risk, level, category = rules.risk, rules.level, rules.category
    if prediction.crisis:
        model_risk = Risk.CRITICAL if prediction.critical else Risk.HIGH
        if prediction.category is not None:
            flags.add(prediction.category.value)
            level = max(level, LEVELS.get(prediction.category, 0))
        if model_risk > risk or category is None:
            category = prediction.category or category
        risk = max(risk, model_risk)
    return ScreenResult(
        level=level,
        risk=risk,
        flags=tuple(sorted(flags)),
        category=category.value if category else None,
        probability=round(prediction.probability, 4),
    )


def screen_message(
    text: str, *, context: Sequence[str] = (), context_risk: Risk = Risk.LOW
) -> ScreenResult:
    """Screen one message, and the conversation it ends (the patient's recent messages,
    oldest first, whose own highest stored risk was `context_risk`): a plan spread over
    three messages is a plan."""
    own = screen_text(text[:5000]) if text else ScreenResult()
    earlier = [c for c in context if c][-CONTEXT_MESSAGES:]
    if not earlier or not text or max(own.risk, context_risk) == Risk.CRITICAL:
        return own  # nothing to join, or nothing higher to reach
    together = screen_text("\n".join([*earlier, text])[-5000:], cheap=True)
    if together.risk <= max(own.risk, context_risk):
        return own
    flags = sorted({*own.flags, *together.flags, Flag.CONTEXT.value})
    return ScreenResult(
        level=max(own.level, together.level),
        risk=together.risk,
        flags=tuple(flags),
        category=together.category,
        probability=own.probability,
    )
