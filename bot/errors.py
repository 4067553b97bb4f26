"""One error handler for the bot, and log redaction of API keys and the bot token.

Users get one short sentence with a reference (their session id when there is one), never a
stack trace. A SocialOptError raised by a handler is a refusal meant for the user: its message
and code are shown and it is logged without a traceback. Everything else is logged with the
traceback, with every secret replaced by `***`.
"""

from __future__ import annotations

import contextlib
import html
import logging
import uuid
from collections.abc import Iterator

from telegram import Update
from telegram.error import BadRequest, Conflict, NetworkError, TelegramError, TimedOut

from bot.context import SERVICES_KEY, BotContext
from pipeline.errors import SocialOptError
from socialopt.logs import log_exception, redact

log = logging.getLogger("bot.errors")

SESSION_KEY = "session_id"  # user_data key: the user's current or last session id
NOT_MODIFIED = "message is not modified"  # Bot API 400 for an edit that changes nothing


class BotSetupError(SocialOptError):
    """The bot cannot start: missing or rejected token, unreachable Bot API server."""

    code = "BOT_SETUP_FAILED"


def is_not_modified(error: BaseException) -> bool:
    """Whether `error` is the Bot API's refusal of an edit that would change nothing."""
    return isinstance(error, BadRequest) and NOT_MODIFIED in error.message.lower()


@contextlib.contextmanager
def unless_unchanged() -> Iterator[None]:
    """Run an edit that may change nothing (a button pressed twice): that refusal is fine."""
    try:
        yield
    except BadRequest as exc:
        if not is_not_modified(exc):
            raise
        log.debug("edit changed nothing: %s", exc.message)


def new_reference() -> str:
    return uuid.uuid4().hex[:8]


def _secrets(context: BotContext) -> list[str]:
    svc = context.bot_data.get(SERVICES_KEY) if context.bot_data is not None else None
    values = list(svc.settings.secret_values()) if svc is not None else []
    values.append(context.bot.token)
    return values


async def error_handler(update: object, context: BotContext) -> None:
    """Log the error (redacted, with traceback) and tell the user one short sentence."""
    error = context.error
    if error is None:
        return
    secrets = _secrets(context)
    if is_not_modified(error):
        # A repeated press re-sent what the message already shows: nothing to tell the user.
        log.debug("edit changed nothing: %s", error.message)
        if isinstance(update, Update) and update.callback_query is not None:
            with contextlib.suppress(TelegramError):  # already answered by the handler
                await update.callback_query.answer()
        return
    if isinstance(error, NetworkError | TimedOut | Conflict) and not isinstance(update, Update):
        log.warning("Telegram connection problem: %s", redact(str(error), secrets))
        return
    user_data = context.user_data if isinstance(update, Update) else None
    reference = (user_data or {}).get(SESSION_KEY) or new_reference()
    if isinstance(error, SocialOptError):
        log.info("refused (%s) ref %s: %s", error.code, reference, redact(error.message, secrets))
        text = f"{html.escape(error.user_text(), quote=False)}"
    else:
        user = (
            update.effective_user.id
            if isinstance(update, Update) and update.effective_user
            else None
        )
        log_exception(log, f"update failed (user {user}, ref {reference})", error, secrets)
        text = (
            f"Sorry, something went wrong on my side (ref <code>{reference}</code>). "
            "Please try again."
        )
    if isinstance(update, Update) and update.effective_chat is not None:
        if update.callback_query is not None:
            with contextlib.suppress(TelegramError):  # already answered by the handler
                await update.callback_query.answer()
        try:
            await context.bot.send_message(update.effective_chat.id, text)
        except TelegramError as exc:
            log.warning("could not tell the user about an error: %s", redact(str(exc), secrets))
