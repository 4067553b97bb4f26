"""The REST API's tables: keys (stored hashed; each key is a user), idempotency keys and the
webhook delivery log. It shares the Repository's connection and write lock."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from storage.errors import StorageError
from storage.records import to_iso
from storage.repository import Repository

KEY_PREFIX = "sk_"
API_USER_BASE = 1_000_000  # API users without a Telegram id get user ids below -API_USER_BASE
IDEMPOTENCY_TTL = timedelta(hours=24)


@dataclass(frozen=True)
class ApiKey:
    """A key as stored: never the key itself, only its hash and its first characters."""

    id: int
    name: str
    prefix: str
    user_id: int
    webhook_secret: str
    created_at: str
    revoked_at: str | None


@dataclass(frozen=True)
class NewKey:
    """A key just created: `key` and `webhook_secret` are shown once."""

    record: ApiKey
    key: str


def hash_key(key: str) -> str:
    """Keys are 32 random bytes, so a plain SHA-256 is enough (no password stretching)."""
    return hashlib.sha256(key.encode()).hexdigest()


def _record(row: tuple) -> ApiKey:
    return ApiKey(int(row[0]), row[1], row[2], int(row[3]), row[4], row[5], row[6])


_COLUMNS = "id, name, prefix, user_id, webhook_secret, created_at, revoked_at"


class ApiStore:
    """Keys, idempotency and webhook deliveries, on an open Repository."""

    def __init__(self, repo: Repository) -> None:
        self.repo = repo

    # ---- keys ----------------------------------------------------------------------------

    async def create_key(self, name: str, *, telegram_id: int | None = None) -> NewKey:
        """A new key named `name`. With `telegram_id`, the key acts as that Telegram user, so
        /history and the API see the same sessions."""
        name = " ".join(name.split())[:80]
        if not name:
            raise StorageError("Give the key a name.", code="INVALID_KEY_NAME")
        if telegram_id is not None and telegram_id <= 0:
            raise StorageError("A Telegram id is a positive number.", code="INVALID_USER_ID")
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        prefix = key[: len(KEY_PREFIX) + 8]
        secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
        now = self.repo._now()
        async with self.repo._write() as conn:
            cur = await conn.execute(
                "INSERT INTO api_keys (name, prefix, key_hash, user_id, webhook_secret, "
                "created_at) VALUES (?, ?, ?, 0, ?, ?)",
                (name, prefix, hash_key(key), secret, now),
            )
            key_id = int(cur.lastrowid or 0)
            user_id = telegram_id if telegram_id else -(API_USER_BASE + key_id)
            await conn.execute("UPDATE api_keys SET user_id = ? WHERE id = ?", (user_id, key_id))
            await conn.execute(
                "INSERT INTO users (user_id, created_at, seen_at) VALUES (?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                (user_id, now, now),
            )
        return NewKey(ApiKey(key_id, name, prefix, user_id, secret, now, None), key)

    async def key_for(self, key: str) -> ApiKey | None:
        """The live (not revoked) key record for a presented key, or None."""
        row = await self.repo._fetchone(
            f"SELECT {_COLUMNS} FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL",
            (hash_key(key),),
        )
        return _record(row) if row else None

    async def list_keys(self) -> list[ApiKey]:
        rows = await self.repo._fetchall(f"SELECT {_COLUMNS} FROM api_keys ORDER BY id")
        return [_record(r) for r in rows]

    async def revoke_key(self, name_or_prefix: str) -> int:
        """Revoke the live keys with this name or prefix; the number revoked."""
        async with self.repo._write() as conn:
            cur = await conn.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE revoked_at IS NULL "
                "AND (name = ? OR prefix = ?)",
                (self.repo._now(), name_or_prefix, name_or_prefix),
            )
            return cur.rowcount

    # ---- idempotency ---------------------------------------------------------------------

    async def idempotent(self, uid: int, key: str, now: datetime) -> tuple[str, str] | None:
        """(request hash, session id) stored for this user's key within 24 h, or None."""
        row = await self.repo._fetchone(
            "SELECT request_hash, session_id FROM idempotency_keys "
            "WHERE user_id = ? AND key = ? AND created_at >= ?",
            (uid, key, to_iso(now - IDEMPOTENCY_TTL)),
        )
        return (row[0], row[1]) if row else None

    async def remember(self, uid: int, key: str, request_hash: str, session_id: str) -> None:
        """Keep (key -> session) for 24 h; an older row with the key is replaced."""
        async with self.repo._write() as conn:
            await conn.execute(
                "INSERT INTO idempotency_keys (user_id, key, request_hash, session_id, "
                "created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT(user_id, key) DO UPDATE SET "
                "request_hash = excluded.request_hash, session_id = excluded.session_id, "
                "created_at = excluded.created_at",
                (uid, key, request_hash, session_id, self.repo._now()),
            )

    # ---- webhook deliveries --------------------------------------------------------------

    async def start_delivery(
        self, uid: int, session_id: str, url: str, event: str, webhook_id: str
    ) -> int:
        async with self.repo._write() as conn:
            cur = await conn.execute(
                "INSERT INTO webhook_deliveries (session_id, user_id, url, event, webhook_id, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (session_id, uid, url, event, webhook_id, self.repo._now()),
            )
            return int(cur.lastrowid or 0)

    async def record_attempt(
        self, delivery_id: int, status: int | None, error: str, delivered: bool
    ) -> None:
        async with self.repo._write() as conn:
            await conn.execute(
                "UPDATE webhook_deliveries SET attempts = attempts + 1, last_status = ?, "
                "last_error = ?, delivered_at = ? WHERE id = ?",
                (status, error[:300], self.repo._now() if delivered else None, delivery_id),
            )

    async def deliveries(self, uid: int, session_id: str) -> list[dict[str, object]]:
        """The delivery log of one of the user's sessions."""
        rows = await self.repo._fetchall(
            "SELECT event, url, webhook_id, attempts, last_status, last_error, delivered_at "
            "FROM webhook_deliveries WHERE user_id = ? AND session_id = ? ORDER BY id",
            (uid, session_id),
        )
        keys = ("event", "url", "webhook_id", "attempts", "last_status", "last_error")
        return [{**dict(zip(keys, r[:6], strict=True)), "delivered_at": r[6]} for r in rows]

    async def ping(self) -> None:
        """One trivial query: raises when the database cannot answer."""
        await self.repo._fetchone("SELECT 1")
