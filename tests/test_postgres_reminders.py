"""Reminders (`storage.reminders`, migration 6) on PostgreSQL: the storage tests of
tests/test_reminders.py run again on a PostgreSQL schema, and a session's deletion takes its
reminders with it there too."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import pytest

from socialopt.usecases.reminders import Reminders
from storage.reminders import ReminderStore
from storage.repository import Repository
from tests import test_reminders
from tests.test_reminders import ANA, Clock, completed

# The storage tests of tests/test_reminders.py, collected here too: they take this module's
# `repo` fixture, so they run on PostgreSQL.
test_create_list_move_and_cancel = test_reminders.test_create_list_move_and_cancel
test_what_fires_when = test_reminders.test_what_fires_when
test_quiet_hours_follow_the_users_zone = (
    test_reminders.test_quiet_hours_follow_the_users_zone_at_fire_time
)


@pytest.fixture
async def repo(postgres_url: str) -> AsyncIterator[Repository]:
    clock = Clock(datetime(2026, 12, 6, 17, 0, tzinfo=UTC))  # as in tests/test_reminders.py
    repository = await Repository.open(postgres_url, clock=clock)
    try:
        yield repository
    finally:
        await repository.close()


async def test_reminders_table_and_cascade_on_postgres(
    repo: Repository, postgres_url: str, run_sql: Callable[..., list]
) -> None:
    await completed(repo, ANA, "sessA", ("instagram",))
    uc = Reminders(ReminderStore(repo))
    await uc.create(ANA, ANA, "sessA", "instagram")
    assert ("reminders",) in run_sql(postgres_url, "SELECT name FROM schema_version")
    [(rid, chat)] = run_sql(postgres_url, "SELECT id, chat_id FROM reminders")
    assert rid >= 1 and chat == ANA  # the id came back through RETURNING
    assert await repo.delete_session(ANA, "sessA")
    assert await uc.pending(ANA) == []
    assert run_sql(postgres_url, "SELECT COUNT(*) FROM reminders") == [(0,)]
