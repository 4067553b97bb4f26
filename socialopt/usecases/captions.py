"""Captions for a past session or for a text alone: the provider when AI is on, the offline
templates otherwise (and whenever the provider fails). Synchronous: callers run it off the loop.

A paid call is made only when the answer is not cached already (by session or text, tone,
variant and language) and the person's hourly AI budget allows it (`ai_allowed`); past the
budget the offline captions come with a plain sentence saying so.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pipeline import captions, hashtags, niches
from pipeline.content import caption_problem, fallback_notice
from pipeline.errors import ProviderError
from pipeline.models import ImageAnalysis, Niche, PlatformContent, Usage
from pipeline.platforms import get_spec
from pipeline.providers.base import ContentRequest
from pipeline.serialize import analysis_from_dict, content_from_dict, niche_from_dict
from pipeline.services import cache_key
from storage.records import SessionRecord

log = logging.getLogger(__name__)

VARIANTS = 3  # versions per session and tone; pressing again cycles (and hits the cache)
BUDGET_SPENT = (
    "You have used this hour's AI captions ({limit} per hour), so these are offline captions; "
    "AI captions are back in about {minutes} min."
)
AllowAI = Callable[[], bool]  # takes one call from the person's hourly budget, or says no


def cycled_variant(presses: int) -> int:
    """1, 2, ... VARIANTS, then 1 again: the variant for the `presses`-th request (1-based)."""
    return (max(1, presses) - 1) % VARIANTS + 1


@dataclass
class Captions:
    """What a /caption run produced: content per platform and a note for the user."""

    contents: dict[str, PlatformContent]
    notice: str = ""


def text_analysis(text: str) -> ImageAnalysis:
    """A neutral analysis for captions written from text alone: it knows only the words."""
    words = [w.strip(".,!?;:\"'()").lower() for w in text.split()]
    return ImageAnalysis(
        width=0,
        height=0,
        orientation="square",
        brightness=0.5,
        contrast=0.5,
        sharpness=0.0,
        is_blurry=False,
        colors=[],
        faces=0,
        face_boxes=[],
        product_likeness=0.0,
        is_product=False,
        product_reason="",
        description=text.strip(),
        keywords=[w for w in words if len(w) > 2][:12],
    )


def _niche(item: Any) -> Niche | None:
    if isinstance(item, Niche):
        return item
    if isinstance(item, dict) and item.get("key"):
        return niche_from_dict(item)
    if isinstance(item, str) and item:
        info = niches.niche_info(item)
        return Niche(info.key, info.name, 1.0) if info else Niche(item, item.title(), 1.0)
    return None


def session_niches(results: dict[str, Any], text: str = "") -> list[Niche]:
    """The niches a session found (top level or per platform), else matched from `text`."""
    raw = list(results.get("niches") or [])
    if not raw:
        for data in (results.get("platforms") or {}).values():
            raw.extend(data.get("niches") or [])
    found: list[Niche] = []
    for item in raw:
        niche = _niche(item)
        if niche and niche.key not in {n.key for n in found}:
            found.append(niche)
    return found or niches.match_niches(text, None)


def session_analysis(session: SessionRecord) -> ImageAnalysis:
    """The analysis stored with a session, or a text-only one from its description."""
    data = (session.results or {}).get("analysis")
    if isinstance(data, dict):
        try:
            return analysis_from_dict(data)
        except (TypeError, KeyError, ValueError):
            log.warning("session %s: stored analysis unreadable, using text", session.id)
    return text_analysis(session.description)


def content_request(
    analysis: ImageAnalysis,
    found: list[Niche],
    platforms: tuple[str, ...],
    *,
    description: str,
    language: str,
    tone: str,
    limits: dict[str, int],
) -> ContentRequest:
    """A ContentRequest with hashtag candidates from the knowledge base for each platform."""
    candidates = {
        p: hashtags.suggest_hashtags(found, analysis, description, get_spec(p, limits))
        for p in platforms
    }
    return ContentRequest(
        analysis,
        found,
        platforms,
        description,
        language,
        tone,
        candidates,
        limits,
    )


def _offline(request: ContentRequest, variant: int) -> dict[str, PlatformContent]:
    return captions.compile_content(request, variant=variant)


def _caption_key(services: Any, request: ContentRequest, subject: str, variant: int) -> str:
    """The cache key of an AI caption answer: (session or text, tone, variant, language),
    the platforms, and who answers."""
    return cache_key(
        subject,
        request.platforms,
        request.description,
        getattr(services.provider, "name", ""),
        getattr(services, "model_id", ""),
        kind="caption",
        tone=request.tone,
        variant=variant,
        language=request.language,
    )


def _cached(services: Any, key: str) -> dict[str, PlatformContent] | None:
    cache = getattr(services, "cache", None)
    found = cache.get(key) if cache is not None else None
    if not isinstance(found, dict) or not isinstance(found.get("contents"), dict):
        return None
    return {p: content_from_dict(c) for p, c in found["contents"].items()}


def _remember(services: Any, key: str, contents: dict[str, PlatformContent]) -> None:
    cache = getattr(services, "cache", None)
    if cache is not None:
        value = {"contents": {p: dataclasses.asdict(c) for p, c in contents.items()}}
        cache.put(key, value, getattr(services, "cache_ttl_s", 7 * 86400))


def write_captions(
    services: Any,
    request: ContentRequest,
    variant: int,
    *,
    subject: str = "",
    ai_allowed: AllowAI | None = None,
    spent_notice: str = "",
) -> Captions:
    """Captions from the provider when AI is on, else (or on ProviderError) offline. Sync.
    With `subject` (a session id or a text's digest) the provider's answer is cached and
    reused; `ai_allowed` is asked before each paid call, and `spent_notice` is said when it
    refuses."""
    notice = ""
    contents: dict[str, PlatformContent] | None = None
    provider = getattr(services, "provider", None)
    if provider is not None and getattr(services, "ai_enabled", False):
        key = _caption_key(services, request, subject, variant) if subject else ""
        contents = _cached(services, key) if key else None
        if contents is None and ai_allowed is not None and not ai_allowed():
            notice = spent_notice or "AI captions are paused for now; these are offline ones."
        elif contents is None:
            try:
                contents = provider.write_content(request, Usage())
            except ProviderError as exc:
                log.warning("caption provider failed (%s): offline captions", exc.code)
                notice = fallback_notice(provider.label, "content", exc)
            else:  # a caption that can't be posted is replaced; such an answer is not kept
                bad = {
                    p: why
                    for p, c in contents.items()
                    if (why := caption_problem(c.caption, request.language))
                }
                contents = {p: c for p, c in contents.items() if p not in bad}
                if bad:
                    notice = (
                        f"Captions for {', '.join(bad)}: {provider.label} wrote unusable text "
                        f"({'; '.join(dict.fromkeys(bad.values()))}); offline captions were used."
                    )
                elif key and all(c.provider != "offline" for c in contents.values()):
                    _remember(services, key, contents)
    if contents is None:
        contents = _offline(request, variant)
    limits = dict(request.hashtag_limits)
    out: dict[str, PlatformContent] = {}
    for platform in request.platforms:
        item = contents.get(platform)
        if item is None:
            item = _offline(request, variant)[platform]
        spec = get_spec(platform, limits)
        item = captions.fit_content(item, spec)
        item.hashtags = hashtags.finalize_hashtags(item.hashtags, spec)
        out[platform] = item
    return Captions(out, notice)


def for_session(
    services: Any,
    session: SessionRecord,
    *,
    language: str,
    tone: str,
    variant: int,
    ai_allowed: AllowAI | None = None,
    spent_notice: str = "",
) -> Captions:
    """New captions (another variant, maybe a tone) for a finished session. Sync."""
    request = content_request(
        session_analysis(session),
        session_niches(session.results or {}, session.description),
        session.platforms,
        description=session.description,
        language=language,
        tone=tone,
        limits=dict(services.hashtag_limits),
    )
    return write_captions(
        services,
        request,
        variant,
        subject=f"session:{session.id}",
        ai_allowed=ai_allowed,
        spent_notice=spent_notice,
    )


def for_text(
    services: Any,
    text: str,
    platforms: tuple[str, ...],
    *,
    language: str,
    variant: int,
    ai_allowed: AllowAI | None = None,
    spent_notice: str = "",
) -> Captions:
    """Captions for `platforms` from a text alone (no photo). Sync."""
    request = content_request(
        text_analysis(text),
        niches.match_niches(text, None),
        platforms,
        description=text,
        language=language,
        tone="",
        limits=dict(services.hashtag_limits),
    )
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return write_captions(
        services,
        request,
        variant,
        subject=f"text:{digest}",
        ai_allowed=ai_allowed,
        spent_notice=spent_notice,
    )
