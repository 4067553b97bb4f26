"""Retention (sessions and their folders go after N days) and the per-user disk quota."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pipeline.errors import SocialOptError
from storage.errors import QuotaExceeded
from storage.records import FileRecord, PlatformRow, files_in_dir
from storage.repository import Repository

MB = 1024 * 1024


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def _session_dir(data_dir: Path, sid: str, size: int) -> list[FileRecord]:
    folder = data_dir / "sessions" / sid
    folder.mkdir(parents=True)
    (folder / "results.json").write_text("{}")
    (folder / "instagram_1080x1350.jpg").write_bytes(b"\0" * size)
    return files_in_dir(sid, folder)


async def _job(repo: Repository, uid: int, sid: str, data_dir: Path, size: int = 100) -> None:
    await repo.create_session(uid, session_id=sid, platforms=["instagram"])
    await repo.mark_processing(uid, sid)
    await repo.complete_session(
        uid,
        sid,
        results={},
        platform_rows=[PlatformRow("instagram")],
        files=_session_dir(data_dir, sid, size),
    )


async def test_purge_older_than_deletes_rows_and_folders(
    tmp_path: Path, db_target: Path | str
) -> None:
    data_dir = tmp_path / "data"
    clock = Clock()
    repo = await Repository.open(db_target, clock=clock)
    try:
        await _job(repo, 1, "old-a", data_dir)
        await _job(repo, 2, "old-b", data_dir)
        await repo.create_session(1, session_id="old-running")
        await repo.mark_processing(1, "old-running")
        clock.now += timedelta(days=20)
        await _job(repo, 1, "recent", data_dir)
        clock.now += timedelta(days=15)  # old-* are 35 days old, recent is 15
        outside = tmp_path / "keep.txt"
        outside.write_text("not ours")

        assert await repo.purge_older_than(0, data_dir) == 0  # 0 = keep everything
        assert await repo.purge_older_than(30, data_dir) == 2

        assert await repo.get_session(1, "old-a") is None
        assert await repo.get_session(2, "old-b") is None
        assert await repo.list_files(1, "old-a") == []
        assert not (data_dir / "sessions" / "old-a").exists()
        assert not (data_dir / "sessions" / "old-b").exists()
        assert (await repo.get_session(1, "recent")).status == "completed"
        assert (data_dir / "sessions" / "recent" / "results.json").exists()
        assert (await repo.get_session(1, "old-running")).status == "processing"
        assert outside.exists()

        # Cascade removed the child rows too.
        rows = await repo._fetchall(
            "SELECT COUNT(*) FROM platform_results WHERE session_id IN ('old-a', 'old-b')"
        )
        assert rows[0][0] == 0
        files = await repo._fetchall("SELECT COUNT(*) FROM generated_files")
        assert files[0][0] == 2  # only recent's two files remain
    finally:
        await repo.close()


async def test_delete_session_removes_folder(tmp_path: Path, db_target: Path | str) -> None:
    data_dir = tmp_path / "data"
    repo = await Repository.open(db_target)
    try:
        await _job(repo, 1, "mine", data_dir)
        assert await repo.delete_session(2, "mine", data_dir) is False
        assert (data_dir / "sessions" / "mine").exists()
        assert await repo.delete_session(1, "mine", data_dir) is True
        assert not (data_dir / "sessions" / "mine").exists()
        assert await repo.get_session(1, "mine") is None
    finally:
        await repo.close()


async def test_quota(tmp_path: Path, db_target: Path | str) -> None:
    data_dir = tmp_path / "data"
    repo = await Repository.open(db_target)
    try:
        await _job(repo, 1, "big1", data_dir, size=3 * MB)
        await _job(repo, 1, "big2", data_dir, size=2 * MB)
        await _job(repo, 2, "small", data_dir, size=MB // 2)

        used = await repo.user_disk_usage(1)
        assert used == 5 * MB + 4  # two images plus two "{}" results files
        assert await repo.user_disk_usage(2) == MB // 2 + 2
        assert await repo.user_disk_usage(3) == 0

        await repo.check_quota(1, 10 * MB)  # under: no error
        await repo.check_quota(2, 1 * MB)
        await repo.check_quota(1, 0)  # 0 = no quota
        with pytest.raises(QuotaExceeded) as info:
            await repo.check_quota(1, 4 * MB)
        err = info.value
        assert isinstance(err, SocialOptError)
        assert err.code == "QUOTA_EXCEEDED"
        assert "5.0 MB" in err.message and "4.0 MB" in err.message
        assert (err.used_bytes, err.quota_bytes) == (used, 4 * MB)
        assert err.user_text().endswith("(QUOTA_EXCEEDED)")

        # Freeing space lifts the refusal.
        await repo.delete_session(1, "big1", data_dir)
        await repo.check_quota(1, 4 * MB)
    finally:
        await repo.close()
