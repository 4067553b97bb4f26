"""Decide whether a photo shows a product worth staging (one object on a plain backdrop)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from pipeline.models import ImageAnalysis, ProductDecision
from pipeline.product.masks import MAX_BACKDROP_TEXTURE, backdrop_texture, border_mask

MEASURE_SIDE = 256
MIN_COVERAGE = 0.03
MAX_COVERAGE = 0.85
MIN_DOMINANCE = 0.75  # the largest object's share of all foreground
MAX_BACKDROP_STD = MAX_BACKDROP_TEXTURE  # LAB units; a plain or lightly textured backdrop
MAX_TOUCHED_SIDES = 2


@dataclass(frozen=True)
class MaskStats:
    coverage: float
    dominance: float
    objects: int
    backdrop_std: float
    touched_sides: int


def mask_stats(img: Image.Image, mask: Image.Image) -> MaskStats:
    """Coverage, the largest object's share, backdrop uniformity, frame sides touched."""
    small = img.convert("RGB")
    small.thumbnail((MEASURE_SIDE, MEASURE_SIDE), Image.Resampling.BILINEAR)
    m = mask.convert("L").resize(small.size, Image.Resampling.BILINEAR)
    fg = (np.asarray(m) >= 128).astype(np.uint8)
    h, w = fg.shape
    coverage = float(fg.mean())
    n, _, stats, _ = cv2.connectedComponentsWithStats(fg, connectivity=8)
    areas = stats[1:, cv2.CC_STAT_AREA] if n > 1 else np.zeros(0, int)
    min_area = max(4, int(0.002 * h * w))
    big = areas[areas >= min_area]
    dominance = float(big.max() / big.sum()) if big.size else 0.0
    lab = cv2.cvtColor(np.asarray(small), cv2.COLOR_RGB2LAB).astype(np.float32)
    backdrop_std = backdrop_texture(lab, fg)
    band = max(1, int(0.01 * min(h, w)))
    sides = [fg[:band].mean(), fg[-band:].mean(), fg[:, :band].mean(), fg[:, -band:].mean()]
    touched = sum(1 for s in sides if s > 0.15)
    return MaskStats(coverage, dominance, int(big.size), backdrop_std, touched)


def detect_product(
    img: Image.Image,
    analysis: ImageAnalysis | None,
    mask: Image.Image | None = None,
) -> ProductDecision:
    """Trust an AI analysis when a provider made it; otherwise judge the foreground mask."""
    if analysis is not None and analysis.provider != "offline":
        reason = analysis.product_reason or (
            "the AI analysis sees a product"
            if analysis.is_product
            else "the AI analysis sees no product"
        )
        return ProductDecision(bool(analysis.is_product), reason, source="ai")
    if mask is None:
        small = img.convert("RGB")
        small.thumbnail((MEASURE_SIDE, MEASURE_SIDE), Image.Resampling.BILINEAR)
        binary, _ = border_mask(np.asarray(small))
        mask = Image.fromarray(binary * 255)
    st = mask_stats(img, mask)
    facts = (
        f"object covers {st.coverage:.0%}, largest object {st.dominance:.0%} of the foreground, "
        f"backdrop texture {st.backdrop_std:.1f}"
    )
    problems = []
    if st.coverage < MIN_COVERAGE:
        problems.append("no clear object stands out")
    elif st.coverage > MAX_COVERAGE:
        problems.append("the object fills the whole frame")
    if st.coverage >= MIN_COVERAGE and st.dominance < MIN_DOMINANCE:
        problems.append("several objects compete")
    if st.backdrop_std > MAX_BACKDROP_STD:
        problems.append("the background is busy")
    if st.touched_sides > MAX_TOUCHED_SIDES:
        problems.append("the foreground runs off the frame")
    if problems:
        return ProductDecision(
            False,
            f"Not a product shot: {'; '.join(problems)} ({facts}).",
            source="offline-mask",
            problems=tuple(problems),
        )
    return ProductDecision(
        True, f"One dominant object on a plain backdrop ({facts}).", source="offline-mask"
    )
