"""The Mini App and the playground: the page at /app/ and the JSON it calls.

Two ways to say who the user is:

- **Telegram `initData`** (`Authorization: tma <initData>`), validated exactly as Telegram's
  Mini App documentation describes: secret key = HMAC_SHA256(key="WebAppData", msg=bot token),
  hash = hex HMAC_SHA256(key=secret key, msg=data-check-string), where the data-check-string
  is every received field but `hash`, sorted by key, as `key=value` joined by new lines;
  `auth_date` must be younger than WEBAPP_INIT_MAX_AGE_S. The user is the Telegram user id,
  the same id the bot stores sessions under, so only that user's sessions are served.
- **An API key** (`Authorization: Bearer <key>`), as everywhere in the API. The playground
  gets one from `POST /api/v1/webapp/local-key`, which answers only a browser on this machine
  (see `local_request`).

Saving from the Mini App re-renders the changed platforms and sends them to the user's chat
as documents through the Bot API (python-telegram-bot's `Bot`, TELEGRAM_API_BASE_URL honoured).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
import json
import logging
import os
import shutil
import tempfile
import time
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.responses import FileResponse, RedirectResponse
from pydantic import BaseModel, Field
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from api.auth import authenticate
from api.errors import ApiError
from pipeline import captions
from pipeline.errors import OptionsError
from pipeline.intake import load_image, probe_image
from pipeline.platforms import PLATFORM_KEYS, get_spec
from pipeline.render import encode_jpeg
from socialopt.usecases import adjust
from storage.api import ApiKey
from storage.errors import StorageError
from storage.records import SessionRecord

log = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("static")
PREFIX = "/api/v1/webapp"
PHOTO_SIDE = 1600  # the editor's copy of the photo: long side in pixels
LOCAL_KEY_FILE = "playground_api_key"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1"})
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "[::1]"})
FORWARDING_HEADERS = ("x-forwarded-for", "forwarded", "x-real-ip", "x-forwarded-host")
FUTURE_SKEW_S = 60  # an auth_date this far ahead of our clock is still accepted
# What the page may load: only this app (no CDN, no external fonts); blob: for fetched images.
CSP = (
    "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'"
)


ApiState = Any  # api.app.ApiState (not imported: api.app includes this module)


def state(request: Request) -> ApiState:
    """The API's state (api.app.ApiState, set in its lifespan)."""
    return request.app.state.api


# --------------------------------------------------------------------------- Telegram initData


@dataclass(frozen=True)
class TelegramUser:
    """The user a valid initData names."""

    id: int
    first_name: str = ""
    username: str = ""
    auth_date: int = 0


def _unauthorized(why: str) -> ApiError:
    return ApiError(f"Telegram sign-in refused: {why}", code="UNAUTHORIZED")


def init_data_hash(pairs: list[tuple[str, str]], bot_token: str) -> str:
    """The hex hash Telegram puts in initData for these fields (all but `hash`)."""
    check = "\n".join(f"{k}={v}" for k, v in sorted(pairs))
    secret = hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()
    return hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()


def validate_init_data(
    init_data: str, bot_token: str, *, max_age_s: int, now: float | None = None
) -> TelegramUser:
    """The user of a Telegram Mini App's `initData`, or ApiError UNAUTHORIZED (401) when it
    is malformed, its hash is not the bot's, or its `auth_date` is stale."""
    if not bot_token:
        raise _unauthorized("this server has no bot token, so it cannot check Telegram data.")
    try:
        pairs = parse_qsl(init_data, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        raise _unauthorized("the init data is not a query string.") from None
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise _unauthorized("a field appears twice.")
    fields = dict(pairs)
    given = fields.pop("hash", "")
    if not given:
        raise _unauthorized("the init data carries no hash.")
    expected = init_data_hash(list(fields.items()), bot_token)
    if not hmac.compare_digest(expected, given.lower()):
        raise _unauthorized("the init data was not signed by this bot.")
    try:
        auth_date = int(fields.get("auth_date", ""))
    except ValueError:
        raise _unauthorized("auth_date is missing.") from None
    now = time.time() if now is None else now
    if auth_date > now + FUTURE_SKEW_S:
        raise _unauthorized("auth_date is in the future.")
    if now - auth_date > max_age_s:
        raise _unauthorized(
            f"the init data is {int(now - auth_date)} s old (at most {max_age_s} s); "
            "open the Mini App again."
        )
    try:
        user = json.loads(fields.get("user", ""))
        uid = int(user["id"])
    except (ValueError, KeyError, TypeError):
        raise _unauthorized("the init data names no user.") from None
    if uid <= 0:
        raise _unauthorized("the init data names no user.")
    return TelegramUser(
        uid, str(user.get("first_name", "")), str(user.get("username", "")), auth_date
    )


# --------------------------------------------------------------------------- who is calling


@dataclass(frozen=True)
class Viewer:
    """Who the page acts for: a user id, and the Telegram user when signed in through it."""

    user_id: int
    telegram: TelegramUser | None = None
    key: ApiKey | None = None


async def viewer(request: Request) -> Viewer:
    """`Authorization: tma <initData>` (Telegram) or an API key; 401 otherwise."""
    st = state(request)
    header = request.headers.get("authorization", "")
    if header[:4].lower() == "tma ":
        user = validate_init_data(
            header[4:].strip(),
            st.settings.telegram_bot_token.get(),
            max_age_s=st.settings.webapp_init_max_age_s,
        )
        rate_key = ApiKey(0, "telegram", f"tg:{user.id}", user.id, "", "", None)
        await st.limiter.hit(st.limiter.overall, rate_key, "overall")
        return Viewer(user.id, telegram=user)
    key = await authenticate(request, st.keys)
    await st.limiter.hit(st.limiter.overall, key, "overall")
    return Viewer(key.user_id, key=key)


Who = Annotated[Viewer, Depends(viewer)]


def local_request(request: Request) -> bool:
    """A browser on this very machine talking to us directly: the peer is loopback, the Host
    header names loopback (so a DNS-rebound page of another site is refused) and no proxy
    header is present (behind a reverse proxy every peer would look local)."""
    client = request.client.host if request.client else ""
    raw = (request.headers.get("host") or "").strip().lower()
    host = raw[: raw.find("]") + 1] if raw.startswith("[") else raw.rsplit(":", 1)[0]
    proxied = any(request.headers.get(h) for h in FORWARDING_HEADERS)
    return client in LOOPBACK_HOSTS and host in LOOPBACK_NAMES and not proxied


# --------------------------------------------------------------------------- editor data


def platform_facts(key: str, limits: dict[str, int]) -> dict[str, Any]:
    """What the editor needs to count and check a platform's text and draw its frames."""
    spec = get_spec(key, limits)
    return {
        "key": spec.key,
        "name": spec.display_name,
        "sizes": [{"name": s.name, "width": s.width, "height": s.height} for s in spec.sizes],
        "caption_limit": spec.caption_limit,
        "counting": spec.counting,
        "unit": adjust.unit_name(spec),
        "caption_bytes": spec.caption_bytes,
        "hashtag_max": spec.hashtag_max,
        "hashtags_in_post": spec.hashtags_in_post,
        "separator": captions.hashtag_separator(spec),
        "alt_text_limit": spec.alt_text_limit,
    }


def _file_url(sid: str, name: str, version: str = "") -> str:
    suffix = f"?v={version}" if version else ""
    return f"{PREFIX}/sessions/{sid}/files/{name}{suffix}"


def editor_doc(session: SessionRecord, limits: dict[str, int]) -> dict[str, Any]:
    """A finished session as the editor shows it: the photo's size, each platform's frame
    (source pixels), fit, texts, versions, alt text and limits."""
    results = session.results or {}
    width, height = adjust.source_size(results)
    platforms = []
    for key, entry in (results.get("platforms") or {}).items():
        image = entry.get("image") or None
        version = str(entry.get("adjusted_at") or "").replace(":", "")
        item: dict[str, Any] = {
            **platform_facts(key, limits),
            "status": entry.get("status"),
            "error": entry.get("error"),
            "caption": entry.get("caption", ""),
            "title": entry.get("title", ""),
            "hashtags": list(entry.get("hashtag_list") or []),
            "first_comment": entry.get("first_comment", ""),
            "ready_to_post": entry.get("ready_to_post", ""),
            "alt_text": entry.get("alt_text", ""),
            "variant": entry.get("variant"),
            "variants": [
                {
                    "variant": v.get("variant", i),
                    "caption": v.get("caption", ""),
                    "title": v.get("title", ""),
                }
                for i, v in enumerate(entry.get("variants") or [])
            ],  # fmt: skip
            "posting_times": entry.get("posting_times") or [],
            "posting_times_note": entry.get("posting_times_note", ""),
            "provider": entry.get("provider", "offline"),
            "image": None,
        }
        if image is not None:
            name = str(entry.get("processed_image") or "")
            item["image"] = {
                "width": image["width"],
                "height": image["height"],
                "format": image.get("format"),
                "fit": image.get("fit", "crop"),
                "crop_box": image.get("crop_box"),
                "frame": list(adjust.editable_box(entry, width, height)),
                "subject_box": image.get("subject_box"),
                "size_bytes": image.get("size_bytes"),
                "file": name,
                "url": _file_url(session.id, name, version) if name else None,
            }
        platforms.append(item)
    return {
        "session_id": session.id,
        "status": session.status,
        "description": session.description,
        "source": {"width": width, "height": height, "name": results.get("source_image", "")},
        "photo_url": f"{PREFIX}/sessions/{session.id}/photo",
        "preview_url": _file_url(session.id, "preview.jpg", str(int(time.time()))),
        "zip_url": f"{PREFIX}/sessions/{session.id}/zip",
        "platforms": platforms,
    }


# --------------------------------------------------------------------------- routes

router = APIRouter(prefix=PREFIX, tags=["webapp"])


class PlatformEdit(BaseModel):
    """One platform's changes; leave a field out to keep it."""

    crop_box: list[float] | None = Field(None, min_length=4, max_length=4)
    fit: str | None = Field(None, max_length=10)
    caption: str | None = Field(None, max_length=20_000)
    hashtags: str | None = Field(None, max_length=5_000)
    variant: int | None = Field(None, ge=0, le=100)


class AdjustRequest(BaseModel):
    """Changes per platform key, e.g. {"pinterest": {"crop_box": [0, 0, 800, 1200]}}."""

    platforms: dict[str, PlatformEdit]


async def _session(st: ApiState, who: Viewer, sid: str) -> SessionRecord:
    session = await st.repo.get_session(who.user_id, sid)
    if session is None:  # another user's session looks exactly like a missing one
        raise ApiError(f"Session {sid} was not found.", code="SESSION_NOT_FOUND")
    if session.status != "completed" or not session.results:
        raise ApiError(
            f"Session {sid} is {session.status}; only a finished session can be adjusted.",
            code="SESSION_NOT_READY",
        )
    return session


@asynccontextmanager
async def _folder(st: ApiState, sid: str) -> AsyncIterator[Path]:
    """The session's files as a folder: the one on this machine when the job ran here (or
    the local store's), else a temporary copy fetched from the store (S3 with workers)."""
    local = st.sessions_dir / sid
    if st.store is None or await asyncio.to_thread((local / "results.json").is_file):
        yield local
        return
    tmp = Path(tempfile.mkdtemp(prefix="socialopt-adjust-"))
    try:
        yield await asyncio.to_thread(st.store.fetch_dir, sid, tmp / sid)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@router.get("/platforms")
async def platforms(request: Request) -> dict[str, Any]:
    """Every platform's frame sizes and text limits (public facts; no key needed)."""
    limits = dict(state(request).services.hashtag_limits)
    return {"platforms": [platform_facts(k, limits) for k in PLATFORM_KEYS]}


@router.post("/local-key")
async def local_key(request: Request) -> dict[str, Any]:
    """The playground's API key, made on first use and kept in DATA_DIR (0600): only for a
    browser on this machine (loopback peer, loopback Host, no proxy headers) and only while
    WEBAPP_LOCAL_KEY is on. Anyone else creates a key with `socialopt api-key create`."""
    st = state(request)
    if not st.settings.webapp_local_key or not local_request(request):
        raise ApiError(
            "A local key is given only to a browser on this machine (http://127.0.0.1); "
            "create one with `socialopt api-key create --name NAME`.",
            code="UNAUTHORIZED",
        )
    path = st.settings.data_dir / LOCAL_KEY_FILE
    async with _lock(request, "local-key"):
        known = await asyncio.to_thread(_read_text, path)
        if known and await st.keys.key_for(known) is not None:
            return {"key": known, "created": False}
        made = await st.keys.create_key("playground (local)")
        await asyncio.to_thread(_write_private, path, made.key)
    return {"key": made.key, "created": True}


def _lock(request: Request, name: str) -> asyncio.Lock:
    """One lock per name (a session id, or the local key) in this app: two saves of one
    session, or two first visits, run one after the other. Made on the app's own loop."""
    locks: weakref.WeakValueDictionary[str, asyncio.Lock] = request.app.state.webapp_locks
    lock = locks.get(name)
    if lock is None:
        lock = locks[name] = asyncio.Lock()
    return lock


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError:
        return ""


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)


@router.get("/me")
async def me(request: Request, who: Who) -> dict[str, Any]:
    """Who the page acts for, and the newest finished sessions to open."""
    st = state(request)
    rows = await st.repo.list_sessions(who.user_id, limit=10)
    return {
        "user_id": who.user_id,
        "telegram": None
        if who.telegram is None
        else {"id": who.telegram.id, "first_name": who.telegram.first_name},
        "sessions": [
            {"session_id": s.id, "platforms": list(s.platforms), "started_at": s.started_at}
            for s in rows
            if s.status == "completed"
        ],
    }


@router.get("/sessions/{session_id}")
async def load_session(request: Request, who: Who, session_id: str) -> dict[str, Any]:
    """A finished session for the editor."""
    st = state(request)
    session = await _session(st, who, session_id)
    return editor_doc(session, dict(st.services.hashtag_limits))


@router.get("/sessions/{session_id}/photo", response_class=Response)
async def session_photo(request: Request, who: Who, session_id: str) -> Response:
    """The original photo (upright, at most PHOTO_SIDE px on its long side) for the editor;
    frames are in the original's pixels, scaled by the page."""
    st = state(request)
    session = await _session(st, who, session_id)
    data = await asyncio.to_thread(_source_bytes, st, session)
    body = await st.jobs.runner.run_sync(_editor_photo, data, st.services.intake_limits)
    return Response(body, media_type="image/jpeg", headers={"Cache-Control": "private"})


def _source_bytes(st: ApiState, session: SessionRecord) -> bytes:
    """The session's kept photo: on this machine, else the copy in the store (S3)."""
    name = Path(session.source_path or "").name
    try:
        return adjust.read_source(st.sessions_dir / session.id, session.source_path or "")
    except adjust.AdjustError:
        if st.store is None or not name.startswith("source"):
            raise
        try:
            return st.store.get(session.id, name)
        except StorageError:
            raise adjust.AdjustError(
                "The original photo of this session is no longer kept.", code="SOURCE_MISSING"
            ) from None


def _editor_photo(data: bytes, limits: Any) -> bytes:
    """The photo upright, PHOTO_SIDE px on its long side (a JPEG decodes reduced)."""
    header = probe_image(data, limits)
    long_side = (PHOTO_SIDE, 1) if header.width >= header.height else (1, PHOTO_SIDE)
    source = load_image(data, limits, draft_size=long_side)
    img = source.image
    img.thumbnail((PHOTO_SIDE, PHOTO_SIDE))
    return encode_jpeg(img, 85)


@router.get("/sessions/{session_id}/files/{name}", response_class=Response)
async def session_file(request: Request, who: Who, session_id: str, name: str) -> Response:
    """One output file of one of the viewer's sessions (images, preview, captions)."""
    st = state(request)
    await _session(st, who, session_id)
    records = await st.repo.list_files(who.user_id, session_id)
    outputs = {Path(r.path).name for r in records} - {"logo.png"}
    if name not in outputs or name.startswith("source."):
        raise ApiError(f"No file {name!r} in session {session_id}.", code="FILE_NOT_FOUND")
    here = st.sessions_dir / session_id / name  # the job ran on this machine
    if await asyncio.to_thread(here.is_file):
        return FileResponse(here, filename=name, headers={"Cache-Control": "private"})
    if st.store is None:
        raise ApiError(f"No file {name!r} in session {session_id}.", code="FILE_NOT_FOUND")
    data = await asyncio.to_thread(st.store.get, session_id, name)
    return Response(data, media_type=_media_type(name), headers={"Cache-Control": "private"})


def _media_type(name: str) -> str:
    ext = name.rsplit(".", 1)[-1].lower()
    return {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp", "txt": "text/plain",
            "json": "application/json"}.get(ext, "application/octet-stream")  # fmt: skip


@router.get("/sessions/{session_id}/zip", response_class=Response)
async def session_zip(request: Request, who: Who, session_id: str) -> Response:
    """Every file of the session in one zip (the same bundle as /api/v1/files/{id}/zip)."""
    from pipeline.outputs import make_zip

    st = state(request)
    await _session(st, who, session_id)
    async with _folder(st, session_id) as folder:
        tmp = Path(tempfile.mkdtemp(prefix="socialopt-zip-"))
        try:
            path = await asyncio.to_thread(make_zip, folder, tmp / f"socialopt_{session_id}.zip")
            body = await asyncio.to_thread(path.read_bytes)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    disposition = f'attachment; filename="socialopt_{session_id}.zip"'
    return Response(
        body, media_type="application/zip", headers={"Content-Disposition": disposition}
    )


@router.post("/sessions/{session_id}/adjust")
async def adjust_session(
    request: Request, who: Who, session_id: str, body: AdjustRequest
) -> dict[str, Any]:
    """Apply crops, fits and texts; re-render the changed platforms. Inside Telegram the new
    images (and changed texts) are sent to the user's chat."""
    st = state(request)
    edits = {
        _platform_key(k): adjust.Edit(
            crop_box=tuple(e.crop_box) if e.crop_box is not None else None,  # type: ignore[arg-type]
            fit=e.fit,
            caption=e.caption,
            hashtags=e.hashtags,
            variant=e.variant,
        )
        for k, e in body.platforms.items()
    }
    async with _lock(request, f"session:{session_id}"):
        session = await _session(st, who, session_id)  # inside the lock: the latest results
        async with _folder(st, session_id) as folder:
            logo = await _logo_bytes(st, session, folder)
            done = await adjust.adjust_session(
                st.repo,
                session,
                edits,
                folder=folder,
                run_sync=st.jobs.runner.run_sync,
                limits=dict(st.services.hashtag_limits),
                logo_image=logo,
                intake=st.services.intake_limits,
                file_store=st.store,
            )
            sent = await _send_to_chat(st, who, done, folder) if who.telegram else None
    fresh = await st.repo.get_session(who.user_id, session_id)
    assert fresh is not None
    return {
        "changed": done.changed,
        "rendered": sorted(done.rendered),
        "texts": done.texts,
        "telegram": sent,
        "session": editor_doc(fresh, dict(st.services.hashtag_limits)),
    }


def _platform_key(key: str) -> str:
    try:
        return get_spec(key).key
    except (OptionsError, KeyError):
        raise adjust.AdjustError(
            f"Unknown platform {key[:40]!r}.", code="UNKNOWN_PLATFORM"
        ) from None


async def _logo_bytes(st: ApiState, session: SessionRecord, folder: Path) -> bytes | None:
    """The logo the job used: kept with the session's files (Celery jobs), else the user's
    saved logo (the bot's /settings); None when the job had none or it is gone (the use case
    then refuses to redo images rather than drop the logo)."""
    if not (session.options or {}).get("logo"):
        return None
    user = await st.repo.get_user(session.user_id)
    for path in (folder / "logo.png", Path(user.logo_path) if user and user.logo_path else None):
        if path is not None and await asyncio.to_thread(path.is_file):
            return await asyncio.to_thread(path.read_bytes)
    return None


async def _send_to_chat(
    st: ApiState, who: Viewer, done: adjust.Adjusted, folder: Path
) -> dict[str, Any]:
    """The re-rendered images as documents and the changed texts as messages, to the
    Telegram user's private chat with the bot. A failure is reported, not raised: the
    adjustment itself is saved."""
    from telegram import Bot
    from telegram.error import TelegramError

    assert who.telegram is not None
    settings = st.settings
    kwargs: dict[str, Any] = {}
    if settings.telegram_api_base_url:
        kwargs["base_url"] = settings.telegram_api_base_url
    if settings.telegram_file_base_url:
        kwargs["base_file_url"] = settings.telegram_file_base_url
    chat = who.telegram.id
    sent = 0
    try:
        async with Bot(settings.telegram_bot_token.get(), **kwargs) as bot:
            for key, path in done.rendered.items():
                entry = done.results["platforms"][key]
                image = entry.get("image") or {}
                data = await asyncio.to_thread(path.read_bytes)
                caption = (
                    f"{get_spec(key).display_name} · {image.get('width')}×{image.get('height')}"
                    " · adjusted"
                )
                await bot.send_document(
                    chat, io.BytesIO(data), filename=path.name, caption=caption
                )
                sent += 1
            for key in done.texts:
                entry = done.results["platforms"][key]
                text = (
                    f"{get_spec(key).display_name} · new caption\n\n{entry.get('ready_to_post')}"
                )
                if entry.get("first_comment"):
                    text += f"\n\nFirst comment:\n{entry['first_comment']}"
                await bot.send_message(chat, text[:4096])
                sent += 1
    except TelegramError as exc:
        log.warning("webapp: sending the adjusted files to the chat failed: %s", exc)
        return {"sent": sent, "error": "Telegram did not take the files; they are saved here."}
    return {"sent": sent, "error": None}


# --------------------------------------------------------------------------- the page


class _Page(StaticFiles):
    """api/static with index.html at /app/ and a Content-Security-Policy that lets the page
    load nothing from elsewhere."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-cache"
        return response


def install(app: FastAPI) -> None:
    """Add the webapp's JSON routes and the page at /app/ to the API app."""
    app.include_router(router)
    app.state.webapp_locks = weakref.WeakValueDictionary()

    @app.get("/app", include_in_schema=False)
    async def app_root() -> RedirectResponse:
        return RedirectResponse("/app/", status_code=308)

    app.mount("/app", _Page(directory=STATIC, html=True), name="webapp")
