"""Bot load bench: 20 simulated users send photos at once through the fake Bot API server.

Runs the real `build_application` (offline pipeline, real storage in a temp dir) against
`tests/fake_telegram.py` on 127.0.0.1 and reports:
- time to the first answer (photo sent -> platform keyboard), p50/p95;
- while jobs run, another user's photo -> keyboard time, p50/p95 (target p95 < 250 ms);
- time to the last result (photo sent -> closing message), p50/p95;
- jobs per minute (from the first job queued to the last result).
Writes bench/results/bot_load.json.

    .venv/bin/python bench/bot_load.py [--users 20] [--platforms instagram,x,...]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.app import build_application  # noqa: E402
from bot.context import SERVICES_KEY  # noqa: E402
from bot.jobs import job_workers  # noqa: E402
from socialopt.settings import Secret, Settings  # noqa: E402
from tests.fake_telegram import Call, FakeTelegram  # noqa: E402

PROBER = 999_999
FIRST_USER = 10_000


def pct(values: list[float], q: float) -> float:
    """q-th percentile (nearest rank) in milliseconds."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return round(ordered[index] * 1000, 1)


def summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50_ms": pct(values, 50),
        "p95_ms": pct(values, 95),
        "max_ms": round(max(values) * 1000, 1) if values else float("nan"),
    }


def _has(data_prefix: str):  # noqa: ANN202 - tiny predicate factory
    return lambda c: any(d.startswith(data_prefix) for _, d in c.buttons())


async def one_user(fake: FakeTelegram, user: int, photo: bytes, out: dict[str, Any]) -> None:
    """Photo -> keyboard -> Done -> /skip -> closing message; records the timings."""
    update_id = fake.send_photo(user, photo)
    sent_at = fake.injected_at[update_id]
    kb: Call = await fake.wait_call(user, "sendMessage", match=_has("p:done"), timeout=120)
    out["first_answer"] = kb.at - sent_at
    mark = len(fake.calls)
    fake.press(user, kb.result["message_id"], "p:done")
    await fake.wait_text(user, "description", since=mark, timeout=120)
    fake.send_command(user, "/skip")
    out["queued_at"] = time.perf_counter()
    closing = await fake.wait_call(
        user, "sendMessage", since=mark, match=_has("d:zip:"), timeout=600
    )
    out["last_result"] = closing.at - sent_at
    out["done_at"] = closing.at


async def prober(
    fake: FakeTelegram, app: Any, photo: bytes, latencies: list[float], stop: asyncio.Event
) -> None:
    """While jobs run, another user sends a photo about twice a second (then /cancel):
    the time to its first answer (the platform keyboard) is the responsiveness under load."""
    runner = app.bot_data[SERVICES_KEY].jobs
    while not stop.is_set():
        if runner.running_count:
            mark = len(fake.calls)
            update_id = fake.send_photo(PROBER, photo)
            answer = await fake.wait_call(
                PROBER, "sendMessage", since=mark, match=_has("p:done"), timeout=60
            )
            latencies.append(answer.at - fake.injected_at[update_id])
            fake.send_command(PROBER, "/cancel")
            await fake.wait_text(PROBER, "Cancelled", since=mark, timeout=60)
        await asyncio.sleep(0.4)


async def run(users: int, platforms: tuple[str, ...], photo_path: Path) -> dict[str, Any]:
    photo = photo_path.read_bytes()
    with tempfile.TemporaryDirectory(prefix="socialopt-bench-") as tmp:
        async with FakeTelegram() as fake:
            settings = Settings(
                data_dir=Path(tmp) / "data",
                telegram_bot_token=Secret(fake.token),
                telegram_api_base_url=fake.base_url,
                telegram_file_base_url=fake.base_file_url,
                default_platforms=platforms,
                ai_provider="offline",
                jobs_per_hour=1000,
            )
            app = build_application(settings)
            async with app:
                await app.post_init(app)
                await app.start()
                await app.updater.start_polling(poll_interval=0, timeout=1)
                results = [dict[str, Any]() for _ in range(users)]
                probes: list[float] = []
                stop = asyncio.Event()
                probe_task = asyncio.create_task(prober(fake, app, photo, probes, stop))
                started = time.perf_counter()
                await asyncio.gather(
                    *(one_user(fake, FIRST_USER + i, photo, results[i]) for i in range(users))
                )
                wall = time.perf_counter() - started
                stop.set()
                await probe_task
                timings = list(app.bot_data[SERVICES_KEY].jobs.timings)
                await app.updater.stop()
                await app.stop()
                await app.post_stop(app)
            await app.post_shutdown(app)
    first_queued = min(r["queued_at"] for r in results)
    last_done = max(r["done_at"] for r in results)
    jobs_per_min = users / (last_done - first_queued) * 60
    return {
        "users": users,
        "platforms": list(platforms),
        "photo": photo_path.name,
        "max_concurrent_jobs": settings.max_concurrent_jobs,
        "threads_per_job": job_workers(settings),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "first_answer": summary([r["first_answer"] for r in results]),
        "first_answer_while_jobs_run": summary(probes),
        "last_result": summary([r["last_result"] for r in results]),
        "jobs_per_minute": round(jobs_per_min, 1),
        "pipeline_jobs_per_minute": round(
            len(timings) / (max(end for _, end in timings) - first_queued) * 60, 1
        ),
        "job_seconds": summary([end - start for start, end in timings]),
        "bulk_send_rate_per_s": 20,
        "sends_per_user": round(
            sum(1 for c in fake.calls if c.chat_id and c.chat_id != PROBER) / users, 1
        ),
        "wall_s": round(wall, 2),
        "target_first_answer_p95_ms": 250,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument(
        "--platforms",
        default="instagram,facebook,linkedin,pinterest,x,tiktok",
        help="comma-separated platforms every user picks",
    )
    parser.add_argument("--photo", type=Path, default=ROOT / "samples" / "coffee.jpg")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "bot_load.json")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    report = asyncio.run(
        run(
            args.users,
            tuple(p.strip() for p in args.platforms.split(",") if p.strip()),
            args.photo,
        )
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    print(f"wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    print("first answer p50/p95: {p50_ms}/{p95_ms} ms".format(**report["first_answer"]))
    print(
        "first answer while jobs run p50/p95: {p50_ms}/{p95_ms} ms".format(
            **report["first_answer_while_jobs_run"]
        )
    )
    print("last result p50/p95: {p50_ms}/{p95_ms} ms".format(**report["last_result"]))
    print(
        f"jobs per minute: {report['jobs_per_minute']} delivered, "
        f"{report['pipeline_jobs_per_minute']} processed"
    )


if __name__ == "__main__":
    main()
