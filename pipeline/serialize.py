"""Dataclass <-> plain dict conversions for results.json and the AI cache."""

from __future__ import annotations

import dataclasses
from typing import Any

from pipeline.models import (
    Account,
    ImageAnalysis,
    NamedColor,
    Niche,
    PlatformContent,
    PlatformResult,
    PostingTime,
    Recognition,
    RenderedImage,
)


def to_dict(obj: Any) -> dict[str, Any]:
    """A dataclass as a JSON-able dict (tuples become lists)."""
    return dataclasses.asdict(obj)


def analysis_from_dict(data: dict[str, Any]) -> ImageAnalysis:
    fields = {f.name for f in dataclasses.fields(ImageAnalysis)}
    values = {k: v for k, v in data.items() if k in fields}
    values["colors"] = [NamedColor(**c) for c in data.get("colors", [])]
    values["face_boxes"] = [tuple(b) for b in data.get("face_boxes", [])]
    rec = data.get("recognition")
    if isinstance(rec, dict):
        values["recognition"] = Recognition(
            subject=rec.get("subject", ""),
            concepts=tuple(rec.get("concepts", ())),
            confidence=float(rec.get("confidence", 0.0)),
            top=tuple((str(a), float(b)) for a, b in rec.get("top", ())),
            model=rec.get("model", ""),
        )
    return ImageAnalysis(**values)


def content_from_dict(data: dict[str, Any]) -> PlatformContent:
    return PlatformContent(
        caption=data.get("caption", ""),
        hashtags=list(data.get("hashtags", [])),
        alt_text=data.get("alt_text", ""),
        title=data.get("title", ""),
        provider=data.get("provider", "offline"),
    )


def account_from_dict(data: dict[str, Any]) -> Account:
    names = {f.name for f in dataclasses.fields(Account)}
    return Account(**{k: v for k, v in data.items() if k in names})


def niche_from_dict(data: dict[str, Any]) -> Niche:
    return Niche(key=data["key"], name=data.get("name", data["key"]), score=data.get("score", 0))


def posting_time_from_dict(data: dict[str, Any]) -> PostingTime:
    names = {f.name for f in dataclasses.fields(PostingTime)}
    return PostingTime(**{k: v for k, v in data.items() if k in names})


# -- results.json platform entries, new and older shapes -----------------------------------


def hashtag_list(data: dict[str, Any]) -> list[str]:
    """A platform entry's hashtags from a new file (hashtag_list, or the seed's "#a #b" string)
    or an older one (a list under hashtags)."""
    tags = data.get("hashtag_list")
    if tags is None:
        tags = data.get("hashtags", [])
    if isinstance(tags, str):
        tags = tags.split()
    return [str(t) for t in tags if str(t).strip()]


def account_list(data: dict[str, Any]) -> list[dict[str, Any]]:
    """A platform entry's accounts: `accounts` (new files) or the list older files kept
    under `profile_results`; the seed's `extracted_usernames` alone when that is all."""
    if isinstance(data.get("accounts"), list):
        return [a for a in data["accounts"] if isinstance(a, dict)]
    profiles = data.get("profile_results")
    if isinstance(profiles, list):
        return [a for a in profiles if isinstance(a, dict)]
    if isinstance(profiles, dict):
        names = profiles.get("extracted_usernames") or []
        return [{"handle": str(h), "source": "saved"} for h in names if str(h).strip()]
    return []


def platform_result_from_dict(platform: str, data: dict[str, Any]) -> PlatformResult:
    """A PlatformResult rebuilt from results.json (`platforms.<name>`), without image bytes."""
    image = None
    info = data.get("image")
    if isinstance(info, dict) and info.get("width"):
        image = RenderedImage(
            b"", int(info["width"]), int(info["height"]), str(info.get("format") or "JPEG")
        )
    content = None
    if data.get("caption") or data.get("hashtags"):
        content = PlatformContent(
            caption=str(data.get("caption") or ""),
            hashtags=hashtag_list(data),
            alt_text=str(data.get("alt_text") or ""),
            title=str(data.get("title") or ""),
            provider=str(data.get("provider") or "offline"),
        )
    return PlatformResult(
        platform=platform,
        status=str(data.get("status") or "completed"),
        image=image,
        content=content,
        posting_times=[posting_time_from_dict(t) for t in data.get("posting_times") or []],
        profiles=[account_from_dict(a) for a in account_list(data)],
        provider=str(data.get("provider") or "offline"),
        error=data.get("error"),
    )
