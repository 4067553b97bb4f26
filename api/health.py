"""`GET /api/v1/health` in the seed's shape, and what happens when a job ends (webhooks)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api import webhooks
from pipeline.errors import SocialOptError
from pipeline.intake import IntakeLimits, vet_url

if TYPE_CHECKING:
    from api.state import ApiState

router = APIRouter()


def check_webhook_url(url: str, limits: IntakeLimits) -> None:
    """The same guard as image URLs: IntakeError URL_NOT_ALLOWED / INVALID_URL if refused."""
    vet_url(url, limits)


async def after_job(
    st: ApiState, uid: int, sid: str, status: str, error: SocialOptError | None, url: str
) -> None:
    """Tell the caller's webhook, if the request named one."""
    if url:
        await webhooks.notify_webhook(st.keys, st.settings, uid, sid, url, status, error)


def _memory() -> dict[str, Any]:
    info: dict[str, int] = {}
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                name, _, rest = line.partition(":")
                info[name] = int(rest.split()[0]) * 1024
    except OSError:
        return {}
    total, free = info.get("MemTotal", 0), info.get("MemAvailable", 0)
    return {
        "total_mb": total // 2**20,
        "available_mb": free // 2**20,
        "percent_used": round(100 * (1 - free / total), 1) if total else None,
    }


def _system(data_dir: Any) -> dict[str, Any]:
    disk = shutil.disk_usage(data_dir)
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return {
        "memory": _memory(),
        "cpu": {"count": os.cpu_count(), "load_1m": round(load[0], 2)},
        "disk": {
            "free_mb": disk.free // 2**20,
            "percent_used": round(100 * disk.used / disk.total, 1) if disk.total else None,
        },
    }


async def _redis(url: str) -> dict[str, Any]:
    if not url:
        return {"status": "not_configured", "detail": "in-process (memory) rate limits"}
    import redis.asyncio as aioredis

    client = aioredis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        await client.ping()
        return {"status": "healthy"}
    except Exception as exc:  # noqa: BLE001 - any failure means down
        return {"status": "unhealthy", "detail": type(exc).__name__}
    finally:
        with contextlib.suppress(Exception):
            await client.aclose()


@router.get("/api/v1/health")
async def health(request: Request) -> JSONResponse:
    """Database, cache, queue, AI providers, model files and the machine; 503 when something
    required is down (the database or the job queue)."""
    from socialopt.wiring import recognition_model

    st: ApiState = request.app.state.api
    try:
        await asyncio.wait_for(st.keys.ping(), 5)
        database = {"status": "healthy", "engine": getattr(st.repo, "engine", "sqlite")}
    except Exception as exc:  # noqa: BLE001
        database = {"status": "unhealthy", "detail": type(exc).__name__}
    queue = await asyncio.to_thread(st.jobs.describe)
    provider = getattr(st.services, "provider", None)
    ai = {
        "status": "configured" if st.services.ai_enabled else "offline",
        "provider": getattr(provider, "label", None) or getattr(provider, "name", "offline"),
    }
    model = recognition_model(st.settings)
    models = {
        "recognition": {"status": "present" if model.is_file() else "missing", "path": str(model)}
    }
    services = {
        "database": database,
        "cache": await _redis(st.settings.redis_url),
        "queue": queue,
        "ai_providers": ai,
        "models": models,
    }
    down = database["status"] != "healthy" or queue["status"] != "healthy"
    degraded = (
        services["cache"]["status"] == "unhealthy" or models["recognition"]["status"] != "present"
    )
    body = {
        "status": "unhealthy" if down else ("degraded" if degraded else "healthy"),
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "version": "1",
        "services": services,
        "system": _system(st.settings.data_dir),
    }
    return JSONResponse(body, status_code=503 if down else 200)
