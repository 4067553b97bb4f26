"""One job: image bytes + options -> results for every platform.

`run_job`: validate -> (images || content) -> assemble -> publish. The content step lives in
`pipeline.content`, the publish step (product photos, uploads) in `pipeline.publish`; every
outside service comes in through `services` (see `pipeline.ports`), so a queue worker can run
a job anywhere. Bad input raises IntakeError/OptionsError; a failure on one platform marks
that platform `failed` and keeps the others. Progress callbacks may come from worker threads.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, TypeVar

from PIL import Image

from pipeline import captions, niches, posting, rules
from pipeline.alt_text import alt_text_for
from pipeline.analysis import analyse_image
from pipeline.contact_sheet import results_sheet
from pipeline.content import TextResult, write_text
from pipeline.crop import check_fit
from pipeline.errors import OptionsError, SocialOptError
from pipeline.intake import IntakeLimits, SourceImage, decode_size_for, load_image
from pipeline.models import (
    CAPTION_VARIANTS,
    PRODUCT_STYLES,
    ImageAnalysis,
    JobOptions,
    JobResult,
    PlatformResult,
    ProgressEvent,
    ProgressFn,
    Recognition,
    RenderedImage,
    Usage,
)
from pipeline.platforms import PLATFORMS, PlatformSpec, get_spec, parse_platforms
from pipeline.publish import product_photos, upload_all
from pipeline.render import render_platform
from pipeline.services import Services
from pipeline.vision import Focus, focus_map

log = logging.getLogger(__name__)
T = TypeVar("T")


def analyse_source(
    source: SourceImage, description: str, focus: Focus, recognition: Recognition | None
) -> ImageAnalysis:
    """The offline analysis of one decoded photo, with the focus map and recognition reused."""
    return analyse_image(
        source.image,
        description=description,
        faces=focus.faces,
        scale=source.scale,
        recognition=recognition,
        focus=focus,
    )


def validate_options(options: JobOptions) -> JobOptions:
    """Canonical options, or OptionsError with a specific code."""
    platforms = parse_platforms(list(options.platforms))
    fmt = rules.output_format(options.output_format)
    language = captions.check_language(options.language)
    posting.get_zone(options.timezone)
    if options.tone:
        captions.check_tone(options.tone, platforms[0])
    if not 0 <= options.variant < CAPTION_VARIANTS:
        raise OptionsError(
            f"Caption version {options.variant} does not exist; choose 0 to "
            f"{CAPTION_VARIANTS - 1}.",
            code="UNKNOWN_VARIANT",
        )
    unknown = [s for s in options.product_styles if s not in PRODUCT_STYLES]
    if unknown:
        raise OptionsError(
            f"Unknown product style '{unknown[0]}'; choose from {', '.join(PRODUCT_STYLES)}.",
            code="UNKNOWN_STYLE",
        )
    return replace(
        options,
        platforms=platforms,
        output_format=fmt,
        language=language,
        max_workers=max(1, min(options.max_workers, 16)),
        session_id=options.session_id or uuid.uuid4().hex[:12],
        fit=check_fit(options.fit),
    )


def _draft_size(specs: list[PlatformSpec]) -> tuple[int, int]:
    """The decode size that keeps full detail for every size these platforms may use."""
    return decode_size_for(
        (size.width, size.height)
        for spec in specs
        for size in (spec.sizes if spec.auto_aspect else (spec.default_size,))
    )


class _Progress:
    """Counts finished steps (called from worker threads) and forwards events."""

    def __init__(self, fn: ProgressFn | None, total: int) -> None:
        self.fn, self.total, self.done = fn, total, 0
        self._lock = threading.Lock()

    def __call__(self, stage: str, message: str, platform: str = "", step: bool = False) -> None:
        with self._lock:  # held while forwarding so events arrive in order
            self.done += int(step)
            if self.fn is None:
                return
            try:
                self.fn(ProgressEvent(stage, message, self.done, self.total, platform))
            except Exception:  # noqa: BLE001 - a broken progress display must not fail the job
                log.exception("progress callback failed")


def _decorator(options: JobOptions) -> Callable[[Image.Image], Image.Image] | None:
    if options.logo is None:
        return None
    from pipeline.product.logo import apply_logo

    logo = options.logo
    return lambda img: apply_logo(img, logo)


def _render_one(
    source: SourceImage,
    spec: PlatformSpec,
    options: JobOptions,
    focus: Any,
    report: _Progress,
) -> tuple[RenderedImage | None, dict[str, str] | None, float]:
    started = time.perf_counter()
    try:
        image = render_platform(
            source,
            spec,
            options.output_format,
            focus,
            decorate=_decorator(options),
            fit=options.fit,
        )
        error = None
    except SocialOptError as exc:
        image, error = None, exc.to_dict()
    except Exception as exc:  # noqa: BLE001 - one platform's failure must not lose the others
        log.exception("render failed for %s", spec.key)
        image, error = None, {"code": "PROCESSING_FAILED", "message": f"{type(exc).__name__}"}
    report(
        "render",
        f"{spec.display_name} ready" if image else f"{spec.display_name} failed",
        spec.key,
        step=True,
    )
    return image, error, time.perf_counter() - started


UPSCALE_WARN = 1.5  # enlarging more than this visibly softens a photo


def _upscale_warnings(results: dict[str, PlatformResult]) -> list[str]:
    """Say when a photo was too small for a platform and had to be enlarged."""
    enlarged = []
    for key, res in results.items():
        if res.image is None:
            continue
        left, _, right, _ = res.image.crop_box
        factor = res.image.width / max(1, right - left)
        if factor > UPSCALE_WARN:
            enlarged.append((factor, f"{PLATFORMS[key].display_name} {factor:.1f}x"))
    if not enlarged:
        return []
    enlarged.sort(reverse=True)
    return [
        "The photo is small for some platforms and was enlarged ("
        + ", ".join(label for _, label in enlarged)
        + "); send a larger original for sharper results."
    ]


def _describe_crops(
    text: TextResult, options: JobOptions, specs: dict[str, PlatformSpec], rendered: dict[str, Any]
) -> None:
    """Alt text for the crop each platform got (an AI's own alt text stays when it fits)."""
    for key, spec in specs.items():
        image_out = rendered[key][0]
        if image_out is None or not spec.alt_text_limit:
            continue
        alt = alt_text_for(
            text.analysis,
            options.description,
            options.language,
            crop_box=image_out.crop_box,
            limit=spec.alt_text_limit,
        )
        content = text.contents[key]
        ai_alt = content.provider != "offline" and 0 < len(content.alt_text) <= spec.alt_text_limit
        if not ai_alt:
            content.alt_text = alt
        for version in text.variants.get(key, []):
            version.alt_text = alt


def _recognise(services: Services, img: Image.Image) -> Recognition | None:
    """The offline classifier's answer, or None (no model, or it failed: the job goes on)."""
    if services.recogniser is None:
        return None
    try:
        return services.recogniser.recognise(img)
    except Exception:  # noqa: BLE001 - recognition is optional; never fail a job over it
        log.exception("subject recognition failed")
        return None


def run_job(
    image: bytes,
    options: JobOptions,
    services: Services,
    progress: ProgressFn | None = None,
) -> JobResult:
    """Turn one image into per-platform results. Pure: no files are written here."""
    started = time.perf_counter()
    timings: dict[str, float] = {}
    options = validate_options(options)
    # the description's dictionary and keyword index load while the image decodes
    niches.prefetch(options.description, options.language)
    if services.recogniser is not None:
        services.recogniser.warm()  # the model loads while the image decodes
    limits = services.intake_limits or IntakeLimits()
    specs = {
        key: get_spec(key, dict(services.hashtag_limits) | dict(options.hashtag_limits))
        for key in options.platforms
    }
    # steps: intake, analysis, content, one per platform, [product], done
    report = _Progress(progress, total=len(specs) + 4 + bool(options.product_styles))
    source = load_image(image, limits, draft_size=_draft_size(list(specs.values())))
    if options.source_name:
        source = replace(source, info=replace(source.info, name=options.source_name))
    timings["intake"] = time.perf_counter() - started
    report("intake", f"Image accepted ({source.info.width}x{source.info.height})", step=True)

    usage = Usage()
    with ThreadPoolExecutor(max_workers=options.max_workers) as pool:
        # first, so loading the model (once per process) overlaps the focus map and renders
        recognised = pool.submit(_recognise, services, source.image)
        focus = focus_map(source.image)
        renders = {
            key: pool.submit(_render_one, source, spec, options, focus, report)
            for key, spec in specs.items()
        }
        t0 = time.perf_counter()
        baseline = analyse_source(source, options.description, focus, recognised.result())
        text = write_text(source, baseline, options, services, specs, usage, report)
        timings["text"] = time.perf_counter() - t0
        rendered = {key: future.result() for key, future in renders.items()}
    timings["render"] = max((r[2] for r in rendered.values()), default=0.0)

    _describe_crops(text, options, specs, rendered)
    results: dict[str, PlatformResult] = {}
    for key, spec in specs.items():
        image_out, error, seconds = rendered[key]
        results[key] = PlatformResult(
            platform=key,
            status="completed" if image_out is not None else "failed",
            image=image_out,
            content=text.contents[key],
            niches=text.niches,
            posting_times=posting.best_times(spec, options.timezone),
            profiles=text.accounts.get(key, []),
            processing_time=round(seconds, 3),
            provider=text.providers.get(key, "offline"),
            error=error,
            variants=text.variants.get(key, []),
        )

    analysis = text.analysis
    warnings = list(source.warnings) + list(analysis.warnings) + _upscale_warnings(results)
    t0 = time.perf_counter()
    decision, product_warnings = product_photos(
        source, analysis, options, services, specs, results
    )
    warnings += product_warnings
    if options.product_styles:
        timings["product"] = time.perf_counter() - t0
        report("product", "Product photos ready", step=True)
    warnings += upload_all(results, options.session_id, services)

    sheet = results_sheet(results, {k: spec.display_name for k, spec in specs.items()})
    timings["total"] = time.perf_counter() - started
    report("done", "Done", step=True)
    return JobResult(
        session_id=options.session_id,
        user_uuid=options.user_uuid,
        timestamp=datetime.now(UTC).isoformat(timespec="seconds"),
        source=source.info,
        options=options,
        analysis=analysis,
        niches=text.niches,
        platforms=results,
        contact_sheet=sheet,
        product=decision,
        usage=usage,
        warnings=warnings,
        timings={k: round(v, 4) for k, v in timings.items()},
    )
