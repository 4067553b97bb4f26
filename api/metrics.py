"""`GET /metrics`: Prometheus metrics of one API app, on its own CollectorRegistry (several apps
in one process never clash).

Jobs by outcome, failures by error code, stage/platform/job durations and AI calls and tokens
by provider come from each finished session's results.json (its `timings`, per-platform
`processing_time`, `usage`); the queue depth is read from the JobRunner at scrape time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

from pipeline.errors import SocialOptError
from socialopt.queue import JobRunner

if TYPE_CHECKING:
    from storage.repository import Repository

log = logging.getLogger(__name__)

router = APIRouter()

# seconds: a platform render takes ~0.05-2 s, a whole job ~0.3-30 s (AI calls included)
STAGE_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
JOB_BUCKETS = (0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)


class _QueueDepth(Collector):
    """Waiting and running jobs, read from the runner when Prometheus scrapes; with Celery,
    also the messages waiting on the broker (`backlog`)."""

    def __init__(self, runner: JobRunner, backlog: Callable[[], int | None] | None) -> None:
        self.runner = runner
        self.backlog = backlog

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "socialopt_queue_jobs",
            "Jobs in the queue by state: waiting and running in this process, and waiting on "
            "the Celery broker (state=broker) with JOB_BACKEND=celery.",
            labels=["state"],
        )
        family.add_metric(["waiting"], self.runner.waiting_count)
        family.add_metric(["running"], self.runner.running_count)
        if self.backlog is not None:
            try:
                queued = self.backlog()
            except Exception:  # noqa: BLE001 - a broker that does not answer: no sample
                queued = None
            if queued is not None:
                family.add_metric(["broker"], queued)
        yield family

    def describe(self) -> Iterator[Metric]:
        return self.collect()


class ApiMetrics:
    """The app's metrics; `job_finished` records one session, `render` is the scrape."""

    def __init__(self, runner: JobRunner, backlog: Callable[[], int | None] | None = None) -> None:
        self.registry = CollectorRegistry()
        reg = self.registry
        self.jobs = Counter(
            "socialopt_jobs",
            "Finished jobs by outcome (completed, partial: some platforms failed, failed).",
            ["outcome"],
            registry=reg,
        )
        self.failures = Counter(
            "socialopt_failures",
            "Failures by error code: a whole job (scope=job) or one platform (scope=platform).",
            ["scope", "code"],
            registry=reg,
        )
        self.job_seconds = Histogram(
            "socialopt_job_duration_seconds",
            "Pipeline time of a finished job (results.json timings.total).",
            buckets=JOB_BUCKETS,
            registry=reg,
        )
        self.stage_seconds = Histogram(
            "socialopt_stage_duration_seconds",
            "Pipeline stage time per job (results.json timings: intake, text, render, product).",
            ["stage"],
            buckets=STAGE_BUCKETS,
            registry=reg,
        )
        self.platform_seconds = Histogram(
            "socialopt_platform_duration_seconds",
            "Crop, render and encode time of one platform's image.",
            ["platform"],
            buckets=STAGE_BUCKETS,
            registry=reg,
        )
        self.ai_calls = Counter(
            "socialopt_ai_calls",
            "AI requests by provider (retries, repairs and failed requests count too).",
            ["provider"],
            registry=reg,
        )
        self.ai_tokens = Counter(
            "socialopt_ai_tokens",
            "AI tokens by provider and kind (prompt, completion); a job that used two "
            "providers counts its tokens under both names joined by '+'.",
            ["provider", "kind"],
            registry=reg,
        )
        self.ai_cache_hits = Counter(
            "socialopt_ai_cache_hits", "AI answers served from the cache.", registry=reg
        )
        reg.register(_QueueDepth(runner, backlog))
        for outcome in ("completed", "partial", "failed"):
            self.jobs.labels(outcome)  # present at 0 before the first job

    def job_finished(
        self, status: str, error: SocialOptError | None, results: dict[str, Any] | None
    ) -> None:
        """Record one finished session from its results.json (None when the job failed before
        it had results)."""
        doc = results or {}
        platforms: dict[str, Any] = doc.get("platforms") or {}
        failed = [p for p, d in platforms.items() if (d or {}).get("status") != "completed"]
        if status != "completed":
            outcome = "failed"
            self.failures.labels("job", error.code if error else "UNKNOWN").inc()
        else:
            outcome = "partial" if failed else "completed"
        self.jobs.labels(outcome).inc()
        for name in failed:
            code = ((platforms[name] or {}).get("error") or {}).get("code") or "UNKNOWN"
            self.failures.labels("platform", str(code)).inc()
        timings: dict[str, Any] = doc.get("timings") or {}
        for stage, seconds in timings.items():
            if not isinstance(seconds, int | float):
                continue
            if stage == "total":
                self.job_seconds.observe(seconds)
            else:
                self.stage_seconds.labels(stage).observe(seconds)
        for name, data in platforms.items():
            seconds = (data or {}).get("processing_time")
            if isinstance(seconds, int | float) and (data or {}).get("status") == "completed":
                self.platform_seconds.labels(name).observe(seconds)
        self._usage(doc.get("usage") or {})

    def _usage(self, usage: dict[str, Any]) -> None:
        by_provider: dict[str, int] = usage.get("by_provider") or {}
        for provider, calls in by_provider.items():
            self.ai_calls.labels(provider).inc(calls)
        if by_provider:  # tokens are counted per job, not per provider (pipeline Usage)
            who = "+".join(sorted(by_provider))
            for kind in ("prompt", "completion"):
                tokens = usage.get(f"{kind}_tokens") or 0
                if tokens:
                    self.ai_tokens.labels(who, kind).inc(tokens)
        if usage.get("cache_hits"):
            self.ai_cache_hits.inc(usage["cache_hits"])

    def render(self) -> bytes:
        return generate_latest(self.registry)


def broker_backlog(jobs: Any) -> int | None:
    """Messages waiting on the Celery broker (CeleryJobs.queue_depth); None for local jobs."""
    depth = getattr(jobs, "queue_depth", None)
    return depth() if depth is not None else None


async def after_job(
    metrics: ApiMetrics,
    repo: Repository,
    uid: int,
    sid: str,
    status: str,
    error: SocialOptError | None,
) -> None:
    """The on_finished hook's metrics half: read the session's results once and record them.
    Never raises (the webhook half runs after it)."""
    try:
        session = await repo.get_session(uid, sid)
        metrics.job_finished(status, error, session.results if session else None)
    except Exception:  # noqa: BLE001 - metrics must never cost a webhook or a job
        log.exception("metrics for session %s not recorded", sid)


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
async def metrics(request: Request) -> Response:
    """Prometheus text format: jobs, failures, durations, AI calls and tokens, queue depth."""
    registry: ApiMetrics = request.app.state.api.metrics
    body = await asyncio.to_thread(registry.render)  # the broker backlog is a network call
    return Response(body, media_type=CONTENT_TYPE_LATEST)
