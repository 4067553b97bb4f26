"""What a job needs besides its input: providers, caches, removers, uploaders.

`build_services(settings)` turns configuration into these objects once per process; a job then
stays a pure function of (image bytes, options, services).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from pipeline.providers.base import Provider, create_provider
from pipeline.recognition import MODEL_FILE, Recogniser  # light: onnxruntime loads lazily

if TYPE_CHECKING:
    from socialopt.settings import Settings


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


def _product_tools(settings: Settings) -> tuple[Any, Any]:
    """The background remover and, when configured, the Cloudinary uploader."""
    from pipeline.product.background import BackgroundRemover

    remover = BackgroundRemover(Path(settings.rembg_home), settings.rembg_model)
    uploader = None
    if settings.cloudinary_url:
        from pipeline.product.cloud import CloudinaryUploader

        uploader = CloudinaryUploader(settings.cloudinary_url.get())
    return remover, uploader


def offline_services(settings: Settings | None = None) -> Services:
    """Services with no keys: the offline provider for everything, whatever keys are set."""
    from socialopt.settings import Secret, Settings

    return build_services(
        replace(
            settings or Settings(),
            ai_provider="offline",
            gemini_api_key=Secret(""),
            cloudinary_url=Secret(""),
            hashtag_sources=(),
        )
    )


def build_services(settings: Settings, *, cache: Cache | None = None) -> Services:
    """Services for these settings: providers by AI_PROVIDER and the keys present."""
    import pipeline.providers  # noqa: F401 - fills the registry
    from pipeline.intake import IntakeLimits

    offline = create_provider("offline", settings)
    name = settings.resolved_ai_provider()
    provider = offline if name == "offline" else create_provider(name, settings)
    accounts = provider
    if settings.gemini_enabled and name != "gemini":
        accounts = create_provider("gemini", settings)
    model_id = {
        "openai": settings.openai_model,
        "gemini": settings.gemini_model,
    }.get(name, "offline")
    remover, uploader = _product_tools(settings)
    recogniser = Recogniser(Path(settings.models_dir) / MODEL_FILE)
    editor = None
    if name == "openai":
        from pipeline.product.openai_edit import OpenAIImageEditor

        editor = OpenAIImageEditor(settings)
    sources = None
    if settings.hashtag_sources:
        from pipeline.hashtag_sources import HashtagSources

        sources = HashtagSources(
            settings.hashtag_sources, timeout_s=min(settings.url_timeout_s, 10.0), cache=cache
        )
    return Services(
        provider=provider,
        offline=offline,
        accounts_provider=accounts,
        cache=cache,
        cache_ttl_s=settings.ai_cache_days * 86400,
        model_id=model_id,
        remover=remover,
        uploader=uploader,
        image_editor=editor,
        hashtag_sources=sources,
        hashtag_limits=dict(settings.hashtag_limits),
        intake_limits=IntakeLimits.from_settings(settings),
        recogniser=recogniser,
    )
