"""A set job: several photos -> one carousel (album) per platform.

`run_set` checks every photo's header first (a bad photo fails the set before any work, its
number in the message), picks ONE output size per platform for the whole set (`set_size`: the
platform's shape that crops away the least of the photos), then decodes the photos one at a
time (memory holds one decoded photo and the cover) and smart-crops each slide with the
subject kept (`render.render_platform`). A platform takes at most `spec.max_items` photos:
the extra ones are left out, named in a warning and in results.json (`left_out`); the set is
never split into several posts. The caption is written once for the set by the content step
(`content.write_text`) from a merged analysis of every photo and the description; each slide
gets its own alt text.

`set_results_to_dict` is results.json (run_job's document, each platform in the seed's shape
with its cover slide, plus `slides`, `left_out`, `contact_sheet`, `max_items` per platform and
a top-level `carousel`); `write_set_outputs` writes `<platform>_<n>_<W>x<H>.<ext>`, a contact
sheet per platform (`<platform>_contact_sheet.jpg`), preview.jpg, the caption files and
results.json.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipeline import niches, posting
from pipeline.alt_text import alt_text_for
from pipeline.contact_sheet import make_contact_sheet, results_sheet
from pipeline.content import write_text
from pipeline.errors import IntakeError, OptionsError
from pipeline.intake import IntakeLimits, SourceImage, decode_size_for, load_image, probe_image
from pipeline.job import (
    _Progress,
    _recognise,
    _render_one,
    _upscale_warnings,
    analyse_source,
    validate_options,
)
from pipeline.models import (
    ImageAnalysis,
    JobOptions,
    JobResult,
    NamedColor,
    OutputFiles,
    PlatformResult,
    ProgressFn,
    RenderedImage,
    SourceInfo,
    Usage,
)
from pipeline.outputs import _write_captions, _Writer, prepare_output_dir, results_to_dict
from pipeline.platforms import ImageSize, PlatformSpec, get_spec
from pipeline.serialize import to_dict
from pipeline.services import Services
from pipeline.vision import focus_map

MIN_SET_PHOTOS = 2
MAX_SET_PHOTOS = 35  # the largest carousel any platform takes (TikTok photo mode)
SHEET_NAME = "{platform}_contact_sheet.jpg"


@dataclass
class Slide:
    """One photo of the set as one platform's slide (n: its 1-based place in the post)."""

    n: int
    photo: str  # the photo's name
    image: RenderedImage | None
    alt_text: str = ""
    error: dict[str, str] | None = None
    seconds: float = 0.0

    def filename(self, platform: str) -> str:
        """`<platform>_<n>_<W>x<H>.<ext>` ("" when the slide failed)."""
        return self.image.filename(f"{platform}_{self.n}") if self.image else ""


@dataclass
class SetResult:
    """A finished set. `job` is the set in run_job's shape (each platform's `image` is its
    cover slide, `content` the one caption for the set), so everything that reads a JobResult
    (results.json, storage, the bot's texts) reads a set too."""

    job: JobResult
    photos: list[SourceInfo]
    sizes: dict[str, ImageSize]  # the one output size per platform
    slides: dict[str, list[Slide]]
    left_out: dict[str, list[int]]  # platform -> 1-based numbers of the photos left out
    max_items: dict[str, int]
    contact_sheets: dict[str, bytes] = field(default_factory=dict)  # platform -> JPEG
    analyses: list[ImageAnalysis] = field(default_factory=list)  # one per photo


# -- the shape ---------------------------------------------------------------------------------


def cropped_share(photo_aspect: float, frame_aspect: float) -> float:
    """Share of a photo a cover-crop to `frame_aspect` cuts away (0 when the shapes match)."""
    return 1.0 - math.exp(-abs(math.log(photo_aspect / frame_aspect)))


def set_size(spec: PlatformSpec, shapes: Sequence[tuple[int, int]]) -> ImageSize:
    """The one output size of `spec` for photos of these (width, height): a platform with a
    fixed size keeps it; one that offers several takes the shape that crops away the least of
    the photos in total (on a tie, the platform's earlier, preferred size)."""
    if not spec.auto_aspect or not shapes:
        return spec.choose_size(*shapes[0]) if shapes else spec.default_size
    return min(
        spec.sizes,
        key=lambda size: sum(cropped_share(w / h, size.aspect) for w, h in shapes),
    )


def ratio_label(size: ImageSize) -> str:
    """The ratio: "4:5" for 1080x1350, "1.91:1" for 1200x630."""
    g = math.gcd(size.width, size.height)
    w, h = size.width // g, size.height // g
    return f"{w}:{h}" if max(w, h) <= 21 else f"{size.width / size.height:.2f}:1"


# -- the merged analysis -----------------------------------------------------------------------


def merge_analyses(analyses: Sequence[ImageAnalysis]) -> ImageAnalysis:
    """One analysis for the set, for its one caption: the subject most photos show (the most
    confident on a tie), the most common kind, colours by their mean share, every keyword and
    niche once, black-and-white or blurry only when every photo is. The cover (the first
    photo) gives the rest (its size, faces and product verdict)."""
    cover = analyses[0]
    if len(analyses) == 1:
        return cover
    votes: Counter[str] = Counter(a.subject for a in analyses if a.subject)
    confidence: dict[str, float] = {}
    for a in analyses:
        if a.subject and a.recognition is not None:
            confidence[a.subject] = confidence.get(a.subject, 0.0) + a.recognition.confidence
    carrier = cover
    if votes:
        subject = max(votes, key=lambda s: (votes[s], confidence.get(s, 0.0)))
        carrier = next(a for a in analyses if a.subject == subject)
    kinds: Counter[str] = Counter(a.kind for a in analyses if a.kind)
    kind = carrier.kind
    if kinds and kinds[kind] < max(kinds.values()):
        kind = kinds.most_common(1)[0][0]
    shares: dict[str, float] = {}
    first: dict[str, NamedColor] = {}
    for a in analyses:
        for c in a.colors:
            shares[c.name] = shares.get(c.name, 0.0) + c.share / len(analyses)
            first.setdefault(c.name, c)
    ranked = sorted(shares, key=lambda name: -shares[name])[: max(len(cover.colors), 1)]
    colors = [replace(first[name], share=round(shares[name], 4)) for name in ranked]
    n = len(analyses)
    return replace(
        cover,
        brightness=sum(a.brightness for a in analyses) / n,
        contrast=sum(a.contrast for a in analyses) / n,
        is_blurry=all(a.is_blurry for a in analyses),
        colors=colors,
        faces=max(a.faces for a in analyses),
        keywords=list(dict.fromkeys(k for a in analyses for k in a.keywords)),
        warnings=list(dict.fromkeys(w for a in analyses for w in a.warnings)),
        niches=list(dict.fromkeys(k for a in analyses for k in a.niches)),
        subject=carrier.subject,
        subject_concepts=list(carrier.subject_concepts),
        kind=kind,
        recognition=carrier.recognition,
        monochrome=all(a.monochrome for a in analyses),
    )


# -- the job -----------------------------------------------------------------------------------


def _names(count: int, names: Sequence[str]) -> list[str]:
    return [(names[i] if i < len(names) and names[i] else f"photo {i + 1}") for i in range(count)]


def check_set(images: Sequence[Any]) -> None:
    """OptionsError NOT_A_SET below MIN_SET_PHOTOS photos, TOO_MANY_PHOTOS above
    MAX_SET_PHOTOS (no platform takes more in one post)."""
    if len(images) < MIN_SET_PHOTOS:
        raise OptionsError(
            f"A set needs at least {MIN_SET_PHOTOS} photos; got {len(images)}.",
            code="NOT_A_SET",
        )
    if len(images) > MAX_SET_PHOTOS:
        raise OptionsError(
            f"A set takes at most {MAX_SET_PHOTOS} photos (the most any platform takes in one "
            f"post); got {len(images)}. Send fewer photos.",
            code="TOO_MANY_PHOTOS",
        )


def _numbers(numbers: Sequence[int], names: Sequence[str]) -> str:
    shown = ", ".join(f"{i} ({names[i - 1]})" for i in numbers[:6])
    return shown + (f" and {len(numbers) - 6} more" if len(numbers) > 6 else "")


def left_out_warning(spec: PlatformSpec, numbers: Sequence[int], names: Sequence[str]) -> str:
    """What the user is told about photos a platform's limit leaves out."""
    return (
        f"{spec.display_name} takes {spec.max_items} photos per post: photo"
        f"{'s' if len(numbers) > 1 else ''} {_numbers(numbers, names)} "
        f"{'are' if len(numbers) > 1 else 'is'} left out of its carousel."
    )


def run_set(
    images: Sequence[bytes],
    options: JobOptions,
    services: Services,
    progress: ProgressFn | None = None,
    *,
    names: Sequence[str] = (),
) -> SetResult:
    """Turn several photos into one carousel per platform (see the module docstring). Pure:
    no files are written. Raises OptionsError (NOT_A_SET, TOO_MANY_PHOTOS, bad options) or
    IntakeError (a photo that cannot be used, "Photo 3 (name): ..." with the intake's code)."""
    started = time.perf_counter()
    check_set(images)
    options = validate_options(options)
    warnings: list[str] = []
    if options.product_styles:
        warnings.append("Product photos are made for single photos; a set gets none.")
        options = replace(options, product_styles=(), product_force=False)
    niches.prefetch(options.description, options.language)
    if services.recogniser is not None:
        services.recogniser.warm()
    limits = services.intake_limits or IntakeLimits()
    specs = {
        key: get_spec(key, dict(services.hashtag_limits) | dict(options.hashtag_limits))
        for key in options.platforms
    }
    labels = _names(len(images), names)
    shapes = []
    for i, data in enumerate(images):  # every photo checked before any work
        try:
            header = probe_image(data, limits)
        except IntakeError as exc:
            raise IntakeError(
                f"Photo {i + 1} ({labels[i]}): {exc.message}", code=exc.code
            ) from None
        shapes.append((header.width, header.height))
    sizes = {key: set_size(spec, shapes) for key, spec in specs.items()}
    kept = {key: min(len(images), spec.max_items) for key, spec in specs.items()}
    report = _Progress(progress, total=len(images) + 3)
    slides: dict[str, list[Slide]] = {key: [] for key in specs}
    analyses: list[ImageAnalysis] = []
    photos: list[SourceInfo] = []
    cover: SourceImage | None = None
    with ThreadPoolExecutor(max_workers=options.max_workers) as pool:
        for i, data in enumerate(images):
            targets = {k: s for k, s in sizes.items() if i < kept[k]}
            draft = decode_size_for((s.width, s.height) for s in targets.values())
            try:
                source = load_image(data, limits, draft_size=draft)
            except IntakeError as exc:
                raise IntakeError(
                    f"Photo {i + 1} ({labels[i]}): {exc.message}", code=exc.code
                ) from None
            source = replace(source, info=replace(source.info, name=labels[i]))
            warnings += [f"Photo {i + 1}: {w}" for w in source.warnings]
            recognised = pool.submit(_recognise, services, source.image)
            focus = focus_map(source.image)
            renders = {
                key: pool.submit(_slide, source, specs[key], options, focus, sizes[key])
                for key in targets
            }
            analysis = analyse_source(source, options.description, focus, recognised.result())
            for key, future in renders.items():
                image, error, seconds = future.result()
                spec = specs[key]
                alt = ""
                if image is not None and spec.alt_text_limit:
                    alt = alt_text_for(
                        analysis,
                        options.description,
                        options.language,
                        crop_box=image.crop_box,
                        limit=spec.alt_text_limit,
                    )
                slides[key].append(Slide(i + 1, labels[i], image, alt, error, seconds))
                if i + 1 == kept[key]:  # its last slide: the platform is ready
                    ok = all(s.image is not None for s in slides[key])
                    report("render", f"{spec.display_name} {'ready' if ok else 'failed'}", key)
            analyses.append(analysis)
            photos.append(source.info)
            if i == 0:
                cover = source
            report("intake", f"Photo {i + 1} of {len(images)} ready", step=True)
    assert cover is not None
    timings = {"render": round(time.perf_counter() - started, 4)}

    t0 = time.perf_counter()
    merged = merge_analyses(analyses)
    set_hash = hashlib.sha256("".join(p.sha256 for p in photos).encode()).hexdigest()
    text_source = replace(cover, info=replace(cover.info, sha256=set_hash))
    usage = Usage()
    text = write_text(text_source, merged, options, services, specs, usage, report)
    timings["text"] = round(time.perf_counter() - t0, 4)

    results: dict[str, PlatformResult] = {}
    left_out: dict[str, list[int]] = {}
    for key, spec in specs.items():
        mine = slides[key]
        first = next((s for s in mine if s.image is not None), None)
        failed = next((s for s in mine if s.image is None), None)
        content = text.contents[key]
        if first is not None:
            ai_alt = content.provider != "offline" and 0 < len(content.alt_text) <= (
                spec.alt_text_limit
            )
            if not ai_alt:
                content.alt_text = first.alt_text
            for version in text.variants.get(key, []):
                version.alt_text = first.alt_text
        error = None
        if failed is not None:
            err = failed.error or {"code": "PROCESSING_FAILED", "message": "failed"}
            error = {"code": err["code"], "message": f"Slide {failed.n}: {err['message']}"}
        results[key] = PlatformResult(
            platform=key,
            status="completed" if failed is None else "failed",
            image=first.image if first else None,
            content=content,
            niches=text.niches,
            posting_times=posting.best_times(spec, options.timezone),
            profiles=text.accounts.get(key, []),
            processing_time=round(sum(s.seconds for s in mine), 3),
            provider=text.providers.get(key, "offline"),
            error=error,
            variants=text.variants.get(key, []),
        )
        left_out[key] = list(range(kept[key] + 1, len(images) + 1))
        if left_out[key]:
            warnings.append(left_out_warning(spec, left_out[key], labels))
    warnings += list(merged.warnings) + _upscale_warnings(_most_enlarged(slides))

    sheets = {
        key: make_contact_sheet(
            [(f"{n.n}/{len(mine)} {n.photo}"[:40], n.image) for n in mine if n.image]
        )
        for key, mine in slides.items()
        if any(s.image for s in mine)
    }
    preview = results_sheet(
        results,
        {k: spec.display_name for k, spec in specs.items()},
        lambda k: f" x{len(slides[k])}",
    )
    timings["total"] = round(time.perf_counter() - started, 4)
    report("done", "Done", step=True)
    job = JobResult(
        session_id=options.session_id,
        user_uuid=options.user_uuid,
        timestamp=datetime.now(UTC).isoformat(timespec="seconds"),
        source=photos[0],
        options=options,
        analysis=merged,
        niches=text.niches,
        platforms=results,
        contact_sheet=preview,
        usage=usage,
        warnings=list(dict.fromkeys(warnings)),
        timings=timings,
    )
    return SetResult(
        job=job,
        photos=photos,
        sizes=sizes,
        slides=slides,
        left_out=left_out,
        max_items={k: s.max_items for k, s in specs.items()},
        contact_sheets=sheets,
        analyses=analyses,
    )


def _slide(
    source: SourceImage, spec: PlatformSpec, options: JobOptions, focus: Any, size: ImageSize
) -> tuple[RenderedImage | None, dict[str, str] | None, float]:
    """One slide at the set's size (render_platform with the size fixed)."""
    fixed = replace(spec, sizes=(size,), auto_aspect=False)
    return _render_one(source, fixed, options, focus, _silent)


def _silent(*_args: Any, **_kwargs: Any) -> None:
    """A progress sink for _render_one: the set reports per photo, not per slide."""


def _most_enlarged(slides: dict[str, list[Slide]]) -> dict[str, PlatformResult]:
    """Per platform, its most enlarged slide (for job._upscale_warnings)."""
    out: dict[str, PlatformResult] = {}
    for key, mine in slides.items():
        rendered = [s.image for s in mine if s.image is not None]
        if rendered:
            worst = max(
                rendered, key=lambda im: im.width / max(1, im.crop_box[2] - im.crop_box[0])
            )
            out[key] = PlatformResult(key, "completed", image=worst)
    return out


# -- results.json and files --------------------------------------------------------------------


def _slide_dict(platform: str, slide: Slide) -> dict[str, Any]:
    image = slide.image
    return {
        "n": slide.n,
        "photo": slide.photo,
        "file": slide.filename(platform) or None,
        "status": "completed" if image else "failed",
        "width": image.width if image else None,
        "height": image.height if image else None,
        "format": image.format if image else None,
        "size_bytes": len(image.data) if image else None,
        "crop_box": list(image.crop_box) if image else None,
        "fit": image.fit if image else None,
        "subject_box": list(image.subject_box) if image and image.subject_box else None,
        "subject_kept": image.subject_kept if image else None,
        "alt_text": slide.alt_text,
        "error": slide.error,
    }


def set_results_to_dict(result: SetResult) -> dict[str, Any]:
    """results.json for a set: run_job's document (the seed's shape per platform, its image
    the cover slide) with new keys only: per platform `slides`, `left_out`, `max_items`,
    `aspect`, `contact_sheet`; at the top `carousel` (every photo, in order)."""
    doc = results_to_dict(result.job)
    names = [p.name for p in result.photos]
    for key, entry in doc["platforms"].items():
        mine = result.slides.get(key, [])
        cover = next((s for s in mine if s.image is not None), None)
        entry["processed_image"] = cover.filename(key) if cover else None
        entry["slides"] = [_slide_dict(key, s) for s in mine]
        entry["left_out"] = [{"n": n, "photo": names[n - 1]} for n in result.left_out[key]]
        entry["max_items"] = result.max_items[key]
        entry["aspect"] = ratio_label(result.sizes[key])
        entry["contact_sheet"] = (
            SHEET_NAME.format(platform=key) if key in result.contact_sheets else None
        )
    doc["carousel"] = {
        "photos": [{"n": i + 1, **to_dict(p)} for i, p in enumerate(result.photos)],
        "count": len(result.photos),
        "analyses": [to_dict(a) for a in result.analyses],
    }
    return doc


def write_set_outputs(result: SetResult, out_dir: Path) -> OutputFiles:
    """Write every file of a set into `out_dir` (results.json last); a failed write removes
    what this call wrote (outputs._Writer: DISK_FULL / OUTPUT_FAILED)."""
    out_dir = prepare_output_dir(out_dir, need_bytes=0)
    covers: dict[str, Path] = {}
    with _Writer(out_dir) as writer:
        for key, mine in result.slides.items():
            for slide in mine:
                if slide.image is not None:
                    path = writer.write(slide.filename(key), slide.image.data)
                    covers.setdefault(key, path)
            if key in result.contact_sheets:
                writer.write(SHEET_NAME.format(platform=key), result.contact_sheets[key])
        preview = out_dir / "preview.jpg"
        if result.job.contact_sheet:
            writer.write(preview.name, result.job.contact_sheet)
        doc = set_results_to_dict(result)
        captions = _write_captions(doc, writer)
        body = json.dumps(doc, indent=2, ensure_ascii=False).encode("utf-8")
        results_json = writer.write("results.json", body)
    return OutputFiles(out_dir, results_json, preview, covers, captions)


__all__ = [
    "MAX_SET_PHOTOS",
    "SetResult",
    "Slide",
    "run_set",
    "set_results_to_dict",
    "set_size",
    "write_set_outputs",
]
