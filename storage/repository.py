"""The repository: every SQL statement the bot and the CLI need, on SQLite or PostgreSQL.

`Repository.open(target)` takes a SQLite file (the default, DATA_DIR/socialopt.sqlite3) or a
`postgresql://` URL; `storage.db` holds the one connection per engine, and the SQL here is
written once for both (`?` placeholders; `lower(handle)` where SQLite said COLLATE NOCASE). The
one statement that differs is the upsert of a saved account, whose conflict target must name
the engine's own unique index.

One connection and one asyncio.Lock: each public call holds the lock for its statements, and
writes run inside one transaction (`BEGIN IMMEDIATE` on SQLite; ROLLBACK on error). Calls from
many tasks queue on the lock instead of fighting over SQLite's file lock, so there is no
`database is locked`; other processes (the thread-side cache, a CLI run) wait on
`busy_timeout`. Every session, file and account call takes the owner's user id and filters by it.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import sqlite3
import uuid
from collections.abc import Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

from pipeline import rules
from pipeline.models import LANGUAGES, Account
from storage import migrations
from storage.db import POSTGRES, Connection, Database, Target, is_integrity_error, open_database
from storage.errors import (
    AccountLimitReached,
    DiskFull,
    InvalidHandle,
    InvalidNiche,
    QuotaExceeded,
    SessionNotFound,
    StorageError,
)
from storage.records import (
    Clock,
    FileRecord,
    PlatformRow,
    SessionRecord,
    UserSettings,
    dumps,
    loads,
    to_iso,
    utcnow,
    valid_session_id,
)
from storage.reserve import DiskReserve

_HANDLE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
MAX_NICHE_CHARS = 48  # a topic in a few words ("street photography")
MAX_SAVED_ACCOUNTS = 100  # per user
_SESSION_COLUMNS = (
    "id, user_id, status, source_path, source_hash, platforms, description, use_ai, options, "
    "started_at, completed_at, error_code, error_message, results, notified"
)
_USER_COLUMNS = (
    "user_id, language, timezone, default_platforms, output_format, logo_path, logo_position, "
    "logo_size_pct, created_at, seen_at, fit"
)


def normalize_handle(handle: str) -> str:
    """`brand`, `@brand`, ` @@brand ` and profile links become `@brand`; invalid raises."""
    text = handle.strip()
    text = re.sub(r"^https?://(www\.)?[^/]+/(in/)?", "", text).strip("/")
    text = text.lstrip("@").strip()
    if not _HANDLE.match(text):
        raise InvalidHandle(
            f"'{handle}' is not an account handle: use letters, digits, '.', '_' or '-' "
            "(for example @my_brand).",
        )
    return "@" + text


def _session(row: sqlite3.Row | tuple[Any, ...]) -> SessionRecord:
    return SessionRecord(
        id=row[0],
        user_id=int(row[1]),
        status=row[2],
        source_path=row[3],
        source_hash=row[4],
        platforms=tuple(loads(row[5], [])),
        description=row[6],
        use_ai=bool(row[7]),
        options=loads(row[8], {}),
        started_at=row[9],
        completed_at=row[10],
        error_code=row[11],
        error_message=row[12],
        results=loads(row[13]),
        notified=bool(row[14]),
    )


def _user(row: sqlite3.Row | tuple[Any, ...]) -> UserSettings:
    return UserSettings(
        user_id=int(row[0]),
        language=row[1],
        timezone=row[2],
        default_platforms=tuple(loads(row[3], [])),
        output_format=row[4],
        logo_path=row[5],
        logo_position=row[6],
        logo_size_pct=float(row[7]),
        created_at=row[8],
        seen_at=row[9],
        fit=row[10],
    )


def _platform_row(row: sqlite3.Row | tuple[Any, ...]) -> PlatformRow:
    return PlatformRow(
        platform=row[0],
        status=row[1],
        image_path=row[2],
        image_url=row[3],
        niches=loads(row[4], []),
        hashtags=loads(row[5], []),
        caption=row[6],
        profiles=loads(row[7], []),
        processing_seconds=float(row[8]),
        product_photography_used=bool(row[9]),
        provider=row[10],
        error=loads(row[11]),
    )


def _validate_user_field(name: str, value: Any) -> Any:
    """Check one settings value and return it in its stored form."""
    if name == "language":
        return rules.language(value)
    if name == "timezone":
        return rules.timezone(value)
    if name == "default_platforms":
        from pipeline.platforms import parse_platforms

        return dumps(list(parse_platforms(tuple(value)))) if value else "[]"
    if name == "output_format":
        return rules.output_format(value)
    if name == "logo_position":
        return rules.logo_position(value)
    if name == "logo_size_pct":
        return rules.logo_size_pct(value)
    if name == "logo_path":
        return str(value or "")
    if name == "fit":
        from pipeline.crop import check_fit

        return check_fit(str(value))
    raise TypeError(f"update_user() got an unknown field {name!r}")


class Repository:
    """Async access to the database; open with `await Repository.open(path_or_url)`."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self._clock = clock
        self.engine = db.dialect  # "sqlite" or "postgres"
        self.db_path = db.path  # the SQLite file; None on PostgreSQL
        # Given back when the disk is full, so fail_session can still write (issue 12 #5).
        # PostgreSQL's disk is the server's: no reserve.
        self._reserve = (
            DiskReserve(db.path.with_name(db.path.name + ".reserve")) if db.path else None
        )

    # ---- lifecycle -----------------------------------------------------------------------

    @classmethod
    async def open(cls, target: Target, *, clock: Clock | None = None) -> Repository:
        """Create or upgrade the database at `target` and open it: a SQLite file (WAL, foreign
        keys on) or a `postgresql://` URL."""
        await asyncio.to_thread(migrations.migrate_target, target)
        repo = cls(await open_database(target), clock or utcnow)
        if repo._reserve is not None:
            await asyncio.to_thread(repo._reserve.ensure)
        return repo

    async def close(self) -> None:
        """Close the connection (safe to call twice)."""
        await self.db.close()

    async def __aenter__(self) -> Repository:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def _now(self) -> str:
        return to_iso(self._clock())

    def _write(self) -> AbstractAsyncContextManager[Connection]:
        """A write transaction; only one at a time on this connection."""
        return self.db.write()

    async def _fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return await self.db.fetchall(sql, params)

    async def _fetchone(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return await self.db.fetchone(sql, params)

    # ---- users ---------------------------------------------------------------------------

    async def get_user(self, uid: int) -> UserSettings | None:
        row = await self._fetchone(f"SELECT {_USER_COLUMNS} FROM users WHERE user_id = ?", (uid,))
        return _user(row) if row else None

    async def _ensure_user(self, conn: Connection, uid: int, language: str | None = None) -> None:
        now = self._now()
        await conn.execute(
            "INSERT INTO users (user_id, language, created_at, seen_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(user_id) DO UPDATE SET seen_at = excluded.seen_at",
            (uid, language or "en", now, now),
        )

    async def ensure_user(self, uid: int, *, language: str | None = None) -> UserSettings:
        """Create the user if new (with `language` when supported) and update `seen_at`."""
        if language:
            language = language.replace("_", "-").split("-")[0].lower()
        if language not in LANGUAGES:
            language = None
        async with self._write() as conn:
            await self._ensure_user(conn, uid, language)
        user = await self.get_user(uid)
        assert user is not None
        return user

    async def update_user(self, uid: int, **fields: Any) -> UserSettings:
        """Change settings (language, timezone, default_platforms, output_format, logo_path,
        logo_position, logo_size_pct, fit); values are validated (OptionsError)."""
        values = {name: _validate_user_field(name, value) for name, value in fields.items()}
        async with self._write() as conn:
            await self._ensure_user(conn, uid)
            if values:
                assignments = ", ".join(f"{name} = ?" for name in values)
                await conn.execute(
                    f"UPDATE users SET {assignments} WHERE user_id = ?",
                    (*values.values(), uid),
                )
        user = await self.get_user(uid)
        assert user is not None
        return user

    # ---- sessions ------------------------------------------------------------------------

    async def create_session(
        self,
        uid: int,
        *,
        session_id: str = "",
        source_path: str = "",
        source_hash: str = "",
        platforms: Iterable[str] = (),
        description: str = "",
        use_ai: bool = False,
        options: dict[str, Any] | None = None,
        started_at: datetime | None = None,
    ) -> SessionRecord:
        """A new `pending` session owned by `uid` (the user row is created if missing).
        An empty `session_id` gets a random one; `started_at` defaults to now."""
        sid = session_id or uuid.uuid4().hex
        if not valid_session_id(sid):
            raise StorageError(f"'{sid}' cannot be a session id.", code="INVALID_SESSION_ID")
        async with self._write() as conn:
            await self._ensure_user(conn, uid)
            try:
                await conn.execute(
                    "INSERT INTO processing_sessions (id, user_id, status, source_path, "
                    "source_hash, platforms, description, use_ai, options, started_at) "
                    "VALUES (?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?)",
                    (
                        sid,
                        uid,
                        str(source_path),
                        source_hash,
                        dumps(list(platforms)),
                        description,
                        int(use_ai),
                        dumps(options or {}),
                        to_iso(started_at) if started_at else self._now(),
                    ),
                )
            except Exception as exc:
                if not is_integrity_error(exc):
                    raise
                raise StorageError(
                    f"A session with id {sid} already exists.", code="SESSION_EXISTS"
                ) from exc
        record = await self.get_session(uid, sid)
        assert record is not None
        return record

    async def _update_owned(
        self, conn: Connection, uid: int, sid: str, sql: str, params: Sequence[Any]
    ) -> None:
        """Run an UPDATE ... WHERE id = ? AND user_id = ?; raise if no row matched."""
        cur = await conn.execute(sql, (*params, sid, uid))
        if cur.rowcount == 0:
            raise SessionNotFound(sid)

    async def mark_processing(self, uid: int, sid: str) -> None:
        async with self._write() as conn:
            await self._update_owned(
                conn,
                uid,
                sid,
                "UPDATE processing_sessions SET status = 'processing' "
                "WHERE id = ? AND user_id = ?",
                (),
            )

    async def complete_session(
        self,
        uid: int,
        sid: str,
        *,
        results: dict[str, Any],
        platform_rows: list[PlatformRow],
        files: list[FileRecord],
    ) -> None:
        """Store the results, one row per platform and the files, all in one transaction."""
        async with self._write() as conn:
            await self._update_owned(
                conn,
                uid,
                sid,
                "UPDATE processing_sessions SET status = 'completed', completed_at = ?, "
                "results = ?, error_code = NULL, error_message = NULL "
                "WHERE id = ? AND user_id = ?",
                (self._now(), dumps(results)),
            )
            await self._replace_outputs(conn, sid, platform_rows, files)

    async def update_results(
        self,
        uid: int,
        sid: str,
        *,
        results: dict[str, Any],
        platform_rows: list[PlatformRow],
        files: list[FileRecord],
    ) -> None:
        """Replace a completed session's results, platform rows and files (an adjustment made
        after the job, e.g. a crop redone by hand); `completed_at` stays the job's."""
        async with self._write() as conn:
            await self._update_owned(
                conn,
                uid,
                sid,
                "UPDATE processing_sessions SET results = ? "
                "WHERE status = 'completed' AND id = ? AND user_id = ?",
                (dumps(results),),
            )
            await self._replace_outputs(conn, sid, platform_rows, files)

    async def _replace_outputs(
        self, conn: Connection, sid: str, platform_rows: list[PlatformRow], files: list[FileRecord]
    ) -> None:
        """A session's platform rows and file records, replaced (inside the caller's write)."""
        await conn.execute("DELETE FROM platform_results WHERE session_id = ?", (sid,))
        await conn.execute("DELETE FROM generated_files WHERE session_id = ?", (sid,))
        await conn.executemany(
            "INSERT INTO platform_results (session_id, platform, status, image_path, "
            "image_url, niches, hashtags, caption, profiles, processing_seconds, "
            "product_photography_used, provider, error) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    sid,
                    r.platform,
                    r.status,
                    str(r.image_path),
                    r.image_url,
                    dumps(r.niches),
                    dumps(r.hashtags),
                    r.caption,
                    dumps(r.profiles),
                    float(r.processing_seconds),
                    int(r.product_photography_used),
                    r.provider,
                    dumps(r.error) if r.error else None,
                )
                for r in platform_rows
            ],
        )
        await conn.executemany(
            "INSERT INTO generated_files (session_id, type, platform, path, url, size) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [(sid, f.type, f.platform, str(f.path), f.url, int(f.size)) for f in files],
        )

    async def fail_session(self, uid: int, sid: str, code: str, message: str) -> None:
        """Mark the session failed. On a full disk the reserve file is given back and the
        update tried once more, so a failure can always be recorded; the reserve is made
        again as soon as there is room."""
        try:
            await self._fail_session(uid, sid, code, message)
        except DiskFull:
            if self._reserve is None or not await asyncio.to_thread(self._reserve.release):
                raise
            await self._fail_session(uid, sid, code, message)
        if self._reserve is not None:
            await asyncio.to_thread(self._reserve.ensure)

    async def _fail_session(self, uid: int, sid: str, code: str, message: str) -> None:
        async with self._write() as conn:
            await self._update_owned(
                conn,
                uid,
                sid,
                "UPDATE processing_sessions SET status = 'failed', completed_at = ?, "
                "error_code = ?, error_message = ? WHERE id = ? AND user_id = ?",
                (self._now(), code, message),
            )

    async def get_session(self, uid: int, sid: str) -> SessionRecord | None:
        row = await self._fetchone(
            f"SELECT {_SESSION_COLUMNS} FROM processing_sessions WHERE id = ? AND user_id = ?",
            (sid, uid),
        )
        return _session(row) if row else None

    async def last_session(
        self, uid: int, *, status: str | None = "completed"
    ) -> SessionRecord | None:
        """The user's newest session with `status` (default completed; None: any status)."""
        sql = f"SELECT {_SESSION_COLUMNS} FROM processing_sessions WHERE user_id = ?"
        params: list[Any] = [uid]
        if status:
            sql += " AND status = ?"
            params.append(status)
        row = await self._fetchone(sql + " ORDER BY started_at DESC, rowid DESC LIMIT 1", params)
        return _session(row) if row else None

    async def list_sessions(
        self, uid: int, limit: int = 10, offset: int = 0
    ) -> list[SessionRecord]:
        """The user's sessions, newest first."""
        rows = await self._fetchall(
            f"SELECT {_SESSION_COLUMNS} FROM processing_sessions WHERE user_id = ? "
            "ORDER BY started_at DESC, rowid DESC LIMIT ? OFFSET ?",
            (uid, limit, offset),
        )
        return [_session(r) for r in rows]

    async def list_files(self, uid: int, sid: str) -> list[FileRecord]:
        rows = await self._fetchall(
            "SELECT f.session_id, f.type, f.platform, f.path, f.url, f.size "
            "FROM generated_files f JOIN processing_sessions s ON s.id = f.session_id "
            "WHERE f.session_id = ? AND s.user_id = ? ORDER BY f.id",
            (sid, uid),
        )
        return [FileRecord(r[0], r[1], r[2], r[3], r[4], int(r[5])) for r in rows]

    async def list_platform_rows(self, uid: int, sid: str) -> list[PlatformRow]:
        rows = await self._fetchall(
            "SELECT p.platform, p.status, p.image_path, p.image_url, p.niches, p.hashtags, "
            "p.caption, p.profiles, p.processing_seconds, p.product_photography_used, "
            "p.provider, p.error FROM platform_results p "
            "JOIN processing_sessions s ON s.id = p.session_id "
            "WHERE p.session_id = ? AND s.user_id = ? ORDER BY p.id",
            (sid, uid),
        )
        return [_platform_row(r) for r in rows]

    async def count_sessions_since(self, uid: int, since: datetime) -> int:
        row = await self._fetchone(
            "SELECT COUNT(*) FROM processing_sessions WHERE user_id = ? AND started_at >= ?",
            (uid, to_iso(since)),
        )
        return int(row[0])

    async def delete_session(self, uid: int, sid: str, data_dir: Path | None = None) -> bool:
        """Delete one of the user's sessions (and its folder under data_dir); False if none."""
        async with self._write() as conn:
            cur = await conn.execute(
                "DELETE FROM processing_sessions WHERE id = ? AND user_id = ?", (sid, uid)
            )
            deleted = cur.rowcount > 0
        if deleted and data_dir is not None:
            await asyncio.to_thread(_remove_session_dirs, Path(data_dir), [sid])
        return deleted

    # ---- crash recovery ------------------------------------------------------------------

    async def mark_interrupted(self) -> list[SessionRecord]:
        """At start-up: sessions left `processing` (or still `pending`) by a crash become
        `interrupted` (not yet notified); returns them, oldest first."""
        message = "The job was interrupted by a restart."
        async with self._write() as conn:
            async with conn.execute(
                "SELECT id FROM processing_sessions WHERE status IN ('processing', 'pending')"
            ) as cur:
                ids = [r[0] for r in await cur.fetchall()]
            if not ids:
                return []
            marks = ", ".join("?" * len(ids))
            await conn.execute(
                "UPDATE processing_sessions SET status = 'interrupted', notified = 0, "
                "completed_at = ?, error_code = 'INTERRUPTED', error_message = ? "
                f"WHERE id IN ({marks})",
                (self._now(), message, *ids),
            )
            async with conn.execute(
                f"SELECT {_SESSION_COLUMNS} FROM processing_sessions WHERE id IN ({marks}) "
                "ORDER BY started_at",
                ids,
            ) as cur:
                rows = list(await cur.fetchall())
        return [_session(r) for r in rows]

    async def unnotified_interrupted(self) -> list[SessionRecord]:
        """Interrupted sessions whose owners have not been told yet (all users)."""
        rows = await self._fetchall(
            f"SELECT {_SESSION_COLUMNS} FROM processing_sessions "
            "WHERE status = 'interrupted' AND notified = 0 ORDER BY started_at"
        )
        return [_session(r) for r in rows]

    async def mark_notified(self, uid: int, sid: str) -> None:
        async with self._write() as conn:
            await self._update_owned(
                conn,
                uid,
                sid,
                "UPDATE processing_sessions SET notified = 1 WHERE id = ? AND user_id = ?",
                (),
            )

    # ---- delivery (a step of its own, after completion) -----------------------------------

    async def mark_delivery_pending(self, uid: int, sid: str) -> None:
        """The session's results are to be delivered in a chat (set before the job runs)."""
        await self._set_delivery(uid, sid, "pending", None)

    async def mark_delivered(self, uid: int, sid: str) -> None:
        """Every result reached the chat (or was re-offered after a restart)."""
        await self._set_delivery(uid, sid, "delivered", self._now())

    async def _set_delivery(self, uid: int, sid: str, state: str, at: str | None) -> None:
        async with self._write() as conn:
            await self._update_owned(
                conn,
                uid,
                sid,
                "UPDATE processing_sessions SET delivery = ?, delivered_at = ? "
                "WHERE id = ? AND user_id = ?",
                (state, at),
            )

    async def undelivered(self) -> list[SessionRecord]:
        """Completed sessions whose delivery a stop or crash cut short (all users), oldest
        first."""
        rows = await self._fetchall(
            f"SELECT {_SESSION_COLUMNS} FROM processing_sessions "
            "WHERE status = 'completed' AND delivery = 'pending' ORDER BY started_at"
        )
        return [_session(r) for r in rows]

    # ---- saved accounts ------------------------------------------------------------------

    @property
    def _account_key(self) -> str:
        """The upsert's conflict target: the unique index on (user, handle whatever its case),
        which each engine spells its own way (migration v2)."""
        if self.engine == POSTGRES:
            return "(user_id, lower(handle))"
        return "(user_id, handle COLLATE NOCASE)"

    async def add_account(self, uid: int, handle: str, niche: str, platform: str = "") -> Account:
        """Save an account (handle normalised to `@name`); saving it again updates it.
        Refused: a niche over MAX_NICHE_CHARS (InvalidNiche), a new handle beyond
        MAX_SAVED_ACCOUNTS for the user (AccountLimitReached)."""
        norm = normalize_handle(handle)
        niche = " ".join(niche.split()).lower()
        if len(niche) > MAX_NICHE_CHARS:
            raise InvalidNiche(
                f"The topic is {len(niche)} characters long; keep it to {MAX_NICHE_CHARS} "
                "(a few words, like street photography)."
            )
        platform = platform.strip().lower()
        if platform:
            from pipeline.platforms import normalize_platform

            platform = normalize_platform(platform)
        async with self._write() as conn:
            await self._ensure_user(conn, uid)
            async with conn.execute(
                "SELECT COUNT(*), SUM(CASE WHEN lower(handle) = ? THEN 1 ELSE 0 END) "
                "FROM saved_accounts WHERE user_id = ?",
                (norm.lower(), uid),
            ) as cur:
                count, existing = await cur.fetchone()
            if not existing and count >= MAX_SAVED_ACCOUNTS:
                raise AccountLimitReached(MAX_SAVED_ACCOUNTS)
            await conn.execute(
                "INSERT INTO saved_accounts (user_id, handle, niche, platform, created_at) "
                f"VALUES (?, ?, ?, ?, ?) ON CONFLICT {self._account_key} "
                "DO UPDATE SET handle = excluded.handle, niche = excluded.niche, "
                "platform = excluded.platform",
                (uid, norm, niche, platform, self._now()),
            )
        return Account(handle=norm, platform=platform, niche=niche, source="saved")

    async def remove_account(self, uid: int, handle: str) -> bool:
        try:
            norm = normalize_handle(handle)
        except InvalidHandle:
            return False
        async with self._write() as conn:
            cur = await conn.execute(
                "DELETE FROM saved_accounts WHERE user_id = ? AND lower(handle) = ?",
                (uid, norm.lower()),
            )
            return cur.rowcount > 0

    async def list_accounts(
        self, uid: int, niche: str | None = None, platform: str | None = None
    ) -> list[Account]:
        """The user's accounts; `platform` also matches accounts saved for any platform."""
        sql = "SELECT handle, platform, niche FROM saved_accounts WHERE user_id = ?"
        params: list[Any] = [uid]
        if niche:
            sql += " AND niche = ?"
            params.append(niche.strip().lower())
        if platform:
            sql += " AND (platform = ? OR platform = '')"
            params.append(platform.strip().lower())
        rows = await self._fetchall(sql + " ORDER BY niche, lower(handle)", params)
        return [Account(handle=r[0], platform=r[1], niche=r[2], source="saved") for r in rows]

    # ---- housekeeping --------------------------------------------------------------------

    async def user_disk_usage(self, uid: int) -> int:
        """Bytes of the files recorded for the user's sessions."""
        row = await self._fetchone(
            "SELECT COALESCE(SUM(f.size), 0) FROM generated_files f "
            "JOIN processing_sessions s ON s.id = f.session_id WHERE s.user_id = ?",
            (uid,),
        )
        return int(row[0])

    async def check_quota(self, uid: int, quota_bytes: int) -> None:
        """Raise QuotaExceeded when the user's files reach `quota_bytes` (<= 0: no quota)."""
        if quota_bytes <= 0:
            return
        used = await self.user_disk_usage(uid)
        if used >= quota_bytes:
            raise QuotaExceeded(used, quota_bytes)

    async def purge_older_than(self, days: int, data_dir: Path | str) -> int:
        """Delete sessions started more than `days` ago (not ones still running), their rows
        and their folders DATA_DIR/sessions/<id>/; returns how many. days <= 0 keeps all."""
        if days <= 0:
            return 0
        cutoff = to_iso(self._clock() - timedelta(days=days))
        async with self._write() as conn:
            async with conn.execute(
                "SELECT id FROM processing_sessions WHERE started_at < ? "
                "AND status NOT IN ('pending', 'processing')",
                (cutoff,),
            ) as cur:
                ids = [r[0] for r in await cur.fetchall()]
            await conn.executemany(
                "DELETE FROM processing_sessions WHERE id = ?", [(i,) for i in ids]
            )
        await asyncio.to_thread(_remove_session_dirs, Path(data_dir), ids)
        return len(ids)

    # ---- AI cache ------------------------------------------------------------------------

    async def purge_expired_cache(self) -> int:
        async with self._write() as conn:
            cur = await conn.execute("DELETE FROM ai_cache WHERE expires_at <= ?", (self._now(),))
            return cur.rowcount

    async def integrity_check(self) -> str:
        """The word "ok", or what is wrong: SQLite's PRAGMA integrity_check (PostgreSQL checks
        itself), then the schema version against this program's."""
        result = await self.db.integrity_check()
        if result != "ok":
            return result
        row = await self._fetchone("SELECT MAX(version) FROM schema_version")
        if int(row[0] or 0) != migrations.LATEST:
            return f"schema version {int(row[0] or 0)}, expected {migrations.LATEST}"
        return "ok"


def _remove_session_dirs(data_dir: Path, session_ids: Iterable[str]) -> None:
    """rm -r DATA_DIR/sessions/<id>/ for each id, never outside DATA_DIR/sessions."""
    root = (data_dir / "sessions").resolve()
    for sid in session_ids:
        if not valid_session_id(sid):
            continue
        folder = (root / sid).resolve()
        if folder.parent == root and folder.is_dir():
            shutil.rmtree(folder, ignore_errors=True)
