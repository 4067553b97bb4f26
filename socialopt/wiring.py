"""The composition root: the one place that reads `Settings` and builds what the pipeline needs.

`pipeline/` takes plain configs (provider configs, intake limits, model paths) and never sees
the settings; the CLI, the bot, the bench scripts and the tests all come through here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.errors import OptionsError
from pipeline.models import JobOptions
from pipeline.platforms import normalize_platform, parse_platforms
from pipeline.providers.base import Provider, create_provider
from pipeline.providers.configs import GeminiConfig, OpenAIConfig
from pipeline.services import Cache, Services
from socialopt.settings import Secret, Settings, SettingsError

if TYPE_CHECKING:  # numpy and Pillow load only when a command builds these
    from pipeline.intake import IntakeLimits
    from pipeline.recognition import Recogniser

# --------------------------------------------------------------------------- settings


def check_settings(settings: Settings) -> Settings:
    """The settings with platform names checked by the pipeline's rules: DEFAULT_PLATFORMS and
    HASHTAG_LIMITS keys become canonical keys ("ig" -> "instagram"); unknown names and
    negative caps are a SettingsError."""
    try:
        platforms = parse_platforms(settings.default_platforms)
        limits = {normalize_platform(k): int(v) for k, v in settings.hashtag_limits.items()}
    except OptionsError as exc:
        raise SettingsError(f"DEFAULT_PLATFORMS / HASHTAG_LIMITS: {exc}") from exc
    negative = sorted(k for k, v in limits.items() if v < 0)
    if negative:
        raise SettingsError(f"HASHTAG_LIMITS must not be negative ({', '.join(negative)})")
    return dataclasses.replace(settings, default_platforms=platforms, hashtag_limits=limits)


def load_settings(env_file: str | Path | None = ".env") -> Settings:
    """Settings from the environment (and `env_file`), checked."""
    return check_settings(Settings.from_env(env_file))


# --------------------------------------------------------------------------- plain configs


def openai_config(settings: Settings) -> OpenAIConfig:
    return OpenAIConfig(
        api_key=settings.openai_api_key.get(),
        base_url=settings.openai_base_url,
        model=settings.openai_model,
        image_model=settings.openai_image_model,
        timeout_s=settings.ai_timeout_s,
        max_retries=settings.ai_max_retries,
    )


def gemini_config(settings: Settings) -> GeminiConfig:
    return GeminiConfig(
        api_key=settings.gemini_api_key.get(),
        base_url=settings.gemini_base_url,
        model=settings.gemini_model,
        timeout_s=settings.ai_timeout_s,
        max_retries=settings.ai_max_retries,
    )


# provider name -> its config from the settings (the offline provider needs none)
PROVIDER_CONFIGS: dict[str, Callable[[Settings], Any]] = {
    "offline": lambda _settings: None,
    "openai": openai_config,
    "gemini": gemini_config,
}


def provider(name: str, settings: Settings) -> Provider:
    """The provider registered under `name`, configured from the settings."""
    config = PROVIDER_CONFIGS.get(name, PROVIDER_CONFIGS["offline"])(settings)
    return create_provider(name, config)


def model_id(settings: Settings) -> str:
    """The model that answers AI steps (part of the AI cache key); "offline" without one."""
    name = settings.resolved_ai_provider()
    return {"openai": settings.openai_model, "gemini": settings.gemini_model}.get(name, "offline")


def intake_limits(settings: Settings) -> IntakeLimits:
    from pipeline.intake import MB, IntakeLimits

    return IntakeLimits(
        max_bytes=int(settings.max_upload_mb) * MB,
        min_side=int(settings.min_image_side),
        max_pixels=int(settings.max_image_pixels),
        url_timeout_s=float(settings.url_timeout_s),
        allow_private_urls=bool(settings.allow_private_urls),
    )


def recognition_model(settings: Settings) -> Path:
    """Where `socialopt setup-models` puts the recognition model (under MODELS_DIR)."""
    from pipeline.recognition import MODEL_FILE

    return Path(settings.models_dir) / MODEL_FILE


def recogniser(settings: Settings) -> Recogniser:
    from pipeline.recognition import Recogniser  # onnxruntime loads later, on first use

    return Recogniser(recognition_model(settings))


def product_tools(settings: Settings) -> tuple[Any, Any]:
    """The background remover and, when configured, the Cloudinary uploader."""
    from pipeline.product.background import BackgroundRemover

    remover = BackgroundRemover(Path(settings.rembg_home), settings.rembg_model)
    uploader = None
    if settings.cloudinary_url:
        from pipeline.product.cloud import CloudinaryUploader

        uploader = CloudinaryUploader(settings.cloudinary_url.get())
    return remover, uploader


def job_defaults(settings: Settings) -> JobOptions:
    """What a job uses where the person chose nothing: DEFAULT_PLATFORMS, DEFAULT_LANGUAGE,
    DEFAULT_TIMEZONE, OUTPUT_FORMAT and MAX_WORKERS. (HASHTAG_LIMITS travel in the services.)"""
    return JobOptions(
        platforms=tuple(settings.default_platforms),
        language=settings.default_language,
        timezone=settings.default_timezone,
        output_format=settings.output_format,
        max_workers=settings.max_workers,
    )


# --------------------------------------------------------------------------- services


def build_services(settings: Settings, *, cache: Cache | None = None) -> Services:
    """Services for these settings: providers by AI_PROVIDER and the keys present."""
    offline = provider("offline", settings)
    name = settings.resolved_ai_provider()
    primary = offline if name == "offline" else provider(name, settings)
    accounts = primary
    if settings.gemini_enabled and name != "gemini":
        accounts = provider("gemini", settings)
    remover, uploader = product_tools(settings)
    editor = None
    if name == "openai":
        from pipeline.product.openai_edit import OpenAIImageEditor

        editor = OpenAIImageEditor(openai_config(settings))
    sources = None
    if settings.hashtag_sources:
        from pipeline.hashtag_sources import HashtagSources

        sources = HashtagSources(
            settings.hashtag_sources, timeout_s=min(settings.url_timeout_s, 10.0), cache=cache
        )
    return Services(
        provider=primary,
        offline=offline,
        accounts_provider=accounts,
        cache=cache,
        cache_ttl_s=settings.ai_cache_days * 86400,
        model_id=model_id(settings),
        remover=remover,
        uploader=uploader,
        image_editor=editor,
        hashtag_sources=sources,
        hashtag_limits=dict(settings.hashtag_limits),
        intake_limits=intake_limits(settings),
        recogniser=recogniser(settings),
    )


def offline_services(settings: Settings | None = None) -> Services:
    """Services with no keys: the offline provider for everything, whatever keys are set."""
    return build_services(
        dataclasses.replace(
            settings or Settings(),
            ai_provider="offline",
            gemini_api_key=Secret(""),
            cloudinary_url=Secret(""),
            hashtag_sources=(),
        )
    )
