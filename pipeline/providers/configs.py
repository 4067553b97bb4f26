"""Plain configuration for each AI backend: what a provider needs, nothing about where it
came from (socialopt/wiring.py fills these from the settings).

Kept apart from the backend modules so that building a config never imports an SDK.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class OpenAIConfig:
    """OpenAI or any OpenAI-compatible server (`base_url`); also the image editor's."""

    api_key: str = field(default="", repr=False)
    base_url: str = ""  # "" means the SDK's default (api.openai.com)
    model: str = "gpt-4.1-mini"
    image_model: str = "gpt-image-1"
    timeout_s: float = 60.0
    max_retries: int = 2  # extra attempts after the first (RetryPolicy)


@dataclass(frozen=True)
class GeminiConfig:
    """Google Gemini through google-genai; `base_url` for a proxy or a test server."""

    api_key: str = field(default="", repr=False)
    base_url: str = ""
    model: str = "gemini-2.5-flash"
    timeout_s: float = 60.0
    max_retries: int = 2
