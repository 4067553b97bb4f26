"""Shared pieces of the bot's end-to-end tests: settings for the fake server and start/stop."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from telegram.ext import Application

from bot.context import SERVICES_KEY, BotServices
from socialopt.settings import Secret, Settings
from tests.fakes.telegram import FakeTelegram


def settings_for(fake: FakeTelegram, tmp_path: Path, **overrides: Any) -> Settings:
    """Offline settings pointing the bot at the fake Bot API server."""
    values: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "telegram_bot_token": Secret(fake.token),
        "telegram_api_base_url": fake.base_url,
        "telegram_file_base_url": fake.base_file_url,
        "default_platforms": ("instagram", "x"),
        "ai_provider": "offline",
        "max_concurrent_jobs": 2,
        "max_workers": 2,
        "u2net_home": tmp_path / "no-models",
    }
    values.update(overrides)
    return Settings(**values)


@asynccontextmanager
async def running(app: Application) -> AsyncIterator[Application]:
    """Start the app the way run_polling does (post_init ... post_shutdown), for a test."""
    async with app:
        await app.post_init(app)
        await app.start()
        await app.updater.start_polling(poll_interval=0, timeout=1)
        try:
            yield app
        finally:
            await app.updater.stop()
            await app.stop()
            await app.post_stop(app)
    await app.post_shutdown(app)


def svc(app: Application) -> BotServices:
    return app.bot_data[SERVICES_KEY]
