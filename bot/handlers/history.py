"""/history: the user's recent sessions, with buttons to send a session's results again."""

from __future__ import annotations

import asyncio
import logging

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot import keyboards
from bot.callbacks import HISTORY
from bot.context import BotContext
from bot.delivery import send_platform
from bot.formatting import display_name, escape, local_time
from socialopt.usecases.history import resend_kit
from storage.records import SessionRecord

log = logging.getLogger(__name__)

LIMIT = 10
STATUS_ICONS = {
    "completed": "✅",
    "failed": "❌",
    "interrupted": "⚠️",
    "processing": "⏳",
    "pending": "⏳",
}


def when(session: SessionRecord, timezone: str) -> str:
    """`25 Nov 14:02` in the user's time zone."""
    return local_time(session.started, timezone)


def history_text(sessions: list[SessionRecord], timezone: str) -> str:
    """One numbered line per session: date, platforms, status."""
    lines = [f"🗂 <b>Your recent sessions</b> ({escape(timezone)})", ""]
    for i, s in enumerate(sessions, 1):
        icon = STATUS_ICONS.get(s.status, "•")
        names = ", ".join(display_name(p) for p in s.platforms) or "—"
        line = f"{i}. {escape(when(s, timezone))} · {escape(names)} · {icon} {escape(s.status)}"
        if s.status == "failed" and s.error_code:
            line += f" ({escape(s.error_code)})"
        if s.description:
            line += f"\n    <i>{escape(s.description[:60])}</i>"
        lines.append(line)
    return "\n".join(lines)


async def resend_session(
    context: BotContext, chat_id: int, session: SessionRecord, timezone: str
) -> None:
    """Send a stored session again from its folder: preview, images as documents, texts."""
    preview, platforms = await asyncio.to_thread(resend_kit, context.svc.files, session)
    if preview:
        await context.bot.send_photo(chat_id, preview, caption="All crops at a glance")
    for item in platforms:
        await send_platform(
            context.bot, chat_id, item.platform, item.result, timezone=timezone, image=item.image
        )
    product = not (session.options or {}).get("product_styles")  # the job made none yet
    await context.bot.send_message(
        chat_id,
        f"That was session <code>{escape(session.id)}</code>.",
        reply_markup=keyboards.closing(
            session.id, product=product, webapp_url=context.svc.settings.webapp_url
        ),
    )


async def history_command(update: Update, context: BotContext) -> None:
    """/history lists recent sessions with resend buttons."""
    uid = update.effective_user.id
    user = await context.svc.repo.ensure_user(uid)
    sessions = await context.svc.repo.list_sessions(uid, limit=LIMIT)
    if not sessions:
        await update.effective_message.reply_text(
            "No sessions yet. Send me a photo and your results will show up here."
        )
        return
    await update.effective_message.reply_html(
        history_text(sessions, user.timezone),
        reply_markup=keyboards.history(
            [
                (s.id, f"Resend {i} · {when(s, user.timezone)}")
                for i, s in enumerate(sessions, 1)
                if s.status == "completed" and s.results
            ]
        ),
    )


async def history_button_pressed(update: Update, context: BotContext) -> None:
    """`h:<sid>` sends that session's results again."""
    query = update.callback_query
    await query.answer()
    uid, chat_id = update.effective_user.id, update.effective_chat.id
    sid = HISTORY.rest(query.data)
    session = await context.svc.repo.get_session(uid, sid)
    if session is None or not session.results:
        await context.bot.send_message(
            chat_id, "That session is gone (old sessions are deleted after a while)."
        )
        return
    user = await context.svc.repo.ensure_user(uid)
    await context.bot.send_message(
        chat_id, f"Sending your results from {when(session, user.timezone)} again…"
    )
    await resend_session(context, chat_id, session, user.timezone)


def handlers() -> list[BaseHandler]:
    """The /history command and its resend buttons."""
    return [
        CommandHandler("history", history_command),
        CallbackQueryHandler(history_button_pressed, pattern=HISTORY.pattern()),
    ]
