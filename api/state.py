"""What every API route reaches through `request.app.state.api`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Request

from api.auth import Limiter
from api.celery_jobs import CeleryJobs
from api.jobs import ApiJobs
from api.metrics import ApiMetrics
from pipeline.intake import IntakeLimits
from pipeline.models import JobOptions
from socialopt.queue import Admission
from socialopt.settings import Settings
from storage.api import ApiStore
from storage.files import FileStore
from storage.repository import Repository


@dataclass
class ApiState:
    """Everything a route needs besides the request (in `app.state.api`)."""

    settings: Settings
    repo: Repository
    keys: ApiStore
    services: Any
    jobs: ApiJobs | CeleryJobs
    limiter: Limiter
    defaults: JobOptions
    admission: Admission
    intake: IntakeLimits
    sessions_dir: Path
    metrics: ApiMetrics
    store: FileStore | None = None  # where session files live (DATA_DIR/sessions or S3)

    def url(self, request: Request, path: str) -> str:
        base = self.settings.api_public_url or str(request.base_url).rstrip("/")
        return base + path


def state(request: Request) -> ApiState:
    return request.app.state.api
