"""Issue 12 #10: queue-position edits no longer grow as N². Forty users queue a photo at once
behind one worker; each waiting status message is edited only when its shown position moves
to another bucket ("about 10 ahead"), never twice within QUEUE_EDIT_INTERVAL_S, and every user
still gets their results. The real application runs against the fake Bot API on 127.0.0.1.
(Before: every move of the queue edited every waiting message, 780 edits for 40 users.)"""

from __future__ import annotations

import asyncio
import io
import re
from collections import defaultdict
from pathlib import Path

import pytest
from PIL import Image

from bot.app import build_application
from bot.delivery import QUEUE_EDIT_INTERVAL_S
from socialopt.queue import shown_position
from tests.bot_helpers import running, settings_for
from tests.fakes.telegram import Call, FakeTelegram

USERS = [5000 + i for i in range(40)]
QUEUED = re.compile(r"In the queue: (?:position (\d+)|about (\d+) ahead)")

pytestmark = pytest.mark.timeout(240)


def small_photo() -> bytes:
    img = Image.linear_gradient("L").resize((480, 360)).convert("RGB")
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=85)
    return buf.getvalue()


def has(prefix: str):  # noqa: ANN201 - a small predicate factory
    return lambda c: any(d.startswith(prefix) for _, d in c.buttons())


async def queue_one(fake: FakeTelegram, user: int, photo: bytes) -> None:
    mark = len(fake.calls)
    fake.send_document(user, photo, "p.jpg")
    keyboard: Call = await fake.wait_call(user, "sendMessage", since=mark, match=has("p:done"))
    fake.press(user, keyboard.result["message_id"], "p:done")
    await fake.wait_text(user, "description", since=mark)
    fake.send_text(user, "/skip")


def test_shown_positions_are_exact_near_the_front_and_bucketed_behind() -> None:
    assert [shown_position(p) for p in (1, 2, 3, 4, 5, 6, 10, 11, 20, 21, 40)] == [
        1,
        2,
        3,
        5,
        5,
        10,
        10,
        20,
        20,
        30,
        40,
    ]


async def test_forty_waiting_users_get_a_handful_of_edits_each(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    photo = small_photo()
    settings = settings_for(
        fake, tmp_path, max_concurrent_jobs=1, default_platforms=("x",), jobs_per_hour=100
    )
    async with running(build_application(settings)):
        await asyncio.gather(*(queue_one(fake, u, photo) for u in USERS))
        for user in USERS:
            await fake.wait_call(user, "sendMessage", match=has("d:zip:"), timeout=200)
    edits: dict[int, list[Call]] = defaultdict(list)
    for call in fake.calls:
        if call.method == "editMessageText" and QUEUED.search(call.text):
            edits[call.chat_id].append(call)
    total = sum(len(v) for v in edits.values())
    print(f"queue edits for {len(USERS)} waiting users: {total}")
    assert total > 0  # the queue was really there
    assert total <= 6 * len(USERS)  # was N(N-1)/2 = 780
    for user, calls in edits.items():
        shown = [int(next(g for g in QUEUED.search(c.text).groups() if g)) for c in calls]
        assert shown == sorted(shown, reverse=True) and len(set(shown)) == len(shown), user
        assert all(s == shown_position(s) for s in shown)  # only bucket values are shown
        gaps = [b.at - a.at for a, b in zip(calls, calls[1:], strict=False)]
        assert all(gap >= QUEUE_EDIT_INTERVAL_S * 0.95 for gap in gaps), (user, gaps)
