"""The bot and the REST API on PostgreSQL (DATABASE_URL): their own end-to-end tests run again
with only the database changed, and every row lands in PostgreSQL, none in a SQLite file."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from socialopt.settings import Secret, Settings
from socialopt.wiring import open_repository
from storage.api import ApiStore, NewKey
from tests import bot_helpers, test_api, test_bot_flow
from tests.api_helpers import api_settings, serve
from tests.fakes.telegram import FakeTelegram

pytestmark = pytest.mark.timeout(240)


def _no_sqlite_file(data_dir: Path) -> None:
    assert not (data_dir / "socialopt.sqlite3").exists()  # the configured database was used


# -- the bot -----------------------------------------------------------------------------------

BOT_TESTS = [
    test_bot_flow.test_photo_flow_delivers_results_and_records_the_session,
    test_bot_flow.test_two_users_at_once,
]


@pytest.mark.parametrize("flow", BOT_TESTS, ids=lambda f: f.__name__)
async def test_bot_flow_on_postgres(
    flow: Callable[..., Any],
    fake: FakeTelegram,
    tmp_path: Path,
    postgres_url: str,
    run_sql: Callable[..., list],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def settings_for(fake: FakeTelegram, tmp_path: Path, **overrides: Any) -> Settings:
        overrides.setdefault("database_url", Secret(postgres_url))
        return bot_helpers.settings_for(fake, tmp_path, **overrides)

    monkeypatch.setattr(test_bot_flow, "settings_for", settings_for)
    await flow(fake, tmp_path)
    _no_sqlite_file(tmp_path / "data")
    [(sessions,)] = run_sql(postgres_url, "SELECT COUNT(*) FROM processing_sessions")
    assert sessions >= 1


# -- the REST API ------------------------------------------------------------------------------

API_TESTS = [
    test_api.test_submit_status_results_files_and_zip,
    test_api.test_keys_are_required_and_sessions_are_scoped,
    test_api.test_idempotency_key_returns_the_first_session_or_409,
    test_api.test_captions_for_a_session_and_for_text,
    test_api.test_health_reports_every_service,
]


def _create_key(settings: Settings, name: str) -> NewKey:
    """A key made the way `socialopt api-key create` makes it (wiring.open_repository)."""

    async def make() -> NewKey:
        async with await open_repository(settings) as repo:
            return await ApiStore(repo).create_key(name)

    return asyncio.run(make())


@pytest.fixture
def pg_api(tmp_path: Path, postgres_url: str) -> Iterator[tuple[Any, str, str]]:
    settings = api_settings(tmp_path, database_url=Secret(postgres_url))
    ana, ben = _create_key(settings, "ana"), _create_key(settings, "ben")
    with serve(settings) as served:
        yield served, ana.key, ben.key
    _no_sqlite_file(settings.data_dir)


@pytest.mark.parametrize("case", API_TESTS, ids=lambda f: f.__name__)
def test_api_on_postgres(
    case: Callable[..., Any],
    pg_api: tuple[Any, str, str],
    postgres_url: str,
    run_sql: Callable[..., list],
) -> None:
    case(pg_api)
    assert run_sql(postgres_url, "SELECT COUNT(*) FROM api_keys") == [(2,)]
