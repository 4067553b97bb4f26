"""Where a photo job runs (JOB_BACKEND): in this process (`local`) or on a Celery worker
(`celery`). Both run `sessions.run` and hand back the same JobResult, so a front door (the
bot) delivers a job the same way whichever process ran it."""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from pipeline.errors import SocialOptError
from pipeline.models import JobResult, ProgressEvent, ProgressFn
from socialopt import celery_app
from socialopt.progress import ProgressBoard
from socialopt.usecases import sessions
from socialopt.usecases.history import session_files, stored_result
from storage.files import FileStore
from storage.repository import Repository

LOGO_NAME = "logo.png"
POLL_S = 0.25


class JobBackend(Protocol):
    async def run(
        self,
        repo: Repository,
        services: Any,
        started: sessions.Started,
        user_id: int,
        image: bytes,
        *,
        run_sync: sessions.RunSync,
        progress: ProgressFn | None = None,
    ) -> JobResult: ...


class LocalBackend:
    """The pipeline in this process's executor."""

    async def run(
        self,
        repo: Repository,
        services: Any,
        started: sessions.Started,
        user_id: int,
        image: bytes,
        *,
        run_sync: sessions.RunSync,
        progress: ProgressFn | None = None,
    ) -> JobResult:
        return await sessions.run(
            repo, services, started, user_id, image, run_sync=run_sync, progress=progress
        )


def enqueue_session(
    store: FileStore,
    user_id: int,
    started: sessions.Started,
    image: bytes,
    *,
    logo: bytes | None = None,
    webhook_url: str = "",
) -> None:
    """Put the inputs in the store and the job message (references only) on the queue.
    Sync: the store and the broker are network calls."""
    source = started.source_path.name if started.source_path else "source.img"
    if store.local_path(started.session_id, source) is None:
        store.put(started.session_id, source, image)
    logo = logo if logo is not None else (started.options.logo and started.options.logo.image)
    if logo:
        store.put(started.session_id, LOGO_NAME, logo)
    payload = celery_app.job_payload(
        user_id,
        started,
        source=source,
        logo=LOGO_NAME if logo else "",
        webhook_url=webhook_url,
    )
    celery_app.enqueue(payload)


class CeleryBackend:
    """Enqueue, relay the workers' progress, and read the finished session back."""

    def __init__(
        self, store: FileStore, board: ProgressBoard, settings: Any, broker_url: str
    ) -> None:
        self.store = store
        self.board = board
        celery_app.configure(settings, broker_url)

    async def run(
        self,
        repo: Repository,
        services: Any,
        started: sessions.Started,
        user_id: int,
        image: bytes,
        *,
        run_sync: sessions.RunSync,
        progress: ProgressFn | None = None,
    ) -> JobResult:
        sid = started.session_id
        await asyncio.to_thread(enqueue_session, self.store, user_id, started, image)
        shown = -1
        while True:
            session = await repo.get_session(user_id, sid)
            if session is not None and session.status == "completed":
                break
            if session is None or session.status in ("failed", "interrupted"):
                code = (session.error_code if session else None) or "PROCESSING_FAILED"
                message = (session.error_message if session else None) or "The job failed."
                raise SocialOptError(message, code=code)
            view = await asyncio.to_thread(self.board.live, sid)
            if progress is not None and view and view["completed_platforms"] != shown:
                shown = view["completed_platforms"]
                progress(
                    ProgressEvent(
                        "render",
                        f"Working on {view['current_platform'] or 'your photo'}",
                        done=shown,
                        total=view["total_platforms"],
                        platform=view["current_platform"],
                    )
                )
            await asyncio.sleep(POLL_S)
        return await asyncio.to_thread(self._result, session)

    def _result(self, session: Any) -> JobResult:
        with session_files(self.store, session.id) as folder:
            return stored_result(session, folder)
