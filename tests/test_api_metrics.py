"""What operators see: /metrics (jobs, failures, durations, AI calls and tokens, queue depth)
scraped from the real app under uvicorn, and the JSON logs of `socialopt api` (session_id on
every line of a job, secrets redacted)."""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import structlog
from PIL import Image
from prometheus_client.parser import text_string_to_metric_families

from api.logs import configure_logging
from api.metrics import ApiMetrics, broker_backlog
from pipeline.errors import SocialOptError
from socialopt.queue import JobRunner
from socialopt.settings import Secret
from tests.api_helpers import api_settings, create_key, serve, wait_done
from tests.fakes.openai import FakeOpenAI, error_reply
from tests.test_api import COFFEE, optimize

pytestmark = pytest.mark.timeout(180)


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    """Every sample of a /metrics page: (name, labels) -> value."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(page: dict, name: str, **labels: str) -> float:
    return page.get((name, frozenset(labels.items())), 0.0)


def scrape(client: httpx.Client) -> dict:
    resp = client.get("/metrics")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/plain")
    return samples(resp.text)


def wait_recorded(client: httpx.Client, jobs: int) -> dict:
    """The metrics once `jobs` jobs are counted (the hook runs just after the status flips)."""
    deadline = time.monotonic() + 10
    while True:
        page = scrape(client)
        done = sum(v for (n, _), v in page.items() if n == "socialopt_jobs_total")
        if done >= jobs or time.monotonic() > deadline:
            return page
        time.sleep(0.05)


def test_finished_jobs_show_their_outcome_durations_and_failure_codes(tmp_path: Path) -> None:
    settings = api_settings(tmp_path)
    key = create_key(settings, "shop").key
    broken = COFFEE[: len(COFFEE) // 3]  # the header reads, the pixels do not
    with serve(settings) as served, served.client(key) as client:
        before = scrape(client)
        assert value(before, "socialopt_jobs_total", outcome="completed") == 0
        good = optimize(client, platforms="instagram,x,linkedin").json()["session_id"]
        assert wait_done(client, good)["status"] == "completed"
        bad = optimize(client, image=broken).json()["session_id"]
        failed = wait_done(client, bad)
        assert failed["status"] == "failed"
        page = wait_recorded(client, 2)
        results = client.get(f"/api/v1/optimize/results/{good}").json()["results"]

    assert value(page, "socialopt_jobs_total", outcome="completed") == 1
    assert value(page, "socialopt_jobs_total", outcome="failed") == 1
    code = failed["error"]["code"]
    assert value(page, "socialopt_failures_total", scope="job", code=code) == 1
    assert value(page, "socialopt_job_duration_seconds_count") == 1
    total = results["timings"]["total"]
    assert value(page, "socialopt_job_duration_seconds_sum") == pytest.approx(total)
    for stage in ("intake", "text", "render"):
        assert value(page, "socialopt_stage_duration_seconds_count", stage=stage) == 1
        assert value(page, "socialopt_stage_duration_seconds_sum", stage=stage) == (
            pytest.approx(results["timings"][stage])
        )
    for platform, data in results["platforms"].items():
        assert value(page, "socialopt_platform_duration_seconds_count", platform=platform) == 1
        assert value(page, "socialopt_platform_duration_seconds_sum", platform=platform) == (
            pytest.approx(data["processing_time"])
        )
    assert not [n for n, _ in page if n == "socialopt_ai_calls_total"]  # offline: no AI calls


def test_a_failed_platform_makes_a_partial_job_and_counts_its_code(tmp_path: Path) -> None:
    """The platform branch of job_finished, fed a real results.json with one platform failed."""
    settings = api_settings(tmp_path)
    key = create_key(settings, "shop").key
    with serve(settings) as served, served.client(key) as client:
        sid = optimize(client).json()["session_id"]
        wait_done(client, sid)
        doc = client.get(f"/api/v1/optimize/results/{sid}").json()["results"]
    doc["platforms"]["x"].update(
        status="failed", error={"code": "ENCODE_FAILED", "message": "could not encode"}
    )
    metrics = ApiMetrics(JobRunner(1))
    metrics.job_finished("completed", None, doc)
    metrics.job_finished("failed", SocialOptError("gone", code="SHUTTING_DOWN"), None)
    page = samples(metrics.render().decode())
    assert value(page, "socialopt_jobs_total", outcome="partial") == 1
    assert value(page, "socialopt_jobs_total", outcome="completed") == 0
    assert value(page, "socialopt_failures_total", scope="platform", code="ENCODE_FAILED") == 1
    assert value(page, "socialopt_failures_total", scope="job", code="SHUTTING_DOWN") == 1
    assert value(page, "socialopt_platform_duration_seconds_count", platform="x") == 0
    assert value(page, "socialopt_platform_duration_seconds_count", platform="instagram") == 1


def test_ai_calls_and_tokens_by_provider_match_the_server(tmp_path: Path) -> None:
    with FakeOpenAI() as fake:
        settings = api_settings(
            tmp_path,
            ai_provider="openai",
            openai_api_key=Secret("sk-test"),
            openai_base_url=fake.base_url,
        )
        key = create_key(settings, "shop").key
        with serve(settings) as served, served.client(key) as client:
            sid = optimize(client, use_ai_analysis="true", description="Latte art").json()[
                "session_id"
            ]
            assert wait_done(client, sid)["status"] == "completed"
            page = wait_recorded(client, 1)
            usage = client.get(f"/api/v1/optimize/results/{sid}").json()["results"]["usage"]
        requests = len(fake.chat_requests())
    assert requests >= 2
    assert value(page, "socialopt_ai_calls_total", provider="openai") == requests
    assert usage["by_provider"] == {"openai": requests}
    assert usage["prompt_tokens"] > 0  # the fake reports 100 prompt and 50 completion tokens
    prompt = value(page, "socialopt_ai_tokens_total", provider="openai", kind="prompt")
    completion = value(page, "socialopt_ai_tokens_total", provider="openai", kind="completion")
    assert (prompt, completion) == (usage["prompt_tokens"], usage["completion_tokens"])
    assert prompt == 100 * requests and completion == 50 * requests


def test_queue_depth_counts_waiting_and_running_jobs(tmp_path: Path) -> None:
    settings = api_settings(tmp_path, max_concurrent_jobs=1)
    ana, ben = create_key(settings, "ana").key, create_key(settings, "ben").key
    big = io.BytesIO()
    Image.open(io.BytesIO(COFFEE)).resize((4000, 3000)).save(big, "JPEG")
    with serve(settings) as served, served.client(ana) as a, served.client(ben) as b:
        idle = scrape(a)
        assert value(idle, "socialopt_queue_jobs", state="running") == 0
        slow = optimize(a, image=big.getvalue(), platforms="all").json()["session_id"]
        queued = optimize(b).json()["session_id"]  # one job at a time: this one waits
        busy = scrape(a)
        assert value(busy, "socialopt_queue_jobs", state="running") == 1
        assert value(busy, "socialopt_queue_jobs", state="waiting") == 1
        wait_done(a, slow)
        wait_done(b, queued)
        wait_recorded(a, 2)
        after = scrape(a)
    assert value(after, "socialopt_queue_jobs", state="running") == 0
    assert value(after, "socialopt_queue_jobs", state="waiting") == 0


def test_the_broker_backlog_is_a_queue_state_when_jobs_run_on_celery() -> None:
    class Broker:  # CeleryJobs' face: queue_depth() is LLEN of the Celery queue in Redis
        depth: int | Exception = 7

        def queue_depth(self) -> int:
            if isinstance(self.depth, Exception):
                raise self.depth
            return self.depth

    jobs = Broker()
    celery = ApiMetrics(JobRunner(1), lambda: broker_backlog(jobs))
    assert value(samples(celery.render().decode()), "socialopt_queue_jobs", state="broker") == 7
    jobs.depth = ConnectionError("redis down")  # a scrape still answers, without that sample
    page = samples(celery.render().decode())
    assert ("socialopt_queue_jobs", frozenset({("state", "broker")})) not in page
    assert ("socialopt_queue_jobs", frozenset({("state", "running")})) in page
    local = samples(ApiMetrics(JobRunner(1), lambda: broker_backlog(object())).render().decode())
    assert ("socialopt_queue_jobs", frozenset({("state", "broker")})) not in local


def test_two_apps_in_one_process_keep_their_own_metrics(tmp_path: Path) -> None:
    one, two = api_settings(tmp_path / "one"), api_settings(tmp_path / "two")
    key = create_key(one, "shop").key
    with serve(one) as first, serve(two) as second, first.client(key) as client:
        sid = optimize(client).json()["session_id"]
        wait_done(client, sid)
        assert value(wait_recorded(client, 1), "socialopt_jobs_total", outcome="completed") == 1
        with second.client() as other:
            assert value(scrape(other), "socialopt_jobs_total", outcome="completed") == 0


# --------------------------------------------------------------------------- logs


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    named = {n: logging.getLogger(n) for n in ("httpx", "httpcore", "httpx2")}
    levels = {n: lg.level for n, lg in named.items()}
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    for n, lg in named.items():
        lg.setLevel(levels[n])
    structlog.reset_defaults()


def lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_every_line_of_a_job_is_json_with_its_session_id(
    tmp_path: Path, restore_logging: None
) -> None:
    """An AI key the server rejects makes the pipeline log a warning from the job's worker
    thread: that line too must carry the session id."""
    with FakeOpenAI() as fake:
        for _ in range(5):
            fake.queue(error_reply(401, "Incorrect API key provided.", code="invalid_api_key"))
        settings = api_settings(
            tmp_path,
            ai_provider="openai",
            openai_api_key=Secret("sk-test-rejected"),
            openai_base_url=fake.base_url,
        )
        stream = io.StringIO()
        configure_logging(settings, stream)
        key = create_key(settings, "shop").key
        with serve(settings) as served, served.client(key) as client:
            sid = optimize(client, use_ai_analysis="true").json()["session_id"]
            assert wait_done(client, sid)["status"] == "completed"
            wait_recorded(client, 1)
    logged = lines(stream)
    events = [line["event"] for line in logged]
    start, end = events.index("job started"), events.index("job finished")
    during = logged[start : end + 1]
    assert any(line["logger"].startswith("pipeline.") for line in during)  # the worker thread
    assert all(line.get("session_id") == sid for line in during), during
    assert logged[end]["status"] == "completed"
    assert all({"timestamp", "level", "logger", "event"} <= set(line) for line in logged)


def test_secrets_never_reach_a_log_line(tmp_path: Path, restore_logging: None) -> None:
    secret = "sk-live-4f9Qz81"
    settings = api_settings(tmp_path, openai_api_key=Secret(secret))
    stream = io.StringIO()
    configure_logging(settings, stream)
    log = logging.getLogger("pipeline.providers.test")
    log.warning("request with key %s refused", secret)
    try:
        raise RuntimeError(f"Incorrect API key provided: {secret}")
    except RuntimeError:
        log.exception("call failed")
    structlog.get_logger("api.test").info("retrying", key=secret, headers={"auth": secret})
    text = stream.getvalue()
    assert secret not in text
    logged = lines(stream)
    assert len(logged) == 3
    assert logged[0]["event"] == "request with key *** refused"
    assert "Incorrect API key provided: ***" in logged[1]["exception"]
    assert logged[2]["key"] == "***" and logged[2]["headers"] == {"auth": "***"}
