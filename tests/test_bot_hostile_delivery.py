"""Issue 12 #6: delivery is a step of its own. The bot runs as a real process (`python -m
socialopt bot`) against the fake Bot API on 127.0.0.1; it is killed with SIGKILL while it
sends a result (the fake holds the upload unanswered), after the session was stored as
completed. The next start-up finds the session undelivered and offers the results once, with
a button that sends them all; a third start-up says nothing more."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from storage.repository import Repository
from tests.fakes.telegram import Call, FakeTelegram

ROOT = Path(__file__).resolve().parents[1]
COFFEE = (ROOT / "samples" / "coffee.jpg").read_bytes()
ANA = 2001
REOFFER = "restart cut sending"

pytestmark = pytest.mark.timeout(180)


def has(prefix: str):  # noqa: ANN201 - a small predicate factory
    return lambda c: any(d.startswith(prefix) for _, d in c.buttons())


@asynccontextmanager
async def bot_process(fake: FakeTelegram, tmp_path: Path, n: int) -> AsyncIterator[Any]:
    """`socialopt bot` in its own process, long polling the fake server."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "PYTHONPATH": str(ROOT),
        "TELEGRAM_BOT_TOKEN": fake.token,
        "TELEGRAM_API_BASE_URL": fake.base_url,
        "TELEGRAM_FILE_BASE_URL": fake.base_file_url,
        "DATA_DIR": str(tmp_path / "data"),
        "AI_PROVIDER": "offline",
        "DEFAULT_PLATFORMS": "instagram,x",
        "MAX_WORKERS": "2",
        "U2NET_HOME": str(tmp_path / "no-models"),
        "LOG_LEVEL": "INFO",
    }
    log = (tmp_path / f"bot{n}.log").open("wb")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "socialopt", "bot", cwd=tmp_path, env=env, stdout=log, stderr=log
    )
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 30)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        log.close()


async def undelivered(tmp_path: Path) -> list[str]:
    async with await Repository.open(tmp_path / "data" / "socialopt.sqlite3") as repo:
        return [s.id for s in await repo.undelivered()]


async def test_kill_9_during_delivery_is_offered_again_at_start_up(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    release = asyncio.Event()
    fake.hold_methods["sendDocument"] = release  # the first platform's image never returns
    async with bot_process(fake, tmp_path, 1) as proc:
        fake.send_photo(ANA, COFFEE)
        keyboard = await fake.wait_call(ANA, "sendMessage", match=has("p:done"), timeout=60)
        mark = len(fake.calls)
        fake.press(ANA, keyboard.result["message_id"], "p:done")
        await fake.wait_text(ANA, "description", since=mark)
        fake.send_text(ANA, "/skip")
        await fake.wait_call(ANA, "held:sendDocument", since=mark, timeout=90)
        db = tmp_path / "data" / "socialopt.sqlite3"
        async with await Repository.open(db) as repo:
            (session,) = await repo.list_sessions(ANA)
        assert session.status == "completed"  # stored, not yet delivered
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
    sid = session.id
    closings = fake.calls_for(ANA, "sendMessage")
    assert not any(has("d:zip:")(c) for c in closings)  # the closing message never came
    assert await undelivered(tmp_path) == [sid]

    fake.hold_methods.clear()
    release.set()
    async with bot_process(fake, tmp_path, 2):
        mark = len(fake.calls)
        offer: Call = await fake.wait_text(ANA, REOFFER, since=mark, timeout=60)
        assert sid in offer.text
        fake.press(ANA, offer.result["message_id"], f"h:{sid}")
        closing = await fake.wait_call(ANA, "sendMessage", since=mark, match=has("d:zip:"))
        assert sid in closing.text
        sent = fake.calls_for(ANA, "sendDocument", since=mark)
        assert len(sent) == 2  # Instagram and X, this time all of them
        assert await undelivered(tmp_path) == []  # offered: not offered again

    mark = len(fake.calls)
    async with bot_process(fake, tmp_path, 3):
        await fake.wait_call(None, "setMyCommands", since=mark, timeout=60)  # started
        await asyncio.sleep(1)
    assert not [c for c in fake.calls[mark:] if REOFFER in c.text]  # said once only
