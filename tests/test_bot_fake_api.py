"""The fake Bot API is as strict as the real one where the bot can go wrong: HTML entities,
limits in UTF-16 units after parsing, edits that change nothing, callback queries answered
twice, buttons a message does not carry, photos in several sizes."""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image

from tests.fakes.telegram import FakeTelegram, UploadedFile

USER = 3001


async def call(fake: FakeTelegram, method: str, **params: Any) -> tuple[int, dict[str, Any]]:
    return await fake.api(fake.token, method, params, {})


def keyboard(*data: str) -> dict[str, Any]:
    return {"inline_keyboard": [[{"text": d, "callback_data": d} for d in data]]}


@pytest.mark.parametrize(
    "text",
    ["<b>open", "1 < 2", "<blink>hi</blink>", "<b><i>x</b></i>", '<a href="">x</a>', "</b>"],
)
async def test_bad_html_is_refused(fake: FakeTelegram, text: str) -> None:
    status, body = await call(fake, "sendMessage", chat_id=USER, text=text, parse_mode="HTML")
    assert status == 400 and "can't parse entities" in body["description"]
    # The same text without a parse mode is plain text, and fine.
    status, _ = await call(fake, "sendMessage", chat_id=USER, text=text)
    assert status == 200


async def test_good_html_becomes_text_and_entities(fake: FakeTelegram) -> None:
    text = '😀 <b>Bold</b> &lt;tag&gt; <a href="https://e.org/?a=1&amp;b=2">link</a>'
    status, body = await call(fake, "sendMessage", chat_id=USER, text=text, parse_mode="HTML")
    assert status == 200
    message = body["result"]
    assert message["text"] == "😀 Bold <tag> link"
    bold, link = message["entities"]
    assert bold == {"type": "bold", "offset": 3, "length": 4}  # the emoji is 2 UTF-16 units
    assert link["url"] == "https://e.org/?a=1&b=2" and link["offset"] == 14


async def test_limits_count_utf16_units_after_parsing(fake: FakeTelegram) -> None:
    tags = "<b>" + "a" * 4096 + "</b>"  # 4103 characters, 4096 after parsing
    status, _ = await call(fake, "sendMessage", chat_id=USER, text=tags, parse_mode="HTML")
    assert status == 200
    emoji = "😀" * 2049  # 2049 characters, 4098 UTF-16 units
    status, body = await call(fake, "sendMessage", chat_id=USER, text=emoji)
    assert status == 400 and "too long" in body["description"]
    caption = "é" * 1024 + "&amp;"  # 1025 after parsing
    fields = {"chat_id": USER, "caption": caption, "parse_mode": "HTML", "document": "x"}
    status, body = await fake.api(
        fake.token, "sendDocument", fields, {"document": UploadedFile("a.txt", b"x", "")}
    )
    assert status == 400 and "caption is too long" in body["description"]


async def test_edits_that_change_nothing_are_refused(fake: FakeTelegram) -> None:
    _, sent = await call(
        fake,
        "sendMessage",
        chat_id=USER,
        text="<b>Hi</b>",
        parse_mode="HTML",
        reply_markup=keyboard("a"),
    )
    message_id = sent["result"]["message_id"]
    edit = {"chat_id": USER, "message_id": message_id}
    status, body = await call(fake, "editMessageReplyMarkup", **edit, reply_markup=keyboard("a"))
    assert status == 400 and "message is not modified" in body["description"]
    same = {"text": "<b>Hi</b>", "parse_mode": "HTML", "reply_markup": keyboard("a")}
    status, body = await call(fake, "editMessageText", **edit, **same)
    assert status == 400 and "message is not modified" in body["description"]
    # The same words in another format, or another keyboard, are a change.
    status, _ = await call(fake, "editMessageText", **edit, **{**same, "parse_mode": None})
    assert status == 200
    status, _ = await call(fake, "editMessageReplyMarkup", **edit, reply_markup=keyboard("b"))
    assert status == 200


async def test_a_query_is_answered_once_and_only_real_buttons_are_pressed(
    fake: FakeTelegram,
) -> None:
    _, sent = await call(
        fake, "sendMessage", chat_id=USER, text="menu", reply_markup=keyboard("a")
    )
    message_id = sent["result"]["message_id"]
    with pytest.raises(AssertionError, match="no button 'b'"):
        fake.press(USER, message_id, "b")
    fake.press(USER, message_id, "a")
    update = fake._updates[-1]
    query_id = update["callback_query"]["id"]
    assert (await call(fake, "answerCallbackQuery", callback_query_id=query_id))[0] == 200
    status, body = await call(fake, "answerCallbackQuery", callback_query_id=query_id)
    assert status == 400 and "query is too old" in body["description"]


async def test_photos_come_in_several_sizes(fake: FakeTelegram) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (1000, 500), "red").save(buf, "JPEG")
    fake.send_photo(USER, buf.getvalue())
    sizes = fake._updates[-1]["message"]["photo"]
    assert [(s["width"], s["height"]) for s in sizes] == [
        (90, 45),
        (320, 160),
        (800, 400),
        (1000, 500),
    ]
    small = fake.file_bytes(fake._files[sizes[0]["file_id"]].path)
    with Image.open(io.BytesIO(small)) as img:
        assert img.size == (90, 45)
    status, body = await fake.api(
        fake.token,
        "sendPhoto",
        {"chat_id": USER, "photo": "attach://p"},
        {"p": UploadedFile("p.jpg", buf.getvalue(), "image/jpeg")},
    )
    assert status == 200 and len(body["result"]["photo"]) == 4
