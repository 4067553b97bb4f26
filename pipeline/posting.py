"""Best posting times from the studies in platform facts, as hours of the audience's own day.

A study's hours are hours of the audience's local day: its authors bucket posts by the audience's
local time (or by one US zone for a US audience). So a window is shown as the same local hours in
the user's (audience's) time zone, never converted from the study's zone: converting a Pacific
study to Moscow would tell a Moscow user to post at midnight. Each time names its study and year.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pipeline.errors import OptionsError
from pipeline.models import PostingTime
from pipeline.platforms import PlatformSpec, PostingWindow

DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_ALIASES = {"utc": "UTC", "gmt": "UTC", "z": "UTC", "etc/utc": "UTC"}
MAX_ZONE_CHARS = 64  # the longest IANA name is about 32 characters


def get_zone(name: str) -> ZoneInfo:
    """A ZoneInfo for an IANA name, or OptionsError UNKNOWN_TIMEZONE."""
    key = (name or "UTC").strip()
    key = _ALIASES.get(key.lower(), key)
    try:
        if len(key) > MAX_ZONE_CHARS:
            raise ValueError(key)
        return ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError, TypeError, OSError):
        shown = key if len(key) <= MAX_ZONE_CHARS else key[:MAX_ZONE_CHARS] + "…"
        raise OptionsError(
            f"'{shown}' is not a time zone I know. Use an IANA name such as Europe/Berlin, "
            "America/New_York or Asia/Tokyo (the default is UTC).",
            code="UNKNOWN_TIMEZONE",
        ) from None


def zone_label(name: str) -> str:
    """The canonical label of a valid zone name ("utc" -> "UTC")."""
    return get_zone(name).key


def _local(window: PostingWindow, label: str) -> PostingTime:
    """A study window as the same hours of the audience's day in its zone."""
    return PostingTime(
        day=DAYS[window.weekday % 7],
        start=f"{window.start_hour % 24:02d}:00",
        end=f"{window.end_hour % 24:02d}:00",
        timezone=label,
        study=window.study,
    )


def best_times(spec: PlatformSpec, timezone: str = "UTC", limit: int = 3) -> list[PostingTime]:
    """Up to `limit` recommended windows as local hours in `timezone`, each labelled with its
    study. Picks round-robin across studies (so every study is heard), then sorts by weekday
    and hour."""
    label = zone_label(timezone)
    by_study: dict[str, list[PostingWindow]] = {}
    for window in spec.posting_windows:
        by_study.setdefault(window.study, []).append(window)
    chosen: list[PostingWindow] = []
    queues = list(by_study.values())
    while len(chosen) < max(0, limit) and any(queues):
        for queue in queues:
            if queue and len(chosen) < limit:
                chosen.append(queue.pop(0))
    chosen.sort(key=lambda w: (w.weekday, w.start_hour))
    return [_local(w, label) for w in chosen]
