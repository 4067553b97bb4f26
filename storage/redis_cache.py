"""The AI answer cache on Redis (REDIS_URL), shared by every machine; same interface as
SqliteCache. A Redis that is down is a cache miss, never a failed job."""

from __future__ import annotations

import json
import logging
from typing import Any

log = logging.getLogger(__name__)

PREFIX = "socialopt:ai:"


class RedisCache:
    """get/put of JSON-able dicts with a time to live, in Redis."""

    def __init__(self, url: str, *, client: Any = None) -> None:
        import redis

        self.client = client or redis.Redis.from_url(
            url, socket_connect_timeout=2, socket_timeout=2
        )

    def get(self, key: str) -> dict[str, Any] | None:
        try:
            raw = self.client.get(PREFIX + key)
        except Exception as exc:  # noqa: BLE001 - the cache is an optimisation
            log.warning("AI cache unavailable (%s): a miss", type(exc).__name__)
            return None
        return json.loads(raw) if raw else None

    def put(self, key: str, value: dict[str, Any], ttl_s: float) -> None:
        try:
            self.client.set(PREFIX + key, json.dumps(value), ex=max(1, int(ttl_s)))
        except Exception as exc:  # noqa: BLE001
            log.warning("AI cache unavailable (%s): not stored", type(exc).__name__)
