"""Foreground masks without model weights, their edge refinement, and a reliability check.

The weight-free fallback models the backdrop by the colours along the frame's border, cuts
what differs from it, leaves soft shadows out (a shadow is a darker, low-chroma version of the
backdrop with a soft outer edge), refines the cut with GrabCut, then snaps the edge to the
photo's own edges with a guided filter at the working size. `assess_mask` says in words why a
mask would produce broken-looking photos (fragments, ragged edges, a busy backdrop), so the
caller can refuse instead of staging fragments.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from pipeline.vision import border_pixels, border_ring, colour_distance

log = logging.getLogger(__name__)

FALLBACK_SIDE = 512  # border model, shadows and GrabCut run on a copy this size at most
REFINE_SIDE = 1600  # the guided filter runs at the working size, capped here
MAX_BACKDROP_TEXTURE = 14.0  # LAB units after removing a blur: above it the backdrop is busy
MAX_BORDER_SPREAD = 18.0  # LAB units: the border is not a few plain colours
ALPHA_MIN_SHARE = 0.005  # a PNG whose alpha hides at least this share has real transparency
SHARP_SLOPE = 9.0  # L units (0..255) per pixel at the analysis size: an object's outline
SOFT_SLOPE = 5.0  # a shadow's penumbra changes more slowly than this


# ---------------------------------------------------------------- the backdrop model


def _ring(shape: tuple[int, ...], frac: float = 0.04) -> np.ndarray:
    return border_ring(shape, frac, min_px=2)


def _border_centres(lab: np.ndarray) -> np.ndarray:
    """A few backdrop colours (k-means over the frame's border), float32 (k, 3)."""
    border = border_pixels(lab, min_px=2)
    k = 3 if len(border) >= 30 else 1
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 10, 1.0)
    sample = border[:: max(1, len(border) // 4000)]
    cv2.setRNGSeed(1)
    _, _, centres = cv2.kmeans(sample, k, None, criteria, 2, cv2.KMEANS_PP_CENTERS)
    return centres.astype(np.float32)


def _nearest(lab: np.ndarray, centres: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(LAB distance to the nearest backdrop colour, index of that colour)."""
    flat = lab.reshape(-1, 3)
    dist = np.full(flat.shape[0], np.inf, dtype=np.float32)
    idx = np.zeros(flat.shape[0], np.int32)
    for i, c in enumerate(centres):
        d = colour_distance(flat, c)
        closer = d < dist
        dist[closer] = d[closer]
        idx[closer] = i
    return dist.reshape(lab.shape[:2]), idx.reshape(lab.shape[:2])


def border_distance(rgb: np.ndarray) -> np.ndarray:
    """Per-pixel LAB distance to the nearest of a few border colours (float32)."""
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB).astype(np.float32)
    return _nearest(lab, _border_centres(lab))[0]


def _otsu_cut(dist: np.ndarray) -> tuple[float, float]:
    """(cut level, scale): Otsu's level on the distance, lowered towards the backdrop's own
    noise when the object is so distinct that Otsu would drop its paler parts."""
    scale = max(float(np.percentile(dist, 99.5)), 1e-3)
    d8 = np.clip(dist / scale * 255.0, 0, 255).astype(np.uint8)
    level, _ = cv2.threshold(d8, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    otsu = level / 255.0 * scale
    noise = float(np.percentile(dist[_ring(dist.shape)], 99))
    return min(otsu, max(2.5 * noise + 3.0, 0.2 * otsu)), scale


def border_mask(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Foreground by border-colour distance: (binary uint8 mask, smoothed distance)."""
    dist = cv2.GaussianBlur(border_distance(rgb), (0, 0), 1.0)
    cut, scale = _otsu_cut(dist)
    binary = (dist > cut).astype(np.uint8)
    if scale < 8.0:  # a tiny spread means the whole frame is one colour: nothing stands out
        binary[:] = 0
    return binary, dist


def backdrop_texture(lab: np.ndarray, fg: np.ndarray) -> float:
    """Local texture of the backdrop away from the object: LAB std after removing a blur."""
    away = cv2.dilate(fg.astype(np.uint8), np.ones((9, 9), np.uint8)) == 0
    if int(away.sum()) <= 16:
        return 0.0
    base = cv2.GaussianBlur(lab, (0, 0), 3)
    resid = (lab - base)[away]
    return float(np.sqrt((resid**2).sum(axis=1).mean()))


# ---------------------------------------------------------------- shadows


def shadow_map(lab: np.ndarray, centres: np.ndarray, idx: np.ndarray, noise: float) -> np.ndarray:
    """Pixels that look like a shadow on the backdrop: darker than their backdrop colour,
    with the same hue at lower chroma (tested in LAB), not near-black. bool array."""
    c = centres[idx]
    lum, lum_bg = lab[..., 0], c[..., 0]
    ab = lab[..., 1:] - 128.0
    ab_bg = c[..., 1:] - 128.0
    ratio = lum / np.maximum(lum_bg, 1.0)
    # a shadow keeps the hue and loses chroma roughly in step with lightness
    d_ab = np.minimum(
        np.linalg.norm(ab - ab_bg, axis=-1),
        np.linalg.norm(ab - ab_bg * ratio[..., None], axis=-1),
    )
    darker = lum_bg - lum > max(6.0, 2.5 * noise)
    return darker & (ratio > 0.3) & (d_ab < 6.0 + 0.12 * (lum_bg - lum))


def soft_shadows(shadow: np.ndarray, fg: np.ndarray, lum: np.ndarray) -> np.ndarray:
    """The shadow-like regions whose edge against the backdrop is soft (a real shadow).

    Shadow-like pixels are split along the photo's sharp edges first, so a grey object and
    the shadow it casts become separate parts; a part with a crisp outline, or enclosed by
    sharp edges, belongs to the object and stays."""
    cand = shadow & ~fg
    if not cand.any():
        return np.zeros_like(shadow)
    gx = cv2.Sobel(lum, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(lum, cv2.CV_32F, 0, 1, ksize=3)
    slope = np.sqrt(gx**2 + gy**2) / 8.0  # L units (0..255) per pixel
    sharp = cv2.dilate((slope > SHARP_SLOPE).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    parts = (cand & ~sharp).astype(np.uint8)
    backdrop = (~cand & ~fg & ~sharp).astype(np.uint8)
    near_backdrop = cv2.dilate(backdrop, np.ones((3, 3), np.uint8)) > 0
    n, labels = cv2.connectedComponents(parts, connectivity=8)
    out = np.zeros(shadow.shape, bool)
    for i in range(1, n):
        comp = labels == i
        edge = comp & near_backdrop
        if int(edge.sum()) < 3:  # enclosed by the object's outline: part of the object
            continue
        if float(np.percentile(slope[edge], 75)) < SOFT_SLOPE:
            out |= comp
    # the sharp band between a shadow and the backdrop's own noise goes with the shadow
    grown = cv2.dilate(out.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    return out | (grown & cand & (slope <= SHARP_SLOPE))


# ---------------------------------------------------------------- cleanup


def fill_foreign_holes(binary: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """Fill enclosed holes whose colour is not the backdrop's (a pale label on a bottle);
    holes that show the backdrop (a mug handle) stay open."""
    h, w = binary.shape
    ring = _ring(binary.shape)
    backdrop = float(np.percentile(dist[ring], 99)) if ring.any() else 0.0
    limit = max(1.6 * backdrop, 5.0)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(
        (1 - binary).astype(np.uint8), connectivity=4
    )
    out = binary.copy()
    for i in range(1, n):
        x, y, bw, bh, area = stats[i]
        if x == 0 or y == 0 or x + bw >= w or y + bh >= h:
            continue
        hole = labels == i
        if area < 0.002 * binary.size or float(np.median(dist[hole])) > limit:
            out[hole] = 1
    return out


def keep_main_components(binary: np.ndarray, keep_ratio: float = 0.2) -> np.ndarray:
    """Drop specks: keep components at least `keep_ratio` of the largest."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(binary.astype(np.uint8), 8)
    if n <= 1:
        return np.zeros_like(binary, dtype=np.uint8)
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep = [i + 1 for i, a in enumerate(areas) if a >= max(keep_ratio * areas.max(), 16)]
    return np.isin(labels, keep).astype(np.uint8)


def clean_mask(soft: np.ndarray, *, keep_ratio: float = 0.2) -> Image.Image:
    """Threshold a soft mask, drop specks, keep the largest component(s), fill small holes.

    Soft edge values survive along the kept components' borders.
    """
    soft = soft.astype(np.uint8)
    keep = keep_main_components((soft >= 128).astype(np.uint8), keep_ratio)
    if not keep.any():
        return Image.fromarray(np.zeros_like(soft))
    # fill holes smaller than 1% of the kept area (a mug handle's hole is larger and stays)
    inv = (1 - keep).astype(np.uint8)
    hn, hlabels, hstats, _ = cv2.connectedComponentsWithStats(inv, connectivity=4)
    h, w = keep.shape
    small_hole = 0.01 * keep.sum()
    for i in range(1, hn):
        x, y, bw, bh, area = hstats[i]
        touches = x == 0 or y == 0 or x + bw >= w or y + bh >= h
        if not touches and area < small_hole:
            keep[hlabels == i] = 1
    near = cv2.dilate(keep, np.ones((5, 5), np.uint8))
    out = np.where(near > 0, soft, 0).astype(np.uint8)
    out[keep > 0] = np.maximum(out[keep > 0], 128)
    out[out >= 235] = 255
    out[out <= 16] = 0
    return Image.fromarray(out)


# ---------------------------------------------------------------- edge refinement


def guided_filter(guide: np.ndarray, src: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """He et al.'s guided filter (grey guide): `src` smoothed but following `guide`'s edges."""
    k = (2 * radius + 1, 2 * radius + 1)

    def box(a: np.ndarray) -> np.ndarray:
        return cv2.boxFilter(a, cv2.CV_32F, k, borderType=cv2.BORDER_REFLECT)

    mean_i, mean_p = box(guide), box(src)
    cov = box(guide * src) - mean_i * mean_p
    var = box(guide * guide) - mean_i * mean_i
    a = cov / (var + eps)
    b = mean_p - a * mean_i
    return box(a) * guide + box(b)


def refine_edges(rgb: Image.Image, coarse: np.ndarray) -> np.ndarray:
    """Snap a coarse 0..1 mask (any size) to the photo's edges at the photo's size.

    Returns uint8 alpha with a one-or-two-pixel soft edge that follows the photo."""
    w, h = rgb.size
    scale = min(1.0, REFINE_SIDE / max(w, h))
    rw, rh = max(1, round(w * scale)), max(1, round(h * scale))
    small = rgb if scale == 1.0 else rgb.resize((rw, rh), Image.Resampling.BILINEAR)
    guide = np.asarray(small.convert("L"), dtype=np.float32) / 255.0
    m = cv2.resize(coarse.astype(np.float32), (rw, rh), interpolation=cv2.INTER_LINEAR)
    radius = max(2, round(max(rw, rh) / 320))
    q = guided_filter(guide, m, radius, 1e-3)
    # the guided filter leaves a ramp; steepen it around 0.5 into a crisp anti-aliased edge
    q = np.clip((q - 0.5) * 2.2 + 0.5, 0.0, 1.0)
    # never grow far beyond the coarse mask (the guide may bleed along a weak edge)
    limit = cv2.dilate((m > 0.02).astype(np.uint8), np.ones((3, 3), np.uint8))
    q *= limit
    if (rw, rh) != (w, h):
        q = cv2.resize(q, (w, h), interpolation=cv2.INTER_LINEAR)
    return np.clip(q * 255.0 + 0.5, 0, 255).astype(np.uint8)


# ---------------------------------------------------------------- the fallback


@dataclass
class FallbackResult:
    mask: Image.Image  # "L" at the photo's size, 255 = subject
    binary: np.ndarray  # the cleaned cut at the analysis size (uint8 0/1)
    shadow: np.ndarray  # soft shadow pixels left out (bool, analysis size)
    backdrop_texture: float  # see backdrop_texture()
    border_spread: float = 0.0  # how badly a few colours describe the frame's border

    def problems(self) -> list[str]:
        """Why this mask would look broken when staged (empty: fine)."""
        return mask_problems(self.binary, self.backdrop_texture, self.border_spread)


def _grabcut(arr: np.ndarray, binary: np.ndarray, shadow: np.ndarray) -> np.ndarray:
    gc = np.full(binary.shape, cv2.GC_PR_BGD, np.uint8)
    gc[binary > 0] = cv2.GC_PR_FGD
    gc[cv2.erode(binary, np.ones((7, 7), np.uint8)) > 0] = cv2.GC_FGD
    gc[cv2.dilate(binary, np.ones((15, 15), np.uint8)) == 0] = cv2.GC_BGD
    gc[shadow] = cv2.GC_BGD  # a soft shadow is the backdrop, whatever its colour model says
    if not ((gc == cv2.GC_FGD).any() and (gc == cv2.GC_BGD).any()):
        return binary
    bgd = np.zeros((1, 65), np.float64)
    fgd = np.zeros((1, 65), np.float64)
    try:
        cv2.grabCut(arr, gc, None, bgd, fgd, 4, cv2.GC_INIT_WITH_MASK)
    except cv2.error as exc:  # degenerate colour models: keep the threshold mask
        log.debug("grabCut failed: %s", exc)
        return binary
    return np.isin(gc, (cv2.GC_FGD, cv2.GC_PR_FGD)).astype(np.uint8)


def fallback(img: Image.Image) -> FallbackResult:
    """Weight-free foreground: backdrop distance without soft shadows, GrabCut, cleanup,
    and edges refined against the photo at its own size."""
    rgb_full = img.convert("RGB")
    w, h = rgb_full.size
    small = rgb_full
    if max(w, h) > FALLBACK_SIDE:
        small = rgb_full.copy()
        small.thumbnail((FALLBACK_SIDE, FALLBACK_SIDE), Image.Resampling.BILINEAR)
    arr = np.asarray(small)
    lab = cv2.cvtColor(arr, cv2.COLOR_RGB2LAB).astype(np.float32)
    centres = _border_centres(lab)
    raw, idx = _nearest(lab, centres)
    dist = cv2.GaussianBlur(raw, (0, 0), 1.0)
    cut, scale = _otsu_cut(dist)
    binary = (dist > cut).astype(np.uint8)
    noise = float(np.percentile(raw[_ring(raw.shape)], 90))
    blurred_lab = cv2.GaussianBlur(lab, (0, 0), 1.0)
    shadow_like = shadow_map(blurred_lab, centres, idx, noise)
    # a shadow-coloured pixel in the middle of strong colour difference is the object
    strong = (dist > cut) & ~shadow_like
    shadow = soft_shadows(shadow_like, strong, blurred_lab[..., 0])
    binary[shadow] = 0
    spread = float(np.percentile(raw[_ring(raw.shape)], 90))
    empty = FallbackResult(Image.new("L", (w, h), 0), np.zeros_like(binary), shadow, 0.0, spread)
    if scale < 8.0:  # the whole frame is one colour: nothing stands out
        return empty
    ell = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
    binary = cv2.morphologyEx(binary, cv2.MORPH_OPEN, ell)
    binary = fill_foreign_holes(binary, dist)
    if binary.sum() < 16:
        return empty
    texture = backdrop_texture(lab, binary)
    refined = _grabcut(arr, binary, shadow)
    refined[shadow] = 0
    refined = cv2.morphologyEx(
        refined, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    )
    refined = cv2.morphologyEx(refined, cv2.MORPH_OPEN, ell)
    refined = keep_main_components(refined, 0.02)
    refined = fill_foreign_holes(refined, dist)
    # a shadow-coloured notch cut into the object (a grey stripe meeting its contact shadow)
    # is the object's: give back removed pixels that a closing of the object covers
    k = max(9, int(0.1 * min(refined.shape)) | 1)
    closed = cv2.morphologyEx(
        refined, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    )
    refined[(closed > 0) & (shadow | (dist > cut))] = 1
    alpha = refine_edges(rgb_full, cv2.GaussianBlur(refined.astype(np.float32), (0, 0), 0.7))
    mask = clean_mask(alpha, keep_ratio=0.02)
    return FallbackResult(mask, refined, shadow, texture, spread)


def fallback_mask(img: Image.Image) -> Image.Image:
    """Weight-free foreground mask (see `fallback`)."""
    return fallback(img).mask


# ---------------------------------------------------------------- reliability


def mask_problems(binary: np.ndarray, texture: float = 0.0, spread: float = 0.0) -> list[str]:
    """Why a cut-out would look broken, in words (empty when it is fine to stage).

    `texture` is the backdrop's local texture, `spread` how far the frame's border strays
    from its few main colours (both LAB units, 0..255 lightness)."""
    if texture > MAX_BACKDROP_TEXTURE or spread > MAX_BORDER_SPREAD:
        return ["the background is too busy to separate without the model"]
    fg = (binary > 0).astype(np.uint8)
    total = fg.size
    coverage = float(fg.sum()) / total
    if coverage < 0.005:
        return ["no object stands out from the background"]
    problems = []
    if coverage > 0.9:
        problems.append("the object fills the whole frame, so there is no background to remove")
    n, _, stats, _ = cv2.connectedComponentsWithStats(fg, connectivity=8)
    areas = np.sort(stats[1:, cv2.CC_STAT_AREA])[::-1]
    big = areas[areas >= 0.002 * total]
    share = float(areas[0] / areas.sum())
    if len(big) > 3 or share < 0.8:
        problems.append(f"the cut-out falls apart into {len(big)} pieces")
    else:
        contours, _ = cv2.findContours(fg, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        main = max(contours, key=cv2.contourArea)
        area = max(cv2.contourArea(main), 1.0)
        hull = max(cv2.contourArea(cv2.convexHull(main)), 1.0)
        # perimeter^2 / (4 pi area): 1 for a disc, ~2-4 for bottles and mugs, tens when ragged
        ragged = cv2.arcLength(main, True) ** 2 / (4 * np.pi * area)
        if ragged > 14.0 or area / hull < 0.45:
            problems.append("its outline is ragged")
    band = max(1, int(0.01 * min(fg.shape)))
    sides = [fg[:band].mean(), fg[-band:].mean(), fg[:, :band].mean(), fg[:, -band:].mean()]
    if sum(1 for v in sides if v > 0.3) > 2:
        problems.append("it runs off the frame on three or more sides")
    return problems


# ---------------------------------------------------------------- a PNG's own alpha


def alpha_of(img: Image.Image) -> Image.Image | None:
    """The image's own alpha channel when it has real transparency, else None."""
    if img.mode not in ("RGBA", "LA", "PA", "RGBa", "La") and not (
        img.mode == "P" and "transparency" in img.info
    ):
        return None
    return real_alpha(img.convert("RGBA").getchannel("A"))


def real_alpha(alpha: Image.Image | None) -> Image.Image | None:
    """`alpha` when it hides a real part of the image (not just a stray pixel), else None."""
    if alpha is None:
        return None
    a = np.asarray(alpha.convert("L"))
    clear = float((a < 128).mean())
    if clear < ALPHA_MIN_SHARE or clear > 1 - ALPHA_MIN_SHARE:
        return None
    return alpha.convert("L")
