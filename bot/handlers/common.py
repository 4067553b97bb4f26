"""/start, /help, /cancel outside a conversation, and the ALLOWED_USER_IDS gate."""

from __future__ import annotations

from telegram import Update
from telegram.ext import (
    ApplicationHandlerStop,
    BaseHandler,
    CommandHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.context import BotContext

HELP = (
    "👋 I turn one photo into ready-to-post content for Instagram, Facebook, LinkedIn, "
    "Pinterest, X and TikTok: crops in the right sizes, captions, hashtags for the first "
    "comment, the best times to post and accounts worth tagging.\n\n"
    "<b>How</b>\n"
    "1. Send a photo. Send it <b>as a file</b> (📎 → File) to keep its full quality.\n"
    "2. Tick the platforms and options, tap <b>Done</b>.\n"
    "3. Add a short description or tap <b>Skip</b>.\n"
    "4. Get a contact sheet, each image as a file and a caption per platform.\n\n"
    "<b>Commands</b>\n"
    "/caption [tone or text] – new captions for your last photo, or from text\n"
    "/profiles [topic] – accounts worth tagging; /profiles add @handle niche\n"
    "/history – your recent photos\n"
    "/reminders – reminders at the best time to post; cancel them\n"
    "/settings – default platforms, time zone, language, logo, format, crop fit\n"
    "/cancel – stop what we are doing"
)

COMMANDS = [
    ("start", "What this bot does"),
    ("help", "How to use it"),
    ("caption", "New captions for your last photo"),
    ("profiles", "Accounts worth tagging"),
    ("history", "Your recent photos"),
    ("reminders", "Reminders to post, cancel them"),
    ("settings", "Defaults, time zone, logo"),
    ("cancel", "Stop the current step"),
]


async def start(update: Update, context: BotContext) -> None:
    """/start and /help: what the bot does and how, in a few lines."""
    await context.svc.repo.ensure_user(
        update.effective_user.id, language=update.effective_user.language_code
    )
    await update.effective_message.reply_text(HELP)


async def help_command(update: Update, context: BotContext) -> None:
    """/help: the same few lines."""
    await update.effective_message.reply_text(HELP)


async def cancel_outside(update: Update, context: BotContext) -> None:
    """/cancel with no conversation open: drop the user's queued jobs, if any."""
    dropped = await context.svc.jobs.cancel_waiting(update.effective_user.id)
    if dropped:
        text = f"Cancelled {dropped} queued photo(s). A job already running will finish."
    elif context.svc.jobs.is_running(update.effective_user.id):
        text = "Your photo is already being processed; the results will arrive shortly."
    else:
        text = "Nothing to cancel. Send a photo to start."
    await update.effective_message.reply_text(text)


async def skip_outside(update: Update, context: BotContext) -> None:
    """/skip with nothing to skip."""
    await update.effective_message.reply_text("Nothing to skip. Send a photo to start.")


async def anything_else(update: Update, context: BotContext) -> None:
    """Any other message: say what the bot expects."""
    message = update.effective_message
    if message.text and message.text.startswith("/"):
        text = "I do not know that command. Send /help to see what I can do."
    else:
        text = "Send me a photo (or an image as a file) to start. /help explains more."
    await message.reply_text(text)


async def allowed_gate(update: Update, context: BotContext) -> None:
    """Stop updates from users outside ALLOWED_USER_IDS (when the list is set)."""
    allowed = context.svc.settings.allowed_user_ids
    user = update.effective_user
    if not allowed or (user is not None and user.id in allowed):
        return
    if update.callback_query is not None:
        await update.callback_query.answer("This bot is private.", show_alert=True)
    elif update.effective_message is not None:
        await update.effective_message.reply_text("Sorry, this bot is private.")
    raise ApplicationHandlerStop


def gate_handler() -> BaseHandler:
    """The allow-list check; register it in a group before every other handler."""
    return TypeHandler(Update, allowed_gate)


def handlers() -> list[BaseHandler]:
    """Commands every user can send at any time."""
    return [
        CommandHandler("start", start),
        CommandHandler("help", help_command),
        CommandHandler("cancel", cancel_outside),
        CommandHandler("skip", skip_outside),
    ]


def fallback_handler() -> BaseHandler:
    """The last handler: a hint for messages nothing else took (private chats only)."""
    return MessageHandler(filters.ChatType.PRIVATE & ~filters.StatusUpdate.ALL, anything_else)
