"""The crash case: a process killed with SIGKILL mid-job leaves a sound database whose
running sessions become `interrupted`, and each owner is told once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from storage.errors import SessionNotFound
from storage.repository import Repository

ROOT = Path(__file__).resolve().parents[1]

CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from storage.cache import open_cache
    from storage.records import FileRecord, PlatformRow
    from storage.repository import Repository

    PLATFORMS = ["instagram", "facebook", "linkedin", "pinterest", "x", "tiktok"]

    async def main(db):
        repo = await Repository.open(db)
        cache = open_cache(db)
        await repo.create_session(7, session_id="victim", platforms=PLATFORMS)
        await repo.mark_processing(7, "victim")
        await repo.create_session(8, session_id="other-victim", platforms=["x"])
        await repo.mark_processing(8, "other-victim")
        await repo.create_session(7, session_id="finished", platforms=["x"])
        await repo.complete_session(7, "finished", results={"ok": True},
                                    platform_rows=[PlatformRow("x")], files=[])
        print("READY", flush=True)
        i = 0
        while True:  # keep writing until killed
            sid = f"w{i}"
            await repo.create_session(9, session_id=sid, platforms=PLATFORMS)
            await repo.mark_processing(9, sid)
            rows = [PlatformRow(p, caption="x" * 2000, hashtags=["#a"] * 30) for p in PLATFORMS]
            files = [FileRecord(sid, "image", p, f"/d/{sid}/{p}.jpg", "", 1000) for p in PLATFORMS]
            await repo.complete_session(9, sid, results={"i": i, "pad": "y" * 4000},
                                        platform_rows=rows, files=files)
            cache.put(f"k{i}", {"i": i}, ttl_s=60)  # a pipeline thread's own connection
            i += 1
            if i == 25:
                print("WRITING", flush=True)

    asyncio.run(main(sys.argv[1]))
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
async def test_sigkill_mid_job_leaves_a_recoverable_database(
    db_target: Path | str, run_sql: Callable[..., list]
) -> None:
    db = db_target
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(db)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "READY", child.stderr.read()
        assert child.stdout.readline().strip() == "WRITING", child.stderr.read()
        os.kill(child.pid, signal.SIGKILL)  # mid-write: the loop never pauses
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        if child.stdout:
            child.stdout.close()
        if child.stderr:
            child.stderr.close()
    assert child.returncode == -signal.SIGKILL

    if isinstance(db, Path):  # SQLite's own file checks (PostgreSQL keeps its pages itself)
        assert run_sql(db, "PRAGMA integrity_check") == [("ok",)]
        assert run_sql(db, "PRAGMA foreign_key_check") == []
    [(written,)] = run_sql(
        db, "SELECT COUNT(*) FROM processing_sessions WHERE user_id = 9 AND status = 'completed'"
    )
    # Committed sessions are whole: six platform rows each, never a half-written one.
    [(partial,)] = run_sql(
        db,
        "SELECT COUNT(*) FROM processing_sessions s WHERE s.status = 'completed' "
        "AND s.user_id = 9 AND (SELECT COUNT(*) FROM platform_results p "
        "WHERE p.session_id = s.id) != 6",
    )
    assert written >= 25
    assert partial == 0

    repo = await Repository.open(db)
    try:
        interrupted = await repo.mark_interrupted()
        ids = {s.id for s in interrupted}
        assert {"victim", "other-victim"} <= ids
        assert "finished" not in ids
        assert all(s.status == "interrupted" and not s.notified for s in interrupted)
        victim = await repo.get_session(7, "victim")
        assert victim.status == "interrupted" and victim.error_code == "INTERRUPTED"
        assert (await repo.get_session(7, "finished")).status == "completed"
        assert await repo.mark_interrupted() == []  # nothing left running

        pending = await repo.unnotified_interrupted()
        assert {(s.user_id, s.id) for s in pending} >= {(7, "victim"), (8, "other-victim")}
        with pytest.raises(SessionNotFound):
            await repo.mark_notified(8, "victim")  # not 8's session
        await repo.mark_notified(7, "victim")
        await repo.mark_notified(8, "other-victim")
        left = {s.id for s in await repo.unnotified_interrupted()}
        assert "victim" not in left and "other-victim" not in left
        assert (await repo.get_session(7, "victim")).notified is True
        assert await repo.integrity_check() == "ok"
    finally:
        await repo.close()
