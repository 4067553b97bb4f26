"""Small dataclasses that pipeline stages take and return (request -> result).

A job is a pure function of (image bytes, JobOptions) -> JobResult; everything here is plain
data so a queue worker can run it elsewhere later.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

PRODUCT_STYLES: tuple[str, ...] = (
    "floating",
    "flat_lay",
    "lifestyle",
    "product_art",
    "macro",
    "dark_moody",
    "solid_background",
)
LOGO_POSITIONS: tuple[str, ...] = (
    "auto",  # the emptiest corner, never over the subject
    "top-left",
    "top-right",
    "bottom-left",
    "bottom-right",
    "center",
)
OUTPUT_FORMATS: tuple[str, ...] = ("JPEG", "PNG", "WEBP")
FITS: tuple[str, ...] = ("auto", "crop", "pad")  # how a photo fills a platform's frame
LANGUAGES: tuple[str, ...] = ("en", "es", "pt", "de", "fr", "ru")
TONES: tuple[str, ...] = ("casual", "professional", "funny", "luxury", "minimal")
CAPTION_VARIANTS = 2  # offline caption versions per platform (results.json "variants")


@dataclass(frozen=True)
class LogoOptions:
    image: bytes  # PNG/JPEG bytes of the logo (alpha kept)
    position: str = "auto"
    size_pct: float = 15.0  # logo width as a share of the image width
    margin_pct: float = 3.0
    opacity: float = 0.9


@dataclass(frozen=True)
class Account:
    """An account worth tagging, saved by the user or suggested with where it came from."""

    handle: str  # with @, or "" for a search link
    platform: str = ""
    niche: str = ""
    source: str = "saved"  # saved | gemini | openai | search
    url: str = ""  # profile link, grounding source, or a search link
    note: str = ""


@dataclass(frozen=True)
class JobOptions:
    platforms: tuple[str, ...]
    description: str = ""
    use_ai: bool = False
    language: str = "en"
    timezone: str = "UTC"
    output_format: str = "JPEG"
    max_workers: int = 4
    tone: str = ""
    variant: int = 0  # which offline caption version to use (0 .. CAPTION_VARIANTS-1)
    product_styles: tuple[str, ...] = ()  # empty: no product photography
    product_force: bool = False  # make product photos even when the photo is not judged one
    logo: LogoOptions | None = None
    saved_accounts: tuple[Account, ...] = ()
    hashtag_limits: Mapping[str, int] = field(default_factory=dict)
    session_id: str = ""  # assigned by run_job when empty
    user_uuid: str = ""
    source_name: str = ""  # file name or URL, for results.json
    fit: str = "auto"  # crop | pad | auto: pad when a crop would cut the subject (crop.plan_crop)


@dataclass(frozen=True)
class NamedColor:
    name: str  # English name a person would say ("sky blue"); localise for display
    hex: str
    share: float  # 0..1 of the pixels
    family: str = ""  # hue family: red, orange, yellow, green, blue, purple, pink, brown, grey...


@dataclass(frozen=True)
class Recognition:
    """What an offline classifier saw, rolled up a WordNet hierarchy; empty when it abstains.

    `subject` is the most specific confident English noun ("nuthatch", or "bird" when only
    the parent concept is sure); `concepts` runs from it to its broad ancestors."""

    subject: str = ""
    concepts: tuple[str, ...] = ()  # e.g. ("nuthatch", "bird", "animal")
    confidence: float = 0.0  # summed probability under `subject`
    top: tuple[tuple[str, float], ...] = ()  # raw top-5 (class label, probability)
    model: str = ""  # e.g. "efficientnet-lite2"


@dataclass
class ImageAnalysis:
    width: int
    height: int
    orientation: str  # landscape | portrait | square
    brightness: float  # 0..1 mean luminance
    contrast: float  # 0..1 luminance std, normalised
    sharpness: float  # variance of Laplacian on a normalised copy
    is_blurry: bool
    colors: list[NamedColor]
    faces: int
    face_boxes: list[tuple[int, int, int, int]]  # x, y, w, h in source pixels
    product_likeness: float  # 0..1
    is_product: bool
    product_reason: str
    description: str  # short, honest; never claims what it cannot know
    keywords: list[str]  # words from the user's text, colours, scene cues
    warnings: list[str] = field(default_factory=list)
    niches: list[str] = field(default_factory=list)  # an AI provider may suggest niche keys
    provider: str = "offline"
    # what the photo is about (recognition, faces, product shape, the user's words)
    subject: str = ""  # English noun, "" when unknown: never guessed
    subject_concepts: list[str] = field(default_factory=list)  # subject and its ancestors
    kind: str = ""  # product | person | place | animal | plant | food | thing | "" (unknown)
    recognition: Recognition | None = None  # None when no classifier ran
    monochrome: bool = False  # black-and-white or a single-hue photo
    subject_sharpness: float = 0.0  # sharpness where the subject is (focus-weighted)


@dataclass(frozen=True)
class Niche:
    key: str
    name: str
    score: float


@dataclass(frozen=True)
class PostingTime:
    day: str  # "Monday"
    start: str  # "10:00" in the user's time zone
    end: str
    timezone: str
    study: str  # e.g. "Sprout Social 2023"

    def label(self) -> str:
        return f"{self.day} {self.start}-{self.end} ({self.timezone}; {self.study})"


@dataclass
class PlatformContent:
    caption: str
    hashtags: list[str]  # with leading '#', CamelCase, within the platform cap
    alt_text: str = ""
    title: str = ""  # Pinterest / TikTok title
    provider: str = "offline"


@dataclass
class RenderedImage:
    data: bytes
    width: int
    height: int
    format: str  # JPEG | PNG | WEBP
    size_name: str = ""  # portrait | square | landscape
    crop_box: tuple[int, int, int, int] = (0, 0, 0, 0)  # left, top, right, bottom in source
    quality: int = 0
    fit: str = "crop"  # crop | pad (the whole photo over a blurred copy of itself)
    subject_box: tuple[int, int, int, int] | None = None  # the subject, in source pixels
    subject_kept: float | None = None  # share of the subject box in the output (None: none)

    @property
    def extension(self) -> str:
        return {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}[self.format]

    def filename(self, platform: str, prefix: str = "") -> str:
        return f"{prefix}{platform}_{self.width}x{self.height}.{self.extension}"


@dataclass
class ProductPhoto:
    style: str
    platform: str
    image: RenderedImage
    method: str  # compositor | openai
    url: str = ""  # Cloudinary secure_url when uploaded

    @property
    def filename(self) -> str:
        return self.image.filename(self.platform, prefix=f"product_{self.style}_")


@dataclass
class ProductDecision:
    is_product: bool
    reason: str
    source: str  # offline-mask | ai
    mask_method: str = ""  # rembg:u2netp | fallback:grabcut | ...
    code: str = ""  # NOT_A_PRODUCT | MASK_UNRELIABLE when no photos were made, else ""
    forced: bool = False  # photos were made anyway (the user asked to try)
    problems: tuple[str, ...] = ()  # why it is not a product, in plain words


@dataclass
class PlatformResult:
    platform: str
    status: str  # completed | failed
    image: RenderedImage | None = None
    content: PlatformContent | None = None
    niches: list[Niche] = field(default_factory=list)
    posting_times: list[PostingTime] = field(default_factory=list)
    profiles: list[Account] = field(default_factory=list)
    processing_time: float = 0.0
    provider: str = "offline"
    error: dict[str, str] | None = None  # {"code": ..., "message": ...}
    product_photos: list[ProductPhoto] = field(default_factory=list)
    image_url: str = ""  # Cloudinary secure_url when uploaded
    variants: list[PlatformContent] = field(default_factory=list)  # offline versions, in order


@dataclass(frozen=True)
class SourceInfo:
    name: str
    sha256: str
    width: int
    height: int
    format: str
    size_bytes: int


@dataclass
class Usage:
    """AI calls and tokens of one job; thread-safe, filled by providers."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cache_hits: int = 0
    by_provider: dict[str, int] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)  # told to the user once
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def record(self, provider: str, prompt_tokens: int = 0, completion_tokens: int = 0) -> None:
        with self._lock:
            self.calls += 1
            self.prompt_tokens += prompt_tokens
            self.completion_tokens += completion_tokens
            self.by_provider[provider] = self.by_provider.get(provider, 0) + 1

    def notice(self, text: str) -> None:
        with self._lock:
            if text not in self.notices:
                self.notices.append(text)

    def to_dict(self) -> dict[str, object]:
        return {
            "calls": self.calls,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cache_hits": self.cache_hits,
            "by_provider": dict(self.by_provider),
            "notices": list(self.notices),
        }


@dataclass
class JobResult:
    session_id: str
    user_uuid: str
    timestamp: str  # ISO 8601 UTC
    source: SourceInfo
    options: JobOptions
    analysis: ImageAnalysis
    niches: list[Niche]
    platforms: dict[str, PlatformResult]
    contact_sheet: bytes  # JPEG
    product: ProductDecision | None = None
    usage: Usage = field(default_factory=Usage)
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def successful(self) -> list[str]:
        return [k for k, r in self.platforms.items() if r.status == "completed"]


@dataclass(frozen=True)
class ProgressEvent:
    stage: str  # intake | analysis | content | render | product | done
    message: str
    done: int = 0
    total: int = 0
    platform: str = ""


ProgressFn = Callable[[ProgressEvent], None]


@dataclass(frozen=True)
class OutputFiles:
    directory: Path
    results_json: Path
    preview: Path
    images: dict[str, Path]  # platform -> file
    captions: dict[str, Path]  # platform -> caption file
    product_photos: list[Path] = field(default_factory=list)
