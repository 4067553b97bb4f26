"""Synthetic images for the image-stage tests."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"


def encode(img: Image.Image, fmt: str = "JPEG", **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def plain(size: tuple[int, int] = (800, 600), color=(230, 230, 230), mode: str = "RGB"):
    return Image.new(mode, size, color)


def disc_image(
    size: tuple[int, int] = (1600, 900),
    cx: float = 0.85,
    cy: float = 0.5,
    radius: float = 0.12,
    bg=(235, 235, 235),
    fg=(210, 30, 30),
) -> tuple[Image.Image, tuple[int, int, int, int]]:
    """A disc on a plain background; returns the image and the disc's bounding box."""
    w, h = size
    r = int(min(w, h) * radius)
    x, y = int(w * cx), int(h * cy)
    img = Image.new("RGB", size, bg)
    box = (x - r, y - r, x + r, y + r)
    ImageDraw.Draw(img).ellipse(box, fill=fg)
    return img, box


def noise_image(size: tuple[int, int] = (800, 600), seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    w, h = size
    return Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))


def textured_image(size: tuple[int, int] = (800, 600), seed: int = 1) -> Image.Image:
    """Smooth colourful gradients plus shapes: a photo-like image with detail."""
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r = 128 + 100 * np.sin(xx / 37.0)
    g = 128 + 100 * np.cos(yy / 23.0)
    b = 128 + 100 * np.sin((xx + yy) / 51.0)
    img = Image.fromarray(np.stack([r, g, b], axis=2).clip(0, 255).astype(np.uint8))
    d = ImageDraw.Draw(img)
    rng = np.random.default_rng(seed)
    for _ in range(30):
        x0, y0 = int(rng.integers(0, w)), int(rng.integers(0, h))
        d.rectangle(
            (x0, y0, x0 + 40, y0 + 30), outline=tuple(int(v) for v in rng.integers(0, 255, 3))
        )
    return img


def astronaut() -> Image.Image:
    return Image.open(SAMPLES / "astronaut.jpg").convert("RGB")
