"""Shared pieces of the Mini App tests: Telegram initData signed as Telegram signs it, the fake
Bot API on its own event loop (so sync Playwright can drive the page meanwhile), headless
Chromium from Debian, and screenshots kept when a browser test fails."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest

from tests.fakes.telegram import FakeTelegram

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = Path(os.environ.get("SOCIALOPT_TEST_ARTIFACTS") or ROOT / "test-artifacts" / "webapp")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}


def signed_init_data(
    bot_token: str, user_id: int, *, auth_date: int | None = None, first_name: str = "Ada"
) -> str:
    """initData as Telegram builds it (core.telegram.org/bots/webapps, "Validating data
    received via the Mini App"): the fields, plus hash = hex HMAC-SHA256 of the sorted
    `key=value` lines under the key HMAC-SHA256("WebAppData", bot token). Written here from
    the documentation, independently of api/webapp.py."""
    fields = {
        "query_id": "AAHdF6IQAAAAAN0XohDhrOrc",
        "user": json.dumps(
            {"id": user_id, "first_name": first_name, "language_code": "en"},
            separators=(",", ":"),
        ),
        "auth_date": str(int(time.time()) if auth_date is None else auth_date),
    }
    check = "\n".join(f"{k}={fields[k]}" for k in sorted(fields))
    secret = hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()
    fields["hash"] = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    return urlencode(fields)


def mini_app_url(base: str, session_id: str, init_data: str, theme: dict[str, str]) -> str:
    """The URL Telegram opens a Mini App with: our page, launch parameters in the hash."""
    hash_part = (
        f"tgWebAppData={quote(init_data, safe='')}&tgWebAppVersion=7.10&tgWebAppPlatform=ios"
        f"&tgWebAppThemeParams={quote(json.dumps(theme), safe='')}"
    )
    return f"{base}/app/?session={session_id}#{hash_part}"


@contextmanager
def fake_telegram_thread() -> Iterator[FakeTelegram]:
    """The fake Bot API served from its own thread and event loop."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def make() -> FakeTelegram:
        return await FakeTelegram().start()

    fake = asyncio.run_coroutine_threadsafe(make(), loop).result(10)
    try:
        yield fake
    finally:
        asyncio.run_coroutine_threadsafe(fake.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def off_loop(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Call `fn` in a fresh thread (sync Playwright keeps an event loop in this one, so
    helpers that call asyncio.run must run elsewhere)."""
    out: list[Any] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            out.append(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(60)
    if errors:
        raise errors[0]
    return out[0]


def wait_until(predicate: Any, timeout: float = 30.0, what: str = "a condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def chromium_path() -> str | None:
    """Debian's Chromium (apt-get install chromium), or CHROMIUM_PATH."""
    found = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
    return found if Path(found).is_file() else None


def need_browser() -> str:
    """The Chromium binary; skips with the reason when there is none (fails under CI=1,
    where `make test` has installed it)."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        reason = "Playwright is not installed (pip install -e '.[test]')"
    else:
        path = chromium_path()
        if path is not None:
            return path
        reason = "no Chromium: `apt-get install -y chromium` (make test does it where it can)"
    if os.environ.get("CI"):
        pytest.fail(f"browser tests must run in CI: {reason}")
    pytest.skip(reason)


@contextmanager
def kept_on_failure(page: Any, name: str) -> Iterator[None]:
    """Run a browser step; on any failure save a full-page screenshot as a test artefact."""
    try:
        yield
    except BaseException:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        target = ARTIFACTS / f"{name}.png"
        try:
            page.screenshot(path=str(target), full_page=True)
            print(f"screenshot kept: {target}")
        except Exception as exc:  # noqa: BLE001 - the test's own failure matters more
            print(f"no screenshot ({exc})")
        raise
