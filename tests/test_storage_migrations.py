"""Migrations: from an empty file and from the seed's v1 shape, keeping the data."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from pipeline.errors import OptionsError
from pipeline.models import FITS
from storage import migrations
from storage.cache import SqliteCache
from storage.errors import StorageError
from storage.repository import Repository


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


async def test_migrate_from_empty_creates_latest_schema(tmp_path: Path) -> None:
    db = tmp_path / "new" / "socialopt.sqlite3"
    repo = await Repository.open(db)
    try:
        assert await repo.integrity_check() == "ok"
    finally:
        await repo.close()
    conn = sqlite3.connect(db)
    try:
        assert migrations.current_version(conn) == migrations.LATEST
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_version ORDER BY 1")]
        assert versions == [m.version for m in migrations.MIGRATIONS]
        assert {
            "processing_sessions",
            "platform_results",
            "generated_files",
            "users",
            "saved_accounts",
            "ai_cache",
            "schema_version",
        } <= _tables(conn)
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


async def test_reopening_does_not_reapply(tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite3"
    for _ in range(3):
        repo = await Repository.open(db)
        await repo.close()
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("SELECT COUNT(*) FROM schema_version").fetchone()[0] == len(
            migrations.MIGRATIONS
        )
    finally:
        conn.close()


def _make_v1(db: Path) -> None:
    """A database as an older release left it: schema v1 with rows in every table."""
    conn = migrations.connect(db)
    try:
        assert migrations.migrate(conn, target=1) == 1
        assert "ai_cache" not in _tables(conn)
        assert "notified" not in _columns(conn, "processing_sessions")
        assert "provider" not in _columns(conn, "platform_results")
        ts = "2026-10-01T10:00:00.000000+00:00"
        conn.executescript(
            f"""
            INSERT INTO users (user_id, language, timezone, default_platforms, output_format,
                logo_path, logo_position, created_at, seen_at)
            VALUES (42, 'de', 'Europe/Berlin', '["instagram","x"]', 'PNG', '/logo.png',
                'top-left', '{ts}', '{ts}');
            INSERT INTO processing_sessions (id, user_id, status, source_path, source_hash,
                platforms, description, use_ai, options, started_at, completed_at, results)
            VALUES ('old1', 42, 'completed', '/src.jpg', 'abc123', '["instagram","x"]',
                'latte art', 1, '{{"tone":"casual"}}', '{ts}', '{ts}', '{{"ok":true}}');
            INSERT INTO processing_sessions (id, user_id, status, started_at)
            VALUES ('old2', 42, 'processing', '{ts}');
            INSERT INTO platform_results (session_id, platform, status, image_path, niches,
                hashtags, caption, profiles, processing_seconds, product_photography_used)
            VALUES ('old1', 'instagram', 'completed', '/ig.jpg', '["coffee"]',
                '["#Coffee","#LatteArt"]', 'Morning latte', '[]', 1.5, 0);
            INSERT INTO generated_files (session_id, type, platform, path, size)
            VALUES ('old1', 'image', 'instagram', '/ig.jpg', 12345);
            INSERT INTO saved_accounts (user_id, handle, niche, platform, created_at)
            VALUES (42, 'cafe_one', 'coffee', '', '{ts}'),
                   (42, '@Cafe_One', 'coffee', 'instagram', '{ts}'),
                   (42, '@baker', 'food', '', '{ts}');
            """
        )
    finally:
        conn.close()


async def test_migrate_from_v1_keeps_data(tmp_path: Path) -> None:
    db = tmp_path / "old.sqlite3"
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

        # New features work on the upgraded file.
        with SqliteCache(db) as cache:
            cache.put("k", {"v": 1}, ttl_s=60)
            assert cache.get("k") == {"v": 1}
        interrupted = await repo.mark_interrupted()
        assert [s.id for s in interrupted] == ["old2"]
        assert [s.id for s in await repo.unnotified_interrupted()] == ["old2"]
    finally:
        await repo.close()

    conn = sqlite3.connect(db)
    try:
        assert migrations.current_version(conn) == migrations.LATEST
        assert "ai_cache" in _tables(conn)
        assert {"notified"} <= _columns(conn, "processing_sessions")
        assert {"provider", "error"} <= _columns(conn, "platform_results")
        assert "fit" in _columns(conn, "users")
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        conn.close()


async def test_v4_adds_the_crop_fit_with_default_auto(tmp_path: Path) -> None:
    """A v3 database (before users.fit) upgrades: old users get `auto`, new values are checked
    with the pipeline's rule (pipeline.models.FITS)."""
    db = tmp_path / "v3.sqlite3"
    conn = migrations.connect(db)
    try:
        assert migrations.migrate(conn, target=3) == 3
        assert "fit" not in _columns(conn, "users")
        ts = "2026-10-01T10:00:00.000000+00:00"
        conn.execute(
            "INSERT INTO users (user_id, language, output_format, created_at, seen_at) "
            "VALUES (7, 'fr', 'WEBP', ?, ?)",
            (ts, ts),
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

    conn = sqlite3.connect(db)
    try:
        assert migrations.current_version(conn) == migrations.LATEST >= 4
        info_rows = {r[1]: r for r in conn.execute("PRAGMA table_info(users)")}
        assert info_rows["fit"][3] == 1 and info_rows["fit"][4] == "'auto'"  # NOT NULL, default
    finally:
        conn.close()


async def test_newer_schema_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "future.sqlite3"
    migrations.migrate_path(db)
    conn = sqlite3.connect(db)
    conn.execute(
        "INSERT INTO schema_version VALUES (?, 'from the future', '2030-01-01')",
        (migrations.LATEST + 1,),
    )
    conn.commit()
    conn.close()
    with pytest.raises(StorageError) as info:
        await Repository.open(db)
    assert info.value.code == "SCHEMA_TOO_NEW"


def test_failed_step_rolls_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "db.sqlite3"
    migrations.migrate_path(db, target=1)
    broken = migrations.Migration(2, "broken", ("CREATE TABLE half_done (x)", "NOT SQL"))
    monkeypatch.setattr(migrations, "MIGRATIONS", (migrations.MIGRATIONS[0], broken))
    with pytest.raises(sqlite3.OperationalError):
        migrations.migrate_path(db, target=2)
    conn = sqlite3.connect(db)
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
