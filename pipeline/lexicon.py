"""The user's words in six languages: tokens, stop words, lemmas and the language itself.

`read_text(text, language)` splits a description into tokens, each with its lemma (simplemma,
language-aware) and a comparison key (the folded lemma: lowercase, no accents). What a person
sees (a token as typed, a lemma) keeps its accents; only the keys are folded.

The language is the one given, else detected with langdetect restricted to our six languages
(seeded, so the answer is deterministic); a text too short to tell falls back to the caption
language. Dictionaries are simplemma's MARISA tries: built once per language into simplemma's
cache folder (`socialopt setup-models` builds all six; otherwise the first use builds it), then
memory-mapped in a few milliseconds. `prefetch` warms them in a background thread.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

log = logging.getLogger(__name__)

LANGS: tuple[str, ...] = ("en", "es", "pt", "de", "fr", "ru")
MIN_DETECT_WORDS = 4  # fewer words than this: trust the given language
MIN_DETECT_LETTERS = 20


@lru_cache(maxsize=1)
def lexicon_data() -> dict:
    text = resources.files("pipeline.data").joinpath("lexicon.json").read_text("utf-8")
    return json.loads(text)


@lru_cache(maxsize=64)
def word_set(name: str, language: str) -> frozenset[str]:
    """A folded word list of pipeline/data/lexicon.json for one language ("colour_words")."""
    table = lexicon_data().get(name, {})
    words = table.get(language, ()) if isinstance(table, dict) else table
    return frozenset(fold(w) for w in words)


def _lemma_fixes(language: str) -> dict[str, str]:
    """Known wrong lemmas of simplemma 2.0 for nouns users type (it prefers a verb)."""
    return lexicon_data()["lemma_fixes"].get(language, {})


def _figurative_rules(language: str) -> list[tuple[str, tuple[str, ...]]]:
    """("sea", ("of",)): the noun followed by a link word is a quantity ("a sea of")."""
    return [(fold(n), tuple(links)) for n, links in lexicon_data()["figurative"].get(language, ())]


_WORD = re.compile(r"[^\W_]+(?:-[^\W_]+)*", re.UNICODE)  # "falcon 9" keeps its 9
_SENTENCE_END = re.compile(r"[.!?…\n]")


# letters of their own, not accented forms: "uña" is not "una", "май" is not "маи"
_KEEP = str.maketrans({"ñ": "\x00", "й": "\x01"})
_RESTORE = str.maketrans({"\x00": "ñ", "\x01": "й"})


def fold(text: str) -> str:
    """Lowercase and strip accents (é -> e, ü -> u, ё -> е; ñ and й stay) for comparison
    keys only."""
    decomposed = unicodedata.normalize("NFKD", text.lower().translate(_KEEP))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return plain.translate(_RESTORE).replace("ё", "е")


@dataclass(frozen=True)
class Token:
    """One word of a text."""

    text: str  # as typed, accents and case kept
    lemma: str  # dictionary form, accents kept (German nouns keep their capital)
    key: str  # folded lemma: the comparison key
    surface: str  # folded text
    stop: bool  # a stop word of the text's language
    sentence_start: bool  # first word of a sentence
    in_compound: bool  # part of a hyphenated word ("head" in "head-first")
    figurative: bool = False  # "sea" in "a sea of ..."

    @property
    def keys(self) -> frozenset[str]:
        return frozenset((self.key, self.surface))


@dataclass(frozen=True)
class Words:
    """A text read in one language."""

    language: str
    tokens: tuple[Token, ...]

    def keys(self) -> set[str]:
        """Every comparison key (lemmas and folded surface forms)."""
        return {k for t in self.tokens for k in t.keys}

    def content(self) -> list[Token]:
        """Tokens that are not stop words, in order."""
        return [t for t in self.tokens if not t.stop]


@lru_cache(maxsize=1)
def _detector_factory():  # noqa: ANN202 - langdetect has no type hints
    """A langdetect factory that knows only our six languages (16 ms, not 0.35 s for all)."""
    from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory
    from langdetect.utils.lang_profile import LangProfile

    factory = DetectorFactory()
    factory.seed = 0  # deterministic answers
    for index, lang in enumerate(LANGS):
        with open(os.path.join(PROFILES_DIRECTORY, lang), encoding="utf-8") as fh:
            factory.add_profile(LangProfile(**json.load(fh)), index, len(LANGS))
    return factory


_detect_lock = threading.Lock()


def detect_language(text: str, fallback: str = "en") -> str:
    """The language of a text among LANGS; `fallback` when it is too short to tell or unsure."""
    fallback = fallback if fallback in LANGS else "en"
    words = _WORD.findall(text)
    letters = sum(len(w) for w in words)
    if not words:
        return fallback
    cyrillic = sum(1 for w in words if any("\u0400" <= c <= "\u04ff" for c in w))
    if cyrillic * 2 > len(words):
        return "ru"
    if len(words) < MIN_DETECT_WORDS or letters < MIN_DETECT_LETTERS:
        return fallback
    from langdetect.lang_detect_exception import LangDetectException

    with _detect_lock:
        detector = _detector_factory().create()
        detector.append(text)
        try:
            ranked = detector.get_probabilities()
        except LangDetectException:
            return fallback
    probs = {r.lang: r.prob for r in ranked}
    if probs.get(fallback, 0.0) >= 0.3:
        return fallback
    best = ranked[0] if ranked else None
    return best.lang if best is not None and best.prob >= 0.8 else fallback


def _check(language: str) -> str:
    return language if language in LANGS else "en"


@lru_cache(maxsize=8)
def stopwords(language: str) -> frozenset[str]:
    """Folded stop words of a language (stopwords-iso), minus nouns a photo can show."""
    import stopwordsiso

    lang = _check(language)
    keep = word_set("not_stop", lang)  # nouns a photo can show ("home", "вода")
    return frozenset(fold(w) for w in stopwordsiso.stopwords(lang) if fold(w) not in keep)


_load_lock = threading.Lock()


@lru_cache(maxsize=1)
def _dictionaries():  # noqa: ANN202 - simplemma's factory protocol
    """simplemma's trie-backed dictionaries, cached on disk per language."""
    from simplemma.strategies.dictionaries.trie_dictionary_factory import TrieDictionaryFactory

    return TrieDictionaryFactory(cache_max_size=len(LANGS))


@lru_cache(maxsize=1)
def _lemmatizer():  # noqa: ANN202 - simplemma has partial type hints
    import simplemma
    from simplemma.strategies import DefaultStrategy

    strategy = DefaultStrategy(dictionary_factory=_dictionaries())
    return simplemma.Lemmatizer(lemmatization_strategy=strategy)


def build_dictionaries(languages: Iterable[str] = LANGS) -> None:
    """Build (or open) the on-disk dictionary of each language; setup runs this once."""
    with _load_lock:
        for lang in languages:
            _dictionaries().get_dictionary(_check(lang))


def _lemmatize(word: str, language: str) -> str:
    fixed = _lemma_fixes(language).get(word)
    if fixed is not None:
        return fixed
    with _load_lock:  # one thread opens (or first builds) a dictionary; others wait
        _dictionaries().get_dictionary(language)
    return _lemmatizer().lemmatize(word, language)


@lru_cache(maxsize=20000)
def lemma(word: str, language: str) -> str:
    """The lemma of one word (accents kept); the word itself when unknown."""
    lang = _check(language)
    out = _lemmatize(word, lang)
    if lang != "de" and not word[:1].isupper():
        out = out.lower()
    return out


def prefetch(languages: Iterable[str]) -> threading.Thread:
    """Load the dictionaries of these languages in a background thread; returns the thread."""
    todo = [_check(lang) for lang in languages]

    def run() -> None:
        try:
            _detector_factory()
            for lang in dict.fromkeys(todo):
                stopwords(lang)
                _lemmatize("a", lang)
        except Exception:  # noqa: BLE001 - a warm-up must never break the caller
            log.exception("lexicon prefetch failed")

    thread = threading.Thread(target=run, name="lexicon-prefetch", daemon=True)
    thread.start()
    return thread


def _figurative(words: list[str], lang: str) -> set[int]:
    """Indexes of words used as a quantity ("a sea of ...")."""
    rules = _figurative_rules(lang)
    out: set[int] = set()
    for i, w in enumerate(words[:-1]):
        low, nxt = fold(w), fold(words[i + 1])
        for noun, links in rules:
            if (low == noun or fold(lemma(w, lang)) == noun) and nxt in links:
                out.add(i)
    return out


def split_words(text: str) -> list[tuple[str, bool, bool]]:
    """(word, starts a sentence, part of a hyphenated word) for each word of a text."""
    text = text.replace("’", "'")
    out: list[tuple[str, bool, bool]] = []
    last_end = 0
    start = True
    for match in _WORD.finditer(text):
        if _SENTENCE_END.search(text, last_end, match.start()):
            start = True
        parts = match.group().split("-")
        for i, part in enumerate(parts):
            # elisions and possessives: l'oiseau, grandmother's
            for j, piece in enumerate(p for p in part.split("'") if p):
                out.append((piece, start and i == 0 and j == 0, len(parts) > 1))
        start = False
        last_end = match.end()
    return out


def is_known(word: str, language: str) -> bool:
    """True when the language's dictionary knows the word (for loanword decisions)."""
    from simplemma.strategies import DictionaryLookupStrategy
    from simplemma.utils import normalize_token

    lang = _check(language)
    lemma(word, lang)  # opens the dictionary under the lock
    lookup = DictionaryLookupStrategy(dictionary_factory=_dictionaries())
    return lookup.get_lemma(normalize_token(word), lang) is not None


@lru_cache(maxsize=256)
def read_text(text: str, language: str | None = None, fallback: str = "en") -> Words:
    """Tokens of a text with lemmas and keys; `language=None` detects it."""
    lang = _check(language) if language else detect_language(text, fallback)
    stops = stopwords(lang)
    raw = split_words(text)
    figurative = _figurative([w for w, _, _ in raw], lang)
    tokens = []
    for i, (word, sentence_start, compound) in enumerate(raw):
        lem = lemma(word, lang)
        key = fold(lem)
        surface = fold(word)
        stop = surface in stops or len(surface) < 2 or surface.isdigit()
        tokens.append(
            Token(word, lem, key, surface, stop, sentence_start, compound, i in figurative)
        )
    return Words(lang, tuple(tokens))


def name_spans(words: Words) -> list[tuple[int, int]]:
    """(start, length) of capitalised runs that look like a name ("Grace Hopper", "New York",
    "Picos de Europa"): two or more capitalised words, not all starting a sentence, bridged
    by at most one lowercase function word. None in German, where every noun is capitalised."""
    if words.language == "de":
        return []
    function = word_set("function_words", words.language)
    toks = words.tokens

    def capital(i: int) -> bool:
        t = toks[i]
        return (
            t.text[:1].isupper()
            and not t.in_compound
            and not (t.stop and t.surface in function)
            and not t.surface.isdigit()
        )

    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(toks):
        if not capital(i):
            i += 1
            continue
        j = i + 1
        while j < len(toks):
            if capital(j):
                j += 1
            elif (
                j + 1 < len(toks)
                and toks[j].surface in function
                and toks[j].text.islower()
                and capital(j + 1)
            ):
                j += 2
            else:
                break
        capitals = [k for k in range(i, j) if capital(k)]
        if len(capitals) >= 2 and not all(toks[k].sentence_start for k in capitals):
            spans.append((i, j - i))
        i = j
    return spans


def keywords(text: str, language: str | None = None, fallback: str = "en") -> list[str]:
    """Content words of a text as typed (lowercase, accents kept), without stop words."""
    lang = _check(language) if language else detect_language(text, fallback)
    stops = stopwords(lang)
    out: list[str] = []
    for word in _WORD.findall(text.replace("’", "'")):
        word = word.split("'")[-1].lower()
        if len(word) >= 3 and fold(word) not in stops and word not in out:
            out.append(word)
    return out
