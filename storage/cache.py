"""AI answer caches with expiry: a synchronous SQLite one for pipeline threads (the same
`ai_cache` table as the async repository; WAL lets both work at once) and an in-memory one
for tests and the CLI without a database. Both satisfy `pipeline.services.Cache`.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

from storage import migrations
from storage.records import Clock, dumps, loads, to_iso, utcnow


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
            row = self._conn.execute(
                "SELECT value FROM ai_cache WHERE key = ? AND expires_at > ?",
                (key, to_iso(self._clock())),
            ).fetchone()
            if row is None:
                return None
            self._conn.execute("UPDATE ai_cache SET hits = hits + 1 WHERE key = ?", (key,))
        return loads(row[0])

    def put(self, key: str, value: dict[str, Any], ttl_s: float) -> None:
        now = self._clock()
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO ai_cache (key, value, created_at, expires_at) "
                "VALUES (?, ?, ?, ?)",
                (key, dumps(value), to_iso(now), to_iso(now + timedelta(seconds=ttl_s))),
            )

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> SqliteCache:
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
