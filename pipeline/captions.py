"""Offline caption compiler: per-platform voice, length and call to action.

Phrases per language live in `pipeline/data/captions.json` (en, es, pt, de, fr, ru), chosen by
what the photo is (`analysis.kind`), the tone and the platform; they claim nothing the photo or
the user did not say. The hook is a whole sentence: the description's first sentence, or one
written from the recognised subject or the colours. Output is deterministic: any variety comes
from a hash of the inputs plus the `variant` number (versions 0 and 1 always differ). Alt text
is written by `pipeline.alt_text`.
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

from pipeline import rules
from pipeline.colors import color_word, spoken_colors
from pipeline.errors import OptionsError
from pipeline.hashtags import finalize_hashtags, suggest_hashtags
from pipeline.lexicon import lemma
from pipeline.models import TONES, ImageAnalysis, PlatformContent
from pipeline.niches import NICHES, fold
from pipeline.platforms import PlatformSpec, get_spec

if TYPE_CHECKING:  # runtime import would be circular (providers/__init__ imports offline)
    from pipeline.providers.base import ContentRequest

ELLIPSIS = "…"
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

KINDS: tuple[str, ...] = ("product", "food", "person", "place", "animal", "plant", "thing")
HOOK_CHARS = 125  # a description's first sentence is the hook when it is at most this long
BODY_CHARS_PINTEREST = 280  # whole description sentences kept in a pin's description
# kinds named by their kind noun when nothing more specific is known ("In the frame: a plant.")
NAMED_KINDS = ("person", "animal", "plant")
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"'»”)]*\s+")


@lru_cache(maxsize=1)
def lexicon() -> dict[str, dict[str, list[str]]]:
    """Common subjects (English nouns) in the other languages: [bare noun, noun phrase]."""
    text = resources.files("pipeline.data").joinpath("captions.json").read_text("utf-8")
    return json.loads(text)["lexicon"]


def kind_of(analysis: ImageAnalysis | None) -> str:
    """What the photo is (`analysis.kind`), or "unknown"."""
    kind = (analysis.kind if analysis else "") or ""
    return kind if kind in KINDS else "unknown"


def _pick(options: list[str], seed: int, slot: int, variant: int) -> str:
    """One option per slot. Consecutive variants differ in every slot with 2+ options."""
    if not options:
        return ""
    return options[(seed + 3 * slot + variant + (variant // 2) * slot) % len(options)]


def _seed(*parts: str) -> int:
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big")


def _clean(text: str) -> str:
    return re.sub(r"\s+", " ", (text or "").strip())


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _sentence(text: str) -> str:
    """The text as a sentence: capital first letter, closing punctuation."""
    text = _clean(text)
    if not text:
        return ""
    text = _capital(text)
    return text if text[-1] in ".!?…" else text + "."


def sentences(text: str) -> list[str]:
    """Whole sentences of a text (split after . ! ? … followed by a space, and at line
    breaks: a line typed without a full stop is a sentence of its own)."""
    lines = (text or "").splitlines()
    return [s for line in lines for s in _SENTENCE_END.split(_clean(line)) if s]


def split_description(description: str, limit: int = HOOK_CHARS) -> tuple[str, str]:
    """(hook, rest): the first sentence when it is at most `limit` characters, and the rest.

    When the first sentence is longer, the hook is "" and the whole description is the rest,
    so the caller writes a hook of its own and the description still appears once, uncut."""
    parts = sentences(description)
    if not parts:
        return "", ""
    first = _sentence(parts[0])
    if len(first) > limit:
        return "", " ".join(_sentence(p) for p in parts)
    return first, " ".join(_sentence(p) for p in parts[1:])


def _article(noun: str) -> str:
    return ("an " if noun[:1].lower() in "aeiou" else "a ") + noun


def subject_phrase(analysis: ImageAnalysis | None, language: str) -> tuple[str, str] | None:
    """(bare noun, noun phrase) naming the subject in `language`, or None when unknown.

    Named only from the recognised/described subject (`analysis.subject` and its concepts),
    falling back to the broader concepts the lexicon knows, then to the kind noun for people,
    animals and plants. Never guessed."""
    if analysis is None:
        return None
    subject = (analysis.subject or "").strip().lower()
    if subject:
        if language == "en":
            return subject, _article(subject)
        words = lexicon()
        for concept in (subject, *analysis.subject_concepts):
            entry = words.get(concept.strip().lower(), {}).get(language)
            if entry:
                return entry[0], entry[1]
    kind = kind_of(analysis)
    if kind in NAMED_KINDS:
        bare, phrase = templates()[language]["kinds"][kind]
        return bare, phrase
    return None


def join_words(words: list[str], language: str) -> str:
    """'a', 'a and b', 'a, b and c' in the language."""
    word = templates()[language]["and"]
    if len(words) < 2:
        return "".join(words)
    last = words[-1]
    if language == "es" and re.match(r"h?i(?![aeou])", last.lower()):
        word = "e"  # "verde e índigo"
    return ", ".join(words[:-1]) + f" {word} {last}"


def colour_words(analysis: ImageAnalysis | None, language: str, limit: int = 2) -> list[str]:
    """The photo's main colours named in `language`, each hue family once ("green", not
    "dark olive and moss green"), then small vivid accents."""
    if analysis is None:
        return []
    main, accents = spoken_colors(analysis.colors)
    out: list[str] = []
    for colour in main + accents:
        word = color_word(colour, language)
        if language == "de" and " " not in word:
            word = _capital(word)  # a colour named on its own is a noun: "Grün und Blau"
        if word and word not in out:
            out.append(word)
        if len(out) >= limit:
            break
    return out


def _fill(template: str, **values: str) -> str:
    for key, value in values.items():
        template = template.replace("{" + key + "}", value)
        template = template.replace("{" + key.upper() + "}", _capital(value))
        template = template.replace("{" + _capital(key) + "}", _capital(value))
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
            return _capital(text)
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
    emoji = EMOJI.get(tone, "")
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
    else:
        caption = "\n\n".join(p for p in (hook, body, question) if p)
    return caption, title


def compile_content(request: ContentRequest, *, variant: int = 0) -> dict[str, PlatformContent]:
    """Captions, hashtags, alt text and titles for every requested platform, fitted to each
    platform's limits. `variant` picks other phrasings (0 and 1 always differ). The alt text
    describes the whole photo here; the job replaces it with one per crop after rendering."""
    from pipeline.alt_text import alt_text_for  # alt_text imports this module's phrases

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
