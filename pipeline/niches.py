"""Niche taxonomy and matching: which topics a photo and its description are about.

The taxonomy and its hashtag knowledge base live in `pipeline/data/niches.json`. Evidence:
- the user's words, matched as whole lemmas (or lemma sequences) against each niche's keywords
  in the text's language, never as substrings ("sea" is not "beach", "looks" is not fashion);
- English nouns of the description and a confident recognition, through the WordNet concepts
  of `pipeline.concepts` ("nuthatch" -> bird -> the birds niche);
- the analyser's structured cues (faces, the product verdict) and AI-suggested niche keys.
The analyser's own generated sentences are never evidence.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

from pipeline import lexicon
from pipeline.lexicon import Token, Words, fold
from pipeline.models import ImageAnalysis, Niche

log = logging.getLogger(__name__)

FALLBACK_KEYS: tuple[str, ...] = ("photography",)
TIERS: tuple[str, ...] = ("broad", "mid", "specific")

# Weights of the evidence kinds.
W_TEXT = 3.0  # a keyword in the user's description
W_CONCEPT = 2.5  # a description noun whose WordNet concepts lead to the niche
W_RECOGNITION = 3.0  # the confidently recognised subject's concepts
W_ANALYSIS = 1.5  # an AI provider's keywords (never the offline analyser's sentences)
W_HINT = 6.0  # an AI-suggested niche key
W_PARENT = 0.3  # share of a child niche's score passed to its parents

ConceptFn = Callable[[str], tuple[str, ...]]


@dataclass(frozen=True)
class NicheInfo:
    """One niche of the taxonomy with its keywords and hashtag tiers."""

    key: str
    name: str
    keywords: tuple[str, ...]  # every language's keywords, folded (for quick membership)
    parents: tuple[str, ...]
    tags: dict[str, tuple[str, ...]]  # tier -> CamelCase hashtags, best first
    concepts: tuple[str, ...] = ()  # WordNet concepts that put a photo here
    when: dict[str, tuple[str, ...]] = field(default_factory=dict)  # tag -> trigger words
    lexemes: dict[str, tuple[str, ...]] = field(default_factory=dict)  # language -> as written

    def all_tags(self) -> list[str]:
        return [t for tier in TIERS for t in self.tags.get(tier, ())] + list(self.when)


def _load_raw() -> dict:
    text = resources.files("pipeline.data").joinpath("niches.json").read_text("utf-8")
    return json.loads(text)


def _load() -> dict[str, NicheInfo]:
    out: dict[str, NicheInfo] = {}
    for key, item in _load_raw()["niches"].items():
        out[key] = NicheInfo(
            key=key,
            name=item["name"],
            keywords=tuple(
                dict.fromkeys(fold(w) for words in item["keywords"].values() for w in words)
            ),
            lexemes={lang: tuple(words) for lang, words in item["keywords"].items()},
            parents=tuple(item.get("parents", ())),
            tags={tier: tuple(item["tags"].get(tier, ())) for tier in TIERS},
            concepts=tuple(item.get("concepts", ())),
            when={tag: tuple(words) for tag, words in item.get("when", {}).items()},
        )
    return out


_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def tokens(text: str) -> list[str]:
    """Folded word tokens of a text."""
    return _WORD.findall(fold(text))


NICHES: dict[str, NicheInfo] = _load()


@lru_cache(maxsize=1)
def cue_tags() -> dict:
    """Honest tags from measured cues (monochrome, light, colour families)."""
    return dict(_load_raw().get("cues", {}))


@lru_cache(maxsize=1)
def known_words() -> frozenset[str]:
    """Lowercase words used to split unknown hashtags into CamelCase."""
    words: set[str] = set(_load_raw().get("words", ()))
    for info in NICHES.values():
        for tag in info.all_tags():
            words.update(w.lower() for w in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", tag))
        for kw in info.lexemes.get("en", ()):
            words.update(w for w in kw.split() if w.isascii() and w.isalpha() and len(w) > 2)
    return frozenset(w for w in words if w)


# ---------------------------------------------------------------- phrase matching


Phrase = tuple[frozenset[str], ...]  # comparison keys per word


def phrase_keys(text: str, language: str, *, lemmatize: bool = True) -> Phrase:
    """The comparison keys of a keyword or trigger, word by word ("latte art"): the folded
    word, and its folded lemma when `lemmatize` (needs that language's dictionary)."""
    out = []
    for word, _, _ in lexicon.split_words(text):
        keys = {fold(word)}
        if lemmatize:
            keys.add(fold(lexicon.lemma(word, language)))
        out.append(frozenset(keys))
    return tuple(out)


@lru_cache(maxsize=16)
def _keyword_index(language: str, lemmatize: bool = True) -> dict[str, list[tuple[Phrase, str]]]:
    """First-word key -> [(phrase, niche key)] for one language's keywords."""
    index: dict[str, list[tuple[Phrase, str]]] = {}
    for key, info in NICHES.items():
        for kw in info.lexemes.get(language, ()):
            phrase = phrase_keys(kw, language, lemmatize=lemmatize)
            if not phrase:
                continue
            for first in phrase[0]:
                index.setdefault(first, []).append((phrase, key))
    return index


def matches_at(tokens: Sequence[Token], i: int, phrase: Phrase) -> bool:
    if i + len(phrase) > len(tokens):
        return False
    return all(tokens[i + j].keys & keys for j, keys in enumerate(phrase))


def keyword_hits(words: Words) -> list[tuple[int, int, str]]:
    """(start, length, niche) for every keyword found; in a longer phrase, its words do not
    also count alone ("latte art" is coffee, not art). Figurative uses never count. In other
    languages, a word the language does not know may be an English loanword ("latte art")."""
    lang = words.language
    own = _keyword_index(lang)
    english = _keyword_index("en", lemmatize=False) if lang != "en" else {}
    toks = words.tokens
    out: list[tuple[int, int, str]] = []
    i = 0
    while i < len(toks):
        if toks[i].figurative:
            i += 1
            continue
        found = _found_at(toks, i, own)
        if not found and english and not lexicon.is_known(toks[i].text, lang):
            found = _found_at(toks, i, english)
        if not found:
            i += 1
            continue
        longest = max(n for n, _ in found)
        for niche in dict.fromkeys(k for n, k in found if n == longest):
            out.append((i, longest, niche))
        i += longest
    return out


def _found_at(
    toks: Sequence[Token], i: int, index: dict[str, list[tuple[Phrase, str]]]
) -> list[tuple[int, str]]:
    found = []
    for key in toks[i].keys:
        for phrase, niche in index.get(key, ()):
            if len(phrase) == 1 and toks[i].stop:
                continue  # a stop word alone is never a topic ("una" is not "uña")
            if matches_at(toks, i, phrase):
                found.append((len(phrase), niche))
    return found


# ---------------------------------------------------------------- concepts


def default_concepts() -> ConceptFn:
    """`pipeline.concepts.noun_concepts`, or a function that knows nothing."""
    try:
        from pipeline.concepts import noun_concepts
    except ImportError:  # pragma: no cover - the module ships with the package
        return lambda _lemma: ()
    return noun_concepts


@lru_cache(maxsize=1)
def _concept_niches() -> dict[str, tuple[str, ...]]:
    out: dict[str, list[str]] = {}
    for key, info in NICHES.items():
        for concept in info.concepts:
            out.setdefault(concept, []).append(key)
    return {c: tuple(keys) for c, keys in out.items()}


def niches_for_concepts(chain: Iterable[str]) -> tuple[str, ...]:
    """The niches of the most specific concept in a chain that has any ("nuthatch, bird,
    animal" -> birds); () when none does."""
    table = _concept_niches()
    for concept in chain:
        keys = table.get(concept)
        if keys:
            return keys
    return ()


# English words that are colours before they are things ("an orange star").
COLOUR_WORDS: frozenset[str] = lexicon.word_set("colour_words", "en")

# A description word picks a niche through its concepts only for living things and food
# (species names: "nuthatch", "marigold"); other English nouns are too often another word
# ("launch" is a boat, "vintage" a wine) and the niches' own keywords cover them.
WORD_CONCEPT_KINDS: frozenset[str] = frozenset({"animal", "plant", "food"})
# nouns of the concept table that are usually something else in a description
AMBIGUOUS_NOUNS: frozenset[str] = lexicon.word_set("ambiguous_nouns", "en")


def chain_kind(chain: Iterable[str]) -> str:
    """The kind (animal, plant, food, place, person, thing) of a concept chain, or ""."""
    try:
        from pipeline.concepts import concept_kind
    except ImportError:  # pragma: no cover - the module ships with the package
        return ""
    for concept in chain:
        kind = concept_kind(concept)
        if kind:
            return kind
    return ""


def is_english_noun_token(token: Token) -> bool:
    """A plausible noun use: not a stop word, colour, participle ("spotted", "climbing")."""
    if token.stop or token.figurative or token.key in COLOUR_WORDS or len(token.key) < 3:
        return False
    surface = token.surface
    return not ((surface.endswith("ed") or surface.endswith("ing")) and surface != token.key)


def recognised_chain(analysis: ImageAnalysis | None) -> tuple[str, ...]:
    """The confident recognition's subject and concepts; () when it abstained or none ran."""
    if analysis is None or not analysis.subject:
        return ()
    chain = list(analysis.subject_concepts)
    if not chain and analysis.recognition is not None:
        chain = list(analysis.recognition.concepts)
    if analysis.subject not in chain:
        chain.insert(0, analysis.subject)
    return tuple(chain)


# ---------------------------------------------------------------- matching


@dataclass
class Evidence:
    """What matched, per niche: counted hits and the words that hit."""

    scores: dict[str, float] = field(default_factory=dict)
    hits: dict[str, int] = field(default_factory=dict)

    def add(self, niche: str, weight: float) -> None:
        n = self.hits.get(niche, 0)
        # diminishing returns: the first hit counts most
        self.scores[niche] = self.scores.get(niche, 0.0) + weight * (1.0 if n == 0 else 0.5)
        self.hits[niche] = n + 1


def _score_words(words: Words, weight: float, evidence: Evidence, concepts: ConceptFn) -> None:
    hits = keyword_hits(words)
    covered = {i + j for i, n, _ in hits for j in range(n)}
    for _, _, niche in hits:
        evidence.add(niche, weight)
    if words.language != "en":
        return
    names = {i + j for i, n in lexicon.name_spans(words) for j in range(n)}
    for i, token in enumerate(words.tokens):
        # "Hopper" in "Grace Hopper" is no insect
        if i in covered or i in names or not is_english_noun_token(token):
            continue
        chain = concepts(token.key)
        if chain_kind(chain) in WORD_CONCEPT_KINDS and token.key not in AMBIGUOUS_NOUNS:
            for niche in niches_for_concepts(chain):
                evidence.add(niche, W_CONCEPT * weight / W_TEXT)


def match_niches(
    text: str,
    analysis: ImageAnalysis | None,
    limit: int = 3,
    *,
    language: str | None = None,
    fallback_language: str = "en",
    concepts: ConceptFn | None = None,
) -> list[Niche]:
    """The best `limit` niches for the user's text and the analysis's structured cues, best
    first; never empty. `text` must be the user's own words, not the analyser's sentences;
    `language=None` detects it (falling back to `fallback_language` for short texts)."""
    concepts = concepts or default_concepts()
    evidence = Evidence()
    if text and text.strip():
        words = lexicon.read_text(text, language, fallback_language)
        _score_words(words, W_TEXT, evidence, concepts)
    if analysis is not None:
        if analysis.provider != "offline" and analysis.keywords:
            ai_words = lexicon.read_text(" , ".join(analysis.keywords), None, fallback_language)
            _score_words(ai_words, W_ANALYSIS, evidence, concepts)
        for niche in niches_for_concepts(recognised_chain(analysis)):
            evidence.add(niche, W_RECOGNITION)
        for rank, key in enumerate(analysis.niches):
            key = key.strip().lower().replace(" ", "_").replace("-", "_")
            if key in NICHES:
                evidence.scores[key] = evidence.scores.get(key, 0.0) + W_HINT - 0.5 * min(rank, 4)
        if analysis.faces > 0:
            bonus = 1.0 + 0.5 * min(analysis.faces, 3)
            evidence.scores["portrait"] = evidence.scores.get("portrait", 0.0) + bonus
        if analysis.is_product:
            evidence.scores["ecommerce"] = evidence.scores.get("ecommerce", 0.0) + 2.5
    scores = dict(evidence.scores)
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


def is_fallback(found: Sequence[Niche]) -> bool:
    """True when no evidence picked the niches (the neutral fallback)."""
    return all(n.score == 0.0 for n in found)


def niche_info(key: str) -> NicheInfo | None:
    """The taxonomy entry for a niche key, or None."""
    return NICHES.get(key)


def prefetch(text: str, fallback_language: str = "en") -> threading.Thread | None:
    """Start loading what matching this text needs (dictionary, keyword index, concept
    table) in a background thread, so a job's text step finds it ready; None for no text
    (nothing to load: matching then uses only the analysis)."""
    if not text or not text.strip():
        return None
    language = lexicon.detect_language(text, fallback_language)

    def run() -> None:
        try:
            lexicon.lemma("a", language)
            lexicon.stopwords(language)
            _keyword_index(language)
            if language == "en":
                default_concepts()("bird")
            else:
                _keyword_index("en", lemmatize=False)
        except Exception:  # noqa: BLE001 - a warm-up must never break a job; matching retries
            log.exception("prefetch for %s failed", language)

    thread = threading.Thread(target=run, name="niches-prefetch", daemon=True)
    thread.start()
    return thread
