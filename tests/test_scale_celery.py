"""JOB_BACKEND=celery end to end, on the real Redis at 127.0.0.1:6379: the API enqueues, a real
`socialopt worker` process runs the job, results and files come back through the store (a
local folder, or S3 served by moto on loopback). A worker killed mid-job loses nothing."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from tests.api_helpers import api_settings, create_key, serve, wait_done
from tests.test_api import COFFEE, optimize

ROOT = Path(__file__).resolve().parents[1]
REDIS_DB = 13  # this suite's own Redis database, emptied before each test

pytestmark = pytest.mark.timeout(240)


def _up(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


if not _up(6379) and not os.environ.get("CI"):
    pytest.skip("no Redis on 127.0.0.1:6379 (CI always has one)", allow_module_level=True)


@pytest.fixture
def redis_url() -> str:
    import redis

    url = f"redis://127.0.0.1:6379/{REDIS_DB}"
    redis.Redis.from_url(url).flushdb()
    return url


def _env(settings_env: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("S3_", "AWS_"))}
    env.update(settings_env)
    env["PYTHONPATH"] = str(ROOT)
    return env


@pytest.fixture
def worker_env(tmp_path: Path, redis_url: str) -> dict[str, str]:
    return {
        "DATA_DIR": str(tmp_path / "data"),
        "JOB_BACKEND": "celery",
        "REDIS_URL": redis_url,
        "CELERY_BROKER_URL": redis_url,
        "AI_PROVIDER": "offline",
        "MAX_WORKERS": "2",
        "LOG_LEVEL": "WARNING",
    }


def start_worker(
    tmp_path: Path, env: dict[str, str], name: str, cpu: int | None = None
) -> subprocess.Popen:
    """A real `socialopt worker` process (pinned to one CPU core with `cpu`)."""
    log = (tmp_path / f"{name}.log").open("w")
    pin = ["taskset", "-c", str(cpu)] if cpu is not None else []
    return subprocess.Popen(
        [*pin, sys.executable, "-m", "socialopt", "worker", "--concurrency", "1", "--name", name],
        cwd=tmp_path,
        env=_env(env),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


@pytest.fixture
def workers(tmp_path: Path, worker_env: dict[str, str]) -> Iterator[list[subprocess.Popen]]:
    started: list[subprocess.Popen] = []
    yield started
    for proc in started:
        stop(proc)


def settings_from(env: dict[str, str], tmp_path: Path, **extra: object):
    return api_settings(
        tmp_path,
        job_backend="celery",
        redis_url=env["REDIS_URL"],
        celery_broker_url=env["CELERY_BROKER_URL"],
        **extra,
    )


def test_api_enqueues_and_a_worker_process_runs_the_job(
    tmp_path: Path, worker_env: dict[str, str], workers: list
) -> None:
    settings = settings_from(worker_env, tmp_path)
    key = create_key(settings, "shop").key
    workers.append(start_worker(tmp_path, worker_env, "w1"))
    with serve(settings) as served, served.client(key) as client:
        sid = optimize(client, description="Latte art").json()["session_id"]
        status = wait_done(client, sid, timeout=120)
        assert status["status"] == "completed", status
        results = client.get(f"/api/v1/optimize/results/{sid}").json()
        assert set(results["results"]["platforms"]) == {"instagram", "x"}
        for platform, url in results["files"]["optimized_images"].items():
            size = Image.open(io.BytesIO(client.get(url).content)).size
            image = results["results"]["platforms"][platform]["image"]
            assert size == (image["width"], image["height"])
        health = client.get("/api/v1/health").json()
        assert health["services"]["queue"]["backend"] == "celery"
        assert health["services"]["queue"]["status"] == "healthy"


def test_a_worker_killed_mid_job_loses_nothing(
    tmp_path: Path, worker_env: dict[str, str], workers: list
) -> None:
    settings = settings_from(worker_env, tmp_path)
    key = create_key(settings, "shop").key
    worker = start_worker(tmp_path, worker_env, "w1")
    workers.append(worker)
    big = io.BytesIO()
    Image.open(io.BytesIO(COFFEE)).resize((4000, 3000)).save(big, "JPEG")
    with serve(settings) as served, served.client(key) as client:
        sid = optimize(client, image=big.getvalue(), platforms="all").json()["session_id"]
        deadline = time.monotonic() + 60
        while client.get(f"/api/v1/optimize/status/{sid}").json()["status"] != "processing":
            assert time.monotonic() < deadline, "the job never started"
            time.sleep(0.05)
        victims = children(worker.pid)
        assert victims, "no pool process to kill"
        for pid in victims:
            os.kill(pid, signal.SIGKILL)  # the process running the job dies mid-job
        final = wait_done(client, sid, timeout=180)
        # run again on a fresh pool process (or failed with a code): never left "processing"
        assert final["status"] in ("completed", "failed"), final
        if final["status"] == "failed":
            assert final["error"]["code"] == "WORKER_LOST"
        else:
            results = client.get(f"/api/v1/optimize/results/{sid}").json()
            assert set(results["files"]["optimized_images"]) == set(
                results["results"]["platforms"]
            )
            assert client.get(results["files"]["json_results"]).status_code == 200


@pytest.fixture
def s3() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def test_files_travel_through_s3_when_a_bucket_is_set(
    tmp_path: Path, worker_env: dict[str, str], workers: list, s3: str
) -> None:
    s3_env = {
        "S3_BUCKET": "socialopt-test",
        "S3_ENDPOINT_URL": s3,
        "S3_ACCESS_KEY_ID": "test",
        "S3_SECRET_ACCESS_KEY": "test",
    }
    env = {**worker_env, **s3_env}
    from socialopt.settings import Secret

    settings = settings_from(
        env,
        tmp_path,
        s3_bucket="socialopt-test",
        s3_endpoint_url=s3,
        s3_access_key=Secret("test"),
        s3_secret_key=Secret("test"),
    )
    key = create_key(settings, "shop").key
    workers.append(start_worker(tmp_path, env, "w1"))
    with serve(settings) as served, served.client(key) as client:
        sid = optimize(client).json()["session_id"]
        assert wait_done(client, sid, timeout=120)["status"] == "completed"
        files = client.get(f"/api/v1/optimize/results/{sid}").json()["files"]
        url = files["optimized_images"]["x"]
        assert url.startswith(s3)  # a presigned URL on the object store, not our API
        got = httpx.get(url)
        assert got.status_code == 200
        assert Image.open(io.BytesIO(got.content)).size[0] > 0
        zipped = client.get(files["zip"])
        assert zipped.status_code == 200 and zipped.content[:2] == b"PK"


REDIS_START = [
    "redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "-::1", "--port", "6379",
    "--save", "", "--appendonly", "no", "--dir", "/var/lib/redis",
    "--logfile", "/var/log/redis/ci.log",
]  # fmt: skip


def _wait_port(port: int, up: bool, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while _up(port) != up:
        assert time.monotonic() < deadline, f"port {port} did not go {'up' if up else 'down'}"
        time.sleep(0.1)


def test_redis_restart_answers_503_then_recovers_without_restarting_us(
    tmp_path: Path, worker_env: dict[str, str], workers: list
) -> None:
    settings = settings_from(worker_env, tmp_path)
    key = create_key(settings, "shop").key
    workers.append(start_worker(tmp_path, worker_env, "w1"))
    with serve(settings) as served, served.client(key) as client:
        first = optimize(client).json()["session_id"]
        assert wait_done(client, first, timeout=120)["status"] == "completed"
        subprocess.run(["redis-cli", "-h", "127.0.0.1", "shutdown", "nosave"], check=False)
        try:
            _wait_port(6379, up=False)
            down = optimize(client)
            assert down.status_code == 503, down.text
            assert down.json()["error_code"] == "SERVICE_UNAVAILABLE"
            assert int(down.headers["Retry-After"]) > 0
            assert client.get("/api/v1/health").status_code == 503
        finally:
            if not _up(6379):
                subprocess.run(REDIS_START, check=True)
            _wait_port(6379, up=True)
        # the same API and worker processes carry on once Redis is back
        deadline = time.monotonic() + 60
        while (resp := optimize(client)).status_code != 202:
            assert time.monotonic() < deadline, resp.text
            time.sleep(0.5)
        assert wait_done(client, resp.json()["session_id"], timeout=120)["status"] == "completed"
        sessions = client.get("/api/v1/sessions").json()["sessions"]
        assert not [s for s in sessions if s["status"] in ("pending", "processing")]
