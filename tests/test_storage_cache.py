"""AI cache: async on the repository, the sync cache on the same table (SqliteCache, or
PostgresCache for a postgresql:// URL), MemoryCache."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pipeline.services import cache_key
from storage.cache import MemoryCache, open_cache
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


def test_sql_cache_expiry(db_target: Path | str) -> None:
    clock = Clock()
    with open_cache(db_target, clock=clock) as cache:
        assert cache.get("k") is None
        cache.put("k", {"caption": "Hola", "tags": ["#a"]}, ttl_s=3600)
        clock.now += timedelta(minutes=59)
        assert cache.get("k") == {"caption": "Hola", "tags": ["#a"]}
        clock.now += timedelta(minutes=2)
        assert cache.get("k") is None  # expired
        cache.put("k", {"v": 2}, ttl_s=60)  # replaced with a fresh expiry
        assert cache.get("k") == {"v": 2}


async def test_repository_purges_what_the_sql_cache_wrote(db_target: Path | str) -> None:
    """The bot's repository and the pipeline threads' cache share the `ai_cache` table:
    housekeeping on the repository drops the expired entries the cache wrote, and only those."""
    clock = Clock()
    repo = await Repository.open(db_target, clock=clock)
    cache = open_cache(db_target, clock=clock)
    try:
        cache.put("kept", {"answer": 1}, ttl_s=100)
        cache.put("stale", {"answer": 2}, ttl_s=1)
        clock.now += timedelta(seconds=30)
        assert await repo.purge_expired_cache() == 1
        assert await repo.purge_expired_cache() == 0
        assert cache.get("kept") == {"answer": 1}
        clock.now += timedelta(seconds=71)
        assert cache.get("kept") is None
        assert await repo.purge_expired_cache() == 1
    finally:
        cache.close()
        await repo.close()


def test_sql_cache_creates_the_database_and_works_from_threads(db_target: Path | str) -> None:
    db = db_target
    with open_cache(db) as cache:
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
    assert not isinstance(db, Path) or db.exists()


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
