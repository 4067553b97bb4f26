"""Flood control with priorities: Telegram's overall 30 requests/s, answers to users first.

`PriorityRateLimiter` is python-telegram-bot's AIORateLimiter (per-group limits, RetryAfter
retries) with its overall limiter replaced by a token bucket of the same rate and burst that
serves waiting requests by priority instead of arrival order:

0. new messages a handler sends (the first answer to a photo, /help ...);
1. edits of existing messages from handlers (toggles, prompts);
2. bulk: everything a job sends (status edits, results), marked with `bot.delivery.BULK`;
   bulk also passes a slower limiter first, so it never drains the bucket and a burst of
   answers still goes out at once.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from typing import Any

from aiolimiter import AsyncLimiter
from telegram.ext import AIORateLimiter

from bot.delivery import BULK

OVERALL_RATE = 30.0  # Telegram: about 30 messages per second overall
BULK_RATE = 20.0  # leaves a third of the budget for answers while jobs deliver


class PriorityBucket:
    """A token bucket (`rate` per second, `burst` capacity) whose waiters are served lowest
    priority value first, then in arrival order."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.capacity = rate, burst
        self.tokens = burst
        self.updated = time.monotonic()
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self._timer: asyncio.TimerHandle | None = None

    def _refill(self) -> None:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    async def acquire(self, priority: int = 0) -> None:
        """Wait for a token."""
        self._refill()
        if not self._waiters and self.tokens >= 1:
            self.tokens -= 1
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (priority, next(self._seq), future))
        self._schedule()
        await future  # a cancelled waiter is skipped by _release

    def _schedule(self) -> None:
        if self._timer is not None or not self._waiters:
            return
        self._refill()
        wait = max(0.0, (1 - self.tokens) / self.rate)
        self._timer = asyncio.get_running_loop().call_later(wait, self._release)

    def _release(self) -> None:
        self._timer = None
        self._refill()
        while self._waiters and self.tokens >= 1:
            _, _, future = heapq.heappop(self._waiters)
            if future.done():
                continue
            self.tokens -= 1
            future.set_result(None)
        self._schedule()


class PriorityRateLimiter(AIORateLimiter):
    """AIORateLimiter whose overall limit serves answers before edits before bulk."""

    def __init__(
        self,
        *,
        overall_rate: float = OVERALL_RATE,
        bulk_rate: float = BULK_RATE,
        max_retries: int = 3,
    ) -> None:
        super().__init__(overall_max_rate=0, max_retries=max_retries)  # overall: ours below
        self._bucket = PriorityBucket(overall_rate, overall_rate)
        self._bulk = AsyncLimiter(max_rate=bulk_rate, time_period=1)

    async def process_request(
        self,
        callback: Any,
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> Any:
        if data.get("chat_id") is not None:  # like AIORateLimiter: only chat-bound requests
            if BULK.get():
                await self._bulk.acquire()
                priority = 2
            else:
                priority = 1 if endpoint.startswith("edit") else 0
            await self._bucket.acquire(priority)
        return await super().process_request(
            callback, args, kwargs, endpoint, data, rate_limit_args
        )
