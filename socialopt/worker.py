"""Jobs on Celery (JOB_BACKEND=celery): `socialopt worker` on any number of machines.

A job message carries references, never images: the session id, the user, the options and
the names of the source (and logo) in the file store. The task runs the same use case the
bot, CLI and API call (`sessions.run`). Messages are acknowledged late and rejected when a
worker dies, so a killed worker's job goes back to the queue; it runs at most twice, then
fails with WORKER_LOST. PROCESSING_TIMEOUT is the soft limit (PROCESSING_TIMEOUT code), with
a hard limit 30 s later.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_process_init

from pipeline.errors import SocialOptError
from socialopt import wiring
from socialopt.celery_app import QUEUE, TASK, app, configure, options_from_payload
from socialopt.progress import ProgressBoard
from socialopt.settings import Settings
from socialopt.usecases import sessions

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 2


@dataclass
class _Worker:
    """What one worker process builds once (after the fork): services, store, progress, an
    event loop and the repository opened on it (kept for every job this process runs)."""

    settings: Settings
    services: Any
    store: Any
    board: ProgressBoard
    loop: asyncio.AbstractEventLoop
    repo: Any = None

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    async def repository(self) -> Any:
        if self.repo is None:
            self.repo = await _open_repo(self.settings)
        return self.repo


_SETTINGS: Settings | None = None
_WORKER: _Worker | None = None


def _worker() -> _Worker:
    global _WORKER
    if _WORKER is None:
        settings = _SETTINGS or wiring.load_settings()
        _WORKER = _Worker(
            settings,
            wiring.services_with_cache(settings),
            wiring.file_store(settings),
            ProgressBoard(wiring.broker_url(settings)),
            asyncio.new_event_loop(),
        )
    return _WORKER


async def _open_repo(settings: Settings) -> Any:
    return await wiring.open_repository(settings)


async def _fail(w: _Worker, uid: int, sid: str, code: str, message: str) -> None:
    await (await w.repository()).fail_session(uid, sid, code, message)


async def _notify(w: _Worker, repo: Any, payload: dict, status: str, error: Any) -> None:
    """The webhook the request named, if any (from the worker: it knows when the job ends)."""
    if not payload.get("webhook_url"):
        return
    from api.webhooks import notify_webhook
    from storage.api import ApiStore

    await notify_webhook(
        ApiStore(repo),
        w.settings,
        payload["user_id"],
        payload["session_id"],
        payload["webhook_url"],
        status,
        error,
    )


async def _run(w: _Worker, payload: dict[str, Any]) -> str:
    sid, uid = payload["session_id"], int(payload["user_id"])
    repo = await w.repository()
    # the repository stays open for the next job this process runs
    session = await repo.get_session(uid, sid)
    if session is None:
        return "missing"
    if session.status in ("completed", "failed"):
        return session.status  # a duplicate delivery: the work is done
    logo = w.store.get(sid, payload["logo"]) if payload.get("logo") else None
    options = options_from_payload(payload["options"], logo)
    image = w.store.get(sid, payload["source"])
    local = w.store.local_path(sid, payload["source"])
    with tempfile.TemporaryDirectory(prefix="socialopt-job-") as tmp:
        out_dir = local.parent if local is not None else Path(tmp)
        started = sessions.Started(sid, out_dir, options)
        w.board.start(sid, len(options.platforms))
        error: SocialOptError | None = None
        try:
            await sessions.run(
                repo,
                w.services,
                started,
                uid,
                image,
                run_sync=asyncio.to_thread,
                progress=w.board.callback(sid),
                file_store=w.store,
            )
        except SocialOptError as exc:
            error = exc
    status = "failed" if error else "completed"
    await _notify(w, repo, payload, status, error)
    return status


@worker_process_init.connect
def _warm_up(**_: Any) -> None:
    """Build the services (and load the recognition model) before the first job arrives."""
    w = _worker()
    recogniser = getattr(w.services, "recogniser", None)
    if recogniser is not None and hasattr(recogniser, "warm"):
        recogniser.warm()


@app.task(name=TASK, bind=True)
def run_session(self: Any, payload: dict[str, Any]) -> str:
    """Run one queued session to the end (or to a coded failure)."""
    w = _worker()
    sid, uid = payload["session_id"], int(payload["user_id"])
    attempt = w.board.attempt(sid)
    if attempt > MAX_ATTEMPTS:
        message = "The job was interrupted twice; please send it again."
        w.run(_fail(w, uid, sid, "WORKER_LOST", message))
        return "failed"
    try:
        return w.run(_run(w, payload))
    except SoftTimeLimitExceeded:
        seconds = w.settings.processing_timeout_s
        w.run(_fail(w, uid, sid, "PROCESSING_TIMEOUT", f"The job took longer than {seconds} s."))
        return "failed"


def run_worker(settings: Settings, *, concurrency: int = 1, name: str = "") -> None:
    """`socialopt worker`: consume jobs until stopped."""
    global _SETTINGS
    _SETTINGS = settings
    configure(settings, wiring.broker_url(settings))
    argv = [
        "worker",
        f"--concurrency={max(1, concurrency)}",
        "--pool=prefork",
        f"--queues={QUEUE}",
        "--without-gossip",
        "--without-mingle",
        f"--loglevel={settings.log_level}",
    ]
    if name:
        argv.append(f"--hostname={name}@%h")
    app.worker_main(argv)
