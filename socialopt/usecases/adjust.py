"""Adjust a finished session by hand: per platform a new crop box and/or fit, an edited caption
and hashtags (the first comment, or the in-post tags), or another caption version.

Only the platforms whose image changed are re-rendered, from the session's kept source with the
pipeline's own resize/pad/encode functions; their files, results.json, the caption files and
the contact sheet are rewritten and the session's rows in storage replaced. Every bad value is
a coded OptionsError (HTTP 400) and nothing is written before all edits are valid.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from PIL import Image

from pipeline import captions
from pipeline.alt_text import alt_text_for
from pipeline.contact_sheet import make_contact_sheet
from pipeline.crop import check_fit, crop_size, kept_share
from pipeline.errors import OptionsError, SocialOptError
from pipeline.intake import IntakeLimits, load_image
from pipeline.models import LogoOptions, PlatformContent
from pipeline.outputs import write_captions
from pipeline.platforms import PlatformSpec, get_spec
from pipeline.render import crop_resize, encode_capped, pad_resize
from pipeline.serialize import analysis_from_dict
from storage.files import FileStore
from storage.records import SessionRecord, files_in_dir, rows_from_results
from storage.repository import Repository

from .sessions import RunSync

Box = tuple[int, int, int, int]
ASPECT_TOLERANCE = 0.03  # a box whose shape is this close to the frame's is snapped to it
MIN_CROP_SIDE = 32  # source pixels: the smallest side a crop box may have
MAX_HASHTAG_CHARS = 100
SHEET_HEIGHT = 360  # the contact sheet's thumbnail height (make_contact_sheet's default)
_TAG = re.compile(r"^#\w+$")
EDITABLE_FITS = ("crop", "pad")


class AdjustError(OptionsError):
    """An adjustment that cannot be applied (a bad box, a caption over the limit ...)."""

    code = "INVALID_ADJUSTMENT"


@dataclass(frozen=True)
class Edit:
    """What a person changed for one platform; None leaves a field as it is."""

    crop_box: tuple[float, float, float, float] | None = None
    fit: str | None = None  # crop | pad
    caption: str | None = None
    hashtags: str | None = None  # "#a #b": the first comment, or the tags in the post
    variant: int | None = None  # a caption version from results.json "variants"


@dataclass
class Adjusted:
    """What an adjustment did: the new results document, the platforms re-rendered (with
    their image files) and the platforms whose text changed."""

    results: dict[str, Any]
    rendered: dict[str, Path] = field(default_factory=dict)
    texts: list[str] = field(default_factory=list)

    @property
    def changed(self) -> list[str]:
        return list(dict.fromkeys([*self.rendered, *self.texts]))


@dataclass(frozen=True)
class _Plan:
    platform: str
    spec: PlatformSpec
    box: Box | None = None  # a new image: the crop box in source pixels (pad: the photo)
    fit: str = "crop"
    caption: str | None = None
    tags: list[str] | None = None
    variant: int | None = None
    title: str | None = None
    size: tuple[int, int] = (0, 0)  # the platform's output size (kept from the job)


# --------------------------------------------------------------------------- crop boxes


def lock_box(
    box: tuple[float, float, float, float], aspect: float, width: int, height: int
) -> Box:
    """`box` (left, top, right, bottom in source pixels) with its shape locked to `aspect`
    (the platform's frame), kept inside the width x height photo: too large a box becomes the
    largest that fits, one running off an edge is moved inside. A box whose shape is not the
    frame's (beyond ASPECT_TOLERANCE), smaller than MIN_CROP_SIDE or not numbers is refused
    with INVALID_CROP_BOX."""
    try:
        left, top, right, bottom = (float(v) for v in box)
    except (TypeError, ValueError):
        raise AdjustError(
            "A crop box is four numbers: left, top, right, bottom.", code="INVALID_CROP_BOX"
        ) from None
    if not all(math.isfinite(v) for v in (left, top, right, bottom)):
        raise AdjustError("A crop box must be finite numbers.", code="INVALID_CROP_BOX")
    w, h = right - left, bottom - top
    if w < MIN_CROP_SIDE or h < MIN_CROP_SIDE:
        raise AdjustError(
            f"A crop box must be at least {MIN_CROP_SIDE}x{MIN_CROP_SIDE} pixels of the photo "
            f"(got {w:.0f}x{h:.0f}).",
            code="INVALID_CROP_BOX",
        )
    if abs(math.log((w / h) / aspect)) > math.log(1 + ASPECT_TOLERANCE):
        raise AdjustError(
            f"The crop box's shape ({w / h:.3f}) is not the frame's ({aspect:.3f}); drag the "
            "frame with its aspect locked.",
            code="CROP_ASPECT_MISMATCH",
        )
    max_w, max_h = crop_size(width, height, aspect)
    cw = min(max_w, max(MIN_CROP_SIDE, round(w)))
    ch = min(max_h, max(1, round(cw / aspect)))
    if ch > max_h:
        ch, cw = max_h, min(max_w, round(max_h * aspect))
    cx, cy = (left + right) / 2, (top + bottom) / 2
    x0 = int(round(min(max(cx - cw / 2, 0), width - cw)))
    y0 = int(round(min(max(cy - ch / 2, 0), height - ch)))
    return (x0, y0, x0 + cw, y0 + ch)


def default_box(width: int, height: int, aspect: float, around: Box | None) -> Box:
    """The largest box of `aspect` centred on `around` (the subject) or on the photo."""
    cw, ch = crop_size(width, height, aspect)
    if around is None:
        cx, cy = width / 2, height / 2
    else:
        cx, cy = (around[0] + around[2]) / 2, (around[1] + around[3]) / 2
    x0 = int(round(min(max(cx - cw / 2, 0), width - cw)))
    y0 = int(round(min(max(cy - ch / 2, 0), height - ch)))
    return (x0, y0, x0 + cw, y0 + ch)


def editable_box(entry: Mapping[str, Any], width: int, height: int) -> Box:
    """The frame an editor starts from: the stored crop, or (for a padded platform, whose
    stored box is the whole photo) the largest frame of its shape around the subject."""
    image = entry.get("image") or {}
    aspect = image["width"] / image["height"]
    stored = tuple(int(v) for v in image.get("crop_box") or (0, 0, width, height))
    subject = image.get("subject_box")
    if image.get("fit") == "pad" or len(stored) != 4:
        return default_box(width, height, aspect, tuple(subject) if subject else None)
    return stored  # type: ignore[return-value]


# --------------------------------------------------------------------------- text


def parse_hashtags(text: str, spec: PlatformSpec) -> list[str]:
    """`#a #b` (spaces, commas or new lines between) as a list within the platform's cap;
    INVALID_HASHTAG / TOO_MANY_HASHTAGS otherwise."""
    tags = [t for t in re.split(r"[\s,]+", text.strip()) if t]
    for tag in tags:
        if not _TAG.match(tag) or len(tag) > MAX_HASHTAG_CHARS:
            shown = tag if len(tag) <= 40 else tag[:40] + "…"
            raise AdjustError(
                f"{shown!r} is not a hashtag: a '#' then letters, digits or '_' "
                f"(at most {MAX_HASHTAG_CHARS} characters).",
                code="INVALID_HASHTAG",
            )
    if len(tags) > spec.hashtag_max:
        raise AdjustError(
            f"{spec.display_name} takes at most {spec.hashtag_max} hashtags; you gave "
            f"{len(tags)}.",
            code="TOO_MANY_HASHTAGS",
        )
    return tags


def unit_name(spec: PlatformSpec) -> str:
    """What a platform counts its caption limit in, for messages and the editor."""
    return "graphemes" if spec.counting == "graphemes" else "characters"


def check_length(text: str, spec: PlatformSpec, what: str, code: str) -> int:
    """The length of `text` as the platform counts it; CAPTION_TOO_LONG-style error when it
    is over `spec.caption_limit` (Bluesky: graphemes and its byte cap)."""
    count = captions.length_for(spec)(text)
    if count > spec.caption_limit:
        bytes_note = f" (and {spec.caption_bytes:,} bytes)" if spec.caption_bytes else ""
        raise AdjustError(
            f"{spec.display_name}'s {what} is {count:,} {unit_name(spec)}; the limit is "
            f"{spec.caption_limit:,}{bytes_note}.",
            code=code,
        )
    return count


# --------------------------------------------------------------------------- planning


def _entry(results: Mapping[str, Any], platform: str) -> dict[str, Any]:
    entry = (results.get("platforms") or {}).get(platform)
    if not isinstance(entry, dict):
        raise AdjustError(
            f"This session has no {platform} results to adjust.", code="PLATFORM_NOT_IN_SESSION"
        )
    return entry


def source_size(results: Mapping[str, Any]) -> tuple[int, int]:
    source = results.get("source") or {}
    width, height = int(source.get("width") or 0), int(source.get("height") or 0)
    if width <= 0 or height <= 0:
        raise AdjustError(
            "This session's results do not say the photo's size, so it cannot be adjusted.",
            code="RESULTS_INVALID",
        )
    return width, height


def plan(
    results: Mapping[str, Any], edits: Mapping[str, Edit], limits: Mapping[str, int]
) -> list[_Plan]:
    """Check every edit against the stored results and the platforms' rules (nothing is
    written here); the platforms that really change, with what changes."""
    if not edits:
        raise AdjustError("Nothing to adjust: send at least one platform.", code="NO_CHANGES")
    width, height = source_size(results)
    plans: list[_Plan] = []
    for platform, edit in edits.items():
        entry = _entry(results, platform)
        spec = get_spec(platform, limits)
        image = entry.get("image") or None
        box: Box | None = None
        fit = str((image or {}).get("fit") or "crop")
        if edit.crop_box is not None or edit.fit is not None:
            if image is None or entry.get("status") != "completed":
                raise AdjustError(
                    f"{spec.display_name} has no image in this session to adjust.",
                    code="PLATFORM_FAILED",
                )
            if edit.fit is not None:
                fit = check_fit(edit.fit)
                if fit not in EDITABLE_FITS:
                    raise AdjustError(
                        f"Choose crop or pad for {spec.display_name}, not {fit}.",
                        code="UNKNOWN_FIT",
                    )
            aspect = image["width"] / image["height"]
            if fit == "pad":
                box = (0, 0, width, height)
            elif edit.crop_box is not None:
                box = lock_box(edit.crop_box, aspect, width, height)
            else:
                box = editable_box(entry, width, height)
            if box == tuple(image.get("crop_box") or ()) and fit == image.get("fit"):
                box = None  # the image stays as it is
        variants = entry.get("variants") or []
        variant, title, caption = None, None, edit.caption
        if edit.variant is not None:
            if not isinstance(edit.variant, int) or not 0 <= edit.variant < len(variants):
                raise AdjustError(
                    f"{spec.display_name} has caption versions 0 to {len(variants) - 1}; "
                    f"there is no version {edit.variant}.",
                    code="UNKNOWN_VARIANT",
                )
            variant = edit.variant
            title = str(variants[variant].get("title") or "")
            if caption is None:
                caption = str(variants[variant].get("caption") or "")
        tags = None
        if edit.hashtags is not None:
            tags = parse_hashtags(edit.hashtags, spec)
        if caption is not None or tags is not None:
            content = _content(entry, caption, tags)
            what = "post" if spec.hashtags_in_post else "caption"
            check_length(captions.ready_to_post(content, spec), spec, what, "CAPTION_TOO_LONG")
            comment = captions.first_comment(content, spec)
            check_length(comment, spec, "first comment", "FIRST_COMMENT_TOO_LONG")
        if box is None and caption is None and tags is None and variant is None:
            continue
        size = (int(image["width"]), int(image["height"])) if image else (0, 0)
        plans.append(_Plan(platform, spec, box, fit, caption, tags, variant, title, size))
    return plans


def _content(entry: Mapping[str, Any], caption: str | None, tags: list[str] | None) -> Any:
    return PlatformContent(
        caption=(entry.get("caption") or "") if caption is None else caption.strip(),
        hashtags=list(entry.get("hashtag_list") or []) if tags is None else tags,
    )


# --------------------------------------------------------------------------- rendering


def _draft_size(plans: list[_Plan], width: int, height: int) -> tuple[int, int] | None:
    """A decode size that keeps full detail for every new crop (see intake.load_image)."""
    scale = 0.0
    for p in plans:
        if p.box is None:
            continue
        bw, bh = p.box[2] - p.box[0], p.box[3] - p.box[1]
        scale = max(scale, p.size[0] / bw, p.size[1] / bh)
    if scale <= 0:
        return None
    scale = min(1.0, scale)
    return (math.ceil(width * scale), math.ceil(height * scale))


def _render(
    img: Image.Image,
    scale: float,
    p: _Plan,
    image: Mapping[str, Any],
    logo: LogoOptions | None,
) -> tuple[bytes, int]:
    """One platform's new image bytes (and the quality used), at its stored size and format."""
    from pipeline.platforms import ImageSize

    assert p.box is not None
    size = ImageSize(str(image.get("size_name") or ""), int(image["width"]), int(image["height"]))
    if p.fit == "pad":
        out = pad_resize(img, size)
    else:
        box = tuple(int(round(v * scale)) for v in p.box)
        box = (box[0], box[1], min(img.width, box[2]), min(img.height, box[3]))
        out = crop_resize(img, box, size)
    if logo is not None:
        from pipeline.product.logo import apply_logo

        out = apply_logo(out, logo)
    fmt = str(image.get("format") or "JPEG")
    if out.mode not in ("RGB", "L") and fmt == "JPEG":
        out = out.convert("RGB")
    return encode_capped(out, fmt, p.spec.max_file_bytes)


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _contact_sheet(results: Mapping[str, Any], folder: Path) -> bytes:
    """preview.jpg again, from every platform's image file (labels as the job writes them)."""
    items: list[tuple[str, Image.Image]] = []
    for key, entry in (results.get("platforms") or {}).items():
        name, image = entry.get("processed_image"), entry.get("image") or {}
        if not name or not (folder / name).is_file():
            continue
        with Image.open(folder / name) as img:
            img.draft("RGB", (img.width * SHEET_HEIGHT // img.height + 1, SHEET_HEIGHT))
            img.load()  # a JPEG decodes at about the sheet's size (DCT scaling): fast
            label = f"{get_spec(key).display_name} {image.get('width')}x{image.get('height')}"
            items.append((label, img.convert("RGB")))
    return make_contact_sheet(items) if items else b""


def apply(
    folder: Path,
    source: bytes,
    results: dict[str, Any],
    plans: list[_Plan],
    *,
    logo: LogoOptions | None = None,
    intake: IntakeLimits | None = None,
) -> Adjusted:
    """Re-render the planned platforms from `source` into `folder` and rewrite results.json,
    the caption files and preview.jpg. Sync (CPU-bound): callers run it off the loop."""
    doc = json.loads(json.dumps(results))  # a copy: the stored dict is not touched
    width, height = source_size(doc)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    out = Adjusted(doc)
    images = [p for p in plans if p.box is not None]
    rendered: dict[str, tuple[bytes, int]] = {}
    if images:
        src = load_image(source, intake, draft_size=_draft_size(images, width, height))
        for p in images:
            entry = doc["platforms"][p.platform]
            rendered[p.platform] = _render(src.image, src.scale, p, entry["image"], logo)
        del src
    language = str((doc.get("options") or {}).get("language") or "en")
    description = str((doc.get("options") or {}).get("description") or "")
    for p in plans:
        entry = doc["platforms"][p.platform]
        if p.platform in rendered:
            data, quality = rendered[p.platform]
            image = entry["image"]
            subject = image.get("subject_box")
            image.update(
                crop_box=list(p.box or ()),
                fit=p.fit,
                size_bytes=len(data),
                quality=quality,
                subject_kept=None if not subject else round(kept_share(p.box, subject), 3),
            )
            path = folder / str(entry["processed_image"])
            _write_atomic(path, data)
            out.rendered[p.platform] = path
            if entry.get("provider", "offline") == "offline" and p.spec.alt_text_limit:
                entry["alt_text"] = _alt_text(doc, description, language, p)
        if p.caption is not None or p.tags is not None or p.variant is not None:
            content = _content(entry, p.caption, p.tags)
            entry["caption"] = content.caption
            entry["hashtag_list"] = list(content.hashtags)
            entry["hashtags"] = " ".join(content.hashtags)
            entry["ready_to_post"] = captions.ready_to_post(content, p.spec)
            entry["first_comment"] = captions.first_comment(content, p.spec)
            if p.variant is not None:
                entry["variant"] = p.variant
                entry["title"] = p.title or entry.get("title", "")
            elif p.caption is not None:
                entry["variant"] = None  # written by hand: no version is this caption
            out.texts.append(p.platform)
        entry["adjusted_at"] = now
    write_captions(doc, folder)
    if out.rendered:
        sheet = _contact_sheet(doc, folder)
        if sheet:
            _write_atomic(folder / "preview.jpg", sheet)
    body = json.dumps(doc, indent=2, ensure_ascii=False).encode("utf-8")
    _write_atomic(folder / "results.json", body)
    return out


def _alt_text(doc: Mapping[str, Any], description: str, language: str, p: _Plan) -> str:
    """Alt text for the new crop (people inside it, the subject), as the job writes it."""
    data = doc.get("analysis")
    try:
        analysis = analysis_from_dict(data) if isinstance(data, dict) else None
    except (TypeError, KeyError, ValueError):
        analysis = None
    box = None if p.fit == "pad" else p.box
    return alt_text_for(analysis, description, language, crop_box=box, limit=p.spec.alt_text_limit)


# --------------------------------------------------------------------------- the use case


def logo_for(results: Mapping[str, Any], image: bytes | None) -> LogoOptions | None:
    """The session's logo placement (results.json options.logo) with the logo's bytes."""
    placement = (results.get("options") or {}).get("logo")
    if not image or not isinstance(placement, dict):
        return None
    keys = ("position", "size_pct", "margin_pct", "opacity")
    return LogoOptions(image=image, **{k: placement[k] for k in keys if k in placement})


async def adjust_session(
    repo: Repository,
    session: SessionRecord,
    edits: Mapping[str, Edit],
    *,
    folder: Path,
    run_sync: RunSync,
    limits: Mapping[str, int] | None = None,
    logo_image: bytes | None = None,
    intake: IntakeLimits | None = None,
    file_store: FileStore | None = None,
) -> Adjusted:
    """Validate `edits`, re-render the changed platforms from the session's kept source into
    `folder` (the session's files), push them to `file_store` and replace the session's
    results, rows and file records. Coded errors: SESSION_NOT_READY, SOURCE_MISSING and the
    AdjustError codes of `plan`."""
    if session.status != "completed" or not session.results:
        raise SocialOptError(
            "This session has not finished, so there is nothing to adjust yet.",
            code="SESSION_NOT_READY",
        )
    results = session.results
    plans = plan(results, edits, limits or {})
    if not plans:
        return Adjusted(results)
    source = b""
    logo = logo_for(results, logo_image)
    if any(p.box is not None for p in plans):
        if logo is None and (results.get("options") or {}).get("logo"):
            raise AdjustError(
                "This session's images carry a logo that is no longer kept, so they cannot be "
                "redone without losing it; captions can still be changed.",
                code="LOGO_MISSING",
            )
        source = await asyncio.to_thread(read_source, folder, session.source_path)
    adjusted = await run_sync(
        apply, folder, source, results, plans, logo=logo, intake=intake or IntakeLimits()
    )
    if file_store is not None:
        await asyncio.to_thread(file_store.put_dir, session.id, folder)
    rows = rows_from_results(adjusted.results)
    for row in rows:
        name = (adjusted.results["platforms"].get(row.platform) or {}).get("processed_image")
        if name:
            row.image_path = str(folder / name)
    records = await asyncio.to_thread(files_in_dir, session.id, folder)
    await repo.update_results(
        session.user_id, session.id, results=adjusted.results, platform_rows=rows, files=records
    )
    return adjusted


def read_source(folder: Path, source_path: str) -> bytes:
    """The session's kept source: its recorded path, else the same name in `folder` (a
    store fetched to a temporary folder)."""
    for path in (Path(source_path) if source_path else None, folder / Path(source_path).name):
        if path is not None and path.is_file():
            return path.read_bytes()
    raise AdjustError(
        "The original photo of this session is no longer kept, so crops cannot be redone.",
        code="SOURCE_MISSING",
    )
