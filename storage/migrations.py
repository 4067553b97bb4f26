"""Schema migrations: an ordered list of steps and a `schema_version` table, on SQLite or
PostgreSQL.

Each migration runs in its own transaction together with the row that records it, so a crash
mid-upgrade leaves the previous version intact (PostgreSQL's DDL is transactional too).
Upgrading keeps the data. The steps are written once in SQLite's words; on PostgreSQL the column
types are translated (`storage.db.postgres_ddl`: identity keys, BIGINT, DOUBLE PRECISION) and a
`Variant` step says what differs beyond that.

Two processes starting at once never apply a migration twice: on SQLite each migration's
`BEGIN IMMEDIATE` takes the write lock before the version is read again; on PostgreSQL the whole
run holds an advisory lock (`pg_advisory_lock`, one per schema), and the version is read inside
it. The runner is synchronous (stdlib sqlite3, psycopg) so the async repository, the
thread-side cache and `socialopt migrate` share it; the repository calls it in a worker thread.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from storage.db import (
    POSTGRES,
    SQLITE,
    PgSyncConnection,
    connect_postgres_sync,
    is_postgres,
    postgres_ddl,
)
from storage.errors import StorageError
from storage.records import to_iso, utcnow


@dataclass(frozen=True)
class Variant:
    """A step whose SQL differs by engine beyond the column types; None: nothing to do there."""

    sqlite: str | None
    postgres: str | None


# A callable step gets the connection: sqlite3.Connection, or PgSyncConnection (its
# `dialect` is "postgres"); both take `execute(sql, params)` with `?` placeholders.
Step = str | Variant | Callable[[Any], None]


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    steps: tuple[Step, ...]


# v1: the seed's shape, adapted to SQLite. No AI cache, no notified/provider columns,
# saved accounts without a uniqueness rule.
V1 = (
    """CREATE TABLE users (
        user_id INTEGER PRIMARY KEY,
        language TEXT NOT NULL DEFAULT 'en',
        timezone TEXT NOT NULL DEFAULT 'UTC',
        default_platforms TEXT NOT NULL DEFAULT '[]',
        output_format TEXT NOT NULL DEFAULT 'JPEG',
        logo_path TEXT NOT NULL DEFAULT '',
        logo_position TEXT NOT NULL DEFAULT 'bottom-right',
        created_at TEXT NOT NULL,
        seen_at TEXT NOT NULL
    )""",
    """CREATE TABLE processing_sessions (
        id TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
        status TEXT NOT NULL DEFAULT 'pending'
            CHECK (status IN ('pending','processing','completed','failed','interrupted')),
        source_path TEXT NOT NULL DEFAULT '',
        source_hash TEXT NOT NULL DEFAULT '',
        platforms TEXT NOT NULL DEFAULT '[]',
        description TEXT NOT NULL DEFAULT '',
        use_ai INTEGER NOT NULL DEFAULT 0,
        options TEXT NOT NULL DEFAULT '{}',
        started_at TEXT NOT NULL,
        completed_at TEXT,
        error_code TEXT,
        error_message TEXT,
        results TEXT
    )""",
    # SQLite orders rows of equal started_at by its implicit rowid; PostgreSQL gets one.
    Variant(
        sqlite=None,
        postgres="ALTER TABLE processing_sessions ADD COLUMN rowid BIGINT "
        "GENERATED ALWAYS AS IDENTITY",
    ),
    "CREATE INDEX idx_sessions_user ON processing_sessions(user_id)",
    """CREATE TABLE platform_results (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        session_id TEXT NOT NULL REFERENCES processing_sessions(id) ON DELETE CASCADE,
        platform TEXT NOT NULL,
        status TEXT NOT NULL,
        image_path TEXT NOT NULL DEFAULT '',
        image_url TEXT NOT NULL DEFAULT '',
        niches TEXT NOT NULL DEFAULT '[]',
        hashtags TEXT NOT NULL DEFAULT '[]',
        caption TEXT NOT NULL DEFAULT '',
        profiles TEXT NOT NULL DEFAULT '[]',
        processing_seconds REAL NOT NULL DEFAULT 0,
        product_photography_used INTEGER NOT NULL DEFAULT 0,
        UNIQUE (session_id, platform)
    )""",
    """CREATE TABLE generated_files (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        session_id TEXT NOT NULL REFERENCES processing_sessions(id) ON DELETE CASCADE,
        type TEXT NOT NULL,
        platform TEXT NOT NULL DEFAULT '',
        path TEXT NOT NULL DEFAULT '',
        url TEXT NOT NULL DEFAULT '',
        size INTEGER NOT NULL DEFAULT 0
    )""",
    "CREATE INDEX idx_files_session ON generated_files(session_id)",
    """CREATE TABLE saved_accounts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        user_id INTEGER NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
        handle TEXT NOT NULL,
        niche TEXT NOT NULL DEFAULT '',
        platform TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL
    )""",
)

# v2: interruption notices, provider and error per platform, logo size, one row per handle.
V2 = (
    "ALTER TABLE processing_sessions ADD COLUMN notified INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE platform_results ADD COLUMN provider TEXT NOT NULL DEFAULT 'offline'",
    "ALTER TABLE platform_results ADD COLUMN error TEXT",
    "ALTER TABLE users ADD COLUMN logo_size_pct REAL NOT NULL DEFAULT 15.0",
    # Normalise handles to a leading @ and keep the newest row per (user, handle).
    """UPDATE saved_accounts SET handle = '@' || ltrim(trim(handle), '@')""",
    """DELETE FROM saved_accounts WHERE id NOT IN (
        SELECT MAX(id) FROM saved_accounts GROUP BY user_id, lower(handle)
    )""",
    # One handle per user whatever its case (handles are ASCII: NOCASE and lower() agree).
    Variant(
        sqlite="CREATE UNIQUE INDEX idx_accounts_user_handle "
        "ON saved_accounts(user_id, handle COLLATE NOCASE)",
        postgres="CREATE UNIQUE INDEX idx_accounts_user_handle "
        "ON saved_accounts(user_id, lower(handle))",
    ),
    "CREATE INDEX idx_sessions_user_started ON processing_sessions(user_id, started_at)",
    "CREATE INDEX idx_sessions_status ON processing_sessions(status)",
    "CREATE INDEX idx_sessions_started ON processing_sessions(started_at)",
)

# v3: the AI answer cache (shared by the async repository and the thread-side SqliteCache).
V3 = (
    """CREATE TABLE ai_cache (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        hits INTEGER NOT NULL DEFAULT 0
    )""",
    "CREATE INDEX idx_ai_cache_expires ON ai_cache(expires_at)",
)

# v4: how a photo fills a platform's frame (pipeline.models.FITS), per user.
V4 = ("ALTER TABLE users ADD COLUMN fit TEXT NOT NULL DEFAULT 'auto'",)

# v5: the REST API: keys (stored hashed; each key is a user), idempotency, webhook deliveries.
V5 = (
    """CREATE TABLE api_keys (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL,
        prefix TEXT NOT NULL UNIQUE,
        key_hash TEXT NOT NULL UNIQUE,
        user_id INTEGER NOT NULL,
        webhook_secret TEXT NOT NULL,
        created_at TEXT NOT NULL,
        revoked_at TEXT
    )""",
    """CREATE TABLE idempotency_keys (
        user_id INTEGER NOT NULL,
        key TEXT NOT NULL,
        request_hash TEXT NOT NULL,
        session_id TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (user_id, key)
    )""",
    """CREATE TABLE webhook_deliveries (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        session_id TEXT NOT NULL,
        user_id INTEGER NOT NULL,
        url TEXT NOT NULL,
        event TEXT NOT NULL,
        webhook_id TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_status INTEGER,
        last_error TEXT NOT NULL DEFAULT '',
        delivered_at TEXT,
        created_at TEXT NOT NULL
    )""",
    "CREATE INDEX idx_webhooks_session ON webhook_deliveries(session_id)",
)

# v6: "remind me at the best time": one row per reminder (times are UTC ISO; `due_at` is when
# it is sent, the window's start or 07:00 after quiet hours); a session's deletion takes its
# reminders with it.
V6 = (
    """CREATE TABLE reminders (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        user_id INTEGER NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
        chat_id INTEGER NOT NULL,
        session_id TEXT NOT NULL REFERENCES processing_sessions(id) ON DELETE CASCADE,
        platform TEXT NOT NULL,
        window_start TEXT NOT NULL,
        window_end TEXT NOT NULL,
        study TEXT NOT NULL DEFAULT '',
        timezone TEXT NOT NULL,
        due_at TEXT NOT NULL,
        anyway INTEGER NOT NULL DEFAULT 0,
        status TEXT NOT NULL DEFAULT 'pending'
            CHECK (status IN ('pending','sent','cancelled','failed')),
        created_at TEXT NOT NULL,
        done_at TEXT
    )""",
    "CREATE INDEX idx_reminders_due ON reminders(status, due_at)",
    "CREATE INDEX idx_reminders_user ON reminders(user_id, status)",
)

# v7: delivery is its own step. A bot session is `pending` delivery until every result reached
# the chat (`delivered`); a crash in between leaves it `pending`, and the next start-up re-offers
# it. NULL: nobody delivers it in a chat (CLI, API), which is what every older row is.
V7 = (
    "ALTER TABLE processing_sessions ADD COLUMN delivery TEXT "
    "CHECK (delivery IN ('pending', 'delivered'))",
    "ALTER TABLE processing_sessions ADD COLUMN delivered_at TEXT",
    "CREATE INDEX idx_sessions_delivery ON processing_sessions(delivery)",
)

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "seed schema", V1),
    Migration(2, "notified, provider, error, logo size, unique accounts", V2),
    Migration(3, "ai_cache", V3),
    Migration(4, "users.fit", V4),
    Migration(5, "api keys, idempotency, webhook deliveries", V5),
    Migration(6, "reminders", V6),
    Migration(7, "delivery as its own step", V7),
)
LATEST = MIGRATIONS[-1].version


def configure(conn: sqlite3.Connection) -> None:
    """Connection pragmas every connection uses."""
    conn.execute("PRAGMA busy_timeout = 5000")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA synchronous = NORMAL")


def connect(db_path: Path | str) -> sqlite3.Connection:
    """A stdlib connection in autocommit mode (transactions are explicit), WAL, pragmas set."""
    path = Path(db_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), isolation_level=None, timeout=5.0, check_same_thread=False)
    configure(conn)
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        conn.close()
        raise StorageError(f"Could not switch {path} to WAL mode (got {mode}).")
    return conn


# The advisory lock's first key (any constant of ours); the second is the schema's name, so
# databases in different schemas migrate independently.
LOCK_KEY = 0x50C1A1
# What `socialopt migrate` and the repository ask PostgreSQL to hold while they migrate.
_PG_LOCK = f"SELECT pg_advisory_lock({LOCK_KEY}, hashtext(current_schema()))"
_PG_UNLOCK = f"SELECT pg_advisory_unlock({LOCK_KEY}, hashtext(current_schema()))"


def dialect(conn: Any) -> str:
    """ "sqlite" for a stdlib connection, "postgres" for a PgSyncConnection."""
    return getattr(conn, "dialect", SQLITE)


def current_version(conn: Any) -> int:
    """The schema version recorded in the database, 0 for an empty one."""
    if dialect(conn) == POSTGRES:
        exists = conn.execute("SELECT to_regclass('schema_version')").fetchone()[0]
    else:
        exists = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name='schema_version'"
        ).fetchone()
    if not exists:
        return 0
    row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def _run_step(conn: Any, step: Step) -> None:
    engine = dialect(conn)
    if isinstance(step, Variant):
        step = step.postgres if engine == POSTGRES else step.sqlite
        if step is None:
            return
    if isinstance(step, str):
        conn.execute(postgres_ddl(step) if engine == POSTGRES else step)
    else:
        step(conn)


def upgrade(conn: Any, target: int | None = None) -> list[int]:
    """Apply every missing migration up to `target` (default: latest); return the versions
    this call applied (none when another process got there first)."""
    target = LATEST if target is None else target
    postgres = dialect(conn) == POSTGRES
    applied: list[int] = []
    if postgres:
        conn.execute(_PG_LOCK)  # held until _PG_UNLOCK (or the connection closes)
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_version ("
            " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
        )
        version = current_version(conn)
        if version > LATEST:
            raise StorageError(
                f"The database has schema version {version}, newer than this program "
                f"understands ({LATEST}). Upgrade socialopt.",
                code="SCHEMA_TOO_NEW",
            )
        for migration in MIGRATIONS:
            if migration.version > target:
                break
            conn.execute("BEGIN" if postgres else "BEGIN IMMEDIATE")
            try:
                # Another process may have migrated while we waited for the lock.
                if current_version(conn) >= migration.version:
                    conn.execute("ROLLBACK")
                    continue
                for step in migration.steps:
                    _run_step(conn, step)
                conn.execute(
                    "INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)",
                    (migration.version, migration.name, to_iso(utcnow())),
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            applied.append(migration.version)
    finally:
        if postgres and not conn.closed:
            conn.execute(_PG_UNLOCK)
    return applied


def migrate(conn: Any, target: int | None = None) -> int:
    """Apply every missing step up to `target` (default: latest); return the version reached."""
    upgrade(conn, target)
    return current_version(conn)


def migrate_path(db_path: Path | str, target: int | None = None) -> int:
    """Open `db_path` (created if missing), migrate it, close it; return the version."""
    conn = connect(db_path)
    try:
        return migrate(conn, target)
    finally:
        conn.close()


def migrate_url(url: str, target: int | None = None) -> int:
    """Migrate the PostgreSQL database at `url`; return the version."""
    conn = connect_postgres_sync(url)
    try:
        return migrate(conn, target)
    finally:
        conn.close()


def connect_target(target: Path | str) -> sqlite3.Connection | PgSyncConnection:
    """A synchronous connection to a SQLite file or a postgresql:// URL."""
    return connect_postgres_sync(str(target)) if is_postgres(target) else connect(target)


def migrate_target(target: Path | str) -> int:
    """Migrate the database at `target` (a SQLite file or a postgresql:// URL) to the latest
    schema; a file that is not a database is a StorageError naming it."""
    return upgrade_target(target)[0]


def upgrade_target(target: Path | str, version: int | None = None) -> tuple[int, list[int]]:
    """`socialopt migrate`: bring the database at `target` up to `version` (default: latest);
    (the version reached, the versions this call applied)."""
    try:
        conn = connect_target(target)
    except sqlite3.DatabaseError as exc:
        raise StorageError(f"Cannot open the database {target}: {exc}") from exc
    try:
        applied = upgrade(conn, version)
        return current_version(conn), applied
    finally:
        conn.close()
