"""/profiles: accounts worth tagging, and the user's own list of accounts.

`/profiles` uses the last session's niches, `/profiles <topic>` a topic; buttons pick the
platform. `/profiles add @handle <niche> [platform]` and `/profiles remove @handle` keep the
user's list, which always comes first. Without AI nothing is invented: saved accounts plus
search links, and the message says so.
"""

from __future__ import annotations

import logging
from functools import partial

from telegram import Update
from telegram.error import BadRequest
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot import keyboards
from bot.callbacks import PROFILES
from bot.context import BotContext
from bot.formatting import accounts_block, display_name, escape, split_message
from pipeline.errors import SocialOptError
from pipeline.platforms import PLATFORM_KEYS
from socialopt.usecases import accounts as accounts_case
from socialopt.usecases.accounts import ProfilesQuery

log = logging.getLogger(__name__)

QUERY_KEY = "profiles_query"
CACHE_KEY = "profiles_found"  # AI answers by (niches, description, platform) for this user
USAGE = (
    "<b>/profiles</b> — accounts to tag for your last photo\n"
    "<b>/profiles</b> <i>topic</i> — accounts for a topic\n"
    "<b>/profiles add</b> @handle <i>niche</i> [<i>platform</i>] — save one of your own\n"
    "<b>/profiles remove</b> @handle — forget it\n"
    "<b>/profiles list</b> — your saved accounts"
)
OFFLINE_NOTE = (
    "AI account discovery is off, and I never invent handles: these are your saved accounts "
    "and links that search the platform."
)


async def _show_picker(update: Update, context: BotContext, query: ProfilesQuery) -> None:
    context.user_data[QUERY_KEY] = query
    names = ", ".join(n.name for n in query.niches)
    text = f"👥 Accounts worth tagging for <b>{escape(names)}</b>. Pick the platform:"
    await context.bot.send_message(
        update.effective_chat.id,
        text,
        reply_markup=keyboards.profile_platforms(query.platforms),
    )


async def _session_query(context: BotContext, uid: int, sid: str = "") -> ProfilesQuery | None:
    repo = context.svc.repo
    return accounts_case.for_session(
        await (repo.get_session(uid, sid) if sid else repo.last_session(uid))
    )


async def _add(update: Update, context: BotContext, args: list[str]) -> None:
    message = update.effective_message
    try:
        account = await accounts_case.save_account(
            context.svc.repo, update.effective_user.id, args
        )
    except SocialOptError as exc:  # INVALID_HANDLE, MISSING_NICHE, a storage limit
        await message.reply_html(escape(exc.user_text()))
        return
    where = f" on {display_name(account.platform)}" if account.platform else ""
    await message.reply_html(
        f"Saved <code>{escape(account.handle)}</code> for <b>{escape(account.niche)}</b>{where}."
        " Your accounts always come first in suggestions."
    )


async def _remove(update: Update, context: BotContext, args: list[str]) -> None:
    message = update.effective_message
    if not args:
        await message.reply_html("Which one? <code>/profiles remove @handle</code>")
        return
    removed = await context.svc.repo.remove_account(update.effective_user.id, args[0])
    if removed:
        await message.reply_html(f"Removed <code>{escape(args[0])}</code> from your accounts.")
    else:
        await message.reply_html(f"<code>{escape(args[0])}</code> is not in your saved accounts.")


async def _list(update: Update, context: BotContext) -> None:
    saved = await context.svc.repo.list_accounts(update.effective_user.id)
    if not saved:
        await update.effective_message.reply_html("You have no saved accounts yet.\n\n" + USAGE)
        return
    for chunk in split_message("\n".join(accounts_block(saved, title="Your accounts"))):
        await update.effective_message.reply_html(chunk)


async def profiles_command(update: Update, context: BotContext) -> None:
    """/profiles [topic | add @handle niche | remove @handle]."""
    args = context.args or []
    sub = args[0].lower() if args else ""
    if sub == "add":
        await _add(update, context, args[1:])
        return
    if sub in ("remove", "rm", "delete"):
        await _remove(update, context, args[1:])
        return
    if sub in ("list", "mine") and len(args) == 1:
        await _list(update, context)
        return
    uid = update.effective_user.id
    if args:
        topic = " ".join(args)
        user = await context.svc.repo.ensure_user(uid)
        platforms = user.default_platforms or context.svc.defaults.platforms
        query = accounts_case.for_topic(topic, tuple(platforms))
    else:
        query = await _session_query(context, uid)
        if query is None:
            await update.effective_message.reply_html(
                "I have no finished photo of yours yet.\n\n" + USAGE
            )
            return
    await _show_picker(update, context, query)


async def _accounts_text(
    context: BotContext, uid: int, query: ProfilesQuery, platform: str
) -> str:
    saved = await context.svc.repo.list_accounts(uid, platform=platform)
    cache = context.user_data.setdefault(CACHE_KEY, {})
    budget = partial(context.svc.ai_budget.take, uid)  # the same hourly budget as /caption
    items, found = await context.svc.jobs.run_ai(  # the AI pool: a slow provider holds no
        partial(accounts_case.suggest, context.svc.services, saved, query, platform, cache, budget)
    )  # thread that intake and files need
    names = ", ".join(n.name for n in query.niches)
    lines = [f"👥 <b>{escape(display_name(platform))}</b> — {escape(names)}", ""]
    lines += accounts_block(items) or ["Nothing to suggest yet."]
    if found.notice:
        lines += ["", escape(found.notice)]
    if found.offline:
        lines += ["", f"<i>{escape(OFFLINE_NOTE)}</i>"]
    if not saved:
        lines += ["", "Add your own with <code>/profiles add @handle niche</code>."]
    return "\n".join(lines)


async def profiles_button_pressed(update: Update, context: BotContext) -> None:
    """`pr:p:<platform>` shows accounts; `pr:s:<sid>` (the closing message's Profiles button)
    opens the picker for a session."""
    cb = update.callback_query
    await cb.answer()
    kind, value = PROFILES.head(cb.data)
    uid = update.effective_user.id
    if kind == "s":
        query = await _session_query(context, uid, value)
        if query is None:
            await context.bot.send_message(
                update.effective_chat.id, "That session has no results to look at."
            )
            return
        await _show_picker(update, context, query)
        return
    query = context.user_data.get(QUERY_KEY) or await _session_query(context, uid)
    if query is None or value not in PLATFORM_KEYS:
        await context.bot.send_message(
            update.effective_chat.id, "Send /profiles again to pick accounts."
        )
        return
    text = await _accounts_text(context, uid, query, value)
    chunks = split_message(text)
    markup = keyboards.profile_platforms(query.platforms)
    try:
        await cb.edit_message_text(
            chunks[0],
            reply_markup=markup,
        )
    except BadRequest as exc:  # same platform pressed twice: "message is not modified"
        if "not modified" not in str(exc).lower():
            raise
    for chunk in chunks[1:]:
        await context.bot.send_message(
            update.effective_chat.id,
            chunk,
        )


def handlers() -> list[BaseHandler]:
    """The /profiles command and its platform buttons."""
    return [
        CommandHandler("profiles", profiles_command),
        CallbackQueryHandler(profiles_button_pressed, pattern=PROFILES.pattern()),
    ]
