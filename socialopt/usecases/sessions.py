"""A photo session's life: options from the user's saved settings, the session row and its
source file, the pipeline run, then files and rows committed together (or a coded failure).

Shared by the bot, the API and the worker; the front door only decides where the job runs
(`run_sync`) and how progress and the outcome reach the person.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

from pipeline.errors import SocialOptError
from pipeline.job import run_job
from pipeline.models import JobOptions, JobResult, LogoOptions, ProgressFn
from pipeline.outputs import results_to_dict, write_outputs
from storage.files import FileStore
from storage.records import files_in_dir, rows_from_results
from storage.repository import Repository

log = logging.getLogger(__name__)
T = TypeVar("T")

DEFAULT_PRODUCT_STYLES: tuple[str, ...] = ("solid_background", "floating")
RunSync = Callable[..., Awaitable[Any]]  # runs a blocking call off the event loop


class JobCrashed(SocialOptError):
    """An unexpected exception in a job; the session is recorded as INTERNAL_ERROR."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(
            "Sorry, something went wrong on my side. Please try again.", code="INTERNAL_ERROR"
        )
        self.cause = cause


@dataclass
class Choices:
    """What a person picked for one photo (everything else comes from their settings)."""

    platforms: Sequence[str]
    description: str = ""
    use_ai: bool = False
    product: bool = False
    product_force: bool = False
    logo: bool = False
    source_name: str = ""


def new_session_id() -> str:
    return uuid.uuid4().hex[:12]


def _read_optional(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


async def options_for_user(
    repo: Repository, defaults: JobOptions, user_id: int, choices: Choices, *, ai_enabled: bool
) -> JobOptions:
    """JobOptions from the user's saved settings (crop fit included) plus this photo's
    choices; `product_force` makes product photos even when the detector refuses."""
    user = await repo.ensure_user(user_id)
    logo_options = None
    if choices.logo and user.logo_path:
        data = await asyncio.to_thread(_read_optional, Path(user.logo_path))
        if data:
            logo_options = LogoOptions(
                image=data, position=user.logo_position, size_pct=user.logo_size_pct
            )
    accounts = await repo.list_accounts(user_id)
    return replace(
        defaults,
        platforms=tuple(choices.platforms),
        description=choices.description,
        use_ai=choices.use_ai and ai_enabled,  # the wired services decide, not the keys
        language=user.language or defaults.language,
        timezone=user.timezone or defaults.timezone,
        output_format=user.output_format or defaults.output_format,
        product_styles=DEFAULT_PRODUCT_STYLES if choices.product else (),
        product_force=choices.product and choices.product_force,
        logo=logo_options,
        saved_accounts=tuple(accounts),
        source_name=choices.source_name,
        fit=user.fit,
    )


def _write_source(path: Path, data: bytes) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def stored_options(options: JobOptions) -> dict[str, Any]:
    """The options kept with the session row (what a rerun needs besides the source)."""
    return {
        "language": options.language,
        "timezone": options.timezone,
        "output_format": options.output_format,
        "product_styles": list(options.product_styles),
        "product_force": options.product_force,
        "fit": options.fit,
        "logo": options.logo is not None,
        "source_name": options.source_name,
    }


def _source_suffix(name: str) -> str:
    suffix = Path(name).suffix.lower()
    return suffix if suffix and len(suffix) <= 5 and suffix[1:].isalnum() else ".img"


@dataclass
class Started:
    """A recorded, pending session: its id, folder, the options it runs with and its kept
    source file (read again when the job runs, so a queued job holds no image bytes)."""

    session_id: str
    out_dir: Path
    options: JobOptions
    source_path: Path | None = None


def read_source(started: Started, fallback: bytes = b"") -> bytes:
    """The session's kept source bytes (`fallback` when it has none). Sync."""
    if started.source_path is None:
        return fallback
    return started.source_path.read_bytes()


async def start(
    repo: Repository,
    sessions_dir: Path,
    user_id: int,
    image: bytes,
    options: JobOptions,
    *,
    deliver: bool = False,
) -> Started:
    """Keep the source file and record the session as pending. `deliver`: the front door
    sends the results to a chat, a step recorded on its own (`delivered` once done), so a
    crash between completion and delivery is found at the next start-up."""
    sid = new_session_id()
    out_dir = sessions_dir / sid
    source_path = out_dir / f"source{_source_suffix(options.source_name)}"
    digest = await asyncio.to_thread(_write_source, source_path, image)
    options = replace(options, session_id=sid, user_uuid=str(user_id))
    await repo.create_session(
        user_id,
        session_id=sid,
        source_path=str(source_path),
        source_hash=digest,
        platforms=options.platforms,
        description=options.description,
        use_ai=options.use_ai,
        options=stored_options(options),
    )
    if deliver:
        await repo.mark_delivery_pending(user_id, sid)
    return Started(sid, out_dir, options, source_path)


async def store(
    repo: Repository,
    user_id: int,
    session_id: str,
    result: Any,
    out_dir: Path,
    file_store: FileStore | None = None,
    *,
    write: Callable[[Any, Path], Any] = write_outputs,
    to_doc: Callable[[Any], dict[str, Any]] = results_to_dict,
) -> Any:
    """Write the files (and copy them to `file_store`, when the session's files live in one
    every machine reaches), then commit the session row with its results (one transaction).
    `write`/`to_doc` write and describe the result (a photo's by default, a set's for albums)."""
    files = await asyncio.to_thread(write, result, out_dir)
    if file_store is not None:
        await asyncio.to_thread(file_store.put_dir, session_id, out_dir)
    doc = to_doc(result)
    rows = rows_from_results(doc)
    for row in rows:
        if row.platform in files.images:
            row.image_path = str(files.images[row.platform])
    records = await asyncio.to_thread(files_in_dir, session_id, out_dir)
    await repo.complete_session(
        user_id, session_id, results=doc, platform_rows=rows, files=records
    )
    return files


async def run(
    repo: Repository,
    services: Any,
    started: Started,
    user_id: int,
    image: bytes,
    *,
    run_sync: RunSync,
    progress: ProgressFn | None = None,
    file_store: FileStore | None = None,
) -> JobResult:
    """Run a pending session to the end: processing, the pipeline, then files and rows."""
    return await run_recorded(
        repo,
        started,
        user_id,
        lambda: run_sync(run_job, image, started.options, services, progress),
        lambda result: store(
            repo, user_id, started.session_id, result, started.out_dir, file_store
        ),
    )


async def run_recorded(
    repo: Repository,
    started: Started,
    user_id: int,
    compute: Callable[[], Awaitable[T]],
    keep: Callable[[T], Awaitable[Any]],
) -> T:
    """processing -> `compute()` -> `keep(result)` (files and rows), with every failure
    recorded: a coded one is re-raised as it is; anything else is recorded as INTERNAL_ERROR
    and raised as JobCrashed. Cancellation leaves the row processing (a restart marks it
    interrupted)."""
    sid = started.session_id
    await repo.mark_processing(user_id, sid)
    try:
        result = await compute()
        await keep(result)
    except asyncio.CancelledError:
        raise
    except SocialOptError as exc:
        await repo.fail_session(user_id, sid, exc.code, exc.message)
        raise
    except Exception as exc:  # noqa: BLE001 - one job's failure must not spread
        await repo.fail_session(user_id, sid, "INTERNAL_ERROR", type(exc).__name__)
        raise JobCrashed(exc) from exc
    return result


# -- drafts: a photo waiting for its platforms, kept on disk rather than in memory -------------


def save_draft(drafts_dir: Path, user_id: int, data: bytes) -> Path:
    """Write a draft's image bytes to a new file under `drafts_dir`; returns its path. Sync."""
    drafts_dir.mkdir(parents=True, exist_ok=True)
    path = drafts_dir / f"{user_id}-{uuid.uuid4().hex[:12]}.img"
    path.write_bytes(data)
    return path


def read_draft(path: Path) -> bytes | None:
    """A draft's bytes, or None when the file is gone. Sync."""
    return _read_optional(path)


def drop_draft(path: Path | None) -> None:
    """Remove a draft's file (already gone is fine). Sync."""
    if path is not None:
        path.unlink(missing_ok=True)


def clear_drafts(drafts_dir: Path) -> int:
    """Remove every draft file (at start-up: no conversation survives a restart). Sync."""
    removed = 0
    for path in drafts_dir.glob("*.img") if drafts_dir.is_dir() else ():
        path.unlink(missing_ok=True)
        removed += 1
    return removed
