"""JOB_BACKEND=celery for the API: the job goes to the Celery queue as references (the files
are in the store), progress comes back from the workers through Redis, and the worker that
ran a job sends its webhook. Captions and admission still use the local runner."""

from __future__ import annotations

import asyncio
from typing import Any

from socialopt import celery_app
from socialopt.backends import enqueue_session
from socialopt.progress import SECONDS_PER_PLATFORM, ProgressBoard
from socialopt.queue import JobRunner
from socialopt.settings import Settings
from socialopt.usecases import sessions
from storage.files import FileStore


class _View:
    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def view(self) -> dict[str, Any]:
        return self.data


class CeleryJobs:
    """The same face as ApiJobs (submit, progress, estimate_s, describe), on Celery."""

    def __init__(
        self,
        runner: JobRunner,
        store: FileStore,
        board: ProgressBoard,
        settings: Settings,
        broker_url: str,
    ) -> None:
        self.runner = runner
        self.store = store
        self.board = board
        celery_app.configure(settings, broker_url)

    def progress(self, session_id: str) -> _View | None:
        data = self.board.live(session_id)
        return _View(data) if data else None

    def queue_depth(self) -> int:
        return int(self.board.r.llen(celery_app.QUEUE))

    def estimate_s(self, platforms: int) -> float:
        try:
            ahead = self.queue_depth()
        except Exception:  # noqa: BLE001
            ahead = 0
        return SECONDS_PER_PLATFORM * platforms * (1 + ahead)

    def describe(self) -> dict[str, Any]:
        try:
            depth = self.queue_depth()
        except Exception as exc:  # noqa: BLE001
            return {"status": "unhealthy", "backend": "celery", "detail": type(exc).__name__}
        return {"status": "healthy", "backend": "celery", "waiting": depth}

    def submit(
        self,
        user_id: int,
        started: sessions.Started,
        image: bytes,
        *,
        logo: bytes | None = None,
        webhook_url: str = "",
    ) -> int:
        """Put the inputs in the store and the job message on the queue."""
        enqueue_session(self.store, user_id, started, image, logo=logo, webhook_url=webhook_url)
        return 0

    async def enqueue(self, *args: Any, **kwargs: Any) -> int:
        """`submit` off the event loop (the store and the broker are network calls)."""
        return await asyncio.to_thread(self.submit, *args, **kwargs)
