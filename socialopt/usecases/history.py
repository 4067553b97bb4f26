"""A stored session, read back for sending again: each platform's result and its image file."""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.models import (
    JobOptions,
    JobResult,
    PlatformResult,
    ProductDecision,
    ProductPhoto,
    RenderedImage,
    SourceInfo,
    Usage,
)
from pipeline.outputs import make_zip
from pipeline.serialize import analysis_from_dict, niche_from_dict, platform_result_from_dict
from storage.files import FileStore
from storage.records import SessionRecord


@dataclass
class StoredPlatform:
    """One platform of a stored session; `image` is (bytes, file name, (w, h)) or None."""

    platform: str
    result: PlatformResult
    image: tuple[bytes, str, tuple[int | None, int | None]] | None


def stored_platforms(session: SessionRecord, folder: Path) -> Iterator[StoredPlatform]:
    """The session's platforms from results.json, images read from `folder` only."""
    for platform, data in ((session.results or {}).get("platforms") or {}).items():
        name = data.get("processed_image")
        path = folder / Path(name).name if name else None  # never outside the session folder
        image = None
        if path is not None and path.is_file():
            size = data.get("image") or {}
            image = (path.read_bytes(), path.name, (size.get("width"), size.get("height")))
        yield StoredPlatform(platform, platform_result_from_dict(platform, data), image)


def _read(folder: Path, name: str | None) -> bytes:
    path = folder / Path(name).name if name else None  # never outside the session folder
    return path.read_bytes() if path is not None and path.is_file() else b""


def _fields(cls: type, data: dict[str, Any] | None) -> dict[str, Any]:
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in (data or {}).items() if k in names}


def stored_result(session: SessionRecord, folder: Path) -> JobResult:
    """A finished session read back as the JobResult its job returned (image bytes from
    `folder`), so a job another process ran is delivered exactly like one run here. Sync."""
    doc = session.results or {}
    platforms: dict[str, PlatformResult] = {}
    for item in stored_platforms(session, folder):
        result = item.result
        if item.image is not None and result.image is not None:
            result.image = dataclasses.replace(result.image, data=item.image[0])
        data = doc["platforms"][item.platform]
        for photo in data.get("product_photos") or []:
            image = RenderedImage(
                _read(folder, photo.get("file")),
                int(photo.get("width") or 0),
                int(photo.get("height") or 0),
                Path(str(photo.get("file") or "x.jpg"))
                .suffix.lstrip(".")
                .upper()
                .replace("JPG", "JPEG"),
            )
            result.product_photos.append(
                ProductPhoto(photo.get("style", ""), item.platform, image, photo.get("method", ""))
            )
        platforms[item.platform] = result
    usage = Usage(**_fields(Usage, doc.get("usage")))
    product = doc.get("product")
    source = doc.get("source") or {}
    return JobResult(
        session_id=session.id,
        user_uuid=str(doc.get("user_uuid") or session.user_id),
        timestamp=str(doc.get("timestamp") or ""),
        source=SourceInfo(**_fields(SourceInfo, source)),
        options=JobOptions(platforms=tuple(platforms)),
        analysis=analysis_from_dict(doc["analysis"]),
        niches=[niche_from_dict(n) for n in doc.get("niches") or []],
        platforms=platforms,
        contact_sheet=_read(folder, "preview.jpg"),
        product=None if not product else ProductDecision(**_fields(ProductDecision, product)),
        usage=usage,
        warnings=list(doc.get("warnings") or []),
        timings=dict(doc.get("timings") or {}),
    )


@contextmanager
def session_files(store: FileStore, session_id: str) -> Iterator[Path]:
    """A local folder with the session's files, wherever the store keeps them: the session's
    own folder on a local store, a temporary copy (removed afterwards) from S3."""
    local = store.local_path(session_id, "results.json")
    if local is not None:
        yield local.parent
        return
    with tempfile.TemporaryDirectory(prefix="socialopt-session-") as tmp:
        yield store.fetch_dir(session_id, Path(tmp))


def zip_session(store: FileStore, session_id: str, dest: Path) -> Path | None:
    """The session's images, results.json and caption files zipped into `dest` (a folder);
    None when the store has no files for it. Sync."""
    with session_files(store, session_id) as folder:
        if not (folder / "results.json").is_file():
            return None
        return make_zip(folder, dest / f"socialopt_{session_id}.zip")


def resend_kit(store: FileStore, session: SessionRecord) -> tuple[bytes, list[StoredPlatform]]:
    """What sending a stored session again needs: the preview's bytes (b"" when gone) and each
    platform with its image. Sync."""
    with session_files(store, session.id) as folder:
        preview = folder / "preview.jpg"
        return (
            preview.read_bytes() if preview.is_file() else b"",
            list(stored_platforms(session, folder)),
        )
