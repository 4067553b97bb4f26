"""Albums: several photos or image files sent together make ONE carousel job.

Telegram delivers an album item by item, each a message with the album's `media_group_id`.
Each item is downloaded, its header checked and its bytes kept on disk; the use case's
`AlbumCollector` waits until the album is quiet for ALBUM_WINDOW_S, then one set job starts
with the user's default platforms (the album's caption is the description). Every platform's
limit is enforced by the pipeline (photos over it are left out and named). Delivery: per
platform the slides as document albums (`sendMediaGroup`, 2-10 items each), then its caption
and texts; then the notes, the zip and the closing buttons.

Registered before the photo conversation, so an album never enters it.
"""

from __future__ import annotations

import asyncio
import logging
import math
import tempfile
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from telegram import InputMediaDocument, Message, Update
from telegram.ext import Application, BaseHandler, ExtBot, MessageHandler, filters

from bot import keyboards
from bot.context import SERVICES_KEY, BotContext, BotServices
from bot.delivery import StatusMessage, send_html
from bot.formatting import CAPTION_LIMIT, display_name, escape, platform_message
from bot.handlers.photo import CLOUD_UPLOAD_LIMIT, _download
from bot.jobs import deliver_reported, job_options, run_reported
from pipeline.carousel import SetResult, Slide
from pipeline.errors import SocialOptError
from pipeline.intake import MB, probe_image
from pipeline.outputs import make_zip
from socialopt.queue import admit
from socialopt.usecases import albums, sessions

log = logging.getLogger(__name__)

COLLECTOR_KEY = "album_collector"
ALBUM_WINDOW_S = albums.ALBUM_WINDOW_S
GROUP_MAX = 10  # sendMediaGroup takes 2-10 items


class _InAlbum(filters.MessageFilter):
    """A message that is one item of an album."""

    def filter(self, message: Message) -> bool:
        return bool(message.media_group_id)


ALBUM_FILTER = (filters.PHOTO | filters.Document.ALL) & _InAlbum(name="in_album")


def media_groups(count: int) -> list[tuple[int, int]]:
    """(start, end) of the sendMediaGroup calls for `count` documents: as few groups as
    GROUP_MAX allows, of even sizes, so none is a lone item (11 -> 6 + 5). One item: one
    group of one (sent as a plain document)."""
    if count <= 0:
        return []
    groups = math.ceil(count / GROUP_MAX)
    out, start = [], 0
    for g in range(groups):
        size = count // groups + (1 if g < count % groups else 0)
        out.append((start, start + size))
        start += size
    return out


def _collector(app: Application) -> albums.AlbumCollector:
    collector = app.bot_data.get(COLLECTOR_KEY)
    if collector is None:
        collector = albums.AlbumCollector(partial(_album_ready, app), window_s=ALBUM_WINDOW_S)
        app.bot_data[COLLECTOR_KEY] = collector
    return collector


async def album_item(update: Update, context: BotContext) -> None:
    """One item of an album: fetched, its header checked, kept on disk, then collected."""
    message = update.effective_message
    svc, uid = context.svc, update.effective_user.id
    key = (uid, update.effective_chat.id, message.media_group_id)
    collector = _collector(context.application)
    collector.expect(key)  # the album waits while this item downloads
    name = message.document.file_name if message.document else "photo.jpg"
    item = albums.AlbumItem(message.message_id, name or "file", text=message.caption or "")
    try:
        data, item.name = await _download(message, context)
        await asyncio.to_thread(probe_image, data, svc.services.intake_limits)
        item.path = await asyncio.to_thread(sessions.save_draft, svc.drafts_dir, uid, data)
    except SocialOptError as exc:
        item.problem = exc.user_text()
    finally:
        collector.add(key, item)


def _names(items: Sequence[albums.AlbumItem]) -> list[str]:
    """File names for the set: Telegram's photos are all "photo.jpg", so they get numbers."""
    return [
        f"photo{n}.jpg" if item.name == "photo.jpg" else item.name
        for n, item in enumerate(items, 1)
    ]


def _read_and_drop(items: Sequence[albums.AlbumItem]) -> list[bytes | None]:
    out = [sessions.read_draft(i.path) if i.path else None for i in items]
    for item in items:
        sessions.drop_draft(item.path)
    return out


async def _album_ready(app: Application, key: Hashable, items: list[albums.AlbumItem]) -> None:
    """The album is complete: start one set job, or say why not."""
    svc: BotServices = app.bot_data[SERVICES_KEY]
    bot: ExtBot = app.bot
    uid, chat_id, _ = key  # type: ignore[misc]
    good, skipped = albums.usable(items)
    datas = await asyncio.to_thread(_read_and_drop, items)
    images = [d for item, d in zip(items, datas, strict=True) if item in good and d is not None]
    names = _names([item for item, d in zip(items, datas, strict=True) if item in good and d])
    notes = "".join(f"\n⚠️ {escape(s)}" for s in skipped)
    if len(images) < 2:
        await bot.send_message(
            chat_id,
            f"I could use {len(images)} of the {len(items)} items of your album; a carousel "
            f"needs at least 2. Send the photos again (or one on its own).{notes}",
        )
        return
    description = next((i.text for i in items if i.text), "")[:1000]
    user = await svc.repo.get_user(uid)
    platforms = (user.default_platforms if user else ()) or svc.settings.default_platforms
    try:
        options = await job_options(
            svc,
            uid,
            platforms=list(platforms),
            description=description,
            use_ai=svc.ai_enabled,
            logo=bool(user and user.logo_path),
            source_name=names[0],
        )
        await admit(svc.admission, svc.repo, svc.jobs, uid)
        started = await albums.start_set(
            svc.repo, svc.sessions_dir, uid, images, names, options, deliver=True
        )
    except SocialOptError as exc:
        await bot.send_message(chat_id, f"⚠️ {escape(exc.user_text())}{notes}")
        return
    del images, datas
    sid = started.session_id
    chosen = ", ".join(display_name(k) for k in started.options.platforms)
    text = (
        f"🖼 Got your album of {len(names)} photos: one carousel for {escape(chosen)} "
        f"(change the platforms in /settings).{notes}\n"
        f"⏳ Preparing… (session <code>{sid}</code>)"
    )
    sent = await bot.send_message(chat_id, text)
    status = StatusMessage(bot, chat_id, sent.message_id, started.options.platforms, sid)

    async def on_position(position: int) -> None:
        if position:
            status.queued(position)
        else:
            await status.show(status.working_text(), force=True)

    async def on_cancel() -> None:
        await svc.repo.fail_session(uid, sid, "CANCELLED", "Cancelled before it started.")
        await status.finish(f"Cancelled (session <code>{sid}</code>).")

    job = AlbumJob(svc, bot, chat_id, uid, started, names, status)
    try:
        position = svc.jobs.submit(
            uid, job.run, on_position=on_position, on_cancel=on_cancel, label=sid
        )
    except SocialOptError as exc:
        await svc.repo.fail_session(uid, sid, exc.code, exc.message)
        await status.finish(f"⚠️ {escape(exc.user_text())}")
        return
    if position:
        await status.show(status.queued_text(position), force=True)


@dataclass
class AlbumJob:
    """One queued set; `run` is what the JobRunner awaits (the photos wait on disk)."""

    svc: BotServices
    bot: ExtBot
    chat_id: int
    user_id: int
    started: sessions.Started
    names: list[str]
    status: StatusMessage

    async def run(self) -> None:
        svc, uid = self.svc, self.user_id

        async def work() -> SetResult:
            return await albums.run_set_session(
                svc.repo,
                svc.services,
                self.started,
                uid,
                self.names,
                run_sync=svc.jobs.run_sync,
                progress=self.status.progress_callback(),
            )

        await run_reported(svc, self.status, uid, self.started.session_id, work, self._deliver)

    async def _deliver(self, result: SetResult, elapsed: float) -> None:
        svc = self.svc
        sending = deliver_set(
            self.bot,
            self.chat_id,
            result,
            self.started.out_dir,
            timezone=self.started.options.timezone,
            webapp_url=svc.settings.webapp_url,
            local_api=bool(svc.settings.telegram_api_base_url),
        )
        await deliver_reported(self, "carousels", sending, elapsed)


def _slide_caption(platform: str, slide: Slide, total: int) -> str:
    image = slide.image
    assert image is not None
    head = f"{display_name(platform)} {slide.n}/{total} · {image.width}×{image.height}"
    text = f"{head}\nAlt: {slide.alt_text}" if slide.alt_text else head
    text = text if len(text) <= CAPTION_LIMIT - 20 else text[: CAPTION_LIMIT - 21] + "…"
    return escape(text)


async def send_slides(bot: ExtBot, chat_id: int, platform: str, slides: Sequence[Slide]) -> None:
    """A platform's slides as documents, in albums of 2-10 (media_groups)."""
    ready = [s for s in slides if s.image is not None]
    for start, end in media_groups(len(ready)):
        group = ready[start:end]
        if len(group) == 1:
            s = group[0]
            await bot.send_document(
                chat_id,
                s.image.data,
                filename=s.filename(platform),
                caption=_slide_caption(platform, s, len(ready)),
            )
            continue
        media = [
            InputMediaDocument(
                s.image.data,
                filename=s.filename(platform),
                caption=_slide_caption(platform, s, len(ready)),
            )
            for s in group
        ]
        await bot.send_media_group(chat_id, media)


async def deliver_set(
    bot: ExtBot,
    chat_id: int,
    result: SetResult,
    folder: Path,
    *,
    timezone: str,
    webapp_url: str = "",
    local_api: bool = False,
) -> None:
    """The overview, then per platform its slides and its texts, the notes, the zip and the
    closing message."""
    job = result.job
    if job.contact_sheet:
        names = ", ".join(display_name(k) for k in job.platforms)
        await bot.send_photo(
            chat_id,
            job.contact_sheet,
            caption=escape(f"Your carousel's cover on {names}"[: CAPTION_LIMIT - 1]),
            filename="preview.jpg",
        )
    for key, res in job.platforms.items():
        await send_slides(bot, chat_id, key, result.slides.get(key, []))
        for chunk in platform_message(res, timezone=timezone):
            await bot.send_message(chat_id, chunk)
    notes = list(dict.fromkeys([*job.usage.notices, *job.warnings]))
    if notes:
        await send_html(bot, chat_id, "ℹ️ " + "\n".join(escape(n) for n in notes))
    await _send_zip(bot, chat_id, folder, job.session_id, local_api=local_api)
    done = len(job.successful)
    await send_html(
        bot,
        chat_id,
        f"✅ Done: {done} of {len(job.platforms)} carousels ready.\n"
        f"Session <code>{escape(job.session_id)}</code>.",
        reply_markup=keyboards.closing(job.session_id, product=False, webapp_url=webapp_url),
    )


async def _send_zip(
    bot: ExtBot, chat_id: int, folder: Path, session_id: str, *, local_api: bool
) -> None:
    with tempfile.TemporaryDirectory(prefix="socialopt-zip-") as tmp:
        path = await asyncio.to_thread(make_zip, folder, Path(tmp) / f"socialopt_{session_id}.zip")
        size = path.stat().st_size
        if size > CLOUD_UPLOAD_LIMIT and not local_api:
            await bot.send_message(
                chat_id,
                f"The zip is {size // MB} MB, over Telegram's 50 MB limit for bots; "
                "the images were sent above.",
            )
            return
        with path.open("rb") as fh:
            await bot.send_document(
                chat_id, fh, filename=path.name, caption=f"All files of session {session_id}"
            )


async def close(app: Application) -> None:
    """At stop: albums still being collected are dropped with their files."""
    collector = app.bot_data.pop(COLLECTOR_KEY, None)
    if collector is not None:
        await collector.close()


def handlers() -> list[BaseHandler[Any, Any, Any]]:
    """The album items' handler (register it before the photo conversation)."""
    return [MessageHandler(ALBUM_FILTER, album_item)]
