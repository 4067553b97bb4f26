"""Platform facts: image sizes, text limits, hashtag caps and posting-time studies.

Every number carries where it was seen and when (collected 2026-11, see
shared/platform-facts.md). Where sources disagree the stricter value is the default.
Hashtag caps are overridable with the HASHTAG_LIMITS setting.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from pipeline.errors import OptionsError

COLLECTED = "2026-11"


@dataclass(frozen=True)
class Source:
    name: str
    date: str


AYRSHARE = Source("Ayrshare media guidelines and character limits", "2026-11")
LATE = Source("Late (getlate.dev) docs", "2026-11")
POSTYBIRB_762 = Source("postybirb PR #762 citing Instagram help", "2025")
IG_HASHTAG_CAP = Source("Business Today: Instagram caps hashtags at 5 per post", "2025-12-19")
ZERNIO = Source("Zernio / TikTok content posting API docs", "2026-11")
SEED = Source("socialopt seed scripts (hashtag ranges)", "2024")

# Alt text limits (checked 2026-11-30, shared/platform-facts.md "Alt text limits"). Where a
# platform takes alt text but documents no limit, we cap it like Instagram and say so.
IG_ALT = Source("Instagram content publishing API: alt_text, images (2025-03-24)", "2026-11-30")
X_ALT = Source("docs.x.com media metadata: alt text up to 1,000 characters", "2026-11-30")
PIN_ALT = Source("Ayrshare Pinterest: alt text up to 500 characters", "2026-11-30")
BSKY_ALT = Source("bluesky-social/atproto lexicon app.bsky.embed.images: alt 2,000", "2026-11-30")
MASTODON_ALT = Source("mastodon/mastodon app/models/media_attachment.rb: 1,500", "2026-11-30")
LI_ALT = Source("LinkedIn API altText: supported, no documented limit (our cap)", "2026-11-30")
FB_ALT = Source("Facebook photo alt text: no documented limit found (our cap)", "2026-11-30")
ALT_TEXT_LIMITS: dict[str, tuple[int, Source]] = {
    "instagram": (1000, IG_ALT),
    "x": (1000, X_ALT),
    "pinterest": (500, PIN_ALT),
    "bluesky": (2000, BSKY_ALT),
    "mastodon": (1500, MASTODON_ALT),
    "linkedin": (1000, LI_ALT),
    "facebook": (1000, FB_ALT),
}


@dataclass(frozen=True)
class ImageSize:
    name: str  # "portrait", "square", "landscape", ...
    width: int
    height: int

    @property
    def aspect(self) -> float:
        return self.width / self.height


@dataclass(frozen=True)
class PostingWindow:
    """A recommended window in the audience's local time. weekday: 0=Monday .. 6=Sunday."""

    weekday: int
    start_hour: int
    end_hour: int
    study: str


@dataclass(frozen=True)
class PlatformSpec:
    key: str
    display_name: str
    sizes: tuple[ImageSize, ...]  # first is the default output
    auto_aspect: bool  # pick the size closest to the photo's own aspect
    max_file_bytes: int
    formats: tuple[str, ...]  # accepted output formats, preferred first
    caption_limit: int
    hashtag_min: int
    hashtag_max: int
    alt_text_limit: int
    title_limit: int = 0  # Pinterest pin title
    mention_limit: int = 0  # 0 = no documented cap
    max_side: int = 0  # 0 = no documented cap
    # hashtags go inside the post (they count in X's 280); elsewhere in a first comment
    hashtags_in_post: bool = False
    posting_windows: tuple[PostingWindow, ...] = ()
    sources: Mapping[str, Source] = field(default_factory=dict)

    @property
    def default_size(self) -> ImageSize:
        return self.sizes[0]

    def choose_size(self, width: int, height: int) -> ImageSize:
        """The output size for a photo of this shape: the default, or the closest aspect."""
        if not self.auto_aspect:
            return self.default_size
        aspect = width / height
        return min(self.sizes, key=lambda s: abs(_log_ratio(s.aspect, aspect)))


def _log_ratio(a: float, b: float) -> float:
    import math

    return math.log(a / b)


MB = 1024 * 1024

# Posting windows: Sprout Social 2023 (34k customers), Hootsuite 2023, Iconosquare 2026-02.
SPROUT = "Sprout Social 2023"
HOOTSUITE = "Hootsuite 2023"
ICONOSQUARE = "Iconosquare 2026-02"

_IG_WINDOWS = (
    PostingWindow(0, 10, 12, SPROUT),
    PostingWindow(1, 9, 13, SPROUT),
    PostingWindow(2, 10, 13, SPROUT),
    PostingWindow(4, 9, 11, SPROUT),
    PostingWindow(3, 17, 21, ICONOSQUARE),
    PostingWindow(0, 9, 10, HOOTSUITE),
)
_FB_WINDOWS = (
    PostingWindow(0, 8, 13, SPROUT),
    PostingWindow(1, 8, 13, SPROUT),
    PostingWindow(2, 8, 13, SPROUT),
    PostingWindow(3, 8, 13, SPROUT),
    PostingWindow(0, 10, 11, HOOTSUITE),
)
_LI_WINDOWS = (
    PostingWindow(0, 13, 14, HOOTSUITE),
    PostingWindow(1, 9, 12, SPROUT),
    PostingWindow(2, 9, 12, SPROUT),
    PostingWindow(3, 9, 12, SPROUT),
)
_PIN_WINDOWS = (
    PostingWindow(4, 20, 23, SPROUT),
    PostingWindow(5, 20, 23, SPROUT),
    PostingWindow(6, 20, 23, SPROUT),
)
_X_WINDOWS = (
    PostingWindow(4, 9, 10, HOOTSUITE),
    PostingWindow(1, 9, 12, SPROUT),
    PostingWindow(2, 9, 12, SPROUT),
    PostingWindow(3, 9, 12, SPROUT),
)
_TT_WINDOWS = (
    PostingWindow(6, 13, 14, HOOTSUITE),
    PostingWindow(1, 14, 17, SPROUT),
    PostingWindow(3, 14, 17, SPROUT),
    PostingWindow(4, 14, 17, SPROUT),
)

PLATFORMS: dict[str, PlatformSpec] = {
    "instagram": PlatformSpec(
        key="instagram",
        display_name="Instagram",
        sizes=(
            ImageSize("portrait", 1080, 1350),
            ImageSize("square", 1080, 1080),
            ImageSize("landscape", 1080, 566),
        ),
        auto_aspect=True,
        max_file_bytes=8 * MB,
        formats=("JPEG", "PNG"),
        caption_limit=2200,
        hashtag_min=3,
        hashtag_max=5,
        alt_text_limit=ALT_TEXT_LIMITS["instagram"][0],
        mention_limit=3,
        posting_windows=_IG_WINDOWS,
        sources={
            "sizes": POSTYBIRB_762,
            "file": AYRSHARE,
            "caption": AYRSHARE,
            "hashtags": IG_HASHTAG_CAP,
            "mentions": AYRSHARE,
            "alt_text": ALT_TEXT_LIMITS["instagram"][1],
        },
    ),
    "facebook": PlatformSpec(
        key="facebook",
        display_name="Facebook",
        sizes=(ImageSize("landscape", 1200, 630), ImageSize("square", 1080, 1080)),
        auto_aspect=False,
        max_file_bytes=10 * MB,
        formats=("JPEG", "PNG"),
        caption_limit=63206,
        hashtag_min=0,
        hashtag_max=2,
        alt_text_limit=ALT_TEXT_LIMITS["facebook"][0],
        max_side=2048,
        posting_windows=_FB_WINDOWS,
        sources={
            "sizes": AYRSHARE,
            "file": AYRSHARE,
            "caption": AYRSHARE,
            "hashtags": SEED,
            "alt_text": ALT_TEXT_LIMITS["facebook"][1],
        },
    ),
    "linkedin": PlatformSpec(
        key="linkedin",
        display_name="LinkedIn",
        sizes=(ImageSize("landscape", 1200, 627), ImageSize("square", 1080, 1080)),
        auto_aspect=False,
        max_file_bytes=5 * MB,  # Ayrshare 5 MB vs Late 8 MB: stricter wins
        formats=("JPEG", "PNG"),
        caption_limit=3000,
        hashtag_min=3,
        hashtag_max=5,
        alt_text_limit=ALT_TEXT_LIMITS["linkedin"][0],
        posting_windows=_LI_WINDOWS,
        sources={
            "sizes": AYRSHARE,
            "file": AYRSHARE,
            "caption": AYRSHARE,
            "hashtags": SEED,
            "alt_text": ALT_TEXT_LIMITS["linkedin"][1],
        },
    ),
    "pinterest": PlatformSpec(
        key="pinterest",
        display_name="Pinterest",
        sizes=(ImageSize("portrait", 1000, 1500),),
        auto_aspect=False,
        max_file_bytes=20 * MB,  # Ayrshare 20 MB vs Late 32 MB: stricter wins
        formats=("JPEG", "PNG"),
        caption_limit=500,
        hashtag_min=2,
        hashtag_max=5,
        alt_text_limit=ALT_TEXT_LIMITS["pinterest"][0],
        title_limit=100,
        posting_windows=_PIN_WINDOWS,
        sources={
            "sizes": AYRSHARE,
            "file": AYRSHARE,
            "caption": LATE,
            "hashtags": SEED,
            "alt_text": ALT_TEXT_LIMITS["pinterest"][1],
        },
    ),
    "x": PlatformSpec(
        key="x",
        display_name="X",
        sizes=(ImageSize("landscape", 1200, 675),),
        auto_aspect=False,
        max_file_bytes=5 * MB,
        formats=("JPEG", "PNG"),
        caption_limit=280,
        hashtag_min=1,
        hashtag_max=2,
        alt_text_limit=ALT_TEXT_LIMITS["x"][0],
        max_side=8192,
        hashtags_in_post=True,
        posting_windows=_X_WINDOWS,
        sources={
            "sizes": AYRSHARE,
            "file": AYRSHARE,
            "caption": AYRSHARE,
            "hashtags": SEED,
            "alt_text": ALT_TEXT_LIMITS["x"][1],
        },
    ),
    "tiktok": PlatformSpec(
        key="tiktok",
        display_name="TikTok",
        sizes=(ImageSize("portrait", 1080, 1920), ImageSize("landscape", 1920, 1080)),
        auto_aspect=False,
        max_file_bytes=20 * MB,
        formats=("JPEG",),  # Ayrshare says JPEG only
        caption_limit=2200,
        hashtag_min=3,
        hashtag_max=6,
        alt_text_limit=0,  # TikTok photo posts take no alt text
        title_limit=90,
        posting_windows=_TT_WINDOWS,
        sources={"sizes": ZERNIO, "file": AYRSHARE, "caption": AYRSHARE, "hashtags": SEED},
    ),
}

PLATFORM_KEYS: tuple[str, ...] = tuple(PLATFORMS)

ALIASES = {
    "twitter": "x",
    "x.com": "x",
    "ig": "instagram",
    "insta": "instagram",
    "fb": "facebook",
    "li": "linkedin",
    "pin": "pinterest",
    "tt": "tiktok",
    "tik-tok": "tiktok",
}


def normalize_platform(name: str) -> str:
    """Return the canonical key for a platform name or alias, or raise UNKNOWN_PLATFORM."""
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    if key not in PLATFORMS:
        raise OptionsError(
            f"'{name}' is not a platform I know. Choose from: {', '.join(PLATFORM_KEYS)}.",
            code="UNKNOWN_PLATFORM",
        )
    return key


def parse_platforms(names: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Canonical, de-duplicated platform keys in the given order; `all` means every one."""
    out: list[str] = []
    for raw in names:
        for name in str(raw).replace(",", " ").split():
            keys = PLATFORM_KEYS if name.lower() == "all" else (normalize_platform(name),)
            out.extend(k for k in keys if k not in out)
    if not out:
        raise OptionsError("Pick at least one platform.", code="NO_PLATFORMS")
    return tuple(out)


def get_spec(key: str, hashtag_limits: Mapping[str, int] | None = None) -> PlatformSpec:
    """The spec for a platform, with a configured hashtag cap applied."""
    spec = PLATFORMS[normalize_platform(key)]
    if hashtag_limits and spec.key in hashtag_limits:
        cap = max(0, int(hashtag_limits[spec.key]))
        spec = replace(spec, hashtag_max=cap, hashtag_min=min(spec.hashtag_min, cap))
    return spec
