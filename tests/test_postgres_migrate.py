"""`socialopt migrate` on the configured database (two processes at once apply each version
once), its errors, and a PostgreSQL connection that the server drops: a coded error at most,
then a fresh connection, with no restart of our process."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from storage import migrations
from storage.cache import PostgresCache
from storage.cli_records import record_cli_run
from storage.errors import StorageError
from storage.repository import Repository
from tests.conftest import POSTGRES_URL

ROOT = Path(__file__).resolve().parents[1]

# `socialopt migrate` with its first migration slowed down and a start line shared by both
# processes, so that both are inside the runner at once.
RACER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from storage import migrations

    def slow(conn):
        print("SLOW", flush=True)
        time.sleep(1.0)

    first = migrations.MIGRATIONS[0]
    migrations.MIGRATIONS = (
        migrations.Migration(first.version, first.name, (slow, *first.steps)),
        *migrations.MIGRATIONS[1:],
    )
    go = Path(sys.argv[1])
    while not go.exists():
        time.sleep(0.01)
    from socialopt.cli import main
    raise SystemExit(main(["migrate"]))
    """
)


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    return {**env, "PYTHONPATH": str(ROOT), "DATA_DIR": str(tmp_path / "data"), **extra}


def _cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    code = f"from socialopt.cli import main; raise SystemExit(main({list(args)!r}))"
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,  # no .env of the repository's
        env=_env(tmp_path, **env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def _applied(stdout: str) -> list[int]:
    line = next(x for x in stdout.splitlines() if x.startswith("schema version"))
    done = line.split("applied now: ", 1)[1]
    return [] if done.startswith("none") else [int(v) for v in done.split(", ")]


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
def test_two_migrate_processes_apply_each_version_once(
    engine: str, tmp_path: Path, request: pytest.FixtureRequest, run_sql: Callable[..., list]
) -> None:
    url = request.getfixturevalue("postgres_url") if engine == "postgres" else ""
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, str(go)],
            cwd=tmp_path,
            env=_env(tmp_path, DATABASE_URL=url),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    time.sleep(0.5)
    go.touch()
    outs = [p.communicate(timeout=120) for p in procs]
    for proc, (_out, err) in zip(procs, outs, strict=True):
        assert proc.returncode == 0, err
    assert sum(out.count("SLOW") for out, _ in outs) == 1  # v1 ran in one process only
    every = [m.version for m in migrations.MIGRATIONS]
    assert sorted(_applied(outs[0][0]) + _applied(outs[1][0])) == every
    target = url or tmp_path / "data" / "socialopt.sqlite3"
    assert run_sql(target, "SELECT version FROM schema_version ORDER BY version") == [
        (v,) for v in every
    ]

    again = _cli(tmp_path, "migrate", DATABASE_URL=url)
    assert again.returncode == 0, again.stderr
    assert f"schema version {migrations.LATEST}; applied now: none" in again.stdout


def test_migrate_errors_are_one_coded_line(tmp_path: Path) -> None:
    down = _cli(tmp_path, "migrate", DATABASE_URL="postgresql://postgres:hunter2@127.0.0.1:1/x")
    assert down.returncode == 2
    assert down.stderr.startswith("error: The database at postgresql://postgres@127.0.0.1:1/x")
    assert "(DATABASE_UNAVAILABLE)" in down.stderr and "Traceback" not in down.stderr
    assert "hunter2" not in down.stderr

    wrong = _cli(tmp_path, "migrate", DATABASE_URL="mysql://root@127.0.0.1/db")
    assert wrong.returncode == 2
    assert "DATABASE_URL must be a postgresql:// URL" in wrong.stderr
    assert "(INVALID_SETTING)" in wrong.stderr and "root@" not in wrong.stderr


def test_api_key_command_uses_the_configured_database(
    tmp_path: Path, postgres_url: str, run_sql: Callable[..., list]
) -> None:
    made = _cli(tmp_path, "api-key", "create", "--name", "ci", DATABASE_URL=postgres_url)
    assert made.returncode == 0, made.stderr
    assert run_sql(postgres_url, "SELECT name FROM api_keys") == [("ci",)]
    assert not (tmp_path / "data" / "socialopt.sqlite3").exists()
    listed = _cli(tmp_path, "api-key", "list", DATABASE_URL=postgres_url)
    assert " ci " in listed.stdout


def test_history_command_reads_the_configured_database(tmp_path: Path, postgres_url: str) -> None:
    result = {"session_id": "run-pg", "timestamp": "2026-11-20T09:00:00+00:00", "platforms": {}}
    record_cli_run(postgres_url, result, tmp_path)
    listed = _cli(tmp_path, "history", DATABASE_URL=postgres_url)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.startswith("run-pg  2026-11-20T09:00:00")
    empty = _cli(tmp_path, "history")  # no DATABASE_URL: DATA_DIR's SQLite file, not there
    assert empty.returncode == 2 and "(DB_NOT_FOUND)" in empty.stderr


def _drop_connections(url: str) -> int:
    """End every server connection of this test's schema (its application_name), as a server
    restart would; how many were ended."""
    name = url.rsplit("application_name=", 1)[1]
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = %s AND pid <> pg_backend_pid()",
            (name,),
        ).fetchall()
    return len(rows)


async def test_repository_survives_dropped_connections(postgres_url: str) -> None:
    async with await Repository.open(postgres_url) as repo:
        await repo.create_session(1, session_id="before")

        assert _drop_connections(postgres_url) == 1
        # A read meets the dead connection, connects again and answers.
        assert (await repo.get_session(1, "before")).id == "before"

        assert _drop_connections(postgres_url) == 1
        await repo.create_session(1, session_id="after")  # a write that had not begun: too

        # Dropped inside a transaction: that call fails with a code, nothing half-written,
        # and the next call works on a fresh connection.
        with pytest.raises(StorageError) as info:
            async with repo._write() as conn:
                await conn.execute("UPDATE processing_sessions SET description = 'x'")
                _drop_connections(postgres_url)
                await conn.execute("UPDATE processing_sessions SET description = 'y'")
        assert info.value.code == "DATABASE_UNAVAILABLE"
        assert [s.description for s in await repo.list_sessions(1)] == ["", ""]


async def test_unreachable_postgres_is_a_coded_error() -> None:
    with pytest.raises(StorageError) as info:
        await Repository.open("postgresql://postgres:hunter2@127.0.0.1:1/test")
    assert info.value.code == "DATABASE_UNAVAILABLE"
    assert "127.0.0.1:1" in info.value.message and "hunter2" not in info.value.message


def test_postgres_cache_is_a_miss_while_the_connection_is_gone(postgres_url: str) -> None:
    with PostgresCache(postgres_url) as cache:
        cache.put("k", {"v": 1}, ttl_s=60)
        assert _drop_connections(postgres_url) == 1
        assert cache.get("k") is None  # the dropped connection: a miss, not an error
        assert cache.get("k") == {"v": 1}  # connected again
        assert _drop_connections(postgres_url) == 1
        cache.put("k2", {"v": 2}, ttl_s=60)  # not stored, not raised
        cache.put("k2", {"v": 2}, ttl_s=60)
        assert cache.get("k2") == {"v": 2}
