"""Phrases shared by captions and alt text: templates, sentences, subjects and colours named
in the caption language, and cutting text at a word boundary."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import lru_cache
from importlib import resources

from pipeline.colors import color_word, spoken_colors
from pipeline.models import ImageAnalysis

ELLIPSIS = "…"


@lru_cache(maxsize=1)
def templates() -> dict[str, dict]:
    """Caption templates keyed by language code."""
    text = resources.files("pipeline.data").joinpath("captions.json").read_text("utf-8")
    return json.loads(text)["languages"]


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


KINDS: tuple[str, ...] = ("product", "food", "person", "place", "animal", "plant", "thing")


HOOK_CHARS = 125  # a description's first sentence is the hook when it is at most this long


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


def _clean(text: str) -> str:
    return re.sub(r"\s+", " ", (text or "").strip())


def capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _sentence(text: str) -> str:
    """The text as a sentence: capital first letter, closing punctuation."""
    text = _clean(text)
    if not text:
        return ""
    text = capital(text)
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
            word = capital(word)  # a colour named on its own is a noun: "Grün und Blau"
        if word and word not in out:
            out.append(word)
        if len(out) >= limit:
            break
    return out
