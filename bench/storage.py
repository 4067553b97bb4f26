"""Storage benchmark: sessions written and read per second with concurrent asyncio tasks.

Each task creates sessions, marks them processing and completes them with one row per
platform (6) and 8 file records; then every task reads its sessions back (session, platform
rows, files). Runs on a fresh SQLite file in a temp dir (WAL, synchronous=NORMAL).

    .venv/bin/python bench/storage.py [--tasks 50] [--sessions-per-task 40]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from storage.records import FileRecord, PlatformRow  # noqa: E402
from storage.repository import Repository  # noqa: E402

PLATFORMS = ("instagram", "facebook", "linkedin", "pinterest", "x", "tiktok")


def _rows(sid: str) -> list[PlatformRow]:
    return [
        PlatformRow(
            platform=p,
            image_path=f"/data/sessions/{sid}/{p}_1080x1350.jpg",
            niches=[{"key": "coffee", "name": "Coffee", "score": 0.8}],
            hashtags=[f"#Tag{i}" for i in range(15)],
            caption="Morning latte art in my favourite cafe. " * 4,
            profiles=[{"handle": "@cafe_one", "source": "saved"}],
            processing_seconds=0.8,
        )
        for p in PLATFORMS
    ]


def _files(sid: str) -> list[FileRecord]:
    files = [FileRecord(sid, "image", p, f"/d/{sid}/{p}.jpg", "", 250_000) for p in PLATFORMS]
    files.append(FileRecord(sid, "json", "", f"/d/{sid}/results.json", "", 9_000))
    files.append(FileRecord(sid, "zip", "", f"/d/{sid}/all.zip", "", 1_500_000))
    return files


async def run(tasks: int, per_task: int, db: Path) -> dict[str, float | int]:
    repo = await Repository.open(db)
    results = {"platforms": list(PLATFORMS), "pad": "z" * 3000}
    try:

        async def writer(t: int) -> list[tuple[int, str]]:
            made = []
            uid = 1000 + t
            for i in range(per_task):
                sid = f"b{t:03d}-{i:04d}"
                await repo.create_session(
                    uid,
                    session_id=sid,
                    platforms=PLATFORMS,
                    description="latte",
                    options={"tone": "casual"},
                )
                await repo.mark_processing(uid, sid)
                await repo.complete_session(
                    uid, sid, results=results, platform_rows=_rows(sid), files=_files(sid)
                )
                made.append((uid, sid))
            return made

        async def reader(made: list[tuple[int, str]]) -> int:
            n = 0
            for uid, sid in made:
                session = await repo.get_session(uid, sid)
                rows = await repo.list_platform_rows(uid, sid)
                files = await repo.list_files(uid, sid)
                assert session is not None and session.status == "completed"
                assert len(rows) == len(PLATFORMS) and len(files) == 8
                n += 1
            return n

        start = time.perf_counter()
        made = await asyncio.gather(*(writer(t) for t in range(tasks)))
        write_s = time.perf_counter() - start

        start = time.perf_counter()
        read = await asyncio.gather(*(reader(m) for m in made))
        read_s = time.perf_counter() - start

        start = time.perf_counter()
        listed = await asyncio.gather(*(repo.list_sessions(1000 + t) for t in range(tasks)))
        list_s = time.perf_counter() - start
        assert all(len(x) == min(10, per_task) for x in listed)
        assert await repo.integrity_check() == "ok"
    finally:
        await repo.close()
    sessions = tasks * per_task
    assert sum(read) == sessions
    return {
        "tasks": tasks,
        "sessions": sessions,
        "platform_rows_per_session": len(PLATFORMS),
        "write_seconds": round(write_s, 3),
        "sessions_written_per_s": round(sessions / write_s, 1),
        "read_seconds": round(read_s, 3),
        "sessions_read_per_s": round(sessions / read_s, 1),
        "list_sessions_calls_per_s": round(tasks / list_s, 1),
        "db_bytes": db.stat().st_size,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=50)
    parser.add_argument("--sessions-per-task", type=int, default=40)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "storage.json")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        numbers = asyncio.run(run(args.tasks, args.sessions_per_task, Path(tmp) / "b.sqlite3"))

    report = {
        **numbers,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "machine": platform.machine(),
        "note": "one aiosqlite connection, asyncio.Lock around BEGIN IMMEDIATE transactions, "
        "WAL, synchronous=NORMAL; write = create + mark_processing + complete_session "
        "(6 platform rows, 8 files); read = get_session + list_platform_rows + list_files",
    }
    width = max(len(k) for k in numbers)
    print(f"Storage benchmark ({args.tasks} concurrent tasks)")
    print("-" * (width + 16))
    for key, value in numbers.items():
        print(f"{key.ljust(width)}  {value:>12}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwritten to {args.out}")


if __name__ == "__main__":
    main()
