"""An unanswered photo draft expires through python-telegram-bot's conversation_timeout: the
user is told on the keyboard message, the image bytes are dropped, and the old buttons say the
menu expired. The real application runs against the fake Bot API on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.app import build_application
from bot.handlers.photo import DRAFT_KEY
from tests.bot_helpers import running, settings_for
from tests.fakes.telegram import Call, FakeTelegram

ROOT = Path(__file__).resolve().parents[1]
COFFEE = (ROOT / "samples" / "coffee.jpg").read_bytes()
ANA = 2001

pytestmark = pytest.mark.timeout(60)


def has_done(call: Call) -> bool:
    return any(data == "p:done" for _, data in call.buttons())


async def photo_keyboard(fake: FakeTelegram) -> tuple[int, Call]:
    """Send a photo; (the call count before it, the platform keyboard it got)."""
    mark = len(fake.calls)
    fake.send_photo(ANA, COFFEE)
    return mark, await fake.wait_call(ANA, "sendMessage", since=mark, match=has_done)


async def test_an_idle_draft_expires_and_says_so(fake: FakeTelegram, tmp_path: Path) -> None:
    app = build_application(settings_for(fake, tmp_path, draft_ttl_s=1))
    async with running(app):
        mark, keyboard = await photo_keyboard(fake)
        assert DRAFT_KEY in app.user_data[ANA]  # the draft holds the photo while waiting
        expired = await fake.wait_text(ANA, "waited too long", since=mark, timeout=10)
        assert expired.method == "editMessageText"
        assert expired.params["message_id"] == keyboard.result["message_id"]
        assert DRAFT_KEY not in app.user_data[ANA]  # the bytes are gone with it
        # the keyboard is gone from the message, so there is nothing left to press
        assert fake.keyboard(ANA, keyboard.result["message_id"]) == []


async def test_a_draft_answered_in_time_does_not_expire(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    app = build_application(settings_for(fake, tmp_path, draft_ttl_s=30))
    async with running(app):
        mark, keyboard = await photo_keyboard(fake)
        fake.press(ANA, keyboard.result["message_id"], "p:done")
        await fake.wait_text(ANA, "description", since=mark)
        assert DRAFT_KEY in app.user_data[ANA]
        assert not [c for c in fake.calls_for(ANA, since=mark) if "waited too long" in c.text]
