"""Hashtags: suggestions from the niche knowledge base, and the final per-platform list.

Suggestions mix tiers (broad / mid / specific) so the first `hashtag_max` tags of the list
are a sensible post on their own; the rest are spares for merging with other sources.
`finalize_hashtags` normalises any tag list (CamelCase, no duplicates, no banned or spammy
tags, within the platform cap). The banned list is data: `pipeline/data/banned_hashtags.json`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from pipeline.models import ImageAnalysis, Niche
from pipeline.niches import NICHES, TIERS, fold, known_words, tokens
from pipeline.platforms import PlatformSpec

MAX_TAG_CHARS = 60
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


def hashtag_warnings(tags: Iterable[str]) -> list[str]:
    """Sentences about warn-only tags in a list."""
    out = []
    for tag in tags:
        entry = banned_entries().get(_key(tag))
        if entry is not None and entry.level == "warn":
            out.append(f"{tag} was restricted on Instagram for a time ({entry.sources[0]}).")
    return out


@lru_cache(maxsize=1)
def _kb_forms() -> dict[str, str]:
    """Lowercase key -> CamelCase form for every knowledge-base tag."""
    forms: dict[str, str] = {}
    for info in NICHES.values():
        for tag in info.all_tags():
            forms.setdefault(_key(tag), tag.lstrip("#"))
    return forms


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
    """'#latte art!' -> '#LatteArt'; '' for tags with nothing usable or only digits."""
    raw = tag.strip().lstrip("#")
    # a phrase becomes one tag: capitalise each word before joining
    if " " in raw.strip():
        raw = "".join(w[:1].upper() + w[1:] for w in raw.split())
    body = camel_case(raw)[:MAX_TAG_CHARS]
    if not body or body.replace("_", "").isdigit():
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


def _pools(niches: Sequence[Niche], text: str) -> dict[str, list[str]]:
    """Tags per tier, niches interleaved best first; multi-word tags whose words all appear in
    the text (#LatteArt for "latte art") move to the front of their tier."""
    infos = [NICHES[n.key] for n in niches if n.key in NICHES]
    if not infos:
        infos = [NICHES[k] for k in ("lifestyle", "photography")]
    words = set(tokens(text))
    pools: dict[str, list[str]] = {}
    for tier in TIERS:
        lists = [list(info.tags.get(tier, ())) for info in infos]
        merged: list[str] = []
        # round robin, best niche first, so the second niche gets a place in a short list
        while any(lists):
            for lst in lists:
                if lst:
                    merged.append(lst.pop(0))
            boosted = [t for t in merged if _mentioned(t, words)]
        pools[tier] = boosted + [t for t in merged if t not in boosted]
    return pools


def _mentioned(tag: str, words: set[str]) -> bool:
    """True when every word of a CamelCase tag appears in the text."""
    parts = [p.lower() for p in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+", tag)]
    return len(parts) > 1 and all(p in words for p in parts)


def suggest_hashtags(
    niches: Sequence[Niche],
    analysis: ImageAnalysis | None,
    description: str,
    spec: PlatformSpec,
) -> list[str]:
    """Knowledge-base hashtags for a platform, best first: the first `hashtag_max` follow the
    tier plan; more follow as spares. Warn-only and banned tags are never suggested."""
    text = description + " " + " ".join(analysis.keywords if analysis else [])
    pools = _pools(niches, text)
    cap = spec.hashtag_max
    want = max(cap * 3, 10)
    out: list[str] = []
    seen: set[str] = set()

    def fits(key: str) -> bool:
        # "...OfInstagram" tags belong on Instagram only
        return spec.key == "instagram" or "instagram" not in key

    def take(tier: str) -> bool:
        while pools[tier]:
            tag = pools[tier].pop(0)
            key = _key(tag)
            if key not in seen and not is_banned(tag) and not is_warned(tag) and fits(key):
                seen.add(key)
                out.append(tag)
                return True
        return False

    for tier in tier_plan(cap):
        if not take(tier):
            # tier exhausted: borrow from the neighbouring tiers
            for other in ("specific", "mid", "broad"):
                if take(other):
                    break
    # spares: alternate tiers so merging sources still get a mix
    while len(out) < want and any(pools.values()):
        for tier in ("specific", "mid", "broad"):
            take(tier)
    return out[:want]
