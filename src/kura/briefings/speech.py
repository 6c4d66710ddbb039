"""Turning the script into MP3: OpenAI text-to-speech when configured, otherwise espeak-ng
(from the espeakng-loader wheel, no download) encoded with LAME."""

from __future__ import annotations

import asyncio
import ctypes
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kura.config import Settings, secret_value
from kura.logging import get_logger

log = get_logger(__name__)
ESPEAK = "espeak"
OPENAI_TTS = "openai-tts"
_VOICES = {"es": b"es", "en": b"en"}
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_CHARS_UTF8 = 1
_RATE_PARAMETER = 1
WORDS_PER_MINUTE = 165


class SpeechFailed(Exception):
    pass


@dataclass(frozen=True)
class Speech:
    mp3: bytes
    method: str


_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)


class _Espeak:
    """espeak-ng through ctypes. The library is global and not thread-safe: one lock."""

    def __init__(self) -> None:
        import espeakng_loader

        self._lock = threading.Lock()
        self._lib = ctypes.CDLL(espeakng_loader.get_library_path())
        self._lib.espeak_Initialize.argtypes = [
            ctypes.c_int,
            ctypes.c_int,
            ctypes.c_char_p,
            ctypes.c_int,
        ]
        self._lib.espeak_Synth.argtypes = [
            ctypes.c_char_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        self._lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        data_parent = str(Path(espeakng_loader.get_data_path()).parent).encode()
        self.sample_rate = int(
            self._lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data_parent, 0)
        )
        if self.sample_rate <= 0:
            raise SpeechFailed("espeak-ng did not initialise")
        self._chunks: list[bytes] = []
        self._callback = _CALLBACK(self._collect)  # kept referenced: C holds the pointer
        self._lib.espeak_SetSynthCallback(self._callback)
        self._lib.espeak_SetParameter(_RATE_PARAMETER, WORDS_PER_MINUTE, 0)

    def _collect(self, wav: Any, samples: int, _events: object) -> int:
        if samples > 0 and wav:
            self._chunks.append(ctypes.string_at(wav, samples * 2))
        return 0

    def pcm(self, text: str, language: str) -> bytes:
        """16-bit mono PCM at `sample_rate`."""
        encoded = text.encode("utf-8")
        with self._lock:
            self._chunks = []
            if self._lib.espeak_SetVoiceByName(_VOICES.get(language, b"es")) != 0:
                raise SpeechFailed(f"no espeak-ng voice for {language}")
            status = self._lib.espeak_Synth(
                encoded, len(encoded) + 1, 0, 0, 0, _CHARS_UTF8, None, None
            )
            if status != 0:
                raise SpeechFailed(f"espeak-ng failed ({status})")
            return b"".join(self._chunks)


_engine: _Espeak | None = None
_engine_lock = threading.Lock()


def _espeak() -> _Espeak:
    global _engine
    with _engine_lock:
        if _engine is None:
            _engine = _Espeak()
        return _engine


def encode_mp3(pcm: bytes, sample_rate: int, *, kbps: int = 64) -> bytes:
    import lameenc

    encoder = lameenc.Encoder()
    encoder.set_bit_rate(kbps)
    encoder.set_in_sample_rate(sample_rate)
    encoder.set_channels(1)
    encoder.set_quality(5)
    return bytes(encoder.encode(pcm) + encoder.flush())


def espeak_mp3(text: str, language: str) -> bytes:
    engine = _espeak()
    pcm = engine.pcm(text, language)
    if not pcm:
        raise SpeechFailed("espeak-ng produced no audio")
    return encode_mp3(pcm, engine.sample_rate)


async def _openai_mp3(settings: Settings, text: str) -> bytes:
    from openai import AsyncOpenAI

    client = AsyncOpenAI(
        api_key=secret_value(settings.openai_api_key),
        base_url=settings.openai_base_url,
        max_retries=1,
        timeout=60,
    )
    response = await client.audio.speech.create(
        model=settings.openai_tts_model,
        voice=settings.openai_tts_voice,
        input=text,
        response_format="mp3",
    )
    data = await response.aread()
    if not data:
        raise SpeechFailed("empty audio")
    return bytes(data)


async def synthesize(settings: Settings, text: str, language: str) -> Speech:
    """MP3 of `text`; which engine made it is in `method`."""
    method = ESPEAK
    if secret_value(settings.openai_api_key) is not None:
        try:
            return Speech(await _openai_mp3(settings, text), OPENAI_TTS)
        except Exception as exc:  # any provider failure: speak offline instead, and say so
            log.warning("briefing.tts_failed", provider="openai", error=type(exc).__name__)
            method = f"{ESPEAK} (openai failed)"
    try:
        return Speech(await asyncio.to_thread(espeak_mp3, text, language), method)
    except (SpeechFailed, OSError) as exc:
        raise SpeechFailed(str(exc)) from None
