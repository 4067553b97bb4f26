"""/caption: new caption variants for the last session, or captions from text alone.

`/caption` and `/caption <tone>` rewrite the captions of the user's last session from its
stored analysis; `/caption <text>` writes captions for the user's default platforms from the
text. The writing is `socialopt.usecases.captions`, run in the AI pool (JobRunner.run_ai), with
the user's hourly AI budget (AI_CALLS_PER_HOUR) asked before each paid call.
"""

from __future__ import annotations

import logging
from functools import partial

from telegram import InlineKeyboardMarkup, Update
from telegram.constants import ChatAction
from telegram.error import TelegramError
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot import keyboards
from bot.callbacks import CAPTIONS
from bot.context import BotContext
from bot.formatting import content_message, escape, local_time
from pipeline.models import TONES
from socialopt.usecases import captions as captions_case
from socialopt.usecases.captions import Captions
from storage.records import SessionRecord

log = logging.getLogger(__name__)

NO_SESSION = (
    "I have no finished photo of yours yet. Send a photo first, or write "
    "<code>/caption your text</code> to get captions from text alone."
)


# -- Telegram ---------------------------------------------------------------------------------


async def _typing(context: BotContext, chat_id: int) -> None:
    """Show "typing…"; it is cosmetic, so a failure is logged and the command goes on."""
    try:
        await context.bot.send_chat_action(chat_id, ChatAction.TYPING)
    except TelegramError as exc:
        log.info("could not show typing in chat %s: %s", chat_id, exc)


def _next_variant(context: BotContext, key: str) -> int:
    """1, 2 ... VARIANTS, then 1 again, per session (variant 0 is what the job wrote)."""
    counters = context.user_data.setdefault("caption_variants", {})
    counters[key] = counters.get(key, 0) + 1
    return captions_case.cycled_variant(counters[key])


async def _run(context: BotContext, uid: int, call: partial[Captions]) -> Captions:
    """Run the use case in the AI pool with the user's hourly budget."""
    svc = context.svc
    budget = svc.ai_budget
    spent = captions_case.BUDGET_SPENT.format(
        limit=budget.limit, minutes=max(1, round(budget.free_in_s(uid) / 60))
    )
    return await svc.jobs.run_ai(
        partial(call, ai_allowed=partial(budget.take, uid), spent_notice=spent)
    )


async def _send(
    context: BotContext,
    chat_id: int,
    result: Captions,
    header: str,
    markup: InlineKeyboardMarkup | None,
) -> None:
    await context.bot.send_message(chat_id, header)
    for platform, content in result.contents.items():
        for chunk in content_message(platform, content):
            await context.bot.send_message(chat_id, chunk)
    hint = "Want another take? Pick a tone:" if markup else "Send it again for another take."
    closing = escape(result.notice) + "\n" + hint if result.notice else hint
    await context.bot.send_message(chat_id, closing, reply_markup=markup)


async def _for_session(
    context: BotContext, chat_id: int, uid: int, session: SessionRecord | None, tone: str
) -> None:
    if session is None or not session.results:
        await context.bot.send_message(chat_id, NO_SESSION)
        return
    user = await context.svc.repo.ensure_user(uid)
    await _typing(context, chat_id)
    variant = _next_variant(context, session.id)
    result = await _run(
        context,
        uid,
        partial(
            captions_case.for_session,
            context.svc.services,
            session,
            language=user.language,
            tone=tone,
            variant=variant,
        ),
    )
    label = f", {tone}" if tone else ""
    header = (
        f"✍️ <b>Another version</b> (variant {variant}{label}) of the captions for your "
        f"photo from "
        f"{escape(local_time(session.started, user.timezone))}:"
    )
    await _send(context, chat_id, result, header, keyboards.tones(session.id))


async def _from_text(context: BotContext, chat_id: int, uid: int, text: str) -> None:
    user = await context.svc.repo.ensure_user(uid)
    platforms = user.default_platforms or context.svc.defaults.platforms
    await _typing(context, chat_id)
    result = await _run(
        context,
        uid,
        partial(
            captions_case.for_text,
            context.svc.services,
            text,
            tuple(platforms),
            language=user.language,
            variant=_next_variant(context, "text"),
        ),
    )
    header = f"✍️ <b>Captions</b> for “{escape(text[:80])}”:"
    await _send(context, chat_id, result, header, None)


async def caption_command(update: Update, context: BotContext) -> None:
    """/caption [tone] rewrites the last session's captions; /caption <text> writes new ones."""
    chat_id, uid = update.effective_chat.id, update.effective_user.id
    args = context.args or []
    if not args or (len(args) == 1 and args[0].lower() in TONES):
        tone = args[0].lower() if args else ""
        session = await context.svc.repo.last_session(uid)
        await _for_session(context, chat_id, uid, session, tone)
    else:  # the text as typed, line breaks kept
        text = (update.effective_message.text or "").split(maxsplit=1)[1]
        await _from_text(context, chat_id, uid, text.strip())


async def caption_button_pressed(update: Update, context: BotContext) -> None:
    """`c:<sid>` or `c:<tone>:<sid>`: new variants for that session."""
    query = update.callback_query
    await query.answer()
    tone, _, sid = CAPTIONS.rest(query.data).rpartition(":")
    tone = tone if tone in TONES else ""
    uid = update.effective_user.id
    session = await context.svc.repo.get_session(uid, sid) if sid else None
    await _for_session(context, update.effective_chat.id, uid, session, tone)


def handlers() -> list[BaseHandler]:
    """The /caption command and its buttons."""
    return [
        CommandHandler("caption", caption_command),
        CallbackQueryHandler(caption_button_pressed, pattern=CAPTIONS.pattern()),
    ]
