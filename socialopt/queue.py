"""The job queue, Telegram-free: one running job per user, a global cap, positions, limits.

`JobRunner` takes async `work` callables per user, starts them in order while at most
`max_concurrent` run and no user has two at once, and tells waiting jobs their position.
`run_sync` runs blocking pipeline code in the job executor, never on the event loop. `admit`
enforces the per-user limits before a job is created (jobs per hour, disk quota, queue length).
`stop` lets running jobs finish within a grace period; the rest are left for
`Repository.mark_interrupted`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from pipeline.errors import SocialOptError
from storage.records import utcnow

if TYPE_CHECKING:
    from storage.repository import Repository

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_WAITING_PER_USER = 3
AI_WORKERS = 4  # threads for blocking AI and network calls, apart from jobs, intake and files
EXACT_POSITIONS = 3  # positions shown as they are; further back, "about N ahead" in buckets

PositionFn = Callable[[int], Awaitable[None]]


class JobRefused(SocialOptError):
    """A new job cannot start now. Codes: RATE_LIMITED, QUEUE_FULL, SHUTTING_DOWN."""

    code = "JOB_REFUSED"


def shown_position(position: int) -> int:
    """The position a waiting job is shown: 1-3 as they are, then the bucket it falls in
    (5, 10, 20, 30, ...), so a status message changes a handful of times on its way to the
    front instead of once per job ahead of it (N² edits for N waiting users)."""
    if position <= EXACT_POSITIONS:
        return position
    if position <= 5:
        return 5
    return -(-position // 10) * 10


@dataclass(eq=False)
class _Entry:
    user_id: int
    work: Callable[[], Awaitable[Any]]
    on_position: PositionFn | None = None
    on_cancel: Callable[[], Awaitable[None]] | None = None
    label: str = ""
    last_position: int = -1
    task: asyncio.Task[Any] | None = field(default=None, repr=False)


JOB_NICE = 10  # pipeline threads yield the CPU to the event loop (Linux: per-thread nice)


def lower_thread_priority(nice: int = JOB_NICE) -> None:
    """Lower the calling thread's CPU priority; threads it starts inherit it (Linux).
    On a busy machine the event loop then keeps answering users while jobs run."""
    with contextlib.suppress(AttributeError, OSError):  # not Linux / not permitted
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)


class JobRunner:
    """Per-user serial, globally capped execution of async jobs whose heavy part runs in
    `executor` (a thread pool of `max_concurrent` workers unless one is given)."""

    def __init__(
        self,
        max_concurrent: int = 2,
        executor: Executor | None = None,
        *,
        ai_workers: int = AI_WORKERS,
    ) -> None:
        self.max_concurrent = max(1, int(max_concurrent))
        self._own_executor = executor is None
        self.executor: Executor = executor or ThreadPoolExecutor(
            max_workers=self.max_concurrent,
            thread_name_prefix="socialopt-job",
            initializer=lower_thread_priority,
        )
        # Blocking AI and network calls outside jobs (/caption, /profiles) wait here, so a
        # slow provider never holds the threads that intake and file work use.
        self.ai_executor = ThreadPoolExecutor(
            max_workers=max(1, int(ai_workers)), thread_name_prefix="socialopt-ai"
        )
        self._waiting: list[_Entry] = []
        self.timings: deque[tuple[float, float]] = deque(maxlen=1000)  # (start, end) per job
        self._running: dict[int, _Entry] = {}
        self._closing = False
        self.finished = 0  # jobs that ran to the end (successfully or not)
        self._after: dict[int, asyncio.Task[Any]] = {}  # user -> last follow-up task
        self._follow_ups: set[asyncio.Task[Any]] = set()

    # ---- state -----------------------------------------------------------------------------

    @property
    def running_count(self) -> int:
        return len(self._running)

    @property
    def waiting_count(self) -> int:
        return len(self._waiting)

    def is_running(self, user_id: int) -> bool:
        return user_id in self._running

    @property
    def closing(self) -> bool:
        """True once `stop` has begun: no new job is taken."""
        return self._closing

    def waiting_for(self, user_id: int) -> int:
        return sum(1 for e in self._waiting if e.user_id == user_id)

    def _position(self, entry: _Entry) -> int:
        """1-based place among waiting jobs (0 when running)."""
        try:
            return self._waiting.index(entry) + 1
        except ValueError:
            return 0

    # ---- running ---------------------------------------------------------------------------

    async def run_sync(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run blocking `fn` in the job executor and await its result."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, partial(fn, *args, **kwargs))

    async def run_ai(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking AI or network call in its own bounded pool and await its result."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.ai_executor, partial(fn, *args, **kwargs))

    def submit(
        self,
        user_id: int,
        work: Callable[[], Awaitable[Any]],
        *,
        on_position: PositionFn | None = None,
        on_cancel: Callable[[], Awaitable[None]] | None = None,
        label: str = "",
    ) -> int:
        """Queue `work` for `user_id`; returns its position (0: started at once)."""
        if self._closing:
            raise JobRefused(
                "The bot is restarting; please send the photo again in a minute.",
                code="SHUTTING_DOWN",
            )
        entry = _Entry(user_id, work, on_position, on_cancel, label)
        self._waiting.append(entry)
        self._dispatch()
        position = shown_position(self._position(entry))
        entry.last_position = position
        return position

    def _dispatch(self) -> None:
        """Start waiting jobs while there is room; tell the others their new position."""
        for entry in list(self._waiting):
            if len(self._running) >= self.max_concurrent or self._closing:
                break
            if entry.user_id in self._running:
                continue
            self._waiting.remove(entry)
            self._running[entry.user_id] = entry
            entry.task = asyncio.get_running_loop().create_task(
                self._run(entry), name=f"job-{entry.label or entry.user_id}"
            )
        for entry in self._waiting:
            position = shown_position(self._position(entry))
            if entry.on_position and entry.last_position not in (-1, position):
                asyncio.get_running_loop().create_task(self._notify(entry, position))
            entry.last_position = position

    async def _notify(self, entry: _Entry, position: int) -> None:
        try:
            assert entry.on_position is not None
            await entry.on_position(position)
        except Exception:  # noqa: BLE001 - a status edit must never break the queue
            log.debug("position update failed", exc_info=True)

    async def _run(self, entry: _Entry) -> None:
        started = time.perf_counter()
        try:
            if entry.on_position and entry.last_position != 0:
                await self._notify(entry, 0)
            await entry.work()
        except asyncio.CancelledError:
            log.warning("job %s cancelled", entry.label)
            raise
        except Exception:  # noqa: BLE001 - work reports its own errors; this is a safety net
            log.exception("job %s failed outside its own error handling", entry.label)
        finally:
            self.finished += 1
            self.timings.append((started, time.perf_counter()))
            if self._running.get(entry.user_id) is entry:
                del self._running[entry.user_id]
            if not self._closing:
                self._dispatch()

    def after(self, user_id: int, work: Callable[[], Awaitable[Any]]) -> asyncio.Task[Any]:
        """Run `work` (e.g. sending results) outside the job slots, after the user's previous
        follow-up; `stop` waits for these too."""
        previous = self._after.get(user_id)

        async def chained() -> None:
            if previous is not None:
                await asyncio.wait([previous])
            try:
                await work()
            except Exception:  # noqa: BLE001 - work reports its own errors; safety net
                log.exception("follow-up for user %s failed", user_id)

        task = asyncio.get_running_loop().create_task(chained(), name=f"after-{user_id}")
        self._after[user_id] = task
        self._follow_ups.add(task)

        def forget(done: asyncio.Task[Any]) -> None:
            self._follow_ups.discard(done)
            if self._after.get(user_id) is done:
                del self._after[user_id]

        task.add_done_callback(forget)
        return task

    async def cancel_waiting(self, user_id: int) -> int:
        """Drop the user's queued (not running) jobs; returns how many."""
        dropped = [e for e in self._waiting if e.user_id == user_id]
        for entry in dropped:
            self._waiting.remove(entry)
            if entry.on_cancel:
                await entry.on_cancel()
        if dropped:
            self._dispatch()
        return len(dropped)

    async def stop(self, grace_s: float = 30.0) -> int:
        """Refuse new jobs, let running ones finish within `grace_s`, cancel the rest.
        Returns how many jobs did not finish (their sessions stay pending/processing, which
        `Repository.mark_interrupted` turns into `interrupted`)."""
        self._closing = True
        unfinished = len(self._waiting)
        self._waiting.clear()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace_s
        while True:
            jobs = [e.task for e in self._running.values() if e.task is not None]
            tasks = jobs + list(self._follow_ups)  # results still being sent
            if not tasks:
                break
            remaining = deadline - loop.time()
            if remaining <= 0:
                for task in tasks:
                    task.cancel()
                await asyncio.wait(tasks, timeout=5)
                unfinished += len(jobs)
                break
            await asyncio.wait(tasks, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
        return unfinished

    def close(self) -> None:
        """Shut the executor down if this runner created it, and the AI pool."""
        if self._own_executor:
            self.executor.shutdown(wait=False, cancel_futures=True)
        self.ai_executor.shutdown(wait=False, cancel_futures=True)


@dataclass(frozen=True)
class Admission:
    """Per-user limits checked before a job is created (0 = no limit), and the hourly
    budget of AI calls outside jobs (/caption, /profiles)."""

    jobs_per_hour: int = 0
    quota_bytes: int = 0
    ai_calls_per_hour: int = 0


class AIBudget:
    """Paid AI calls per user in the last hour, outside jobs (whose calls JOBS_PER_HOUR
    bounds). Thread-safe: use cases take from it in the AI pool. In memory: a restart starts
    every user's hour afresh. `limit` 0 = no limit."""

    WINDOW_S = 3600.0

    def __init__(self, limit: int = 0, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = max(0, int(limit))
        self._clock = clock
        self._calls: dict[int, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, user_id: int, now: float) -> deque[float]:
        calls = self._calls.setdefault(user_id, deque())
        while calls and now - calls[0] >= self.WINDOW_S:
            calls.popleft()
        return calls

    def take(self, user_id: int) -> bool:
        """Count one call for `user_id` if the hour's budget allows it; False when spent."""
        with self._lock:
            now = self._clock()
            calls = self._recent(user_id, now)
            if self.limit and len(calls) >= self.limit:
                return False
            calls.append(now)
            return True

    def used(self, user_id: int) -> int:
        with self._lock:
            return len(self._recent(user_id, self._clock()))

    def free_in_s(self, user_id: int) -> float:
        """Seconds until the user's next call is allowed again (0 when it is now)."""
        with self._lock:
            now = self._clock()
            calls = self._recent(user_id, now)
            if not self.limit or len(calls) < self.limit:
                return 0.0
            return max(0.0, self.WINDOW_S - (now - calls[0]))


async def admit(limits: Admission, repo: Repository, runner: JobRunner, user_id: int) -> None:
    """Raise JobRefused/QuotaExceeded when `user_id` may not start another job now."""
    if runner.waiting_for(user_id) >= MAX_WAITING_PER_USER:
        raise JobRefused(
            f"You already have {MAX_WAITING_PER_USER} photos waiting; "
            "please wait for them to finish.",
            code="QUEUE_FULL",
        )
    if limits.jobs_per_hour > 0:
        since = utcnow() - timedelta(hours=1)
        count = await repo.count_sessions_since(user_id, since)
        if count >= limits.jobs_per_hour:
            raise JobRefused(
                f"You have reached the limit of {limits.jobs_per_hour} photos per hour; "
                "please try again a bit later.",
                code="RATE_LIMITED",
            )
    await repo.check_quota(user_id, limits.quota_bytes)
