"""AI cache: async on the repository, sync SqliteCache on the same table, MemoryCache."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pipeline.services import cache_key
from storage.cache import MemoryCache, SqliteCache
from storage.repository import Repository


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def test_cache_key() -> None:
    base = cache_key("abc", ["instagram", "x"], "Latte art", "openai", "gpt-4.1-mini")
    assert len(base) == 64 and int(base, 16) >= 0
    assert cache_key("abc", ("x", "Instagram"), " Latte   art ", "openai", "gpt-4.1-mini") == base
    assert cache_key("abd", ["instagram", "x"], "Latte art", "openai", "gpt-4.1-mini") != base
    assert cache_key("abc", ["instagram"], "Latte art", "openai", "gpt-4.1-mini") != base
    assert cache_key("abc", ["instagram", "x"], "Latte", "openai", "gpt-4.1-mini") != base
    assert cache_key("abc", ["instagram", "x"], "Latte art", "gemini", "gpt-4.1-mini") != base
    assert cache_key("abc", ["instagram", "x"], "Latte art", "openai", "gpt-5") != base
    de = cache_key("abc", ["instagram", "x"], "Latte art", "openai", "gpt-4.1-mini", language="de")
    assert de != base
    assert de == cache_key(
        "abc", ["x", "instagram"], "Latte art", "openai", "gpt-4.1-mini", language="de"
    )


async def test_repository_cache_expiry(tmp_path: Path) -> None:
    clock = Clock()
    repo = await Repository.open(tmp_path / "db.sqlite3", clock=clock)
    try:
        assert await repo.cache_get("k") is None
        await repo.cache_put("k", {"caption": "Hola", "tags": ["#a"]}, ttl_s=3600)
        clock.now += timedelta(minutes=59)
        assert await repo.cache_get("k") == {"caption": "Hola", "tags": ["#a"]}
        clock.now += timedelta(minutes=2)
        assert await repo.cache_get("k") is None  # expired
        await repo.cache_put("k", {"v": 2}, ttl_s=60)  # replaced with a fresh expiry
        assert await repo.cache_get("k") == {"v": 2}
        await repo.cache_put("other", {"v": 3}, ttl_s=1)
        clock.now += timedelta(seconds=30)
        assert await repo.purge_expired_cache() == 1
        assert await repo.cache_get("k") == {"v": 2}
    finally:
        await repo.close()


async def test_sqlite_cache_shares_the_table(tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite3"
    clock = Clock()
    repo = await Repository.open(db, clock=clock)
    cache = SqliteCache(db, clock=clock)
    try:
        cache.put("from-thread", {"answer": 1}, ttl_s=100)
        assert await repo.cache_get("from-thread") == {"answer": 1}
        await repo.cache_put("from-bot", {"answer": 2}, ttl_s=100)
        assert cache.get("from-bot") == {"answer": 2}
        clock.now += timedelta(seconds=101)
        assert cache.get("from-thread") is None
        assert cache.get("from-bot") is None
        assert await repo.cache_get("from-bot") is None
    finally:
        cache.close()
        await repo.close()


def test_sqlite_cache_creates_the_database_and_works_from_threads(tmp_path: Path) -> None:
    db = tmp_path / "fresh" / "db.sqlite3"
    with SqliteCache(db) as cache:
        errors: list[BaseException] = []

        def worker(n: int) -> None:
            try:
                for i in range(20):
                    cache.put(f"{n}-{i}", {"n": n, "i": i}, ttl_s=60)
                    assert cache.get(f"{n}-{i}") == {"n": n, "i": i}
            except BaseException as exc:  # collected for the assert
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert cache.get("7-19") == {"n": 7, "i": 19}
        assert cache.get("missing") is None
    assert db.exists()


def test_memory_cache_expiry() -> None:
    clock = Clock()
    cache = MemoryCache(clock=clock)
    value = {"tags": ["#a"]}
    cache.put("k", value, ttl_s=10)
    value["tags"].append("#b")  # the cache keeps its own copy
    assert cache.get("k") == {"tags": ["#a"]}
    clock.now += timedelta(seconds=11)
    assert cache.get("k") is None
    assert len(cache) == 0
