"""Bot load bench: how many users can send a photo at once before the first answer's p95
passes 1 s (the knee).

The bot runs as it does in production, in its own process (`python -m socialopt bot`, offline
pipeline, SQLite in a temp dir), against the fake Bot API (`tests/fakes/telegram.py`) in this
process on 127.0.0.1: listen backlog 1024, confirmed updates dropped as Telegram does, so the
fake does not distort the numbers. Each step starts a fresh bot; N users send the photo as a
file at once, press Done and /skip as soon as their keyboard comes, and wait for their closing
message. Per step:
- first answer (file sent -> platform keyboard), p50/p95/max;
- last result (file sent -> closing message), p50/p95;
- jobs per minute (first /skip to last closing message);
- queue-position edits, result uploads and all Bot API calls;
- the bot process's peak RSS (VmHWM).
Steps go up (--steps) until the first-answer p95 passes --target-ms; the knee is the last
step within it. Writes bench/results/bot_load.json. `--unthrottled` is an experiment only: it
lifts the bot's overall 30 messages/s limit (bot/ratelimit.py, Telegram's) in the bot process,
to show how much of the first answer's tail that limit is.

    .venv/bin/python bench/bot_load.py [--steps 20,40,60,80,100,120] [--platforms ...]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakes.telegram import LISTEN_BACKLOG, Call, FakeTelegram  # noqa: E402

FIRST_USER = 10_000
QUEUED = re.compile(r"In the queue")


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


def _has(prefix: str):  # noqa: ANN202 - tiny predicate factory
    return lambda c: any(d.startswith(prefix) for _, d in c.buttons())


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


async def one_user(fake: FakeTelegram, user: int, photo: bytes, out: dict[str, Any]) -> None:
    """File -> keyboard -> Done -> /skip -> closing message; records the timings."""
    update_id = fake.send_document(user, photo, "photo.jpg")
    sent_at = fake.injected_at[update_id]
    kb: Call = await fake.wait_call(user, "sendMessage", match=_has("p:done"), timeout=300)
    out["first_answer"] = kb.at - sent_at
    mark = len(fake.calls)
    fake.press(user, kb.result["message_id"], "p:done")
    await fake.wait_text(user, "description", since=mark, timeout=300)
    fake.send_command(user, "/skip")
    out["queued_at"] = time.perf_counter()
    closing = await fake.wait_call(
        user, "sendMessage", since=mark, match=_has("d:zip:"), timeout=1800
    )
    out["last_result"] = closing.at - sent_at
    out["done_at"] = closing.at


UNTHROTTLE = (
    "import bot.ratelimit as r\n"
    "r.PriorityRateLimiter.__init__.__kwdefaults__['overall_rate'] = 10000.0\n"
    "r.PriorityRateLimiter.__init__.__kwdefaults__['bulk_rate'] = 10000.0\n"
)


async def start_bot(
    fake: FakeTelegram, data_dir: Path, platforms: str, log: Any, *, unthrottled: bool = False
) -> Any:
    path = str(ROOT)
    if unthrottled:  # an experiment: a sitecustomize lifts the limiter's rates in the bot
        site = data_dir.parent / "site"
        site.mkdir(exist_ok=True)
        (site / "sitecustomize.py").write_text(UNTHROTTLE)
        path = f"{site}{os.pathsep}{ROOT}"
    env = {
        **{k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")},
        "PYTHONPATH": path,
        "TELEGRAM_BOT_TOKEN": fake.token,
        "TELEGRAM_API_BASE_URL": fake.base_url,
        "TELEGRAM_FILE_BASE_URL": fake.base_file_url,
        "DATA_DIR": str(data_dir),
        "AI_PROVIDER": "offline",
        "DEFAULT_PLATFORMS": platforms,
        "JOBS_PER_HOUR": "1000",
        "LOG_LEVEL": "WARNING",
    }
    mark = len(fake.calls)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "socialopt",
        "bot",
        cwd=data_dir.parent,
        env=env,
        stdout=log,
        stderr=log,
    )
    await fake.wait_call(None, "setMyCommands", since=mark, timeout=120)  # post_init done
    return proc


async def step(users: int, platforms: str, photo: bytes, unthrottled: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="socialopt-bench-") as tmp:
        async with FakeTelegram() as fake:
            log = (Path(tmp) / "bot.log").open("wb")
            proc = await start_bot(
                fake, Path(tmp) / "data", platforms, log, unthrottled=unthrottled
            )
            try:
                results = [dict[str, Any]() for _ in range(users)]
                started = time.perf_counter()
                await asyncio.gather(
                    *(one_user(fake, FIRST_USER + i, photo, results[i]) for i in range(users))
                )
                wall = time.perf_counter() - started
                peak = peak_rss_mb(proc.pid)
            finally:
                proc.send_signal(signal.SIGTERM)
                await proc.wait()
                log.close()
    first_queued = min(r["queued_at"] for r in results)
    last_done = max(r["done_at"] for r in results)
    user_calls = [c for c in fake.calls if c.chat_id]
    return {
        "users": users,
        "first_answer": summary([r["first_answer"] for r in results]),
        "last_result": summary([r["last_result"] for r in results]),
        "jobs_per_minute": round(users / (last_done - first_queued) * 60, 1),
        "queue_edits": sum(
            1 for c in user_calls if c.method == "editMessageText" and QUEUED.search(c.text)
        ),
        "result_uploads": sum(
            1 for c in user_calls if c.method in ("sendDocument", "sendPhoto", "sendMediaGroup")
        ),
        "bot_api_calls": len(user_calls),
        "bot_peak_rss_mb": peak,
        "wall_s": round(wall, 1),
    }


async def run(
    steps: list[int], platforms: str, photo_path: Path, target_ms: float, unthrottled: bool
) -> dict:
    photo = photo_path.read_bytes()
    done: list[dict[str, Any]] = []
    for users in steps:
        result = await step(users, platforms, photo, unthrottled)
        done.append(result)
        fa = result["first_answer"]
        print(
            f"{users:4d} users: first answer p50/p95 {fa['p50_ms']}/{fa['p95_ms']} ms, "
            f"last result p95 {result['last_result']['p95_ms'] / 1000:.1f} s, "
            f"{result['jobs_per_minute']} jobs/min, {result['queue_edits']} queue edits, "
            f"{result['result_uploads']} uploads, bot peak {result['bot_peak_rss_mb']} MB",
            flush=True,
        )
        if fa["p95_ms"] > target_ms:
            break
    within = [r["users"] for r in done if r["first_answer"]["p95_ms"] <= target_ms]
    return {
        "knee_users": max(within) if within else 0,
        "passed_target_at": next(
            (r["users"] for r in done if r["first_answer"]["p95_ms"] > target_ms), None
        ),
        "target_first_answer_p95_ms": target_ms,
        "platforms": platforms.split(","),
        "photo": photo_path.name,
        "sent_as": "file (document)",
        "fake_listen_backlog": LISTEN_BACKLOG,
        "overall_limit": "lifted (experiment)" if unthrottled else "30 messages/s",
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "steps": done,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", default="20,40,60,80,100,120")
    parser.add_argument(
        "--platforms",
        default="instagram,facebook,linkedin,pinterest,x,tiktok",
        help="comma-separated platforms every user gets",
    )
    parser.add_argument("--photo", type=Path, default=ROOT / "samples" / "coffee.jpg")
    parser.add_argument("--target-ms", type=float, default=1000.0)
    parser.add_argument("--unthrottled", action="store_true", help="experiment, see above")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "bot_load.json")
    args = parser.parse_args()
    steps = [int(s) for s in args.steps.split(",") if s.strip()]
    report = asyncio.run(run(steps, args.platforms, args.photo, args.target_ms, args.unthrottled))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(
        f"knee: {report['knee_users']} users within a first-answer p95 of "
        f"{args.target_ms:.0f} ms (passed at {report['passed_target_at']})"
    )


if __name__ == "__main__":
    main()
