"""Who may call: an API key (`Authorization: Bearer <key>` or `X-API-Key`), each key a user;
rate limits per key with the `limits` library (memory, or Redis when REDIS_URL is set)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from fastapi import Request
from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from api.errors import ApiError
from storage.api import ApiKey, ApiStore


@dataclass(frozen=True)
class RateLimits:
    """The seed's defaults: 5 optimize calls a minute and 100 calls an hour per key."""

    optimize: str = "5/minute"
    overall: str = "100/hour"


class Limiter:
    """Per-key moving-window limits; `hit` raises 429 RATE_LIMITED with Retry-After."""

    def __init__(self, limits: RateLimits, storage_url: str = "") -> None:
        storage: Storage = MemoryStorage()
        if storage_url:  # redis://host:port/db -> the asyncio client of redis-py
            url = storage_url.replace("redis://", "async+redis://", 1)
            storage = storage_from_string(url, implementation="redispy")
        self.strategy = MovingWindowRateLimiter(storage)
        self.optimize = parse(limits.optimize)
        self.overall = parse(limits.overall)

    async def hit(self, item: RateLimitItem, key: ApiKey, scope: str) -> None:
        """Count one call of `key` (by its unique prefix, so servers sharing Redis agree)."""
        if await self.strategy.hit(item, key.prefix, scope):
            return
        stats = await self.strategy.get_window_stats(item, key.prefix, scope)
        retry = max(1, math.ceil(stats.reset_time - time.time()))
        raise ApiError(
            f"Too many requests: the limit is {item}. Try again in {retry} s.",
            code="RATE_LIMITED",
            retry_after=retry,
        )


def presented_key(request: Request) -> str:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.headers.get("x-api-key", "").strip()


async def authenticate(request: Request, keys: ApiStore) -> ApiKey:
    """The caller's key, or 401 UNAUTHORIZED."""
    key = presented_key(request)
    record = await keys.key_for(key) if key else None
    if record is None:
        raise ApiError(
            "A valid API key is required: send it as 'Authorization: Bearer <key>'. "
            "Create one with `socialopt api-key create --name NAME`.",
            code="UNAUTHORIZED",
        )
    return record
