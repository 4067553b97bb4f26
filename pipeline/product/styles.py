"""The seven product styles: each a function from a cutout (+ the photo, options) to an image.

Every style returns an RGB image of exactly the target size and pastes the subject's own
pixels (only scaled; MACRO also sharpens), so nothing about the product is invented.
Backdrops are built at a fraction of the target size where they are smooth anyway.
"""

from __future__ import annotations

import colorsys
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from pipeline.errors import OptionsError
from pipeline.models import PRODUCT_STYLES
from pipeline.platforms import ImageSize
from pipeline.product.background import Cutout

RGB = tuple[int, int, int]
Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class StyleOptions:
    brand_color: RGB | None = None  # SOLID BACKGROUND colour (white when None)
    surface: str = "paper"  # FLAT LAY texture: paper | wood
    seed: int = 7  # procedural textures are deterministic


@dataclass(frozen=True)
class Placement:
    """Where the subject came from (in cutout.rgba) and where it landed in the output."""

    src_box: Box
    dest_box: Box

    @property
    def scale(self) -> float:
        return (self.dest_box[2] - self.dest_box[0]) / max(1, self.src_box[2] - self.src_box[0])


Composer = Callable[
    [Cutout, Image.Image | None, ImageSize, StyleOptions], tuple[Image.Image, Placement]
]


# ---------------------------------------------------------------- helpers


def _subject(cutout: Cutout) -> tuple[Image.Image, Box]:
    box = cutout.bbox
    return cutout.rgba.crop(box), box


def _fit_scale(w: int, h: int, box_w: float, box_h: float) -> float:
    return min(box_w / w, box_h / h)


def _scaled(sub: Image.Image, scale: float) -> Image.Image:
    size = (max(1, round(sub.width * scale)), max(1, round(sub.height * scale)))
    if size == sub.size:
        return sub
    if scale < 0.5:  # reduce first: fast and still sharp
        factor = int(1 / scale / 1.5)
        if factor >= 2:
            sub = sub.reduce(factor)
    return sub.resize(size, Image.Resampling.LANCZOS)


def _clamp_origin(cx: float, cy: float, w: int, h: int, size: ImageSize) -> tuple[int, int]:
    x = int(round(cx - w / 2))
    y = int(round(cy - h / 2))
    x = min(max(x, 0), max(0, size.width - w))
    y = min(max(y, 0), max(0, size.height - h))
    return x, y


def _gradient(size: ImageSize, top: RGB, bottom: RGB) -> Image.Image:
    t = np.linspace(0.0, 1.0, size.height, dtype=np.float32)[:, None]
    col = np.array(top, np.float32) * (1 - t) + np.array(bottom, np.float32) * t
    strip = Image.fromarray(np.clip(col, 0, 255).astype(np.uint8)[:, None, :], "RGB")
    return strip.resize((size.width, size.height), Image.Resampling.NEAREST)


def _small_field(size: ImageSize, factor: int = 4) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Normalised coordinate grids (-1..1) at 1/factor of the size."""
    w = max(8, size.width // factor)
    h = max(8, size.height // factor)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    return xx / (w - 1) * 2 - 1, yy / (h - 1) * 2 - 1, w, h


def _up(arr: np.ndarray, size: ImageSize) -> Image.Image:
    img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")
    return img.resize((size.width, size.height), Image.Resampling.BICUBIC)


def _paste(canvas: Image.Image, sub: Image.Image, xy: tuple[int, int]) -> None:
    """Composite an RGBA subject onto an RGBA canvas (clipped to the canvas)."""
    x, y = xy
    left, top = max(0, -x), max(0, -y)
    right = min(sub.width, canvas.width - x)
    bottom = min(sub.height, canvas.height - y)
    if right <= left or bottom <= top:
        return
    part = (
        sub
        if (left, top, right, bottom) == (0, 0, sub.width, sub.height)
        else sub.crop((left, top, right, bottom))
    )
    canvas.alpha_composite(part, dest=(x + left, y + top))


def _shadow_layer(
    alpha: Image.Image,
    size: ImageSize,
    xy: tuple[int, int],
    blur: float,
    opacity: float,
    color: RGB = (0, 0, 0),
) -> Image.Image:
    """An RGBA layer holding the subject's silhouette, blurred (computed at 1/4 size)."""
    f = 4
    small = Image.new("L", (max(1, size.width // f), max(1, size.height // f)), 0)
    sa = alpha.resize(
        (max(1, alpha.width // f), max(1, alpha.height // f)), Image.Resampling.BILINEAR
    )
    small.paste(sa, (xy[0] // f, xy[1] // f))
    small = small.filter(ImageFilter.GaussianBlur(max(0.5, blur / f)))
    small = small.point(lambda v: int(v * opacity))
    a = small.resize((size.width, size.height), Image.Resampling.BILINEAR)
    layer = Image.new("RGBA", (size.width, size.height), (*color, 0))
    layer.putalpha(a)
    return layer


def subject_palette(cutout: Cutout) -> tuple[float, float, float]:
    """The subject's dominant hue, saturation and value (0..1), saturation-weighted."""
    small = cutout.rgba.copy()
    small.thumbnail((96, 96), Image.Resampling.BILINEAR)
    arr = np.asarray(small).astype(np.float32) / 255.0
    sel = arr[..., 3] > 0.5
    if not sel.any():
        return 0.0, 0.0, 0.5
    rgb = arr[..., :3][sel]
    mx, mn = rgb.max(axis=1), rgb.min(axis=1)
    sat = np.where(mx > 0, (mx - mn) / np.maximum(mx, 1e-6), 0)
    hsv = np.array([colorsys.rgb_to_hsv(*p) for p in rgb[:: max(1, len(rgb) // 800)]])
    weights = sat[:: max(1, len(rgb) // 800)][: len(hsv)] + 1e-3
    ang = hsv[:, 0] * 2 * np.pi
    hue = (
        np.arctan2((np.sin(ang) * weights).sum(), (np.cos(ang) * weights).sum()) / (2 * np.pi)
    ) % 1.0
    return float(hue), float(sat.mean()), float(mx.mean())


def _hsv(h: float, s: float, v: float) -> RGB:
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, min(max(s, 0), 1), min(max(v, 0), 1))
    return int(r * 255), int(g * 255), int(b * 255)


def _centred(
    cutout: Cutout,
    size: ImageSize,
    box_w: float,
    box_h: float,
    cy: float,
) -> tuple[Image.Image, Box, tuple[int, int]]:
    sub, src = _subject(cutout)
    scale = _fit_scale(sub.width, sub.height, box_w * size.width, box_h * size.height)
    placed = _scaled(sub, scale)
    xy = _clamp_origin(size.width / 2, cy * size.height, placed.width, placed.height, size)
    return placed, src, xy


def _finish(
    canvas: Image.Image,
    placed: Image.Image,
    src: Box,
    xy: tuple[int, int],
) -> tuple[Image.Image, Placement]:
    _paste(canvas, placed, xy)
    dest = (xy[0], xy[1], xy[0] + placed.width, xy[1] + placed.height)
    return canvas.convert("RGB"), Placement(src, dest)


# ---------------------------------------------------------------- the styles


def _floating(
    cutout: Cutout, source: Image.Image | None, size: ImageSize, opts: StyleOptions
) -> tuple[Image.Image, Placement]:
    hue, sat, _ = subject_palette(cutout)
    tint = _hsv(hue, min(sat, 0.5) * 0.12, 0.97)
    bottom = tuple(int(c * 0.88) for c in tint)
    canvas = _gradient(size, tint, bottom).convert("RGBA")  # type: ignore[arg-type]
    placed, src, xy = _centred(cutout, size, 0.64, 0.6, 0.45)
    # soft contact shadow: an ellipse a little below the lifted subject
    gap = int(0.05 * size.height)
    sh_w = placed.width * 0.75
    sh_h = max(6.0, placed.height * 0.07)
    cx = xy[0] + placed.width / 2
    cy = min(xy[1] + placed.height + gap, size.height - sh_h)
    f = 4
    small = Image.new("L", (max(1, size.width // f), max(1, size.height // f)), 0)
    ImageDraw.Draw(small).ellipse(
        ((cx - sh_w / 2) / f, (cy - sh_h / 2) / f, (cx + sh_w / 2) / f, (cy + sh_h / 2) / f),
        fill=120,
    )
    small = small.filter(ImageFilter.GaussianBlur(max(1.0, sh_h / f * 0.6)))
    layer = Image.new("RGBA", canvas.size, (20, 20, 24, 0))
    layer.putalpha(small.resize(canvas.size, Image.Resampling.BILINEAR))
    canvas.alpha_composite(layer)
    return _finish(canvas, placed, src, xy)


def paper_texture(size: ImageSize, seed: int = 7, surface: str = "paper") -> Image.Image:
    """A subtle procedural paper or wood surface (deterministic for a seed)."""
    rng = np.random.default_rng(seed)
    xx, yy, w, h = _small_field(size, 2)
    if surface == "wood":
        base = np.array([176, 132, 92], np.float32)
        warp = Image.fromarray(
            rng.normal(0, 1, (max(2, h // 24), max(2, w // 24))).astype(np.float32)
        ).resize((w, h), Image.Resampling.BICUBIC)
        grain = np.sin((yy * 38 + np.asarray(warp) * 1.6) * np.pi)
        fine = rng.normal(0, 1, (h, w)).astype(np.float32)
        streak = np.asarray(Image.fromarray(fine).resize((max(1, w // 40), h)).resize((w, h)))
        shade = 1 + 0.06 * grain + 0.05 * streak
    else:
        base = np.array([234, 228, 216], np.float32)
        blotch = Image.fromarray(
            rng.normal(0, 1, (max(2, h // 40), max(2, w // 40))).astype(np.float32)
        ).resize((w, h), Image.Resampling.BICUBIC)
        fibre = rng.normal(0, 1, (h, w)).astype(np.float32)
        shade = 1 + 0.018 * np.asarray(blotch) + 0.012 * fibre
    arr = base[None, None, :] * shade[..., None]
    return _up(arr, size)


def _flat_lay(
    cutout: Cutout, source: Image.Image | None, size: ImageSize, opts: StyleOptions
) -> tuple[Image.Image, Placement]:
    canvas = paper_texture(size, opts.seed, opts.surface).convert("RGBA")
    placed, src, xy = _centred(cutout, size, 0.62, 0.62, 0.5)
    off = (xy[0] + int(0.012 * size.width), xy[1] + int(0.018 * size.height))
    blur = 0.018 * min(size.width, size.height)
    canvas.alpha_composite(
        _shadow_layer(placed.getchannel("A"), size, off, blur, 0.38, (40, 30, 20))
    )
    return _finish(canvas, placed, src, xy)


def _lifestyle(
    cutout: Cutout, source: Image.Image | None, size: ImageSize, opts: StyleOptions
) -> tuple[Image.Image, Placement]:
    photo = (source or cutout.rgba).convert("RGB")
    sub, src = _subject(cutout)
    # the subject's centre in the photo, mapped into photo coordinates if sizes differ
    fx = photo.width / cutout.rgba.width
    fy = photo.height / cutout.rgba.height
    scx, scy = (src[0] + src[2]) / 2 * fx, (src[1] + src[3]) / 2 * fy
    cover = max(size.width / photo.width, size.height / photo.height)
    win_w, win_h = size.width / cover, size.height / cover
    left = min(max(scx - win_w / 2, 0), photo.width - win_w)
    top = min(max(scy - win_h / 2, 0), photo.height - win_h)
    # heavy blur and warm grade on a tiny copy, then scaled up (smooth anyway)
    tiny_w, tiny_h = max(8, size.width // 12), max(8, size.height // 12)
    tiny = photo.resize(
        (tiny_w, tiny_h), Image.Resampling.BOX, box=(left, top, left + win_w, top + win_h)
    )
    # take the subject out of the scene (inpainted at this tiny size) so no blurred ghost of it
    # shows around the sharp subject when that is placed smaller than in the photo
    ghost = cutout.mask.resize(
        (tiny_w, tiny_h),
        Image.Resampling.BOX,
        box=(left / fx, top / fy, (left + win_w) / fx, (top + win_h) / fy),
    )
    hole = cv2.dilate((np.asarray(ghost) > 8).astype(np.uint8), np.ones((3, 3), np.uint8))
    if 0 < hole.mean() < 0.9:
        tiny = Image.fromarray(cv2.inpaint(np.asarray(tiny), hole, 3, cv2.INPAINT_TELEA))
    tiny = tiny.filter(ImageFilter.GaussianBlur(2.2))
    arr = np.asarray(tiny).astype(np.float32)
    arr = arr * np.array([1.08, 1.01, 0.86], np.float32) + np.array([14, 8, 0], np.float32)
    arr = arr * 0.9 + arr.mean() * 0.1  # a little softer contrast
    canvas = _up(arr, size).convert("RGBA")
    scale = min(cover, _fit_scale(sub.width, sub.height, 0.72 * size.width, 0.72 * size.height))
    placed = _scaled(sub, scale)
    cx = (scx - left) * cover
    cy = (scy - top) * cover
    xy = _clamp_origin(cx, cy, placed.width, placed.height, size)
    canvas.alpha_composite(
        _shadow_layer(
            placed.getchannel("A"),
            size,
            (xy[0], xy[1] + int(0.01 * size.height)),
            0.02 * size.height,
            0.3,
            (40, 25, 10),
        )
    )
    return _finish(canvas, placed, src, xy)


def _product_art(
    cutout: Cutout, source: Image.Image | None, size: ImageSize, opts: StyleOptions
) -> tuple[Image.Image, Placement]:
    hue, sat, _ = subject_palette(cutout)
    comp = (hue + 0.5) % 1.0 if sat > 0.12 else 0.58
    block_a = _hsv(comp, 0.7, 0.88)
    block_b = _hsv(comp + 0.09, 0.75, 0.55)
    disc = _hsv(hue if sat > 0.12 else 0.08, 0.35, 0.98)
    canvas = Image.new("RGBA", (size.width, size.height), (*block_a, 255))
    draw = ImageDraw.Draw(canvas)
    w, h = size.width, size.height
    draw.polygon([(w * 0.45, h), (w, h * 0.3), (w, h)], fill=(*block_b, 255))
    draw.rectangle((0, h * 0.8, w * 0.18, h), fill=(*disc, 255))
    r = 0.37 * min(w, h)
    draw.ellipse((w / 2 - r, h * 0.5 - r, w / 2 + r, h * 0.5 + r), fill=(*disc, 255))
    placed, src, xy = _centred(cutout, size, 0.6, 0.6, 0.5)
    off = (xy[0] + int(0.025 * w), xy[1] + int(0.025 * w))
    canvas.alpha_composite(
        _shadow_layer(
            placed.getchannel("A"), size, off, 0.5, 0.35, tuple(int(c * 0.5) for c in block_b)
        )
    )  # type: ignore[arg-type]
    return _finish(canvas, placed, src, xy)


def detail_window(cutout: Cutout, aspect: float, share: float = 0.4) -> Box:
    """A window of the target aspect on the subject's most detailed part (for MACRO)."""
    lft, t, r, b = cutout.bbox
    bw, bh = r - lft, b - t
    W, H = cutout.rgba.size
    ww = min(float(W), max(16.0, (share * bw * bh * aspect) ** 0.5))
    wh = ww / aspect
    if wh > H:
        wh, ww = float(H), H * aspect
    # centre of gradient energy inside the subject, measured on a small copy
    small = cutout.rgba.crop((lft, t, r, b))
    small.thumbnail((160, 160), Image.Resampling.BILINEAR)
    arr = np.asarray(small).astype(np.float32)
    gray = arr[..., :3].mean(axis=2)
    gx = np.abs(np.diff(gray, axis=1))[:-1]
    gy = np.abs(np.diff(gray, axis=0))[:, :-1]
    inside = arr[:-1, :-1, 3] > 200
    energy = (gx + gy) * inside
    if energy.sum() > 0:
        ys, xs = np.mgrid[0 : energy.shape[0], 0 : energy.shape[1]]
        ex = (xs * energy).sum() / energy.sum() / small.width
        ey = (ys * energy).sum() / energy.sum() / small.height
        cx, cy = lft + (0.5 * ex + 0.25) * bw, t + (0.5 * ey + 0.25) * bh
    else:
        cx, cy = (lft + r) / 2, (t + b) / 2
    left = min(max(cx - ww / 2, 0), W - ww)
    top = min(max(cy - wh / 2, 0), H - wh)
    return int(round(left)), int(round(top)), int(round(left + ww)), int(round(top + wh))


def _macro(
    cutout: Cutout, source: Image.Image | None, size: ImageSize, opts: StyleOptions
) -> tuple[Image.Image, Placement]:
    box = detail_window(cutout, size.aspect)
    crop = cutout.rgba.crop(box)
    # shallow depth of field: the backdrop around the subject blurred, the subject sharp
    bw, bh = crop.size
    soft = crop.convert("RGB").resize((max(1, bw // 8), max(1, bh // 8)), Image.Resampling.BOX)
    soft = soft.filter(ImageFilter.GaussianBlur(1.5)).resize(crop.size, Image.Resampling.BICUBIC)
    soft = soft.convert("RGBA")
    soft.alpha_composite(crop)
    out = soft.convert("RGB").resize((size.width, size.height), Image.Resampling.LANCZOS)
    out = out.filter(ImageFilter.UnsharpMask(radius=2, percent=90, threshold=3))
    return out, Placement(box, (0, 0, size.width, size.height))


def _dark_moody(
    cutout: Cutout, source: Image.Image | None, size: ImageSize, opts: StyleOptions
) -> tuple[Image.Image, Placement]:
    xx, yy, w, h = _small_field(size, 4)
    t = (yy + 1) / 2
    top = np.array([40, 36, 42], np.float32)
    bottom = np.array([9, 9, 11], np.float32)
    arr = top * (1 - t[..., None]) + bottom * t[..., None]
    glow = np.exp(-((xx / 0.55) ** 2 + ((yy - 0.05) / 0.5) ** 2))
    arr += glow[..., None] * np.array([38, 28, 18], np.float32)
    vignette = 1 - 0.55 * np.clip((xx**2 + yy**2) / 2, 0, 1) ** 0.8
    canvas = _up(arr * vignette[..., None], size).convert("RGBA")
    placed, src, xy = _centred(cutout, size, 0.6, 0.6, 0.52)
    # rim light: a warm glow just outside the subject's edge
    alpha = placed.getchannel("A")
    f = 2
    a_small = Image.new("L", (size.width // f, size.height // f), 0)
    a_small.paste(
        alpha.resize(
            (max(1, alpha.width // f), max(1, alpha.height // f)), Image.Resampling.BILINEAR
        ),
        (xy[0] // f, xy[1] // f),
    )
    spread = a_small.filter(ImageFilter.GaussianBlur(max(1.0, 0.008 * size.height)))
    a = np.asarray(a_small).astype(np.float32)
    s = np.asarray(spread).astype(np.float32)
    rim = np.clip((s - a) * 1.7, 0, 255).astype(np.uint8)
    rim_img = Image.fromarray(rim).resize(canvas.size, Image.Resampling.BILINEAR)
    layer = Image.new("RGBA", canvas.size, (255, 228, 190, 0))
    layer.putalpha(rim_img)
    canvas.alpha_composite(layer)
    return _finish(canvas, placed, src, xy)


def _solid_background(
    cutout: Cutout, source: Image.Image | None, size: ImageSize, opts: StyleOptions
) -> tuple[Image.Image, Placement]:
    color = opts.brand_color or (255, 255, 255)
    canvas = Image.new("RGBA", (size.width, size.height), (*color, 255))
    placed, src, xy = _centred(cutout, size, 0.8, 0.8, 0.5)  # 10% padding each side
    return _finish(canvas, placed, src, xy)


_COMPOSERS: dict[str, Composer] = {
    "floating": _floating,
    "flat_lay": _flat_lay,
    "lifestyle": _lifestyle,
    "product_art": _product_art,
    "macro": _macro,
    "dark_moody": _dark_moody,
    "solid_background": _solid_background,
}
assert tuple(_COMPOSERS) == PRODUCT_STYLES


def compose_style(
    style: str,
    cutout: Cutout,
    source_img: Image.Image | None,
    size: ImageSize,
    options: StyleOptions | None = None,
) -> tuple[Image.Image, Placement]:
    """Render a style and say where the subject went (tests check its pixels there)."""
    try:
        fn = _COMPOSERS[style]
    except KeyError:
        raise OptionsError(
            f"Unknown product style {style!r}; choose from {', '.join(PRODUCT_STYLES)}.",
            code="UNKNOWN_STYLE",
        ) from None
    img, placement = fn(cutout, source_img, size, options or StyleOptions())
    if img.size != (size.width, size.height):  # never expected; keep the contract anyway
        img = img.resize((size.width, size.height), Image.Resampling.LANCZOS)
    return img, placement


def render_style(
    style: str,
    cutout: Cutout,
    source_img: Image.Image | None,
    size: ImageSize,
    options: StyleOptions | None = None,
) -> Image.Image:
    """One product style at exactly `size` (RGB)."""
    return compose_style(style, cutout, source_img, size, options)[0]


def _public(style: str) -> Callable[..., Image.Image]:
    def fn(
        cutout: Cutout,
        source_img: Image.Image | None,
        size: ImageSize,
        options: StyleOptions | None = None,
    ) -> Image.Image:
        return render_style(style, cutout, source_img, size, options)

    fn.__name__ = style
    fn.__doc__ = f"The {style.replace('_', ' ').upper()} style at exactly `size`."
    return fn


floating = _public("floating")
flat_lay = _public("flat_lay")
lifestyle = _public("lifestyle")
product_art = _public("product_art")
macro = _public("macro")
dark_moody = _public("dark_moody")
solid_background = _public("solid_background")
