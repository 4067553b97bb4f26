"""Jobs the API started: queued on the same in-process JobRunner the bot uses, with live
progress per session and a hook that runs when a job ends (webhooks, metrics)."""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from structlog.contextvars import bound_contextvars

from pipeline.errors import SocialOptError
from pipeline.models import ProgressEvent
from socialopt.progress import SECONDS_PER_PLATFORM, progress_view
from socialopt.queue import JobRunner
from socialopt.usecases import sessions
from storage.repository import Repository

log = logging.getLogger(__name__)


# (user id, session id, "completed" | "failed", the error, the webhook URL or "")
OnFinished = Callable[[int, str, str, SocialOptError | None, str], Awaitable[None]]


@dataclass
class Progress:
    """What the status endpoint shows while a job runs (updated from worker threads)."""

    total: int
    done: int = 0
    current_platform: str = ""
    started: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def update(self, event: ProgressEvent) -> None:
        with self.lock:
            if event.total:
                self.total = event.total
            self.done = max(self.done, event.done)
            if event.platform:
                self.current_platform = event.platform

    def view(self) -> dict[str, Any]:
        with self.lock:
            total, done, current = self.total, self.done, self.current_platform
        return progress_view(total, done, current, time.monotonic() - self.started)


def _in_context(run_sync: sessions.RunSync) -> sessions.RunSync:
    """`run_sync` whose blocking call runs in a copy of the caller's context, so the job's
    bound `session_id` reaches the log lines of its worker thread too."""

    async def call(fn: Any, *args: Any, **kwargs: Any) -> Any:
        return await run_sync(contextvars.copy_context().run, fn, *args, **kwargs)

    return call


class ApiJobs:
    """The API's side of the job queue."""

    def __init__(
        self, runner: JobRunner, repo: Repository, services: Any, on_finished: OnFinished
    ) -> None:
        self.runner = runner
        self.repo = repo
        self.services = services
        self.on_finished = on_finished
        self._progress: dict[str, Progress] = {}

    def progress(self, session_id: str) -> Progress | None:
        return self._progress.get(session_id)

    def estimate_s(self, platforms: int) -> float:
        """Seconds until a new job of `platforms` platforms is likely done (queue included)."""
        ahead = self.runner.waiting_count + self.runner.running_count
        return SECONDS_PER_PLATFORM * platforms * (1 + ahead)

    def describe(self) -> dict[str, Any]:
        """The queue's part of /health."""
        return {
            "status": "unhealthy" if self.runner.closing else "healthy",
            "backend": "local",
            "running": self.runner.running_count,
            "waiting": self.runner.waiting_count,
        }

    async def enqueue(self, *args: Any, **kwargs: Any) -> int:
        """`submit`, with the same face as CeleryJobs.enqueue."""
        return self.submit(*args, **kwargs)

    def submit(
        self,
        user_id: int,
        started: sessions.Started,
        image: bytes,
        *,
        logo: bytes | None = None,
        webhook_url: str = "",
    ) -> int:
        """Queue the job; its position (0 = running now). `logo` travels in the options."""
        sid = started.session_id
        progress = Progress(total=len(started.options.platforms))
        self._progress[sid] = progress

        async def work() -> None:
            with bound_contextvars(session_id=sid):  # on every log line of this job
                await run()

        async def run() -> None:
            progress.started = time.monotonic()
            log.info("job started", extra={"platforms": len(started.options.platforms)})
            error: SocialOptError | None = None
            try:
                await sessions.run(
                    self.repo,
                    self.services,
                    started,
                    user_id,
                    image,
                    run_sync=_in_context(self.runner.run_sync),
                    progress=progress.update,
                )
            except sessions.JobCrashed as exc:
                log.error("job %s crashed: %r", sid, exc.cause)
                error = exc
            except SocialOptError as exc:
                error = exc
            finally:
                self._progress.pop(sid, None)
            status = "failed" if error else "completed"
            log.info(
                "job finished",
                extra={
                    "status": status,
                    "error_code": error.code if error else None,
                    "seconds": round(time.monotonic() - progress.started, 3),
                },
            )
            try:
                await self.on_finished(user_id, sid, status, error, webhook_url)
            except Exception:  # noqa: BLE001 - a failing hook never fails the job
                log.exception("after-job hook failed for %s", sid)

        async def cancelled() -> None:
            self._progress.pop(sid, None)
            await self.repo.fail_session(user_id, sid, "SHUTTING_DOWN", "The server stopped.")

        return self.runner.submit(user_id, work, on_cancel=cancelled, label=sid)
