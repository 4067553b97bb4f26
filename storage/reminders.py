"""The reminders table: "remind me at the best time". It shares the Repository's connection and
write lock (like `storage.api`), and every call takes the owner's user id and filters by it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.records import from_iso, to_iso
from storage.repository import Repository

STATUSES = ("pending", "sent", "cancelled", "failed")
_COLUMNS = (
    "id, user_id, chat_id, session_id, platform, window_start, window_end, study, timezone, "
    "due_at, anyway, status, created_at, done_at"
)


@dataclass(frozen=True)
class ReminderRecord:
    """One reminder as stored; times are aware UTC datetimes."""

    id: int
    user_id: int
    chat_id: int
    session_id: str
    platform: str
    window_start: datetime
    window_end: datetime
    study: str
    timezone: str  # the zone the window was found in (the user's, when it was set)
    due_at: datetime  # when it is sent: the window's start, or the end of quiet hours
    anyway: bool  # the user asked for it even inside quiet hours
    status: str
    created_at: str
    done_at: str | None


def _aware(text: str) -> datetime:
    moment = from_iso(text)
    assert moment is not None
    return moment


def _record(row: Any) -> ReminderRecord:
    return ReminderRecord(
        id=int(row[0]),
        user_id=int(row[1]),
        chat_id=int(row[2]),
        session_id=row[3],
        platform=row[4],
        window_start=_aware(row[5]),
        window_end=_aware(row[6]),
        study=row[7],
        timezone=row[8],
        due_at=_aware(row[9]),
        anyway=bool(row[10]),
        status=row[11],
        created_at=row[12],
        done_at=row[13],
    )


@dataclass(frozen=True)
class NewReminder:
    """What `ReminderStore.save` stores."""

    user_id: int
    chat_id: int
    session_id: str
    platform: str
    window_start: datetime
    window_end: datetime
    study: str
    timezone: str
    due_at: datetime
    anyway: bool = False


class ReminderStore:
    """Reminders on an open Repository (its connection, lock and clock)."""

    def __init__(self, repo: Repository) -> None:
        self.repo = repo

    def now(self) -> datetime:
        """The repository's clock (injectable in tests: `Repository.open(path, clock=...)`)."""
        return self.repo._clock()

    async def save(self, new: NewReminder) -> tuple[ReminderRecord, bool]:
        """Store a pending reminder; one already pending for the same session and platform is
        replaced (moved to the new time). Returns (the reminder, whether it replaced one)."""
        values = (
            new.chat_id,
            to_iso(new.window_start),
            to_iso(new.window_end),
            new.study,
            new.timezone,
            to_iso(new.due_at),
            int(new.anyway),
        )
        async with self.repo._write() as conn:
            async with conn.execute(
                "SELECT id FROM reminders WHERE user_id = ? AND session_id = ? AND platform = ? "
                "AND status = 'pending' ORDER BY id LIMIT 1",
                (new.user_id, new.session_id, new.platform),
            ) as cur:
                row = await cur.fetchone()
            if row is not None:
                rid = int(row[0])
                await conn.execute(
                    "UPDATE reminders SET chat_id = ?, window_start = ?, window_end = ?, "
                    "study = ?, timezone = ?, due_at = ?, anyway = ? WHERE id = ?",
                    (*values, rid),
                )
            else:
                cur = await conn.execute(
                    "INSERT INTO reminders (chat_id, window_start, window_end, study, timezone, "
                    "due_at, anyway, user_id, session_id, platform, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (*values, new.user_id, new.session_id, new.platform, self.repo._now()),
                )
                rid = int(cur.lastrowid or 0)
        record = await self.get(new.user_id, rid)
        assert record is not None
        return record, row is not None

    async def get(self, user_id: int, reminder_id: int) -> ReminderRecord | None:
        row = await self.repo._fetchone(
            f"SELECT {_COLUMNS} FROM reminders WHERE id = ? AND user_id = ?",
            (reminder_id, user_id),
        )
        return _record(row) if row else None

    async def pending(self, user_id: int | None = None) -> list[ReminderRecord]:
        """Pending reminders, soonest first: one user's, or everyone's (`None`, at start)."""
        sql = f"SELECT {_COLUMNS} FROM reminders WHERE status = 'pending'"
        params: tuple[Any, ...] = ()
        if user_id is not None:
            sql += " AND user_id = ?"
            params = (user_id,)
        rows = await self.repo._fetchall(sql + " ORDER BY due_at, id", params)
        return [_record(r) for r in rows]

    async def move(self, user_id: int, reminder_id: int, due_at: datetime) -> bool:
        """Send a pending reminder at `due_at` instead; False when it is no longer pending."""
        async with self.repo._write() as conn:
            cur = await conn.execute(
                "UPDATE reminders SET due_at = ? WHERE id = ? AND user_id = ? "
                "AND status = 'pending'",
                (to_iso(due_at), reminder_id, user_id),
            )
            return cur.rowcount > 0

    async def finish(self, user_id: int, reminder_id: int, status: str) -> bool:
        """Close a pending reminder as `sent`, `cancelled` or `failed`; False when it was not
        pending (already sent, cancelled, or not this user's)."""
        if status not in STATUSES[1:]:
            raise ValueError(f"not a final reminder status: {status!r}")
        async with self.repo._write() as conn:
            cur = await conn.execute(
                "UPDATE reminders SET status = ?, done_at = ? WHERE id = ? AND user_id = ? "
                "AND status = 'pending'",
                (status, self.repo._now(), reminder_id, user_id),
            )
            return cur.rowcount > 0

    async def cancel_all(self, user_id: int) -> list[int]:
        """Cancel every pending reminder of the user; the ids cancelled."""
        async with self.repo._write() as conn:
            async with conn.execute(
                "SELECT id FROM reminders WHERE user_id = ? AND status = 'pending'", (user_id,)
            ) as cur:
                ids = [int(r[0]) for r in await cur.fetchall()]
            await conn.execute(
                "UPDATE reminders SET status = 'cancelled', done_at = ? "
                "WHERE user_id = ? AND status = 'pending'",
                (self.repo._now(), user_id),
            )
        return ids
