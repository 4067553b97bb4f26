"""Repository behaviour on a real database, a SQLite file and a PostgreSQL schema: sessions,
isolation, concurrency, users, saved accounts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pipeline.errors import OptionsError, SocialOptError
from storage.cache import open_cache
from storage.db import is_integrity_error
from storage.errors import InvalidHandle, SessionNotFound, StorageError
from storage.records import FileRecord, PlatformRow, rows_from_results
from storage.repository import Repository, normalize_handle

A, B = 1001, 2002


@pytest.fixture
async def repo(db_target: Path | str) -> AsyncIterator[Repository]:
    repository = await Repository.open(db_target)
    try:
        yield repository
    finally:
        await repository.close()


def _rows(sid: str, platforms: tuple[str, ...] = ("instagram", "x")) -> list[PlatformRow]:
    return [
        PlatformRow(
            platform=p,
            status="completed",
            image_path=f"/data/sessions/{sid}/{p}.jpg",
            niches=["coffee"],
            hashtags=["#Coffee", f"#{p}"],
            caption=f"caption {p}",
            profiles=[{"handle": "@cafe", "source": "saved"}],
            processing_seconds=0.5,
            provider="offline",
        )
        for p in platforms
    ]


def _files(sid: str) -> list[FileRecord]:
    return [
        FileRecord(sid, "json", "", f"/data/sessions/{sid}/results.json", "", 1000),
        FileRecord(sid, "image", "instagram", f"/data/sessions/{sid}/ig.jpg", "", 200_000),
    ]


async def _completed(repo: Repository, uid: int, sid: str) -> None:
    await repo.create_session(
        uid,
        session_id=sid,
        source_path=f"/in/{sid}.jpg",
        source_hash="h" + sid,
        platforms=("instagram", "x"),
        description="latte",
        use_ai=False,
        options={"tone": "x"},
    )
    await repo.mark_processing(uid, sid)
    await repo.complete_session(
        uid, sid, results={"session_id": sid}, platform_rows=_rows(sid), files=_files(sid)
    )


async def test_session_lifecycle(repo: Repository) -> None:
    created = await repo.create_session(
        A,
        session_id="s1",
        source_path="/in/a.jpg",
        source_hash="abc",
        platforms=["instagram", "x"],
        description="Latte art",
        use_ai=True,
        options={"tone": "casual", "styles": ("flat_lay",)},
    )
    assert created.status == "pending" and created.user_id == A
    assert created.platforms == ("instagram", "x")
    assert created.options == {"tone": "casual", "styles": ["flat_lay"]}
    assert created.completed_at is None and created.results is None

    await repo.mark_processing(A, "s1")
    assert (await repo.get_session(A, "s1")).status == "processing"

    await repo.complete_session(
        A,
        "s1",
        results={"session_id": "s1", "n": 2},
        platform_rows=_rows("s1"),
        files=_files("s1"),
    )
    done = await repo.get_session(A, "s1")
    assert done.status == "completed" and done.results == {"session_id": "s1", "n": 2}
    assert done.completed_at is not None and done.completed_at >= done.started_at
    rows = await repo.list_platform_rows(A, "s1")
    assert [r.platform for r in rows] == ["instagram", "x"]
    assert rows[0].hashtags == ["#Coffee", "#instagram"]
    assert rows[0].profiles == [{"handle": "@cafe", "source": "saved"}]
    assert [f.type for f in await repo.list_files(A, "s1")] == ["json", "image"]
    assert await repo.user_disk_usage(A) == 201_000

    # Completing again replaces the rows instead of doubling them.
    await repo.complete_session(
        A, "s1", results={}, platform_rows=_rows("s1", ("x",)), files=_files("s1")[:1]
    )
    assert [r.platform for r in await repo.list_platform_rows(A, "s1")] == ["x"]
    assert await repo.user_disk_usage(A) == 1000


async def test_fail_session_records_error(repo: Repository) -> None:
    await repo.create_session(A, session_id="f1", platforms=["x"])
    await repo.mark_processing(A, "f1")
    await repo.fail_session(A, "f1", "PROCESSING_FAILED", "Rendering failed.")
    failed = await repo.get_session(A, "f1")
    assert failed.status == "failed"
    assert (failed.error_code, failed.error_message) == ("PROCESSING_FAILED", "Rendering failed.")
    assert failed.completed_at is not None


async def test_user_isolation(repo: Repository) -> None:
    await _completed(repo, A, "a-session")
    await repo.create_session(A, session_id="a-pending", platforms=["x"])

    # B knows A's session ids but cannot read them...
    assert await repo.get_session(B, "a-session") is None
    assert await repo.list_sessions(B) == []
    assert await repo.last_session(B) is None
    assert await repo.list_files(B, "a-session") == []
    assert await repo.list_platform_rows(B, "a-session") == []
    assert await repo.user_disk_usage(B) == 0
    assert await repo.count_sessions_since(B, datetime(2000, 1, 1, tzinfo=UTC)) == 0
    # ...nor change them.
    with pytest.raises(SessionNotFound):
        await repo.mark_processing(B, "a-pending")
    with pytest.raises(SessionNotFound):
        await repo.complete_session(
            B,
            "a-pending",
            results={"stolen": True},
            platform_rows=_rows("a-pending"),
            files=_files("a-pending"),
        )
    with pytest.raises(SessionNotFound):
        await repo.fail_session(B, "a-session", "X", "overwritten")
    with pytest.raises(SessionNotFound):
        await repo.mark_notified(B, "a-session")
    assert await repo.delete_session(B, "a-session") is False

    # A's rows are untouched, including by the rolled-back complete_session.
    pending = await repo.get_session(A, "a-pending")
    assert pending.status == "pending" and pending.results is None
    assert await repo.list_platform_rows(A, "a-pending") == []
    assert await repo.list_files(A, "a-pending") == []
    done = await repo.get_session(A, "a-session")
    assert done.status == "completed" and done.error_code is None
    assert {s.id for s in await repo.list_sessions(A)} == {"a-session", "a-pending"}

    # B can reuse nothing of A's: creating a session with A's id is refused.
    with pytest.raises(StorageError) as info:
        await repo.create_session(B, session_id="a-session")
    assert info.value.code == "SESSION_EXISTS"


async def test_session_not_found_is_a_socialopt_error(repo: Repository) -> None:
    with pytest.raises(SocialOptError) as info:
        await repo.mark_processing(A, "missing")
    assert info.value.code == "SESSION_NOT_FOUND"


async def test_unsafe_session_id_refused(repo: Repository) -> None:
    for bad in ("../etc", "a/b", "", "x" * 65):
        if not bad:
            continue
        with pytest.raises(StorageError):
            await repo.create_session(A, session_id=bad)
    generated = await repo.create_session(A)
    assert len(generated.id) == 32


async def test_list_and_last_and_count(db_target: Path | str) -> None:
    now = [datetime(2026, 11, 1, 12, 0, tzinfo=UTC)]
    repo = await Repository.open(db_target, clock=lambda: now[0])
    try:
        for i in range(5):
            await _completed(repo, A, f"s{i}")
            now[0] += timedelta(minutes=20)
        await repo.create_session(A, session_id="running")
        await repo.mark_processing(A, "running")

        listed = await repo.list_sessions(A, limit=3)
        assert [s.id for s in listed] == ["running", "s4", "s3"]
        assert [s.id for s in await repo.list_sessions(A, limit=2, offset=3)] == ["s2", "s1"]
        assert (await repo.last_session(A)).id == "s4"  # newest completed
        assert (await repo.last_session(A, status=None)).id == "running"
        since = datetime(2026, 11, 1, 13, 0, tzinfo=UTC)
        assert await repo.count_sessions_since(A, since) == 3  # s3, s4, running
        assert await repo.count_sessions_since(A, since.replace(tzinfo=None)) == 3
    finally:
        await repo.close()


async def test_200_concurrent_writes(
    repo: Repository, db_target: Path | str, run_sql: Callable[..., list]
) -> None:
    """Many tasks writing at once, and pipeline threads filling the AI cache on the same
    database through their own connection: no `database is locked`, every row present."""
    cache = open_cache(db_target)

    async def job(i: int) -> None:
        uid = 10 + i % 7
        sid = f"c{i:03d}"
        await repo.create_session(uid, session_id=sid, platforms=["instagram", "x"])
        await repo.mark_processing(uid, sid)
        if i % 10 == 0:
            await repo.fail_session(uid, sid, "PROCESSING_FAILED", "boom")
        else:
            await repo.complete_session(
                uid, sid, results={"i": i}, platform_rows=_rows(sid), files=_files(sid)
            )
        await asyncio.to_thread(cache.put, f"k{i}", {"i": i}, 60)
        await repo.add_account(uid, f"acct{i}", "coffee")

    with cache:
        results = await asyncio.gather(*(job(i) for i in range(200)), return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert errors == []

    per_user = [len(await repo.list_sessions(10 + u, limit=1000)) for u in range(7)]
    assert sum(per_user) == 200
    counts = dict(
        run_sql(db_target, "SELECT status, COUNT(*) FROM processing_sessions GROUP BY status")
    )
    assert counts == {"completed": 180, "failed": 20}
    assert run_sql(db_target, "SELECT COUNT(*) FROM platform_results") == [(360,)]
    assert run_sql(db_target, "SELECT COUNT(*) FROM ai_cache") == [(200,)]
    assert run_sql(db_target, "SELECT COUNT(*) FROM saved_accounts") == [(200,)]


async def test_concurrent_writes_from_two_repositories(db_target: Path | str) -> None:
    """Two connections on one database (like the bot and a CLI run) wait instead of failing."""
    first, second = await Repository.open(db_target), await Repository.open(db_target)
    try:

        async def job(repo: Repository, i: int) -> None:
            await _completed(repo, 1, f"d{i:03d}")

        await asyncio.gather(*(job(first if i % 2 else second, i) for i in range(100)))
        assert len(await first.list_sessions(1, limit=500)) == 100
    finally:
        await first.close()
        await second.close()


async def test_user_settings_roundtrip(repo: Repository) -> None:
    assert await repo.get_user(A) is None
    created = await repo.ensure_user(A, language="pt-BR")
    assert created.language == "pt" and created.timezone == "UTC"
    assert created.default_platforms == () and created.output_format == "JPEG"
    again = await repo.ensure_user(A, language="ru")
    assert again.language == "pt"  # an existing choice is not overwritten
    assert again.seen_at >= created.seen_at
    assert (await repo.ensure_user(B, language="xx")).language == "en"

    updated = await repo.update_user(
        A,
        language="de",
        timezone="Europe/Berlin",
        default_platforms=["ig", "twitter"],
        output_format="webp",
        logo_path="/data/logos/1001.png",
        logo_position="top-left",
        logo_size_pct=20,
    )
    assert updated.language == "de" and updated.timezone == "Europe/Berlin"
    assert updated.default_platforms == ("instagram", "x")
    assert updated.output_format == "WEBP"
    assert (updated.logo_path, updated.logo_position, updated.logo_size_pct) == (
        "/data/logos/1001.png",
        "top-left",
        20.0,
    )
    assert await repo.get_user(A) == updated
    assert (await repo.get_user(B)).language == "en"

    for field, value, code in [
        ("language", "klingon", "UNKNOWN_LANGUAGE"),
        ("timezone", "Mars/Olympus", "UNKNOWN_TIMEZONE"),
        ("output_format", "GIF", "UNKNOWN_FORMAT"),
        ("default_platforms", ["myspace"], "UNKNOWN_PLATFORM"),
        ("logo_position", "middle", "INVALID_LOGO"),
    ]:
        with pytest.raises(OptionsError) as info:
            await repo.update_user(A, **{field: value})
        assert info.value.code == code
    with pytest.raises(TypeError):
        await repo.update_user(A, user_id=5)
    assert await repo.get_user(A) == updated  # nothing changed by the refused updates

    fresh = await repo.update_user(3003, timezone="Asia/Tokyo")  # creates the user
    assert fresh.timezone == "Asia/Tokyo"


async def test_accounts_add_remove_list(repo: Repository) -> None:
    first = await repo.add_account(A, "cafe_one", "Coffee")
    assert (first.handle, first.niche, first.platform, first.source) == (
        "@cafe_one",
        "coffee",
        "",
        "saved",
    )
    await repo.add_account(A, " @@Cafe_One ", "coffee", "ig")  # same handle: updated
    await repo.add_account(A, "https://www.instagram.com/baker.daily/", "food", "instagram")
    await repo.add_account(A, "@tweeter", "coffee", "x")
    await repo.add_account(B, "@cafe_one", "coffee")

    mine = await repo.list_accounts(A)
    assert [a.handle for a in mine] == ["@Cafe_One", "@tweeter", "@baker.daily"]
    assert [a.handle for a in await repo.list_accounts(A, niche="COFFEE")] == [
        "@Cafe_One",
        "@tweeter",
    ]
    assert [a.handle for a in await repo.list_accounts(A, platform="x")] == ["@tweeter"]
    await repo.add_account(A, "anyone", "coffee")  # no platform: offered for every platform
    assert [a.handle for a in await repo.list_accounts(A, niche="coffee", platform="x")] == [
        "@anyone",
        "@tweeter",
    ]

    assert await repo.remove_account(A, "CAFE_ONE") is True
    assert await repo.remove_account(A, "@cafe_one") is False
    assert await repo.remove_account(A, "not a handle!") is False
    assert "@Cafe_One" not in [a.handle for a in await repo.list_accounts(A)]
    assert [a.handle for a in await repo.list_accounts(B)] == ["@cafe_one"]  # B keeps theirs

    with pytest.raises(InvalidHandle) as info:
        await repo.add_account(A, "two words", "coffee")
    assert info.value.code == "INVALID_HANDLE"


def test_normalize_handle() -> None:
    assert normalize_handle("brand") == "@brand"
    assert normalize_handle("@@brand ") == "@brand"
    assert normalize_handle("https://x.com/brand") == "@brand"
    assert normalize_handle("https://www.linkedin.com/in/jane-doe/") == "@jane-doe"
    for bad in ("", "@", "a b", "x" * 65, "semi;colon"):
        with pytest.raises(InvalidHandle):
            normalize_handle(bad)


async def test_rows_from_results_json_roundtrip(repo: Repository) -> None:
    """Rows built from a results.json document (what the bot and the CLI store) come back
    from the database exactly, the failed platform with its error."""
    doc = {
        "platforms": {
            "pinterest": {
                "status": "completed",
                "processed_image": "pinterest.jpg",
                "image_url": "https://res.example/pin.jpg",
                "niches": ["coffee"],
                "hashtags": "#Coffee",
                "hashtag_list": ["#Coffee"],
                "caption": "Pin me",
                "accounts": [{"handle": "@cafe", "platform": "pinterest", "niche": "coffee"}],
                "processing_time": 1.25,
                "product_photography_used": False,
                "provider": "gemini",
                "error": None,
            },
            "x": {"status": "failed", "error": {"code": "PROCESSING_FAILED", "message": "no"}},
        }
    }
    rows = rows_from_results(doc)
    await repo.create_session(A, session_id="job", platforms=["pinterest", "x"])
    await repo.complete_session(A, "job", results=doc, platform_rows=rows, files=[])
    stored = await repo.list_platform_rows(A, "job")
    assert stored == rows
    assert (stored[0].platform, stored[0].image_path) == ("pinterest", "pinterest.jpg")
    assert stored[0].hashtags == ["#Coffee"] and stored[0].provider == "gemini"
    assert stored[0].profiles[0]["handle"] == "@cafe"
    assert stored[1].status == "failed"
    assert stored[1].error == {"code": "PROCESSING_FAILED", "message": "no"}


async def test_close_twice(db_target: Path | str) -> None:
    """Closing is idempotent, a closed repository refuses work, and what it committed stays."""
    db = db_target
    repo = await Repository.open(db)
    await repo.create_session(A, session_id="kept")
    await repo.close()
    await repo.close()  # a second close is a no-op, not an error
    with pytest.raises(ValueError):
        await repo.get_session(A, "kept")
    async with await Repository.open(db) as again:
        assert (await again.get_session(A, "kept")).id == "kept"


async def test_failed_transaction_rolls_back_and_cancellation_leaves_no_transaction(
    repo: Repository,
) -> None:
    await repo.create_session(A, session_id="t1")
    bad_rows = [PlatformRow("x"), PlatformRow("x")]  # duplicate platform: UNIQUE violated
    with pytest.raises(Exception) as info:
        await repo.complete_session(A, "t1", results={"r": 1}, platform_rows=bad_rows, files=[])
    assert is_integrity_error(info.value), info.value
    assert (await repo.get_session(A, "t1")).status == "pending"  # the UPDATE was undone

    tasks = [asyncio.create_task(_completed(repo, A, f"cx{i}")) for i in range(20)]
    await asyncio.sleep(0)
    for task in tasks[::2]:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await _completed(repo, A, "after")  # the connection is usable, no transaction left open
    assert (await repo.get_session(A, "after")).status == "completed"
