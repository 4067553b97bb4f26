"""The real API app served by uvicorn on 127.0.0.1 in a thread, for tests and benchmarks."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from api.app import create_app
from socialopt.settings import Settings
from socialopt.wiring import open_repository
from storage.api import ApiStore, NewKey


def api_settings(tmp_path: Path, **overrides: Any) -> Settings:
    """Offline settings with their own data folder."""
    values: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "ai_provider": "offline",
        "max_concurrent_jobs": 2,
        "max_workers": 2,
        "api_rate_optimize": "50/minute",
        "api_rate_overall": "1000/hour",
        "webhook_backoff_s": 0.05,
    }
    values.update(overrides)
    return Settings(**values)


def create_key(settings: Settings, name: str, telegram_id: int | None = None) -> NewKey:
    """A key made the way `socialopt api-key create` makes it."""

    async def make() -> NewKey:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        async with await open_repository(settings) as repo:
            return await ApiStore(repo).create_key(name, telegram_id=telegram_id)

    return asyncio.run(make())


@dataclass
class Served:
    base_url: str
    server: uvicorn.Server

    def client(self, key: str = "", **kwargs: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=60, **kwargs)


@contextmanager
def serve(settings: Settings) -> Iterator[Served]:
    """create_app(settings) under uvicorn on a free loopback port, until the block ends."""
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=0, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the API did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield Served(f"http://127.0.0.1:{port}", server)
    finally:
        server.should_exit = True
        thread.join(30)


def wait_done(client: httpx.Client, sid: str, timeout: float = 90) -> dict[str, Any]:
    """Poll the status endpoint until the session has finished."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(f"/api/v1/optimize/status/{sid}").json()
        if body["status"] not in ("pending", "processing"):
            return body
        time.sleep(0.1)
    raise AssertionError(f"session {sid} did not finish in {timeout} s")
