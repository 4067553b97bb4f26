"""Offline caption compiler: per-platform voice, length, call to action and alt text.

Templates per language live in `pipeline/data/captions.json` (en, es, pt, de, fr, ru). Output
is deterministic: any variety comes from a hash of the inputs plus the `variant` number.
`fit_content` trims to each platform's limits; the ready-to-post text (`post_text`) is the
caption with the hashtags appended and always fits the platform's caption limit.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import replace
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING

from pipeline.errors import OptionsError
from pipeline.hashtags import finalize_hashtags, suggest_hashtags
from pipeline.models import LANGUAGES, TONES, ImageAnalysis, PlatformContent
from pipeline.niches import NICHES, tokens
from pipeline.platforms import PlatformSpec, get_spec

if TYPE_CHECKING:  # runtime import would be circular (providers/__init__ imports offline)
    from pipeline.providers.base import ContentRequest

ELLIPSIS = "…"
SUBJECT_CHARS = 80  # the hook's subject: first clause of the description, at most this long
DEFAULT_TONES: dict[str, str] = {
    "instagram": "casual",
    "facebook": "casual",
    "linkedin": "professional",
    "pinterest": "casual",
    "x": "casual",
    "tiktok": "casual",
}
EMOJI: dict[str, str] = {
    "casual": "✨",
    "funny": "😄",
    "luxury": "🥂",
    "professional": "",
    "minimal": "",
}


@lru_cache(maxsize=1)
def templates() -> dict[str, dict]:
    """Caption templates keyed by language code."""
    text = resources.files("pipeline.data").joinpath("captions.json").read_text("utf-8")
    return json.loads(text)["languages"]


def check_language(language: str) -> str:
    """The language code, lowercased, or OptionsError UNKNOWN_LANGUAGE."""
    code = (language or "en").strip().lower().replace("_", "-").split("-")[0]
    if code not in templates() or code not in LANGUAGES:
        raise OptionsError(
            f"Captions are available in {', '.join(LANGUAGES)}; '{language}' is not one of them.",
            code="UNKNOWN_LANGUAGE",
        )
    return code


def check_tone(tone: str, platform: str) -> str:
    """The tone to use: the given one, or the platform's default voice when empty."""
    value = (tone or "").strip().lower()
    if not value:
        return DEFAULT_TONES.get(platform, "casual")
    if value not in TONES:
        raise OptionsError(
            f"Tone '{tone}' is not one I know. Choose from: {', '.join(TONES)}.",
            code="UNKNOWN_TONE",
        )
    return value


# --- lengths and trimming ---------------------------------------------------------------


def x_length(text: str) -> int:
    """Length as X counts it: most Latin/Cyrillic characters 1, emoji and CJK 2."""
    total = 0
    for ch in text:
        cp = ord(ch)
        light = (
            cp <= 0x10FF
            or 0x2000 <= cp <= 0x200D
            or 0x2010 <= cp <= 0x201F
            or 0x2032 <= cp <= 0x2037
        )
        total += 1 if light else 2
    return total


def length_for(spec: PlatformSpec) -> Callable[[str], int]:
    """The length function a platform counts with."""
    return x_length if spec.key == "x" else len


def truncate(text: str, limit: int, length: Callable[[str], int] = len) -> str:
    """Cut text to `limit` at a word boundary with an ellipsis; unchanged when it fits."""
    text = text.strip()
    if limit <= 0:
        return ""
    if length(text) <= limit:
        return text
    budget = limit - length(ELLIPSIS)
    cut = text[: max(0, budget)]  # every character counts at least 1
    while cut and length(cut) > budget:
        cut = cut[:-1]
    at_boundary = len(cut) < len(text) and text[len(cut)].isspace()
    boundary = max(cut.rfind(" "), cut.rfind("\n"))
    if not at_boundary and boundary > 0:
        cut = cut[:boundary]
    cut = cut.rstrip(" \n\t,;:-–—")
    return (cut + ELLIPSIS) if cut else ELLIPSIS[:limit]


def hashtag_separator(spec: PlatformSpec) -> str:
    """What goes between the caption and the hashtags in the ready-to-post text."""
    return " " if spec.hashtags_in_post else "\n\n"


def post_text(content: PlatformContent, spec: PlatformSpec) -> str:
    """The caption with the hashtags appended (what counts against the caption limit)."""
    tags = " ".join(content.hashtags)
    if not tags:
        return content.caption
    if not content.caption:
        return tags
    return content.caption + hashtag_separator(spec) + tags


def ready_to_post(content: PlatformContent, spec: PlatformSpec) -> str:
    """What to paste as the post: with the hashtags where they belong in the post (X)."""
    return post_text(content, spec) if spec.hashtags_in_post else content.caption


def first_comment(content: PlatformContent, spec: PlatformSpec) -> str:
    """The hashtags for a first comment; empty where they are already in the post."""
    return "" if spec.hashtags_in_post else " ".join(content.hashtags)


def fit_content(content: PlatformContent, spec: PlatformSpec) -> PlatformContent:
    """Trim caption, title and alt text to the platform's limits. The caption plus its
    appended hashtags fits `caption_limit`; on X hashtags are dropped before the sentence
    is cut, elsewhere the caption is cut first (down to a third of the limit)."""
    length = length_for(spec)
    tags = list(content.hashtags[: spec.hashtag_max])
    caption = content.caption.strip()
    limit = spec.caption_limit

    def total(c: str, t: list[str]) -> int:
        return length(post_text(PlatformContent(caption=c, hashtags=t), spec))

    def room(t: list[str]) -> int:
        return limit - (length(hashtag_separator(spec) + " ".join(t)) if t else 0)

    if spec.key == "x":
        while tags and total(caption, tags) > limit:
            tags.pop()
    else:
        while tags and total(caption, tags) > limit and room(tags) < limit // 3:
            tags.pop()
    if total(caption, tags) > limit:
        caption = truncate(caption, room(tags), length)
    title = truncate(content.title, spec.title_limit) if spec.title_limit else content.title
    alt = truncate(content.alt_text, spec.alt_text_limit) if spec.alt_text_limit else ""
    return replace(content, caption=caption, hashtags=tags, title=title, alt_text=alt)


# --- composing ----------------------------------------------------------------------------


def _pick(options: list[str], seed: int, slot: int) -> str:
    if not options:
        return ""
    return options[(seed + slot) % len(options)]


def _seed(*parts: str, variant: int = 0) -> int:
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") + variant


def _clean(text: str) -> str:
    return re.sub(r"\s+", " ", (text or "").strip())


def _sentence(text: str) -> str:
    text = _clean(text)
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?…" else text + "."


def split_description(description: str) -> tuple[str, str]:
    """(subject, rest): the first clause (<= SUBJECT_CHARS, no final stop) and the rest."""
    text = _clean(description)
    if not text:
        return "", ""
    match = re.search(r"[.!?…](\s|$)", text)
    first, rest = (text[: match.start()], text[match.end() :]) if match else (text, "")
    first = first.strip().rstrip(",;:")
    if len(first) > SUBJECT_CHARS:
        short = truncate(first, SUBJECT_CHARS)
        rest = _clean(text)  # the whole description still goes in the body
        first = short
    return first, rest.strip()


def _fill(template: str, subject: str) -> str:
    cap = subject[:1].upper() + subject[1:]
    return template.replace("{Subject}", cap).replace("{subject}", subject)


def _keywords(description: str, niche_names: list[str], tpl: dict, limit: int = 6) -> str:
    """Search words for a Pinterest description: niche names, then the description's
    topic words (those the taxonomy knows first)."""
    stop = set(tpl.get("stopwords", ()))
    known = {kw for info in NICHES.values() for kw in info.keywords}
    words = [w for w in tokens(description) if len(w) > 2 and w not in stop and not w.isdigit()]
    ordered = [n.lower() for n in niche_names]
    ordered += [w for w in words if w in known] + [w for w in words if w not in known]
    out: list[str] = []
    for word in ordered:
        if word not in out:
            out.append(word)
    return ", ".join(out[:limit])


def alt_text(analysis: ImageAnalysis | None, description: str, language: str) -> str:
    """An honest alt text: the analyser's description plus the user's own words."""
    tpl = templates()[language]
    desc = _clean(description)
    measured = _clean(analysis.description) if analysis else ""
    if language != "en" and desc:
        return f"{tpl['photo']}: {_sentence(desc)}"
    if measured and desc and desc.lower() not in measured.lower():
        return f"{_sentence(measured)} {tpl['photo']}: {_sentence(desc)}"
    if measured:
        return _sentence(measured)
    return f"{tpl['photo']}: {_sentence(desc)}" if desc else tpl["photo"] + "."


def compose_caption(
    platform: str,
    *,
    description: str,
    language: str,
    tone: str,
    niche_names: list[str],
    variant: int = 0,
) -> tuple[str, str]:
    """(caption, title) for one platform, before hashtags and fitting."""
    tpl = templates()[language]
    subject, rest = split_description(description)
    if not subject:
        subject = tpl["subject_fallback"]
    seed = _seed(description, platform, language, tone, variant=variant)
    hook = _fill(_pick(tpl["hooks"][tone], seed, 0), subject)
    closer = _pick(tpl["closers"][tone], seed, 1)
    cta = _pick(tpl["cta"][platform], seed, 2)
    emoji = EMOJI.get(tone, "")
    body = _sentence(rest)
    title = ""

    if platform == "instagram":
        head = f"{hook} {emoji}".strip()
        caption = "\n\n".join(p for p in (head, body, closer, cta) if p)
    elif platform == "facebook":
        middle = " ".join(p for p in (body, closer) if p)
        caption = "\n\n".join(p for p in (hook, middle, cta) if p)
    elif platform == "linkedin":
        para1 = body or tpl["li_fallback"]
        insight = _pick(tpl["li_insight"], seed, 3)
        caption = "\n\n".join(p for p in (hook, para1, insight, cta) if p)
    elif platform == "pinterest":
        keywords = _keywords(description, niche_names if language == "en" else [], tpl)
        ideas = tpl["more_ideas"].replace("{keywords}", keywords) if keywords else ""
        first = _sentence(description) if description.strip() else _sentence(hook)
        caption = " ".join(p for p in (first, ideas, cta) if p)
        title = subject[:1].upper() + subject[1:]
        extra = [n for n in niche_names if n.lower() not in title.lower()][:2]
        if language == "en" and extra and len(title) < 50:
            title = f"{title} | {', '.join(extra)}"
    elif platform == "x":
        caption = " ".join(p for p in (hook, emoji, cta) if p)
    elif platform == "tiktok":
        caption = " ".join(p for p in (hook, emoji, cta) if p)
        title = subject[:1].upper() + subject[1:]
    else:
        caption = "\n\n".join(p for p in (hook, body, cta) if p)
    return caption, title


def compile_content(request: ContentRequest, *, variant: int = 0) -> dict[str, PlatformContent]:
    """Captions, hashtags, alt text and titles for every requested platform, fitted to each
    platform's limits. `variant` picks other template variants (for "new variants")."""
    language = check_language(request.language)
    names = [NICHES[n.key].name for n in request.niches if n.key in NICHES]
    alt = alt_text(request.analysis, request.description, language)
    out: dict[str, PlatformContent] = {}
    for platform in request.platforms:
        spec = get_spec(platform, request.hashtag_limits)
        tone = check_tone(request.tone, spec.key)
        caption, title = compose_caption(
            spec.key,
            description=request.description,
            language=language,
            tone=tone,
            niche_names=names,
            variant=variant,
        )
        candidates = list(request.hashtag_candidates.get(spec.key, ())) or suggest_hashtags(
            request.niches, request.analysis, request.description, spec
        )
        tags = finalize_hashtags(candidates, spec)
        content = PlatformContent(
            caption=caption, hashtags=tags, alt_text=alt, title=title, provider="offline"
        )
        out[spec.key] = fit_content(content, spec)
    return out
