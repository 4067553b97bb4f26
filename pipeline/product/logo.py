"""Place a brand logo: position, size as a share of the width, margin, opacity, contrast."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, UnidentifiedImageError

from pipeline import rules
from pipeline.errors import OptionsError
from pipeline.models import LogoOptions

MIN_CONTRAST = 0.25  # luminance difference (0..1) below which the logo gets help
MAX_LOGO_PIXELS = 25_000_000


@dataclass(frozen=True)
class LogoPlacement:
    box: tuple[int, int, int, int]  # where the logo landed
    treatment: str  # none | recoloured | plate
    position: str = ""  # the corner used (auto and a covered corner resolve to one)


def load_logo(data: bytes) -> Image.Image:
    """Decode logo bytes to RGBA; OptionsError INVALID_LOGO when they are not an image."""
    if not data:
        raise OptionsError("The logo file is empty.", code="INVALID_LOGO")
    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.width * im.height > MAX_LOGO_PIXELS:
                raise OptionsError(
                    "The logo image is too large (over 25 megapixels).", code="INVALID_LOGO"
                )
            im.load()
            return im.convert("RGBA")
    except OptionsError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise OptionsError(
            "The logo is not a PNG or JPEG image that can be read.", code="INVALID_LOGO"
        ) from exc


def validate_logo(logo: LogoOptions) -> None:
    """Check the options and that the bytes decode (raises OptionsError INVALID_LOGO)."""
    rules.logo_position(logo.position)
    rules.logo_size_pct(logo.size_pct)
    if not 0 <= logo.opacity <= 1:
        raise OptionsError("Logo opacity must be between 0 and 1.", code="INVALID_LOGO")
    load_logo(logo.image)


def _luminance(rgb: np.ndarray) -> np.ndarray:
    return (0.2126 * rgb[..., 0] + 0.7152 * rgb[..., 1] + 0.0722 * rgb[..., 2]) / 255.0


def apply_logo(
    img: Image.Image, logo: LogoOptions, avoid: Image.Image | None = None
) -> Image.Image:
    """The image with the logo placed on it (same size and mode); see `place_logo`."""
    return place_logo(img, logo, avoid)[0]


CORNERS = ("top-left", "top-right", "bottom-left", "bottom-right")
MIN_SHRINK = 0.5  # a logo may shrink to half its asked size to stay off the subject


def _origin(position: str, W: int, H: int, lw: int, lh: int, margin: int) -> tuple[int, int]:
    if position == "center":
        return max(0, (W - lw) // 2), max(0, (H - lh) // 2)
    vertical, horizontal = position.split("-")  # a corner: top|bottom - left|right
    x = margin if horizontal == "left" else W - margin - lw
    y = margin if vertical == "top" else H - margin - lh
    return max(0, x), max(0, y)


def _detail(img: Image.Image) -> np.ndarray:
    """Local detail (gradient magnitude of the luminance), float32 at the image's size."""
    gray = np.asarray(img.convert("L"), dtype=np.float32)
    gx = np.abs(np.diff(gray, axis=1, append=gray[:, -1:]))
    gy = np.abs(np.diff(gray, axis=0, append=gray[-1:, :]))
    return gx + gy


def choose_corner(
    img: Image.Image,
    size: tuple[int, int],
    margin: int,
    avoid: Image.Image | None,
    preferred: str = "auto",
) -> tuple[str, float]:
    """The corner for a logo of `size`: the preferred one when it stays off the subject,
    else the emptiest (least subject, then least detail). Returns (corner, subject overlap
    as a share of the logo's box)."""
    W, H = img.size
    lw, lh = size
    subject = None if avoid is None else np.asarray(avoid.convert("L"), dtype=np.float32) / 255
    detail = _detail(img)
    scored = []
    for corner in CORNERS:
        x, y = _origin(corner, W, H, lw, lh, margin)
        # the logo's box plus a small clearance, so it never touches the subject's edge
        pad = max(2, margin // 2)
        box = (max(0, x - pad), max(0, y - pad), min(W, x + lw + pad), min(H, y + lh + pad))
        overlap = 0.0
        if subject is not None:
            overlap = float(subject[box[1] : box[3], box[0] : box[2]].mean())
        busy = float(detail[box[1] : box[3], box[0] : box[2]].mean())
        scored.append((overlap > 0.002, overlap, busy, corner))
    if preferred == "center":
        x, y = _origin("center", W, H, lw, lh, margin)
        overlap = 0.0 if subject is None else float(subject[y : y + lh, x : x + lw].mean())
        if overlap <= 0.002:
            return preferred, overlap
    elif preferred in CORNERS:
        mine = next(s for s in scored if s[3] == preferred)
        if not mine[0]:
            return preferred, mine[1]
    free = [s for s in scored if not s[0]]
    if free:
        best = min(free, key=lambda s: (s[2], s[1]))  # all off the subject: the calmest
    else:  # the subject reaches every corner: the least of it, then the least detail
        best = min(scored, key=lambda s: (round(s[1], 1), s[2]))
    return best[3], best[1]


def place_logo(
    img: Image.Image, logo: LogoOptions, avoid: Image.Image | None = None
) -> tuple[Image.Image, LogoPlacement]:
    """Place the logo and report where and with which contrast treatment.

    `avoid` ("L", the image's size) marks the subject: with position "auto" the logo goes to
    the emptiest corner (least subject, then least detail); a named corner that would cover
    the subject moves to the emptiest free corner, and the logo shrinks (to half at most)
    when no corner is free."""
    validate_logo(logo)
    mark = load_logo(logo.image)
    W, H = img.size
    margin = int(round(W * logo.margin_pct / 100))
    want_w = W * logo.size_pct / 100
    # never upscale past the logo's own resolution; always fit inside the margins
    scale = min(
        1.0,
        want_w / mark.width,
        max(1, W - 2 * margin) / mark.width,
        max(1, H - 2 * margin) / mark.height,
    )
    position = logo.position
    if position == "auto" or avoid is not None:
        shrink = 1.0
        while True:
            lw = max(1, round(mark.width * scale * shrink))
            lh = max(1, round(mark.height * scale * shrink))
            position, overlap = choose_corner(img, (lw, lh), margin, avoid, logo.position)
            if overlap <= 0.002:
                break
            if shrink <= MIN_SHRINK:  # the subject fills every corner (a detail crop):
                shrink = 1.0  # full size on the least detailed corner, not a speck
                lw, lh = round(mark.width * scale), round(mark.height * scale)
                position, _ = choose_corner(img, (max(1, lw), max(1, lh)), margin, avoid)
                break
            shrink = max(MIN_SHRINK, shrink * 0.8)
        scale *= shrink
    lw, lh = max(1, round(mark.width * scale)), max(1, round(mark.height * scale))
    if (lw, lh) != mark.size:
        mark = mark.resize((lw, lh), Image.Resampling.LANCZOS)
    x, y = _origin(position, W, H, lw, lh, margin)
    base = img.convert("RGBA")
    region = np.asarray(base.crop((x, y, x + lw, y + lh)).convert("RGB")).astype(np.float32)
    arr = np.asarray(mark).astype(np.float32)
    alpha = arr[..., 3] / 255.0
    treatment = "none"
    if alpha.sum() > 0:
        logo_l = float((_luminance(arr[..., :3]) * alpha).sum() / alpha.sum())
        spot_l = float(_luminance(region).mean())
        if abs(logo_l - spot_l) < MIN_CONTRAST:
            mark, treatment = _contrast(mark, arr, alpha, logo_l, spot_l)
            if treatment == "plate":
                base.alpha_composite(_plate(mark.size, spot_l, logo_l, logo.opacity), (x, y))
    if logo.opacity < 1:
        a = mark.getchannel("A").point(lambda v: int(round(v * logo.opacity)))
        mark.putalpha(a)
    base.alpha_composite(mark, (x, y))
    out = base if img.mode == "RGBA" else base.convert(img.mode)
    return out, LogoPlacement((x, y, x + lw, y + lh), treatment, position)


def _contrast(
    mark: Image.Image, arr: np.ndarray, alpha: np.ndarray, logo_l: float, spot_l: float
) -> tuple[Image.Image, str]:
    """A one-colour logo is recoloured to contrast with its spot; a colourful one gets a
    semi-transparent backing plate instead (its colours are the brand)."""
    rgb = arr[..., :3]
    sel = alpha > 0.5
    chroma = float((rgb.max(axis=2) - rgb.min(axis=2))[sel].mean()) if sel.any() else 0.0
    spread = float(_luminance(rgb)[sel].std()) if sel.any() else 0.0
    if chroma < 40 and spread < 0.2:
        value = 255 if spot_l < 0.5 else 20
        out = Image.new("RGBA", mark.size, (value, value, value, 0))
        out.putalpha(mark.getchannel("A"))
        return out, "recoloured"
    return mark, "plate"


def _plate(size: tuple[int, int], spot_l: float, logo_l: float, opacity: float) -> Image.Image:
    """A rounded plate whose tone contrasts with the logo, 60% opaque."""
    tone = 20 if logo_l >= 0.5 else 245
    pad = max(2, int(0.08 * min(size)))
    plate = Image.new("RGBA", size, (tone, tone, tone, 0))
    ImageDraw.Draw(plate).rounded_rectangle(
        (0, 0, size[0] - 1, size[1] - 1),
        radius=pad * 2,
        fill=(tone, tone, tone, int(153 * max(opacity, 0.3))),
    )
    return plate
