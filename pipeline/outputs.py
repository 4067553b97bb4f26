"""Files a job leaves behind: images, preview.jpg, results.json and caption files.

`results.json` keeps the seed's shape (session_id, user_uuid, timestamp, source_image,
platforms.<name>, optimization_metadata) so `compile_captions` can rebuild the caption files
from it alone.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import zipfile
from pathlib import Path
from typing import Any

from pipeline import captions, posting
from pipeline.errors import OutputError, SocialOptError
from pipeline.models import JobResult, OutputFiles, PlatformContent, PlatformResult
from pipeline.platforms import PLATFORMS, PlatformSpec
from pipeline.serialize import account_list, hashtag_list, to_dict

RULE = "=" * 60
THIN = "-" * 60


def _text_dict(content: PlatformContent, spec: PlatformSpec) -> dict[str, str]:
    return {
        "caption": content.caption,
        "ready_to_post": captions.ready_to_post(content, spec),
        "title": content.title,
    }


def _platform_dict(key: str, res: PlatformResult, variant: int) -> dict[str, Any]:
    """One platform's entry: the seed's keys (hashtags as "#a #b", profile_results with
    extracted_usernames) and the richer lists beside them (hashtag_list, accounts)."""
    content = res.content
    image = res.image
    spec = PLATFORMS[key]
    text = _text_dict(content, spec) if content else dict.fromkeys(_TEXT_KEYS, "")
    tags = list(content.hashtags) if content else []
    handles = [a.handle for a in res.profiles if a.handle]
    return {
        "status": res.status,
        "processed_image": image.filename(key) if image else None,
        "image": None
        if image is None
        else {
            "width": image.width,
            "height": image.height,
            "format": image.format,
            "size_name": image.size_name,
            "size_bytes": len(image.data),
            "quality": image.quality,
            "crop_box": list(image.crop_box),
            "fit": image.fit,
            "subject_box": None if image.subject_box is None else list(image.subject_box),
            "subject_kept": image.subject_kept,
        },
        "image_url": res.image_url,
        "niches": [n.key for n in res.niches],
        "hashtags": " ".join(tags),
        "hashtag_list": tags,
        **text,
        "alt_text": content.alt_text if content else "",
        "first_comment": captions.first_comment(content, spec) if content else "",
        "variant": variant if res.provider == "offline" else None,
        "variants": [{"variant": i, **_text_dict(v, spec)} for i, v in enumerate(res.variants)],
        "posting_times": [to_dict(t) for t in res.posting_times],
        "posting_times_note": posting.no_study_note(spec),  # why there are none, if none
        "profile_results": {"extracted_usernames": handles, "total_usernames": len(handles)},
        "accounts": [to_dict(a) for a in res.profiles],
        "processing_time": res.processing_time,
        "product_photography_used": bool(res.product_photos),
        "product_photos": [
            {
                "style": p.style,
                "file": p.filename,
                "method": p.method,
                "url": p.url,
                "width": p.image.width,
                "height": p.image.height,
            }
            for p in res.product_photos
        ],
        "provider": res.provider,
        "error": res.error,
    }


_TEXT_KEYS = ("caption", "ready_to_post", "title")


def results_to_dict(result: JobResult) -> dict[str, Any]:
    """The results.json document for a job."""
    options = result.options
    return {
        "session_id": result.session_id,
        "user_uuid": result.user_uuid,
        "timestamp": result.timestamp,
        "source_image": result.source.name,
        "source": to_dict(result.source),
        "options": {
            "platforms": list(options.platforms),
            "description": options.description,
            "use_ai": options.use_ai,
            "language": options.language,
            "timezone": options.timezone,
            "output_format": options.output_format,
            "tone": options.tone,
            "variant": options.variant,
            "product_styles": list(options.product_styles),
            "logo": None
            if options.logo is None
            else {
                "position": options.logo.position,
                "size_pct": options.logo.size_pct,
                "margin_pct": options.logo.margin_pct,
                "opacity": options.logo.opacity,
            },
        },
        "analysis": to_dict(result.analysis),
        "niches": [to_dict(n) for n in result.niches],
        "platforms": {
            k: _platform_dict(k, r, options.variant) for k, r in result.platforms.items()
        },
        "product": None if result.product is None else to_dict(result.product),
        "usage": result.usage.to_dict(),
        "warnings": list(result.warnings),
        "timings": dict(result.timings),
        "optimization_metadata": {
            "generated_at": result.timestamp,
            "total_platforms": len(result.platforms),
            "successful_platforms": len(result.successful),
            "failed_platforms": [
                k for k, r in result.platforms.items() if r.status != "completed"
            ],
            "processing_time": result.timings.get("total", 0.0),
        },
    }


def _account_line(acc: dict[str, Any]) -> str:
    if acc.get("handle"):
        where = acc.get("source", "")
        extra = f", {acc['niche']}" if acc.get("niche") else ""
        link = f" - {acc['url']}" if acc.get("url") else ""
        return f"- {acc['handle']} ({where}{extra}){link}"
    return f"- Search: {acc.get('url', '')}" + (f" ({acc['note']})" if acc.get("note") else "")


def caption_text(platform: str, data: dict[str, Any]) -> str:
    """A `<platform>_caption.txt` in the seed's layout, from a results.json platform entry."""
    spec = PLATFORMS.get(platform)
    name = spec.display_name if spec else platform
    caption = data.get("ready_to_post") or data.get("caption", "")
    hashtags = hashtag_list(data)
    in_post = bool(spec and spec.hashtags_in_post)
    comment = (
        f"(none: on {name} the hashtags are in the post above)"
        if in_post and hashtags
        else " ".join(hashtags) or "(no hashtags)"
    )
    lines = [RULE, f"{name.upper()} - READY TO POST CONTENT", RULE]
    if data.get("title"):
        lines += [f"Title: {data['title']}", ""]
    lines += [
        caption,
        "",
        THIN,
        "FIRST COMMENT (hashtags)",
        THIN,
        comment,
        "",
        THIN,
        "POSTING INFO",
        THIN,
        f"Platform: {name}",
    ]
    if data.get("processed_image"):
        img = data.get("image") or {}
        lines.append(f"Image: {data['processed_image']} ({img.get('width')}x{img.get('height')})")
    if data.get("image_url"):
        lines.append(f"Image URL: {data['image_url']}")
    for slide in data.get("slides") or []:  # a carousel (pipeline.carousel): every slide
        alt = f" - alt: {slide['alt_text']}" if slide.get("alt_text") else ""
        lines.append(f"Slide {slide['n']}: {slide.get('file') or 'failed'}{alt}")
    for left in data.get("left_out") or []:
        lines.append(f"Left out (over the limit): photo {left['n']} ({left['photo']})")
    limit = f" / {spec.caption_limit}" if spec else ""
    graphemes = bool(spec and spec.counting == "graphemes")  # Bluesky counts graphemes
    count = captions.graphemes(caption) if graphemes else len(caption)
    lines.append(f"Caption length: {count}{limit} {'graphemes' if graphemes else 'characters'}")
    cap = f" / {spec.hashtag_max}" if spec else ""
    lines.append(f"Hashtags: {len(hashtags)}{cap}")
    if data.get("alt_text"):
        lines.append(f"Alt text: {data['alt_text']}")
    lines.append(f"Written by: {data.get('provider', 'offline')}")
    for photo in data.get("product_photos", []):
        where = f" {photo['url']}" if photo.get("url") else ""
        lines.append(f"Product photo ({photo['style']}): {photo['file']}{where}")
    times = data.get("posting_times", [])
    zone = times[0]["timezone"] if times else "UTC"
    lines += ["", THIN, f"BEST POSTING TIMES ({zone})", THIN]
    none = data.get("posting_times_note") or (posting.no_study_note(spec) if spec else "")
    lines += [f"- {t['day']} {t['start']}-{t['end']} ({t['study']})" for t in times] or [
        f"- {none or 'n/a'}"
    ]
    lines += ["", THIN, "SUGGESTED ACCOUNTS TO TAG", THIN]
    lines += [_account_line(a) for a in account_list(data)] or ["- none yet"]
    if data.get("status") != "completed" and data.get("error"):
        err = data["error"]
        lines += [
            "",
            f"NOTE: the image for this platform failed: {err.get('message')} ({err.get('code')})",
        ]
    return "\n".join(lines) + "\n"


# Free space a job needs before it starts: its outputs (nine platforms, product photos,
# preview, zip) stay well below this, and what is left keeps the database's failure path alive.
MIN_FREE_BYTES = 64 * 1024 * 1024
_FULL = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


def _disk_full(folder: Path) -> OutputError:
    return OutputError(
        f"The disk holding {folder} is full, so the results could not be saved. Free some "
        "space and try again.",
        code="DISK_FULL",
    )


def inside(folder: Path, name: str) -> Path:
    """`folder / name` for a plain file name only: no separators, no `..`, and the resolved
    path's parent is the resolved folder (a symlinked folder is fine, an escape is not)."""
    path = folder / name
    if (
        not name
        or name in {".", ".."}
        or "/" in name
        or "\\" in name
        or "\0" in name
        or path.resolve().parent != folder.resolve()
    ):
        shown = name if len(name) <= 60 else name[:60] + "…"
        raise OutputError(f"{shown!r} cannot be a file name inside {folder}.", code="UNSAFE_PATH")
    return path


def check_free_space(folder: Path, need_bytes: int = MIN_FREE_BYTES) -> None:
    """Raise DISK_FULL unless the disk holding `folder` (or its nearest existing parent) has
    `need_bytes` free: checked before a job starts, so a job does not die at its last step."""
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        free = shutil.disk_usage(probe).free
    except OSError:
        return  # not measurable here: the writes themselves still fail cleanly
    if free < need_bytes:
        raise _disk_full(folder)


def prepare_output_dir(folder: Path, need_bytes: int = MIN_FREE_BYTES) -> Path:
    """Create `folder` and prove it can take files, before any work: OUTPUT_DIR_UNUSABLE when
    it is a file, cannot be created or is not writable; DISK_FULL when space is short."""
    folder = Path(folder).expanduser()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".socialopt-write-test-{os.getpid()}"
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as exc:
        if exc.errno in _FULL:
            raise _disk_full(folder) from None
        reason = exc.strerror or type(exc).__name__
        raise OutputError(
            f"I cannot write into the output folder {folder}: {reason}.",
            code="OUTPUT_DIR_UNUSABLE",
        ) from None
    check_free_space(folder, need_bytes)
    return folder


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class _Writer:
    """Writes files into one folder and, on a failed write, removes every file it wrote and
    raises OutputError (DISK_FULL for a full disk or quota): no partial set is left behind."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.written: list[Path] = []

    def write(self, name: str, data: bytes) -> Path:
        path = inside(self.folder, name)
        _write_atomic(path, data)
        self.written.append(path)
        return path

    def __enter__(self) -> _Writer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object
    ) -> None:
        if exc is None:
            return
        for path in self.written:
            path.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            if exc.errno in _FULL:
                raise _disk_full(self.folder) from exc
            reason = exc.strerror or type(exc).__name__
            raise OutputError(
                f"Writing the results into {self.folder} failed: {reason}.",
                code="OUTPUT_FAILED",
            ) from exc


def _checked_platforms(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The platforms of a results document, refusing unknown names and non-object entries:
    a platform key becomes part of a file name."""
    platforms = results.get("platforms")
    if not isinstance(platforms, dict):
        raise SocialOptError("The results have no 'platforms' section.", code="RESULTS_INVALID")
    for key, data in platforms.items():
        if key not in PLATFORMS:
            shown = str(key) if len(str(key)) <= 40 else str(key)[:40] + "…"
            raise SocialOptError(
                f"The results name an unknown platform {shown!r}; known: {', '.join(PLATFORMS)}.",
                code="RESULTS_INVALID",
            )
        if not isinstance(data, dict):
            raise SocialOptError(
                f"The results entry for {key} is not an object.", code="RESULTS_INVALID"
            )
    return platforms


def _write_captions(results: dict[str, Any], writer: _Writer) -> dict[str, Path]:
    texts: dict[str, bytes] = {}
    for key, data in _checked_platforms(results).items():
        try:
            texts[key] = caption_text(key, data).encode("utf-8")
        except (TypeError, KeyError, AttributeError, ValueError, IndexError) as exc:
            raise SocialOptError(
                f"The results entry for {key} has a field of the wrong type "
                f"({type(exc).__name__}).",
                code="RESULTS_INVALID",
            ) from None
    return {key: writer.write(f"{key}_caption.txt", text) for key, text in texts.items()}


def write_captions(results: dict[str, Any], out_dir: Path) -> dict[str, Path]:
    """The `<platform>_caption.txt` files of a results document (known platforms only)."""
    with _Writer(out_dir) as writer:
        return _write_captions(results, writer)


def write_outputs(result: JobResult, out_dir: Path) -> OutputFiles:
    """Write every file of a job into `out_dir`; results.json is written last. A failed
    write removes what this call wrote and raises OutputError (DISK_FULL when the disk or
    quota is full, OUTPUT_FAILED otherwise)."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        if exc.errno in _FULL:
            raise _disk_full(out_dir) from None
        raise OutputError(
            f"I cannot create the output folder {out_dir}: {exc.strerror}.",
            code="OUTPUT_DIR_UNUSABLE",
        ) from None
    images: dict[str, Path] = {}
    products: list[Path] = []
    with _Writer(out_dir) as writer:
        for key, res in result.platforms.items():
            if res.image is not None:
                images[key] = writer.write(res.image.filename(key), res.image.data)
            for photo in res.product_photos:
                products.append(writer.write(photo.filename, photo.image.data))
        preview = out_dir / "preview.jpg"
        if result.contact_sheet:
            writer.write(preview.name, result.contact_sheet)
        doc = results_to_dict(result)
        captions = _write_captions(doc, writer)
        body = json.dumps(doc, indent=2, ensure_ascii=False).encode("utf-8")
        results_json = writer.write("results.json", body)
    return OutputFiles(out_dir, results_json, preview, images, captions, products)


def load_results(path: Path) -> tuple[dict[str, Any], Path]:
    """Read results.json from a file or a session folder; errors are specific."""
    file = path / "results.json" if path.is_dir() else path
    if not file.is_file():
        raise SocialOptError(f"No results.json at {file}.", code="RESULTS_NOT_FOUND")
    try:
        doc = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SocialOptError(
            f"{file} is not valid JSON ({exc}).", code="RESULTS_INVALID"
        ) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("platforms"), dict):
        raise SocialOptError(
            f"{file} has no 'platforms' section; is it a socialopt results file?",
            code="RESULTS_INVALID",
        )
    return doc, file.parent


def compile_captions(path: Path, out_dir: Path | None = None) -> dict[str, Path]:
    """Rebuild the caption files from a saved results.json (the seed's compilation only)."""
    doc, folder = load_results(path)
    _checked_platforms(doc)  # refused before anything is created
    target = prepare_output_dir(out_dir, need_bytes=0) if out_dir else folder
    return write_captions(doc, target)


def make_zip(out_dir: Path, zip_path: Path | None = None) -> Path:
    """Zip images, preview, results.json and caption files of a session folder."""
    zip_path = zip_path or out_dir / f"socialopt_{out_dir.name}.zip"
    files = sorted(
        p
        for p in out_dir.iterdir()
        if p.is_file()
        and p != zip_path
        and p.suffix.lower() != ".zip"
        and not p.name.endswith(".tmp")
        and not p.name.startswith("source")
    )
    tmp = zip_path.with_name(zip_path.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for file in files:
            zf.write(file, arcname=file.name)
    os.replace(tmp, zip_path)
    return zip_path
