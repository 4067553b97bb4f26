"""Best posting times from the studies in platform facts, in the user's time zone.

The studies give windows in the audience's local time, which we take to be the user's zone;
Hootsuite's published times are Pacific (PST/PDT), so those are converted from
America/Los_Angeles. Conversion uses a real week (DST-aware).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pipeline.errors import OptionsError
from pipeline.models import PostingTime
from pipeline.platforms import HOOTSUITE, PlatformSpec, PostingWindow

DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# studies whose published hours are in a fixed zone rather than the audience's local time
STUDY_ZONES: dict[str, str] = {HOOTSUITE: "America/Los_Angeles"}
_ALIASES = {"utc": "UTC", "gmt": "UTC", "z": "UTC", "etc/utc": "UTC"}


def get_zone(name: str) -> ZoneInfo:
    """A ZoneInfo for an IANA name, or OptionsError UNKNOWN_TIMEZONE."""
    key = (name or "UTC").strip()
    key = _ALIASES.get(key.lower(), key)
    try:
        return ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise OptionsError(
            f"'{name}' is not a time zone I know. Use an IANA name such as Europe/Berlin, "
            "America/New_York or Asia/Tokyo (the default is UTC).",
            code="UNKNOWN_TIMEZONE",
        ) from None


def _convert(
    window: PostingWindow, user_zone: ZoneInfo, week_monday: date, label: str
) -> tuple[datetime, PostingTime]:
    source = ZoneInfo(STUDY_ZONES.get(window.study, user_zone.key))
    day = week_monday + timedelta(days=window.weekday)
    start = datetime.combine(day, time(window.start_hour % 24), tzinfo=source)
    end = start + timedelta(hours=(window.end_hour - window.start_hour) % 24 or 24)
    local_start = start.astimezone(user_zone)
    local_end = end.astimezone(user_zone)
    item = PostingTime(
        day=DAYS[local_start.weekday()],
        start=local_start.strftime("%H:%M"),
        end=local_end.strftime("%H:%M"),
        timezone=label,
        study=window.study,
    )
    return local_start, item


def best_times(
    spec: PlatformSpec, timezone: str = "UTC", limit: int = 3, *, on: date | None = None
) -> list[PostingTime]:
    """Up to `limit` recommended windows in `timezone`, each labelled with its study.

    Picks round-robin across studies (so every study is heard), then sorts by weekday and
    hour. `on` is any day of the week used for DST-aware conversion (default: today, UTC).
    """
    zone = get_zone(timezone)
    label = _ALIASES.get((timezone or "UTC").strip().lower(), (timezone or "UTC").strip())
    ref = on or datetime.now(ZoneInfo("UTC")).date()
    monday = ref - timedelta(days=ref.weekday())
    by_study: dict[str, list[PostingWindow]] = {}
    for window in spec.posting_windows:
        by_study.setdefault(window.study, []).append(window)
    chosen: list[PostingWindow] = []
    queues = list(by_study.values())
    while len(chosen) < max(0, limit) and any(queues):
        for queue in queues:
            if queue and len(chosen) < limit:
                chosen.append(queue.pop(0))
    converted = [_convert(w, zone, monday, label) for w in chosen]
    converted.sort(key=lambda pair: (pair[0].weekday(), pair[0].time()))
    return [item for _, item in converted]
