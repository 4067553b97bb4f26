"""Platform facts: image sizes, text limits, hashtag caps and posting-time studies.

Every number carries where it was seen and when (collected 2026-11, extended 2026-11-30 with
Threads, Bluesky and Mastodon; see shared/platform-facts.md). Where sources disagree the
stricter value is the default. Where a platform documents no number and we had to pick one
(an output size, a hashtag range), the source is OUR_CHOICE and says so.

`get_spec(key, limits)` applies overrides from one plain mapping (`LIMIT_KEYS`): a bare platform
key caps its hashtags (the HASHTAG_LIMITS setting), `mastodon.caption` / `mastodon.items` carry a
Mastodon server's own limits (read from its `/api/v2/instance`, see `mastodon_limits`) and
`instagram.portrait` picks Instagram's 3:4 portrait (`size_choice`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from math import gcd
from typing import Any

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
# Threads, Bluesky and Mastodon, Instagram 3:4 and carousels (shared/platform-facts.md, "More
# platforms", "Carousels", checked 2026-11-30).
BSKY_POST = Source(
    "bluesky-social/atproto lexicons/app/bsky/feed/post.json: text 300 graphemes, 3,000 bytes",
    "2026-11-30",
)
BSKY_IMAGES = Source(
    "bluesky-social/social-app src/lib/constants.ts, PR #10073: images up to 2,000,000 bytes "
    "and 4000 px on the long side (raised from 1 MB / 2000 px around 2026-04); JPEG/PNG/WebP",
    "2026-11-30",
)
BSKY_ITEMS = Source(
    "atproto app.bsky.embed.images: 4 images (10 in the gallery embed, ~2026-06)", "2026-11-30"
)
THREADS_DOCS = Source(
    "developers.facebook.com Threads posts reference and accessibility page (updated "
    "2026-04-14): JPEG/PNG up to 8 MB, width 320-1440 px, 500 characters, one topic tag, "
    "alt_text, carousel up to 20",
    "2026-11-30",
)
MASTODON_MEDIA = Source(
    "mastodon/mastodon app/models/media_attachment.rb: 4.2 default about 16 MB, up to "
    "7680x4320, 4 attachments (max_media_attachments)",
    "2026-11-30",
)
MASTODON_INSTANCE = Source(
    "Mastodon instance API docs: /api/v2/instance configuration.statuses.max_characters "
    "(500 by default, per server)",
    "2026-11-30",
)
MASTODON_TAGS = Source(
    "Mastodon: hashtags are normal in posts; CamelCase lets screen readers read the words",
    "2026-11-30",
)
IG_3X4 = Source(
    "postybirb PR #762 citing Instagram help: 3:4 (1080x1440) in the app since 2025, profile "
    "grid 3:4; the publishing API lists 4:5..1.91:1, so 4:5 stays the default",
    "2026-11-30",
)
CAROUSELS = Source(
    "Instagram content publishing docs, events-tracker PR #2099 (10 children); Later help "
    "(TikTok 1-35); Ayrshare media guidelines (LinkedIn 20, Pinterest 5); X media docs (4)",
    "2026-11-30",
)
OUR_CHOICE = Source(
    "socialopt's choice: the platform documents no number here (within its documented limits)",
    "2026-11-30",
)

# Alt text limits (checked 2026-11-30, shared/platform-facts.md "Alt text limits"). Where a
# platform takes alt text but documents no limit, we cap it like Instagram and say so.
IG_ALT = Source("Instagram content publishing API: alt_text, images (2025-03-24)", "2026-11-30")
X_ALT = Source("docs.x.com media metadata: alt text up to 1,000 characters", "2026-11-30")
PIN_ALT = Source("Ayrshare Pinterest: alt text up to 500 characters", "2026-11-30")
BSKY_ALT = Source("bluesky-social/atproto lexicon app.bsky.embed.images: alt 2,000", "2026-11-30")
MASTODON_ALT = Source("mastodon/mastodon app/models/media_attachment.rb: 1,500", "2026-11-30")
LI_ALT = Source("LinkedIn API altText: supported, no documented limit (our cap)", "2026-11-30")
THREADS_ALT = Source(
    "Threads API alt_text: supported, no documented limit (our cap)", "2026-11-30"
)
FB_ALT = Source("Facebook photo alt text: no documented limit found (our cap)", "2026-11-30")
ALT_TEXT_LIMITS: dict[str, tuple[int, Source]] = {
    "instagram": (1000, IG_ALT),
    "x": (1000, X_ALT),
    "pinterest": (500, PIN_ALT),
    "bluesky": (2000, BSKY_ALT),
    "mastodon": (1500, MASTODON_ALT),
    "linkedin": (1000, LI_ALT),
    "facebook": (1000, FB_ALT),
    "threads": (1000, THREADS_ALT),
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
    # how the caption limit is counted: "chars" (code points), "x" (X's weighted count) or
    # "graphemes" (user-perceived characters, Bluesky); caption_bytes: a UTF-8 cap besides it
    counting: str = "chars"
    caption_bytes: int = 0  # 0 = none
    max_items: int = 1  # images in one post (a carousel or album)
    # other sizes a person may choose instead of the one of the same orientation (size_choice)
    choices: tuple[ImageSize, ...] = ()
    width_range: tuple[int, int] = (0, 0)  # documented output widths (0, 0) = none

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
    return math.log(a / b)


def _sizes(long_side: int, *ratios: tuple[str, int, int]) -> tuple[ImageSize, ...]:
    """Sizes whose long side is `long_side`, one per (name, ratio w, ratio h)."""
    out = []
    for name, rw, rh in ratios:
        k = long_side / max(rw, rh)
        out.append(ImageSize(name, round(rw * k), round(rh * k)))
    return tuple(out)


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
# Threads, Bluesky and Mastodon: no dated study of posting times in the platform facts
# (checked 2026-11-30), so none are given; posting.no_study_note says so instead.
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
        max_items=10,  # through the publishing API (20 in the app)
        choices=(ImageSize("portrait_3x4", 1080, 1440),),
        width_range=(320, 1440),  # publishing API
        sources={
            "sizes": POSTYBIRB_762,
            "choices": IG_3X4,
            "items": CAROUSELS,
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
        max_items=10,
        sources={
            "items": CAROUSELS,
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
        max_items=20,
        sources={
            "items": CAROUSELS,
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
        max_items=5,  # a carousel's slides all share one size
        sources={
            "items": CAROUSELS,
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
        counting="x",
        max_items=4,
        sources={
            "items": CAROUSELS,
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
        max_items=35,  # photo mode; the first photo is the cover
        sources={
            "sizes": ZERNIO,
            "file": AYRSHARE,
            "caption": AYRSHARE,
            "hashtags": SEED,
            "items": CAROUSELS,
        },
    ),
    "threads": PlatformSpec(
        key="threads",
        display_name="Threads",
        # width 320-1440 px (we use the widest), aspect up to 10:1; shapes as Instagram's
        sizes=(
            ImageSize("portrait", 1440, 1800),
            ImageSize("square", 1440, 1440),
            ImageSize("landscape", 1440, 754),
        ),
        auto_aspect=True,
        max_file_bytes=8 * MB,
        formats=("JPEG", "PNG"),
        caption_limit=500,
        hashtag_min=1,
        hashtag_max=1,  # one topic tag per post
        alt_text_limit=ALT_TEXT_LIMITS["threads"][0],
        hashtags_in_post=True,  # the topic tag is part of the post
        max_items=20,
        width_range=(320, 1440),
        sources={
            "sizes": THREADS_DOCS,
            "shapes": OUR_CHOICE,
            "file": THREADS_DOCS,
            "caption": THREADS_DOCS,
            "hashtags": THREADS_DOCS,
            "alt_text": ALT_TEXT_LIMITS["threads"][1],
            "items": THREADS_DOCS,
        },
    ),
    "bluesky": PlatformSpec(
        key="bluesky",
        display_name="Bluesky",
        # up to 4000 px on the long side; 2000 keeps a detailed photo under the 2,000,000-byte
        # cap at a good JPEG quality (at 4000 px it would need quality 40 or softening)
        sizes=_sizes(2000, ("landscape", 16, 9), ("square", 1, 1), ("portrait", 3, 4)),
        auto_aspect=True,
        max_file_bytes=2_000_000,  # bytes, not MiB
        formats=("JPEG", "PNG", "WEBP"),
        caption_limit=300,
        counting="graphemes",
        caption_bytes=3000,
        hashtag_min=1,
        hashtag_max=3,  # no documented cap; tags count in the 300 graphemes
        alt_text_limit=ALT_TEXT_LIMITS["bluesky"][0],
        max_side=4000,
        hashtags_in_post=True,  # a tag is a facet of the post text
        max_items=4,
        sources={
            "sizes": OUR_CHOICE,
            "max_side": BSKY_IMAGES,
            "file": BSKY_IMAGES,
            "caption": BSKY_POST,
            "hashtags": OUR_CHOICE,
            "alt_text": ALT_TEXT_LIMITS["bluesky"][1],
            "items": BSKY_ITEMS,
        },
    ),
    "mastodon": PlatformSpec(
        key="mastodon",
        display_name="Mastodon",
        # per server (up to about 7680x4320); a 1920 px long side is shown sharp everywhere
        sizes=_sizes(1920, ("landscape", 16, 9), ("square", 1, 1), ("portrait", 4, 5)),
        auto_aspect=True,
        max_file_bytes=16 * MB,  # the 4.2 default; a server may set less
        formats=("JPEG", "PNG"),
        caption_limit=500,  # the default; a server's own comes from /api/v2/instance
        hashtag_min=2,
        hashtag_max=5,  # no platform cap: our range
        alt_text_limit=ALT_TEXT_LIMITS["mastodon"][0],
        max_side=7680,
        hashtags_in_post=True,  # hashtags are normal in a post (a reply would not be found)
        max_items=4,  # hashtags: CamelCase (as everywhere here) for screen readers
        sources={
            "sizes": OUR_CHOICE,
            "max_side": MASTODON_MEDIA,
            "file": MASTODON_MEDIA,
            "caption": MASTODON_INSTANCE,
            "hashtags": MASTODON_TAGS,
            "hashtag_range": OUR_CHOICE,
            "alt_text": ALT_TEXT_LIMITS["mastodon"][1],
            "items": MASTODON_MEDIA,
        },
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
    "bsky": "bluesky",
    "bsky.app": "bluesky",
    "threads.net": "threads",
    "fediverse": "mastodon",
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


# -- overrides: one plain mapping, threaded through the job like the hashtag caps ----------

CAPTION_KEY = "caption"  # "<platform>.caption": caption limit (a Mastodon server's own)
ITEMS_KEY = "items"  # "<platform>.items": images per post (a Mastodon server's own)
PORTRAIT_KEY = "portrait"  # "<platform>.portrait": height of the chosen portrait size
LIMIT_KEYS = (CAPTION_KEY, ITEMS_KEY, PORTRAIT_KEY)


def limit_key(platform: str, what: str) -> str:
    """The override key for one of LIMIT_KEYS of a platform ("mastodon.caption")."""
    return f"{platform}.{what}"


def portrait_ratios(spec: PlatformSpec) -> dict[str, ImageSize]:
    """The portrait sizes a person may choose for `spec`, by ratio ("4:5", "3:4")."""
    out: dict[str, ImageSize] = {}
    for size in (*spec.sizes, *spec.choices):
        if size.height > size.width:
            g = gcd(size.width, size.height)
            out.setdefault(f"{size.width // g}:{size.height // g}", size)
    return out


def size_choice(platform: str, ratio: str) -> dict[str, int]:
    """The override that makes `platform` use its `ratio` portrait ("3:4") for portrait
    photos; {} for the default. OptionsError UNKNOWN_RATIO for a ratio it does not offer."""
    spec = PLATFORMS[normalize_platform(platform)]
    ratios = portrait_ratios(spec)
    value = (ratio or "").strip().replace("x", ":").replace("/", ":")
    if value not in ratios:
        offered = ", ".join(ratios) or "none"
        raise OptionsError(
            f"{spec.display_name} offers no {ratio!r} portrait; choose from: {offered}.",
            code="UNKNOWN_RATIO",
        )
    if ratios[value] == next(s for s in spec.sizes if s.height > s.width):
        return {}
    return {limit_key(spec.key, PORTRAIT_KEY): ratios[value].height}


def _positive(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise OptionsError(
            f"{what} must be a positive whole number, got {value!r}.", code="BAD_LIMIT"
        )
    return value


def mastodon_limits(instance: Any) -> dict[str, int]:
    """Overrides from a Mastodon server's `/api/v2/instance` document: its caption limit
    (configuration.statuses.max_characters) and images per post (max_media_attachments).
    OptionsError MASTODON_INSTANCE_INVALID when the document has no such numbers."""
    try:
        statuses = instance["configuration"]["statuses"]
        chars = _positive(statuses["max_characters"], "max_characters")
    except (KeyError, TypeError, OptionsError) as exc:
        raise OptionsError(
            "The Mastodon server's /api/v2/instance has no configuration.statuses."
            f"max_characters ({type(exc).__name__}: {exc}).",
            code="MASTODON_INSTANCE_INVALID",
        ) from None
    out = {limit_key("mastodon", CAPTION_KEY): chars}
    items = statuses.get("max_media_attachments")
    if isinstance(items, int) and not isinstance(items, bool) and items > 0:
        out[limit_key("mastodon", ITEMS_KEY)] = items
    return out


def _with_portrait(spec: PlatformSpec, height: int) -> PlatformSpec:
    chosen = next((s for s in (*spec.sizes, *spec.choices) if s.height == height), None)
    if chosen is None or chosen.height <= chosen.width:
        offered = ", ".join(portrait_ratios(spec)) or "none"
        raise OptionsError(
            f"{spec.display_name} has no portrait size {height} px high; ratios: {offered}.",
            code="UNKNOWN_RATIO",
        )
    sizes = tuple(chosen if s.height > s.width else s for s in spec.sizes)
    return replace(spec, sizes=sizes)


def get_spec(key: str, limits: Mapping[str, int] | None = None) -> PlatformSpec:
    """The spec for a platform with overrides applied: `limits[key]` caps its hashtags
    (HASHTAG_LIMITS); `limits["<key>.caption"]`, `["<key>.items"]` and `["<key>.portrait"]`
    (see LIMIT_KEYS) set its caption limit, images per post and portrait size."""
    spec = PLATFORMS[normalize_platform(key)]
    if not limits:
        return spec
    if spec.key in limits:
        cap = max(0, int(limits[spec.key]))
        spec = replace(spec, hashtag_max=cap, hashtag_min=min(spec.hashtag_min, cap))
    caption = limits.get(limit_key(spec.key, CAPTION_KEY))
    if caption is not None:
        spec = replace(
            spec, caption_limit=_positive(caption, f"{spec.display_name} caption limit")
        )
    items = limits.get(limit_key(spec.key, ITEMS_KEY))
    if items is not None:
        spec = replace(spec, max_items=_positive(items, f"{spec.display_name} images per post"))
    portrait = limits.get(limit_key(spec.key, PORTRAIT_KEY))
    if portrait is not None:
        spec = _with_portrait(spec, int(portrait))
    return spec
