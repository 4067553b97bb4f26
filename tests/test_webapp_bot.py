"""The bot's result message opens the Mini App (WEBAPP_URL), and saving from the Mini App on
a session the bot made sends the re-rendered image back to that chat: the real bot and the
real API against one database and the fake Bot API."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from bot.app import build_application
from tests.api_helpers import serve
from tests.bot_helpers import running, settings_for
from tests.fakes.telegram import Call, FakeTelegram
from tests.test_bot_flow import (
    ALICE,
    ASTRONAUT,
    choose_and_skip,
    closing_message,
    keyboard_for,
    session_id_of,
)
from tests.webapp_helpers import signed_init_data

pytestmark = pytest.mark.timeout(120)
WEBAPP = "https://socialopt.example/app"


def web_app_buttons(call: Call) -> list[tuple[str, str]]:
    markup = call.params.get("reply_markup") or {}
    if isinstance(markup, str):
        markup = json.loads(markup)
    return [
        (b["text"], b["web_app"]["url"])
        for row in markup.get("inline_keyboard", [])
        for b in row
        if "web_app" in b
    ]


async def _session_from_the_bot(fake: FakeTelegram, platforms: tuple[str, ...]) -> Call:
    mark = len(fake.calls)
    fake.send_document(ALICE, ASTRONAUT, "astronaut.jpg", "image/jpeg")
    await choose_and_skip(fake, ALICE, await keyboard_for(fake, ALICE, mark))
    return await closing_message(fake, ALICE, mark)


async def test_no_adjust_button_without_webapp_url(fake: FakeTelegram, tmp_path: Path) -> None:
    app = build_application(settings_for(fake, tmp_path, default_platforms=("x",)))
    async with running(app):
        closing = await _session_from_the_bot(fake, ("x",))
    assert web_app_buttons(closing) == []


async def test_adjust_button_opens_the_mini_app_and_saving_sends_documents(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    settings = settings_for(
        fake, tmp_path, default_platforms=("pinterest", "x"), webapp_url=WEBAPP
    )
    app = build_application(settings)
    async with running(app):
        closing = await _session_from_the_bot(fake, ("pinterest", "x"))
    sid = session_id_of(closing)
    assert web_app_buttons(closing) == [("✂️ Adjust crops & captions", f"{WEBAPP}/?session={sid}")]

    # the Mini App's save, as the page sends it, to the API on the same database
    init = signed_init_data(fake.token, ALICE)
    with serve(settings) as served, served.client() as client:
        headers = {"Authorization": f"tma {init}"}
        doc = (await asyncio.to_thread(
            client.get, f"/api/v1/webapp/sessions/{sid}", headers=headers
        )).json()  # fmt: skip
        pin = next(p for p in doc["platforms"] if p["key"] == "pinterest")
        left, top, right, bottom = pin["image"]["frame"]
        smaller = [left, top, left + (right - left) * 0.6, top + (bottom - top) * 0.6]
        mark = len(fake.calls)
        answer = await asyncio.to_thread(
            client.post,
            f"/api/v1/webapp/sessions/{sid}/adjust",
            headers=headers,
            json={"platforms": {"pinterest": {"crop_box": smaller}}},
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["telegram"] == {"sent": 1, "error": None}
        sent = await fake.wait_call(ALICE, "sendDocument", since=mark)
    folder = settings.data_dir / "sessions" / sid
    results = json.loads((folder / "results.json").read_text())
    entry = results["platforms"]["pinterest"]
    assert sent.files["document"].filename == entry["processed_image"]
    assert sent.files["document"].data == (folder / entry["processed_image"]).read_bytes()
    assert entry["image"]["crop_box"][2] - entry["image"]["crop_box"][0] == round(
        (right - left) * 0.6
    )
