"""The one place a google-genai client is built: the Gemini API or Vertex AI, from settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kura.config import Settings, secret_value

if TYPE_CHECKING:
    from google import genai

TIMEOUT_MS = 30_000


class GeminiNotConfigured(Exception):
    """Neither Vertex AI nor an API key is set."""


def gemini_client(settings: Settings) -> genai.Client:
    """Vertex AI (`vertexai=True`, project, region) or the Gemini API (key): same calls after."""
    # Imported here: the SDK costs a noticeable part of a second at import.
    from google import genai
    from google.genai import types

    options = types.HttpOptions(base_url=settings.gemini_base_url or None, timeout=TIMEOUT_MS)
    if settings.google_genai_use_vertexai:
        # Application Default Credentials (Cloud Run's service account); passing project and
        # location explicitly makes the SDK ignore a GOOGLE_API_KEY left in the environment.
        return genai.Client(
            vertexai=True,
            project=settings.google_cloud_project,
            location=settings.google_cloud_location,
            http_options=options,
        )
    api_key = secret_value(settings.google_api_key)
    if api_key is None:
        raise GeminiNotConfigured
    return genai.Client(vertexai=False, api_key=api_key, http_options=options)


def gemini_endpoint(settings: Settings) -> str:
    """Which service and region the prompts go to, for status pages (no secret in it)."""
    if settings.google_genai_use_vertexai:
        return f"Vertex AI, {settings.google_cloud_location}"
    return "Gemini API (global)"
