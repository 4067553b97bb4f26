"""Issue 12 #9: a photo waiting for its platforms is kept on disk (under DATA_DIR/drafts), not
in the bot's memory, and its file goes when the draft ends: expired, cancelled, replaced by a
new photo, or turned into a job. A restart leaves no draft behind. The real application runs
against the fake Bot API on 127.0.0.1."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from bot.app import build_application
from bot.handlers.photo import DRAFT_KEY
from tests.bot_helpers import running, settings_for
from tests.fakes.telegram import Call, FakeTelegram

ROOT = Path(__file__).resolve().parents[1]
COFFEE = (ROOT / "samples" / "coffee.jpg").read_bytes()
ANA = 2001

pytestmark = pytest.mark.timeout(90)


def has_done(call: Call) -> bool:
    return any(data == "p:done" for _, data in call.buttons())


def drafts(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "data" / "drafts"
    return sorted(folder.iterdir()) if folder.is_dir() else []


async def send_photo(fake: FakeTelegram) -> Call:
    mark = len(fake.calls)
    fake.send_document(ANA, COFFEE, "coffee.jpg")
    return await fake.wait_call(ANA, "sendMessage", since=mark, match=has_done)


async def test_a_draft_waits_on_disk_and_holds_no_image_bytes(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    app = build_application(settings_for(fake, tmp_path))
    async with running(app):
        await send_photo(fake)
        draft = app.user_data[ANA][DRAFT_KEY]
        held = [
            f.name for f in dataclasses.fields(draft) if isinstance(getattr(draft, f.name), bytes)
        ]
        assert held == []  # no field of the draft keeps the image in memory
        (path,) = drafts(tmp_path)
        assert path.read_bytes() == COFFEE and draft.path == path

        await send_photo(fake)  # a new photo replaces the draft, and its file
        (second,) = drafts(tmp_path)
        assert second != path and not path.exists()

        mark = len(fake.calls)
        fake.send_text(ANA, "/cancel")
        await fake.wait_text(ANA, "Cancelled", since=mark)
        assert drafts(tmp_path) == []


async def test_the_draft_file_goes_when_it_expires(fake: FakeTelegram, tmp_path: Path) -> None:
    app = build_application(settings_for(fake, tmp_path, draft_ttl_s=1))
    async with running(app):
        mark = len(fake.calls)
        await send_photo(fake)
        assert len(drafts(tmp_path)) == 1
        await fake.wait_text(ANA, "waited too long", since=mark, timeout=10)
        assert drafts(tmp_path) == []


async def test_the_draft_file_goes_when_the_job_starts_and_the_job_runs(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    app = build_application(settings_for(fake, tmp_path))
    async with running(app):
        keyboard = await send_photo(fake)
        mark = len(fake.calls)
        fake.press(ANA, keyboard.result["message_id"], "p:done")
        await fake.wait_text(ANA, "description", since=mark)
        fake.send_text(ANA, "/skip")
        await fake.wait_call(
            ANA,
            "sendMessage",
            since=mark,
            timeout=60,
            match=lambda c: any(d.startswith("d:zip:") for _, d in c.buttons()),
        )
        assert drafts(tmp_path) == []
        sources = list((tmp_path / "data" / "sessions").glob("*/source.*"))
        assert [p.read_bytes() == COFFEE for p in sources] == [True]


async def test_a_restart_leaves_no_draft_behind(fake: FakeTelegram, tmp_path: Path) -> None:
    async with running(build_application(settings_for(fake, tmp_path))):
        await send_photo(fake)
    assert len(drafts(tmp_path)) == 1  # a stop mid-conversation leaves the file...
    async with running(build_application(settings_for(fake, tmp_path))):
        assert drafts(tmp_path) == []  # ...and the next start removes it
