"""AI answer caches with expiry: synchronous ones for pipeline threads on the database's
`ai_cache` table (the same table the async repository purges), SQLite's (WAL lets both work at
once) or PostgreSQL's, and an in-memory one for tests and the CLI without a database. All
satisfy `pipeline.services.Cache`; `open_cache(target)` picks by the target like the repository.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

from storage import migrations
from storage.db import Target, connect_postgres_sync, describe, is_postgres
from storage.errors import StorageError
from storage.records import Clock, dumps, loads, to_iso, utcnow

log = logging.getLogger(__name__)

_GET = "SELECT value FROM ai_cache WHERE key = ? AND expires_at > ?"
_HIT = "UPDATE ai_cache SET hits = hits + 1 WHERE key = ?"
# INSERT OR REPLACE in words both engines know: a fresh row, hits back to 0.
_PUT = (
    "INSERT INTO ai_cache (key, value, created_at, expires_at) VALUES (?, ?, ?, ?) "
    "ON CONFLICT(key) DO UPDATE SET value = excluded.value, created_at = excluded.created_at, "
    "expires_at = excluded.expires_at, hits = 0"
)


def open_cache(target: Target, *, clock: Clock | None = None) -> SqliteCache | PostgresCache:
    """The AI cache in the database at `target`: a SQLite file or a postgresql:// URL."""
    if is_postgres(target):
        return PostgresCache(str(target), clock=clock)
    return SqliteCache(target, clock=clock)


class SqliteCache:
    """Thread-safe synchronous cache on the database's `ai_cache` table (stdlib sqlite3)."""

    def __init__(self, db_path: Path | str, *, clock: Clock | None = None) -> None:
        self.db_path = Path(db_path)
        self._clock = clock or utcnow
        self._lock = threading.Lock()
        self._conn = migrations.connect(self.db_path)
        try:
            migrations.migrate(self._conn)
        except BaseException:
            self._conn.close()
            raise

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._conn.execute(_GET, (key, to_iso(self._clock()))).fetchone()
            if row is None:
                return None
            self._conn.execute(_HIT, (key,))
        return loads(row[0])

    def put(self, key: str, value: dict[str, Any], ttl_s: float) -> None:
        now = self._clock()
        with self._lock:
            self._conn.execute(
                _PUT, (key, dumps(value), to_iso(now), to_iso(now + timedelta(seconds=ttl_s)))
            )

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> SqliteCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PostgresCache:
    """The same cache on PostgreSQL (psycopg, one synchronous connection, thread-safe).

    A server that went away is a cache miss (logged), never a failed job, and the next call
    connects again, like the Redis cache."""

    def __init__(self, url: str, *, clock: Clock | None = None) -> None:
        self.url = url
        self._clock = clock or utcnow
        self._lock = threading.Lock()
        self._conn = connect_postgres_sync(url)
        try:
            migrations.migrate(self._conn)
        except BaseException:
            self._conn.close()
            raise
        self._closed = False

    def _connection(self) -> Any:
        if self._closed:
            raise ValueError("The cache is closed.")
        if self._conn.closed:
            self._conn = connect_postgres_sync(self.url)
        return self._conn

    def _unavailable(self, exc: Exception) -> None:
        log.warning("AI cache at %s unavailable (%s)", describe(self.url), type(exc).__name__)

    def get(self, key: str) -> dict[str, Any] | None:
        import psycopg

        with self._lock:
            try:
                conn = self._connection()
                row = conn.execute(_GET, (key, to_iso(self._clock()))).fetchone()
                if row is None:
                    return None
                conn.execute(_HIT, (key,))
            except (psycopg.OperationalError, StorageError) as exc:
                self._unavailable(exc)
                return None
        return loads(row[0])

    def put(self, key: str, value: dict[str, Any], ttl_s: float) -> None:
        import psycopg

        now = self._clock()
        params = (key, dumps(value), to_iso(now), to_iso(now + timedelta(seconds=ttl_s)))
        with self._lock:
            try:
                self._connection().execute(_PUT, params)
            except (psycopg.OperationalError, StorageError) as exc:
                self._unavailable(exc)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._conn.close()

    def __enter__(self) -> PostgresCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class MemoryCache:
    """The same interface kept in a dict (values are copied through JSON, like SQLite)."""

    def __init__(self, *, clock: Clock | None = None) -> None:
        self._clock = clock or utcnow
        self._lock = threading.Lock()
        self._items: dict[str, tuple[str, str]] = {}  # key -> (json, expires_at)

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            if item[1] <= to_iso(self._clock()):
                del self._items[key]
                return None
        return loads(item[0])

    def put(self, key: str, value: dict[str, Any], ttl_s: float) -> None:
        expires = to_iso(self._clock() + timedelta(seconds=ttl_s))
        with self._lock:
            self._items[key] = (dumps(value), expires)

    def __len__(self) -> int:
        return len(self._items)
