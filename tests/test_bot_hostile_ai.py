"""Issue 12 #7 and #8: paid AI calls outside jobs are budgeted and cached, and a slow AI holds
no thread that another user's photo needs. The real application runs against the fake Bot API
on 127.0.0.1 with the real OpenAI client talking to the fake OpenAI server (tests/fakes/openai.py).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from bot.app import build_application
from socialopt.queue import AIBudget
from socialopt.settings import Secret
from tests.bot_helpers import running, settings_for
from tests.fakes.openai import FakeOpenAI
from tests.fakes.telegram import Call, FakeTelegram

ROOT = Path(__file__).resolve().parents[1]
COFFEE = (ROOT / "samples" / "coffee.jpg").read_bytes()
ANA = 2001
WAITERS = range(3001, 3009)  # eight users waiting on a slow provider
PHOTO_USER = 4001

pytestmark = pytest.mark.timeout(120)


def ai_settings(fake: FakeTelegram, ai: FakeOpenAI, tmp_path: Path, **overrides: Any) -> Any:
    return settings_for(
        fake,
        tmp_path,
        ai_provider="openai",
        openai_api_key=Secret("sk-test"),
        openai_base_url=ai.base_url,
        openai_model="gpt-fake",
        ai_max_retries=0,
        **overrides,
    )


def has(prefix: str):  # noqa: ANN201 - a small predicate factory
    return lambda c: any(d.startswith(prefix) for _, d in c.buttons())


async def photo_session(fake: FakeTelegram, user: int) -> str:
    """The photo flow once (no description); returns the session id."""
    mark = len(fake.calls)
    fake.send_photo(user, COFFEE)
    keyboard = await fake.wait_call(user, "sendMessage", since=mark, match=has("p:done"))
    fake.press(user, keyboard.result["message_id"], "p:done")
    await fake.wait_text(user, "description", since=mark)
    fake.send_text(user, "/skip")
    closing = await fake.wait_call(
        user, "sendMessage", since=mark, match=has("d:zip:"), timeout=90
    )
    return next(d for _, d in closing.buttons() if d.startswith("d:zip:")).split(":")[-1]


async def caption(fake: FakeTelegram, user: int, text: str = "/caption") -> list[Call]:
    """Send /caption and return every message of the answer (header ... closing hint)."""
    mark = len(fake.calls)
    fake.send_text(user, text)
    await fake.wait_text(user, "another take", since=mark, timeout=60)
    return fake.calls_for(user, "sendMessage", since=mark)


async def test_caption_presses_stop_at_the_hourly_ai_budget_and_reuse_answers(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    with FakeOpenAI() as ai:
        settings = ai_settings(fake, ai, tmp_path, ai_calls_per_hour=2)
        async with running(build_application(settings)):
            await photo_session(fake, ANA)  # the job's own AI calls: JOBS_PER_HOUR's business
            before = len(ai.chat_requests())

            first = await caption(fake, ANA)  # variant 1: a paid call
            second = await caption(fake, ANA)  # variant 2: a paid call, the budget is spent
            assert len(ai.chat_requests()) == before + 2
            assert "variant 1" in first[0].text and "variant 2" in second[0].text
            for answer in (first, second):
                assert "offline" not in answer[-1].text

            third = await caption(fake, ANA)  # variant 3: no budget left -> offline, said so
            assert "variant 3" in third[0].text
            assert "used this hour's AI captions (2 per hour)" in third[-1].text
            assert "offline captions" in third[-1].text
            assert len(ai.chat_requests()) == before + 2  # no paid call

            again = await caption(fake, ANA)  # variant 1 again: the cached AI answer
            assert "variant 1" in again[0].text
            assert [c.text for c in again[1:]] == [c.text for c in first[1:]]
            assert len(ai.chat_requests()) == before + 2

            text = await caption(fake, ANA, "/caption sunrise over the harbour")
            assert "used this hour's AI captions" in text[-1].text
            assert len(ai.chat_requests()) == before + 2  # sixty presses would still be two


async def test_a_slow_ai_does_not_hold_up_another_users_photo(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    """Eight users wait on an AI that takes seconds to answer; a ninth user's photo gets its
    first answer (the platform keyboard) before any of them gets captions. Before the AI pool,
    the eight calls held asyncio's default executor (6 threads on 2 cores), which the photo's
    header check also waits for."""
    with FakeOpenAI(latency_s=6.0) as ai:
        async with running(build_application(ai_settings(fake, ai, tmp_path))):
            mark = len(fake.calls)
            for user in WAITERS:
                fake.send_text(user, f"/caption latte art number {user} at dawn")  # uncached
            async with asyncio.timeout(60):  # four calls in flight: the AI pool is full
                while len(ai.requests) < 4:
                    await asyncio.sleep(0.05)
            fake.send_photo(PHOTO_USER, COFFEE)
            keyboard = await fake.wait_call(
                PHOTO_USER, "sendMessage", since=mark, match=has("p:done"), timeout=60
            )
            answers = [
                await fake.wait_text(user, "another take", since=mark, timeout=60)
                for user in WAITERS
            ]
    headers = [
        i
        for i, c in enumerate(fake.calls)
        if c.chat_id in WAITERS and c.method == "sendMessage" and "Captions" in c.text
    ]
    assert len(answers) == len(WAITERS) and len(headers) == len(WAITERS)
    assert fake.calls.index(keyboard) < min(headers)  # the photo was answered first


def test_the_ai_budget_is_per_user_and_per_hour() -> None:
    now = [0.0]
    budget = AIBudget(2, clock=lambda: now[0])
    assert budget.take(ANA) and budget.take(ANA)
    assert not budget.take(ANA) and budget.used(ANA) == 2  # a refusal is not counted
    assert budget.take(PHOTO_USER)  # another user has their own hour
    now[0] = 1800.0
    assert budget.free_in_s(ANA) == 1800.0 and not budget.take(ANA)
    now[0] = 3600.0  # the first two calls are an hour old
    assert budget.free_in_s(ANA) == 0.0 and budget.take(ANA)
    assert AIBudget(0).take(ANA)  # 0: no limit
