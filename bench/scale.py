"""Jobs through the API on Celery workers: 1 worker process, then 2 (this machine has 2 cores).

    .venv/bin/python bench/scale.py [--jobs 40]

Each run: JOB_BACKEND=celery on the local Redis, a fresh data folder, N jobs of a 12 MP photo
to the six first-release platforms, MAX_WORKERS=1 per worker. Three ways, each with 1 and 2
workers: through the API submitted one after another (jobs per minute, p95 submit-to-
completed); pre-queued (every job queued before the workers start: the workers' own rate);
pre-queued with each worker pinned to its own core (a stand-in for one machine per worker).
Then the queue's own overhead per job: tiny jobs (one small image, one platform) through
Celery against the same jobs with JOB_BACKEND=local. Writes bench/results/scale.json.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import redis
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.api_helpers import api_settings, create_key, serve  # noqa: E402
from tests.test_scale_celery import start_worker, stop  # noqa: E402

SIX = "instagram,facebook,linkedin,pinterest,x,tiktok"
REDIS_DB = 12


def photo_12mp() -> bytes:
    img = Image.open(ROOT / "samples" / "dandelions.jpg").convert("RGB").resize((4000, 3000))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def tiny() -> bytes:
    buf = io.BytesIO()
    Image.open(ROOT / "samples" / "coffee.jpg").save(buf, "JPEG")
    return buf.getvalue()


def run(
    backend: str,
    workers: int,
    image: bytes,
    platforms: str,
    jobs: int,
    prequeue: bool = False,
    pin: bool = False,
) -> dict:
    """One run. With `prequeue`, every job is queued before the workers start, and the rate
    is the workers' own: first job started (its progress t0) to last completed_at. With `pin`,
    worker i runs on core i alone: a stand-in for one machine per worker (one job already
    spreads over both cores of this machine, so unpinned workers share the same two)."""
    url = f"redis://127.0.0.1:6379/{REDIS_DB}"
    redis.Redis.from_url(url).flushdb()
    with tempfile.TemporaryDirectory(prefix="socialopt-scale-") as tmp:
        tmp_path = Path(tmp)
        settings = api_settings(
            tmp_path,
            job_backend=backend,
            redis_url=url,
            celery_broker_url=url,
            max_concurrent_jobs=workers,
            max_workers=1,
            api_rate_optimize="10000/minute",
            api_rate_overall="100000/hour",
            jobs_per_hour=0,
            user_quota_mb=0,
        )
        env = {
            "DATA_DIR": str(settings.data_dir),
            "JOB_BACKEND": "celery",
            "REDIS_URL": url,
            "CELERY_BROKER_URL": url,
            "AI_PROVIDER": "offline",
            "MAX_WORKERS": "1",
            "LOG_LEVEL": "WARNING",
        }
        procs = (
            [start_worker(tmp_path, env, f"w{i}") for i in range(workers)]
            if backend == "celery" and not prequeue
            else []
        )
        # each job by its own key: the API runs one job per user at a time
        keys = [create_key(settings, f"k{i}").key for i in range(jobs)]
        try:
            with serve(settings) as served:
                clients = [served.client(k) for k in keys]
                if procs:  # let the workers come up before the clock starts
                    time.sleep(3)
                submitted: dict[str, float] = {}
                start = time.perf_counter()
                for client in clients:
                    resp = client.post(
                        "/api/v1/optimize/image",
                        data={"platforms": platforms},
                        files={"image": ("p.jpg", image, "image/jpeg")},
                    )
                    resp.raise_for_status()
                    submitted[resp.json()["session_id"]] = time.perf_counter()
                if prequeue:
                    procs = [
                        start_worker(tmp_path, env, f"w{i}", cpu=i if pin else None)
                        for i in range(workers)
                    ]
                done: dict[str, float] = {}
                ended: dict[str, float] = {}
                pending = dict(zip(submitted, clients, strict=True))
                while pending:
                    for sid, client in list(pending.items()):
                        body = client.get(f"/api/v1/optimize/status/{sid}").json()
                        if body["status"] not in ("pending", "processing"):
                            assert body["status"] == "completed", body
                            done[sid] = time.perf_counter()
                            ended[sid] = datetime.fromisoformat(body["completed_at"]).timestamp()
                            del pending[sid]
                    time.sleep(0.25)  # light polling: the API shares the two cores
                wall = time.perf_counter() - start
                for client in clients:
                    client.close()
        finally:
            for proc in procs:
                stop(proc)
    latencies = sorted(done[s] - submitted[s] for s in done)
    if prequeue:
        board = redis.Redis.from_url(url)
        first = min(float(board.hget(f"socialopt:progress:{s}", "t0") or 0) for s in done)
        drain = max(ended.values()) - first
        return {
            "backend": backend,
            "workers": workers,
            "jobs": jobs,
            "pinned": pin,
            "mode": "pre-queued: first job started -> last completed",
            "drain_s": round(drain, 2),
            "jobs_per_min": round(60 * jobs / drain, 1),
        }
    return {
        "backend": backend,
        "workers": workers,
        "jobs": jobs,
        "wall_s": round(wall, 2),
        "jobs_per_min": round(60 * jobs / wall, 1),
        "p95_s": round(latencies[int(0.95 * (len(latencies) - 1))], 2),
        "mean_s_per_job": round(wall / jobs, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=40)
    parser.add_argument("--tiny-jobs", type=int, default=40)
    args = parser.parse_args()
    big = photo_12mp()
    one = run("celery", 1, big, SIX, args.jobs)
    print(json.dumps(one))
    two = run("celery", 2, big, SIX, args.jobs)
    print(json.dumps(two))
    drain_one = run("celery", 1, big, SIX, args.jobs, prequeue=True)
    print(json.dumps(drain_one))
    drain_two = run("celery", 2, big, SIX, args.jobs, prequeue=True)
    print(json.dumps(drain_two))
    pinned_one = run("celery", 1, big, SIX, args.jobs, prequeue=True, pin=True)
    print(json.dumps(pinned_one))
    pinned_two = run("celery", 2, big, SIX, args.jobs, prequeue=True, pin=True)
    print(json.dumps(pinned_two))
    small = tiny()
    local = run("local", 1, small, "x", args.tiny_jobs)
    celery = run("celery", 1, small, "x", args.tiny_jobs)
    overhead_ms = 1000 * (celery["mean_s_per_job"] - local["mean_s_per_job"])
    out = {
        "cores": os.cpu_count(),
        "one_worker": one,
        "two_workers": two,
        "speedup_end_to_end": round(two["jobs_per_min"] / one["jobs_per_min"], 2),
        "workers_one": drain_one,
        "workers_two": drain_two,
        "speedup_workers": round(drain_two["jobs_per_min"] / drain_one["jobs_per_min"], 2),
        "pinned_one": pinned_one,
        "pinned_two": pinned_two,
        "speedup_pinned": round(pinned_two["jobs_per_min"] / pinned_one["jobs_per_min"], 2),
        "tiny_local": local,
        "tiny_celery": celery,
        "queue_overhead_ms_per_job": round(overhead_ms, 1),
    }
    (ROOT / "bench" / "results").mkdir(exist_ok=True)
    (ROOT / "bench" / "results" / "scale.json").write_text(json.dumps(out, indent=2))
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
