"""Synchronous helpers for the CLI: record a finished run and list past runs (user id 0), in a
SQLite file or a PostgreSQL database (a `postgresql://` URL)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from storage.db import Target, is_postgres
from storage.records import (
    SessionRecord,
    files_in_dir,
    from_iso,
    rows_from_results,
    valid_session_id,
)
from storage.repository import Repository

CLI_USER_ID = 0


def _source(result: Mapping[str, Any]) -> tuple[str, str]:
    """(source path or URL, sha256) from results.json's `source_image`/`source` entries."""
    source = result.get("source_image") or result.get("source") or ""
    if isinstance(source, Mapping):
        name = str(source.get("name") or source.get("path") or "")
        digest = str(source.get("sha256") or source.get("hash") or "")
    else:
        name, digest = str(source), ""
    return name, str(result.get("source_hash") or digest)


async def _record(db_path: Target, result: Mapping[str, Any], out_dir: Path) -> SessionRecord:
    sid = str(result.get("session_id") or "")
    if sid and not valid_session_id(sid):
        sid = ""
    source_path, source_hash = _source(result)
    rows = rows_from_results(result)
    options = result.get("options") if isinstance(result.get("options"), Mapping) else {}
    description = str(result.get("description") or options.get("description") or "")
    use_ai = bool(result.get("use_ai", options.get("use_ai", False))) or any(
        r.provider not in ("", "offline") for r in rows
    )
    started = None
    try:
        started = from_iso(str(result.get("timestamp") or "")) or None
    except ValueError:
        started = None
    async with await Repository.open(db_path) as repo:
        if sid:
            await repo.delete_session(CLI_USER_ID, sid)  # recording the same run again
        record = await repo.create_session(
            CLI_USER_ID,
            session_id=sid,
            source_path=source_path,
            source_hash=source_hash,
            platforms=[r.platform for r in rows],
            description=description,
            use_ai=use_ai,
            options=dict(options),
            started_at=started,
        )
        files = files_in_dir(record.id, Path(out_dir))
        await repo.complete_session(
            CLI_USER_ID, record.id, results=dict(result), platform_rows=rows, files=files
        )
        if rows and not any(r.status == "completed" for r in rows):
            await repo.fail_session(
                CLI_USER_ID, record.id, "ALL_PLATFORMS_FAILED", "Every platform failed."
            )
        final = await repo.get_session(CLI_USER_ID, record.id)
    assert final is not None
    return final


def _target(db_path: Target) -> Target:
    return db_path if is_postgres(db_path) else Path(db_path)


def record_cli_run(
    db_path: Target, result_dict: Mapping[str, Any], out_dir: Path | str
) -> SessionRecord:
    """Record a finished CLI run from its results.json-shaped dict and output folder."""
    return asyncio.run(_record(_target(db_path), result_dict, Path(out_dir)))


async def _history(db_path: Target, limit: int) -> list[SessionRecord]:
    async with await Repository.open(db_path) as repo:
        return await repo.list_sessions(CLI_USER_ID, limit=limit)


def list_history(db_path: Target, limit: int = 20) -> list[SessionRecord]:
    """The CLI's recorded runs, newest first; [] when the SQLite file does not exist yet."""
    target = _target(db_path)
    if isinstance(target, Path) and not target.exists():
        return []
    return asyncio.run(_history(target, limit))
