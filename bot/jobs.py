"""The photo job's Telegram half: the status message, the session use case
(`socialopt.usecases.sessions`) in the queue's executor, then delivery. The queue is
`socialopt.queue`."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from telegram.error import TelegramError
from telegram.ext import ExtBot

from bot import keyboards
from bot.delivery import BULK, StatusMessage, deliver
from bot.formatting import escape
from pipeline.errors import SocialOptError
from pipeline.models import JobOptions, JobResult
from socialopt.logs import log_exception
from socialopt.queue import admit
from socialopt.usecases import sessions

if TYPE_CHECKING:
    from bot.context import BotServices

log = logging.getLogger(__name__)
T = TypeVar("T")


async def job_options(svc: BotServices, user_id: int, **choices: Any) -> JobOptions:
    """JobOptions from the user's saved settings plus this conversation's `choices`
    (the fields of `sessions.Choices`)."""
    return await sessions.options_for_user(
        svc.repo, svc.defaults, user_id, sessions.Choices(**choices), ai_enabled=svc.ai_enabled
    )


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
    await admit(svc.admission, svc.repo, svc.jobs, user_id)
    started = await sessions.start(
        svc.repo, svc.sessions_dir, user_id, image, options, deliver=True
    )
    sid, options = started.session_id, started.options
    text = f"⏳ Got it, preparing… (session <code>{sid}</code>)"
    if status_message_id:  # the conversation's own message becomes the status
        await bot.edit_message_text(text, chat_id, status_message_id)
    else:
        status_message_id = (await bot.send_message(chat_id, text)).message_id
    status = StatusMessage(bot, chat_id, status_message_id, options.platforms, sid)

    async def on_position(position: int) -> None:
        if position:  # coalesced, at most every few seconds, after deliveries in flight
            status.queued(position)
        else:
            await status.show(status.working_text(), force=True)

    async def on_cancel() -> None:
        await svc.repo.fail_session(user_id, sid, "CANCELLED", "Cancelled before it started.")
        await status.finish(f"Cancelled (session <code>{sid}</code>).")

    job = PhotoJob(svc, bot, chat_id, user_id, started, status)
    position = svc.jobs.submit(
        user_id, job.run, on_position=on_position, on_cancel=on_cancel, label=sid
    )
    if position:
        await status.show(status.queued_text(position), force=True)
    return sid


async def run_reported(
    svc: BotServices,
    status: StatusMessage,
    uid: int,
    sid: str,
    work: Callable[[], Awaitable[T]],
    deliver: Callable[[T, float], Awaitable[None]],
) -> None:
    """Run a queued job's `work` and say how it ended on its status message; on success,
    `deliver(result, seconds)` runs after the job slot is freed. Shared by photos and albums."""
    BULK.set(True)  # this task's Telegram traffic yields to interactive answers
    began = time.perf_counter()
    try:
        result = await work()
    except asyncio.CancelledError:
        status.close()  # stopped: the session stays processing -> interrupted
        raise
    except OSError as exc:  # the kept source is gone (deleted, disk trouble)
        log_exception(log, f"job {sid}: source unreadable", exc, svc.settings.secret_values())
        await svc.repo.fail_session(uid, sid, "SOURCE_MISSING", "The photo file is gone.")
        await status.finish(
            f"❌ I no longer have that photo; please send it again (session <code>{sid}</code>)."
        )
        return
    except sessions.JobCrashed as exc:
        log_exception(
            log, f"job {sid} of user {uid} failed", exc.cause, svc.settings.secret_values()
        )
        await status.finish(
            f"❌ Sorry, something went wrong on my side (session <code>{sid}</code>). "
            "Please try again."
        )
        return
    except SocialOptError as exc:
        await status.finish(f"❌ {escape(exc.user_text())}\nSession <code>{sid}</code>")
        return
    elapsed = time.perf_counter() - began
    # Sending is paced by Telegram's limits: it runs after the job slot is freed, in order
    # per user, so a slow chat never holds up the pipeline for everyone.
    svc.jobs.after(uid, partial(deliver, result, elapsed))


@dataclass
class PhotoJob:
    """One queued job; `run` is what the JobRunner awaits. It holds no image bytes while it
    waits: the source is read from the session's folder when it starts."""

    svc: BotServices
    bot: ExtBot
    chat_id: int
    user_id: int
    started: sessions.Started
    status: StatusMessage

    async def run(self) -> None:
        svc, uid = self.svc, self.user_id

        async def work() -> JobResult:
            image = await asyncio.to_thread(sessions.read_source, self.started)
            return await svc.backend.run(
                svc.repo,
                svc.services,
                self.started,
                uid,
                image,
                run_sync=svc.jobs.run_sync,
                progress=self.status.progress_callback(),
            )

        await run_reported(svc, self.status, uid, self.started.session_id, work, self._deliver)

    async def _deliver(self, result: JobResult, elapsed: float) -> None:
        svc = self.svc
        await deliver_reported(
            self,
            "results",
            deliver(
                self.bot,
                self.chat_id,
                result,
                timezone=self.started.options.timezone,
                elapsed_s=elapsed,
                webapp_url=svc.settings.webapp_url,
            ),
            elapsed,
        )


class QueuedJob(Protocol):
    """What deliver_reported needs of a photo or album job."""

    svc: BotServices
    bot: ExtBot
    chat_id: int
    user_id: int
    started: sessions.Started
    status: StatusMessage


async def deliver_reported(
    job: QueuedJob, what: str, sending: Awaitable[None], elapsed: float
) -> None:
    """Say the job is done, send its results (`sending`), and record the delivery; a failed
    send tells the user how to get the saved results. Shared by photos and albums."""
    svc, sid = job.svc, job.started.session_id
    await job.status.finish(
        f"✅ Finished in {elapsed:.1f} s, sending the {what}…\nSession <code>{sid}</code>"
    )
    try:
        await sending
    except Exception as exc:  # noqa: BLE001 - the session is saved; say how to get it
        log_exception(log, f"delivery of {sid} failed", exc, svc.settings.secret_values())
        await job.bot.send_message(
            job.chat_id,
            f"I could not send every result (session <code>{sid}</code>); they are saved: "
            "use /history to get them again.",
        )
    await svc.repo.mark_delivered(job.user_id, sid)


async def reoffer_undelivered(svc: BotServices, bot: ExtBot) -> int:
    """At start-up: sessions that completed but whose delivery a stop or crash cut short are
    offered again, once, with a button that sends every result (and `/history`). Returns how
    many users were told."""
    told = 0
    for session in await svc.repo.undelivered():
        sid = session.id
        text = (
            f"✅ Your photo from {(session.started_at or '')[:16].replace('T', ' ')} UTC "
            f"(session <code>{escape(sid)}</code>) was finished, but a restart cut sending "
            "the results short. Tap the button to get them all (or use /history)."
        )
        markup = keyboards.history([(sid, "📤 Send my results")])
        try:
            await bot.send_message(session.user_id, text, reply_markup=markup)
            told += 1
        except TelegramError as exc:  # blocked the bot, chat gone: do not retry forever
            log.warning("could not re-offer session %s to %s: %s", sid, session.user_id, exc)
        await svc.repo.mark_delivered(session.user_id, sid)
    return told
