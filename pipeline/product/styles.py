"""The seven product styles: each a function from a cutout (+ the photo, options) to an image.

Every style returns an RGB image of exactly the target size and pastes the subject's own
pixels (scaled; FLAT LAY turns it a little as if placed by hand; MACRO crops the full-resolution
photo), so nothing about the product is invented. Edge pixels get the subject's own colour
(`defringe`), so no rim of the old backdrop shows on a new one. `Placement.mask` says where the
subject landed, so a logo can keep off it. Backdrops are built at a fraction of the target size
where they are smooth anyway.
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
    mask: Image.Image | None = None  # "L" at the output size: where the subject is (for a logo)

    @property
    def scale(self) -> float:
        return (self.dest_box[2] - self.dest_box[0]) / max(1, self.src_box[2] - self.src_box[0])


Composer = Callable[
    [Cutout, Image.Image | None, ImageSize, StyleOptions], tuple[Image.Image, Placement]
]


# ---------------------------------------------------------------- helpers


def _subject(cutout: Cutout) -> tuple[Image.Image, Box]:
    box = cutout.bbox
    return defringe(cutout.rgba.crop(box)), box


def defringe(rgba: Image.Image, radius: float = 2.5) -> Image.Image:
    """Replace the colour of semi-transparent edge pixels with the subject's own nearby
    colour, so the old backdrop does not shine through as a light (or dark) fringe."""
    arr = np.asarray(rgba).astype(np.float32)
    a = arr[..., 3] / 255.0
    edge = (a > 0.0) & (a < 0.98)
    if not edge.any():
        return rgba
    inner = cv2.erode((a >= 0.98).astype(np.uint8), np.ones((3, 3), np.uint8)).astype(np.float32)
    if inner.sum() < 16:
        return rgba
    num = cv2.GaussianBlur(arr[..., :3] * inner[..., None], (0, 0), radius)
    den = cv2.GaussianBlur(inner, (0, 0), radius)[..., None]
    est = num / np.maximum(den, 1e-4)
    ok = edge & (den[..., 0] > 0.02)
    out = arr.copy()
    out[..., :3][ok] = est[ok]
    return Image.fromarray(np.clip(out + 0.5, 0, 255).astype(np.uint8), "RGBA")


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
    mask = Image.new("L", canvas.size, 0)
    mask.paste(placed.getchannel("A"), xy)
    return canvas.convert("RGB"), Placement(src, dest, mask)


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
        shade = 1 + 0.011 * np.asarray(blotch) + 0.012 * fibre
    arr = base[None, None, :] * shade[..., None]
    return _up(arr, size)


FLAT_LAY_ANGLE = -8.0  # degrees: lying on the surface, placed by hand, seen from above


def _flat_lay(
    cutout: Cutout, source: Image.Image | None, size: ImageSize, opts: StyleOptions
) -> tuple[Image.Image, Placement]:
    """Top-down: the product lies on a textured surface under even overhead light, turned
    a little as a hand would place it, its soft shadow directly beneath (no props)."""
    canvas = paper_texture(size, opts.seed, opts.surface)
    xx, yy, w, h = _small_field(size, 8)
    light = 1.0 - 0.10 * np.clip(xx**2 + yy**2, 0, 2) / 2  # even light, soft falloff
    canvas = Image.fromarray(
        np.clip(
            np.asarray(canvas).astype(np.float32)
            * np.asarray(Image.fromarray(light).resize(canvas.size, Image.Resampling.BILINEAR))[
                ..., None
            ],
            0,
            255,
        ).astype(np.uint8)
    ).convert("RGBA")
    sub, src = _subject(cutout)
    turned = sub.rotate(FLAT_LAY_ANGLE, Image.Resampling.BICUBIC, expand=True)
    scale = _fit_scale(turned.width, turned.height, 0.66 * size.width, 0.66 * size.height)
    placed = _scaled(turned, scale)
    xy = _clamp_origin(size.width / 2, size.height / 2, placed.width, placed.height, size)
    alpha = placed.getchannel("A")
    short = min(size.width, size.height)
    # overhead light: a tight contact shadow and a wider, fainter one, both nearly centred
    for off, blur, opacity in ((0.006, 0.006, 0.45), (0.014, 0.03, 0.3)):
        d = int(off * short)
        canvas.alpha_composite(
            _shadow_layer(
                alpha, size, (xy[0] + d // 2, xy[1] + d), blur * short, opacity, (45, 35, 25)
            )
        )
    return _finish(canvas, placed, src, xy)


def _plank_texture(w: int, h: int, seed: int) -> Image.Image:
    """Oiled oak seen from above: long grain streaks along the planks (which run away from
    the viewer), a few plank joints, no repeating waves (they alias in perspective)."""
    rng = np.random.default_rng(seed)
    base = np.array([168, 124, 86], np.float32)
    streak = rng.normal(0, 1, max(4, w // 3)).astype(np.float32)
    streak = cv2.GaussianBlur(streak[None, :], (0, 0), 1.2)[0]
    streak = cv2.resize(streak[None, :], (w, 1), interpolation=cv2.INTER_CUBIC)[0]
    slow = cv2.resize(
        rng.normal(0, 1, (max(2, h // 60), max(2, w // 30))).astype(np.float32),
        (w, h),
        interpolation=cv2.INTER_CUBIC,
    )
    shade = 1 + 0.05 * streak[None, :] + 0.035 * slow
    planks = max(3, w // 260)
    for k in range(1, planks):  # thin dark joints between planks
        x = int(k * w / planks)
        shade[:, max(0, x - 1) : x + 1] *= 0.82
    arr = base[None, None, :] * shade[..., None]
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")


def _wall_and_table(size: ImageSize, hue: float, seed: int) -> tuple[np.ndarray, int]:
    """A room corner: a soft-lit wall with window light, and a wooden table in perspective.

    Returns (float32 RGB at the output size, the table's far edge row)."""
    W, H = size.width, size.height
    horizon = int(0.6 * H)
    # the wall: warm neutral tinted a touch towards the product's complement, window light
    # falling from the upper left as a soft, blurred pane pattern
    warm = np.array([232, 224, 212], np.float32)
    wall_c = 0.6 * warm + 0.4 * np.array(_hsv((hue + 0.5) % 1.0, 0.1, 0.9), np.float32)
    f = 4
    ws, hs = max(8, W // f), max(8, horizon // f)
    yy, xx = np.mgrid[0:hs, 0:ws].astype(np.float32)
    u, v = xx / ws, yy / max(1, hs)
    pane = Image.new("L", (ws, hs), 0)
    draw = ImageDraw.Draw(pane)
    x0, x1 = 0.08 * ws, 0.62 * ws
    for k in range(2):  # two panes, a slanted window patch
        left = x0 + k * (x1 - x0) / 2 + 0.02 * ws
        right = x0 + (k + 1) * (x1 - x0) / 2 - 0.02 * ws
        draw.polygon(
            [
                (left, 0.05 * hs),
                (right, 0.05 * hs),
                (right + 0.25 * ws, 0.95 * hs),
                (left + 0.25 * ws, 0.95 * hs),
            ],
            fill=255,
        )
    pane = pane.filter(ImageFilter.GaussianBlur(0.03 * ws))
    light = np.asarray(pane, np.float32) / 255.0
    falloff = 1.0 - 0.25 * u - 0.1 * v
    wall = wall_c[None, None, :] * (falloff * 0.88 + 0.22 * light)[..., None]
    wall_img = Image.fromarray(np.clip(wall, 0, 255).astype(np.uint8)).resize(
        (W, horizon), Image.Resampling.BICUBIC
    )
    # the table: wood seen at a low angle (grain converging), darker towards the viewer
    depth = H - horizon
    flat = _plank_texture(W, max(8, depth * 3), seed)
    fw, fh = flat.size
    src_q = np.float32([[0, 0], [fw, 0], [fw, fh], [0, fh]])
    dst_q = np.float32([[0.18 * W, 0], [0.82 * W, 0], [1.35 * W, depth], [-0.35 * W, depth]])
    warp = cv2.getPerspectiveTransform(src_q, dst_q)
    table = cv2.warpPerspective(
        np.asarray(flat), warp, (W, depth), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
    ).astype(np.float32)
    t = np.linspace(0, 1, depth, dtype=np.float32)[:, None, None]
    xs = np.linspace(0, 1, W, dtype=np.float32)[None, :, None]
    table *= (1.02 - 0.22 * t) * (1.04 - 0.12 * xs)  # window light from the far left
    far = cv2.GaussianBlur(table, (0, 0), max(1.0, 0.004 * W))  # shallow depth of field
    mix = np.clip(1 - t * 3, 0, 1)
    table = far * mix + table * (1 - mix)
    out = np.empty((H, W, 3), np.float32)
    out[:horizon] = np.asarray(wall_img, np.float32)
    out[horizon:] = table
    # the table's front edge catches a little light; the wall meets it in a soft line
    edge = slice(max(0, horizon - 2), min(H, horizon + 2))
    out[edge] *= 0.85
    return out, horizon


def _lifestyle(
    cutout: Cutout, source: Image.Image | None, size: ImageSize, opts: StyleOptions
) -> tuple[Image.Image, Placement]:
    """The product standing on a table by a window: a surface in perspective, a soft-lit wall
    behind, and the shadow the window light casts across the table."""
    hue, _, _ = subject_palette(cutout)
    scene, horizon = _wall_and_table(size, hue, opts.seed)
    canvas = Image.fromarray(np.clip(scene, 0, 255).astype(np.uint8)).convert("RGBA")
    sub, src = _subject(cutout)
    W, H = size.width, size.height
    base_y = horizon + 0.62 * (H - horizon)  # where the product stands on the table
    scale = _fit_scale(sub.width, sub.height, 0.56 * W, 0.72 * base_y)
    placed = _scaled(sub, scale)
    x = int(round(0.54 * W - placed.width / 2))
    y = int(round(base_y - placed.height))
    x = min(max(x, 0), max(0, W - placed.width))
    y = max(0, y)
    alpha = placed.getchannel("A")
    # cast shadow: the silhouette laid on the table away from the window (back and right)
    sil = np.asarray(alpha, np.float32) / 255.0
    sh_h = max(2, int(0.3 * placed.height))
    lay = cv2.resize(sil[::-1], (placed.width, sh_h), interpolation=cv2.INTER_AREA)
    shear = 1.6 * sh_h
    m = np.float32([[1, -shear / sh_h, shear], [0, 1, 0]])
    pad_w = placed.width + int(shear) + 2
    laid = cv2.warpAffine(lay, m, (pad_w, sh_h))
    layer = np.zeros((H, W), np.float32)
    top = int(y + placed.height - sh_h)
    x0, y0 = max(0, x), max(0, top)
    x1, y1 = min(W, x + pad_w), min(H, top + sh_h)
    if x1 > x0 and y1 > y0:
        layer[y0:y1, x0:x1] = laid[y0 - top : y1 - top, x0 - x : x1 - x]
    fade = np.clip((np.arange(H, dtype=np.float32) - top) / max(1, sh_h), 0, 1)[:, None]
    layer *= 0.45 + 0.55 * fade  # fainter further from the base
    layer = cv2.GaussianBlur(layer, (0, 0), max(1.0, 0.012 * W))
    # and a tight contact shadow where it stands
    contact = np.zeros((H, W), np.float32)
    cv2.ellipse(
        contact,
        (int(x + placed.width / 2), int(y + placed.height - 0.01 * H)),
        (max(2, int(0.42 * placed.width)), max(2, int(0.018 * H))),
        0,
        0,
        360,
        1.0,
        -1,
    )
    contact = cv2.GaussianBlur(contact, (0, 0), max(1.0, 0.008 * W))
    shade = np.clip(0.55 * layer + 0.5 * contact, 0, 0.7)
    shadow = Image.new("RGBA", canvas.size, (35, 24, 14, 0))
    shadow.putalpha(Image.fromarray((shade * 255).astype(np.uint8)))
    canvas.alpha_composite(shadow)
    return _finish(canvas, placed, src, (x, y))


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


MACRO_MIN_SHARE = 0.35  # the detail window's side is at least this share of the subject's
MACRO_MIN_INSIDE = 0.7  # at least this share of the window is the subject


def detail_window(
    cutout: Cutout, aspect: float, min_size: tuple[float, float] = (0.0, 0.0)
) -> Box:
    """A window of the target aspect inside the subject's box, on its most detailed part.

    The window is at least `min_size` (cutout pixels: the output's size, so the crop is not
    enlarged) and at least MACRO_MIN_SHARE of the subject's size, when the subject allows.
    Among the positions that stay mostly on the subject, the one holding the most detail
    (gradient energy inside the subject) wins."""
    lft, t, r, b = cutout.bbox
    bw, bh = r - lft, b - t
    ww = max(min_size[0], min_size[1] * aspect, MACRO_MIN_SHARE * max(bw, bh * aspect))
    wh = ww / aspect
    if ww > bw or wh > bh:  # the subject is smaller than wanted: the largest window in it
        ww = min(float(bw), bh * aspect)
        wh = ww / aspect
    # detail map at a small size
    f = max(1.0, max(bw, bh) / 256)
    sw, sh = max(4, int(bw / f)), max(4, int(bh / f))
    small = cutout.rgba.crop((lft, t, r, b)).resize((sw, sh), Image.Resampling.BILINEAR)
    arr = np.asarray(small).astype(np.float32)
    gray = arr[..., :3].mean(axis=2)
    inside = (arr[..., 3] > 200).astype(np.float32)
    gx = np.abs(cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3))
    gy = np.abs(cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3))
    # the subject's own outline is not detail: only gradients well inside it count
    core = cv2.erode(inside, np.ones((5, 5), np.uint8))
    energy = (gx + gy) * core
    ie = cv2.integral(energy)
    ii = cv2.integral(inside)
    kw, kh = max(1, int(round(ww / f))), max(1, int(round(wh / f)))
    kw, kh = min(kw, sw), min(kh, sh)
    e = ie[kh:, kw:] - ie[:-kh, kw:] - ie[kh:, :-kw] + ie[:-kh, :-kw]
    n = (ii[kh:, kw:] - ii[:-kh, kw:] - ii[kh:, :-kw] + ii[:-kh, :-kw]) / (kw * kh)
    score = np.where(n >= MACRO_MIN_INSIDE, e, -1.0) if (n >= MACRO_MIN_INSIDE).any() else n
    py, px = np.unravel_index(int(np.argmax(score)), score.shape)
    left = min(max(lft + px * f, lft), r - ww)
    top = min(max(t + py * f, t), b - wh)
    return int(round(left)), int(round(top)), int(round(left + ww)), int(round(top + wh))


def _macro(
    cutout: Cutout, source: Image.Image | None, size: ImageSize, opts: StyleOptions
) -> tuple[Image.Image, Placement]:
    """A detail crop of the subject's most detailed part, cut from the full-resolution photo
    (`source`) and never enlarged when the photo has the pixels; the backdrop in it is
    blurred like a shallow depth of field."""
    photo = source if source is not None else cutout.rgba
    k = photo.width / cutout.rgba.width  # cutout -> photo pixels
    box = detail_window(cutout, size.aspect, (size.width / k, size.height / k))
    pbox = tuple(int(round(v * k)) for v in box)
    crop = photo.crop(pbox).convert("RGB")
    alpha = cutout.mask.crop(box).resize(crop.size, Image.Resampling.BILINEAR)
    if (np.asarray(alpha) < 250).any():
        bw, bh = crop.size
        soft = crop.resize((max(1, bw // 8), max(1, bh // 8)), Image.Resampling.BOX)
        soft = soft.filter(ImageFilter.GaussianBlur(1.5)).resize(
            crop.size, Image.Resampling.BICUBIC
        )
        crop = Image.composite(crop, soft, alpha)
    enlarged = crop.width < size.width
    out = crop.resize((size.width, size.height), Image.Resampling.LANCZOS)
    if not enlarged:  # a reduction: a light sharpen restores the crispness LANCZOS softens
        out = out.filter(ImageFilter.UnsharpMask(radius=1.2, percent=60, threshold=2))
    mask = alpha.resize((size.width, size.height), Image.Resampling.BILINEAR)
    return out, Placement(box, (0, 0, size.width, size.height), mask)


def _dark_moody(
    cutout: Cutout, source: Image.Image | None, size: ImageSize, opts: StyleOptions
) -> tuple[Image.Image, Placement]:
    """Low-key: a dark backdrop lit from the upper left, the product standing on a dark,
    faintly glossy surface with a pool of light and a dim reflection; no glow around it."""
    xx, yy, w, h = _small_field(size, 4)
    top = np.array([34, 31, 36], np.float32)
    bottom = np.array([10, 10, 12], np.float32)
    t = (yy + 1) / 2
    arr = top * (1 - t[..., None]) + bottom * t[..., None]
    # one broad light from the upper left, linear across the frame (no glow behind it)
    side = np.clip(0.5 - 0.35 * xx - 0.25 * yy, 0, 1)
    arr += side[..., None] * np.array([22, 17, 12], np.float32)
    vignette = 1 - 0.5 * np.clip((xx**2 + yy**2) / 2, 0, 1) ** 0.8
    canvas = _up(arr * vignette[..., None], size).convert("RGBA")
    placed, src, xy = _centred(cutout, size, 0.6, 0.6, 0.5)
    floor = xy[1] + placed.height
    # a faint reflection on the glossy surface, fading fast
    if floor < size.height:
        refl = placed.transpose(Image.Transpose.FLIP_TOP_BOTTOM)
        depth = min(refl.height, size.height - floor)
        refl = refl.crop((0, 0, refl.width, depth))
        ramp = np.linspace(0.12, 0.0, depth, dtype=np.float32)[:, None]
        ra = (np.asarray(refl.getchannel("A"), np.float32) * ramp).astype(np.uint8)
        refl.putalpha(Image.fromarray(ra))
        _paste(canvas, refl, (xy[0], floor))
    # the pool of light on the surface, under and in front of the product
    pool = np.zeros((size.height, size.width), np.float32)
    cv2.ellipse(
        pool,
        (int(xy[0] + placed.width / 2), int(floor + 0.02 * size.height)),
        (max(2, int(0.8 * placed.width)), max(2, int(0.05 * size.height))),
        0,
        0,
        360,
        1.0,
        -1,
    )
    pool = cv2.GaussianBlur(pool, (0, 0), max(1.0, 0.03 * size.width))
    light = Image.new("RGBA", canvas.size, (120, 96, 70, 0))
    light.putalpha(Image.fromarray((np.clip(pool, 0, 1) * 60).astype(np.uint8)))
    canvas.alpha_composite(light)
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
