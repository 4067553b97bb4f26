"""Storage errors: typed, with a stable code and a sentence a person understands."""

from __future__ import annotations

from pipeline.errors import SocialOptError

MB = 1024 * 1024


class StorageError(SocialOptError):
    """The database cannot do what was asked (schema too new, corrupt file, ...)."""

    code = "STORAGE_ERROR"


class SessionNotFound(StorageError):
    """No session with this id belongs to this user (it may belong to someone else)."""

    code = "SESSION_NOT_FOUND"

    def __init__(self, session_id: str) -> None:
        super().__init__(f"Session {session_id} was not found.")
        self.session_id = session_id


class InvalidHandle(StorageError):
    """An account handle that cannot be saved."""

    code = "INVALID_HANDLE"


class InvalidNiche(StorageError):
    """A saved account's niche that is empty of words or too long."""

    code = "NICHE_TOO_LONG"


class AccountLimitReached(StorageError):
    """The user already saved the most accounts one user may keep."""

    code = "TOO_MANY_ACCOUNTS"

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"You already saved {limit} accounts, the most I keep per person. Remove one with "
            "/profiles remove @handle, then add the new one."
        )
        self.limit = limit


class DiskFull(StorageError):
    """SQLite could not write: the disk (or the user's quota on it) is full."""

    code = "DISK_FULL"

    def __init__(self) -> None:
        super().__init__("The server's disk is full, so I could not save this. Try again later.")


class QuotaExceeded(StorageError):
    """The user's saved files use more than their disk quota: no new job until some go."""

    code = "QUOTA_EXCEEDED"

    def __init__(self, used_bytes: int, quota_bytes: int) -> None:
        used_mb = used_bytes / MB
        quota_mb = quota_bytes / MB
        super().__init__(
            f"Your saved files use {used_mb:.1f} MB of your {quota_mb:.1f} MB storage quota, "
            "so I cannot start a new job. Old sessions are deleted automatically after the "
            "retention period; delete some sessions or try again later."
        )
        self.used_bytes = used_bytes
        self.quota_bytes = quota_bytes
