"""Fixtures shared across test modules."""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.telegram import FakeTelegram

# The PostgreSQL the storage tests use: each test gets a schema of its own in this database.
POSTGRES_URL = os.environ.get(
    "SOCIALOPT_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"
)


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    """A fake Telegram Bot API server on 127.0.0.1 for one test."""
    async with FakeTelegram() as server:
        yield server


@functools.cache
def _postgres_down() -> str:
    """Why PostgreSQL cannot be used ("" when it can)."""
    try:
        import psycopg

        with psycopg.connect(POSTGRES_URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - any failure means: not here
        return f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc) else ''}"
    return ""


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A postgresql:// URL whose search_path is a fresh schema, dropped after the test.
    Without a PostgreSQL server the test is skipped, except under CI (CI set), where it fails."""
    import psycopg

    reason = _postgres_down()
    if reason:
        message = f"PostgreSQL is not reachable at {POSTGRES_URL} ({reason})"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; CI must run the PostgreSQL tests")
        pytest.skip(f"{message}; set SOCIALOPT_TEST_POSTGRES or start PostgreSQL")
    schema = f"test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}&application_name={schema}"
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            # Connections a test left open (a killed child) would hold locks: end them.
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE pid <> pg_backend_pid() AND application_name = %s",
                (schema,),
            )
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=["sqlite", "postgres"])
def db_target(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    """The database a storage test runs on: a SQLite file, then a PostgreSQL schema."""
    if request.param == "sqlite":
        return tmp_path / "db" / "socialopt.sqlite3"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def run_sql() -> Callable[..., list[tuple[Any, ...]]]:
    """`run_sql(target, sql, params=())`: the rows of one statement (`?` placeholders), on its
    own connection to either engine, for checks from outside the repository."""
    from storage.migrations import connect_target

    def run(target: Path | str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        conn = connect_target(target)
        try:
            cur = conn.execute(sql, params)
            return [tuple(r) for r in cur.fetchall()] if cur.description else []
        finally:
            conn.close()

    return run
