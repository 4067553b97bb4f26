"""Schema migrations: an ordered list of steps and a `schema_version` table.

Each step runs in its own `BEGIN IMMEDIATE` transaction together with the row that records
it, so a crash mid-upgrade leaves the previous version intact. Upgrading keeps the data.
The runner is synchronous (stdlib sqlite3) so the async repository and the thread-side cache
share it; the repository calls it in a worker thread.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from storage.errors import StorageError
from storage.records import to_iso, utcnow

Step = str | Callable[[sqlite3.Connection], None]


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
    """CREATE UNIQUE INDEX idx_accounts_user_handle
        ON saved_accounts(user_id, handle COLLATE NOCASE)""",
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

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "seed schema", V1),
    Migration(2, "notified, provider, error, logo size, unique accounts", V2),
    Migration(3, "ai_cache", V3),
    Migration(4, "users.fit", V4),
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


def current_version(conn: sqlite3.Connection) -> int:
    """The schema version recorded in the database, 0 for an empty one."""
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type='table' AND name='schema_version'"
    ).fetchone()
    if not exists:
        return 0
    row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def migrate(conn: sqlite3.Connection, target: int | None = None) -> int:
    """Apply every missing step up to `target` (default: latest); return the version reached."""
    target = LATEST if target is None else target
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
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Another process may have migrated while we waited for the write lock.
            if current_version(conn) >= migration.version:
                conn.execute("ROLLBACK")
                continue
            for step in migration.steps:
                if isinstance(step, str):
                    conn.execute(step)
                else:
                    step(conn)
            conn.execute(
                "INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)",
                (migration.version, migration.name, to_iso(utcnow())),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return current_version(conn)


def migrate_path(db_path: Path | str, target: int | None = None) -> int:
    """Open `db_path` (created if missing), migrate it, close it; return the version."""
    conn = connect(db_path)
    try:
        return migrate(conn, target)
    finally:
        conn.close()
