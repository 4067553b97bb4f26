"""Offline caption compiler: per-platform voice, length and call to action.

Phrases per language live in `pipeline/data/captions.json` (en, es, pt, de, fr, ru), chosen by
what the photo is (`analysis.kind`), the tone and the platform; they claim nothing the photo or
the user did not say. The hook is a whole sentence: the description's first sentence, or one
written from the recognised subject or the colours. Output is deterministic: any variety comes
from a hash of the inputs plus the `variant` number (versions 0 and 1 always differ). Alt text
is written by `pipeline.alt_text`.
`fit_content` trims to each platform's limits; the ready-to-post text (`post_text`) is the
caption with the hashtags appended and always fits the platform's caption limit, counted the
way the platform counts (`length_for`: X's weights, Bluesky's graphemes and bytes).
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

import regex

from pipeline import rules
from pipeline.alt_text import alt_text_for
from pipeline.errors import OptionsError
from pipeline.hashtags import finalize_hashtags, suggest_hashtags
from pipeline.lexicon import lemma
from pipeline.models import TONES, ImageAnalysis, PlatformContent
from pipeline.niches import NICHES, fold
from pipeline.phrases import (
    capital,
    colour_words,
    join_words,
    kind_of,
    sentences,
    split_description,
    subject_phrase,
    templates,
    truncate,
)
from pipeline.platforms import PlatformSpec, get_spec

if TYPE_CHECKING:  # runtime import would be circular (providers/__init__ imports offline)
    from pipeline.providers.base import ContentRequest

DEFAULT_TONES: dict[str, str] = {
    "instagram": "casual",
    "facebook": "casual",
    "linkedin": "professional",
    "pinterest": "casual",
    "x": "casual",
    "tiktok": "casual",
    "threads": "casual",
    "bluesky": "casual",
    "mastodon": "casual",
}
# no emoji where a screen reader would read it out in every post's first line (Mastodon)
NO_EMOJI: frozenset[str] = frozenset({"mastodon"})
EMOJI: dict[str, str] = {
    "casual": "✨",
    "funny": "😄",
    "luxury": "🥂",
    "professional": "",
    "minimal": "",
}


def check_language(language: str) -> str:
    """The language code, lowercased, or OptionsError UNKNOWN_LANGUAGE."""
    code = rules.language(language or "en")
    if code not in templates():  # never expected: every language has its templates
        raise OptionsError(f"No caption templates for '{code}'.", code="UNKNOWN_LANGUAGE")
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


_GRAPHEME = regex.compile(r"\X")


def graphemes(text: str) -> int:
    """User-perceived characters (Unicode extended grapheme clusters, UAX #29): a family emoji
    joined with ZWJs, a flag or a letter with combining marks each count once."""
    return sum(1 for _ in _GRAPHEME.finditer(text))


def bytes_limited(length: Callable[[str], int], limit: int, byte_cap: int) -> Callable[[str], int]:
    """A length that also keeps the UTF-8 size within `byte_cap` when measured against
    `limit`: max(length, bytes scaled to the limit), so it fits only when both do."""

    def measure(text: str) -> int:
        return max(length(text), math.ceil(len(text.encode("utf-8")) * limit / byte_cap))

    return measure


_COUNTERS: dict[str, Callable[[str], int]] = {"chars": len, "x": x_length, "graphemes": graphemes}


def length_for(spec: PlatformSpec) -> Callable[[str], int]:
    """The length function a platform counts its caption limit with (spec.counting), with its
    byte cap folded in (Bluesky: 300 graphemes and 3,000 bytes)."""
    length = _COUNTERS.get(spec.counting, len)
    if spec.caption_bytes:
        return bytes_limited(length, spec.caption_limit, spec.caption_bytes)
    return length


# in-post hashtags go on their own line, except where every character is scarce (X)
TAGS_INLINE: frozenset[str] = frozenset({"x"})


def hashtag_separator(spec: PlatformSpec) -> str:
    """What goes between the caption and the hashtags in the ready-to-post text."""
    return " " if spec.hashtags_in_post and spec.key in TAGS_INLINE else "\n\n"


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
    is cut, elsewhere (Threads, Bluesky and Mastodon too, where tags are how posts are found)
    the caption is cut first (down to a third of the limit)."""
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

BODY_CHARS_PINTEREST = 280  # whole description sentences kept in a pin's description


def _pick(options: list[str], seed: int, slot: int, variant: int) -> str:
    """One option per slot. Consecutive variants differ in every slot with 2+ options."""
    if not options:
        return ""
    return options[(seed + 3 * slot + variant + (variant // 2) * slot) % len(options)]


def _seed(*parts: str) -> int:
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big")


def _fill(template: str, **values: str) -> str:
    for key, value in values.items():
        template = template.replace("{" + key + "}", value)
        template = template.replace("{" + key.upper() + "}", capital(value))
        template = template.replace("{" + capital(key) + "}", capital(value))
    return template


def make_hook(
    analysis: ImageAnalysis | None, language: str, tone: str, seed: int, variant: int
) -> str:
    """A whole-sentence hook from what is known: the subject, else the colours, else a
    plain line that claims nothing about the photo."""
    tpl = templates()[language]
    phrase = subject_phrase(analysis, language)
    if phrase:
        return _fill(_pick(tpl["hooks"][tone], seed, 0, variant), np=phrase[1])
    colours = colour_words(analysis, language)
    if colours:
        return _fill(
            _pick(tpl["color_hooks"][tone], seed, 0, variant), colors=join_words(colours, language)
        )
    return _pick(tpl["plain_hooks"][tone], seed, 0, variant)


def _title(description: str, phrase: tuple[str, str] | None, fallback: str, limit: int) -> str:
    """A short title: the description's first sentence, or its first clause, else the
    subject, else the hook."""
    parts = sentences(description)
    first = parts[0] if parts else ""
    clause = re.split(r"\s*[,;:(–—]\s*|\s+-\s+", first)[0] if first else ""
    if len(clause.split()) < 2:
        clause = ""
    for candidate in (first, clause, phrase[0] if phrase else "", fallback):
        text = candidate.strip().rstrip(".!…")
        if text and len(text) <= limit:
            return capital(text)
    return ""


def _surface_words(description: str, language: str) -> list[str]:
    """The description's words (accents kept); lowercased at a sentence start, except in
    German where nouns keep their capital. Outside English they are given as lemmas, so a
    keyword reads "озеро", not the inflected "озере"."""
    out: list[str] = []
    for match in re.finditer(r"[^\W\d_][^\W_]*(?:['’-][^\W_]+)*", description):
        word = match.group()
        before = description[: match.start()].rstrip()
        if language != "de" and (not before or before[-1] in ".!?…"):
            word = word.lower()
        out.append(word if language == "en" else lemma(word, language))
    return out


def _keywords(
    description: str, extra: list[str], tpl: dict[str, object], language: str, limit: int = 6
) -> str:
    """Search words for a Pinterest description: subject and niche names first, then the
    description's topic words (those the taxonomy knows first), spelled as the user did."""
    stop = {fold(w) for w in tpl.get("stopwords", ())}  # type: ignore[attr-defined]
    known = {kw for info in NICHES.values() for kw in info.keywords}
    words = [
        w
        for w in _surface_words(description, language)
        if len(w) > 2 and fold(w) not in stop and not w.isdigit()
    ]
    ordered = [n if language == "de" else n.lower() for n in extra]
    ordered += [w for w in words if fold(w) in known] + [w for w in words if fold(w) not in known]
    out: list[str] = []
    for word in ordered:
        if word and fold(word) not in {fold(o) for o in out}:
            out.append(word)
    return ", ".join(out[:limit])


def _whole_sentences(text: str, budget: int) -> str:
    """As many whole sentences from the start of `text` as fit in `budget` characters."""
    out = ""
    for part in sentences(text):
        joined = f"{out} {part}".strip()
        if len(joined) > budget:
            break
        out = joined
    return out


def compose_caption(
    platform: str,
    *,
    description: str,
    language: str,
    tone: str,
    niche_names: list[str],
    variant: int = 0,
    analysis: ImageAnalysis | None = None,
) -> tuple[str, str]:
    """(caption, title) for one platform, before hashtags and fitting.

    The hook is a whole sentence: the description's first sentence when it is short enough,
    else one written from the subject or the colours (the description then goes in the body,
    once). Questions depend on what the photo is; `variant` picks other phrasings."""
    tpl = templates()[language]
    kind = kind_of(analysis)
    subject = analysis.subject if analysis else ""
    seed = _seed(description, platform, language, tone, kind, subject)
    first, rest = split_description(description)
    written = make_hook(analysis, language, tone, seed, variant)
    hook = first or written
    body = rest
    phrase = subject_phrase(analysis, language)

    closer = _pick(tpl["closers"][tone], seed, 1, variant)
    question = _pick(tpl["questions"][kind], seed, 2, variant)
    emoji = "" if platform in NO_EMOJI else EMOJI.get(tone, "")
    title = ""

    if platform == "instagram":
        invite = _pick(tpl["invite"]["instagram"], seed, 3, variant)
        head = f"{hook} {emoji}".strip()
        caption = "\n\n".join(p for p in (head, body, closer, f"{question} {invite}") if p)
    elif platform == "facebook":
        invite = _pick(tpl["invite"]["facebook"], seed, 3, variant)
        middle = " ".join(p for p in (body, closer) if p)
        caption = "\n\n".join(p for p in (hook, middle, f"{question} {invite}") if p)
    elif platform == "linkedin":
        insight = "" if tone == "minimal" else _pick(tpl["insights"][kind], seed, 1, variant)
        cta = _pick(tpl["cta"]["linkedin"], seed, 2, variant)
        caption = "\n\n".join(p for p in (hook, body, insight, cta) if p)
    elif platform == "pinterest":
        names = ([phrase[0]] if phrase else []) + (niche_names if language == "en" else [])
        keywords = _keywords(description, names, tpl, language)
        ideas = _fill(tpl["more_ideas"], keywords=keywords) if keywords else ""
        more = _whole_sentences(body, BODY_CHARS_PINTEREST - len(hook))
        cta = _pick(tpl["cta"]["pinterest"], seed, 3, variant)
        caption = " ".join(p for p in (hook, more, ideas, cta) if p)
        title = _title(description, phrase, written, get_spec(platform).title_limit)
        extra = [n for n in niche_names if n.lower() not in title.lower()][:2]
        if language == "en" and extra and len(title) < 50:
            title = f"{title} | {', '.join(extra)}"
    elif platform == "x":
        caption = " ".join(p for p in (hook, emoji, question) if p)
    elif platform == "tiktok":
        cta = _pick(tpl["cta"]["tiktok"], seed, 3, variant)
        caption = " ".join(p for p in (hook, emoji, cta) if p)
        title = _title(description, phrase, written, get_spec(platform).title_limit)
    elif platform == "threads":
        # conversational: the hook, then a question that asks for replies (one topic tag after)
        invite = _pick(tpl["invite"]["threads"], seed, 3, variant)
        head = f"{hook} {emoji}".strip()
        caption = "\n\n".join(p for p in (head, f"{question} {invite}") if p)
    elif platform == "bluesky":
        # 300 graphemes with the tags: short and plain, like X
        caption = " ".join(p for p in (hook, emoji, question) if p)
    elif platform == "mastodon":
        # descriptive, no hype and no emoji; the body is kept, boosts are the way to share
        boost = _pick(tpl["cta"]["mastodon"], seed, 3, variant)
        caption = "\n\n".join(p for p in (hook, body, f"{question} {boost}") if p)
    else:
        caption = "\n\n".join(p for p in (hook, body, question) if p)
    return caption, title


def compile_content(request: ContentRequest, *, variant: int = 0) -> dict[str, PlatformContent]:
    """Captions, hashtags, alt text and titles for every requested platform, fitted to each
    platform's limits. `variant` picks other phrasings (0 and 1 always differ). The alt text
    describes the whole photo here; the job replaces it with one per crop after rendering."""

    language = check_language(request.language)
    names = [NICHES[n.key].name for n in request.niches if n.key in NICHES]
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
            analysis=request.analysis,
        )
        candidates = list(request.hashtag_candidates.get(spec.key, ())) or suggest_hashtags(
            request.niches, request.analysis, request.description, spec
        )
        tags = finalize_hashtags(candidates, spec)
        alt = alt_text_for(
            request.analysis, request.description, language, limit=spec.alt_text_limit
        )
        content = PlatformContent(
            caption=caption, hashtags=tags, alt_text=alt, title=title, provider="offline"
        )
        out[spec.key] = fit_content(content, spec)
    return out
