"""Reminders without Telegram: the next window in the user's zone, the quiet-hours rule, and
create / list / cancel / fire through the real storage (SQLite) with a controllable clock."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot import keyboards
from bot.callbacks import REMIND
from bot.formatting import platform_message
from pipeline.models import PlatformContent, PlatformResult
from pipeline.platforms import PLATFORMS, PlatformSpec, PostingWindow
from pipeline.posting import no_study_note
from socialopt.usecases.reminders import (
    ReminderError,
    Reminders,
    in_quiet_hours,
    next_window,
    offer,
    quiet_hours_end,
    send_time,
)
from storage.reminders import ReminderStore
from storage.repository import Repository

NY = ZoneInfo("America/New_York")
TOKYO = ZoneInfo("Asia/Tokyo")
ANA, BEN = 31, 32


class Clock:
    """A clock a test sets; it stands still until set again."""

    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment


def first_window_by_scan(spec: PlatformSpec, zone: ZoneInfo, now: datetime) -> datetime:
    """An independent oracle: walk forward hour by hour in local time until an hour that
    starts one of the platform's windows."""
    local = now.astimezone(zone).replace(minute=0, second=0, microsecond=0)
    starts = {(w.weekday, w.start_hour) for w in spec.posting_windows}
    for _ in range(24 * 8):
        local = (local + timedelta(hours=1)).astimezone(zone)
        if (local.weekday(), local.hour) in starts:
            return local
    raise AssertionError("no window within a week")


@pytest.mark.parametrize("platform", ["instagram", "facebook", "linkedin", "pinterest", "x"])
@pytest.mark.parametrize("zone", [NY, TOKYO])
def test_next_window_is_the_first_window_start_after_now(platform: str, zone: ZoneInfo) -> None:
    spec = PLATFORMS[platform]
    for hours in range(0, 24 * 7, 5):  # many moments across a week
        now = datetime(2026, 12, 6, 0, 7, tzinfo=UTC) + timedelta(hours=hours)
        window = next_window(spec, zone.key, now)
        assert window is not None
        assert window.start > now
        assert window.start == first_window_by_scan(spec, zone, now)
        assert window.start.tzinfo is not None and window.start.utcoffset() == zone.utcoffset(
            window.start.replace(tzinfo=None)
        )
        assert window.end > window.start


def test_the_same_local_hours_in_every_zone() -> None:
    """Studies give hours of the audience's day: 09:00 in New York and 09:00 in Tokyo."""
    now = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)  # a Sunday
    ny = next_window(PLATFORMS["instagram"], "America/New_York", now)
    tokyo = next_window(PLATFORMS["instagram"], "Asia/Tokyo", now)
    assert ny is not None and tokyo is not None
    # Instagram's earliest Monday window is Hootsuite's 09:00-10:00 (pipeline.platforms)
    assert (ny.start.weekday(), ny.start.hour) == (tokyo.start.weekday(), tokyo.start.hour)
    assert ny.start.hour == 9 and ny.start.weekday() == 0
    assert ny.start.astimezone(UTC) == datetime(2026, 12, 7, 14, 0, tzinfo=UTC)
    assert tokyo.start.astimezone(UTC) == datetime(2026, 12, 7, 0, 0, tzinfo=UTC)


def test_platforms_without_a_dated_study_get_the_note_not_a_time() -> None:
    now = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    for platform in ("threads", "bluesky", "mastodon"):
        spec = PLATFORMS[platform]
        assert next_window(spec, "UTC", now) is None
        made = offer(spec, "UTC", now)
        assert made.window is None and made.send_at is None
        assert made.note == no_study_note(spec) and "No dated study" in made.note


def test_a_platform_without_a_study_says_so_where_the_times_would_be() -> None:
    """The result message (bot.formatting) shows the note, not an empty gap."""
    content = PlatformContent(caption="Morning light", hashtags=["#Light"])
    for platform in ("threads", "instagram"):
        result = PlatformResult(platform=platform, status="completed", content=content)
        text = "\n".join(platform_message(result, timezone="America/New_York"))
        note = no_study_note(PLATFORMS[platform])
        if note:
            assert note in text and "Best times to post" not in text
        else:  # a platform with studies gets its times, recomputed for the zone
            assert "Best times to post</b> (America/New_York)" in text


@pytest.mark.parametrize(
    ("hour", "minute", "quiet"),
    [(22, 59, False), (23, 0, True), (2, 0, True), (6, 59, True), (7, 0, False), (12, 0, False)],
)
def test_quiet_hours_are_23_to_7_local(hour: int, minute: int, quiet: bool) -> None:
    assert in_quiet_hours(datetime(2026, 12, 7, hour, minute, tzinfo=NY)) is quiet


def test_a_window_in_quiet_hours_waits_until_7_unless_asked() -> None:
    early = datetime(2026, 12, 8, 5, 0, tzinfo=NY)
    late = datetime(2026, 12, 8, 23, 30, tzinfo=NY)
    assert send_time(early) == datetime(2026, 12, 8, 7, 0, tzinfo=NY)
    assert send_time(late) == datetime(2026, 12, 9, 7, 0, tzinfo=NY)  # the next morning
    assert send_time(early, anyway=True) == early
    noon = datetime(2026, 12, 8, 12, 0, tzinfo=NY)
    assert send_time(noon) == noon
    assert quiet_hours_end(late) == datetime(2026, 12, 9, 7, 0, tzinfo=NY)

    # an offer for such a window says so, and its keyboard has the "anyway" choice
    spec = replace(PLATFORMS["pinterest"], posting_windows=(PostingWindow(1, 5, 6, "Dawn 2026"),))
    made = offer(spec, "America/New_York", datetime(2026, 12, 7, 12, 0, tzinfo=NY))
    assert made.quiet and made.window is not None
    assert made.window.start == early and made.send_at == datetime(2026, 12, 8, 7, 0, tzinfo=NY)
    quiet_markup = keyboards.reminder_offer("s1", [made])
    assert quiet_markup is not None
    assert [b.callback_data for row in quiet_markup.inline_keyboard for b in row] == [
        REMIND("s", "s1", "pinterest"),
        REMIND("s", "s1", "pinterest", "anyway"),
    ]
    ordinary = offer(PLATFORMS["pinterest"], "America/New_York", datetime(2026, 12, 7, tzinfo=NY))
    assert not ordinary.quiet
    markup = keyboards.reminder_offer("s1", [ordinary])
    assert markup is not None
    assert [b.callback_data for row in markup.inline_keyboard for b in row] == [
        REMIND("s", "s1", "pinterest")
    ]


# -- through storage ---------------------------------------------------------------------------


@pytest.fixture
async def repo(tmp_path: Path) -> AsyncIterator[Repository]:
    clock = Clock(datetime(2026, 12, 6, 17, 0, tzinfo=UTC))  # Sunday 12:00 in New York
    repository = await Repository.open(tmp_path / "db.sqlite3", clock=clock)
    try:
        yield repository
    finally:
        await repository.close()


async def completed(repo: Repository, uid: int, sid: str, platforms: tuple[str, ...]) -> None:
    await repo.create_session(uid, session_id=sid, platforms=platforms)
    results = {"platforms": {p: {"status": "completed", "caption": "Hi"} for p in platforms}}
    await repo.complete_session(uid, sid, results=results, platform_rows=[], files=[])


async def test_create_list_move_and_cancel(repo: Repository) -> None:
    await repo.update_user(ANA, timezone="America/New_York")
    await completed(repo, ANA, "sessA", ("instagram", "x", "threads"))
    uc = Reminders(ReminderStore(repo))
    zone, offers = await uc.offers(ANA, "sessA")
    assert zone == "America/New_York"
    assert [o.platform for o in offers] == ["instagram", "x", "threads"]
    assert offers[2].window is None and offers[2].note == no_study_note(PLATFORMS["threads"])

    made = await uc.create(ANA, ANA, "sessA", "instagram")
    assert not made.replaced
    # Monday 09:00 New York (EST, UTC-5), stored in UTC
    assert made.reminder.due_at == datetime(2026, 12, 7, 14, 0, tzinfo=UTC)
    assert made.reminder.window_start == made.reminder.due_at
    assert made.reminder.timezone == "America/New_York"
    again = await uc.create(ANA, ANA, "sessA", "instagram")  # pressed twice: one reminder
    assert again.replaced and again.reminder.id == made.reminder.id
    everything = await uc.create_all(ANA, ANA, "sessA")
    assert sorted(c.reminder.platform for c in everything) == ["instagram", "x"]
    pending = await uc.pending(ANA)
    assert [r.platform for r in pending] == ["instagram", "x"]  # soonest first
    assert pending[1].due_at == datetime(2026, 12, 8, 14, 0, tzinfo=UTC)  # X: Tuesday 09:00

    with pytest.raises(ReminderError) as refused:
        await uc.create(ANA, ANA, "sessA", "threads")
    assert refused.value.code == "NO_POSTING_STUDY"
    with pytest.raises(ReminderError) as gone:
        await uc.create(BEN, BEN, "sessA", "instagram")  # not Ben's session
    assert gone.value.code == "SESSION_NOT_FOUND"
    with pytest.raises(ReminderError) as foreign:
        await uc.cancel(BEN, made.reminder.id)  # nor his reminder
    assert foreign.value.code == "REMINDER_NOT_FOUND"

    cancelled = await uc.cancel(ANA, made.reminder.id)
    assert cancelled.platform == "instagram"
    assert [r.platform for r in await uc.pending(ANA)] == ["x"]
    with pytest.raises(ReminderError):
        await uc.cancel(ANA, made.reminder.id)  # twice
    assert len(await uc.cancel_all(ANA)) == 1
    assert await uc.pending(ANA) == []


async def test_what_fires_when(repo: Repository) -> None:
    clock: Clock = repo._clock  # type: ignore[assignment]
    await repo.update_user(ANA, timezone="America/New_York")
    await completed(repo, ANA, "sessA", ("instagram", "pinterest"))
    uc = Reminders(ReminderStore(repo))
    ig = (await uc.create(ANA, ANA, "sessA", "instagram")).reminder  # Monday 09:00

    clock.moment = ig.due_at - timedelta(minutes=5)  # the job ran early (moved since)
    early = await uc.due(ANA, ig.id)
    assert early.action == "wait" and early.at == ig.due_at
    clock.moment = ig.due_at
    on_time = await uc.due(ANA, ig.id)
    assert on_time.action == "send" and not on_time.late
    clock.moment = ig.due_at + timedelta(hours=3)  # the bot was down at 09:00
    assert (await uc.due(ANA, ig.id)).late

    # Pinterest: Sunday 20:00; the bot comes back at 01:00 on Monday: it waits until 07:00
    clock.moment = datetime(2026, 12, 6, 17, 0, tzinfo=UTC)
    pin = (await uc.create(ANA, ANA, "sessA", "pinterest")).reminder
    assert pin.due_at == datetime(2026, 12, 6, 20, 0, tzinfo=NY)
    clock.moment = datetime(2026, 12, 7, 1, 0, tzinfo=NY)
    held = await uc.due(ANA, pin.id)
    assert held.action == "wait" and held.at == datetime(2026, 12, 7, 7, 0, tzinfo=NY)
    assert held.reminder is not None and held.reminder.due_at == held.at  # stored
    # ... unless the user asked for it anyway
    anyway = (await uc.create(ANA, ANA, "sessA", "pinterest", anyway=True)).reminder
    assert anyway.id == pin.id and anyway.anyway
    # (set at 01:00 on Monday: the next Pinterest window is Friday 20:00; sent at 02:00)
    clock.moment = datetime(2026, 12, 12, 2, 0, tzinfo=NY)
    assert (await uc.due(ANA, pin.id)).action == "send"

    await uc.sent(ig)
    assert (await uc.due(ANA, ig.id)).action == "drop"  # sent once only


async def test_quiet_hours_follow_the_users_zone_at_fire_time(repo: Repository) -> None:
    """Set in New York for 09:00; the user moved to Tokyo, where that instant is 23:00."""
    clock: Clock = repo._clock  # type: ignore[assignment]
    await repo.update_user(ANA, timezone="America/New_York")
    await completed(repo, ANA, "sessA", ("instagram",))
    uc = Reminders(ReminderStore(repo))
    ig = (await uc.create(ANA, ANA, "sessA", "instagram")).reminder
    await repo.update_user(ANA, timezone="Asia/Tokyo")
    clock.moment = ig.due_at
    due = await uc.due(ANA, ig.id)
    assert ig.due_at.astimezone(TOKYO).hour == 23
    assert due.action == "wait" and due.at is not None
    assert due.at.astimezone(TOKYO).hour == 7 and due.at > ig.due_at


async def test_table_migration_and_cascade(repo: Repository, tmp_path: Path) -> None:
    await completed(repo, ANA, "sessA", ("instagram",))
    uc = Reminders(ReminderStore(repo))
    await uc.create(ANA, ANA, "sessA", "instagram")
    conn = sqlite3.connect(tmp_path / "db.sqlite3")
    try:
        applied = dict(conn.execute("SELECT version, name FROM schema_version"))
        assert applied[6] == "reminders"
        assert conn.execute("SELECT COUNT(*) FROM reminders").fetchone()[0] == 1
    finally:
        conn.close()
    assert await repo.delete_session(ANA, "sessA")
    assert await uc.pending(ANA) == []  # the session's reminders went with it
