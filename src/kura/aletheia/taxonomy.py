"""What AletheIA can flag: the Columbia tiers, the other crisis classes, and their risk.

Flags form a closed set: anything else an AI provider names is mapped to one of these or kept
as `other` (never dropped), so a new word cannot make a risk disappear.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum

from kura.aletheia.text import fold


class Risk(IntEnum):
    LOW = 0
    MEDIUM = 1
    HIGH = 2
    CRITICAL = 3


class Category(StrEnum):
    """A crisis tier (C-SSRS screener, levels 1-6) or another crisis class."""

    PASSIVE_DEATH_WISH = "passive_death_wish"
    SUICIDAL_IDEATION = "suicidal_ideation"
    METHOD = "method"
    INTENT = "intent"
    PLAN = "plan"
    PREPARATORY_BEHAVIOUR = "preparatory_behaviour"
    ATTEMPT_IN_PROGRESS = "attempt_in_progress"
    SELF_HARM = "self_harm"
    THIRD_PARTY_DANGER = "third_party_danger"
    PSYCHOSIS_COMMAND = "psychosis_command"
    EATING_DISORDER_DANGER = "eating_disorder_danger"


# C-SSRS screener levels; an attempt in progress is beyond preparation.
LEVELS: dict[Category, int] = {
    Category.PASSIVE_DEATH_WISH: 1,
    Category.SUICIDAL_IDEATION: 2,
    Category.METHOD: 3,
    Category.INTENT: 4,
    Category.PLAN: 5,
    Category.PREPARATORY_BEHAVIOUR: 6,
    Category.ATTEMPT_IN_PROGRESS: 7,
}
LEVEL_NAMES = {0: "none", **{level: c.value for c, level in LEVELS.items()}}

CRITICAL_CATEGORIES = frozenset(
    {
        Category.INTENT,
        Category.PLAN,
        Category.PREPARATORY_BEHAVIOUR,
        Category.ATTEMPT_IN_PROGRESS,
        Category.THIRD_PARTY_DANGER,
    }
)


def risk_for(category: Category) -> Risk:
    """CRITICAL for intent, plan, preparation, an attempt and danger to others; else HIGH."""
    return Risk.CRITICAL if category in CRITICAL_CATEGORIES else Risk.HIGH


class Flag(StrEnum):
    """Every risk flag a screen or an analysis may store (the categories and other cues)."""

    PASSIVE_DEATH_WISH = "passive_death_wish"
    SUICIDAL_IDEATION = "suicidal_ideation"
    METHOD = "method"
    INTENT = "intent"
    PLAN = "plan"
    PREPARATORY_BEHAVIOUR = "preparatory_behaviour"
    ATTEMPT_IN_PROGRESS = "attempt_in_progress"
    SELF_HARM = "self_harm"
    THIRD_PARTY_DANGER = "third_party_danger"
    PSYCHOSIS_COMMAND = "psychosis_command"
    EATING_DISORDER_DANGER = "eating_disorder_danger"
    HOPELESSNESS = "hopelessness"
    PSYCHOTIC_SYMPTOMS = "psychotic_symptoms"
    MEDICATION_STOPPED = "medication_stopped"
    DISTRESS = "distress"
    THIRD_PARTY_CONCERN = "third_party_concern"
    CONTEXT = "context"  # raised by the recent conversation, not this message alone
    OTHER = "other"  # an AI provider's flag we have no name for: kept, and alerted


# Flags that mean "a human must look today" (an alert), whoever found them.
ALERTING_FLAGS = frozenset(
    {Flag(c.value) for c in Category}
    | {Flag.HOPELESSNESS, Flag.PSYCHOTIC_SYMPTOMS, Flag.MEDICATION_STOPPED, Flag.OTHER}
)
# Informational flags: they colour the analysis but do not alert on their own.
QUIET_FLAGS = frozenset({Flag.DISTRESS, Flag.THIRD_PARTY_CONCERN, Flag.CONTEXT})

_SYNONYMS: dict[str, Flag] = {
    "ideacion suicida": Flag.SUICIDAL_IDEATION,
    "suicidal thoughts": Flag.SUICIDAL_IDEATION,
    "suicide": Flag.SUICIDAL_IDEATION,
    "suicidio": Flag.SUICIDAL_IDEATION,
    "suicidality": Flag.SUICIDAL_IDEATION,
    "death wish": Flag.PASSIVE_DEATH_WISH,
    "deseo de morir": Flag.PASSIVE_DEATH_WISH,
    "autolesion": Flag.SELF_HARM,
    "autolesiones": Flag.SELF_HARM,
    "self harm": Flag.SELF_HARM,
    "selfharm": Flag.SELF_HARM,
    "desesperanza": Flag.HOPELESSNESS,
    "abandono de medicacion": Flag.MEDICATION_STOPPED,
    "abandono de la medicacion": Flag.MEDICATION_STOPPED,
    "medication discontinuation": Flag.MEDICATION_STOPPED,
    "psychosis": Flag.PSYCHOTIC_SYMPTOMS,
    "psicosis": Flag.PSYCHOTIC_SYMPTOMS,
    "command hallucinations": Flag.PSYCHOSIS_COMMAND,
    "alucinaciones de mando": Flag.PSYCHOSIS_COMMAND,
    "domestic violence": Flag.THIRD_PARTY_DANGER,
    "violencia de genero": Flag.THIRD_PARTY_DANGER,
    "violencia domestica": Flag.THIRD_PARTY_DANGER,
    "child at risk": Flag.THIRD_PARTY_DANGER,
    "overdose": Flag.ATTEMPT_IN_PROGRESS,
    "sobredosis": Flag.ATTEMPT_IN_PROGRESS,
    "suicide attempt": Flag.ATTEMPT_IN_PROGRESS,
    "intento de suicidio": Flag.ATTEMPT_IN_PROGRESS,
    "eating disorder": Flag.EATING_DISORDER_DANGER,
    "trastorno alimentario": Flag.EATING_DISORDER_DANGER,
    "preparatory behavior": Flag.PREPARATORY_BEHAVIOUR,
}


def to_flag(name: str) -> Flag:
    """A provider's flag name as one of ours: exact, a known synonym, or `other`."""
    key = " ".join(fold(name).replace("_", " ").replace("-", " ").split())
    try:
        return Flag(key.replace(" ", "_"))
    except ValueError:
        return _SYNONYMS.get(key, Flag.OTHER)
