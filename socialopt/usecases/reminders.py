""" "Remind me at the best time": the next posting window of a session's platforms in the user's
time zone, the quiet-hours rule, and reminders created, listed, cancelled and fired through
storage. No Telegram: the bot schedules what this returns on its JobQueue.

The windows are the studies' hours of the audience's own day (`pipeline.posting`), so they are
the same local hours in the user's zone. A platform no dated study covers has no window, and the
offer carries `posting.no_study_note` instead of an invented time.

Quiet hours: nothing is sent between 23:00 and 07:00 local time unless the user asked for that
reminder "anyway". A window starting inside them is offered at 07:00 (with an "anyway" choice);
a reminder that comes due inside them (the bot was down at its time, or the user's time zone
changed since) waits until 07:00.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from pipeline.errors import SocialOptError
from pipeline.platforms import PLATFORMS, PlatformSpec
from pipeline.posting import get_zone, no_study_note
from socialopt.usecases.history import StoredPlatform, session_files, stored_platforms
from storage.files import FileStore
from storage.records import SessionRecord
from storage.reminders import NewReminder, ReminderRecord, ReminderStore

Clock = Callable[[], datetime]

QUIET_START = 23  # local hour quiet hours begin (inclusive)
QUIET_END = 7  # local hour they end
LATE_AFTER = timedelta(minutes=10)  # a reminder sent later than this says when it was due
EARLY_SLACK = timedelta(seconds=2)  # a job firing earlier than this before its time waits


class ReminderError(SocialOptError):
    """A reminder cannot be set or changed. Codes: SESSION_NOT_FOUND, NO_POSTING_STUDY,
    UNKNOWN_PLATFORM, REMINDER_NOT_FOUND."""

    code = "REMINDER_FAILED"


# -- time rules (pure) -------------------------------------------------------------------------


def in_quiet_hours(local: datetime) -> bool:
    """Whether a local time falls in quiet hours (23:00 to 07:00)."""
    return local.hour >= QUIET_START or local.hour < QUIET_END


def quiet_hours_end(local: datetime) -> datetime:
    """07:00 local after `local` (the same day before 07:00, the next day from 23:00)."""
    day = local.date() + timedelta(days=1 if local.hour >= QUIET_START else 0)
    return datetime.combine(day, time(QUIET_END), local.tzinfo)


def send_time(start: datetime, *, anyway: bool = False) -> datetime:
    """When a reminder for a window starting at `start` (local) is sent: at the start, or at
    the end of quiet hours when it starts inside them and the user did not ask anyway."""
    if anyway or not in_quiet_hours(start):
        return start
    return quiet_hours_end(start)


@dataclass(frozen=True)
class Window:
    """One occurrence of a study window, in the user's zone."""

    start: datetime
    end: datetime
    study: str


def next_window(spec: PlatformSpec, timezone: str, now: datetime) -> Window | None:
    """The platform's next window starting after `now`, as local hours in `timezone`; None
    for a platform no dated study covers. OptionsError UNKNOWN_TIMEZONE for a bad zone."""
    zone = get_zone(timezone)
    local_now = now.astimezone(zone)
    for days in range(8):
        day = local_now.date() + timedelta(days=days)
        found: list[Window] = []
        for window in spec.posting_windows:
            if window.weekday % 7 != day.weekday():
                continue
            start = datetime.combine(day, time(window.start_hour % 24), zone)
            end_day = day + timedelta(days=1 if window.end_hour % 24 <= window.start_hour else 0)
            end = datetime.combine(end_day, time(window.end_hour % 24), zone)
            if start > local_now:
                found.append(Window(start, end, window.study))
        if found:
            return min(found, key=lambda w: w.start)
    return None


@dataclass(frozen=True)
class Offer:
    """What the bot offers for one platform: its next window (and when the reminder would be
    sent), or, without a dated study, the note saying so."""

    platform: str
    window: Window | None
    send_at: datetime | None  # local; differs from window.start when quiet hours move it
    note: str = ""

    @property
    def quiet(self) -> bool:
        """The window starts inside quiet hours, so the reminder waits until 07:00."""
        return self.window is not None and self.send_at != self.window.start


def offer(spec: PlatformSpec, timezone: str, now: datetime) -> Offer:
    window = next_window(spec, timezone, now)
    if window is None:
        return Offer(spec.key, None, None, no_study_note(spec))
    return Offer(spec.key, window, send_time(window.start))


# -- what fires --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Due:
    """What to do when a reminder's job runs: `send` it (`late` when the bot missed its time),
    `wait` until `at` (quiet hours, or the job ran early), or `drop` it (cancelled, sent)."""

    action: str
    reminder: ReminderRecord | None
    at: datetime | None = None
    late: bool = False


@dataclass(frozen=True)
class Created:
    reminder: ReminderRecord
    replaced: bool  # it moved a reminder already set for that session and platform


class Reminders:
    """Reminders of one bot (or other front door) over the storage's reminder table."""

    def __init__(self, store: ReminderStore, clock: Clock | None = None) -> None:
        self.store = store
        self.repo = store.repo
        self.clock: Clock = clock or store.now

    # ---- offering and creating -----------------------------------------------------------

    async def _user_zone(self, user_id: int, fallback: str = "UTC") -> str:
        user = await self.repo.get_user(user_id)
        return (user.timezone if user is not None else "") or fallback

    async def _session(self, user_id: int, session_id: str) -> SessionRecord:
        session = await self.repo.get_session(user_id, session_id)
        if session is None or session.status != "completed" or not session.results:
            raise ReminderError(
                "That session is gone (old sessions are deleted after a while), so there is "
                "nothing to remind you of.",
                code="SESSION_NOT_FOUND",
            )
        return session

    @staticmethod
    def _ready_platforms(session: SessionRecord) -> list[str]:
        done = (session.results or {}).get("platforms") or {}
        return [
            p
            for p in (session.platforms or tuple(done))
            if p in PLATFORMS and (done.get(p) or {}).get("status", "completed") == "completed"
        ]

    async def offers(self, user_id: int, session_id: str) -> tuple[str, list[Offer]]:
        """(the user's time zone, an offer per ready platform of the session)."""
        session = await self._session(user_id, session_id)
        zone = get_zone(await self._user_zone(user_id)).key
        now = self.clock()
        return zone, [offer(PLATFORMS[p], zone, now) for p in self._ready_platforms(session)]

    async def create(
        self, user_id: int, chat_id: int, session_id: str, platform: str, *, anyway: bool = False
    ) -> Created:
        """A reminder at the platform's next window (found now, in the user's zone). Setting
        one again for the same session and platform moves it."""
        session = await self._session(user_id, session_id)
        if platform not in self._ready_platforms(session):
            raise ReminderError(
                f"That session has no ready post for “{platform}”.", code="UNKNOWN_PLATFORM"
            )
        zone = get_zone(await self._user_zone(user_id)).key
        window = next_window(PLATFORMS[platform], zone, self.clock())
        if window is None:
            raise ReminderError(no_study_note(PLATFORMS[platform]), code="NO_POSTING_STUDY")
        record, replaced = await self.store.save(
            NewReminder(
                user_id=user_id,
                chat_id=chat_id,
                session_id=session_id,
                platform=platform,
                window_start=window.start,
                window_end=window.end,
                study=window.study,
                timezone=zone,
                due_at=send_time(window.start, anyway=anyway),
                anyway=anyway,
            )
        )
        return Created(record, replaced)

    async def create_all(self, user_id: int, chat_id: int, session_id: str) -> list[Created]:
        """A reminder for every ready platform of the session that has a window."""
        _, offers = await self.offers(user_id, session_id)
        return [
            await self.create(user_id, chat_id, session_id, o.platform)
            for o in offers
            if o.window is not None
        ]

    # ---- listing and cancelling ----------------------------------------------------------

    async def pending(self, user_id: int) -> list[ReminderRecord]:
        """The user's pending reminders, soonest first."""
        return await self.store.pending(user_id)

    async def everyone_pending(self) -> list[ReminderRecord]:
        """Every pending reminder (the bot schedules them again at start)."""
        return await self.store.pending()

    async def cancel(self, user_id: int, reminder_id: int) -> ReminderRecord:
        """Cancel one of the user's pending reminders; ReminderError when there is none."""
        record = await self.store.get(user_id, reminder_id)
        if record is None or not await self.store.finish(user_id, reminder_id, "cancelled"):
            raise ReminderError(
                "That reminder is no longer pending (already sent or cancelled).",
                code="REMINDER_NOT_FOUND",
            )
        return record

    async def cancel_all(self, user_id: int) -> list[int]:
        return await self.store.cancel_all(user_id)

    # ---- firing --------------------------------------------------------------------------

    async def due(self, user_id: int, reminder_id: int) -> Due:
        """Decide, when a reminder's job runs, whether to send it now."""
        record = await self.store.get(user_id, reminder_id)
        if record is None or record.status != "pending":
            return Due("drop", record)
        now = self.clock()
        if now < record.due_at - EARLY_SLACK:  # moved since the job was scheduled
            return Due("wait", record, record.due_at)
        zone = get_zone(await self._user_zone(user_id, record.timezone))
        local = now.astimezone(zone)
        if not record.anyway and in_quiet_hours(local):
            at = quiet_hours_end(local)
            await self.store.move(user_id, reminder_id, at)
            moved = await self.store.get(user_id, reminder_id)
            return Due("wait", moved, at)
        return Due("send", record, late=now - record.due_at > LATE_AFTER)

    async def kit(self, reminder: ReminderRecord, files: FileStore) -> StoredPlatform | None:
        """The reminder's ready-to-post kit from its session: result and image file (None
        when the session or that platform is gone)."""
        session = await self.repo.get_session(reminder.user_id, reminder.session_id)
        if session is None or not session.results:
            return None

        def find() -> StoredPlatform | None:
            with session_files(files, session.id) as folder:
                mine = (
                    s for s in stored_platforms(session, folder) if s.platform == reminder.platform
                )
                return next(mine, None)

        return await asyncio.to_thread(find)

    async def sent(self, reminder: ReminderRecord) -> bool:
        return await self.store.finish(reminder.user_id, reminder.id, "sent")

    async def failed(self, reminder: ReminderRecord) -> bool:
        return await self.store.finish(reminder.user_id, reminder.id, "failed")
