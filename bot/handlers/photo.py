"""The photo conversation: photo or image file -> platforms and options -> description -> job.

1. A photo (or an image sent as a file) is downloaded and checked by intake; a bad file gets
   the intake error as one sentence with its code and nothing else happens.
2. An inline keyboard toggles platforms (starting from the user's defaults), `All`, options
   and `Done`; every tap edits the same message.
3. A short description is asked for; text answers it, `Skip` or /skip skips it.
4. The job is queued (bot.jobs): a status message follows it and the results are delivered.

Also here: the result buttons that start or fetch something for a session (`Download all`,
`Product photos`, `Try anyway` after the product detector refused) and `Retry` for a job
interrupted by a restart.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

from telegram import Message, Update
from telegram.error import TelegramError
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot import keyboards
from bot.callbacks import PHOTO, PRODUCT, RETRY, TRY_ANYWAY, ZIP
from bot.context import BotContext
from bot.errors import SESSION_KEY
from bot.formatting import display_name, escape
from bot.jobs import job_options, start_photo_job
from pipeline.errors import IntakeError, SocialOptError
from pipeline.intake import MB, probe_image
from pipeline.platforms import PLATFORM_KEYS
from socialopt.logs import redact
from socialopt.usecases import sessions
from socialopt.usecases.history import zip_session

log = logging.getLogger(__name__)

CHOOSING, DESCRIBING = range(2)
DRAFT_KEY = "draft"
NOTE_KEY = "file_note_shown"
CLOUD_DOWNLOAD_LIMIT = 20 * MB  # getFile on Telegram's cloud Bot API
CLOUD_UPLOAD_LIMIT = 50 * MB
MAX_DESCRIPTION = 1000
IMAGE_FILTER = filters.PHOTO | filters.Document.ALL
DRAFT_EXPIRED = (
    "⌛ This photo waited too long for an answer, so I let it go. Send it again whenever you like."
)


@dataclass
class Draft:
    """What the user has chosen so far for one photo; the image waits on disk (`path`)."""

    path: Path
    source_name: str
    width: int
    height: int
    platforms: list[str]
    ai_available: bool
    has_logo: bool
    use_ai: bool = True
    product: bool = False
    logo: bool = False
    keyboard_id: int = 0
    prompt_id: int = 0
    warned: bool = False  # the keyboard text already says "pick at least one platform"
    notes: list[str] = field(default_factory=list)


# -- intake ------------------------------------------------------------------------------------


async def _download(message: Message, context: BotContext) -> tuple[bytes, str]:
    """The bytes of the photo or document in `message`, refusing what cannot be an image."""
    settings = context.svc.settings
    limits = context.svc.services.intake_limits
    if message.photo:
        item, name = message.photo[-1], "photo.jpg"
    else:
        doc = message.document
        item, name = doc, doc.file_name or "file"
        mime = (doc.mime_type or "").lower()
        if mime and not mime.startswith("image/") and mime != "application/octet-stream":
            raise IntakeError(
                f"This file ({mime}) is not an image. Please send a JPEG, PNG, WEBP, "
                "BMP or TIFF photo.",
                code="INVALID_IMAGE_FORMAT",
            )
    size = item.file_size or 0
    if size > limits.max_bytes:
        raise IntakeError(
            f"The file is larger than the {limits.max_bytes // MB} MB limit. "
            "Please send a smaller image.",
            code="IMAGE_TOO_LARGE",
        )
    if size > CLOUD_DOWNLOAD_LIMIT and not settings.telegram_api_base_url:
        raise IntakeError(
            "Telegram lets bots download files up to 20 MB. Please send a smaller image.",
            code="IMAGE_TOO_LARGE",
        )
    try:
        tg_file = await item.get_file()
        return bytes(await tg_file.download_as_bytearray()), name
    except TelegramError as exc:  # its text may echo the file URL, token included: log only
        secrets = [*settings.secret_values(), context.bot.token]
        log.warning("file download failed: %s", redact(str(exc), secrets))
        sentence = "I could not download the file from Telegram. Please send it again."
        if "too big" in str(exc).lower():  # our own words for the one case a user can fix
            sentence = (
                "The file is too big for Telegram to give it to me. Please send a smaller image."
            )
        raise IntakeError(sentence, code="DOWNLOAD_FAILED") from exc


# -- keyboard ----------------------------------------------------------------------------------


def keyboard_text(draft: Draft, *, warning: str = "") -> str:
    lines = [f"📷 Got your image ({draft.width}×{draft.height})."]
    lines += draft.notes
    lines.append("Pick the platforms (✅ = selected) and options, then tap <b>Done</b>.")
    if warning:
        lines.append(f"⚠️ {warning}")
    return "\n".join(lines)


def _draft(context: BotContext, message_id: int | None) -> Draft | None:
    draft = context.user_data.get(DRAFT_KEY) if context.user_data is not None else None
    if draft is None or (message_id is not None and message_id != draft.keyboard_id):
        return None
    return draft


async def _expired(update: Update) -> None:
    await update.callback_query.answer("This menu has expired; send the photo again.")


# -- conversation steps ------------------------------------------------------------------------


async def _drop(context: BotContext) -> Draft | None:
    """Forget the user's draft and remove its file; returns it (None when there was none)."""
    draft: Draft | None = context.user_data.pop(DRAFT_KEY, None) if context.user_data else None
    if draft is not None:
        await asyncio.to_thread(sessions.drop_draft, draft.path)
    return draft


async def image_received(update: Update, context: BotContext) -> int | None:
    """A photo or a file: the size from the image's header (no pixel is decoded here: the
    job decodes, after the user's limits are checked in start_photo_job), then the platform
    keyboard (a new photo restarts). The bytes wait on disk, not in memory."""
    message = update.effective_message
    svc = context.svc
    uid = update.effective_user.id
    try:
        data, name = await _download(message, context)
        header = await asyncio.to_thread(probe_image, data, svc.services.intake_limits)
        path = await asyncio.to_thread(sessions.save_draft, svc.drafts_dir, uid, data)
    except SocialOptError as exc:
        await message.reply_text(f"⚠️ {escape(exc.user_text())}")
        return None
    del data
    await _drop(context)  # a new photo replaces the one waiting
    user = await svc.repo.get_user(uid)  # a read: the reply does not wait for a write
    saved = (user.default_platforms if user else ()) or svc.settings.default_platforms
    draft = Draft(
        path=path,
        source_name=name,
        width=header.width,
        height=header.height,
        platforms=[k for k in PLATFORM_KEYS if k in saved],
        ai_available=svc.ai_enabled,
        has_logo=bool(user and user.logo_path),
    )
    draft.use_ai = draft.ai_available
    draft.logo = draft.has_logo
    if message.photo and not context.user_data.get(NOTE_KEY):
        context.user_data[NOTE_KEY] = True
        draft.notes.append(
            "💡 Tip: send the photo <b>as a file</b> next time; that keeps its full quality."
        )
    context.user_data[DRAFT_KEY] = draft
    sent = await message.reply_text(keyboard_text(draft), reply_markup=keyboards.photo_menu(draft))
    draft.keyboard_id = sent.message_id
    if user is None:
        await svc.repo.ensure_user(uid, language=update.effective_user.language_code)
    return CHOOSING


async def toggle(update: Update, context: BotContext) -> int:
    """Platform, All or option toggles: edit the same keyboard."""
    query = update.callback_query
    await query.answer()
    draft = _draft(context, query.message.message_id if query.message else None)
    if draft is None:
        return CHOOSING
    action, value = PHOTO.head(query.data)
    option = value if action == "opt" else ""
    if action == "all":
        everything = list(PLATFORM_KEYS)
        draft.platforms = [] if draft.platforms == everything else everything
    elif action == "tog":
        chosen = set(draft.platforms) ^ {value}
        draft.platforms = [k for k in PLATFORM_KEYS if k in chosen]
    elif option == "ai":
        draft.use_ai = not draft.use_ai
    elif option == "product":
        draft.product = not draft.product
    elif option == "logo":
        draft.logo = not draft.logo
    await query.edit_message_reply_markup(keyboards.photo_menu(draft))
    return CHOOSING


async def done(update: Update, context: BotContext) -> int:
    """Done: explain when nothing is selected, else ask for a description."""
    query = update.callback_query
    draft = _draft(context, query.message.message_id if query.message else None)
    if draft is None:
        await _expired(update)
        return CHOOSING
    if not draft.platforms:
        warning = "Pick at least one platform, then tap Done."
        await query.answer(warning, show_alert=True)
        if draft.warned:  # the message already says so: an identical edit is refused
            return CHOOSING
        draft.warned = True
        await query.edit_message_text(
            keyboard_text(draft, warning=warning),
            reply_markup=keyboards.photo_menu(draft),
        )
        return CHOOSING
    await query.answer()
    chosen = ", ".join(display_name(k) for k in draft.platforms)
    extras = [
        label
        for on, label in (
            (draft.use_ai and draft.ai_available, "AI analysis"),
            (draft.product, "product photos"),
            (draft.logo and draft.has_logo, "logo"),
        )
        if on
    ]
    summary = f"📷 {draft.width}×{draft.height} for <b>{escape(chosen)}</b>"
    if extras:
        summary += f" with {escape(', '.join(extras))}"
    # The same message becomes the prompt, and later the job's status: one card per photo.
    await query.edit_message_text(
        f"{summary}.\n✏️ Add a short description (what, where, who): it makes the captions "
        "better. Or tap Skip (or send /skip).",
        reply_markup=keyboards.skip(),
    )
    draft.prompt_id = draft.keyboard_id
    return DESCRIBING


async def choosing_hint(update: Update, context: BotContext) -> int:
    """Text while choosing platforms: point at the buttons."""
    await update.effective_message.reply_text("Tap the platforms you want, then Done.")
    return CHOOSING


async def description_received(update: Update, context: BotContext) -> int:
    """The description text: start the job."""
    text = (update.effective_message.text or "").strip()[:MAX_DESCRIPTION]
    return await _start(update, context, text)


async def skip_pressed(update: Update, context: BotContext) -> int:
    """Skip button or /skip: start the job without a description."""
    if update.callback_query is not None:
        await update.callback_query.answer()
    return await _start(update, context, "")


async def _start(update: Update, context: BotContext, description: str) -> int:
    taken = await _taken(context)
    if taken is None:
        return ConversationHandler.END
    draft, image = taken
    svc, uid, chat_id = context.svc, update.effective_user.id, update.effective_chat.id
    if image is None:
        await context.bot.edit_message_text(
            "I no longer have that photo; please send it again.", chat_id, draft.prompt_id
        )
        return ConversationHandler.END
    options = await job_options(
        svc,
        uid,
        platforms=draft.platforms,
        description=description,
        use_ai=draft.use_ai and draft.ai_available,
        product=draft.product,
        logo=draft.logo and draft.has_logo,
        source_name=draft.source_name,
    )
    try:
        sid = await start_photo_job(
            svc,
            context.bot,
            user_id=uid,
            chat_id=chat_id,
            image=image,
            options=options,
            status_message_id=draft.prompt_id or None,
        )
    except SocialOptError as exc:
        await context.bot.edit_message_text(
            f"⚠️ {escape(exc.user_text())}", chat_id, draft.prompt_id
        )
        return ConversationHandler.END
    context.user_data[SESSION_KEY] = sid
    return ConversationHandler.END


async def _taken(context: BotContext) -> tuple[Draft, bytes | None] | None:
    """The draft and its bytes (None when the file is gone), its file removed."""
    draft: Draft | None = context.user_data.pop(DRAFT_KEY, None)
    if draft is None:
        return None
    image = await asyncio.to_thread(sessions.read_draft, draft.path)
    await asyncio.to_thread(sessions.drop_draft, draft.path)
    return draft, image


async def cancel(update: Update, context: BotContext) -> int:
    """/cancel at any step: forget the photo."""
    await _drop(context)
    await update.effective_message.reply_text("Cancelled. Send a new photo whenever you like.")
    return ConversationHandler.END


async def stale_button(update: Update, context: BotContext) -> None:
    """A photo-menu button pressed after its conversation ended."""
    await _expired(update)


# -- result buttons ----------------------------------------------------------------------------


async def zip_pressed(update: Update, context: BotContext) -> None:
    """`Download all`: a zip with the session's images, results.json and caption files."""
    query = update.callback_query
    await query.answer()
    svc, uid = context.svc, update.effective_user.id
    sid = ZIP.rest(query.data)
    session = await svc.repo.get_session(uid, sid)
    if session is None or session.status != "completed":
        await query.message.reply_text("Those files are no longer available.")
        return
    with tempfile.TemporaryDirectory(prefix="socialopt-zip-") as tmp:
        zip_path = await asyncio.to_thread(zip_session, svc.files, sid, Path(tmp))
        if zip_path is None:
            await query.message.reply_text("Those files are no longer available.")
            return
        size = zip_path.stat().st_size
        if size > CLOUD_UPLOAD_LIMIT and not svc.settings.telegram_api_base_url:
            await query.message.reply_text(
                f"The zip is {size // MB} MB, over Telegram's 50 MB limit for bots; "
                "the images were sent one by one above."
            )
            return
        with zip_path.open("rb") as fh:
            await context.bot.send_document(
                update.effective_chat.id,
                fh,
                filename=zip_path.name,
                caption=f"All files of session {sid}",
            )


async def _rerun(
    update: Update, context: BotContext, sid: str, *, product: bool, force: bool = False
) -> None:
    """Start a new job from a stored session's source image (`force`: product photos even
    when the detector refuses)."""
    svc, uid, chat_id = context.svc, update.effective_user.id, update.effective_chat.id
    session = await svc.repo.get_session(uid, sid)
    data = None
    if session is not None and session.source_path:
        data = await asyncio.to_thread(_read, Path(session.source_path))
    if session is None or data is None:
        await context.bot.send_message(
            chat_id, "I no longer have that photo; please send it again."
        )
        return
    stored = session.options or {}
    options = await job_options(
        svc,
        uid,
        platforms=session.platforms,
        description=session.description,
        use_ai=session.use_ai,
        product=product or bool(stored.get("product_styles")),
        product_force=force or bool(stored.get("product_force")),
        logo=bool(stored.get("logo")),
        source_name=str(stored.get("source_name") or ""),
    )
    try:
        new_sid = await start_photo_job(
            svc, context.bot, user_id=uid, chat_id=chat_id, image=data, options=options
        )
    except SocialOptError as exc:
        await context.bot.send_message(chat_id, f"⚠️ {escape(exc.user_text())}")
        return
    context.user_data[SESSION_KEY] = new_sid


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


async def product_pressed(update: Update, context: BotContext) -> None:
    """`Product photos`: run the session again with product photography."""
    query = update.callback_query
    await query.answer()
    await _rerun(update, context, PRODUCT.rest(query.data), product=True)


async def try_anyway_pressed(update: Update, context: BotContext) -> None:
    """`Try anyway` under a product refusal: run the session again, forcing product photos."""
    query = update.callback_query
    await query.answer()
    await query.edit_message_reply_markup(None)
    sid = TRY_ANYWAY.rest(query.data)
    await _rerun(update, context, sid, product=True, force=True)


async def retry_pressed(update: Update, context: BotContext) -> None:
    """`Retry` on a job interrupted by a restart."""
    query = update.callback_query
    await query.answer()
    await query.edit_message_reply_markup(None)
    await _rerun(update, context, RETRY.rest(query.data), product=False)


async def draft_expired(update: object, context: BotContext) -> None:
    """The conversation timed out (PTB's conversation_timeout): drop the draft and say so."""
    draft = await _drop(context)
    if draft is None or not draft.keyboard_id or not isinstance(update, Update):
        return
    with suppress(TelegramError):  # the message may be gone; the draft is dropped anyway
        await context.bot.edit_message_text(
            DRAFT_EXPIRED, update.effective_chat.id, draft.keyboard_id
        )


def conversation(draft_ttl_s: float | None = None) -> ConversationHandler:
    """The photo conversation (entry: a photo or a file; /cancel leaves from any step). With
    `draft_ttl_s`, an unanswered draft ends after that many seconds and the user is told."""
    entry = MessageHandler(IMAGE_FILTER, image_received)
    return ConversationHandler(
        entry_points=[entry],
        states={
            CHOOSING: [
                CallbackQueryHandler(done, pattern=PHOTO.pattern("done")),
                CallbackQueryHandler(toggle, pattern=PHOTO.pattern(r"(all|tog:\w+|opt:\w+)")),
                MessageHandler(filters.TEXT & ~filters.COMMAND, choosing_hint),
            ],
            DESCRIBING: [
                MessageHandler(filters.TEXT & ~filters.COMMAND, description_received),
                CallbackQueryHandler(skip_pressed, pattern=PHOTO.pattern("skip")),
                CommandHandler("skip", skip_pressed),
            ],
            ConversationHandler.TIMEOUT: [TypeHandler(Update, draft_expired)],
        },
        fallbacks=[CommandHandler("cancel", cancel)],
        allow_reentry=True,
        name="photo",
        conversation_timeout=draft_ttl_s or None,
    )


def handlers(draft_ttl_s: float | None = None) -> list[BaseHandler]:
    """The conversation, then the buttons that outlive it."""
    return [
        conversation(draft_ttl_s),
        CallbackQueryHandler(stale_button, pattern=PHOTO.pattern()),
        CallbackQueryHandler(zip_pressed, pattern=ZIP.pattern()),
        CallbackQueryHandler(product_pressed, pattern=PRODUCT.pattern()),
        CallbackQueryHandler(try_anyway_pressed, pattern=TRY_ANYWAY.pattern()),
        CallbackQueryHandler(retry_pressed, pattern=RETRY.pattern()),
    ]
