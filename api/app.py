"""`create_app`: the REST API, one more front door to the use cases the bot and the CLI call.

FastAPI served by uvicorn (`socialopt api`). Storage, services and the job queue open in the
lifespan; each API key is a user, scoped exactly as the bot scopes Telegram users.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import (
    APIRouter,
    Depends,
    FastAPI,
    File,
    Form,
    Header,
    Request,
    Response,
    Security,
    UploadFile,
)
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi_offline import FastAPIOffline
from starlette.background import BackgroundTask

from api import errors, health, metrics, webapp
from api.auth import Limiter, RateLimits, authenticate
from api.celery_jobs import CeleryJobs
from api.errors import ApiError
from api.jobs import ApiJobs
from api.metrics import ApiMetrics
from api.models import CaptionsRequest
from api.state import ApiState, state
from api.uploads import BodyLimit, read_upload
from pipeline.errors import OptionsError, SocialOptError
from pipeline.intake import probe_image, read_input
from pipeline.job import validate_options
from pipeline.models import PRODUCT_STYLES, JobOptions, LogoOptions
from pipeline.outputs import make_zip
from pipeline.platforms import parse_platforms
from pipeline.serialize import to_dict
from socialopt.queue import JobRunner, admit
from socialopt.settings import Settings
from socialopt.usecases import captions as captions_case
from socialopt.usecases import sessions
from storage.api import ApiKey, ApiStore
from storage.records import FileRecord, SessionRecord
from storage.repository import Repository

log = logging.getLogger(__name__)

API = "/api/v1"
DOCS_ASSETS = "/docs-assets"  # Swagger UI's and ReDoc's JS/CSS, served by this app
MB = 1024 * 1024
OPTION_KEYS = frozenset(
    {
        "output_format",
        "enable_product_photography",
        "product_styles",
        "language",
        "tone",
        "timezone",
        "fit",
        "variant",
        "logo_position",
        "logo_size",
    }
)


BEARER = HTTPBearer(auto_error=False, description="an API key from `socialopt api-key create`")


async def caller(
    request: Request,
    _: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)] = None,
) -> ApiKey:
    """The authenticated key; every call counts against its hourly limit. (The bearer scheme
    is declared for OpenAPI's Authorize button; `X-API-Key` works as well.)"""
    st = state(request)
    key = await authenticate(request, st.keys)
    await st.limiter.hit(st.limiter.overall, key, "overall")
    request.state.key = key
    return key


Caller = Annotated[ApiKey, Depends(caller)]


# --------------------------------------------------------------------------- helpers


def _options_json(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text or "{}")
    except json.JSONDecodeError:
        raise OptionsError("`options` must be a JSON object.", code="INVALID_OPTIONS") from None
    if not isinstance(data, dict):
        raise OptionsError("`options` must be a JSON object.", code="INVALID_OPTIONS")
    unknown = sorted(set(data) - OPTION_KEYS)
    if unknown:
        raise OptionsError(
            f"Unknown option(s): {', '.join(unknown)}. Known: {', '.join(sorted(OPTION_KEYS))}.",
            code="UNKNOWN_OPTION",
        )
    return data


def _platform_list(text: str) -> tuple[str, ...]:
    """`instagram,x`, `instagram x`, `all` or a JSON list."""
    raw: Any = text
    if text.strip().startswith("["):
        try:
            raw = json.loads(text)
        except json.JSONDecodeError:
            raise OptionsError(
                "`platforms` is not a valid JSON list.", code="INVALID_OPTIONS"
            ) from None
    return parse_platforms(raw if isinstance(raw, list) else [str(raw)])


def _apply(options: JobOptions, extra: dict[str, Any], logo: bytes | None) -> JobOptions:
    """This request's options over the user's settings."""
    changes: dict[str, Any] = {
        k: extra[k]
        for k in ("output_format", "language", "tone", "timezone", "fit", "variant")
        if k in extra
    }
    if extra.get("enable_product_photography") or extra.get("product_styles"):
        styles = extra.get("product_styles") or list(sessions.DEFAULT_PRODUCT_STYLES)
        if styles == ["all"]:
            styles = list(PRODUCT_STYLES)
        if not isinstance(styles, list):
            raise OptionsError("`product_styles` must be a list.", code="INVALID_OPTIONS")
        changes["product_styles"] = tuple(str(s) for s in styles)
    if logo is not None:
        changes["logo"] = LogoOptions(
            image=logo,
            position=str(extra.get("logo_position") or "bottom-right"),
            size_pct=float(extra.get("logo_size") or 15.0),
        )
    try:
        return validate_options(replace(options, **changes))
    except (TypeError, ValueError) as exc:
        raise OptionsError(f"Invalid option value: {exc}.", code="INVALID_OPTIONS") from None


def _request_hash(*parts: bytes | str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part if isinstance(part, bytes) else part.encode())
        digest.update(b"\0")
    return digest.hexdigest()


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat(timespec="seconds") if moment else None


async def _owned(st: ApiState, key: ApiKey, sid: str) -> SessionRecord:
    session = await st.repo.get_session(key.user_id, sid)
    if session is None:  # someone else's session looks exactly like a missing one
        raise ApiError(f"Session {sid} was not found.", code="SESSION_NOT_FOUND")
    return session


def _accepted(
    st: ApiState, request: Request, session: SessionRecord, eta_s: float, webhook_url: str = ""
) -> dict:
    sid = session.id
    return {
        "status": "accepted",
        "session_id": sid,
        "processing_status": "started",
        "estimated_completion": _iso(datetime.now(UTC) + timedelta(seconds=eta_s)),
        "webhook_url": webhook_url or None,
        "status_url": st.url(request, f"{API}/optimize/status/{sid}"),
        "results_url": st.url(request, f"{API}/optimize/results/{sid}"),
    }


def _files(st: ApiState, request: Request, sid: str, records: list[FileRecord]) -> dict:
    """The seed's `files`: every output as a URL this API serves."""

    def url(record: FileRecord) -> str:
        name = Path(record.path).name
        direct = st.store.url(sid, name) if st.store is not None else None
        return direct or st.url(request, f"{API}/files/{sid}/{name}")

    out: dict[str, Any] = {
        "json_results": None,
        "compiled_captions": {},
        "optimized_images": {},
        "product_photography": {},
        "preview": None,
        "zip": st.url(request, f"{API}/files/{sid}/zip"),
    }
    for record in records:
        name = Path(record.path).name
        if name.startswith("source."):
            continue
        if record.type == "json":
            out["json_results"] = url(record)
        elif record.type == "caption":
            out["compiled_captions"][record.platform or name] = url(record)
        elif record.type == "image" and record.platform:
            out["optimized_images"][record.platform] = url(record)
        elif record.type == "product_photo":
            out["product_photography"][Path(name).stem] = url(record)
        elif record.type == "preview":
            out["preview"] = url(record)
    return out


# --------------------------------------------------------------------------- routes

router = APIRouter(prefix=API)


@router.post("/optimize/image", status_code=202)
async def optimize_image(
    request: Request,
    response: Response,
    key: Caller,
    platforms: Annotated[str, Form(description="`instagram,x`, `all` or a JSON list")],
    image: Annotated[UploadFile | None, File(description="the photo")] = None,
    image_url: Annotated[str, Form(description="an http(s) URL instead of a file")] = "",
    description: Annotated[str, Form(max_length=1000)] = "",
    use_ai_analysis: Annotated[bool, Form()] = False,
    options: Annotated[str, Form(description="JSON object of options")] = "{}",
    logo: Annotated[UploadFile | None, File(description="a PNG/JPEG logo")] = None,
    webhook_url: Annotated[str, Form()] = "",
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> dict[str, Any]:
    """Start optimizing one photo for the chosen platforms; 202 with the session id."""
    st = state(request)
    await st.limiter.hit(st.limiter.optimize, key, "optimize")
    if (image is None) == (not image_url):
        raise OptionsError("Send either an `image` file or an `image_url`.", code="NO_IMAGE")
    if image is not None:
        data, source_name = await read_upload(image, st.intake.max_bytes), image.filename or ""
    else:
        data, source_name = await asyncio.to_thread(read_input, image_url, st.intake)
    logo_bytes = await read_upload(logo, 5 * MB) if logo is not None else None
    if webhook_url:
        await asyncio.to_thread(health.check_webhook_url, webhook_url, st.intake)
    extra = _options_json(options)
    wanted = _platform_list(platforms)
    fingerprint = _request_hash(
        data, logo_bytes or b"", ",".join(wanted), description, options, str(use_ai_analysis)
    )
    if idempotency_key:
        known = await st.keys.idempotent(key.user_id, idempotency_key, datetime.now(UTC))
        if known is not None:
            if known[0] != fingerprint:
                raise ApiError(
                    "This Idempotency-Key was already used with a different request.",
                    code="IDEMPOTENCY_CONFLICT",
                )
            response.headers["Idempotent-Replayed"] = "true"
            return _accepted(st, request, await _owned(st, key, known[1]), 0.0)
    await asyncio.to_thread(probe_image, data, st.intake)  # 400/413/415 before any work
    choices = sessions.Choices(
        platforms=wanted,
        description=description.strip(),
        use_ai=use_ai_analysis,
        source_name=Path(source_name).name[:100],
    )
    base = await sessions.options_for_user(
        st.repo, st.defaults, key.user_id, choices, ai_enabled=st.services.ai_enabled
    )
    job_options = _apply(base, extra, logo_bytes)
    await admit(st.admission, st.repo, st.jobs.runner, key.user_id)
    started = await sessions.start(st.repo, st.sessions_dir, key.user_id, data, job_options)
    eta = st.jobs.estimate_s(len(job_options.platforms))
    try:
        await st.jobs.enqueue(key.user_id, started, data, logo=logo_bytes, webhook_url=webhook_url)
    except Exception as exc:  # the queue is down: no session may stay pending for ever
        message = "The job queue is not answering; nothing was started. Try again shortly."
        await st.repo.fail_session(key.user_id, started.session_id, "QUEUE_UNAVAILABLE", message)
        if errors.unavailable(exc):
            raise ApiError(message, code="SERVICE_UNAVAILABLE", retry_after=5) from exc
        raise
    if idempotency_key:
        await st.keys.remember(key.user_id, idempotency_key, fingerprint, started.session_id)
    session = await _owned(st, key, started.session_id)
    return _accepted(st, request, session, eta, webhook_url)


@router.get("/optimize/status/{session_id}")
async def optimize_status(request: Request, key: Caller, session_id: str) -> dict[str, Any]:
    """Progress of a session: platforms done, the one in work, the time still expected."""
    st = state(request)
    session = await _owned(st, key, session_id)
    total = len(session.platforms)
    live = st.jobs.progress(session_id)
    if live is not None and session.status in ("pending", "processing"):
        progress = live.view()
    else:
        done = total if session.status == "completed" else 0
        progress = {
            "current_platform": "",
            "completed_platforms": done,
            "total_platforms": total,
            "percentage": 100.0 if done else 0.0,
            "estimated_remaining": 0.0,
        }
    body: dict[str, Any] = {
        "session_id": session_id,
        "status": session.status,
        "progress": progress,
        "created_at": _iso(session.started),
        "completed_at": session.completed_at,
    }
    if session.error_code:
        body["error"] = {"code": session.error_code, "message": session.error_message}
    return body


@router.get("/optimize/results/{session_id}")
async def optimize_results(request: Request, key: Caller, session_id: str) -> dict[str, Any]:
    """results.json's platforms plus a URL for every file; 409 while the job still runs."""
    st = state(request)
    session = await _owned(st, key, session_id)
    if session.status in ("pending", "processing"):
        raise ApiError(
            f"Session {session_id} is still {session.status}; poll the status URL.",
            code="SESSION_NOT_READY",
        )
    if session.status != "completed":
        return {
            "status": session.status,
            "session_id": session_id,
            "error": {"code": session.error_code, "message": session.error_message},
        }
    records = await st.repo.list_files(key.user_id, session_id)
    return {
        "status": "completed",
        "session_id": session_id,
        "results": session.results or {},
        "files": _files(st, request, session_id, records),
    }


@router.get("/files/{session_id}/zip", response_class=FileResponse)
async def session_zip(request: Request, key: Caller, session_id: str) -> FileResponse:
    """Every image, results.json and the caption files in one zip."""
    st = state(request)
    session = await _owned(st, key, session_id)
    if session.status != "completed" or st.store is None:
        raise ApiError("This session has no files to zip.", code="FILE_NOT_FOUND")
    tmp = Path(tempfile.mkdtemp(prefix="socialopt-zip-"))
    folder = await asyncio.to_thread(st.store.fetch_dir, session.id, tmp / "files")
    if not folder.is_dir():
        _remove_tree(tmp)
        raise ApiError("This session has no files to zip.", code="FILE_NOT_FOUND")
    path = await asyncio.to_thread(make_zip, folder, tmp / f"socialopt_{session.id}.zip")
    cleanup = BackgroundTask(_remove_tree, tmp)
    return FileResponse(path, media_type="application/zip", filename=path.name, background=cleanup)


def _remove_tree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


@router.get("/files/{session_id}/{name}", response_class=FileResponse, response_model=None)
async def session_file(
    request: Request, key: Caller, session_id: str, name: str
) -> FileResponse | RedirectResponse:
    """One output file of one of the caller's sessions."""
    st = state(request)
    await _owned(st, key, session_id)
    records = await st.repo.list_files(key.user_id, session_id)
    outputs = {Path(r.path).name for r in records} - {"logo.png"}
    if st.store is None or name not in outputs or name.startswith("source."):
        raise ApiError(f"No file {name!r} in session {session_id}.", code="FILE_NOT_FOUND")
    local = await asyncio.to_thread(st.store.local_path, session_id, name)
    if local is not None:
        return FileResponse(local, filename=name)
    direct = st.store.url(session_id, name, 600)
    if direct is None:
        raise ApiError(f"No file {name!r} in session {session_id}.", code="FILE_NOT_FOUND")
    return RedirectResponse(direct, status_code=307)


@router.get("/sessions")
async def list_sessions(
    request: Request, key: Caller, limit: int = 20, offset: int = 0
) -> dict[str, Any]:
    """The caller's sessions, newest first, `limit` (1-100) at a time."""
    if not 1 <= limit <= 100 or offset < 0:
        raise OptionsError("limit must be 1 to 100 and offset 0 or more.", code="INVALID_PAGE")
    st = state(request)
    rows = await st.repo.list_sessions(key.user_id, limit=limit + 1, offset=offset)
    items = [
        {
            "session_id": s.id,
            "status": s.status,
            "platforms": list(s.platforms),
            "description": s.description,
            "created_at": _iso(s.started),
            "completed_at": s.completed_at,
            "error_code": s.error_code,
            "status_url": st.url(request, f"{API}/optimize/status/{s.id}"),
        }
        for s in rows[:limit]
    ]
    more = len(rows) > limit
    return {
        "sessions": items,
        "limit": limit,
        "offset": offset,
        "next_offset": offset + limit if more else None,
    }


@router.delete("/sessions/{session_id}", status_code=204)
async def delete_session(request: Request, key: Caller, session_id: str) -> Response:
    """Delete a finished session and its files."""
    st = state(request)
    session = await _owned(st, key, session_id)
    if session.status in ("pending", "processing"):
        raise ApiError(
            "This session is still running; delete it when it has finished.",
            code="SESSION_NOT_READY",
        )
    await st.repo.delete_session(key.user_id, session_id, st.settings.data_dir)
    if st.store is not None:  # S3: the objects too (a local store was the folder just removed)
        await asyncio.to_thread(st.store.delete, session_id)
    return Response(status_code=204)


@router.post("/captions")
async def new_captions(request: Request, key: Caller, body: CaptionsRequest) -> dict[str, Any]:
    """New captions for a past session (another variant, maybe a tone) or for a text."""
    st = state(request)
    user = await st.repo.ensure_user(key.user_id)
    language = body.language or user.language or st.defaults.language
    if body.session_id:
        session = await _owned(st, key, body.session_id)
        if session.status != "completed":
            raise ApiError("That session has no results yet.", code="SESSION_NOT_READY")
        call = lambda: captions_case.for_session(  # noqa: E731
            st.services, session, language=language, tone=body.tone, variant=body.variant
        )
    elif body.text.strip():
        platforms = (
            _platform_list(",".join(body.platforms))
            if body.platforms
            else (user.default_platforms or st.defaults.platforms)
        )
        call = lambda: captions_case.for_text(  # noqa: E731
            st.services,
            body.text.strip(),
            tuple(platforms),
            language=language,
            variant=body.variant,
        )
    else:
        raise OptionsError("Send a `session_id` or a `text`.", code="NO_INPUT")
    result = await st.jobs.runner.run_sync(call)
    return {
        "platforms": {p: to_dict(c) for p, c in result.contents.items()},
        "variant": body.variant,
        "notice": result.notice or None,
    }


# --------------------------------------------------------------------------- the app


def _jobs(
    settings: Settings, runner: JobRunner, repo: Repository, services: Any, finished: Any
) -> ApiJobs | CeleryJobs:
    """JOB_BACKEND: jobs in this process (local) or on Celery workers."""
    if settings.job_backend != "celery":
        return ApiJobs(runner, repo, services, finished)
    from socialopt import wiring
    from socialopt.progress import ProgressBoard

    broker = wiring.broker_url(settings)
    return CeleryJobs(runner, wiring.file_store(settings), ProgressBoard(broker), settings, broker)


def _lifespan(settings: Settings, repository: Repository | None, services: Any):  # noqa: ANN202
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from socialopt import wiring

        settings.data_dir.mkdir(parents=True, exist_ok=True)
        repo = repository or await wiring.open_repository(settings)
        svc = services
        if svc is None:
            svc = await asyncio.to_thread(wiring.services_with_cache, settings)
        runner = JobRunner(settings.max_concurrent_jobs)
        st: ApiState

        async def finished(
            uid: int, sid: str, status: str, error: SocialOptError | None, url: str
        ) -> None:
            await metrics.after_job(st.metrics, st.repo, uid, sid, status, error)
            await health.after_job(st, uid, sid, status, error, url)

        st = ApiState(
            settings=settings,
            repo=repo,
            keys=ApiStore(repo),
            services=svc,
            jobs=_jobs(settings, runner, repo, svc, finished),
            limiter=Limiter(
                RateLimits(settings.api_rate_optimize, settings.api_rate_overall),
                settings.redis_url,
            ),
            defaults=wiring.job_defaults(settings, concurrent_jobs=settings.max_concurrent_jobs),
            admission=wiring.admission(settings),
            intake=wiring.intake_limits(settings),
            sessions_dir=settings.data_dir / "sessions",
            store=wiring.file_store(settings),
            metrics=ApiMetrics(runner, lambda: metrics.broker_backlog(st.jobs)),
        )
        st.sessions_dir.mkdir(parents=True, exist_ok=True)
        ensure = getattr(st.store, "ensure_bucket", None)
        if ensure is not None:
            await asyncio.to_thread(ensure)
        app.state.api = st
        try:
            yield
        finally:
            await runner.stop(30.0)
            runner.close()
            if repository is None:
                await repo.close()

    return lifespan


def create_app(
    settings: Settings, *, repository: Repository | None = None, services: Any = None
) -> FastAPI:
    """The API for `settings`; a given `repository`/`services` is used and not closed."""
    # /docs and /redoc load Swagger UI and ReDoc from the fastapi-offline wheel, not a CDN
    app = FastAPIOffline(
        static_url=DOCS_ASSETS,
        title="socialopt API",
        version="1",
        description="One photo in, ready-to-post content for every platform out.",
        lifespan=_lifespan(settings, repository, services),
    )
    errors.install(app)
    app.add_middleware(BodyLimit, max_bytes=settings.max_upload_mb * MB + 6 * MB)
    app.include_router(router)
    app.include_router(health.router)
    app.include_router(metrics.router)
    webapp.install(app)  # the Mini App and playground at /app/ and their JSON routes
    return app
