"""The composition root: the one place that reads `Settings` and builds what the pipeline needs.

`pipeline/` takes plain configs (provider configs, intake limits, model paths) and never sees
the settings; the CLI, the bot, the bench scripts and the tests all come through here.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.errors import OptionsError
from pipeline.models import JobOptions
from pipeline.platforms import mastodon_limits, normalize_platform, parse_platforms
from pipeline.providers.base import Provider, create_provider
from pipeline.providers.configs import (
    LOCAL_TIMEOUT_S,
    REMOTE_TIMEOUT_S,
    GeminiConfig,
    OpenAIConfig,
    is_local,
)
from pipeline.services import Cache, Services
from socialopt.queue import Admission
from socialopt.settings import Secret, Settings, SettingsError

if TYPE_CHECKING:  # numpy and Pillow load only when a command builds these
    from pipeline.intake import IntakeLimits
    from pipeline.recognition import Recogniser
    from socialopt.backends import JobBackend
    from storage.files import FileStore
    from storage.repository import Repository

log = logging.getLogger(__name__)

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
    if settings.job_backend not in ("local", "celery"):
        raise SettingsError(f"JOB_BACKEND must be local or celery, got {settings.job_backend!r}")
    negative = sorted(k for k, v in limits.items() if v < 0)
    if negative:
        raise SettingsError(f"HASHTAG_LIMITS must not be negative ({', '.join(negative)})")
    return dataclasses.replace(settings, default_platforms=platforms, hashtag_limits=limits)


def load_settings(env_file: str | Path | None = ".env") -> Settings:
    """Settings from the environment (and `env_file`), checked."""
    return check_settings(Settings.from_env(env_file))


# --------------------------------------------------------------------------- plain configs


def provider_timeout(own: float, base_url: str, settings: Settings) -> float:
    """A provider's timeout: its own setting, else AI_TIMEOUT_S, else LOCAL_TIMEOUT_S for a
    server on this machine or a private network (a local model on a CPU takes minutes for a
    long answer) and REMOTE_TIMEOUT_S for any other."""
    if own > 0:
        return own
    if settings.ai_timeout_s > 0:
        return settings.ai_timeout_s
    return LOCAL_TIMEOUT_S if is_local(base_url) else REMOTE_TIMEOUT_S


def openai_config(settings: Settings) -> OpenAIConfig:
    return OpenAIConfig(
        api_key=settings.openai_api_key.get(),
        base_url=settings.openai_base_url,
        model=settings.openai_model,
        image_model=settings.openai_image_model,
        timeout_s=provider_timeout(settings.openai_timeout_s, settings.openai_base_url, settings),
        max_retries=settings.ai_max_retries,
        label=settings.openai_label,
        stream=settings.openai_stream,
        stall_s=settings.ai_stall_s,
    )


def gemini_config(settings: Settings) -> GeminiConfig:
    return GeminiConfig(
        api_key=settings.gemini_api_key.get(),
        base_url=settings.gemini_base_url,
        model=settings.gemini_model,
        timeout_s=provider_timeout(settings.gemini_timeout_s, settings.gemini_base_url, settings),
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


MASTODON_INSTANCE_PATH = "/api/v2/instance"


def mastodon_server_limits(settings: Settings) -> dict[str, int]:
    """The Mastodon server's own limits (MASTODON_SERVER_URL) as platform overrides, read once
    from its /api/v2/instance; {} without a server. A server that cannot be read leaves
    Mastodon's defaults (500 characters) and logs a warning: it never stops a run."""
    if not settings.mastodon_server_url:
        return {}
    import requests

    url = settings.mastodon_server_url + MASTODON_INSTANCE_PATH
    try:
        response = requests.get(
            url,
            timeout=min(settings.url_timeout_s, 10.0),
            headers={"Accept": "application/json", "User-Agent": "socialopt"},
        )
        response.raise_for_status()
        return mastodon_limits(response.json())
    except (requests.RequestException, ValueError, OptionsError) as exc:
        log.warning("Mastodon server limits not read from %s (%s); using 500 characters", url, exc)
        return {}


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


def job_defaults(settings: Settings, *, concurrent_jobs: int = 1) -> JobOptions:
    """What a job uses where the person chose nothing: DEFAULT_PLATFORMS, DEFAULT_LANGUAGE,
    DEFAULT_TIMEZONE, OUTPUT_FORMAT and MAX_WORKERS. (HASHTAG_LIMITS travel in the services.)
    With `concurrent_jobs` jobs side by side (the bot, a worker), each gets its share of CPUs."""
    share = (os.cpu_count() or 2) // max(1, concurrent_jobs)
    return JobOptions(
        platforms=tuple(settings.default_platforms),
        language=settings.default_language,
        timezone=settings.default_timezone,
        output_format=settings.output_format,
        max_workers=max(1, min(settings.max_workers, share)),
    )


def admission(settings: Settings) -> Admission:
    """JOBS_PER_HOUR and USER_QUOTA_MB, checked before any job of a user is created, and
    AI_CALLS_PER_HOUR, the budget of AI calls outside jobs."""
    return Admission(
        jobs_per_hour=settings.jobs_per_hour,
        quota_bytes=settings.user_quota_mb * 1024 * 1024,
        ai_calls_per_hour=max(0, settings.ai_calls_per_hour),
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
        hashtag_limits=dict(settings.hashtag_limits) | mastodon_server_limits(settings),
        intake_limits=intake_limits(settings),
        recogniser=recogniser(settings),
    )


def ai_cache(settings: Settings) -> Cache:
    """Where AI answers are kept: Redis when REDIS_URL is set (every machine shares it), else
    the SQLite database."""
    if settings.redis_url:
        from storage.redis_cache import RedisCache

        return RedisCache(settings.redis_url)
    from storage.cache import open_cache

    return open_cache(database_target(settings))


def database_target(settings: Settings) -> Path | str:
    """The database: DATABASE_URL (PostgreSQL) when set, else DATA_DIR/socialopt.sqlite3."""
    if settings.database_url:
        return settings.database_url.get()
    return settings.db_path  # its folder is made when the database is opened


async def open_repository(settings: Settings) -> Repository:
    """The repository on the configured database, migrated to the latest schema."""
    from storage.repository import Repository

    return await Repository.open(database_target(settings))


def migrate_database(settings: Settings) -> tuple[int, list[int]]:
    """`socialopt migrate`: (the schema version reached, the versions this call applied)."""
    from storage.migrations import upgrade_target

    return upgrade_target(database_target(settings))


def services_with_cache(settings: Settings) -> Services:
    """The services a long-running front door (or worker) uses: AI answers cached."""
    return build_services(settings, cache=ai_cache(settings))


def file_store(settings: Settings) -> FileStore:
    """Session files: S3-compatible storage when S3_BUCKET is set, else DATA_DIR/sessions."""
    if settings.s3_bucket:
        from storage.files import S3Store

        return S3Store(
            settings.s3_bucket,
            endpoint_url=settings.s3_endpoint_url,
            access_key=settings.s3_access_key.get(),
            secret_key=settings.s3_secret_key.get(),
            region=settings.s3_region,
        )
    from storage.files import LocalStore

    return LocalStore(settings.data_dir / "sessions")


def job_backend(settings: Settings) -> JobBackend:
    """JOB_BACKEND: `local` runs jobs in this process, `celery` on `socialopt worker`s."""
    from socialopt.backends import CeleryBackend, LocalBackend

    if settings.job_backend != "celery":
        return LocalBackend()
    from socialopt.progress import ProgressBoard

    broker = broker_url(settings)
    return CeleryBackend(file_store(settings), ProgressBoard(broker), settings, broker)


def broker_url(settings: Settings) -> str:
    """CELERY_BROKER_URL, else REDIS_URL, else the Redis on this machine."""
    return settings.celery_broker_url or settings.redis_url or "redis://127.0.0.1:6379/0"


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
