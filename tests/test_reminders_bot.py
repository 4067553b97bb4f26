"""Reminders end to end: the real application (`build_application`) against the fake Bot API
server on 127.0.0.1, a real photo session, python-telegram-bot's JobQueue, and a clock the test
sets (it runs at real speed from the moment it is set, so a job due "in 3 s" on it fires in
3 real seconds)."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from telegram.ext import Application

from bot.app import build_application
from bot.handlers.reminders import job_name
from pipeline.platforms import PLATFORMS
from pipeline.posting import no_study_note
from socialopt.settings import Settings
from storage.reminders import ReminderStore
from storage.repository import Repository
from tests.bot_helpers import running, settings_for, svc
from tests.fakes.telegram import Call, FakeTelegram
from tests.test_bot_commands_e2e import command, photo_session, pre_blocks

NY = ZoneInfo("America/New_York")
ANA, BEN = 4101, 4102

pytestmark = pytest.mark.timeout(240)


class RunningClock:
    """Now is the moment last set plus the real time since: jobs fire on it in real time."""

    def __init__(self, moment: datetime) -> None:
        self.set(moment)

    def set(self, moment: datetime) -> None:
        self._base, self._t0 = moment, time.monotonic()

    def __call__(self) -> datetime:
        return self._base + timedelta(seconds=time.monotonic() - self._t0)


@asynccontextmanager
async def bot(settings: Settings, clock: RunningClock) -> AsyncIterator[Application]:
    """The real application on a repository that tells time by `clock` (one start to stop:
    leaving the block is stopping the bot)."""
    repo = await Repository.open(settings.db_path, clock=clock)
    try:
        async with running(build_application(settings, repository=repo)) as app:
            await repo.update_user(ANA, timezone="America/New_York")
            yield app
    finally:
        await repo.close()


async def press(fake: FakeTelegram, message: Call, data: str, needle: str) -> Call:
    """Press a button that is really on `message`; wait for a reply or edit with `needle`."""
    mark = len(fake.calls)
    fake.press(ANA, message.result["message_id"], data)  # refuses a button it does not have
    await fake.wait_call(ANA, "answerCallbackQuery", since=mark)
    return await fake.wait_text(ANA, needle, since=mark)


async def stored(app: Application) -> list[Any]:
    return await ReminderStore(svc(app).repo).pending(ANA)


async def settled(app: Application, platforms: list[str]) -> None:
    """Wait (a little) until the pending reminders are those of `platforms`: a reminder is
    marked sent right after its last message."""
    for _ in range(100):
        if [r.platform for r in await stored(app)] == platforms:
            return
        await asyncio.sleep(0.05)
    assert [r.platform for r in await stored(app)] == platforms


def kit_calls(fake: FakeTelegram, since: int = 0) -> list[Call]:
    return [c for c in fake.calls_for(ANA, "sendMessage", since=since) if "Time to post" in c.text]


async def wait_kit(fake: FakeTelegram, platform: str, since: int) -> tuple[Call, Call, Call]:
    """The kit: its header, the image as a document, and the caption message."""
    header = await fake.wait_text(ANA, f"Time to post on {platform}", since=since, timeout=20)
    at = fake.calls.index(header)
    document = await fake.wait_call(ANA, "sendDocument", since=at)
    caption = await fake.wait_call(ANA, "sendMessage", since=at, match=lambda c: "<pre>" in c.text)
    return header, document, caption


async def test_a_reminder_fires_at_the_windows_local_time(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    settings = settings_for(fake, tmp_path)  # Instagram and X
    clock = RunningClock(datetime(2026, 12, 7, 8, 0, tzinfo=NY))  # Monday 08:00 New York
    async with bot(settings, clock) as app:
        sid, closing = await photo_session(fake, ANA)
        job_texts = fake.calls_for(ANA, "sendMessage")
        job_caption = pre_blocks([c for c in job_texts if "<b>Instagram</b> ·" in c.text])

        clock.set(datetime(2026, 12, 7, 8, 59, 57, tzinfo=NY))
        offer = await press(fake, closing, f"rm:o:{sid}", "Remind me at the best time")
        assert "(America/New_York)" in offer.text
        # the studies' windows as the same hours of a New York day (pipeline.platforms)
        assert "<b>Instagram</b>: Mon 07 Dec 09:00–10:00" in offer.text
        assert "<b>X</b>: Tue 08 Dec 09:00–12:00" in offer.text
        assert offer.buttons() == [
            ("⏰ Instagram · Mon 09:00", f"rm:s:{sid}:instagram"),
            ("⏰ X · Tue 09:00", f"rm:s:{sid}:x"),
            ("⏰ All of them", f"rm:all:{sid}"),
        ]
        mark = len(fake.calls)
        done = await press(fake, offer, f"rm:s:{sid}:instagram", "Reminder set")
        assert "Mon 07 Dec 09:00 (America/New_York)" in done.text
        assert kit_calls(fake, mark) == []  # not yet: three seconds to go

        header, document, caption = await wait_kit(fake, "Instagram", mark)
        arrived = clock()
        due = datetime(2026, 12, 7, 9, 0, tzinfo=NY)
        assert due <= arrived < due + timedelta(seconds=5)  # at 09:00 New York, not before
        folder = svc(app).sessions_dir / sid
        name = document.files["document"].filename
        assert re.fullmatch(r"instagram_\d+x\d+\.jpg", name)
        assert document.files["document"].data == (folder / name).read_bytes()
        assert pre_blocks([caption]) == job_caption  # the session's caption, ready to copy
        assert "first comment" in caption.text
        assert "Sprout Social" in header.text or "Hootsuite" in header.text
        await settled(app, [])  # sent once, then done
        await asyncio.sleep(0.5)
        assert len(kit_calls(fake, mark)) == 1


async def test_reminders_survive_a_restart_and_cancel(fake: FakeTelegram, tmp_path: Path) -> None:
    settings = settings_for(fake, tmp_path)
    clock = RunningClock(datetime(2026, 12, 7, 8, 0, tzinfo=NY))
    async with bot(settings, clock) as app:
        sid, closing = await photo_session(fake, ANA)
        offer = await press(fake, closing, f"rm:o:{sid}", "Remind me at the best time")
        await press(fake, offer, f"rm:all:{sid}", "Reminder set")
        assert [r.platform for r in await stored(app)] == ["instagram", "x"]
    assert kit_calls(fake) == []

    # Stopped; started again on the same data just before Instagram's window.
    clock.set(datetime(2026, 12, 7, 8, 59, 58, tzinfo=NY))
    mark = len(fake.calls)
    async with bot(settings, clock) as app:
        x_job = [r for r in await stored(app) if r.platform == "x"][0]
        assert app.job_queue.get_jobs_by_name(job_name(x_job.id))  # rebuilt from the table
        await wait_kit(fake, "Instagram", mark)
        assert clock() >= datetime(2026, 12, 7, 9, 0, tzinfo=NY)
        await settled(app, ["x"])

        listing = await command(fake, ANA, "/reminders", "Your reminders")
        assert "<b>X</b> · Tue 08 Dec 09:00 (America/New_York)" in listing.text
        assert "Instagram" not in listing.text  # sent
        assert listing.buttons() == [("✖ 1 · X 08 Dec 09:00", f"rl:x:{x_job.id}")]
        emptied = await press(fake, listing, f"rl:x:{x_job.id}", "Cancelled the X reminder")
        assert "No reminders set" in emptied.text and emptied.buttons() == []
        assert await stored(app) == []
        assert not app.job_queue.get_jobs_by_name(job_name(x_job.id))
        await command(fake, ANA, "/reminders", "No reminders set")


async def test_a_cancelled_reminder_never_fires(fake: FakeTelegram, tmp_path: Path) -> None:
    settings = settings_for(fake, tmp_path)
    clock = RunningClock(datetime(2026, 12, 7, 8, 0, tzinfo=NY))
    async with bot(settings, clock) as app:
        sid, closing = await photo_session(fake, ANA)
        clock.set(datetime(2026, 12, 7, 8, 59, 54, tzinfo=NY))  # six seconds before
        mark = len(fake.calls)
        offer = await press(fake, closing, f"rm:o:{sid}", "Remind me at the best time")
        await press(fake, offer, f"rm:s:{sid}:instagram", "Reminder set")
        listing = await command(fake, ANA, "/reminders", "Your reminders")
        (label, data), *_ = listing.buttons()
        assert "Instagram" in label

        # Someone else, with a modified client, can neither cancel it nor use her session.
        theirs = await command(fake, BEN, "/reminders", "No reminders set")
        mark_ben = len(fake.calls)
        fake.forge_press(BEN, theirs.result["message_id"], data)
        refused = await fake.wait_call(BEN, "answerCallbackQuery", since=mark_ben)
        assert "(REMINDER_NOT_FOUND)" in refused.params.get("text", "")
        fake.forge_press(BEN, theirs.result["message_id"], f"rm:s:{sid}:instagram")
        await fake.wait_text(BEN, "(SESSION_NOT_FOUND)", since=mark_ben)
        assert [r.platform for r in await stored(app)] == ["instagram"]

        await press(fake, listing, data, "Cancelled the Instagram reminder")
        while clock() < datetime(2026, 12, 7, 9, 0, 2, tzinfo=NY):
            await asyncio.sleep(0.2)
        assert kit_calls(fake, mark) == []


async def test_quiet_hours_hold_a_missed_reminder_until_7(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    """Pinterest's window opens Sunday 20:00; the bot is down then and back at 01:00: nothing
    at night, the kit at 07:00. Threads has no dated study: said so, never a time."""
    settings = settings_for(fake, tmp_path, default_platforms=("pinterest", "threads"))
    clock = RunningClock(datetime(2026, 12, 6, 19, 0, tzinfo=NY))  # Sunday 19:00
    threads_note = no_study_note(PLATFORMS["threads"])
    async with bot(settings, clock) as app:
        sid, closing = await photo_session(fake, ANA)
        assert any(threads_note in c.text for c in fake.calls_for(ANA, "sendMessage"))
        offer = await press(fake, closing, f"rm:o:{sid}", "Remind me at the best time")
        assert "<b>Pinterest</b>: Sun 06 Dec 20:00–23:00" in offer.text
        assert f"<b>Threads</b>: {threads_note}" in offer.text
        assert offer.buttons() == [("⏰ Pinterest · Sun 20:00", f"rm:s:{sid}:pinterest")]
        await press(fake, offer, f"rm:s:{sid}:pinterest", "Reminder set")

    clock.set(datetime(2026, 12, 7, 1, 0, tzinfo=NY))  # back at 01:00 on Monday
    async with bot(settings, clock) as app:
        for _ in range(100):
            (pending,) = await stored(app)
            if pending.due_at != pending.window_start and app.job_queue.get_jobs_by_name(
                job_name(pending.id)
            ):
                break
            await asyncio.sleep(0.05)
        assert pending.due_at == datetime(2026, 12, 7, 7, 0, tzinfo=NY)
        assert app.job_queue.get_jobs_by_name(job_name(pending.id))
        await asyncio.sleep(1.0)
        assert kit_calls(fake) == []  # nothing in the night

    clock.set(datetime(2026, 12, 7, 6, 59, 58, tzinfo=NY))
    mark = len(fake.calls)
    async with bot(settings, clock) as app:
        header, _, _ = await wait_kit(fake, "Pinterest", mark)
        assert clock() >= datetime(2026, 12, 7, 7, 0, tzinfo=NY)
        assert "quiet hours" in header.text
        await settled(app, [])
