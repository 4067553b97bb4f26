"""Storage: the repository on SQLite (aiosqlite) or PostgreSQL (psycopg), migrations, AI cache
and CLI records."""

from storage.errors import InvalidHandle, QuotaExceeded, SessionNotFound, StorageError
from storage.records import FileRecord, PlatformRow, SessionRecord, UserSettings

__all__ = [
    "FileRecord",
    "InvalidHandle",
    "PlatformRow",
    "QuotaExceeded",
    "SessionNotFound",
    "SessionRecord",
    "StorageError",
    "UserSettings",
]
