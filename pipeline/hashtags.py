"""Hashtags: suggestions about the photo, and the final per-platform list.

Suggestions lead with the subject tier: what the user's own words name (lemmatised, in their
language, accents kept: #Colibrí, #GraceHopper) and a confident recognition the words do not
already cover (#Ladybird). Then the matched niches' knowledge-base tags by tier (broad / mid /
specific), where tags that name a particular thing (#Sunset, #MarigoldFlowers) are used only
when the words or the recognition mention it. With no words and no recognition, the tags are
honest ones from measured cues (#BlackAndWhite, #ShadesOfGreen). The first `hashtag_max` tags
are a sensible post on their own; the rest are spares for merging with other sources.
`finalize_hashtags` normalises any tag list (CamelCase, no duplicates, no banned or spammy
tags, no URLs, at most MAX_TAG_CHARS, within the platform cap). The banned list is data:
`pipeline/data/banned_hashtags.json`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from pipeline import lexicon
from pipeline.lexicon import Token, Words, fold
from pipeline.models import ImageAnalysis, Niche
from pipeline.niches import (
    AMBIGUOUS_NOUNS,
    COLOUR_WORDS,
    FALLBACK_KEYS,
    NICHES,
    TIERS,
    ConceptFn,
    Phrase,
    chain_kind,
    cue_tags,
    default_concepts,
    is_english_noun_token,
    is_fallback,
    keyword_hits,
    known_words,
    matches_at,
    niches_for_concepts,
    phrase_keys,
    recognised_chain,
)
from pipeline.platforms import PlatformSpec

MAX_TAG_CHARS = 30  # longer tags are unreadable and rarely searched: dropped, never cut
_URLISH = re.compile(
    r"(?:https?:|www\.|://|\.(?:com|net|org|io|ru|de)\b"
    # a URL with its punctuation stripped: #Httpstwittercom..., #WwwInstagramCom
    r"|^(?:https?|www)(?:www)?[a-z]|(?:twitter|instagram|facebook|tiktok|youtube)com)",
    re.IGNORECASE,
)
_INVALID = re.compile(r"[^\w]", re.UNICODE)


@dataclass(frozen=True)
class BannedEntry:
    tag: str  # lowercase, no '#'
    level: str  # block | warn
    added: str  # date the entry was checked, e.g. "2026-11"
    reason: str
    sources: tuple[str, ...]


@lru_cache(maxsize=1)
def banned_entries() -> dict[str, BannedEntry]:
    """The dated banned/restricted list, keyed by lowercase tag."""
    text = resources.files("pipeline.data").joinpath("banned_hashtags.json").read_text("utf-8")
    out: dict[str, BannedEntry] = {}
    for group in json.loads(text)["groups"]:
        for tag in group["tags"]:
            key = _key(tag)
            if key and (key not in out or group["level"] == "block"):
                out[key] = BannedEntry(
                    key, group["level"], group["added"], group["reason"], tuple(group["sources"])
                )
    return out


def _key(tag: str) -> str:
    """The comparison key of a tag: folded, no '#', no invalid characters."""
    return _INVALID.sub("", fold(tag.strip().lstrip("#"))).replace("_", "")


_SPAM = re.compile(
    r"^(follow|like|likes|comment|sub|f|l|c)(4|for|to)(follow|like|likes|comment|sub|f|l|c)"
    r"(back|s)?$"
)


def is_banned(tag: str, extra: Iterable[str] = ()) -> bool:
    """True for a blocked (banned, restricted or spammy) tag; warn-only tags are allowed."""
    key = _key(tag)
    if not key:
        return False
    entry = banned_entries().get(key)
    if entry is not None and entry.level == "block":
        return True
    if _SPAM.match(key):
        return True
    return key in {_key(t) for t in extra}


def is_warned(tag: str) -> bool:
    """True for an ordinary word that was restricted for a time (kept, but worth a warning)."""
    entry = banned_entries().get(_key(tag))
    return entry is not None and entry.level == "warn"


@lru_cache(maxsize=1)
def _kb_forms() -> dict[str, str]:
    """Lowercase key -> CamelCase form for every knowledge-base tag."""
    forms: dict[str, str] = {}
    for info in NICHES.values():
        for tag in info.all_tags():
            forms.setdefault(_key(tag), tag.lstrip("#"))
    return forms


def known_tag(tag: str) -> bool:
    """True for a tag of the knowledge base (any case, with or without '#')."""
    return _key(tag) in _kb_forms()


def _split_words(word: str) -> list[str] | None:
    """Split a lowercase ASCII word into known words (fewest pieces), or None."""
    words = known_words()
    n = len(word)
    if n > 40:
        return None
    best: list[list[str] | None] = [None] * (n + 1)
    best[0] = []
    for end in range(1, n + 1):
        for start in range(max(0, end - 20), end):
            prev = best[start]
            piece = word[start:end]
            if prev is None or not (piece in words or piece.isdigit()):
                continue
            cand = prev + [piece]
            if best[end] is None or len(cand) < len(best[end]):
                best[end] = cand
    return best[n]


def camel_case(tag: str) -> str:
    """A readable form of a tag without '#': KB spelling, else split known words, else
    capitalise the first letter. Existing inner capitals are kept (#LatteArt stays)."""
    body = _INVALID.sub("", tag.strip().lstrip("#"))
    if not body:
        return ""
    known = _kb_forms().get(_key(body))
    if known is not None:
        return known
    if any(c.isupper() for c in body[1:]) or "_" in body:
        return body[0].upper() + body[1:]
    low = body.lower()
    if low.isascii() and low.isalnum():
        parts = _split_words(low)
        if parts and len(parts) > 1:
            return "".join(p.capitalize() for p in parts)
    return body[0].upper() + body[1:]


def normalize_tag(tag: str) -> str:
    """'#latte art!' -> '#LatteArt'; '' for tags with nothing usable, only digits, a URL
    fragment or more than MAX_TAG_CHARS characters. Letters keep their accents (#Colibrí)."""
    raw = tag.strip().lstrip("#")
    if _URLISH.search(raw):
        return ""
    # a phrase becomes one tag: capitalise each word before joining
    if " " in raw.strip():
        raw = "".join(w[:1].upper() + w[1:] for w in raw.split())
    body = camel_case(raw)
    if not body or body.replace("_", "").isdigit() or len(body) > MAX_TAG_CHARS:
        return ""
    return "#" + body


def finalize_hashtags(
    tags: Sequence[str], spec: PlatformSpec, *, banned_extra: Iterable[str] = ()
) -> list[str]:
    """Normalise, CamelCase, de-duplicate (case-insensitively), drop banned/spammy tags and
    cap at `spec.hashtag_max`, keeping the given order."""
    extra = tuple(banned_extra)
    out: list[str] = []
    seen: set[str] = set()
    if spec.hashtag_max <= 0:
        return out
    for tag in tags:
        norm = normalize_tag(str(tag))
        if not norm:
            continue
        key = _key(norm)
        if key in seen or is_banned(norm, extra):
            continue
        seen.add(key)
        out.append(norm)
        if len(out) >= spec.hashtag_max:
            break
    return out


def tier_plan(cap: int) -> list[str]:
    """The tier of each position for a cap: e.g. 5 -> broad, mid, specific, mid, specific."""
    if cap <= 0:
        return []
    if cap == 1:
        return ["mid"]
    if cap == 2:
        return ["mid", "specific"]
    n_broad = 1 if cap <= 6 else 2
    n_mid = 2 if cap <= 6 else max(2, round((cap - n_broad) * 0.4))
    n_spec = cap - n_broad - n_mid
    plan = ["broad", "mid", "specific"]
    counts = {"broad": n_broad - 1, "mid": n_mid - 1, "specific": n_spec - 1}
    # then alternate, specific first, until every tier has its share
    while any(v > 0 for v in counts.values()):
        for tier in ("specific", "mid", "broad"):
            if counts[tier] > 0:
                plan.append(tier)
                counts[tier] -= 1
    return plan[:cap]


# ---------------------------------------------------------------- the subject tier


@lru_cache(maxsize=16)
def _endings(kind: str, language: str) -> re.Pattern[str] | None:
    """Lemma endings of verbs or adjectives (no POS tagger for these languages here)."""
    pattern = lexicon.lexicon_data()[kind].get(language)
    return re.compile(pattern) if pattern else None


@dataclass(frozen=True)
class Subject:
    """A word or name the photo is about, as a person would write it."""

    text: str  # display form, accents kept ("colibrí", "Grace Hopper", "Kleiber")
    key: str  # folded comparison key
    niches: tuple[str, ...]  # niches this word points to
    source: str  # "words" | "recognition"


def _is_noun(token: Token, language: str, concepts: ConceptFn, known: bool = False) -> bool:
    """Whether a single token can name what the photo shows; `known`: it is a keyword of
    the taxonomy ("mariposa"), so only unambiguous verb and adjective endings rule it out."""
    if token.stop or token.figurative or token.in_compound or len(token.key) < 3:
        return False
    generic = lexicon.word_set("generic_words", "all")
    if token.key in generic or token.surface in generic:
        return False
    if token.key in COLOUR_WORDS or token.key in lexicon.word_set("colour_words", language):
        return False
    if language == "en":
        chain = concepts(token.key) if is_english_noun_token(token) else ()
        # people words ("friend", "grandmother") are not what a tag should name
        return bool(chain) and token.key not in AMBIGUOUS_NOUNS and chain_kind(chain) != "person"
    if language == "de":
        return token.lemma[:1].isupper()
    adjective = "adjective_endings_strict" if known else "adjective_endings"
    lemma = token.lemma.lower()
    for kind in ("verb_endings", adjective):
        pattern = _endings(kind, language)
        if pattern is not None and pattern.search(lemma):
            return False
    if language in ("es", "pt", "fr") and token.key != token.surface:
        # a lemma that is not the singular is a verb or adjective form ("vista" -> "visto")
        return token.surface.rstrip("sx") == token.key or token.surface[:-2] == token.key
    return True


def _display(token: Token, language: str, *, in_phrase: bool = False) -> str:
    """How a subject word is written in a tag: its lemma (German nouns keep their capital);
    inside a phrase of an inflected language, as typed ("божья коровка", not "божий")."""
    if language == "de":
        return token.lemma
    if in_phrase and language != "en":
        return token.text.lower()
    return token.lemma.lower()


def _camel(text: str) -> str:
    """Words joined with each first letter upper-cased, the rest as typed (accents kept)."""
    return "".join(w[:1].upper() + w[1:] for w in re.split(r"[\s\-']+", text) if w)


def subjects(
    description: str,
    analysis: ImageAnalysis | None = None,
    *,
    language: str | None = None,
    fallback_language: str = "en",
    concepts: ConceptFn | None = None,
) -> list[Subject]:
    """What the photo is about, best first: names and nouns from the user's words (in their
    language), then a confident recognition the words do not already cover."""
    concepts = concepts or default_concepts()
    out: list[Subject] = []
    seen: set[str] = set()

    def add(subject: Subject) -> None:
        if subject.key and subject.key not in seen:
            seen.add(subject.key)
            out.append(subject)

    concept_niche = _concept_keys()
    if description and description.strip():
        words = lexicon.read_text(description, language, fallback_language)
        lang, toks = words.language, words.tokens
        used: set[int] = set()
        found: list[tuple[int, int, Subject]] = []  # (rank, position, subject)
        for start, n in lexicon.name_spans(words):
            text = " ".join(t.text for t in toks[start : start + n])
            found.append((0, start, Subject(text, fold(_camel(text)), (), "words")))
            used.update(range(start, start + n))
        hits = keyword_hits(words)
        niches_at: dict[int, list[str]] = {}
        for start, n, niche in hits:
            niches_at.setdefault(start, []).append(niche)
            span = toks[start : start + n]
            if n > 1 and not used & set(range(start, start + n)):
                # a phrase with a stop word ("pôr do sol") is no tag, unless it is one
                # hyphenated word ("dente-de-leão"); its words are no tags either
                if all(t.in_compound for t in span) or not any(t.stop for t in span):
                    text = " ".join(_display(t, lang, in_phrase=True) for t in span)
                    found.append((1, start, Subject(text, fold(_camel(text)), (niche,), "words")))
                used.update(range(start, start + n))
        for i, token in enumerate(toks):
            if i in used or not _is_noun(token, lang, concepts, known=i in niches_at):
                continue
            chain = concepts(token.key) if lang == "en" else ()
            if token.key in concept_niche:
                continue  # "bird", "flower": the niche's own tags say it better
            pointed = tuple(niches_at.get(i, ())) or niches_for_concepts(chain)
            text = _display(token, lang)
            found.append((1 if pointed else 2, i, Subject(text, token.key, pointed, "words")))
        # names first, then things the taxonomy knows, then the others; in the user's order
        found.sort(key=lambda item: item[:2])
        for _, _, subject in found:
            add(subject)
    chain = recognised_chain(analysis)
    if chain and analysis is not None:
        subject = analysis.subject.strip()
        rec_niches = niches_for_concepts(chain)
        covered = any(set(s.niches) & set(rec_niches) for s in out)
        if subject.lower() not in concept_niche and not covered:
            add(Subject(subject, fold(_camel(subject)), rec_niches, "recognition"))
    return out


@lru_cache(maxsize=1)
def _concept_keys() -> frozenset[str]:
    return frozenset(c for info in NICHES.values() for c in info.concepts)


# a better form only adds a plural or the plain kind: marigold -> #MarigoldFlowers, never a
# claim ("ring" is not #StackingRings, "garden" is not #GardenBirds)
_PLAIN_SUFFIXES = ("", "s", "es", "flowers")


@lru_cache(maxsize=1)
def _better_forms() -> dict[str, str]:
    """Folded single trigger word -> a knowledge-base tag that contains it (#MarigoldFlowers
    for "marigold"), first in taxonomy order."""
    out: dict[str, str] = {}
    for info in NICHES.values():
        for tag, triggers in info.when.items():
            key = _key(tag)
            for trigger in triggers:
                folded = fold(trigger)
                plain = key.startswith(folded) and key[len(folded) :] in _PLAIN_SUFFIXES
                if plain and " " not in folded:
                    out.setdefault(folded, tag)
    return out


def subject_tag(subject: Subject) -> str:
    """The hashtag for a subject: the knowledge base's better form when it has one
    (#MarigoldFlowers for "marigold"), else the word itself in CamelCase."""
    better = _better_forms().get(subject.key)
    if better:
        return better
    # the user's words as they wrote them, joined: no splitting into "known" words
    body = _INVALID.sub("", _camel(subject.text))
    if not body or body.isdigit() or len(body) > MAX_TAG_CHARS:
        return ""
    return "#" + body


# ---------------------------------------------------------------- suggestions


@lru_cache(maxsize=1)
def _when_table() -> dict[str, list[tuple[str, tuple[Phrase, ...]]]]:
    """Niche -> [(tag, trigger phrases as comparison keys)]."""
    return {
        key: [
            (tag, tuple(phrase_keys(t, "en", lemmatize=False) for t in triggers))
            for tag, triggers in info.when.items()
        ]
        for key, info in NICHES.items()
    }


def _triggered(found: Sequence[Niche], words: Words | None, chain: Sequence[str]) -> list[str]:
    """`when` tags of the found niches whose trigger words are in the text or recognition."""
    toks = words.tokens if words is not None else ()
    starts = [i for i, t in enumerate(toks) if not t.figurative]
    chain_keys = {fold(c) for c in chain}
    table = _when_table()
    out: list[str] = []
    for niche in found:
        for tag, phrases in table.get(niche.key, ()):
            for phrase in phrases:
                if (len(phrase) == 1 and phrase[0] & chain_keys) or any(
                    matches_at(toks, i, phrase) for i in starts
                ):
                    out.append(tag)
                    break
    return out


def cue_hashtags(analysis: ImageAnalysis | None) -> list[str]:
    """Honest tags from what was measured: black-and-white, colour family, light."""
    if analysis is None:
        return []
    cues = cue_tags()
    out: list[str] = []
    if analysis.monochrome:
        out += cues.get("monochrome", [])
    else:
        families = cues.get("family", {})
        for color in analysis.colors[:2]:
            # the hue family, else the last word of the name ("dark green" -> green)
            family = color.family or (color.name.split() or [""])[-1]
            if color.share >= 0.2 and family in families:
                out += families[family]
        if any(k == "colorful" for k in analysis.keywords):
            out += cues.get("colorful", [])
    if analysis.brightness < 0.3:
        out += cues.get("dark", [])
    elif analysis.brightness > 0.7:
        out += cues.get("bright", [])
    return list(dict.fromkeys(out))


def _pools(
    niches: Sequence[Niche], triggered: Sequence[str], analysis: ImageAnalysis | None
) -> dict[str, list[str]]:
    """Tags per tier, niches interleaved best first; tags the text or recognition triggered
    lead the specific tier. With no evidence at all: honest cue tags and photo tags."""
    infos = [NICHES[n.key] for n in niches if n.key in NICHES]
    if not infos:
        infos = [NICHES[k] for k in FALLBACK_KEYS]
    pools: dict[str, list[str]] = {}
    for tier in TIERS:
        lists = [list(info.tags.get(tier, ())) for info in infos]
        merged: list[str] = []
        # round robin, best niche first, so the second niche gets a place in a short list
        while any(lists):
            for lst in lists:
                if lst:
                    merged.append(lst.pop(0))
        pools[tier] = merged
    cues = cue_hashtags(analysis)
    if is_fallback(niches):
        pools["specific"] = cues + pools["specific"]
    elif analysis is not None and analysis.monochrome:
        pools["specific"] = cues[:1] + pools["specific"]
    pools["specific"] = list(triggered) + pools["specific"]
    return pools


def suggest_hashtags(
    niches: Sequence[Niche],
    analysis: ImageAnalysis | None,
    description: str,
    spec: PlatformSpec,
    *,
    language: str | None = None,
    concepts: ConceptFn | None = None,
) -> list[str]:
    """Hashtags for a platform, best first. The subject tier leads (the user's subject words,
    a confident recognition: #Nuthatch), then the niches' tags by the tier plan; more follow
    as spares. Warn-only and banned tags are never suggested. `language` is the caption
    language, used when the description is too short to tell its own."""
    fallback = language or "en"
    found_subjects = subjects(description, analysis, fallback_language=fallback, concepts=concepts)
    words = (
        lexicon.read_text(description, None, fallback)
        if description and description.strip()
        else None
    )
    pools = _pools(niches, _triggered(niches, words, recognised_chain(analysis)), analysis)
    cap = spec.hashtag_max
    want = max(cap * 3, 10)
    out: list[str] = []
    seen: set[str] = set()

    def fits(key: str) -> bool:
        # "...OfInstagram" tags belong on Instagram only
        return spec.key == "instagram" or "instagram" not in key

    def accept(tag: str) -> bool:
        key = _key(tag)
        if not tag or key in seen or is_banned(tag) or is_warned(tag) or not fits(key):
            return False
        seen.add(key)
        out.append(tag)
        return True

    def take(tier: str) -> bool:
        while pools[tier]:
            if accept(pools[tier].pop(0)):
                return True
        return False

    subject_slots = max(1, min(3, cap // 2)) if cap > 0 else 0
    for subject in found_subjects:
        if len(out) >= subject_slots:
            break
        accept(subject_tag(subject))
    plan = tier_plan(cap)
    for _ in range(len(out)):  # subject tags take the specific places first
        if "specific" in plan:
            plan.remove("specific")
        elif plan:
            plan.pop()
    for tier in plan:
        if not take(tier):
            # tier exhausted: borrow from the neighbouring tiers
            for other in ("specific", "mid", "broad"):
                if take(other):
                    break
    # spares: other subjects, then alternate tiers so merging sources still get a mix
    for subject in found_subjects:
        accept(subject_tag(subject))
    while len(out) < want and any(pools.values()):
        for tier in ("specific", "mid", "broad"):
            take(tier)
    return out[:want]
