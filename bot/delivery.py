"""Sending a finished job to the chat, and the one status message edited while it runs.

Order: the contact sheet as one photo; per platform the optimized image as a document named
`<platform>_<W>x<H>.<ext>` (Telegram recompresses photos, documents stay untouched) and the
text from `bot.formatting.platform_message` in HTML mode; product photos as documents; notices;
when the product detector refused, why (one sentence with its code) and a `Try anyway` button;
then one closing message with the follow-up buttons. Texts respect the 4096/1024 limits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from contextvars import ContextVar

from telegram import (
    InputMediaDocument,
)
from telegram.error import TelegramError
from telegram.ext import ExtBot

from bot import keyboards
from bot.formatting import CAPTION_LIMIT, display_name, escape, platform_message, split_message
from pipeline.models import JobResult, PlatformResult, ProductDecision, ProductPhoto, ProgressEvent
from pipeline.product.background import MASK_UNRELIABLE
from pipeline.product.photos import decision_warning
from socialopt.queue import EXACT_POSITIONS

log = logging.getLogger(__name__)

PHOTO_MAX_BYTES = 10 * 1024 * 1024  # sendPhoto limit; bigger previews go as a document
STATUS_MIN_INTERVAL_S = 1.0  # at most one status edit per second per chat (flood control)
QUEUE_EDIT_INTERVAL_S = 5.0  # a waiting job's position is edited at most this often
QUEUE_EDIT_DEFER_S = 10.0  # and yields to deliveries in flight for at most this long
_in_flight = [0]  # deliveries being sent in this process (waiting-job edits yield to them)

# Callback data of the closing message's buttons.


# Set inside a job's task: its requests (status edits, results) are bulk traffic that the
# rate limiter paces below Telegram's overall limit, so answers to users never queue behind it.
BULK: ContextVar[bool] = ContextVar("socialopt_bulk", default=False)


def _cut(text: str, limit: int = CAPTION_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def refusal_sentence(decision: ProductDecision) -> str:
    """Why no product photos were made, as one plain sentence ending with the code."""
    if decision.code == MASK_UNRELIABLE:
        why = (
            "I couldn't cut the product out cleanly without the background model, "
            "so the photos would look broken"
        )
    elif decision.source == "ai":
        why = "The AI analysis doesn't see a product in this photo"
    elif decision.problems:
        why = "This doesn't look like one product on a plain backdrop: " + "; ".join(
            decision.problems
        )
    else:
        why = decision.reason.rstrip(". ")
    return f"{why} ({decision.code})."


def refusal_text(decision: ProductDecision) -> str:
    """The refusal message (HTML): the sentence, then what `Try anyway` does."""
    anyway = (
        "stages the whole photo instead of a cut-out"
        if decision.code == MASK_UNRELIABLE
        else "makes them all the same"
    )
    return (
        f"🛍 {escape(refusal_sentence(decision))}\n"
        f"No product photos for now; <b>Try anyway</b> {anyway}."
    )


async def send_html(bot: ExtBot, chat_id: int, text: str, **kwargs: object) -> None:
    """Send HTML text split under 4096 chars; markup (if any) goes on the last chunk."""
    markup = kwargs.pop("reply_markup", None)
    chunks = split_message(text)
    for i, chunk in enumerate(chunks):
        await bot.send_message(
            chat_id,
            chunk,
            reply_markup=markup if i == len(chunks) - 1 else None,
            **kwargs,
        )


async def _send_product_photos(bot: ExtBot, chat_id: int, photos: Sequence[ProductPhoto]) -> None:
    if len(photos) == 1:
        p = photos[0]
        await bot.send_document(
            chat_id, p.image.data, filename=p.filename, caption=_cut(f"Product photo · {p.style}")
        )
        return
    for start in range(0, len(photos), 10):
        group = list(photos[start : start + 10])
        if len(group) == 1:
            await _send_product_photos(bot, chat_id, group)
            continue
        media = [
            InputMediaDocument(
                p.image.data, filename=p.filename, caption=_cut(f"Product photo · {p.style}")
            )
            for p in group
        ]
        await bot.send_media_group(chat_id, media)


async def send_image(
    bot: ExtBot, chat_id: int, platform: str, image: tuple[bytes, str, tuple[int, int]]
) -> None:
    """A platform's image as a document (untouched by Telegram): (bytes, file name, size)."""
    data, filename, (width, height) = image
    caption = _cut(f"{display_name(platform)} · {width}×{height}")
    await bot.send_document(chat_id, data, filename=filename, caption=caption)


async def send_platform(
    bot: ExtBot,
    chat_id: int,
    platform: str,
    result: PlatformResult,
    *,
    timezone: str,
    image: tuple[bytes, str, tuple[int, int]] | None = None,
) -> None:
    """One platform: its image as a document (bytes, file name, size), then its text."""
    if image is not None:
        await send_image(bot, chat_id, platform, image)
    for chunk in platform_message(result, timezone=timezone):
        await bot.send_message(chat_id, chunk)


async def deliver(
    bot: ExtBot,
    chat_id: int,
    result: JobResult,
    *,
    timezone: str,
    elapsed_s: float = 0.0,
    webapp_url: str = "",
) -> None:
    """Send everything a finished job produced, ending with the closing message. While it
    runs, waiting jobs' position edits hold back (StatusMessage.queued): results first."""
    _in_flight[0] += 1
    try:
        await _deliver(
            bot, chat_id, result, timezone=timezone, elapsed_s=elapsed_s, webapp_url=webapp_url
        )
    finally:
        _in_flight[0] -= 1


async def _deliver(
    bot: ExtBot,
    chat_id: int,
    result: JobResult,
    *,
    timezone: str,
    elapsed_s: float,
    webapp_url: str = "",
) -> None:
    names = [display_name(k) for k in result.platforms]
    if result.contact_sheet:
        caption = _cut(f"All crops at a glance: {', '.join(names)}")
        if len(result.contact_sheet) <= PHOTO_MAX_BYTES:
            await bot.send_photo(
                chat_id, result.contact_sheet, caption=caption, filename="contact_sheet.jpg"
            )
        else:
            await bot.send_document(
                chat_id, result.contact_sheet, caption=caption, filename="contact_sheet.jpg"
            )
    for key, res in result.platforms.items():
        image = None
        if res.image is not None:
            size = (res.image.width, res.image.height)
            image = (res.image.data, res.image.filename(key), size)
        await send_platform(bot, chat_id, key, res, timezone=timezone, image=image)
        if res.product_photos:
            await _send_product_photos(bot, chat_id, res.product_photos)
    decision = result.product
    notes = list(dict.fromkeys([*result.usage.notices, *result.warnings]))
    if decision is not None and decision.code:  # said below in the bot's own words
        notes = [n for n in notes if n != decision_warning(decision)]
        if decision.forced:
            notes.append(f"Product photos made anyway, as you asked ({decision.code}).")
    if notes:
        await send_html(bot, chat_id, "ℹ️ " + "\n".join(escape(n) for n in notes))
    if decision is not None and decision.code and not decision.forced:
        await send_html(
            bot,
            chat_id,
            refusal_text(decision),
            reply_markup=keyboards.try_anyway(result.session_id),
        )
    done = len(result.successful)
    took = f" in {elapsed_s:.0f} s" if elapsed_s >= 1 else ""
    text = (
        f"✅ Done{took}: {done} of {len(result.platforms)} platforms ready.\n"
        f"Session <code>{escape(result.session_id)}</code> — tap <b>Download all</b> for a zip "
        "with every image, results.json and the caption files."
    )
    await send_html(
        bot,
        chat_id,
        text,
        reply_markup=keyboards.closing(
            result.session_id,
            product=not result.options.product_styles,
            webapp_url=webapp_url,
        ),
    )


class StatusMessage:
    """One message edited as stages and platforms finish (at most once per interval)."""

    def __init__(
        self,
        bot: ExtBot,
        chat_id: int,
        message_id: int,
        platforms: Sequence[str],
        session_id: str,
        *,
        min_interval: float = STATUS_MIN_INTERVAL_S,
    ) -> None:
        self.bot, self.chat_id, self.message_id = bot, chat_id, message_id
        self.platforms = list(platforms)
        self.session_id = session_id
        self.min_interval = min_interval
        self.stages: dict[str, bool] = {}
        self.ready: dict[str, bool] = {}  # platform -> ok
        self.done = self.total = 0
        self._shown = ""
        self._last = 0.0
        self._lock = asyncio.Lock()
        self._queue: asyncio.Queue[ProgressEvent] = asyncio.Queue()
        self._pump: asyncio.Task[None] | None = None
        self._waiting_text = ""  # the newest position text not shown yet
        self._waiting_task: asyncio.Task[None] | None = None

    # ---- text ------------------------------------------------------------------------------

    def queued_text(self, position: int) -> str:
        """`position` as socialopt.queue.shown_position gives it: exact up to EXACT_POSITIONS,
        a bucket ("about 10 ahead") further back."""
        where = (
            f"position {position}"
            if position <= EXACT_POSITIONS
            else f"about {position} ahead of you"
        )
        return (
            f"⏳ In the queue: {where}. I will start as soon as a worker is free.\n"
            f"Session <code>{escape(self.session_id)}</code>"
        )

    def queued(self, position: int) -> None:
        """Show a waiting job's new position: the newest one wins, edited at most every
        QUEUE_EDIT_INTERVAL_S, and only once deliveries in flight are sent (or after
        QUEUE_EDIT_DEFER_S), so status edits never hold up results."""
        self._waiting_text = self.queued_text(position)
        if self._waiting_task is None or self._waiting_task.done():
            self._waiting_task = asyncio.get_running_loop().create_task(self._show_waiting())

    async def _show_waiting(self) -> None:
        deadline = time.monotonic() + QUEUE_EDIT_INTERVAL_S + QUEUE_EDIT_DEFER_S
        while True:
            wait = QUEUE_EDIT_INTERVAL_S - (time.monotonic() - self._last)
            if wait > 0 or self._lock.locked():  # too soon, or another edit in flight
                await asyncio.sleep(max(wait, 0.05))
            elif _in_flight[0] and time.monotonic() < deadline:  # results go first
                await asyncio.sleep(0.25)
            else:
                break
        text, self._waiting_text = self._waiting_text, ""
        if text:
            await self._edit(text, force=True)

    def _stop_waiting(self) -> None:
        self._waiting_text = ""
        if self._waiting_task is not None:
            self._waiting_task.cancel()
            self._waiting_task = None

    def working_text(self) -> str:
        labels = {
            "intake": "Image checked",
            "analysis": "Image analysed",
            "content": "Captions and hashtags written",
            "product": "Product photos made",
        }
        lines = [f"⚙️ Working on your photo ({self.done}/{self.total or '…'})"]
        for stage, label in labels.items():
            if stage in self.stages:
                lines.append(f"✅ {label}")
        marks = []
        for key in self.platforms:
            state = self.ready.get(key)
            icon = "⏳" if state is None else ("✅" if state else "❌")
            marks.append(f"{icon} {display_name(key)}")
        lines.append("  ".join(marks))
        lines.append(f"Session <code>{escape(self.session_id)}</code>")
        return "\n".join(lines)

    # ---- editing ---------------------------------------------------------------------------

    async def show(self, text: str, *, force: bool = False) -> None:
        """Edit the message to `text` (skips unchanged text; never raises); a position
        waiting to be shown is dropped."""
        self._stop_waiting()
        await self._edit(text, force=force)

    async def _edit(self, text: str, *, force: bool = False) -> None:
        async with self._lock:
            if text == self._shown:
                return
            if not force:
                wait = self.min_interval - (time.monotonic() - self._last)
                if wait > 0:
                    await asyncio.sleep(wait)
            self._last = time.monotonic()  # an edit in flight counts as the last one
            try:
                await self.bot.edit_message_text(text, self.chat_id, self.message_id)
                self._shown = text
            except TelegramError as exc:  # "not modified" included: the status is cosmetic
                log.debug("status edit failed: %s", exc)
            self._last = time.monotonic()

    def apply(self, event: ProgressEvent) -> None:
        self.done, self.total = event.done, event.total
        if event.platform:
            self.ready[event.platform] = "failed" not in event.message.lower()
        else:
            self.stages[event.stage] = True

    def progress_callback(self) -> object:
        """A thread-safe ProgressFn that feeds this status message from a worker thread."""
        loop = asyncio.get_running_loop()
        queue = self._queue

        def progress(event: ProgressEvent) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, event)

        if self._pump is None:
            self._pump = loop.create_task(self._run_pump())
        return progress

    async def _run_pump(self) -> None:
        while True:
            event = await self._queue.get()
            self.apply(event)
            while not self._queue.empty():
                self.apply(self._queue.get_nowait())
            await self.show(self.working_text())

    def close(self) -> None:
        """Stop following progress (sync; safe to call twice)."""
        self._stop_waiting()
        if self._pump is not None:
            self._pump.cancel()
            self._pump = None

    async def finish(self, text: str) -> None:
        """Stop following progress and show the final text at once."""
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
            self._pump = None
        await self.show(text, force=True)
