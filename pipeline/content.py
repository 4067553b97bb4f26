"""The content step of a job: analysis, niches, captions, hashtags and accounts.

AI when asked and available, the offline provider for every step the AI cannot answer. At
most 3 AI calls per session (analysis, then content and accounts at the same time), cached.
What the AI wrote is checked before it is used or cached: a caption too short to post or not
in the requested language gets one targeted retry, then the offline caption; a platform left
without valid account suggestions gets the offline ones. Every fallback is told to the user
once, naming the step and why.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from pipeline import captions, hashtags, niches
from pipeline.accounts import merge_accounts
from pipeline.errors import ProviderError
from pipeline.intake import SourceImage
from pipeline.lexicon import detect_language
from pipeline.models import (
    CAPTION_VARIANTS,
    Account,
    ImageAnalysis,
    JobOptions,
    Niche,
    PlatformContent,
    Usage,
)
from pipeline.platforms import PlatformSpec
from pipeline.ports import AccountsRequest, AnalysisRequest, ContentRequest, Provider
from pipeline.providers.common import AI_NO_VISION
from pipeline.providers.prompts import language_name
from pipeline.serialize import account_from_dict, analysis_from_dict, content_from_dict, to_dict
from pipeline.services import Services, cache_key

log = logging.getLogger(__name__)

# report(stage, message, platform="", step=False): the job's progress counter
Report = Callable[..., None]

MIN_CAPTION_CHARS = 15  # "Amara" is not a caption
MIN_CAPTION_WORDS = 3
DOWN_CODES = {"AI_AUTH_FAILED", "AI_QUOTA_EXCEEDED"}  # no more AI for this job

# step -> (what the user calls it, what they got instead)
STEPS = {
    "analysis": ("Image analysis", "the offline analysis was used"),
    "content": ("Captions", "offline captions were used"),
    "accounts": ("Accounts to tag", "your saved accounts and search links are shown"),
}
PROGRESS_TEXT = {"analysis": "analysing the photo", "content": "writing captions"}


@dataclass
class TextResult:
    """What the content step produced."""

    analysis: ImageAnalysis
    niches: list[Niche]
    contents: dict[str, PlatformContent]  # the version to post, per platform
    variants: dict[str, list[PlatformContent]]  # every offline version, per platform
    accounts: dict[str, list[Account]]
    providers: dict[str, str]  # platform -> provider name that wrote its caption


def fallback_notice(label: str, step: str, err: ProviderError) -> str:
    """What the user is told when `step` fell back to offline: the step, who, and why."""
    if err.code == AI_NO_VISION:
        return f"{label} can't see images: using the offline analysis for the photo."
    what, instead = STEPS[step]
    reason = err.message.rstrip(".")[:200]
    return f"{what}: {label} could not answer ({reason}; {err.code}); {instead}."


def caption_problem(caption: str, language: str) -> str:
    """Why a caption cannot be posted as it is ("" when it can): too short, or not in the
    requested language (the description's own language detector)."""
    text = caption.strip()
    words = re.findall(r"[^\W\d_]{2,}", text)  # words of letters: not dates, ids or numbers
    if len(text) < MIN_CAPTION_CHARS or len(words) < MIN_CAPTION_WORDS:
        return f"the caption is too short to post ({len(text)} characters)"
    found = detect_language(text, fallback=language)
    if found != language:
        return f"the caption is in {language_name(found)}, not {language_name(language)}"
    return ""


class _Step:
    """Runs each step on the AI provider, or the offline one when the AI fails or is off."""

    def __init__(self, services: Services, usage: Usage, use_ai: bool, report: Report) -> None:
        self.services, self.usage, self.report = services, usage, report
        self.down = not use_ai  # use offline for the rest of the job
        self.failed = False  # some AI answer was not used: never cache this session

    def fail(self, provider: Provider, step: str, err: ProviderError) -> None:
        log.warning("%s %s failed (%s: %s): offline", provider.label, step, err.code, err)
        self.failed = True
        if err.quota or err.code in DOWN_CODES:
            self.down = True
        self.usage.notice(fallback_notice(provider.label, step, err))

    def progress(self, step: str, done: float) -> None:
        self.report(step, f"{PROGRESS_TEXT.get(step, step)}… {int(done * 100)}%")


def _thumbnail_jpeg(source: SourceImage, long_side: int = 1024) -> bytes:
    img = source.image.copy()
    img.thumbnail((long_side, long_side))
    buf = io.BytesIO()
    img.convert("RGB").save(buf, "JPEG", quality=85)
    return buf.getvalue()


def hashtag_candidates(
    found: list[Niche],
    analysis: ImageAnalysis,
    options: JobOptions,
    services: Services,
    specs: dict[str, PlatformSpec],
) -> dict[str, list[str]]:
    """Hashtag ideas per platform: the knowledge base's, then the live sources'."""
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


def write_text(
    source: SourceImage,
    baseline: ImageAnalysis,
    options: JobOptions,
    services: Services,
    specs: dict[str, PlatformSpec],
    usage: Usage,
    report: Report,
) -> TextResult:
    """Analysis, niches, content and accounts for one job (see the module docstring)."""
    use_ai = options.use_ai and services.ai_enabled
    step = _Step(services, usage, use_ai, report)
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
    cached = services.cache.get(key) if (use_ai and services.cache is not None) else None
    if cached:
        usage.cache_hits += 1
        analysis = _cached_analysis(cached, baseline)
    elif use_ai:
        analysis = _analyse(source, baseline, options, step)
    else:
        analysis = baseline
    report("analysis", f"Analysed the image ({analysis.provider})", step=True)

    # the user's words and the analysis's structured cues; never the analyser's own sentences
    found = niches.match_niches(options.description, analysis, fallback_language=options.language)
    content_req = ContentRequest(
        analysis,
        found,
        options.platforms,
        options.description,
        options.language,
        options.tone,
        hashtag_candidates(found, analysis, options, services, specs),
        dict(services.hashtag_limits) | dict(options.hashtag_limits),
        progress=step.progress,
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
    else:
        contents, found_accounts = _content_and_accounts(step, content_req, accounts_req)
        contents = _checked(step, content_req, contents, options.language)
    report("content", "Wrote captions and hashtags", step=True)

    if (
        use_ai
        and not cached
        and services.cache is not None
        and not step.failed
        and set(contents) == set(specs)  # the AI wrote every platform, and it was accepted
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
    return _assemble(
        analysis,
        found,
        contents,
        found_accounts,
        content_req,
        accounts_req,
        options,
        services,
        specs,
    )


def _cached_analysis(cached: dict, baseline: ImageAnalysis) -> ImageAnalysis:
    """The cached AI words over this run's measurements."""
    analysis = analysis_from_dict(cached["analysis"])
    return replace(
        baseline,
        description=analysis.description,
        keywords=analysis.keywords,
        niches=analysis.niches,
        is_product=analysis.is_product,
        product_reason=analysis.product_reason,
        provider=analysis.provider,
    )


def _analyse(
    source: SourceImage, baseline: ImageAnalysis, options: JobOptions, step: _Step
) -> ImageAnalysis:
    provider = step.services.provider
    request = AnalysisRequest(
        _thumbnail_jpeg(source),
        baseline,
        options.description,
        options.language,
        progress=step.progress,
    )
    try:
        return provider.analyse(request, step.usage)
    except ProviderError as err:
        if err.code == AI_NO_VISION:  # a capability, not a failure: the cache is still fine
            log.info("analysis offline: %s", err.message)
            step.usage.notice(fallback_notice(provider.label, "analysis", err))
        else:
            step.fail(provider, "analysis", err)
    return step.services.offline.analyse(request, step.usage)


def _content_and_accounts(
    step: _Step, content_req: ContentRequest, accounts_req: AccountsRequest
) -> tuple[dict[str, PlatformContent], list[Account]]:
    """Content and account discovery at the same time: two calls, one round-trip of waiting.
    Content is {} when the AI did not write it (the offline versions are made by the caller)."""
    services = step.services

    def find() -> list[Account]:
        finder = services.accounts_provider or services.offline
        if step.down or finder.name == "offline":
            return services.offline.find_accounts(accounts_req, step.usage)
        try:
            return finder.find_accounts(accounts_req, step.usage)
        except ProviderError as err:
            step.fail(finder, "accounts", err)
            return services.offline.find_accounts(accounts_req, step.usage)

    with ThreadPoolExecutor(max_workers=1) as pool:
        accounts_future = pool.submit(find)
        contents: dict[str, PlatformContent] = {}
        if not step.down:
            try:
                contents = services.provider.write_content(content_req, step.usage)
            except ProviderError as err:
                step.fail(services.provider, "content", err)
        found_accounts = accounts_future.result()
    return contents, found_accounts


def _checked(
    step: _Step,
    request: ContentRequest,
    contents: dict[str, PlatformContent],
    language: str,
) -> dict[str, PlatformContent]:
    """The AI's captions that can be posted: one targeted retry for the rejected ones, then
    they are left out (the offline caption is used) and the user is told why."""
    problems = {p: caption_problem(c.caption, language) for p, c in contents.items()}
    problems = {p: why for p, why in problems.items() if why}
    if not problems:
        return contents
    provider = step.services.provider
    feedback = "; ".join(f"{p}: {why}" for p, why in problems.items()) + (
        f". Write each caption in {language_name(language)}, at least "
        f"{MIN_CAPTION_WORDS * 3} words."
    )
    retry = replace(request, platforms=tuple(problems), feedback=feedback)
    try:
        again = provider.write_content(retry, step.usage)
    except ProviderError as err:
        log.warning("caption retry failed (%s)", err.code)
        again = {}
    out = dict(contents)
    still: dict[str, str] = {}
    for platform, why in problems.items():
        item = again.get(platform)
        later = caption_problem(item.caption, language) if item is not None else why
        if item is not None and not later:
            out[platform] = item
        else:
            still[platform] = later
            del out[platform]
    if still:
        step.failed = True
        names = ", ".join(still)
        reasons = "; ".join(dict.fromkeys(still.values()))
        step.usage.notice(
            f"Captions for {names}: {provider.label} wrote unusable text ({reasons}); "
            "offline captions were used."
        )
    return out


def _assemble(
    analysis: ImageAnalysis,
    found: list[Niche],
    contents: dict[str, PlatformContent],
    found_accounts: list[Account],
    content_req: ContentRequest,
    accounts_req: AccountsRequest,
    options: JobOptions,
    services: Services,
    specs: dict[str, PlatformSpec],
) -> TextResult:
    """Every platform gets content within its rules, whatever the provider answered; the
    offline versions are kept as variants (and one of them is used where no AI wrote)."""
    versions = [captions.compile_content(content_req, variant=v) for v in range(CAPTION_VARIANTS)]
    final: dict[str, PlatformContent] = {}
    providers: dict[str, str] = {}
    for platform, spec in specs.items():
        item = contents.get(platform)
        if item is None or item.provider == "offline":
            item = versions[options.variant][platform]
            item.provider = "offline"
        item = captions.fit_content(item, spec)
        item.hashtags = hashtags.finalize_hashtags(item.hashtags, spec)
        final[platform] = item
        providers[platform] = item.provider
    variants = {p: [v[p] for v in versions] for p in specs}
    offline_written = found_accounts and all(
        a.source in ("search", "saved") for a in found_accounts
    )
    offline_found = (
        found_accounts
        if offline_written
        else services.offline.find_accounts(accounts_req, Usage())
    )
    by_platform = accounts_by_platform(found_accounts, offline_found, accounts_req)
    return TextResult(analysis, found, final, variants, by_platform, providers)


def accounts_by_platform(
    found: list[Account], offline: list[Account], request: AccountsRequest
) -> dict[str, list[Account]]:
    """Saved accounts always first, then the suggestions for that platform; a platform left
    with no suggestion (every AI handle failed validation) gets the offline ones."""
    out: dict[str, list[Account]] = {}
    for platform in request.all_platforms:
        mine = [a for a in found if a.platform == platform]
        if not mine:
            mine = [a for a in offline if a.platform == platform]
        out[platform] = merge_accounts(request.saved, mine, platform)
    return out
