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


def with_soft_shadow(
    img: Image.Image, truth: np.ndarray, *, offset=(0.12, 0.06), blur=0.035, strength=0.45
) -> Image.Image:
    """The shot with a soft, neutral shadow cast by the subject (down and to the right),
    drawn only on the backdrop: a darker, lower-chroma version of it, as a real shadow is."""
    h, w = truth.shape
    dx, dy = int(offset[0] * w), int(offset[1] * h)
    sil = np.zeros((h, w), np.float32)
    src = truth.astype(np.float32)
    sil[max(0, dy) :, max(0, dx) :] = src[: h - max(0, dy), : w - max(0, dx)]
    # a contact shadow right under the object too
    sil = np.maximum(sil, np.roll(truth.astype(np.float32), int(0.03 * h), axis=0) * 0.9)
    k = max(3, int(blur * max(w, h)) | 1)
    import cv2

    sil = cv2.GaussianBlur(sil, (0, 0), k / 2)
    arr = np.asarray(img).astype(np.float32)
    dark = 1.0 - strength * sil[..., None]
    out = np.where(truth[..., None], arr, arr * dark)
    return Image.fromarray(np.clip(out, 0, 255).astype(np.uint8), "RGB")


def busy_shot(w: int = 520, h: int = 420, seed: int = 3) -> Image.Image:
    """An object in front of a busy, many-coloured backdrop (leaves, shelves, clutter)."""
    import cv2

    rng = np.random.default_rng(seed)
    arr = np.zeros((h, w, 3), np.uint8)
    for _ in range(220):
        c = tuple(int(v) for v in rng.integers(0, 256, 3))
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        ax, ay = int(rng.integers(5, 40)), int(rng.integers(5, 40))
        cv2.ellipse(arr, (x, y), (ax, ay), float(rng.integers(0, 180)), 0, 360, c, -1)
    img, truth = product_shot(w, h)
    out = np.where(truth[..., None], np.asarray(img), arr)
    return Image.fromarray(out.astype(np.uint8), "RGB")


def cups_shot(w: int = 600, h: int = 420, n: int = 9, seed: int = 2) -> Image.Image:
    """Many paper cups side by side on a table: several objects compete."""
    import cv2

    rng = np.random.default_rng(seed)
    arr = np.full((h, w, 3), (228, 224, 216), np.uint8)
    arr = np.clip(arr + rng.normal(0, 2, (h, w, 1)), 0, 255).astype(np.uint8)
    cols = 3
    for i in range(n):
        cx = int((i % cols + 0.5) * w / cols + rng.integers(-15, 15))
        cy = int((i // cols + 0.5) * h / (n // cols) + rng.integers(-10, 10))
        top, bot = int(0.11 * w / cols * 1.1), int(0.08 * w / cols * 1.1)
        hh = int(0.3 * h / (n // cols) * 1.4)
        pts = np.array(
            [[cx - top, cy - hh], [cx + top, cy - hh], [cx + bot, cy + hh], [cx - bot, cy + hh]]
        )
        color = (int(rng.integers(150, 230)), int(rng.integers(60, 120)), 40)
        cv2.fillConvexPoly(arr, pts.astype(np.int32), color)
        cv2.ellipse(arr, (cx, cy - hh), (top, top // 4), 0, 0, 360, (250, 250, 245), -1)
    return Image.fromarray(arr, "RGB")
