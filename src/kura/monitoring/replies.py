"""What the bot answers, in the patient's language. Never a diagnosis.

Spain's emergency numbers are the defaults (112 emergencies; 024 suicidal-behaviour line,
free, 24 h); a practice can set its own resources text (Organization.crisis_resources).
"""

from __future__ import annotations

DEFAULT_RESOURCES = {
    "es": "Si estás en peligro ahora, llama al 112. Puedes hablar con alguien a cualquier hora "
    "en el 024 (línea gratuita de atención a la conducta suicida).",
    "en": "If you are in danger right now, call 112. You can talk to someone at any hour on "
    "024 (Spain's free suicide-prevention line).",
    "ca": "Si ara estàs en perill, truca al 112. Pots parlar amb algú a qualsevol hora al 024 "
    "(línia gratuïta d'atenció a la conducta suïcida).",
}
_SAFETY = {
    "es": "Gracias por contármelo. Lo que sientes importa y no tienes que pasarlo a solas. "
    "{resources} He avisado a tu terapeuta.",
    "en": "Thank you for telling me. What you feel matters and you don't have to go through it "
    "alone. {resources} I have let your therapist know.",
    "ca": "Gràcies per explicar-m'ho. El que sents importa i no ho has de passar sol/a. "
    "{resources} He avisat el teu terapeuta.",
}
_ACK = {
    "es": "Mensaje recibido. Tu terapeuta lo verá pronto. {resources}",
    "en": "Message received. Your therapist will see it soon. {resources}",
    "ca": "Missatge rebut. El teu terapeuta el veurà aviat. {resources}",
}
_AMBIGUOUS = {
    "es": "Recibido. Este número lo comparten varias consultas: por favor, escribe directamente "
    "a tu terapeuta. {resources}",
    "en": "Received. Several practices share this number: please write to your therapist "
    "directly. {resources}",
    "ca": "Rebut. Diverses consultes comparteixen aquest número: si us plau, escriu directament "
    "al teu terapeuta. {resources}",
}


def _language(language: str | None) -> str:
    return language if language in _SAFETY else "es"


def _resources(language: str, custom: str | None) -> str:
    return custom.strip() if custom and custom.strip() else DEFAULT_RESOURCES[language]


def safety_reply(language: str | None, *, resources: str | None = None) -> str:
    lang = _language(language)
    return _SAFETY[lang].format(resources=_resources(lang, resources))


def acknowledgement(
    language: str | None, *, custom: str | None = None, resources: str | None = None
) -> str:
    lang = _language(language)
    if custom and custom.strip():
        return custom.strip()
    return _ACK[lang].format(resources=_resources(lang, resources))


def ambiguous_sender_reply(language: str | None = None) -> str:
    lang = _language(language)
    return _AMBIGUOUS[lang].format(resources=DEFAULT_RESOURCES[lang])
