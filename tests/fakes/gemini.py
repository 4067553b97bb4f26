"""A fake Gemini API (generateContent) on 127.0.0.1 for the real google-genai client."""

from __future__ import annotations

import json
from typing import Any

from tests.fakes.http import FakeServer, Recorded, Reply
from tests.fakes.openai import GOOD_ANALYSIS, good_content


def gemini_body(
    text: str,
    *,
    chunks: list[dict[str, str]] | None = None,
    supports: list[tuple[str, list[int]]] | None = None,
    finish_reason: str = "STOP",
    prompt_tokens: int = 120,
    output_tokens: int = 60,
    block_reason: str | None = None,
) -> dict[str, Any]:
    """A generateContent response; `supports` are (segment text, chunk indices)."""
    candidate: dict[str, Any] = {
        "content": {"role": "model", "parts": [{"text": text}]},
        "finishReason": finish_reason,
        "index": 0,
    }
    if chunks is not None or supports is not None:
        segs = []
        for seg_text, idx in supports or []:
            start = text.encode().find(seg_text.encode())
            segs.append(
                {
                    "segment": {
                        "startIndex": start,
                        "endIndex": start + len(seg_text.encode()),
                        "text": seg_text,
                    },
                    "groundingChunkIndices": idx,
                }
            )
        candidate["groundingMetadata"] = {
            "webSearchQueries": ["latte art accounts"],
            "groundingChunks": [{"web": c} for c in chunks or []],
            "groundingSupports": segs,
        }
    body: dict[str, Any] = {
        "candidates": [candidate],
        "usageMetadata": {
            "promptTokenCount": prompt_tokens,
            "candidatesTokenCount": output_tokens,
            "totalTokenCount": prompt_tokens + output_tokens,
        },
        "modelVersion": "gemini-fake",
    }
    if block_reason:
        body = {
            "promptFeedback": {"blockReason": block_reason},
            "usageMetadata": body["usageMetadata"],
        }
    return body


def gemini_reply(content: Any, **kw: Any) -> Reply:
    text = content if isinstance(content, str) else json.dumps(content)
    return Reply(200, gemini_body(text, **kw))


def gemini_error(
    status: int,
    message: str,
    status_name: str,
    *,
    headers: dict[str, str] | None = None,
    details: list[dict[str, Any]] | None = None,
) -> Reply:
    err: dict[str, Any] = {"code": status, "message": message, "status": status_name}
    if details:
        err["details"] = details
    return Reply(status, {"error": err}, headers=headers or {})


GROUNDED_TEXT = (
    "Here are accounts worth following:\n"
    "Instagram: @latteartist - https://www.instagram.com/latteartist/ - daily latte art\n"
    "Instagram: @bad..handle - not a valid handle\n"
    "Instagram: @LatteArtist again (duplicate)\n"
    "X: @coffee_news - coffee industry news\n"
    "X: @this_handle_is_far_too_long_for_x\n"
    "TikTok: https://www.tiktok.com/@barista.life - barista tips\n"
)
GROUNDED_CHUNKS = [
    {"uri": "https://www.instagram.com/latteartist/", "title": "instagram.com"},
    {"uri": "https://vertexaisearch.cloud.google.com/grounding-api-redirect/A", "title": "x.com"},
    {"uri": "https://www.instagram.com/explore/tags/latteart/", "title": "instagram.com"},
    {"uri": "https://www.instagram.com/cafe.culture/", "title": "Cafe Culture (@cafe.culture)"},
]
GROUNDED_SUPPORTS = [
    ("X: @coffee_news - coffee industry news", [1]),
    ("Instagram: @latteartist - https://www.instagram.com/latteartist/ - daily latte art", [0]),
]


class FakeGemini(FakeServer):
    """POST .../models/<model>:generateContent with JSON or grounded text answers."""

    @property
    def base_url(self) -> str:
        return f"{self.root}/"

    def generate_requests(self) -> list[Recorded]:
        return [r for r in self.requests if ":generateContent" in r.path]

    def default_reply(self, request: Recorded) -> Reply:
        if ":generateContent" not in request.path:
            return gemini_error(404, f"no route {request.path}", "NOT_FOUND")
        body = request.json
        if any("googleSearch" in t or "google_search" in t for t in body.get("tools", [])):
            return gemini_reply(GROUNDED_TEXT, chunks=GROUNDED_CHUNKS, supports=GROUNDED_SUPPORTS)
        schema = (body.get("generationConfig") or {}).get("responseSchema") or {}
        props = schema.get("properties") or {}
        if "description" in props:
            return gemini_reply(GOOD_ANALYSIS)
        return gemini_reply(good_content(list(props)))
