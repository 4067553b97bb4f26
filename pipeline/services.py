"""What a job needs besides its input: providers, caches, removers, uploaders.

`socialopt.wiring.build_services(settings)` turns configuration into these objects once per
process; a job then stays a function of (image bytes, options, services).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from pipeline.providers.base import Provider


def cache_key(
    image_hash: str,
    platforms: Iterable[str],
    description: str,
    provider: str,
    model: str,
    **extra: Any,
) -> str:
    """sha256 over the inputs that decide an AI answer. Platform order does not matter;
    `extra` (language, tone, ...) is included, sorted by name."""
    payload = {
        "image": image_hash,
        "platforms": sorted({p.strip().lower() for p in platforms}),
        "description": " ".join(description.split()),
        "provider": provider,
        "model": model,
        "extra": {k: extra[k] for k in sorted(extra)},
    }
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Cache(Protocol):
    """A small key -> JSON-able dict store with expiry (SQLite or memory)."""

    def get(self, key: str) -> dict[str, Any] | None: ...

    def put(self, key: str, value: dict[str, Any], ttl_s: float) -> None: ...


@dataclass
class Services:
    provider: Provider  # primary provider for analysis and captions
    offline: Provider  # always there, the fallback for every step
    accounts_provider: Provider | None = None  # account discovery (Gemini when keyed)
    cache: Cache | None = None
    cache_ttl_s: float = 7 * 86400
    model_id: str = "offline"  # part of the AI cache key
    remover: Any = None  # pipeline.product.background.BackgroundRemover
    uploader: Any = None  # pipeline.product.cloud.CloudinaryUploader
    image_editor: Any = None  # pipeline.product.openai_edit.OpenAIImageEditor
    hashtag_sources: Any = None  # pipeline.hashtag_sources.HashtagSources
    hashtag_limits: dict[str, int] = field(default_factory=dict)
    intake_limits: Any = None  # pipeline.intake.IntakeLimits
    recogniser: Any = None  # pipeline.recognition.Recogniser (None: no subject recognition)

    @property
    def ai_enabled(self) -> bool:
        return self.provider.name != "offline"
