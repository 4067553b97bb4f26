"""Best posting times from the studies in platform facts, as hours of the audience's own day.

A study's hours are hours of the audience's local day: its authors bucket posts by the audience's
local time (or by one US zone for a US audience). So a window is shown as the same local hours in
the user's (audience's) time zone, never converted from the study's zone: converting a Pacific
study to Moscow would tell a Moscow user to post at midnight. Each time names its study and year.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from pipeline import rules
from pipeline.models import PostingTime
from pipeline.platforms import PlatformSpec, PostingWindow

FACTS_CHECKED = "2026-11-30"  # the last time the studies in shared/platform-facts.md were read
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def get_zone(name: str) -> ZoneInfo:
    """A ZoneInfo for an IANA name (UTC when empty), or OptionsError UNKNOWN_TIMEZONE."""
    return ZoneInfo(rules.timezone(name or "UTC"))


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


def no_study_note(spec: PlatformSpec) -> str:
    """What to say instead of times for a platform without a dated study ("" when it has
    one): plainly that there is none, so no time is ever invented."""
    if spec.posting_windows:
        return ""
    return (
        f"No dated study of the best posting times for {spec.display_name} is known to "
        f"socialopt (platform facts checked {FACTS_CHECKED}), so none are given."
    )


def best_times(spec: PlatformSpec, timezone: str = "UTC", limit: int = 3) -> list[PostingTime]:
    """Up to `limit` recommended windows as local hours in `timezone`, each labelled with its
    study. Picks round-robin across studies (so every study is heard), then sorts by weekday
    and hour. Empty for a platform no study covers (see `no_study_note`)."""
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
