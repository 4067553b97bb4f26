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
    "Answer in JSON that matches the schema."
)

CONTENT_SYSTEM = (
    "You are a social media copywriter. For every requested platform write a caption, "
    "hashtags and alt text for ONE photo, following each platform's limits exactly. Write "
    "in the requested language and tone. Captions must not contain the hashtags (they are "
    "returned separately). Alt text describes the image for blind readers, without "
    "hashtags or emojis. Prefer the candidate hashtags given; never use banned or spammy "
    "tags (#followforfollow, #likeforlike, ...). Answer in JSON that matches the schema."
)

ACCOUNTS_SYSTEM = (
    "You suggest real, currently active public social media accounts worth tagging or "
    "following for a niche. Only give handles you are confident exist; if unsure, return "
    "fewer. Answer in JSON that matches the schema."
)


def language_name(code: str) -> str:
    return LANGUAGE_NAMES.get(code, code or "English")


def analysis_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "description": {"type": "string"},
            "keywords": {"type": "array", "items": {"type": "string"}},
            "niches": {"type": "array", "items": {"type": "string"}},
            "is_product": {"type": "boolean"},
            "product_reason": {"type": "string"},
            "mood": {"type": "string"},
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


def _platform_object() -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "caption": {"type": "string"},
            "hashtags": {"type": "array", "items": {"type": "string"}},
            "alt_text": {"type": "string"},
            "title": {"type": "string"},
        },
        "required": ["caption", "hashtags", "alt_text", "title"],
        "additionalProperties": False,
    }


def content_schema(platforms: Sequence[str]) -> dict[str, Any]:
    """One object per platform, every platform required."""
    return {
        "type": "object",
        "properties": {p: _platform_object() for p in platforms},
        "required": list(platforms),
        "additionalProperties": False,
    }


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
            f"caption <= {lim.get('caption', 2200)} characters",
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
    return "\n".join(lines)


def repair_prompt(error: str) -> str:
    return (
        f"Your previous answer could not be used: {error}. Answer again with JSON only, "
        "matching the schema exactly, with every platform present."
    )


def accounts_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "accounts": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "handle": {"type": "string"},
                        "reason": {"type": "string"},
                    },
                    "required": ["handle", "reason"],
                    "additionalProperties": False,
                },
            }
        },
        "required": ["accounts"],
        "additionalProperties": False,
    }


def accounts_schema_for(platforms: Sequence[str]) -> dict[str, Any]:
    """accounts_schema with `platform` limited to the requested platforms."""
    schema = accounts_schema()
    item = schema["properties"]["accounts"]["items"]
    item["properties"] = {
        "platform": {"type": "string", "enum": list(platforms)},
        **item["properties"],
    }
    item["required"] = ["platform", *item["required"]]
    return schema


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


def gemini_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """Gemini's response_schema has no additionalProperties: drop it recursively."""

    def strip(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: strip(v) for k, v in node.items() if k != "additionalProperties"}
        if isinstance(node, list):
            return [strip(v) for v in node]
        return node

    return strip(copy.deepcopy(dict(schema)))
