"""What a job needs besides its input: providers, caches, removers, uploaders.

`socialopt.wiring.build_services(settings)` turns configuration into these objects once per
process; a job then stays a function of (image bytes, options, services).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pipeline.ports import (
    BackgroundRemover,
    Cache,
    HashtagSource,
    ImageEditor,
    Provider,
    Recogniser,
    Uploader,
)

if TYPE_CHECKING:  # Pillow and numpy load only when a job decodes an image
    from pipeline.intake import IntakeLimits


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


@dataclass
class Services:
    provider: Provider  # primary provider for analysis and captions
    offline: Provider  # always there, the fallback for every step
    accounts_provider: Provider | None = None  # account discovery (Gemini when keyed)
    cache: Cache | None = None
    cache_ttl_s: float = 7 * 86400
    model_id: str = "offline"  # part of the AI cache key
    remover: BackgroundRemover | None = None  # None: no product photography
    uploader: Uploader | None = None  # Cloudinary when configured
    image_editor: ImageEditor | None = None  # OpenAI images.edit when keyed
    hashtag_sources: HashtagSource | None = None  # live hashtag sites when switched on
    hashtag_limits: dict[str, int] = field(default_factory=dict)
    intake_limits: IntakeLimits | None = None  # None: the defaults
    recogniser: Recogniser | None = None  # None: no subject recognition

    @property
    def ai_enabled(self) -> bool:
        return self.provider.name != "offline"


__all__ = ["Cache", "Services", "cache_key"]
