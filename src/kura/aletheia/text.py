"""Text normalization shared by the rules and the classifier: what a phone does to words.

Lower-case, accents folded, letters repeated for emphasis squeezed ("noooo" -> "no"), chat
abbreviations written out ("q m kiero morir" -> "que me quiero morir"), punctuation and emoji
dropped. Apostrophes are kept ("don't", "m'agradaria").
"""

from __future__ import annotations

import re
import unicodedata

_NON_WORD = re.compile(r"[^a-z0-9' ]+")
_SPACES = re.compile(r"\s+")
_REPEATS = re.compile(r"([a-z])\1{2,}")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'", "\u00b4": "'"})

# Chat spellings in Spanish, Catalan and English. Only tokens that are not ordinary words
# in another of the three languages ("x" is "por" in Spanish chat and nothing else).
# fmt: off
ABBREVIATIONS = {
    # Spanish / Catalan
    "q": "que", "k": "que", "ke": "que", "qe": "que", "xq": "porque", "pq": "porque",
    "porq": "porque", "xk": "porque", "pk": "porque", "porke": "porque", "x": "por",
    "tb": "tambien", "tmb": "tambien", "tbn": "tambien", "tmbn": "tambien", "d": "de",
    "m": "me", "t": "te", "toy": "estoy", "tas": "estas", "tamos": "estamos", "pa": "para",
    "kiero": "quiero", "kieres": "quieres", "kisiera": "quisiera", "aki": "aqui",
    "nse": "no se", "ns": "no se", "nd": "nada", "xfa": "por favor",
    "porfa": "por favor", "xfavor": "por favor", "bn": "bien", "mnn": "manana",
    "dsp": "despues", "dps": "despues", "tqm": "te quiero",
    "vdd": "verdad", "sta": "esta", "stoy": "estoy",
    # English
    "u": "you", "ur": "your", "im": "i'm", "ive": "i've", "id": "i'd",
    "dont": "don't", "cant": "can't", "wont": "won't", "didnt": "didn't", "doesnt": "doesn't",
    "isnt": "isn't", "wouldnt": "wouldn't", "couldnt": "couldn't", "shouldnt": "shouldn't",
    "wanna": "want to", "gonna": "going to", "gotta": "got to", "idk": "i don't know",
    "rn": "right now", "tn": "tonight", "2nite": "tonight", "tonite": "tonight",
    "tmrw": "tomorrow", "tmr": "tomorrow", "tmrrw": "tomorrow", "2moro": "tomorrow",
    "bc": "because", "cuz": "because", "coz": "because", "bcs": "because", "pls": "please",
    "plz": "please", "ppl": "people", "abt": "about", "w": "with", "wo": "without",
    "tho": "though", "yall": "you all", "thx": "thanks", "ty": "thank you",
}
# fmt: on


def fold(text: str) -> str:
    """Lower-case without accents (ñ -> n, à -> a, l·l -> ll), apostrophes unified."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_APOSTROPHES).lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).replace("\u00b7", "")


def normalize(text: str) -> str:
    """Folded, squeezed, abbreviations written out, punctuation dropped, single spaces."""
    squeezed = _REPEATS.sub(r"\1", fold(text))
    words = _NON_WORD.sub(" ", squeezed).split()
    return " ".join(ABBREVIATIONS.get(w.strip("'"), w.strip("'")) for w in words if w.strip("'"))
