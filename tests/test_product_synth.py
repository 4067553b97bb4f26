"""Synthetic product photos with a known subject shape (shared by the product tests)."""

from __future__ import annotations

import numpy as np
from PIL import Image


def product_shot(
    w: int = 520,
    h: int = 420,
    *,
    shape: str = "ellipse",
    color=(196, 58, 40),
    background=(236, 234, 229),
    texture: float = 2.5,
    seed: int = 1,
) -> tuple[Image.Image, np.ndarray]:
    """A shaded object on a plain, lightly textured backdrop; returns (image, truth mask)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    bg = np.array(background, np.float32)[None, None, :] * (1.0 - 0.04 * yy / h)[..., None]
    bg = bg + rng.normal(0, texture, (h, w, 1)).astype(np.float32)
    cx, cy, rx, ry = w * 0.5, h * 0.52, w * 0.22, h * 0.32
    if shape == "ellipse":
        inside = ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1.0
    else:  # rounded rectangle
        r = min(rx, ry) * 0.35
        dx = np.maximum(np.abs(xx - cx) - (rx - r), 0)
        dy = np.maximum(np.abs(yy - cy) - (ry - r), 0)
        inside = dx**2 + dy**2 <= r**2
    shade = 0.75 + 0.4 * ((xx - (cx - rx)) / (2 * rx)).clip(0, 1)
    obj = np.array(color, np.float32)[None, None, :] * shade[..., None]
    # a highlight stripe and a label give the subject some detail
    obj = np.where((np.abs(xx - (cx - rx * 0.4)) < rx * 0.08)[..., None], obj * 0.6 + 100, obj)
    label = (np.abs(yy - cy) < ry * 0.18) & (np.abs(xx - cx) < rx * 0.55)
    obj = np.where(label[..., None], np.array([245, 240, 220], np.float32), obj)
    out = np.where(inside[..., None], obj, bg)
    img = Image.fromarray(np.clip(out, 0, 255).astype(np.uint8), "RGB")
    return img, inside


def iou(mask_img: Image.Image, truth: np.ndarray) -> float:
    pred = np.asarray(mask_img.convert("L")) >= 128
    inter = np.logical_and(pred, truth).sum()
    union = np.logical_or(pred, truth).sum()
    return float(inter / max(union, 1))


def test_product_shot_has_the_known_shape() -> None:
    img, truth = product_shot()
    assert img.size == (520, 420)
    assert 0.1 < truth.mean() < 0.4
