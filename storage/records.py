"""Plain records the repository returns and takes, plus time and JSON helpers.

Timestamps are ISO 8601 strings in UTC with microseconds (`2026-11-25T01:50:00.000000+00:00`),
so they sort as text in SQL.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipeline.serialize import account_list, hashtag_list

Clock = Callable[[], datetime]

SESSION_STATUSES: tuple[str, ...] = (
    "pending",
    "processing",
    "completed",
    "failed",
    "interrupted",
)
FILE_TYPES: tuple[str, ...] = ("json", "caption", "image", "product_photo", "zip", "preview")
_SESSION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


def utcnow() -> datetime:
    return datetime.now(UTC)


def to_iso(moment: datetime) -> str:
    """ISO UTC text that sorts correctly; a naive datetime is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def from_iso(text: str | None) -> datetime | None:
    if not text:
        return None
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def valid_session_id(session_id: str) -> bool:
    """Session ids become folder names: letters, digits, `_` and `-` only, at most 64."""
    return bool(_SESSION_ID.match(session_id))


def _json_default(obj: object) -> object:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    if isinstance(obj, set | frozenset):
        return sorted(obj, key=str)
    if isinstance(obj, bytes | bytearray):
        return f"<{len(obj)} bytes>"
    if isinstance(obj, Path | datetime):
        return str(obj)
    if isinstance(obj, Mapping):
        return dict(obj)
    return str(obj)


def dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, default=_json_default, separators=(",", ":"))


def loads(text: str | None, default: Any = None) -> Any:
    if text is None or text == "":
        return default
    return json.loads(text)


@dataclass(frozen=True)
class UserSettings:
    """A Telegram user's preferences. Empty `default_platforms` means the bot's defaults."""

    user_id: int
    language: str = "en"
    timezone: str = "UTC"
    default_platforms: tuple[str, ...] = ()
    output_format: str = "JPEG"
    logo_path: str = ""
    logo_position: str = "bottom-right"
    logo_size_pct: float = 15.0
    fit: str = "auto"  # crop | pad | auto (pipeline.models.FITS)
    created_at: str = ""
    seen_at: str = ""


@dataclass(frozen=True)
class SessionRecord:
    id: str
    user_id: int
    status: str  # pending | processing | completed | failed | interrupted
    source_path: str
    source_hash: str
    platforms: tuple[str, ...]
    description: str
    use_ai: bool
    options: dict[str, Any]
    started_at: str
    completed_at: str | None
    error_code: str | None
    error_message: str | None
    results: dict[str, Any] | None
    notified: bool = False  # the user was told about an interruption

    @property
    def started(self) -> datetime | None:
        return from_iso(self.started_at)


@dataclass(frozen=True)
class FileRecord:
    session_id: str
    type: str  # json | caption | image | product_photo | zip | preview
    platform: str = ""
    path: str = ""
    url: str = ""
    size: int = 0


@dataclass
class PlatformRow:
    platform: str
    status: str = "completed"  # completed | failed
    image_path: str = ""
    image_url: str = ""
    niches: list[Any] = field(default_factory=list)
    hashtags: list[str] = field(default_factory=list)
    caption: str = ""
    profiles: list[Any] = field(default_factory=list)
    processing_seconds: float = 0.0
    product_photography_used: bool = False
    provider: str = "offline"
    error: dict[str, str] | None = None  # {"code": ..., "message": ...} when failed

    @classmethod
    def from_result_dict(cls, platform: str, data: Mapping[str, Any]) -> PlatformRow:
        """Build a row from one `platforms.<name>` entry of a results.json-shaped dict."""
        image = data.get("processed_image") or data.get("image_path") or ""
        if isinstance(image, Mapping):
            image = image.get("path") or image.get("file") or ""
        error = data.get("error")
        return cls(
            platform=platform,
            status=str(data.get("status") or "completed"),
            image_path=str(image),
            image_url=str(data.get("image_url") or data.get("url") or ""),
            niches=list(data.get("niches") or []),
            hashtags=hashtag_list(data),
            caption=str(data.get("caption") or ""),
            profiles=account_list(data) or list(data.get("profiles") or []),
            processing_seconds=float(data.get("processing_time") or 0.0),
            product_photography_used=bool(data.get("product_photography_used")),
            provider=str(data.get("provider") or "offline"),
            error=dict(error) if isinstance(error, Mapping) else None,
        )


def rows_from_results(results: Mapping[str, Any]) -> list[PlatformRow]:
    """Platform rows from a results.json-shaped dict (`platforms.<name>.{...}`)."""
    platforms = results.get("platforms") or {}
    return [PlatformRow.from_result_dict(name, data) for name, data in platforms.items()]


def _file_type(name: str) -> tuple[str, str]:
    """(type, platform guess) for a file an output folder holds."""
    from pipeline.platforms import PLATFORM_KEYS

    stem, _, ext = name.lower().rpartition(".")
    if ext == "json":
        kind = "json"
    elif ext == "zip":
        kind = "zip"
    elif ext == "txt":
        kind = "caption"
    elif stem.startswith("product_"):
        kind = "product_photo"
    elif stem.startswith(("preview", "contact")):
        kind = "preview"
    else:
        kind = "image"
    words = re.split(r"[_\-.]", stem)
    platform = next((w for w in words if w in PLATFORM_KEYS), "")
    return kind, platform


def files_in_dir(session_id: str, out_dir: Path) -> list[FileRecord]:
    """A FileRecord for every file under `out_dir` (type and platform guessed from names)."""
    records: list[FileRecord] = []
    if not out_dir.is_dir():
        return records
    for path in sorted(p for p in out_dir.rglob("*") if p.is_file()):
        kind, platform = _file_type(path.name)
        records.append(
            FileRecord(session_id, kind, platform, str(path.resolve()), "", path.stat().st_size)
        )
    return records
