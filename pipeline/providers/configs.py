"""Plain configuration for each AI backend: what a provider needs, nothing about where it
came from (socialopt/wiring.py fills these from the settings).

Kept apart from the backend modules so that building a config never imports an SDK.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlparse

LOCAL_TIMEOUT_S = 300.0  # a local model on a CPU takes minutes for a long answer
REMOTE_TIMEOUT_S = 60.0
STALL_S = 60.0  # a streamed answer silent this long is given up (prompt reading included)


@dataclass(frozen=True)
class OpenAIConfig:
    """OpenAI or any OpenAI-compatible server (`base_url`); also the image editor's."""

    api_key: str = field(default="", repr=False)
    base_url: str = ""  # "" means the SDK's default (api.openai.com)
    model: str = "gpt-4.1-mini"
    image_model: str = "gpt-image-1"
    timeout_s: float = 60.0  # a whole answer when not streamed
    max_retries: int = 2  # extra attempts after the first (RetryPolicy)
    label: str = ""  # what users are told; "" = "OpenAI" or "<model> at <host> (...)"
    stream: bool = True  # stream answers (progress, stall detection) where the server can
    stall_s: float = STALL_S  # silence that ends a streamed answer


@dataclass(frozen=True)
class GeminiConfig:
    """Google Gemini through google-genai; `base_url` for a proxy or a test server."""

    api_key: str = field(default="", repr=False)
    base_url: str = ""
    model: str = "gemini-2.5-flash"
    timeout_s: float = 60.0
    max_retries: int = 2
    label: str = ""  # "" = "Gemini"


LOCAL_HOSTS = ("localhost", "127.", "0.0.0.0", "[::1]", "::1", "host.docker.internal")


def is_local(base_url: str) -> bool:
    """True for a server on this machine or a private network (Ollama, llama.cpp, vLLM)."""
    host = (urlparse(base_url).hostname or "").lower()
    if not host:
        return False
    if host.startswith(LOCAL_HOSTS) or host.endswith((".local", ".lan", ".internal")):
        return True
    return bool(re.match(r"^(10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.)", host))


def host_port(base_url: str) -> str:
    """'localhost:8080' from 'http://localhost:8080/v1'."""
    parsed = urlparse(base_url)
    return parsed.netloc or base_url
