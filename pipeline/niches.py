"""Niche taxonomy and matching: which topics a photo and its description are about.

The taxonomy and its hashtag knowledge base live in `pipeline/data/niches.json`. Matching is a
deterministic keyword score over the user's text, the analyser's keywords, colours, faces and
product-likeness, with AI-suggested niche keys as strong hints.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from pipeline.models import ImageAnalysis, Niche

FALLBACK_KEYS: tuple[str, ...] = ("lifestyle", "photography")
TIERS: tuple[str, ...] = ("broad", "mid", "specific")

# Weights of the evidence kinds.
W_TEXT = 3.0  # a keyword in the user's description
W_ANALYSIS = 1.5  # a keyword in the analyser's keywords / description
W_HINT = 6.0  # an AI-suggested niche key
W_PARENT = 0.3  # share of a child niche's score passed to its parents


@dataclass(frozen=True)
class NicheInfo:
    """One niche of the taxonomy with its keywords and hashtag tiers."""

    key: str
    name: str
    keywords: tuple[str, ...]
    parents: tuple[str, ...]
    tags: dict[str, tuple[str, ...]]  # tier -> CamelCase hashtags, best first

    def all_tags(self) -> list[str]:
        return [t for tier in TIERS for t in self.tags.get(tier, ())]


def _load_raw() -> dict:
    text = resources.files("pipeline.data").joinpath("niches.json").read_text("utf-8")
    return json.loads(text)


def _load() -> dict[str, NicheInfo]:
    raw = _load_raw()["niches"]
    out: dict[str, NicheInfo] = {}
    for key, item in raw.items():
        out[key] = NicheInfo(
            key=key,
            name=item["name"],
            keywords=tuple(fold(k) for k in item["keywords"]),
            parents=tuple(item.get("parents", ())),
            tags={tier: tuple(item["tags"].get(tier, ())) for tier in TIERS},
        )
    return out


def fold(text: str) -> str:
    """Lowercase and strip accents (é -> e), keeping Cyrillic letters."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).replace("ё", "е")


_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def tokens(text: str) -> list[str]:
    """Folded word tokens of a text."""
    return _WORD.findall(fold(text))


NICHES: dict[str, NicheInfo] = _load()


@lru_cache(maxsize=1)
def known_words() -> frozenset[str]:
    """Lowercase words used to split unknown hashtags into CamelCase."""
    words: set[str] = set(_load_raw().get("words", ()))
    for info in NICHES.values():
        for tag in info.all_tags():
            words.update(w.lower() for w in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", tag))
        for kw in info.keywords:
            words.update(w for w in kw.split() if w.isascii() and w.isalpha() and len(w) > 2)
    return frozenset(w for w in words if w)


def _count(keyword: str, folded_text: str, token_set: set[str]) -> int:
    """1 if the keyword (or its simple plural) occurs in the text, else 0."""
    if " " in keyword or "-" in keyword:
        return 1 if re.search(rf"(?<!\w){re.escape(keyword)}(?:s|es)?(?!\w)", folded_text) else 0
    if keyword in token_set:
        return 1
    return 1 if (keyword + "s") in token_set or (keyword + "es") in token_set else 0


@lru_cache(maxsize=1)
def _phrases() -> tuple[str, ...]:
    """Every multi-word keyword, longest first."""
    found = {kw for info in NICHES.values() for kw in info.keywords if " " in kw or "-" in kw}
    return tuple(sorted(found, key=lambda k: (-len(k), k)))


# the offline analyser's format words ("a landscape-format photo") say nothing about topic
_FORMAT_WORDS = re.compile(r"\b(?:landscape|portrait|square)[- ]format\b", re.IGNORECASE)


def _score_text(text: str, weight: float, scores: dict[str, float]) -> None:
    folded = " ".join(tokens(_FORMAT_WORDS.sub(" ", text)))
    if not folded:
        return
    # words inside a matched phrase ("latte art") do not also count alone ("art")
    residual = folded
    for phrase in _phrases():
        residual = re.sub(rf"(?<!\w){re.escape(phrase)}(?:s|es)?(?!\w)", " | ", residual)
    token_set = set(residual.split())
    for key, info in NICHES.items():
        hits = sum(_count(kw, folded, token_set) for kw in info.keywords)
        if hits:
            # diminishing returns: the first hit counts most
            scores[key] = scores.get(key, 0.0) + weight * (1 + 0.5 * (hits - 1))


def match_niches(text: str, analysis: ImageAnalysis | None, limit: int = 3) -> list[Niche]:
    """The best `limit` niches for a description and analysis, best first; never empty."""
    scores: dict[str, float] = {}
    _score_text(text or "", W_TEXT, scores)
    if analysis is not None:
        analysed = " ".join(analysis.keywords)
        if analysis.description and analysis.description not in (text or ""):
            analysed += " " + analysis.description
        _score_text(analysed, W_ANALYSIS, scores)
        for rank, key in enumerate(analysis.niches):
            key = key.strip().lower().replace(" ", "_").replace("-", "_")
            if key in NICHES:
                scores[key] = scores.get(key, 0.0) + W_HINT - 0.5 * min(rank, 4)
        if analysis.faces > 0:
            scores["portrait"] = scores.get("portrait", 0.0) + 1.0 + 0.5 * min(analysis.faces, 3)
        if analysis.is_product:
            scores["ecommerce"] = scores.get("ecommerce", 0.0) + 2.5
        greens = sum(c.share for c in analysis.colors if "green" in c.name.lower())
        if greens > 0.3:
            scores["nature"] = scores.get("nature", 0.0) + 1.0
    # parents inherit part of their children's evidence (coffee -> food)
    inherited: dict[str, float] = {}
    for key, value in scores.items():
        for parent in NICHES[key].parents:
            inherited[parent] = inherited.get(parent, 0.0) + W_PARENT * value
    for key, value in inherited.items():
        scores[key] = scores.get(key, 0.0) + value
    order = {key: i for i, key in enumerate(NICHES)}
    ranked = sorted(
        ((k, v) for k, v in scores.items() if v > 0), key=lambda kv: (-kv[1], order[kv[0]])
    )
    limit = max(1, limit)
    if not ranked:
        return [Niche(k, NICHES[k].name, 0.0) for k in FALLBACK_KEYS[:limit]]
    top = ranked[0][1]
    return [Niche(k, NICHES[k].name, round(v / top, 3)) for k, v in ranked[:limit]]


def niche_info(key: str) -> NicheInfo | None:
    """The taxonomy entry for a niche key, or None."""
    return NICHES.get(key)
