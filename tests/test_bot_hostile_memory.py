"""Issue 12 #2, the bot's part: five users send a 219 KB 16-bit PNG of 10000x9990 at once. The
first answer reads the size from the header (no pixel decoded), jobs decode under the intake's
decode slots after the user's limits, and the bot process (`python -m socialopt bot`, against
the fake Bot API on 127.0.0.1) peaks under 1.5 GB of RSS (its VmHWM) with every result sent."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest
from PIL import Image

from tests.fakes.telegram import Call, FakeTelegram
from tests.test_bot_hostile_delivery import bot_process

USERS = [6001 + i for i in range(5)]
LIMIT_MB = 1500
SIZE = (10000, 9990)

pytestmark = pytest.mark.timeout(300)


def png16() -> bytes:
    """The issue's file: a 16-bit grey gradient PNG, about 220 KB for 100 megapixels."""
    im = Image.linear_gradient("L").resize(SIZE).convert("I").point(lambda v: v * 257)
    buf = io.BytesIO()
    im.convert("I;16").save(buf, "PNG", compress_level=9)
    return buf.getvalue()


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def has(prefix: str):  # noqa: ANN201 - a small predicate factory
    return lambda c: any(d.startswith(prefix) for _, d in c.buttons())


async def test_five_users_send_a_100_megapixel_16_bit_png_at_once(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    data = await asyncio.to_thread(png16)
    assert len(data) < 400_000
    async with bot_process(fake, tmp_path, 1) as proc:
        for user in USERS:
            fake.send_document(user, data, "huge16.png", "image/png")
        keyboards: list[Call] = [
            await fake.wait_call(u, "sendMessage", match=has("p:done"), timeout=60) for u in USERS
        ]
        for user, keyboard in zip(USERS, keyboards, strict=True):
            assert f"{SIZE[0]}×{SIZE[1]}" in keyboard.text  # the size, from the header
            mark = len(fake.calls)
            fake.press(user, keyboard.result["message_id"], "p:done")
            await fake.wait_text(user, "description", since=mark)
            fake.send_text(user, "/skip")
        for user in USERS:
            await fake.wait_call(user, "sendMessage", match=has("d:zip:"), timeout=240)
        peak = peak_rss_mb(proc.pid)
    print(f"bot peak RSS with {len(USERS)} users sending the 16-bit PNG: {peak:.0f} MB")
    assert peak < LIMIT_MB
