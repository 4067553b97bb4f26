"""The ports of a job: what `run_job` asks of the world, as typing Protocols, and the requests
an AI provider answers.

Every backend (the AI providers, the SQLite or memory cache, the background remover, the
OpenAI image editor, Cloudinary, the live hashtag sites, the classifier) is built by
`socialopt.wiring` and handed in through `pipeline.services.Services`; the pipeline sees only
these shapes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from pipeline.models import Account, ImageAnalysis, Niche, PlatformContent, Recognition, Usage

if TYPE_CHECKING:  # heavy modules (numpy, OpenCV), for the type checker only
    from PIL import Image

    from pipeline.product.background import Cutout

# step name ("analysis", "content", "accounts") and the share done (0..1) of a long AI answer
ProgressHook = Callable[[str, float], None]


@dataclass(frozen=True)
class AnalysisRequest:
    image_jpeg: bytes  # downscaled copy (long side <= 1024) for vision models
    baseline: ImageAnalysis  # the offline analyser's measurements
    description: str = ""
    language: str = "en"
    progress: ProgressHook | None = field(default=None, compare=False)


@dataclass(frozen=True)
class ContentRequest:
    analysis: ImageAnalysis
    niches: list[Niche]
    platforms: tuple[str, ...]
    description: str = ""
    language: str = "en"
    tone: str = ""
    # hashtag ideas per platform from the knowledge base (and live sources), best first
    hashtag_candidates: Mapping[str, list[str]] = field(default_factory=dict)
    hashtag_limits: Mapping[str, int] = field(default_factory=dict)
    # why an earlier answer for these platforms was rejected (a targeted retry says so)
    feedback: str = ""
    progress: ProgressHook | None = field(default=None, compare=False)


@dataclass(frozen=True)
class AccountsRequest:
    niches: list[Niche]
    platform: str  # the first of `platforms`
    saved: tuple[Account, ...] = ()
    description: str = ""
    limit: int = 5  # per platform
    # every platform to answer for IN ONE CALL (a session pays one profiles call, not one per
    # platform); each returned Account has its `platform` set. Empty means just `platform`.
    platforms: tuple[str, ...] = ()

    @property
    def all_platforms(self) -> tuple[str, ...]:
        return self.platforms or (self.platform,)


@runtime_checkable
class Provider(Protocol):
    """An AI backend. Every method may raise ProviderError; the job then falls back to
    the offline provider for that step. Methods record calls/tokens in `usage`."""

    name: str  # registry name: "offline", "openai", "gemini"
    label: str  # what the user is told: "OpenAI", "qwen2.5 at localhost:8080 (...)"

    def analyse(self, request: AnalysisRequest, usage: Usage) -> ImageAnalysis: ...

    def write_content(
        self, request: ContentRequest, usage: Usage
    ) -> dict[str, PlatformContent]: ...

    def find_accounts(self, request: AccountsRequest, usage: Usage) -> list[Account]: ...


class Cache(Protocol):
    """A small key -> JSON-able dict store with expiry (SQLite or memory)."""

    def get(self, key: str) -> dict[str, Any] | None: ...

    def put(self, key: str, value: dict[str, Any], ttl_s: float) -> None: ...


class BackgroundRemover(Protocol):
    """Cuts the subject out of a photo (u2netp or the weight-free fallback)."""

    notes: list[str]  # what the user should know about how it cut (told once)

    def cutout(self, img: Image.Image, *, strict: bool = True) -> Cutout: ...


class ImageEditor(Protocol):
    """Generates one product style from the photo (OpenAI images.edit)."""

    def edit(self, image: Image.Image, style: str, width: int, height: int) -> Image.Image: ...


class Uploader(Protocol):
    """Uploads one image and returns its public URL; ProviderError(UPLOAD_FAILED) on failure."""

    def upload(self, data: bytes, folder: str, public_id: str) -> str: ...


class HashtagSource(Protocol):
    """Live hashtag suggestions for a keyword; never raises ([] when every source fails)."""

    def fetch(self, keyword: str) -> list[str]: ...


class Recogniser(Protocol):
    """The offline subject classifier."""

    def warm(self) -> None: ...

    def recognise(self, img: Image.Image) -> Recognition | None: ...
