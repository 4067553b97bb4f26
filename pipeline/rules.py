"""One normaliser per user-facing rule, shared by every front door (bot, CLI) and storage.

Each takes what a user typed or a database holds and returns the canonical value, or raises
OptionsError with a specific code, so a rule is written once and the copies cannot disagree.
"""

from __future__ import annotations

from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pipeline.errors import OptionsError
from pipeline.models import LANGUAGES, LOGO_POSITIONS, OUTPUT_FORMATS

# The logo's width as a percentage of the image width. Above half the width a logo stops
# being a mark and hides the photo; the bot never offered more, so stored values stay valid.
LOGO_SIZE_MIN_PCT = 1.0
LOGO_SIZE_MAX_PCT = 50.0

_FORMAT_ALIASES = {"JPG": "JPEG"}
_ZONE_ALIASES = {"utc": "UTC", "gmt": "UTC", "z": "UTC", "etc/utc": "UTC"}
MAX_ZONE_CHARS = 64  # the longest IANA name is about 32 characters


def _one_of(value: object, canonical: str, choices: tuple[str, ...], what: str, code: str) -> str:
    """`canonical` when it is one of `choices`, else OptionsError `code` naming them."""
    if canonical not in choices:
        shown = str(value)[:40]  # what was typed may be long: echo only its start
        raise OptionsError(
            f"{what} '{shown}' is not supported; choose from {', '.join(choices)}.", code=code
        )
    return canonical


def output_format(value: str) -> str:
    """`jpg`, `Jpeg`, `png`... -> JPEG | PNG | WEBP (OptionsError UNKNOWN_FORMAT)."""
    fmt = str(value or "").strip().upper()
    fmt = _FORMAT_ALIASES.get(fmt, fmt)
    return _one_of(value, fmt, OUTPUT_FORMATS, "Output format", "UNKNOWN_FORMAT")


def logo_size_pct(value: float | str) -> float:
    """The logo width in percent of the image width, LOGO_SIZE_MIN_PCT..LOGO_SIZE_MAX_PCT
    (OptionsError INVALID_LOGO)."""
    try:
        size = float(value)
    except (TypeError, ValueError):
        size = float("nan")
    if not LOGO_SIZE_MIN_PCT <= size <= LOGO_SIZE_MAX_PCT:  # NaN fails too
        raise OptionsError(
            f"Logo size must be between {LOGO_SIZE_MIN_PCT:g} and {LOGO_SIZE_MAX_PCT:g} "
            "percent of the width.",
            code="INVALID_LOGO",
        )
    return size


def logo_position(value: str) -> str:
    """One of LOGO_POSITIONS (OptionsError INVALID_LOGO)."""
    return _one_of(value, str(value), LOGO_POSITIONS, "Logo position", "INVALID_LOGO")


def language(value: str) -> str:
    """`de`, `DE`, `de-DE`, `de_AT` -> `de`, one of LANGUAGES (OptionsError UNKNOWN_LANGUAGE)."""
    code = str(value or "").strip().lower().replace("_", "-").split("-")[0]
    return _one_of(value, code, LANGUAGES, "Language", "UNKNOWN_LANGUAGE")


@lru_cache(maxsize=1)
def _zones_by_lower() -> dict[str, str]:
    return {name.lower(): name for name in available_timezones()}


def timezone(value: str) -> str:
    """The canonical IANA name for a time zone typed in any case, with spaces for
    underscores, or UTC/GMT/Z (OptionsError UNKNOWN_TIMEZONE)."""
    text = str(value or "").strip()
    key = text.replace(" ", "_")
    key = _ZONE_ALIASES.get(key.lower()) or _zones_by_lower().get(key.lower(), key)
    try:
        if not key or len(key) > MAX_ZONE_CHARS:
            raise ValueError(key)
        ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError, TypeError, OSError):
        shown = text if len(text) <= MAX_ZONE_CHARS else text[:MAX_ZONE_CHARS] + "…"
        raise OptionsError(
            f"'{shown}' is not a time zone I know. Use an IANA name such as Europe/Berlin, "
            "America/New_York or Asia/Tokyo (the default is UTC).",
            code="UNKNOWN_TIMEZONE",
        ) from None
    return key
