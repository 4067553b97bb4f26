"""End-to-end tests of /caption, /profiles, /history and /settings: the real application
(`build_application`) against the fake Bot API server on 127.0.0.1, long polling and all."""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from telegram.ext import Application

from bot.app import build_application
from tests.bot_helpers import running, settings_for, svc
from tests.fakes.telegram import Call, FakeTelegram

ROOT = Path(__file__).resolve().parents[1]
COFFEE = (ROOT / "samples" / "coffee.jpg").read_bytes()
ANA, BEN = 2001, 2002

pytestmark = pytest.mark.timeout(120)


@asynccontextmanager
async def bot(fake: FakeTelegram, tmp_path: Path, **overrides: Any) -> AsyncIterator[Application]:
    """The real application on the fake server, started the way run_polling starts it."""
    async with running(build_application(settings_for(fake, tmp_path, **overrides))) as app:
        yield app


async def command(fake: FakeTelegram, user: int, text: str, needle: str) -> Call:
    """Send a command (or text) and wait for a reply containing `needle`."""
    mark = len(fake.calls)
    fake.send_text(user, text)
    return await fake.wait_text(user, needle, since=mark)


async def press(fake: FakeTelegram, user: int, message: Call, data: str, needle: str) -> Call:
    """Press a button on a bot message and wait for a reply or edit containing `needle`."""
    mark = len(fake.calls)
    fake.press(user, message.result["message_id"], data)
    await fake.wait_call(user, "answerCallbackQuery", since=mark)
    return await fake.wait_text(user, needle, since=mark)


async def photo_session(fake: FakeTelegram, user: int) -> tuple[str, Call]:
    """Run the photo flow once (coffee, default platforms, no description): (sid, closing)."""
    mark = len(fake.calls)
    fake.send_photo(user, COFFEE)
    keyboard = await fake.wait_call(
        user,
        "sendMessage",
        since=mark,
        match=lambda c: (
            ("Done", "p:done") in c.buttons() or any(d == "p:done" for _, d in c.buttons())
        ),
    )
    mark = len(fake.calls)
    fake.press(user, keyboard.result["message_id"], "p:done")
    await fake.wait_text(user, "description", since=mark)
    fake.send_text(user, "/skip")
    closing = await fake.wait_call(
        user,
        "sendMessage",
        since=mark,
        timeout=60,
        match=lambda c: any(d.startswith("d:zip:") for _, d in c.buttons()),
    )
    sid = next(d for _, d in closing.buttons() if d.startswith("d:zip:")).removeprefix("d:zip:")
    return sid, closing


def pre_blocks(calls: list[Call]) -> list[str]:
    return [m for c in calls for m in re.findall(r"<pre>(.*?)</pre>", c.text, flags=re.S)]


async def test_commands_on_a_real_session(fake: FakeTelegram, tmp_path: Path) -> None:
    async with bot(fake, tmp_path) as app:
        await command(fake, ANA, "/caption", "Send a photo first")
        await command(fake, ANA, "/history", "No sessions yet")
        sid, closing = await photo_session(fake, ANA)
        job_captions = pre_blocks(fake.calls_for(ANA, "sendMessage"))

        # Another version from the closing message, then /caption with a tone.
        mark = len(fake.calls)
        await press(fake, ANA, closing, f"c:{sid}", "variant 1")
        tones = await fake.wait_text(ANA, "Pick a tone", since=mark)
        first = pre_blocks(fake.calls_for(ANA, "sendMessage", since=mark))
        assert len(first) == 2 and first != job_captions[:2]
        assert ("Luxury", f"c:luxury:{sid}") in tones.buttons()
        mark = len(fake.calls)
        await command(fake, ANA, "/caption luxury", "variant 2, luxury")
        await fake.wait_text(ANA, "Pick a tone", since=mark)
        texts = [c.text for c in fake.calls_for(ANA, "sendMessage", since=mark)]
        assert any("<b>Instagram</b>" in t for t in texts) and any("<b>X</b>" in t for t in texts)
        assert all(len(t) <= 4096 for t in texts)

        # Profiles for the session's niches: the picker, then one platform.
        picker = await press(fake, ANA, closing, f"pr:s:{sid}", "Pick the platform")
        assert [d for _, d in picker.buttons()] == ["pr:p:instagram", "pr:p:x"]
        shown = await press(fake, ANA, picker, "pr:p:instagram", "Accounts to tag")
        assert shown.method == "editMessageText"
        assert "never invent handles" in shown.text and "🔎" in shown.text

        # History: the session, and a resend of its files and texts.
        listing = await command(fake, ANA, "/history", "recent sessions")
        assert "Instagram, X" in listing.text and "completed" in listing.text
        assert [d for _, d in listing.buttons()] == [f"h:{sid}"]
        mark = len(fake.calls)
        await press(fake, ANA, listing, f"h:{sid}", "again")
        doc = await fake.wait_call(ANA, "sendDocument", since=mark)
        assert re.fullmatch(r"(instagram|x)_\d+x\d+\.jpg", doc.files["document"].filename)
        again = await fake.wait_text(ANA, "<pre>", since=mark)
        assert again.params.get("parse_mode") == "HTML"

        # Nobody else sees that session.
        await command(fake, BEN, "/history", "No sessions yet")
        await command(fake, BEN, "/caption", "Send a photo first")
        assert await svc(app).repo.get_session(BEN, sid) is None


async def test_caption_from_text(fake: FakeTelegram, tmp_path: Path) -> None:
    async with bot(fake, tmp_path):
        mark = len(fake.calls)
        await command(
            fake, ANA, "/caption Homemade sourdough with a crispy crust", "Homemade sourdough"
        )
        await fake.wait_text(ANA, "<b>X</b>", since=mark)
        texts = [c.text for c in fake.calls_for(ANA, "sendMessage", since=mark)]
        assert any("<b>Instagram</b>" in t and "<pre>" in t for t in texts)
        assert not any("<b>TikTok</b>" in t for t in texts)  # not a default platform


async def test_caption_goes_on_when_typing_cannot_be_shown(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    fake.fail_methods["sendChatAction"] = (429, "Too Many Requests: retry after 1")
    async with bot(fake, tmp_path):
        mark = len(fake.calls)
        await command(fake, ANA, "/caption Homemade sourdough bread", "Homemade sourdough")
        await fake.wait_text(ANA, "<b>X</b>", since=mark)
        assert fake.calls_for(ANA, "sendChatAction", since=mark)  # it was tried, and failed
        assert not [c for c in fake.calls_for(ANA, since=mark) if "went wrong" in c.text]


async def test_profiles_add_topic_remove(fake: FakeTelegram, tmp_path: Path) -> None:
    async with bot(fake, tmp_path) as app:
        await command(fake, ANA, "/profiles add @lisbon.coffee coffee", "Saved")
        await command(fake, ANA, "/profiles add @@bad!handle coffee", "INVALID_HANDLE")
        picker = await command(fake, ANA, "/profiles coffee roasting", "Pick the platform")
        shown = await press(fake, ANA, picker, "pr:p:x", "Accounts to tag")
        assert "@lisbon.coffee" in shown.text and "your list" in shown.text
        assert {w for w in re.findall(r"@[\w.]+", shown.text)} == {"@lisbon.coffee"}
        await command(fake, ANA, "/profiles remove @lisbon.coffee", "Removed")
        assert await svc(app).repo.list_accounts(ANA) == []


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGBA", (120, 60), (0, 0, 255, 200)).save(buf, "PNG")
    return buf.getvalue()


async def test_settings_timezone_language_format_and_logo(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    async with bot(fake, tmp_path) as app:
        repo = svc(app).repo
        menu = await command(fake, ANA, "/settings", "Settings")
        prompt = await press(fake, ANA, menu, "s:tz", "IANA")
        await command(fake, ANA, "Moon/Base", "UNKNOWN_TIMEZONE")
        await command(fake, ANA, "America/Sao_Paulo", "Time zone set")
        assert (await repo.get_user(ANA)).timezone == "America/Sao_Paulo"

        # Each page is reached through the menu, as a user taps it.
        await press(fake, ANA, prompt, "s:menu", "Settings")
        await press(fake, ANA, prompt, "s:lang", "Language for captions")
        await press(fake, ANA, prompt, "s:lg:pt", "Language for captions")
        await press(fake, ANA, prompt, "s:menu", "Settings")
        await press(fake, ANA, prompt, "s:fmt", "Image format")
        await press(fake, ANA, prompt, "s:ft:PNG", "Image format")
        await press(fake, ANA, prompt, "s:menu", "Settings")
        await press(fake, ANA, prompt, "s:plat", "Default platforms")
        await press(fake, ANA, prompt, "s:pt:pinterest", "Default platforms")
        await press(fake, ANA, prompt, "s:menu", "Settings")
        user = await repo.get_user(ANA)
        assert user.language == "pt" and user.output_format == "PNG"
        assert user.default_platforms == ("instagram", "pinterest", "x")

        await press(fake, ANA, prompt, "s:logo", "PNG or JPEG")
        mark = len(fake.calls)
        fake.send_document(ANA, _png(), "logo.png", "image/png")
        saved = await fake.wait_text(ANA, "Logo saved", since=mark)
        await press(fake, ANA, saved, "s:lp:top-left", "top-left")
        await press(fake, ANA, saved, "s:ls:25", "25 %")
        user = await repo.get_user(ANA)
        assert Path(user.logo_path) == tmp_path / "data" / "users" / str(ANA) / "logo.png"
        assert user.logo_position == "top-left" and user.logo_size_pct == 25

        # The next photo is a photo again: the photo flow offers the Logo option.
        mark = len(fake.calls)
        fake.send_photo(ANA, COFFEE)
        keyboard = await fake.wait_call(
            ANA,
            "sendMessage",
            since=mark,
            match=lambda c: any(d == "p:done" for _, d in c.buttons()),
        )
        assert any("Logo" in label for label, _ in keyboard.buttons())
        assert any("Pinterest" in label and "✅" in label for label, _ in keyboard.buttons())
