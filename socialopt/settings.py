"""One settings object, read from the environment and `.env`. Secrets never print.

Parsing only: no import of `pipeline`. `socialopt.wiring.check_settings` checks names against
the pipeline's rules, and turns these settings into the pipeline's plain configs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path

from dotenv import load_dotenv

# Every platform, in the pipeline's order (pipeline.platforms.PLATFORM_KEYS; a test keeps the two
# equal): the default for DEFAULT_PLATFORMS.
ALL_PLATFORMS: tuple[str, ...] = (
    "instagram",
    "facebook",
    "linkedin",
    "pinterest",
    "x",
    "tiktok",
    "threads",
    "bluesky",
    "mastodon",
)


class Secret:
    """A string that never shows itself in repr, str or logs."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __repr__(self) -> str:
        return "Secret('***')" if self._value else "Secret('')"

    __str__ = __repr__


def _str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


# A value that fails to parse may be a key pasted into the wrong line: never echo it back.
_NOT_SHOWN = "the value given is not shown, in case it is a secret"


def _int(name: str, default: int) -> int:
    raw = _str(name)
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be a whole number ({_NOT_SHOWN})") from exc


def _float(name: str, default: float) -> float:
    raw = _str(name)
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be a number ({_NOT_SHOWN})") from exc


def _bool(name: str, default: bool) -> bool:
    raw = _str(name).lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{name} must be true or false ({_NOT_SHOWN})")


def _list(name: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
    raw = _str(name)
    if not raw:
        return default
    return tuple(part.strip() for part in raw.replace(";", ",").split(",") if part.strip())


def _int_map(name: str) -> dict[str, int]:
    """Parse `instagram=5,x=2` into {"instagram": 5, "x": 2}."""
    out: dict[str, int] = {}
    for item in _list(name):
        key, _, value = item.partition("=")
        try:
            out[key.strip().lower()] = int(value)
        except ValueError as exc:
            raise SettingsError(
                f"{name}: expected platform=number, got {key.strip()[:20]!r}=({_NOT_SHOWN})"
            ) from exc
    return out


class SettingsError(ValueError):
    """A setting has a value the program cannot use."""


def default_models_dir() -> Path:
    """The per-user models folder: `$XDG_DATA_HOME/socialopt/models` (~/.local/share/...)."""
    data_home = os.environ.get("XDG_DATA_HOME", "").strip()
    base = Path(data_home) if data_home else Path.home() / ".local" / "share"
    return (base / "socialopt" / "models").expanduser().resolve()


def _http_url(name: str) -> str:
    """An http(s) URL without a trailing slash, or "" when unset."""
    raw = _str(name).rstrip("/")
    if raw and not raw.lower().startswith(("http://", "https://")):
        raise SettingsError(f"{name} must be an http(s) URL, got {raw!r}")
    return raw


def _https_url(name: str) -> str:
    """An https URL without a trailing slash (Telegram opens Mini Apps only over https)."""
    raw = _str(name).rstrip("/")
    if raw and not raw.lower().startswith("https://"):
        raise SettingsError(f"{name} must be an https:// URL (Telegram requires it), got {raw!r}")
    return raw


def _dir(name: str) -> Path | None:
    """A folder setting as an absolute path (a relative one resolves against the cwd now)."""
    raw = _str(name)
    return Path(raw).expanduser().resolve() if raw else None


def _database_url(name: str) -> str:
    """A postgresql:// URL, or "" (SQLite) when unset."""
    raw = _str(name)
    if raw and raw.split("://", 1)[0].lower() not in ("postgresql", "postgres"):
        raise SettingsError(
            f"{name} must be a postgresql:// URL; leave it empty for SQLite in DATA_DIR "
            f"({_NOT_SHOWN})"
        )
    return raw


@dataclass(frozen=True)
class Settings:
    # Storage and defaults
    data_dir: Path = Path("data")
    default_timezone: str = "UTC"
    default_language: str = "en"
    default_platforms: tuple[str, ...] = ALL_PLATFORMS
    output_format: str = "JPEG"
    max_workers: int = 4
    log_level: str = "INFO"

    # Intake limits
    max_upload_mb: int = 50
    min_image_side: int = 300
    max_image_pixels: int = 100_000_000
    url_timeout_s: float = 20.0
    allow_private_urls: bool = False

    # Platform rule overrides, e.g. HASHTAG_LIMITS="instagram=5,x=2"
    hashtag_limits: dict[str, int] = field(default_factory=dict)
    # A Mastodon server (https://mastodon.social): its own caption limit is read from
    # /api/v2/instance when the services are built; empty = Mastodon's default of 500
    mastodon_server_url: str = ""

    # AI providers
    ai_provider: str = "auto"  # auto | openai | gemini | offline
    openai_api_key: Secret = field(default_factory=lambda: Secret(""))
    openai_base_url: str = ""
    openai_model: str = "gpt-4.1-mini"
    openai_image_model: str = "gpt-image-1"
    gemini_api_key: Secret = field(default_factory=lambda: Secret(""))
    gemini_base_url: str = ""
    gemini_model: str = "gemini-2.5-flash"
    # seconds for an answer; 0 (unset) = 60 s, or 300 s for a server on this machine or network
    ai_timeout_s: float = 0.0
    openai_timeout_s: float = 0.0  # per provider; 0 = AI_TIMEOUT_S's rule

    gemini_timeout_s: float = 0.0
    ai_stall_s: float = 60.0  # a streamed answer silent this long is given up
    openai_stream: bool = True
    openai_label: str = ""  # what users are told; "" = "OpenAI" or "<model> at <host> (...)"
    ai_max_retries: int = 2
    ai_cache_days: int = 7
    hashtag_sources: tuple[str, ...] = ()

    # Models (absolute): u2netp for background removal, EfficientNet-Lite2 for recognition
    models_dir: Path = field(default_factory=default_models_dir)

    # Product photography
    u2net_home: Path | None = None  # rembg models only; None: models_dir
    rembg_model: str = "u2netp"
    cloudinary_url: Secret = field(default_factory=lambda: Secret(""))

    # Telegram
    telegram_bot_token: Secret = field(default_factory=lambda: Secret(""))
    telegram_api_base_url: str = ""
    telegram_file_base_url: str = ""
    telegram_local_mode: bool = False  # a self-hosted `telegram-bot-api --local` server
    webhook_secret: Secret = field(default_factory=lambda: Secret(""))
    allowed_user_ids: tuple[int, ...] = ()
    jobs_per_hour: int = 20
    max_concurrent_jobs: int = 2
    draft_ttl_s: int = 1800  # an unanswered photo draft expires (python-telegram-bot timeout)
    ai_calls_per_hour: int = 30  # per user, AI calls outside jobs (/caption, /profiles); 0 = off
    ai_workers: int = 4  # threads for blocking AI/network calls outside jobs

    # REST API (`socialopt api`)
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    api_public_url: str = ""  # how callers reach the API (file URLs); "" = http://host:port
    api_rate_optimize: str = "5/minute"  # per key, `limits` notation
    api_rate_overall: str = "100/hour"
    # The Mini App and playground at /app/ (api/webapp.py)
    webapp_url: str = ""  # https URL of /app/ for the bot's "Adjust" button; "" = no button
    webapp_local_key: bool = True  # /app/ on 127.0.0.1 may fetch a local key (playground)
    webapp_init_max_age_s: int = 86400  # Telegram initData older than this is refused
    redis_url: str = ""  # rate limits (and later the queue) on Redis when set
    webhook_attempts: int = 4  # deliveries of one event, with backoff between them
    webhook_backoff_s: float = 2.0  # the first wait; each later one is 4 times longer

    # Past one machine: jobs on Celery, files on S3 (both off by default)
    job_backend: str = "local"  # local | celery
    celery_broker_url: str = ""  # "" = REDIS_URL, else redis://127.0.0.1:6379/0
    processing_timeout_s: int = 600  # a job's soft time limit (the hard one is 30 s later)
    celery_visibility_timeout_s: int = 900  # an unacknowledged job goes back to the queue
    s3_bucket: str = ""  # set to keep session files in S3-compatible storage
    s3_endpoint_url: str = ""
    s3_access_key: Secret = field(default_factory=lambda: Secret(""))
    s3_secret_key: Secret = field(default_factory=lambda: Secret(""))
    s3_region: str = "us-east-1"

    # PostgreSQL (postgresql://user:pass@host:5432/db); empty = SQLite in DATA_DIR
    database_url: Secret = field(default_factory=lambda: Secret(""))

    # Storage housekeeping
    retention_days: int = 30
    user_quota_mb: int = 500

    @property
    def openai_enabled(self) -> bool:
        return bool(self.openai_api_key)

    @property
    def gemini_enabled(self) -> bool:
        return bool(self.gemini_api_key)

    @property
    def ai_available(self) -> bool:
        return self.resolved_ai_provider() != "offline"

    def resolved_ai_provider(self) -> str:
        """`auto` picks by the keys present: OpenAI first, then Gemini, else offline."""
        if self.ai_provider != "auto":
            return self.ai_provider
        if self.openai_enabled:
            return "openai"
        if self.gemini_enabled:
            return "gemini"
        return "offline"

    @property
    def rembg_home(self) -> Path:
        """Where rembg models are looked for: U2NET_HOME when set, else MODELS_DIR."""
        return self.u2net_home or self.models_dir

    @property
    def db_path(self) -> Path:
        return self.data_dir / "socialopt.sqlite3"

    def public_view(self) -> dict[str, object]:
        """Every setting with secrets masked: safe to log or show."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_env(cls, env_file: str | Path | None = ".env") -> Settings:
        """Read settings from the environment, after loading `env_file` if it exists."""
        if env_file and Path(env_file).is_file():
            load_dotenv(env_file, override=False)
        cloudinary = _str("CLOUDINARY_URL")
        if not cloudinary and _str("CLOUDINARY_CLOUD_NAME"):
            cloudinary = "cloudinary://{}:{}@{}".format(
                _str("CLOUDINARY_API_KEY"),
                _str("CLOUDINARY_API_SECRET"),
                _str("CLOUDINARY_CLOUD_NAME"),
            )
        provider = _str("AI_PROVIDER", "auto").lower()
        if provider not in {"auto", "openai", "gemini", "offline"}:
            raise SettingsError(
                f"AI_PROVIDER must be auto, openai, gemini or offline ({_NOT_SHOWN})"
            )
        try:
            allowed = tuple(int(x) for x in _list("ALLOWED_USER_IDS"))
        except ValueError as exc:
            raise SettingsError("ALLOWED_USER_IDS must be numeric Telegram user ids") from exc
        defaults = cls()
        return cls(
            data_dir=Path(_str("DATA_DIR", str(defaults.data_dir))),
            default_timezone=_str("DEFAULT_TIMEZONE", defaults.default_timezone),
            default_language=_str("DEFAULT_LANGUAGE", defaults.default_language),
            default_platforms=_list("DEFAULT_PLATFORMS", defaults.default_platforms),
            output_format=_str("OUTPUT_FORMAT", defaults.output_format).upper(),
            max_workers=_int("MAX_WORKERS", defaults.max_workers),
            log_level=_str("LOG_LEVEL", defaults.log_level).upper(),
            max_upload_mb=_int("MAX_UPLOAD_MB", defaults.max_upload_mb),
            min_image_side=_int("MIN_IMAGE_SIDE", defaults.min_image_side),
            max_image_pixels=_int("MAX_IMAGE_PIXELS", defaults.max_image_pixels),
            url_timeout_s=_float("URL_TIMEOUT_S", defaults.url_timeout_s),
            allow_private_urls=_bool("ALLOW_PRIVATE_URLS", defaults.allow_private_urls),
            hashtag_limits=_int_map("HASHTAG_LIMITS"),
            mastodon_server_url=_http_url("MASTODON_SERVER_URL"),
            ai_provider=provider,
            openai_api_key=Secret(_str("OPENAI_API_KEY")),
            openai_base_url=_str("OPENAI_BASE_URL"),
            openai_model=_str("OPENAI_MODEL", defaults.openai_model),
            openai_image_model=_str("OPENAI_IMAGE_MODEL", defaults.openai_image_model),
            gemini_api_key=Secret(_str("GEMINI_API_KEY") or _str("GOOGLE_API_KEY")),
            gemini_base_url=_str("GOOGLE_GEMINI_BASE_URL"),
            gemini_model=_str("GEMINI_MODEL", defaults.gemini_model),
            ai_timeout_s=_float("AI_TIMEOUT_S", defaults.ai_timeout_s),
            openai_timeout_s=_float("OPENAI_TIMEOUT_S", defaults.openai_timeout_s),
            gemini_timeout_s=_float("GEMINI_TIMEOUT_S", defaults.gemini_timeout_s),
            ai_stall_s=_float("AI_STALL_S", defaults.ai_stall_s),
            openai_stream=_bool("OPENAI_STREAM", defaults.openai_stream),
            openai_label=_str("OPENAI_LABEL"),
            ai_max_retries=_int("AI_MAX_RETRIES", defaults.ai_max_retries),
            ai_cache_days=_int("AI_CACHE_DAYS", defaults.ai_cache_days),
            hashtag_sources=_list("HASHTAG_SOURCES"),
            models_dir=_dir("MODELS_DIR") or defaults.models_dir,
            u2net_home=_dir("U2NET_HOME"),
            rembg_model=_str("REMBG_MODEL", defaults.rembg_model),
            cloudinary_url=Secret(cloudinary),
            telegram_bot_token=Secret(_str("TELEGRAM_BOT_TOKEN")),
            telegram_api_base_url=_str("TELEGRAM_API_BASE_URL"),
            telegram_file_base_url=_str("TELEGRAM_FILE_BASE_URL"),
            telegram_local_mode=_bool("TELEGRAM_LOCAL_MODE", defaults.telegram_local_mode),
            webhook_secret=Secret(_str("TELEGRAM_WEBHOOK_SECRET")),
            allowed_user_ids=allowed,
            jobs_per_hour=_int("JOBS_PER_HOUR", defaults.jobs_per_hour),
            max_concurrent_jobs=_int("MAX_CONCURRENT_JOBS", defaults.max_concurrent_jobs),
            draft_ttl_s=_int("DRAFT_TTL_S", defaults.draft_ttl_s),
            ai_calls_per_hour=_int("AI_CALLS_PER_HOUR", defaults.ai_calls_per_hour),
            ai_workers=_int("AI_WORKERS", defaults.ai_workers),
            api_host=_str("API_HOST", defaults.api_host),
            api_port=_int("API_PORT", defaults.api_port),
            api_public_url=_str("API_PUBLIC_URL").rstrip("/"),
            api_rate_optimize=_str("API_RATE_OPTIMIZE", defaults.api_rate_optimize),
            api_rate_overall=_str("API_RATE_OVERALL", defaults.api_rate_overall),
            webapp_url=_https_url("WEBAPP_URL"),
            webapp_local_key=_bool("WEBAPP_LOCAL_KEY", defaults.webapp_local_key),
            webapp_init_max_age_s=_int("WEBAPP_INIT_MAX_AGE_S", defaults.webapp_init_max_age_s),
            redis_url=_str("REDIS_URL"),
            webhook_attempts=_int("WEBHOOK_ATTEMPTS", defaults.webhook_attempts),
            webhook_backoff_s=_float("WEBHOOK_BACKOFF_S", defaults.webhook_backoff_s),
            job_backend=_str("JOB_BACKEND", defaults.job_backend).lower(),
            celery_broker_url=_str("CELERY_BROKER_URL"),
            processing_timeout_s=_int("PROCESSING_TIMEOUT", defaults.processing_timeout_s),
            celery_visibility_timeout_s=_int(
                "CELERY_VISIBILITY_TIMEOUT_S", defaults.celery_visibility_timeout_s
            ),
            s3_bucket=_str("S3_BUCKET"),
            s3_endpoint_url=_str("S3_ENDPOINT_URL"),
            s3_access_key=Secret(_str("S3_ACCESS_KEY_ID") or _str("AWS_ACCESS_KEY_ID")),
            s3_secret_key=Secret(_str("S3_SECRET_ACCESS_KEY") or _str("AWS_SECRET_ACCESS_KEY")),
            s3_region=_str("S3_REGION", defaults.s3_region),
            database_url=Secret(_database_url("DATABASE_URL")),
            retention_days=_int("RETENTION_DAYS", defaults.retention_days),
            user_quota_mb=_int("USER_QUOTA_MB", defaults.user_quota_mb),
        )

    def secret_values(self) -> list[str]:
        """Raw secret strings, for log redaction only."""
        return [
            s.get()
            for s in (
                self.openai_api_key,
                self.gemini_api_key,
                self.cloudinary_url,
                self.telegram_bot_token,
                self.webhook_secret,
                self.s3_secret_key,
                self.database_url,
            )
            if s
        ]
