"""Request bodies that are JSON (the optimize call is multipart)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from pipeline.models import CAPTION_VARIANTS


class CaptionsRequest(BaseModel):
    """New captions for a past session, or for a text on the given platforms."""

    session_id: str = Field("", max_length=64)
    text: str = Field("", max_length=2000)
    platforms: list[str] = Field(default_factory=list, max_length=20)
    tone: str = Field("", max_length=30)
    variant: int = Field(1, ge=0, lt=CAPTION_VARIANTS)
    language: str = Field("", max_length=5)
