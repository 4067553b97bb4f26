"""/settings: default platforms, time zone, caption language, logo, output format, crop fit.

One inline menu edited in place; two steps wait for a message: the time zone (an IANA name)
and the logo (a PNG/JPEG sent as a file or a photo). Everything is saved with
`Repository.update_user`; the logo file lives at `DATA_DIR/users/<uid>/logo.png`.

The handlers go in the same group as the photo conversation and before it, so a logo upload
reaches this step first. A waiting step answers only for STEP_TTL_S and ends when a photo or
another command goes by, so an abandoned prompt never swallows a later photo or description.
"""

from __future__ import annotations

import asyncio
import time
import warnings
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardMarkup, Message, Update
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)
from telegram.warnings import PTBUserWarning

from bot import keyboards
from bot.callbacks import SETTINGS
from bot.context import BotContext
from bot.errors import unless_unchanged
from bot.formatting import display_name, escape
from bot.keyboards import FIT_NAMES, LANGUAGE_NAMES
from pipeline import rules
from pipeline.errors import OptionsError
from pipeline.models import FITS, LANGUAGES, LOGO_POSITIONS, OUTPUT_FORMATS
from pipeline.platforms import PLATFORM_KEYS
from socialopt.usecases import preferences
from storage.records import UserSettings

TIMEZONE, LOGO = range(2)  # the steps that wait for a message
MENU = ConversationHandler.END  # not waiting: the menu's buttons are entry points
STEP_TTL_S = 10 * 60
LOGO_MAX_BYTES = 5 * 1024 * 1024
TZ_PROMPT = (
    "🕒 Send your time zone as an IANA name, for example <code>Europe/Berlin</code>, "
    "<code>America/New_York</code> or <code>Asia/Tokyo</code>. Posting times are shown in it."
)
LOGO_PROMPT = (
    "Send your logo as a PNG or JPEG — as a <b>file</b> to keep transparency — and pick "
    "where it goes and how big it is."
)


class StepClock:
    """When each user's waiting step (time zone or logo) began; a step can be ended early.
    One per application (bot_data[STEPS_KEY]), shared by the step handlers and callbacks."""

    def __init__(self, ttl_s: float = STEP_TTL_S) -> None:
        self.ttl_s = ttl_s
        self._started: dict[int, float] = {}

    def start(self, uid: int) -> None:
        self._started[uid] = time.monotonic()

    def stop(self, uid: int) -> None:
        self._started.pop(uid, None)

    def fresh(self, uid: int) -> bool:
        started = self._started.get(uid)
        return started is not None and time.monotonic() - started <= self.ttl_s


STEPS_KEY = "settings_steps"  # the application's StepClock in bot_data (bot.app puts it there)


def _steps(context: BotContext) -> StepClock:
    return context.bot_data[STEPS_KEY]


def _uid(update: object) -> int | None:
    user = update.effective_user if isinstance(update, Update) else None
    return user.id if user else None


class StepMessageHandler(MessageHandler):
    """A MessageHandler that matches only while the user's waiting step is fresh."""

    def __init__(self, filters_: filters.BaseFilter, callback: Any, steps: StepClock) -> None:
        super().__init__(filters_, callback)
        self.steps = steps

    def check_update(self, update: object) -> bool | object | None:
        uid = _uid(update)
        if uid is None or not self.steps.fresh(uid):
            return False
        return super().check_update(update)


class EndStepOn(MessageHandler):
    """Never handles anything: a matching update ends the waiting step and goes on to the
    handlers after this conversation (a photo to the photo flow, a command to its handler)."""

    def __init__(self, filters_: filters.BaseFilter, steps: StepClock) -> None:
        super().__init__(filters_, _never_called)
        self.steps = steps

    def check_update(self, update: object) -> bool:
        uid = _uid(update)
        if uid is not None and super().check_update(update):
            self.steps.stop(uid)
        return False


class StepCommandHandler(CommandHandler):
    """A CommandHandler that matches only while the user's waiting step is fresh: a /cancel
    long after an abandoned prompt belongs to whatever the user is doing now."""

    def __init__(self, command: str, callback: Any, steps: StepClock) -> None:
        super().__init__(command, callback)
        self.steps = steps

    def check_update(self, update: object) -> bool | object | None:
        uid = _uid(update)
        if uid is None or not self.steps.fresh(uid):
            return False
        return super().check_update(update)


async def _never_called(update: Update, context: BotContext) -> None:  # pragma: no cover
    """EndStepOn never matches, so this never runs."""


parse_timezone = rules.timezone  # the one time-zone rule, shared with storage and the CLI


def _platforms(user: UserSettings, context: BotContext) -> tuple[str, ...]:
    return user.default_platforms or context.svc.defaults.platforms


def menu_text(user: UserSettings, context: BotContext) -> str:
    logo = "none"
    if user.logo_path:
        logo = f"{user.logo_position}, {user.logo_size_pct:g} %"
    names = ", ".join(display_name(p) for p in _platforms(user, context))
    language = LANGUAGE_NAMES.get(user.language, user.language)
    return "\n".join(
        [
            "⚙️ <b>Settings</b>",
            "",
            f"<b>Default platforms:</b> {escape(names)}",
            f"<b>Time zone:</b> {escape(user.timezone)}",
            f"<b>Caption language:</b> {escape(language)}",
            f"<b>Logo:</b> {escape(logo)}",
            f"<b>Output format:</b> {escape(user.output_format)}",
            f"<b>Crop fit:</b> {escape(fit_line(user.fit))}",
        ]
    )


def fit_line(fit: str) -> str:
    """`Auto — pad only when a crop would lose the subject` for a value of FITS."""
    label, meaning = FIT_NAMES.get(fit, (fit.capitalize(), ""))
    return f"{label} — {meaning}" if meaning else label


def fit_text(current: str) -> str:
    lines = ["📐 <b>Crop fit</b>: how a photo fills each platform's frame.", ""]
    lines += [("✅ " if f == current else "") + escape(fit_line(f)) for f in FITS]
    return "\n".join(lines)


def logo_text(user: UserSettings, *, uploading: bool = False) -> str:
    if user.logo_path:
        text = (
            f"🖼 <b>Logo</b>: {escape(user.logo_position)}, {user.logo_size_pct:g} % of the width."
        )
    else:
        text = "🖼 <b>Logo</b>: none."
    return text + (f"\n\n{LOGO_PROMPT}" if uploading else "")


def logo_path(context: BotContext, uid: int) -> Path:
    return preferences.logo_file(context.svc.settings.data_dir, uid)


async def _edit(update: Update, text: str, markup: InlineKeyboardMarkup) -> None:
    with unless_unchanged():  # the same button twice
        await update.callback_query.edit_message_text(text, reply_markup=markup)


async def _reply_menu(
    message: Message, user: UserSettings, context: BotContext, note: str = ""
) -> None:
    text = (note + "\n\n" if note else "") + menu_text(user, context)
    await message.reply_html(text, reply_markup=keyboards.settings_menu())


async def settings_command(update: Update, context: BotContext) -> int:
    """/settings shows the menu."""
    user = await context.svc.repo.ensure_user(update.effective_user.id)
    await _reply_menu(update.effective_message, user, context)
    return MENU


async def _toggle_platform(update: Update, context: BotContext, key: str) -> int:
    repo, uid = context.svc.repo, update.effective_user.id
    user = await repo.ensure_user(uid)
    ordered = preferences.toggle_platform(_platforms(user, context), key)
    if ordered is None:
        await update.callback_query.answer("Keep at least one platform.", show_alert=True)
        return MENU
    await update.callback_query.answer()
    user = await repo.update_user(uid, default_platforms=ordered)
    await _edit(update, "Default platforms for new photos:", keyboards.default_platforms(ordered))
    return MENU


async def settings_button(update: Update, context: BotContext) -> int:
    """Every `s:` button: open a submenu or change one setting."""
    query = update.callback_query
    action, value = SETTINGS.head(query.data)
    if action == "pt" and value in PLATFORM_KEYS:
        return await _toggle_platform(update, context, value)  # answers first, maybe an alert
    await query.answer()
    repo, uid = context.svc.repo, update.effective_user.id
    user = await repo.ensure_user(uid)
    if action == "plat":
        await _edit(
            update,
            "Default platforms for new photos:",
            keyboards.default_platforms(_platforms(user, context)),
        )
    elif action == "tz":
        await _edit(update, TZ_PROMPT, keyboards.time_zones())
        _steps(context).start(uid)
        return TIMEZONE
    elif action == "tzv":
        user = await repo.update_user(uid, timezone=parse_timezone(value))
        await _edit(update, menu_text(user, context), keyboards.settings_menu())
    elif action == "lang":
        await _edit(update, "Language for captions:", keyboards.languages(user.language))
    elif action == "lg" and value in LANGUAGES:
        user = await repo.update_user(uid, language=value)
        await _edit(update, "Language for captions:", keyboards.languages(user.language))
    elif action == "fmt":
        await _edit(update, "Image format for results:", keyboards.formats(user.output_format))
    elif action == "ft" and value in OUTPUT_FORMATS:
        user = await repo.update_user(uid, output_format=value)
        await _edit(update, "Image format for results:", keyboards.formats(user.output_format))
    elif action == "fit":
        await _edit(update, fit_text(user.fit), keyboards.fits(user.fit))
    elif action == "fv" and value in FITS:
        user = await repo.update_user(uid, fit=value)
        await _edit(update, fit_text(user.fit), keyboards.fits(user.fit))
    elif action in ("logo", "lnew", "lp", "ls", "lrm"):
        return await _logo_button(update, context, user, action, value)
    elif action == "close":
        await _edit(
            update,
            "✅ Settings saved.\n\n" + menu_text(user, context),
            keyboards.settings_closed(),
        )
        return ConversationHandler.END
    else:  # "menu" and anything unknown
        await _edit(update, menu_text(user, context), keyboards.settings_menu())
    _steps(context).stop(uid)
    return MENU


async def _logo_button(
    update: Update, context: BotContext, user: UserSettings, action: str, value: str
) -> int:
    """The logo submenu. Only `Logo` without a logo yet, or `Replace`, waits for an upload, so
    adjusting the placement never turns the next photo into a logo."""
    repo, uid = context.svc.repo, update.effective_user.id
    if action == "lp" and value in LOGO_POSITIONS:
        user = await repo.update_user(uid, logo_position=value)
    elif action == "ls" and value.isdigit():
        user = await repo.update_user(uid, logo_size_pct=float(value))
    elif action == "lrm":
        logo_path(context, uid).unlink(missing_ok=True)
        user = await repo.update_user(uid, logo_path="")
    uploading = action == "lnew" or (action == "logo" and not user.logo_path)
    await _edit(
        update, logo_text(user, uploading=uploading), keyboards.logo(user, uploading=uploading)
    )
    if uploading:
        _steps(context).start(uid)
        return LOGO
    _steps(context).stop(uid)
    return MENU


async def timezone_received(update: Update, context: BotContext) -> int:
    """A text in the time-zone step: save it, or explain and keep waiting."""
    message = update.effective_message
    try:
        zone = parse_timezone(message.text or "")
    except OptionsError as exc:
        await message.reply_html(escape(exc.user_text()))
        _steps(context).start(update.effective_user.id)  # a fresh ten minutes for the next try
        return TIMEZONE
    user = await context.svc.repo.update_user(update.effective_user.id, timezone=zone)
    now = datetime.now(ZoneInfo(zone)).strftime("%H:%M")
    await _reply_menu(
        message,
        user,
        context,
        f"🕒 Time zone set to <b>{escape(zone)}</b> (it is {now} there now).",
    )
    _steps(context).stop(update.effective_user.id)
    return MENU


async def _download(message: Message) -> bytes | None:
    """The bytes of an image document or photo, or None when it is not an image."""
    if message.document is not None:
        doc = message.document
        if doc.mime_type not in ("image/png", "image/jpeg"):
            return None
        if doc.file_size and doc.file_size > LOGO_MAX_BYTES:
            raise OptionsError("That logo file is over 5 MB.", code="INVALID_LOGO")
        file = await doc.get_file()
    else:
        file = await message.photo[-1].get_file()
    return bytes(await file.download_as_bytearray())


async def logo_received(update: Update, context: BotContext) -> int:
    """A file or photo in the logo step: store it as the user's logo."""
    message, uid = update.effective_message, update.effective_user.id
    try:
        data = await _download(message)
        if data is None:
            raise OptionsError("Send the logo as a PNG or JPEG image.", code="INVALID_LOGO")
        path = logo_path(context, uid)
        await asyncio.get_running_loop().run_in_executor(None, preferences.save_logo, data, path)
    except OptionsError as exc:
        await message.reply_html(escape(exc.user_text()))
        _steps(context).start(uid)
        return LOGO
    user = await context.svc.repo.update_user(uid, logo_path=str(path))
    await message.reply_html(
        "✅ Logo saved. " + logo_text(user), reply_markup=keyboards.logo(user)
    )
    _steps(context).stop(
        uid
    )  # the next photo is a photo again; "Replace logo" starts another upload
    return MENU


async def settings_cancel(update: Update, context: BotContext) -> int:
    """/cancel during a step stops waiting (changes made so far are saved)."""
    _steps(context).stop(update.effective_user.id)
    await update.effective_message.reply_text("Cancelled; your other settings are saved.")
    return ConversationHandler.END


def handlers(steps: StepClock) -> list[BaseHandler]:
    """The /settings conversation; `steps` is the application's StepClock (also in bot_data
    under STEPS_KEY, where the callbacks find it)."""
    buttons = CallbackQueryHandler(settings_button, pattern=SETTINGS.pattern())
    media = filters.PHOTO | filters.Document.ALL
    other_command = filters.COMMAND & ~filters.Regex(r"^/(cancel|settings)\b")
    leave = EndStepOn(media | other_command, steps)
    with warnings.catch_warnings():
        # per_message=False is right here (the steps wait for messages, not buttons); PTB warns
        # that buttons are then tracked per chat, which is what we want.
        warnings.simplefilter("ignore", PTBUserWarning)
        conversation = ConversationHandler(
            entry_points=[CommandHandler("settings", settings_command), buttons],
            states={
                TIMEZONE: [
                    buttons,
                    StepMessageHandler(filters.TEXT & ~filters.COMMAND, timezone_received, steps),
                    leave,
                ],
                LOGO: [buttons, StepMessageHandler(media, logo_received, steps), leave],
            },
            fallbacks=[StepCommandHandler("cancel", settings_cancel, steps)],
            allow_reentry=True,
            name="settings",
        )
    return [conversation]
