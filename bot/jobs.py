"""The photo job's Telegram half: options from the user's settings, the session row, the
pipeline in the queue's executor, files and rows, then delivery. The queue is `bot.queue`."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from telegram.ext import ExtBot

from bot.delivery import BULK, StatusMessage, deliver
from bot.formatting import escape
from bot.logs import log_exception
from bot.queue import admit
from pipeline.errors import SocialOptError
from pipeline.job import run_job
from pipeline.models import JobOptions, JobResult, LogoOptions
from pipeline.outputs import results_to_dict, write_outputs
from storage.records import files_in_dir, rows_from_results

if TYPE_CHECKING:
    from bot.context import BotServices
    from socialopt.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")

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
        use_ai=use_ai and svc.ai_enabled,  # the wired services decide, not the keys
        language=user.language or settings.default_language,
        timezone=user.timezone or settings.default_timezone,
        output_format=user.output_format or settings.output_format,
        max_workers=job_workers(settings),
        product_styles=DEFAULT_PRODUCT_STYLES if product else (),
        product_force=product and product_force,
        logo=logo_options,
        saved_accounts=tuple(accounts),
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
