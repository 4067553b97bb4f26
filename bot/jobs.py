"""Job runner: pipeline jobs in an executor, one running job per user, a global cap, a queue.

`JobRunner` knows nothing about Telegram: it takes async `work` callables per user, starts them
in order while at most `max_concurrent` run and no user has two at once, and tells waiting jobs
their position. `run_sync` runs blocking pipeline code in the job executor, never on the event
loop. `admit` enforces the per-user limits before a job is created (jobs per hour, disk quota,
queue length). `stop` lets running jobs finish within a grace period; the rest are left for
`Repository.mark_interrupted`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import threading
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from telegram.ext import ExtBot

from bot.delivery import BULK, StatusMessage, deliver
from bot.errors import log_exception
from bot.formatting import escape
from pipeline.errors import SocialOptError
from pipeline.job import run_job
from pipeline.models import JobOptions, JobResult, LogoOptions
from pipeline.outputs import results_to_dict, write_outputs
from storage.records import files_in_dir, rows_from_results, utcnow

if TYPE_CHECKING:
    from bot.context import BotServices
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


# ---- the photo job: session row -> pipeline in the executor -> files and rows -> delivery ----

DEFAULT_PRODUCT_STYLES: tuple[str, ...] = ("solid_background", "floating")


def job_workers(settings: Settings) -> int:
    """Threads per job: the bot runs jobs side by side, so each gets its share of the CPUs."""
    share = (os.cpu_count() or 2) // max(1, settings.max_concurrent_jobs)
    return max(1, min(settings.max_workers, share))


def new_session_id() -> str:
    return uuid.uuid4().hex[:12]


async def job_options(
    svc: BotServices,
    user_id: int,
    *,
    platforms: Sequence[str],
    description: str = "",
    use_ai: bool = False,
    product: bool = False,
    product_force: bool = False,
    logo: bool = False,
    source_name: str = "",
) -> JobOptions:
    """JobOptions from the user's saved settings (crop fit included) plus the choices of this
    conversation; `product_force` makes product photos even when the detector refuses."""
    settings = svc.settings
    user = await svc.repo.ensure_user(user_id)
    logo_options = None
    if logo and user.logo_path:
        data = await asyncio.to_thread(_read_optional, Path(user.logo_path))
        if data:
            logo_options = LogoOptions(
                image=data, position=user.logo_position, size_pct=user.logo_size_pct
            )
    accounts = await svc.repo.list_accounts(user_id)
    return JobOptions(
        platforms=tuple(platforms),
        description=description,
        use_ai=use_ai and settings.ai_available,
        language=user.language or settings.default_language,
        timezone=user.timezone or settings.default_timezone,
        output_format=user.output_format or settings.output_format,
        max_workers=job_workers(settings),
        product_styles=DEFAULT_PRODUCT_STYLES if product else (),
        product_force=product and product_force,
        logo=logo_options,
        saved_accounts=tuple(accounts),
        hashtag_limits=dict(settings.hashtag_limits),
        source_name=source_name,
        fit=user.fit,
    )


def _read_optional(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _write_source(path: Path, data: bytes) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def _stored_options(options: JobOptions) -> dict[str, Any]:
    return {
        "language": options.language,
        "timezone": options.timezone,
        "output_format": options.output_format,
        "product_styles": list(options.product_styles),
        "product_force": options.product_force,
        "fit": options.fit,
        "logo": options.logo is not None,
        "source_name": options.source_name,
    }


def _source_suffix(name: str) -> str:
    suffix = Path(name).suffix.lower()
    return suffix if suffix and len(suffix) <= 5 and suffix[1:].isalnum() else ".img"


async def start_photo_job(
    svc: BotServices,
    bot: ExtBot,
    *,
    user_id: int,
    chat_id: int,
    image: bytes,
    options: JobOptions,
    status_message_id: int | None = None,
) -> str:
    """Check limits, record the session (pending), show a status message (editing
    `status_message_id` when given) and queue the job.
    Returns the session id; raises JobRefused/QuotaExceeded when the user may not start one."""
    await admit(svc.settings, svc.repo, svc.jobs, user_id)
    sid = new_session_id()
    out_dir = svc.sessions_dir / sid
    source_path = out_dir / f"source{_source_suffix(options.source_name)}"
    digest = await asyncio.to_thread(_write_source, source_path, image)
    options = replace(options, session_id=sid, user_uuid=str(user_id))
    await svc.repo.create_session(
        user_id,
        session_id=sid,
        source_path=str(source_path),
        source_hash=digest,
        platforms=options.platforms,
        description=options.description,
        use_ai=options.use_ai,
        options=_stored_options(options),
    )
    text = f"⏳ Got it, preparing… (session <code>{sid}</code>)"
    if status_message_id:  # the conversation's own message becomes the status
        await bot.edit_message_text(text, chat_id, status_message_id)
    else:
        status_message_id = (await bot.send_message(chat_id, text)).message_id
    status = StatusMessage(bot, chat_id, status_message_id, options.platforms, sid)

    async def on_position(position: int) -> None:
        text = status.queued_text(position) if position else status.working_text()
        await status.show(text, force=True)

    async def on_cancel() -> None:
        await svc.repo.fail_session(user_id, sid, "CANCELLED", "Cancelled before it started.")
        await status.finish(f"Cancelled (session <code>{sid}</code>).")

    job = PhotoJob(svc, bot, chat_id, user_id, sid, image, options, out_dir, status)
    position = svc.jobs.submit(
        user_id, job.run, on_position=on_position, on_cancel=on_cancel, label=sid
    )
    if position:
        await status.show(status.queued_text(position), force=True)
    return sid


@dataclass
class PhotoJob:
    """One queued job; `run` is what the JobRunner awaits."""

    svc: BotServices
    bot: ExtBot
    chat_id: int
    user_id: int
    session_id: str
    image: bytes
    options: JobOptions
    out_dir: Path
    status: StatusMessage

    async def run(self) -> None:
        svc, uid, sid = self.svc, self.user_id, self.session_id
        BULK.set(True)  # this task's Telegram traffic yields to interactive answers
        started = time.perf_counter()
        await svc.repo.mark_processing(uid, sid)
        try:
            result = await svc.jobs.run_sync(
                run_job, self.image, self.options, svc.services, self.status.progress_callback()
            )
            await self._store(result)
        except asyncio.CancelledError:
            self.status.close()  # stopped: the session stays processing -> interrupted
            raise
        except SocialOptError as exc:
            await svc.repo.fail_session(uid, sid, exc.code, exc.message)
            await self.status.finish(f"❌ {escape(exc.user_text())}\nSession <code>{sid}</code>")
            return
        except Exception as exc:  # noqa: BLE001 - one user's failure must not spread
            log_exception(
                log, f"job {sid} of user {uid} failed", exc, svc.settings.secret_values()
            )
            await svc.repo.fail_session(uid, sid, "INTERNAL_ERROR", type(exc).__name__)
            await self.status.finish(
                f"❌ Sorry, something went wrong on my side (session <code>{sid}</code>). "
                "Please try again."
            )
            return
        elapsed = time.perf_counter() - started
        # Sending is paced by Telegram's limits: it runs after the job slot is freed, in order
        # per user, so a slow chat never holds up the pipeline for everyone.
        svc.jobs.after(uid, partial(self._deliver, result, elapsed))

    async def _deliver(self, result: JobResult, elapsed: float) -> None:
        svc, sid = self.svc, self.session_id
        await self.status.finish(
            f"✅ Finished in {elapsed:.1f} s, sending the results…\nSession <code>{sid}</code>"
        )
        try:
            await deliver(
                self.bot, self.chat_id, result, timezone=self.options.timezone, elapsed_s=elapsed
            )
        except Exception as exc:  # noqa: BLE001 - the session is saved; say how to get it
            log_exception(log, f"delivery of {sid} failed", exc, svc.settings.secret_values())
            await self.bot.send_message(
                self.chat_id,
                f"I could not send every result (session <code>{sid}</code>); they are saved: "
                "use /history to get them again.",
            )

    async def _store(self, result: JobResult) -> None:
        """Write the files, then commit the session row with its results (one transaction)."""
        files = await asyncio.to_thread(write_outputs, result, self.out_dir)
        doc = results_to_dict(result)
        rows = rows_from_results(doc)
        for row in rows:
            if row.platform in files.images:
                row.image_path = str(files.images[row.platform])
        records = await asyncio.to_thread(files_in_dir, self.session_id, self.out_dir)
        await self.svc.repo.complete_session(
            self.user_id, self.session_id, results=doc, platform_rows=rows, files=records
        )
