"""Migrations on SQLite and PostgreSQL: from an empty database and from older versions (v1, v3,
v4), keeping the data; a failed step rolls back; two migrators racing apply each version once."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from pipeline.errors import OptionsError
from pipeline.models import FITS
from storage import migrations
from storage.api import ApiStore
from storage.cache import open_cache
from storage.errors import StorageError
from storage.repository import Repository

TS = "2026-10-01T10:00:00.000000+00:00"


def _columns(conn: Any, table: str) -> dict[str, tuple[bool, str | None]]:
    """column -> (NOT NULL, default as the engine spells it)."""
    if migrations.dialect(conn) == migrations.POSTGRES:
        rows = conn.execute(
            "SELECT column_name, is_nullable, column_default FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = ?",
            (table,),
        ).fetchall()
        return {r[0]: (r[1] == "NO", r[2]) for r in rows}
    return {r[1]: (bool(r[3]), r[4]) for r in conn.execute(f"PRAGMA table_info({table})")}


def _tables(conn: Any) -> set[str]:
    if migrations.dialect(conn) == migrations.POSTGRES:
        sql = (
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = current_schema()"
        )
    else:
        sql = "SELECT name FROM sqlite_master WHERE type='table'"
    return {r[0] for r in conn.execute(sql).fetchall()}


def _connect(target: Path | str) -> Any:
    return migrations.connect_target(target)


async def test_migrate_from_empty_creates_latest_schema(db_target: Path | str) -> None:
    repo = await Repository.open(db_target)
    try:
        assert await repo.integrity_check() == "ok"
    finally:
        await repo.close()
    conn = _connect(db_target)
    try:
        assert migrations.current_version(conn) == migrations.LATEST
        versions = [
            r[0] for r in conn.execute("SELECT version FROM schema_version ORDER BY 1").fetchall()
        ]
        assert versions == [m.version for m in migrations.MIGRATIONS]
        assert {
            "processing_sessions",
            "platform_results",
            "generated_files",
            "users",
            "saved_accounts",
            "ai_cache",
            "api_keys",
            "schema_version",
        } <= _tables(conn)
        if migrations.dialect(conn) == migrations.SQLITE:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()


async def test_connection_pragmas(tmp_path: Path) -> None:
    repo = await Repository.open(tmp_path / "db.sqlite3")
    try:
        assert (await repo._fetchone("PRAGMA foreign_keys"))[0] == 1
        assert (await repo._fetchone("PRAGMA busy_timeout"))[0] == 5000
        assert (await repo._fetchone("PRAGMA synchronous"))[0] == 1  # NORMAL
        assert (await repo._fetchone("PRAGMA journal_mode"))[0] == "wal"
    finally:
        await repo.close()


async def test_postgres_types_hold_telegram_ids_and_exact_seconds(postgres_url: str) -> None:
    """INTEGER becomes BIGINT (Telegram ids pass 2^31) and REAL becomes DOUBLE PRECISION
    (PostgreSQL's REAL would turn 0.42 into 0.41999998)."""
    big = 7_412_345_678
    async with await Repository.open(postgres_url) as repo:
        await repo.ensure_user(big)
        await repo.create_session(big, session_id="big")
        assert (await repo.get_session(big, "big")).user_id == big
    conn = _connect(postgres_url)
    try:
        types = dict(
            conn.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name = 'platform_results'"
            ).fetchall()
        )
        assert types["processing_seconds"] == "double precision"
        assert types["id"] == "bigint"
    finally:
        conn.close()


async def test_reopening_does_not_reapply(db_target: Path | str) -> None:
    for _ in range(3):
        repo = await Repository.open(db_target)
        await repo.close()
    conn = _connect(db_target)
    try:
        assert conn.execute("SELECT COUNT(*) FROM schema_version").fetchone()[0] == len(
            migrations.MIGRATIONS
        )
    finally:
        conn.close()


def _make_v1(db: Path | str) -> None:
    """A database as an older release left it: schema v1 with rows in every table."""
    conn = _connect(db)
    try:
        assert migrations.migrate(conn, target=1) == 1
        assert "ai_cache" not in _tables(conn)
        assert "notified" not in _columns(conn, "processing_sessions")
        assert "provider" not in _columns(conn, "platform_results")
        for sql, params in [
            (
                "INSERT INTO users (user_id, language, timezone, default_platforms, "
                "output_format, logo_path, logo_position, created_at, seen_at) "
                "VALUES (42, 'de', 'Europe/Berlin', '[\"instagram\",\"x\"]', 'PNG', "
                "'/logo.png', 'top-left', ?, ?)",
                (TS, TS),
            ),
            (
                "INSERT INTO processing_sessions (id, user_id, status, source_path, "
                "source_hash, platforms, description, use_ai, options, started_at, "
                "completed_at, results) VALUES ('old1', 42, 'completed', '/src.jpg', 'abc123', "
                '\'["instagram","x"]\', \'latte art\', 1, \'{"tone":"casual"}\', ?, ?, '
                "'{\"ok\":true}')",
                (TS, TS),
            ),
            (
                "INSERT INTO processing_sessions (id, user_id, status, started_at) "
                "VALUES ('old2', 42, 'processing', ?)",
                (TS,),
            ),
            (
                "INSERT INTO platform_results (session_id, platform, status, image_path, "
                "niches, hashtags, caption, profiles, processing_seconds, "
                "product_photography_used) VALUES ('old1', 'instagram', 'completed', "
                "'/ig.jpg', '[\"coffee\"]', '[\"#Coffee\",\"#LatteArt\"]', 'Morning latte', "
                "'[]', 1.5, 0)",
                (),
            ),
            (
                "INSERT INTO generated_files (session_id, type, platform, path, size) "
                "VALUES ('old1', 'image', 'instagram', '/ig.jpg', 12345)",
                (),
            ),
            (
                "INSERT INTO saved_accounts (user_id, handle, niche, platform, created_at) "
                "VALUES (42, 'cafe_one', 'coffee', '', ?), "
                "(42, '@Cafe_One', 'coffee', 'instagram', ?), (42, '@baker', 'food', '', ?)",
                (TS, TS, TS),
            ),
        ]:
            conn.execute(sql, params)
    finally:
        conn.close()


async def test_migrate_from_v1_keeps_data(db_target: Path | str) -> None:
    db = db_target
    _make_v1(db)

    repo = await Repository.open(db)
    try:
        user = await repo.get_user(42)
        assert user is not None
        assert (user.language, user.timezone, user.output_format) == ("de", "Europe/Berlin", "PNG")
        assert user.default_platforms == ("instagram", "x")
        assert user.logo_position == "top-left"
        assert user.logo_size_pct == 15.0  # new column, default filled in

        old = await repo.get_session(42, "old1")
        assert old is not None
        assert old.status == "completed" and old.results == {"ok": True}
        assert old.options == {"tone": "casual"} and old.use_ai is True
        assert old.notified is False
        rows = await repo.list_platform_rows(42, "old1")
        assert [r.hashtags for r in rows] == [["#Coffee", "#LatteArt"]]
        assert rows[0].provider == "offline"
        assert await repo.user_disk_usage(42) == 12345

        # Handles normalised with '@' and de-duplicated (the newest row wins).
        accounts = await repo.list_accounts(42)
        assert sorted(a.handle.lower() for a in accounts) == ["@baker", "@cafe_one"]
        cafe = next(a for a in accounts if a.handle.lower() == "@cafe_one")
        assert cafe.platform == "instagram"

        # New features work on the upgraded database.
        with open_cache(db) as cache:
            cache.put("k", {"v": 1}, ttl_s=60)
            assert cache.get("k") == {"v": 1}
        interrupted = await repo.mark_interrupted()
        assert [s.id for s in interrupted] == ["old2"]
        assert [s.id for s in await repo.unnotified_interrupted()] == ["old2"]
        assert await repo.integrity_check() == "ok"
    finally:
        await repo.close()

    conn = _connect(db)
    try:
        assert migrations.current_version(conn) == migrations.LATEST
        assert "ai_cache" in _tables(conn)
        assert {"notified"} <= set(_columns(conn, "processing_sessions"))
        assert {"provider", "error"} <= set(_columns(conn, "platform_results"))
        assert "fit" in _columns(conn, "users")
        if migrations.dialect(conn) == migrations.SQLITE:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        conn.close()


async def test_v4_adds_the_crop_fit_with_default_auto(db_target: Path | str) -> None:
    """A v3 database (before users.fit) upgrades: old users get `auto`, new values are checked
    with the pipeline's rule (pipeline.models.FITS)."""
    db = db_target
    conn = _connect(db)
    try:
        assert migrations.migrate(conn, target=3) == 3
        assert "fit" not in _columns(conn, "users")
        conn.execute(
            "INSERT INTO users (user_id, language, output_format, created_at, seen_at) "
            "VALUES (7, 'fr', 'WEBP', ?, ?)",
            (TS, TS),
        )
    finally:
        conn.close()

    repo = await Repository.open(db)
    try:
        old = await repo.get_user(7)
        assert old is not None and (old.language, old.output_format) == ("fr", "WEBP")
        assert old.fit == "auto"
        assert (await repo.ensure_user(8)).fit == "auto"  # a new user
        for fit in FITS:
            assert (await repo.update_user(7, fit=fit.upper())).fit == fit
        with pytest.raises(OptionsError) as info:
            await repo.update_user(7, fit="stretch")
        assert info.value.code == "UNKNOWN_FIT"
        assert (await repo.get_user(7)).fit == FITS[-1]  # unchanged by the refused value
        assert (await repo.get_user(8)).fit == "auto"  # per user
    finally:
        await repo.close()

    conn = _connect(db)
    try:
        assert migrations.current_version(conn) == migrations.LATEST >= 4
        not_null, default = _columns(conn, "users")["fit"]
        assert not_null and default is not None and default.startswith("'auto'")
    finally:
        conn.close()


async def test_migrate_from_v4_keeps_data(db_target: Path | str) -> None:
    """The release before the REST API (schema v4) upgrades to the latest: its sessions,
    results and accounts stay, and the tables added since (API keys, reminders, delivery)
    work on it."""
    conn = _connect(db_target)
    try:
        assert migrations.migrate(conn, target=4) == 4
        assert "api_keys" not in _tables(conn)
        conn.execute(
            "INSERT INTO users (user_id, language, fit, created_at, seen_at) "
            "VALUES (5000000001, 'es', 'pad', ?, ?)",
            (TS, TS),
        )
        conn.execute(
            "INSERT INTO processing_sessions (id, user_id, status, platforms, started_at, "
            "completed_at, results, notified) VALUES ('v4s', 5000000001, 'completed', "
            "'[\"x\"]', ?, ?, '{\"n\":1}', 1)",
            (TS, TS),
        )
        conn.execute(
            "INSERT INTO platform_results (session_id, platform, status, processing_seconds, "
            "provider) VALUES ('v4s', 'x', 'completed', 0.42, 'gemini')"
        )
        conn.execute(
            "INSERT INTO saved_accounts (user_id, handle, niche, created_at) "
            "VALUES (5000000001, '@Cafe', 'coffee', ?)",
            (TS,),
        )
        conn.execute(
            "INSERT INTO ai_cache (key, value, created_at, expires_at) "
            "VALUES ('k', '{}', ?, '2099-01-01')",
            (TS,),
        )
    finally:
        conn.close()

    uid = 5000000001
    async with await Repository.open(db_target) as repo:
        user = await repo.get_user(uid)
        assert user is not None and (user.language, user.fit) == ("es", "pad")
        done = await repo.get_session(uid, "v4s")
        assert done is not None and done.results == {"n": 1} and done.notified
        [row] = await repo.list_platform_rows(uid, "v4s")
        assert (row.processing_seconds, row.provider) == (0.42, "gemini")
        await repo.add_account(uid, "cafe", "tea")  # the same handle whatever its case
        assert [(a.handle, a.niche) for a in await repo.list_accounts(uid)] == [("@cafe", "tea")]
        new = await ApiStore(repo).create_key("after upgrade", telegram_id=uid)
        assert new.record.id >= 1 and new.record.user_id == uid
        await repo.mark_delivery_pending(uid, "v4s")
        assert [s.id for s in await repo.undelivered()] == ["v4s"]
    conn = _connect(db_target)
    try:
        assert migrations.current_version(conn) == migrations.LATEST
        assert {"api_keys", "reminders", "ai_cache"} <= _tables(conn)
        assert conn.execute("SELECT COUNT(*) FROM ai_cache").fetchone()[0] == 1
    finally:
        conn.close()


async def test_newer_schema_is_refused(db_target: Path | str) -> None:
    conn = _connect(db_target)
    try:
        migrations.migrate(conn)
        conn.execute(
            "INSERT INTO schema_version VALUES (?, 'from the future', '2030-01-01')",
            (migrations.LATEST + 1,),
        )
    finally:
        conn.close()
    with pytest.raises(StorageError) as info:
        await Repository.open(db_target)
    assert info.value.code == "SCHEMA_TOO_NEW"


def test_failed_step_rolls_back(db_target: Path | str, monkeypatch: pytest.MonkeyPatch) -> None:
    conn = _connect(db_target)
    try:
        migrations.migrate(conn, target=1)
    finally:
        conn.close()
    broken = migrations.Migration(2, "broken", ("CREATE TABLE half_done (x TEXT)", "NOT SQL"))
    monkeypatch.setattr(migrations, "MIGRATIONS", (migrations.MIGRATIONS[0], broken))
    with pytest.raises(Exception, match="(?i)syntax"):
        migrations.upgrade_target(db_target, 2)
    conn = _connect(db_target)
    try:
        assert migrations.current_version(conn) == 1
        assert "half_done" not in _tables(conn)
    finally:
        conn.close()


async def test_corrupt_file_is_a_storage_error(tmp_path: Path) -> None:
    db = tmp_path / "garbage.sqlite3"
    db.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StorageError) as info:
        await Repository.open(db)
    assert "garbage.sqlite3" in info.value.message


def test_two_migrators_race_and_each_version_is_applied_once(
    db_target: Path | str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two migrators start at the same instant on an empty database, each on its own
    connection. The first migration is slowed down so both are inside the runner at once:
    without the lock (SQLite's BEGIN IMMEDIATE before the version is read again, PostgreSQL's
    advisory lock) both would apply v1 and the second would fail on `users` existing."""
    entered: list[str] = []

    def slow(conn: Any) -> None:
        entered.append(threading.current_thread().name)
        time.sleep(0.5)

    first = migrations.MIGRATIONS[0]
    slowed = migrations.Migration(first.version, first.name, (slow, *first.steps))
    monkeypatch.setattr(migrations, "MIGRATIONS", (slowed, *migrations.MIGRATIONS[1:]))
    if isinstance(db_target, Path):
        migrations.connect(db_target).close()  # the file exists before either starts

    barrier = threading.Barrier(2)
    applied: dict[str, list[int]] = {}
    errors: list[BaseException] = []

    def migrator(name: str) -> None:
        try:
            conn = _connect(db_target)
            try:
                barrier.wait(10)
                applied[name] = migrations.upgrade(conn)
            finally:
                conn.close()
        except BaseException as exc:  # collected for the assert
            errors.append(exc)

    threads = [threading.Thread(target=migrator, args=(n,), name=n) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert len(entered) == 1  # the slow step ran once
    every = [m.version for m in migrations.MIGRATIONS]
    assert sorted(applied["a"] + applied["b"]) == every  # each version by exactly one
    conn = _connect(db_target)
    try:
        rows = conn.execute("SELECT version FROM schema_version ORDER BY version").fetchall()
        assert [r[0] for r in rows] == every
    finally:
        conn.close()
