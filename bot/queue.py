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
    from socialopt.settings import Settings
    from storage.repository import Repository

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_WAITING_PER_USER = 3

PositionFn = Callable[[int], Awaitable[None]]


class JobRefused(SocialOptError):
    """A new job cannot start now. Codes: RATE_LIMITED, QUEUE_FULL, SHUTTING_DOWN."""

    code = "JOB_REFUSED"


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

    def __init__(self, max_concurrent: int = 2, executor: Executor | None = None) -> None:
        self.max_concurrent = max(1, int(max_concurrent))
        self._own_executor = executor is None
        self.executor: Executor = executor or ThreadPoolExecutor(
            max_workers=self.max_concurrent,
            thread_name_prefix="socialopt-job",
            initializer=lower_thread_priority,
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
        position = self._position(entry)
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
            position = self._position(entry)
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
        """Shut the executor down if this runner created it."""
        if self._own_executor:
            self.executor.shutdown(wait=False, cancel_futures=True)


async def admit(settings: Settings, repo: Repository, runner: JobRunner, user_id: int) -> None:
    """Raise JobRefused/QuotaExceeded when `user_id` may not start another job now."""
    if runner.waiting_for(user_id) >= MAX_WAITING_PER_USER:
        raise JobRefused(
            f"You already have {MAX_WAITING_PER_USER} photos waiting; "
            "please wait for them to finish.",
            code="QUEUE_FULL",
        )
    if settings.jobs_per_hour > 0:
        since = utcnow() - timedelta(hours=1)
        count = await repo.count_sessions_since(user_id, since)
        if count >= settings.jobs_per_hour:
            raise JobRefused(
                f"You have reached the limit of {settings.jobs_per_hour} photos per hour; "
                "please try again a bit later.",
                code="RATE_LIMITED",
            )
    await repo.check_quota(user_id, settings.user_quota_mb * 1024 * 1024)
