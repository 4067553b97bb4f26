"""Weight-free vision helpers: face detection and a focus (saliency) map for smart crops.

The focus map is computed ONCE on a small copy of the decoded image and reused for every
platform's crop.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import cv2
import numpy as np
from PIL import Image

Box = tuple[int, int, int, int]  # x, y, w, h

FOCUS_SIDE = 384  # long side of the copy the focus map is computed on
FACE_SIDE = 512  # long side of the copy faces are searched on
FACE_WEIGHT = 3.0  # faces together weigh this many times the rest of the map

_local = threading.local()


def _face_cascade() -> cv2.CascadeClassifier:
    """One cascade per thread: OpenCV's CascadeClassifier is not safe to share."""
    cascade = getattr(_local, "cascade", None)
    if cascade is None:
        path = cv2.data.haarcascades + "haarcascade_frontalface_alt2.xml"
        cascade = cv2.CascadeClassifier(path)
        if cascade.empty():  # pragma: no cover - broken OpenCV install
            raise RuntimeError(f"Could not load the face cascade from {path}")
        _local.cascade = cascade
    return cascade


def small_copy(img: Image.Image, side: int) -> Image.Image:
    """A copy whose long side is at most `side`, reduced cheaply (integer reduce first)."""
    w, h = img.size
    if max(w, h) <= side:
        return img.copy()
    k = side / max(w, h)
    size = (max(1, round(w * k)), max(1, round(h * k)))
    return img.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)


def grey_array(img: Image.Image) -> np.ndarray:
    return np.asarray(img.convert("L"))


def detect_faces(img: Image.Image, *, max_side: int = FACE_SIDE) -> list[Box]:
    """Frontal faces as (x, y, w, h) in `img` pixels (searched on a copy of <= max_side)."""
    w, h = img.size
    k = min(1.0, max_side / max(w, h))
    small = small_copy(img, max_side) if k < 1.0 else img
    grey = grey_array(small)
    min_face = max(24, int(min(small.size) * 0.06))
    found = _face_cascade().detectMultiScale(
        grey, scaleFactor=1.2, minNeighbors=5, minSize=(min_face, min_face)
    )
    sx, sy = w / small.width, h / small.height
    boxes = [
        (int(x * sx), int(y * sy), max(1, int(fw * sx)), max(1, int(fh * sy)))
        for (x, y, fw, fh) in (found if len(found) else [])
    ]
    return sorted(boxes, key=lambda b: -b[2] * b[3])


def border_lab_distance(rgb: np.ndarray, strip: float = 0.04) -> tuple[np.ndarray, float]:
    """Per-pixel LAB distance from the median border colour, and the border's LAB spread."""
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB).astype(np.float32)
    h, w = lab.shape[:2]
    b = max(1, int(round(min(h, w) * strip)))
    border = np.concatenate(
        [
            lab[:b].reshape(-1, 3),
            lab[-b:].reshape(-1, 3),
            lab[:, :b].reshape(-1, 3),
            lab[:, -b:].reshape(-1, 3),
        ]
    )
    ref = np.median(border, axis=0)
    dist = np.sqrt(((lab - ref) ** 2).sum(axis=2))
    spread = float(np.sqrt(((border - ref) ** 2).sum(axis=1)).mean())
    return dist, spread


@dataclass
class Focus:
    """Where the subject is: a weight map on a small copy, plus faces."""

    weights: np.ndarray  # float32 (h, w), sums to 1 + FACE_WEIGHT if there are faces
    size: tuple[int, int]  # (width, height) of the image focus_map was given
    faces: list[Box] = field(default_factory=list)  # in the given image's pixels

    @property
    def map_size(self) -> tuple[int, int]:
        h, w = self.weights.shape
        return w, h

    def centroid(self) -> tuple[float, float]:
        """Weighted centre in the given image's pixels."""
        h, w = self.weights.shape
        total = float(self.weights.sum()) or 1.0
        cy = float((self.weights.sum(axis=1) * (np.arange(h) + 0.5)).sum()) / total
        cx = float((self.weights.sum(axis=0) * (np.arange(w) + 0.5)).sum()) / total
        return cx * self.size[0] / w, cy * self.size[1] / h


def saliency(rgb: np.ndarray) -> np.ndarray:
    """Foreground + detail weight in 0..1: border-colour distance (LAB) and gradient energy."""
    dist, spread = border_lab_distance(rgb)
    # Distance beyond the border's own spread counts as foreground.
    fg = np.clip((dist - spread) / 40.0, 0.0, 1.0)
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3)
    grad = np.sqrt(gx * gx + gy * gy)
    k = max(3, (min(grey.shape) // 24) | 1)
    grad = cv2.GaussianBlur(grad, (k, k), 0)
    p = float(np.percentile(grad, 99)) or 1.0
    detail = np.clip(grad / p, 0.0, 1.0)
    sal = 0.6 * fg + 0.4 * detail
    # A faint centre prior breaks ties on featureless images.
    h, w = sal.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    prior = 1.0 - 0.5 * (((xx / w - 0.5) ** 2 + (yy / h - 0.5) ** 2) / 0.5)
    return (sal * (0.85 + 0.15 * prior) + 0.01).astype(np.float32)


def focus_map(
    img: Image.Image, *, faces: list[Box] | None = None, side: int = FOCUS_SIDE
) -> Focus:
    """Compute the focus map once on a small copy; faces are detected unless given."""
    small = small_copy(img, side)
    rgb = np.asarray(small.convert("RGB"))
    sal = saliency(rgb)
    sal /= float(sal.sum()) or 1.0
    if faces is None:
        faces = detect_faces(img)
    if faces:
        fmask = np.zeros_like(sal)
        sx, sy = small.width / img.width, small.height / img.height
        for x, y, w, h in faces:
            # Head and a little around it: a face box grown by 30% on each side.
            gx, gy = 0.3 * w, 0.3 * h
            x0 = int(max(0, (x - gx) * sx))
            y0 = int(max(0, (y - gy) * sy))
            x1 = int(min(small.width, np.ceil((x + w + gx) * sx)))
            y1 = int(min(small.height, np.ceil((y + h + gy) * sy)))
            fmask[y0 : max(y1, y0 + 1), x0 : max(x1, x0 + 1)] += w * h
        fmask /= float(fmask.sum()) or 1.0
        sal = sal + FACE_WEIGHT * fmask
    return Focus(weights=sal.astype(np.float32), size=img.size, faces=list(faces))
