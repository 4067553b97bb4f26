"""One job: image bytes + options -> results for every platform.

`run_job` is a pure function of its inputs (and the services it is handed), so a queue worker
can run it anywhere. Bad input raises IntakeError/OptionsError; a failure on one platform marks
that platform `failed` and keeps the others. Progress callbacks may come from worker threads.
"""

from __future__ import annotations

import io
import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, TypeVar

from PIL import Image

from pipeline import captions, hashtags, niches, posting, rules
from pipeline.accounts import merge_accounts
from pipeline.alt_text import alt_text_for
from pipeline.analysis import analyse_image
from pipeline.contact_sheet import make_contact_sheet
from pipeline.crop import check_fit
from pipeline.errors import OptionsError, ProviderError, SocialOptError
from pipeline.intake import IntakeLimits, SourceImage, decode_size_for, load_image
from pipeline.models import (
    CAPTION_VARIANTS,
    PRODUCT_STYLES,
    Account,
    ImageAnalysis,
    JobOptions,
    JobResult,
    Niche,
    PlatformContent,
    PlatformResult,
    ProductDecision,
    ProgressEvent,
    ProgressFn,
    Recognition,
    RenderedImage,
    Usage,
)
from pipeline.platforms import PLATFORMS, PlatformSpec, get_spec, parse_platforms
from pipeline.providers.base import AccountsRequest, AnalysisRequest, ContentRequest
from pipeline.render import render_platform
from pipeline.serialize import (
    account_from_dict,
    analysis_from_dict,
    content_from_dict,
    to_dict,
)
from pipeline.services import Services, cache_key
from pipeline.vision import focus_map

log = logging.getLogger(__name__)
T = TypeVar("T")


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


def _with_fallback(
    services: Services, step: str, usage: Usage, call: Callable[[Any], T], state: dict[str, bool]
) -> tuple[T, str]:
    """Run `call(provider)` on the AI provider, or the offline one when AI fails or is off."""
    primary = services.provider
    if services.ai_enabled and not state.get("down"):
        try:
            return call(primary), primary.name
        except ProviderError as exc:
            log.warning("AI %s failed (%s): falling back to offline", step, exc.code)
            if exc.quota or exc.code in {"AI_AUTH_FAILED", "AI_QUOTA_EXCEEDED"}:
                state["down"] = True
            usage.notice(
                f"AI is unavailable right now ({exc.code}); offline results were used instead."
            )
    return call(services.offline), "offline"


def _thumbnail_jpeg(source: SourceImage, long_side: int = 1024) -> bytes:
    img = source.image.copy()
    img.thumbnail((long_side, long_side))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=85)
    return buf.getvalue()


def _hashtag_candidates(
    found: list[Niche],
    analysis: ImageAnalysis,
    options: JobOptions,
    services: Services,
    specs: dict[str, PlatformSpec],
) -> dict[str, list[str]]:
    live: list[str] = []
    if services.hashtag_sources is not None and found:
        live = services.hashtag_sources.fetch(found[0].key)
    out: dict[str, list[str]] = {}
    for key, spec in specs.items():
        known = hashtags.suggest_hashtags(
            found, analysis, options.description, spec, language=options.language
        )
        out[key] = known + [t for t in live if t.lower() not in {k.lower() for k in known}]
    return out


@dataclass
class _Text:
    """What the text side of a job produced."""

    analysis: ImageAnalysis
    niches: list[Niche]
    contents: dict[str, PlatformContent]  # the version to post, per platform
    variants: dict[str, list[PlatformContent]]  # every offline version, per platform
    accounts: dict[str, list[Account]]
    providers: dict[str, str]


def _ai_text(
    source: SourceImage,
    baseline: ImageAnalysis,
    options: JobOptions,
    services: Services,
    specs: dict[str, PlatformSpec],
    usage: Usage,
    report: _Progress,
) -> _Text:
    """Analysis, niches, content and accounts: AI when asked and available, else offline.
    Costs at most 3 AI calls (analysis, then content and accounts together); cached."""
    use_ai = options.use_ai and services.ai_enabled
    key = (
        cache_key(
            source.info.sha256,
            options.platforms,
            options.description,
            services.provider.name,
            services.model_id,
            language=options.language,
            tone=options.tone,
        )
        if use_ai
        else ""
    )
    state: dict[str, bool] = {"down": not use_ai}  # "down": use offline for the rest
    cached = services.cache.get(key) if (use_ai and services.cache is not None) else None
    if cached:
        usage.cache_hits += 1
        analysis = analysis_from_dict(cached["analysis"])
        analysis = replace(
            baseline,
            description=analysis.description,
            keywords=analysis.keywords,
            niches=analysis.niches,
            is_product=analysis.is_product,
            product_reason=analysis.product_reason,
            provider=analysis.provider,
        )
    elif use_ai:
        request = AnalysisRequest(
            _thumbnail_jpeg(source), baseline, options.description, options.language
        )
        analysis, _ = _with_fallback(
            services, "analysis", usage, lambda p: p.analyse(request, usage), state
        )
    else:
        analysis = baseline
    report("analysis", f"Analysed the image ({analysis.provider})", step=True)

    # the user's words and the analysis's structured cues; never the analyser's own sentences
    found = niches.match_niches(options.description, analysis, fallback_language=options.language)
    candidates = _hashtag_candidates(found, analysis, options, services, specs)
    content_req = ContentRequest(
        analysis,
        found,
        options.platforms,
        options.description,
        options.language,
        options.tone,
        candidates,
        dict(services.hashtag_limits) | dict(options.hashtag_limits),
    )
    accounts_req = AccountsRequest(
        found,
        options.platforms[0],
        options.saved_accounts,
        options.description,
        platforms=options.platforms,
    )
    if cached:
        contents = {k: content_from_dict(v) for k, v in cached["content"].items()}
        found_accounts = [account_from_dict(a) for a in cached["accounts"]]
        providers = dict.fromkeys(contents, analysis.provider)
    else:
        contents, found_accounts, providers = _content_and_accounts(
            services, usage, state, content_req, accounts_req
        )
    report("content", "Wrote captions and hashtags", step=True)

    if (
        use_ai
        and not cached
        and services.cache is not None
        and not state.get("down")
        and set(contents) == set(specs)  # the AI wrote every platform
        and all(p != "offline" for p in providers.values())
    ):
        services.cache.put(
            key,
            {
                "analysis": to_dict(analysis),
                "content": {k: to_dict(v) for k, v in contents.items()},
                "accounts": [to_dict(a) for a in found_accounts],
            },
            services.cache_ttl_s,
        )

    # Every platform gets content within its rules, whatever the provider answered; the
    # offline versions are kept as variants (and one of them is used where no AI wrote).
    versions = [captions.compile_content(content_req, variant=v) for v in range(CAPTION_VARIANTS)]
    final: dict[str, PlatformContent] = {}
    for platform, spec in specs.items():
        item = contents.get(platform)
        if item is None or providers.get(platform, "offline") == "offline":
            item = versions[options.variant][platform]
            providers[platform] = "offline"
        item = captions.fit_content(item, spec)
        item.hashtags = hashtags.finalize_hashtags(item.hashtags, spec)
        final[platform] = item
    variants = {p: [v[p] for v in versions] for p in specs}
    by_platform = _accounts_by_platform(found_accounts, accounts_req)
    return _Text(analysis, found, final, variants, by_platform, providers)


def _content_and_accounts(
    services: Services,
    usage: Usage,
    state: dict[str, bool],
    content_req: ContentRequest,
    accounts_req: AccountsRequest,
) -> tuple[dict[str, PlatformContent], list[Account], dict[str, str]]:
    """Content and account discovery at the same time: two calls, one round-trip of waiting."""

    def find(_: Any) -> list[Account]:
        finder = services.accounts_provider or services.offline
        if state.get("down") or finder.name == "offline":
            return services.offline.find_accounts(accounts_req, usage)
        try:
            return finder.find_accounts(accounts_req, usage)
        except ProviderError as exc:
            log.warning("account discovery failed (%s): offline suggestions", exc.code)
            usage.notice(f"Account discovery is unavailable ({exc.code}); showing searches.")
            return services.offline.find_accounts(accounts_req, usage)

    def write(provider: Any) -> dict[str, PlatformContent]:
        # offline content is written once, for every caption version, by the caller
        return {} if provider is services.offline else provider.write_content(content_req, usage)

    with ThreadPoolExecutor(max_workers=1) as pool:
        accounts_future = pool.submit(find, None)
        contents, name = _with_fallback(services, "content", usage, write, state)
        found_accounts = accounts_future.result()
    for item in contents.values():
        item.provider = item.provider or name
    return contents, found_accounts, {k: v.provider for k, v in contents.items()}


def _accounts_by_platform(
    found: list[Account], request: AccountsRequest
) -> dict[str, list[Account]]:
    """Saved accounts always first, then suggestions for that platform."""
    return {p: merge_accounts(request.saved, found, p) for p in request.all_platforms}


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


def _product_step(
    source: SourceImage,
    analysis: ImageAnalysis,
    options: JobOptions,
    services: Services,
    specs: dict[str, PlatformSpec],
    results: dict[str, PlatformResult],
) -> tuple[ProductDecision | None, list[str]]:
    """Product photos per style and platform, when asked for."""
    if not options.product_styles:
        return None, []
    from pipeline.product.photos import decision_warning, make_product_photos

    if services.remover is None:
        return None, ["Product photography is not available on this installation."]
    targets = [
        (key, spec.choose_size(source.info.width, source.info.height))
        for key, spec in specs.items()
    ]
    decision, photos = make_product_photos(
        source.image,
        analysis,
        options.product_styles,
        targets,
        options.output_format,
        services.remover,
        logo=options.logo,
        openai_editor=services.image_editor,
        max_file_bytes={k: s.max_file_bytes for k, s in specs.items()},
        force=options.product_force,
        alpha=getattr(source, "alpha", None),
    )
    for photo in photos:
        if photo.platform in results:
            results[photo.platform].product_photos.append(photo)
    notes = list(getattr(services.remover, "notes", []))
    said = decision_warning(decision)  # why none were made (or that they were made anyway)
    return decision, notes + ([said] if said else [])


def _upload_all(
    result_map: dict[str, PlatformResult], session_id: str, services: Services, warnings: list[str]
) -> None:
    """Upload every generated image when Cloudinary is configured; keep going on failure."""
    if services.uploader is None:
        return
    jobs: list[tuple[Any, RenderedImage, str]] = []
    for key, res in result_map.items():
        if res.image is not None:
            jobs.append((res, res.image, res.image.filename(key).rsplit(".", 1)[0]))
        for photo in res.product_photos:
            jobs.append((photo, photo.image, photo.filename.rsplit(".", 1)[0]))

    def upload(job: tuple[Any, RenderedImage, str]) -> str | None:
        target, image, public_id = job
        try:
            url = services.uploader.upload(image.data, f"socialopt/{session_id}", public_id)
        except SocialOptError as exc:
            return f"{public_id}: {exc.message}"
        if isinstance(target, PlatformResult):
            target.image_url = url
        else:
            target.url = url
        return None

    with ThreadPoolExecutor(max_workers=4) as pool:
        failures = [f for f in pool.map(upload, jobs) if f]
    if failures:
        warnings.append(
            f"Cloudinary upload failed for {len(failures)} file(s); the local files are kept."
        )


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
    text: _Text, options: JobOptions, specs: dict[str, PlatformSpec], rendered: dict[str, Any]
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
        baseline = analyse_image(
            source.image,
            description=options.description,
            faces=focus.faces,
            scale=source.scale,
            recognition=recognised.result(),
            focus=focus,
        )
        text = _ai_text(source, baseline, options, services, specs, usage, report)
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
    decision, product_warnings = _product_step(source, analysis, options, services, specs, results)
    warnings += product_warnings
    if options.product_styles:
        timings["product"] = time.perf_counter() - t0
        report("product", "Product photos ready", step=True)
    _upload_all(results, options.session_id, services, warnings)

    sheet = (
        make_contact_sheet(
            [
                (
                    f"{specs[k].display_name} {r.image.width}x{r.image.height}",
                    r.image,
                )
                for k, r in results.items()
                if r.image is not None
            ]
        )
        if any(r.image for r in results.values())
        else b""
    )
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
