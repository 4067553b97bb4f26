"""Reminders: `⏰ Remind me at the best time` under a session's results, `/reminders` to list
and cancel them, and the JobQueue jobs that send the ready-to-post kit again when a platform's
best window opens. The rules (next window, quiet hours) live in socialopt.usecases.reminders;
this module turns updates and jobs into its calls and replies.

Every pending reminder has one JobQueue job named `reminder:<id>`; `restore` schedules them all
again at start (from the table), so a restart loses none. A reminder missed while the bot was
down is sent at start (saying when it was due), or at 07:00 when the bot comes back in quiet hours.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from telegram import Update
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import Application, BaseHandler, CallbackQueryHandler, CommandHandler, JobQueue

from bot import keyboards
from bot.callbacks import REMIND, REMINDERS
from bot.context import SERVICES_KEY, BotContext, BotServices
from bot.delivery import send_html, send_image
from bot.errors import unless_unchanged
from bot.formatting import content_message, display_name, escape
from pipeline.errors import SocialOptError
from socialopt.usecases.reminders import (
    QUIET_END,
    QUIET_START,
    Created,
    Due,
    Offer,
    Reminders,
)
from storage.reminders import ReminderRecord, ReminderStore

log = logging.getLogger(__name__)

RETRY_S = 60.0  # a kit that could not be sent for a network problem is tried again after this
QUIET = f"{QUIET_START:02d}:00–{QUIET_END:02d}:00"


def reminders_for(svc: BotServices) -> Reminders:
    """The use case on the bot's repository (its clock is the repository's)."""
    return Reminders(ReminderStore(svc.repo))


def _at(moment: datetime, zone: str, fmt: str = "%a %d %b %H:%M") -> str:
    return moment.astimezone(ZoneInfo(zone)).strftime(fmt)


# -- texts -------------------------------------------------------------------------------------


def offer_text(zone: str, offers: list[Offer]) -> str:
    """The next window per platform in the user's zone, or why a platform has none."""
    lines = [f"⏰ <b>Remind me at the best time</b> ({escape(zone)})"]
    timed = [o for o in offers if o.window is not None]
    if timed:
        lines.append(
            "At the time you pick I send the image, the caption and the first comment again, "
            "ready to copy."
        )
    lines.append("")
    for o in offers:
        name = f"<b>{escape(display_name(o.platform))}</b>"
        if o.window is None:
            lines.append(f"• {name}: {escape(o.note)}")
            continue
        start, end = o.window.start, o.window.end
        line = f"• {name}: {_at(start, zone)}–{end:%H:%M} <i>({escape(o.window.study)})</i>"
        if o.quiet and o.send_at is not None:
            line += (
                f"\n   🌙 starts in quiet hours ({QUIET}), so I would remind you at "
                f"{o.send_at:%H:%M}; tap 🌙 for {start:%H:%M} anyway."
            )
        lines.append(line)
    if not timed:
        lines += ["", "So there is no best time I could remind you at."]
    else:
        lines += ["", f"<i>Quiet hours: no reminder between {QUIET} your time unless you ask.</i>"]
    return "\n".join(lines)


def created_text(created: Created) -> str:
    r = created.reminder
    name = escape(display_name(r.platform))
    verb = "Moved your reminder for" if created.replaced else "Reminder set for"
    text = (
        f"⏰ {verb} <b>{name}</b>: {_at(r.due_at, r.timezone)} ({escape(r.timezone)}), "
        f"for the window {_at(r.window_start, r.timezone, '%H:%M')}–"
        f"{_at(r.window_end, r.timezone, '%H:%M')} <i>({escape(r.study)})</i>."
    )
    if r.due_at != r.window_start:
        text += f"\n🌙 The window starts in quiet hours ({QUIET}), so I will remind you then."
    elif r.anyway:
        text += "\n🌙 Inside quiet hours, as you asked."
    return text + "\n/reminders lists your reminders and cancels them."


def list_text(items: list[ReminderRecord]) -> str:
    if not items:
        return (
            "⏰ No reminders set. Tap <b>Remind me at the best time</b> under your results "
            "to get one."
        )
    lines = ["⏰ <b>Your reminders</b>", ""]
    for i, r in enumerate(items, 1):
        line = (
            f"{i}. <b>{escape(display_name(r.platform))}</b> · {_at(r.due_at, r.timezone)} "
            f"({escape(r.timezone)}) · session <code>{escape(r.session_id)}</code>"
        )
        if r.due_at != r.window_start:
            line += f" · 🌙 after quiet hours (window {_at(r.window_start, r.timezone, '%H:%M')})"
        lines.append(line)
    lines += ["", "Tap ✖ to cancel one."]
    return "\n".join(lines)


def kit_header(due: Due) -> str:
    r = due.reminder
    assert r is not None
    zone = r.timezone
    text = (
        f"⏰ <b>Time to post on {escape(display_name(r.platform))}</b>: its best window is "
        f"{_at(r.window_start, zone)}–{_at(r.window_end, zone, '%H:%M')} ({escape(zone)}; "
        f"<i>{escape(r.study)}</i>). Here is your kit, ready to copy."
    )
    if due.late:
        text += (
            f"\nThis reminder was due at {_at(r.due_at, zone)}; I could not send it then "
            "(the bot was offline)."
        )
    elif r.due_at != r.window_start:
        text += (
            f"\n🌙 Held back until the end of quiet hours ({QUIET}); the window opened "
            f"{_at(r.window_start, zone)}."
        )
    return text


# -- the JobQueue ------------------------------------------------------------------------------


def job_name(reminder_id: int) -> str:
    return f"reminder:{reminder_id}"


def unschedule(job_queue: JobQueue | None, reminder_id: int) -> None:
    if job_queue is None:
        return
    for job in job_queue.get_jobs_by_name(job_name(reminder_id)):
        job.schedule_removal()


def schedule(
    job_queue: JobQueue | None, reminder: ReminderRecord, now: datetime, at: datetime | None = None
) -> None:
    """(Re)place the reminder's one job at `at` (default its due time), timed from `now`."""
    if job_queue is None:
        log.warning("no JobQueue: reminder %s is stored but not scheduled", reminder.id)
        return
    unschedule(job_queue, reminder.id)
    delay = max(0.0, ((at or reminder.due_at) - now).total_seconds())
    job_queue.run_once(
        fire,
        delay,
        data=(reminder.user_id, reminder.id),
        name=job_name(reminder.id),
        chat_id=reminder.chat_id,
        user_id=reminder.user_id,
    )


async def restore(app: Application) -> int:
    """At start: a job for every pending reminder in the table; returns how many."""
    svc: BotServices = app.bot_data[SERVICES_KEY]
    uc = reminders_for(svc)
    pending = await uc.everyone_pending()
    now = uc.clock()
    for reminder in pending:
        schedule(app.job_queue, reminder, now)
    if pending:
        log.info("%d reminders scheduled again", len(pending))
    return len(pending)


async def fire(context: BotContext) -> None:
    """A reminder's job: send the kit, or wait (quiet hours, moved), or drop it."""
    user_id, reminder_id = context.job.data
    uc = reminders_for(context.svc)
    due = await uc.due(user_id, reminder_id)
    if due.action == "wait" and due.reminder is not None:
        schedule(context.job_queue, due.reminder, uc.clock(), due.at)
        return
    if due.action != "send" or due.reminder is None:
        return
    reminder = due.reminder
    chat_id = reminder.chat_id
    kit = await uc.kit(reminder, context.svc.files)
    try:
        await send_html(context.bot, chat_id, kit_header(due))
        if kit is None:
            await context.bot.send_message(
                chat_id, "Its session is gone (old sessions are deleted after a while)."
            )
        else:
            if kit.image is not None:
                await send_image(context.bot, chat_id, reminder.platform, kit.image)
            if kit.result.content is not None:
                for chunk in content_message(reminder.platform, kit.result.content):
                    await context.bot.send_message(chat_id, chunk)
    except (Forbidden, BadRequest) as exc:  # blocked the bot, chat gone: do not retry
        log.warning("reminder %s could not be sent: %s", reminder.id, exc)
        await uc.failed(reminder)
        return
    except TelegramError as exc:  # network trouble: try again a little later
        log.warning("reminder %s not sent yet (%s); retrying", reminder.id, exc)
        now = uc.clock()
        schedule(context.job_queue, reminder, now, now + timedelta(seconds=RETRY_S))
        return
    await uc.sent(reminder)


# -- handlers ----------------------------------------------------------------------------------


async def _refuse(context: BotContext, chat_id: int, exc: SocialOptError) -> None:
    await context.bot.send_message(chat_id, escape(exc.user_text()))


async def offer_pressed(update: Update, context: BotContext) -> None:
    """`rm:o:<sid>`: the next best window per platform, with buttons to set reminders."""
    query = update.callback_query
    await query.answer()
    _, sid = REMIND.head(query.data)
    chat_id = update.effective_chat.id
    try:
        zone, offers = await reminders_for(context.svc).offers(update.effective_user.id, sid)
    except SocialOptError as exc:  # SESSION_NOT_FOUND
        await _refuse(context, chat_id, exc)
        return
    await send_html(
        context.bot,
        chat_id,
        offer_text(zone, offers),
        reply_markup=keyboards.reminder_offer(sid, offers),
    )


async def set_pressed(update: Update, context: BotContext) -> None:
    """`rm:s:<sid>:<platform>[:anyway]` sets one reminder; `rm:all:<sid>` one per platform."""
    query = update.callback_query
    await query.answer()
    kind, rest = REMIND.head(query.data)
    uid, chat_id = update.effective_user.id, update.effective_chat.id
    uc = reminders_for(context.svc)
    try:
        if kind == "all":
            made = await uc.create_all(uid, chat_id, rest)
        else:
            sid, platform, flag = (rest.split(":") + ["", ""])[:3]
            made = [await uc.create(uid, chat_id, sid, platform, anyway=flag == "anyway")]
    except SocialOptError as exc:  # SESSION_NOT_FOUND, NO_POSTING_STUDY, UNKNOWN_PLATFORM
        await _refuse(context, chat_id, exc)
        return
    now = uc.clock()
    for created in made:
        schedule(context.job_queue, created.reminder, now)
    await send_html(context.bot, chat_id, "\n\n".join(created_text(c) for c in made))


async def reminders_command(update: Update, context: BotContext) -> None:
    """/reminders: the pending reminders, each with a cancel button."""
    items = await reminders_for(context.svc).pending(update.effective_user.id)
    await update.effective_message.reply_html(
        list_text(items), reply_markup=keyboards.reminders(items)
    )


async def cancel_pressed(update: Update, context: BotContext) -> None:
    """`rl:x:<id>` cancels one reminder, `rl:xa` all; the list is shown again."""
    query = update.callback_query
    kind, rest = REMINDERS.head(query.data)
    uid = update.effective_user.id
    uc = reminders_for(context.svc)
    if kind == "xa":
        ids = await uc.cancel_all(uid)
        note = f"Cancelled {len(ids)} reminders."
    else:
        try:
            record = await uc.cancel(uid, int(rest) if rest.isdigit() else 0)
        except SocialOptError as exc:  # REMINDER_NOT_FOUND: sent or cancelled meanwhile
            await query.answer(exc.user_text(), show_alert=True)
            ids = []
            note = ""
        else:
            ids = [record.id]
            note = f"Cancelled the {display_name(record.platform)} reminder."
    for reminder_id in ids:
        unschedule(context.job_queue, reminder_id)
    if note:
        await query.answer(note)
    items = await uc.pending(uid)
    text = list_text(items)
    if note:
        text = f"✖ {escape(note)}\n\n{text}"
    with unless_unchanged():
        await query.edit_message_text(text, reply_markup=keyboards.reminders(items))


def handlers() -> list[BaseHandler]:
    """/reminders, the offer and set buttons, and the cancel buttons."""
    return [
        CommandHandler("reminders", reminders_command),
        CallbackQueryHandler(offer_pressed, pattern=REMIND.pattern("o", ".+")),
        CallbackQueryHandler(set_pressed, pattern=REMIND.pattern("(s|all)", ".+")),
        CallbackQueryHandler(cancel_pressed, pattern=REMINDERS.pattern()),
    ]
