"""API load bench: N concurrent submissions of a 12 MP photo to `socialopt api`.

Starts the real server (`socialopt api`, its own process, offline, default MAX_CONCURRENT_JOBS
and MAX_WORKERS, SQLite in a temp dir) and creates one key per client (one job per user at a
time). N clients submit at once, then poll their own status every 0.5 s (out of step), while a
prober (another caller) asks the status of a running session every 50 ms. Reports:
- submit (upload -> 202) latency p50/p95;
- status latency while jobs run, p50/p95/max (target p95 < 50 ms), split into while the
  uploads arrive and after, and the same call with no job running;
- jobs per minute (first submit -> last `completed_at` from the server);
- the CLI's in-process figure: `run_job` + `write_outputs` N times in a row in this process,
  as `socialopt optimize` runs one job (same photo, platforms and JobOptions defaults), before
  and after the API run (the mean of both, as other load on the machine comes and goes).
The photo: a real 12 MP photo from the bench photo set when one is cached (bench/photoset.py),
else bench/pipeline.py's 4032x3024 upscale of a sample with grain. Writes bench/results/api.json.

    .venv/bin/python bench/api.py [--jobs 20] [--platforms instagram,x,...] [--photo PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import platform
import random
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from socialopt.settings import Settings  # noqa: E402
from tests.api_helpers import create_key  # noqa: E402

SIX = "instagram,facebook,linkedin,pinterest,x,tiktok"
POLL_S = 0.5  # how often a client asks for its own status
PROBE_S = 0.05  # the prober's pace
MIN_PIXELS = 11_000_000


def summary(values: list[float]) -> dict[str, float]:
    """n, p50, p95 (nearest rank) and max, in milliseconds."""
    if not values:
        return {"n": 0, "p50_ms": float("nan"), "p95_ms": float("nan"), "max_ms": float("nan")}
    ordered = sorted(values)

    def pct(q: float) -> float:
        index = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
        return round(ordered[index] * 1000, 1)

    return {"n": len(ordered), "p50_ms": pct(50), "p95_ms": pct(95), "max_ms": pct(100)}


def _bench_pipeline() -> Any:
    """bench/pipeline.py as a module (its name clashes with our `pipeline` package)."""
    spec = importlib.util.spec_from_file_location("bench_pipeline", ROOT / "bench" / "pipeline.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pick_photo(explicit: Path | None) -> Path:
    """A real cached 12 MP photo if there is one, else the generated 12 MP JPEG."""
    if explicit:
        return explicit
    from PIL import Image

    cached = Path(
        os.environ.get("SOCIALOPT_BENCH_CACHE", Path.home() / ".cache" / "socialopt-bench")
    )
    for path in sorted((cached / "photos").glob("*.jp*g")):
        with Image.open(path) as img:
            if img.width * img.height >= MIN_PIXELS:
                return path
    bench = _bench_pipeline()
    return bench.make_source(bench.CACHE / "source_12mp.jpg")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _vm_hwm_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


class Server:
    """`socialopt api` in its own process on a free loopback port."""

    def __init__(self, data_dir: Path, celery_workers: int = 0) -> None:
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "DATA_DIR": str(data_dir),
            "AI_PROVIDER": "offline",
            "API_RATE_OPTIMIZE": "10000/minute",
            "API_RATE_OVERALL": "1000000/hour",
            "JOBS_PER_HOUR": "10000",
            "LOG_LEVEL": "WARNING",
        }
        if celery_workers:  # jobs on `socialopt worker` processes, the API only answers
            url = "redis://127.0.0.1:6379/11"
            import redis

            redis.Redis.from_url(url).flushdb()
            env.update({"JOB_BACKEND": "celery", "REDIS_URL": url, "CELERY_BROKER_URL": url})
        # `socialopt api` from this checkout (an older editable install may not map `api`)
        main = "import sys; from socialopt.cli import main; sys.exit(main(sys.argv[1:]))"
        cmd = [sys.executable, "-c", main, "api", "--port", str(self.port)]
        self.proc = subprocess.Popen(cmd, env=env, cwd=ROOT)
        self.workers = [
            subprocess.Popen([sys.executable, "-c", main, "worker"], env=env, cwd=ROOT)
            for _ in range(celery_workers)
        ]

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("socialopt api exited")
            try:
                if httpx.get(self.base_url + "/api/v1/health", timeout=2).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("socialopt api did not start")

    def stop(self) -> float | None:
        peak = _vm_hwm_mb(self.proc.pid)
        for proc in [self.proc, *self.workers]:
            proc.terminate()
        for proc in [self.proc, *self.workers]:
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
        return peak


async def one_client(
    base_url: str, key: str, photo: bytes, platforms: str, out: dict[str, Any], live: list[str]
) -> None:
    """Submit, then poll the own status until the job has finished."""
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=120) as client:
        out["submitted_at"] = time.time()
        t0 = time.perf_counter()
        resp = await client.post(
            "/api/v1/optimize/image",
            data={"platforms": platforms},
            files={"image": ("photo.jpg", photo, "image/jpeg")},
        )
        out["submit_s"] = time.perf_counter() - t0
        out["accepted_at"] = time.time()
        resp.raise_for_status()
        sid = resp.json()["session_id"]
        out["session_id"] = sid
        live.append(sid)
        out["status_s"] = []
        await asyncio.sleep(random.uniform(0, POLL_S))  # clients poll out of step
        while True:
            t0 = time.perf_counter()
            body = (await client.get(f"/api/v1/optimize/status/{sid}")).json()
            out["status_s"].append((time.time(), time.perf_counter() - t0))
            if body["status"] not in ("pending", "processing"):
                break
            await asyncio.sleep(POLL_S)
        live.remove(sid)
        out["status"] = body["status"]
        out["completed_at"] = _epoch(body["completed_at"]) if body.get("completed_at") else None


async def prober(
    base_url: str, keys: list[str], clients: list[dict], live: list[str], stop: asyncio.Event
) -> list[tuple[float, float]]:
    """Ask the status of some running session every PROBE_S, with its owner's key."""
    by_session: dict[str, str] = {}
    times: list[tuple[float, float]] = []
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        n = 0
        while not stop.is_set():
            for key, c in zip(keys, clients, strict=True):
                if "session_id" in c:
                    by_session[c["session_id"]] = key
            running = [s for s in list(live) if s in by_session]
            if running:
                sid = running[n % len(running)]
                n += 1
                t0 = time.perf_counter()
                resp = await client.get(
                    f"/api/v1/optimize/status/{sid}",
                    headers={"Authorization": f"Bearer {by_session[sid]}"},
                )
                if resp.status_code == 200:
                    times.append((time.time(), time.perf_counter() - t0))
            await asyncio.sleep(PROBE_S)
    return times


async def load(base_url: str, keys: list[str], photo: bytes, platforms: str) -> dict[str, Any]:
    clients: list[dict[str, Any]] = [{} for _ in keys]
    live: list[str] = []
    stop = asyncio.Event()
    probe = asyncio.create_task(prober(base_url, keys, clients, live, stop))
    await asyncio.gather(
        *(
            one_client(base_url, k, photo, platforms, c, live)
            for k, c in zip(keys, clients, strict=True)
        )
    )
    stop.set()
    probes = await probe
    idle = []  # the same call with no job running, for comparison
    headers = {"Authorization": f"Bearer {keys[0]}"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=30) as client:
        for _ in range(100):
            t0 = time.perf_counter()
            await client.get(f"/api/v1/optimize/status/{clients[0]['session_id']}")
            idle.append(time.perf_counter() - t0)
            await asyncio.sleep(PROBE_S / 5)
    return {"clients": clients, "probes": probes, "idle": idle}


def in_process(photo: bytes, platforms: tuple[str, ...], jobs: int) -> dict[str, Any]:
    """The CLI's figure: run_job + write_outputs `jobs` times in a row, one process."""
    from pipeline.job import run_job
    from pipeline.outputs import write_outputs
    from socialopt.wiring import build_services, job_defaults

    settings = Settings(ai_provider="offline")
    services = build_services(settings)
    options = replace(job_defaults(settings), platforms=platforms)
    seconds = []
    with tempfile.TemporaryDirectory(prefix="socialopt-bench-cli-") as tmp:
        run_job(photo, options, services)  # warm-up: models and dictionaries load once
        started = time.perf_counter()
        for n in range(jobs):
            t0 = time.perf_counter()
            write_outputs(run_job(photo, options, services), Path(tmp) / str(n))
            seconds.append(time.perf_counter() - t0)
        wall = time.perf_counter() - started
    return {
        "jobs": jobs,
        "wall_s": round(wall, 2),
        "jobs_per_minute": round(jobs / wall * 60, 1),
        "job_s": summary(seconds),
    }


def run(jobs: int, platforms: str, photo_path: Path, celery: int = 0) -> dict[str, Any]:
    from PIL import Image

    photo = photo_path.read_bytes()
    with Image.open(photo_path) as img:
        size = img.size
    cli_before = in_process(photo, tuple(platforms.split(",")), jobs)  # the machine's load
    with tempfile.TemporaryDirectory(prefix="socialopt-bench-api-") as tmp:  # changes: measure
        data_dir = Path(tmp) / "data"
        settings = Settings(data_dir=data_dir)
        keys = [create_key(settings, f"client-{n}").key for n in range(jobs)]
        server = Server(data_dir, celery)
        load_before = os.getloadavg()[0]
        try:
            server.wait_ready()
            wall0 = time.perf_counter()
            got = asyncio.run(load(server.base_url, keys, photo, platforms))
            wall = time.perf_counter() - wall0
        finally:
            peak_rss = server.stop()
    clients = got["clients"]
    failed = [c.get("session_id") for c in clients if c.get("status") != "completed"]
    first = min(c["submitted_at"] for c in clients)
    last = max(c["completed_at"] or 0.0 for c in clients)
    running_until = last  # status calls made while some job had not finished
    all_in = max(c["accepted_at"] for c in clients)  # the last upload answered
    timed = [(at, s) for c in clients for at, s in c["status_s"]] + got["probes"]
    during = [s for at, s in timed if at <= running_until]
    uploading = [s for at, s in timed if at <= all_in]
    after_uploads = [s for at, s in timed if all_in < at <= running_until]
    probes = [s for at, s in got["probes"] if at <= running_until]
    cli_after = in_process(photo, tuple(platforms.split(",")), jobs)  # the CLI on both sides
    cli_rate = round((cli_before["jobs_per_minute"] + cli_after["jobs_per_minute"]) / 2, 1)
    api_rate = round(jobs / (last - first) * 60, 1)
    return {
        "jobs": jobs,
        "platforms": platforms.split(","),
        "photo": photo_path.name,
        "photo_size": list(size),
        "photo_mb": round(len(photo) / 1e6, 2),
        "max_concurrent_jobs": Settings().max_concurrent_jobs,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "failed_sessions": failed,
        "submit": summary([c["submit_s"] for c in clients]),
        "status_while_jobs_run": summary(during),
        "status_while_uploads_arrive": summary(uploading),
        "status_after_uploads_while_jobs_run": summary(after_uploads),
        "status_prober_only": summary(probes),
        "status_idle": summary(got["idle"]),
        "uploads_done_after_s": round(all_in - first, 2),
        "api_jobs_per_minute": api_rate,
        "cli_in_process_jobs_per_minute": cli_rate,
        "cli_in_process": [cli_before, cli_after],
        "api_vs_cli": round(api_rate / cli_rate, 2),
        "server_peak_rss_mb": peak_rss,
        "wall_s": round(wall, 2),
        "load_average_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "target_status_p95_ms": 50,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=20, help="concurrent submissions")
    parser.add_argument("--platforms", default=SIX)
    parser.add_argument("--photo", type=Path, default=None)
    parser.add_argument(
        "--celery", type=int, default=0, help="run jobs on this many `socialopt worker`s"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "api.json")
    args = parser.parse_args()
    photo = pick_photo(args.photo)
    report = run(args.jobs, args.platforms, photo, args.celery)
    report["celery_workers"] = args.celery
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    status = report["status_while_jobs_run"]
    print(
        f"{report['jobs']} x {report['photo']} {report['photo_size'][0]}x"
        f"{report['photo_size'][1]} -> {len(report['platforms'])} platforms"
    )
    print(
        f"submit (upload -> 202): p50 {report['submit']['p50_ms']} ms, "
        f"p95 {report['submit']['p95_ms']} ms"
    )
    print(
        f"status while jobs run: n={status['n']} p50 {status['p50_ms']} ms, "
        f"p95 {status['p95_ms']} ms, max {status['max_ms']} ms (target p95 < 50 ms)"
    )
    for label, key in (
        ("  while uploads arrive", "status_while_uploads_arrive"),
        ("  after the uploads", "status_after_uploads_while_jobs_run"),
        ("  no job running", "status_idle"),
    ):
        part = report[key]
        print(f"{label}: n={part['n']} p50 {part['p50_ms']} ms, p95 {part['p95_ms']} ms")
    print(
        f"jobs/min: API {report['api_jobs_per_minute']}, CLI in-process "
        f"{report['cli_in_process_jobs_per_minute']} (mean of "
        f"{' and '.join(str(c['jobs_per_minute']) for c in report['cli_in_process'])} before and "
        f"after; {report['api_vs_cli']}x); "
        f"server peak RSS {report['server_peak_rss_mb']} MB"
    )
    if report["failed_sessions"]:
        print(f"failed sessions: {report['failed_sessions']}")
        sys.exit(1)


if __name__ == "__main__":
    main()
