"""Prompt text and JSON schemas shared by the OpenAI and Gemini providers.

Schemas follow OpenAI's strict Structured Outputs subset (every property required,
`additionalProperties: false`); `gemini_schema()` strips what Gemini's schema type lacks.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

LANGUAGE_NAMES = {
    "en": "English",
    "es": "Spanish",
    "pt": "Portuguese",
    "de": "German",
    "fr": "French",
    "ru": "Russian",
}

ANALYSIS_SCHEMA_NAME = "image_analysis"
CONTENT_SCHEMA_NAME = "platform_content"
ACCOUNTS_SCHEMA_NAME = "account_suggestions"

ANALYSIS_SYSTEM = (
    "You describe photos for a social media assistant. Be concrete and honest: describe only "
    "what is visible, never guess names, places or brands you cannot read in the image. "
    "Answer with JSON only, in the shape given."
)

CONTENT_SYSTEM = (
    "You are a social media copywriter. For every requested platform write a caption, "
    "hashtags and alt text for ONE photo, following each platform's limits exactly. Write "
    "in the requested language and tone. Captions must not contain the hashtags (they are "
    "returned separately). Alt text describes the image for blind readers, without "
    "hashtags or emojis. Prefer the candidate hashtags given; never use banned or spammy "
    "tags (#followforfollow, #likeforlike, ...). Answer with JSON only, in the shape given."
)

ACCOUNTS_SYSTEM = (
    "You suggest real, currently active public social media accounts worth tagging or "
    "following for a niche. Only give handles you are confident exist; if unsure, return "
    "fewer. Answer with JSON only, in the shape given."
)


def language_name(code: str) -> str:
    return LANGUAGE_NAMES.get(code, code or "English")


# What one answer needs at most; the schema carries these limits (maxLength, maxItems) and
# the token budget is computed from them, so a model cannot ramble into its context.
# Platforms allow 2,200 (Instagram) to 63,206 (Facebook) characters, but a caption worth
# posting needs far fewer, and every character asked for is time on a local model's CPU.
CAPTION_MAX_CHARS = 800
COMPACT_CAPTION_CHARS = 300  # asked for after an answer was cut off
ALT_MAX_CHARS = 250  # alt text guidance: a sentence or two
CHARS_PER_TOKEN = 2.5  # conservative: Cyrillic and accents cost more tokens than English


def _string(max_length: int) -> dict[str, Any]:
    return {"type": "string", "maxLength": max(1, int(max_length))}


def _strings(max_items: int, max_length: int) -> dict[str, Any]:
    return {"type": "array", "items": _string(max_length), "maxItems": max(0, int(max_items))}


def analysis_schema(compact: bool = False) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "description": _string(200 if compact else 400),
            "keywords": _strings(8 if compact else 12, 40),
            "niches": _strings(3, 40),
            "is_product": {"type": "boolean"},
            "product_reason": _string(120 if compact else 200),
            "mood": _string(30),
        },
        "required": [
            "description",
            "keywords",
            "niches",
            "is_product",
            "product_reason",
            "mood",
        ],
        "additionalProperties": False,
    }


def analysis_prompt(description: str, language: str, niche_keys: Sequence[str]) -> str:
    lines = [
        "Analyse this photo for social media posting.",
        "- description: one or two plain sentences about what is visible (English).",
        "- keywords: 5-12 lowercase single words or short phrases useful as hashtag seeds.",
        "- niches: up to 3 niche keys, best first"
        + (f", chosen from: {', '.join(niche_keys)}." if niche_keys else "."),
        "- is_product + product_reason: is this a photo of a product someone sells "
        "(object as the clear subject, clean background)?",
        "- mood: one or two words.",
    ]
    if description:
        lines.append(f"The user describes it as: {description!r}")
    return "\n".join(lines)


def _platform_object(limits: Mapping[str, int], compact: bool) -> dict[str, Any]:
    caption = min(limits.get("caption") or CAPTION_MAX_CHARS, CAPTION_MAX_CHARS)
    if compact:
        caption = min(caption, COMPACT_CAPTION_CHARS)
    alt = min(limits.get("alt_text") or 0, ALT_MAX_CHARS)
    return {
        "type": "object",
        "properties": {
            "caption": _string(caption),
            "hashtags": _strings(max(1, limits.get("hashtag_max", 5)), 30),
            "alt_text": _string(min(alt, 150) if compact else alt) if alt else _string(1),
            "title": _string(limits["title"]) if limits.get("title") else _string(1),
        },
        "required": ["caption", "hashtags", "alt_text", "title"],
        "additionalProperties": False,
    }


def content_schema(
    platforms: Sequence[str],
    limits: Mapping[str, Mapping[str, int]] | None = None,
    *,
    compact: bool = False,
) -> dict[str, Any]:
    """One object per platform, every platform required, each field within its limit."""
    limits = limits or {}
    return {
        "type": "object",
        "properties": {p: _platform_object(limits.get(p, {}), compact) for p in platforms},
        "required": list(platforms),
        "additionalProperties": False,
    }


def describe_json(schema: Mapping[str, Any]) -> str:
    """The expected JSON in a line a model can follow without `response_format`: keys,
    types and limits, e.g. {"x": {"caption": string (<= 280 chars), ...}}."""

    def show(node: Mapping[str, Any]) -> str:
        kind = node.get("type")
        if kind == "object":
            props = node.get("properties", {})
            return "{" + ", ".join(f'"{k}": {show(v)}' for k, v in props.items()) + "}"
        if kind == "array":
            most = node.get("maxItems")
            return f"[{show(node.get('items', {}))}, ...]" + (
                f" (at most {most} items)" if most is not None else ""
            )
        if kind == "string":
            if node.get("enum"):
                return " | ".join(f'"{v}"' for v in node["enum"])
            most = node.get("maxLength")
            if most == 1:
                return '"" (empty)'
            return "string" + (f" (<= {most} chars)" if most else "")
        if kind == "boolean":
            return "true | false"
        return str(kind or "value")

    return "Answer with one JSON object only, no text around it, exactly of this shape:\n" + show(
        schema
    )


def answer_tokens(schema: Mapping[str, Any]) -> int:
    """A completion budget for an answer of this schema: its limits in tokens plus the JSON
    around them, with a margin. Never the old 4000 + 1500 per platform."""

    def chars(node: Mapping[str, Any]) -> float:
        kind = node.get("type")
        if kind == "object":
            props = node.get("properties", {})
            return 2 + sum(len(k) + 4 + chars(v) for k, v in props.items())
        if kind == "array":
            return 2 + node.get("maxItems", 10) * (chars(node.get("items", {})) + 2)
        if kind == "string":
            if node.get("enum"):
                return 2 + max(len(str(v)) for v in node["enum"])
            return 2 + node.get("maxLength", 200)
        return 6

    return int(chars(schema) / CHARS_PER_TOKEN * 1.1) + 32


def estimate_tokens(text: str) -> int:
    """Roughly how many tokens a prompt costs (for fitting a budget into a context)."""
    return int(len(text) / 3.5) + 8


def content_prompt(
    *,
    platforms: Sequence[str],
    limits: Mapping[str, Mapping[str, int]],
    candidates: Mapping[str, Sequence[str]],
    description: str,
    analysis_description: str,
    keywords: Sequence[str],
    niches: Sequence[str],
    language: str,
    tone: str,
    feedback: str = "",
) -> str:
    """The user prompt for the one content call covering every platform."""
    lines = [
        f"Language: {language_name(language)} (write captions, titles and alt text in it).",
        f"Tone: {tone or 'friendly, natural'}.",
        f"Photo: {analysis_description or 'no description'}",
    ]
    if description:
        lines.append(f"What the user says about it: {description!r}")
    if keywords:
        lines.append(f"Keywords: {', '.join(keywords[:15])}")
    if niches:
        lines.append(f"Niches: {', '.join(niches)}")
    lines.append("Platforms and their limits:")
    for p in platforms:
        lim = limits.get(p, {})
        parts = [
            f"caption <= {min(lim.get('caption') or CAPTION_MAX_CHARS, CAPTION_MAX_CHARS)} "
            "characters",
            f"{lim.get('hashtag_min', 0)}-{lim.get('hashtag_max', 5)} hashtags",
        ]
        if lim.get("alt_text"):
            parts.append(f"alt text <= {lim['alt_text']} characters")
        else:
            parts.append('alt_text ""')
        if lim.get("title"):
            parts.append(f"title <= {lim['title']} characters")
        else:
            parts.append('title ""')
        if p == "x":
            parts.append("the caption plus the hashtags must fit in 280 characters together")
        cands = list(candidates.get(p, []))[:15]
        line = f"- {p}: " + "; ".join(parts)
        if cands:
            line += f"; candidate hashtags: {' '.join(cands)}"
        lines.append(line)
    if feedback:
        lines.append(f"An earlier answer was rejected: {feedback} Fix exactly that.")
    return "\n".join(lines)


def repair_prompt(error: str, shape: str = "") -> str:
    """Ask again, saying what was wrong and (again) exactly what JSON is expected."""
    return f"Your previous answer could not be used: {error}. " + (
        shape or "Answer again with JSON only."
    )


def accounts_schema_for(platforms: Sequence[str], limit: int = 5) -> dict[str, Any]:
    """At most `limit` accounts per requested platform, `platform` one of them."""
    return {
        "type": "object",
        "properties": {
            "accounts": {
                "type": "array",
                "maxItems": max(1, limit * len(platforms)),
                "items": {
                    "type": "object",
                    "properties": {
                        "platform": {"type": "string", "enum": list(platforms)},
                        "handle": _string(40),
                        "reason": _string(100),
                    },
                    "required": ["platform", "handle", "reason"],
                    "additionalProperties": False,
                },
            }
        },
        "required": ["accounts"],
        "additionalProperties": False,
    }


def accounts_prompt(
    platforms: Sequence[str], niches: Sequence[str], description: str, limit: int
) -> str:
    text = (
        f"Suggest up to {limit} accounts for EACH of these platforms: {', '.join(platforms)}, "
        f"for the niche(s): {', '.join(niches) or 'general'}. Give the bare handle "
        "(no URL) and the platform it is on."
    )
    if description:
        text += f" The photo: {description!r}."
    return text


def grounded_accounts_prompt(
    platforms: Sequence[str], niches: Sequence[str], description: str, limit: int
) -> str:
    extra = f" (the photo: {description})" if description else ""
    return (
        f"Search the web for real, active public accounts in the niche "
        f"'{', '.join(niches) or 'general'}'{extra}: up to {limit} on each of "
        f"{', '.join(platforms)}. Answer one account per line as "
        "'<platform>: @handle - profile URL - why it fits'. Only list accounts you found in "
        "search results, with their exact handle."
    )


def strip_keywords(schema: Mapping[str, Any], keywords: Sequence[str]) -> dict[str, Any]:
    """The schema without `keywords`, recursively (for backends whose schema type lacks
    them); the limits stay in the prompt text."""

    def strip(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: strip(v) for k, v in node.items() if k not in keywords}
        if isinstance(node, list):
            return [strip(v) for v in node]
        return node

    return strip(copy.deepcopy(dict(schema)))


def gemini_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """Gemini's response_schema has no additionalProperties: drop it recursively."""
    return strip_keywords(schema, ("additionalProperties",))
