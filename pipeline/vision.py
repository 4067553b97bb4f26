"""Weight-free vision helpers: face detection and a focus (saliency) map for smart crops.

The focus map is computed ONCE on a small copy of the decoded image and reused for every
platform's crop.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass, field

import cv2
import numpy as np
from PIL import Image

Box = tuple[int, int, int, int]  # x, y, w, h

WORK_SIDE = 512  # shared small copy: faces, focus and analysis all start from it
FOCUS_SIDE = 384  # long side of the copy the focus map is computed on
FACE_PIXELS = 512 * 384  # faces are searched on a copy of about this many pixels
FACE_WEIGHT = 3.0  # faces together weigh this many times the rest of the map
PRIOR_BASE = 0.6  # centre prior: weights scale by PRIOR_BASE..1 (corner..centre), 1.0 = off

_cascades: queue.SimpleQueue[cv2.CascadeClassifier] = queue.SimpleQueue()


def _new_cascade() -> cv2.CascadeClassifier:
    path = cv2.data.haarcascades + "haarcascade_frontalface_alt2.xml"
    cascade = cv2.CascadeClassifier(path)
    if cascade.empty():  # pragma: no cover - broken OpenCV install
        raise RuntimeError(f"Could not load the face cascade from {path}")
    return cascade


_copy_lock = threading.Lock()


def _resize_down(img: Image.Image, side: int) -> Image.Image:
    w, h = img.size
    k = side / max(w, h)
    size = (max(1, round(w * k)), max(1, round(h * k)))
    return img.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)


def small_copy(img: Image.Image, side: int) -> Image.Image:
    """A copy whose long side is at most `side`, reduced cheaply (integer reduce first).

    Copies of a large image are derived from one cached WORK_SIDE copy stored on the image,
    so faces, the focus map and the analysis share a single reduction of the full decode.
    Treat the result as read-only.
    """
    if max(img.size) <= side:
        return img
    if side > WORK_SIDE or max(img.size) <= 2 * WORK_SIDE:
        return _resize_down(img, side)
    with _copy_lock:
        cache = img.__dict__.setdefault("_socialopt_small", {})
        work = cache.get(WORK_SIDE)
        if work is None or work[0] != img.size:
            work = (img.size, _resize_down(img, WORK_SIDE))
            cache[WORK_SIDE] = work
    base = work[1]
    return base if side == WORK_SIDE else _resize_down(base, side)


def grey_array(img: Image.Image) -> np.ndarray:
    return np.asarray(img.convert("L"))


def face_side(size: tuple[int, int], max_pixels: int = FACE_PIXELS) -> int:
    """Long side of the copy faces are searched on for an image of `size`."""
    w, h = size
    k = min(1.0, (max_pixels / float(w * h)) ** 0.5)
    return max(1, round(max(w, h) * k))


def faces_on_copy(small: Image.Image, size: tuple[int, int]) -> list[Box]:
    """Run the cascade on `small` and map the boxes to an image of `size`."""
    grey = grey_array(small)
    min_face = max(24, int(min(small.size) * 0.06))
    # A CascadeClassifier must not be used by two threads at once: borrow one from a pool.
    try:
        cascade = _cascades.get_nowait()
    except queue.Empty:
        cascade = _new_cascade()
    try:
        found = cascade.detectMultiScale(
            grey, scaleFactor=1.15, minNeighbors=6, minSize=(min_face, min_face)
        )
    finally:
        _cascades.put(cascade)
    sx, sy = size[0] / small.width, size[1] / small.height
    boxes = [
        (int(x * sx), int(y * sy), max(1, int(fw * sx)), max(1, int(fh * sy)))
        for (x, y, fw, fh) in (found if len(found) else [])
    ]
    return sorted(boxes, key=lambda b: -b[2] * b[3])


def prime_cache(
    img: Image.Image, work: Image.Image | None, faces: list[Box] | None = None
) -> None:
    """Attach a precomputed WORK_SIDE copy and faces to `img` (intake makes them while the
    full-size decode runs, so later stages get them for free)."""
    with _copy_lock:
        if work is not None:
            img.__dict__.setdefault("_socialopt_small", {})[WORK_SIDE] = (img.size, work)
        if faces is not None:
            img.__dict__["_socialopt_faces"] = (img.size, FACE_PIXELS, list(faces))


def detect_faces(img: Image.Image, *, max_pixels: int = FACE_PIXELS) -> list[Box]:
    """Frontal faces as (x, y, w, h) in `img` pixels (searched on a ~max_pixels copy)."""
    cached = img.__dict__.get("_socialopt_faces")
    if cached and cached[0] == img.size and cached[1] == max_pixels:
        return list(cached[2])
    side = face_side(img.size, max_pixels)
    small = small_copy(img, side) if side < max(img.size) else img
    return faces_on_copy(small, img.size)


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
    # The main subject as (left, top, right, bottom) in the given image's pixels: the faces,
    # or the most salient compact region; crops centre on it when it fits.
    subject: tuple[int, int, int, int] | None = None

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
    sal = sal * (PRIOR_BASE + (1 - PRIOR_BASE) * prior)
    # Squaring favours the strongest, most distinct region (the subject) over large areas of
    # moderate texture or gradient (sky, foliage).
    return (sal * sal + 0.005).astype(np.float32)


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
    subject = _subject_box(sal, faces, img.size)
    return Focus(weights=sal.astype(np.float32), size=img.size, faces=list(faces), subject=subject)


def _subject_box(
    sal: np.ndarray, faces: list[Box], size: tuple[int, int]
) -> tuple[int, int, int, int] | None:
    """Faces' union, else the connected region of high (smoothed) weight holding the most
    weight; None when nothing stands out (weight spread everywhere)."""
    if faces:
        x0 = min(x for x, _, _, _ in faces)
        y0 = min(y for _, y, _, _ in faces)
        x1 = max(x + w for x, _, w, _ in faces)
        y1 = max(y + h for _, y, _, h in faces)
        return x0, y0, x1, y1
    h, w = sal.shape
    k = max(3, (min(h, w) // 16) | 1)
    smooth = cv2.GaussianBlur(sal, (k, k), 0)
    mask = (smooth >= 0.5 * float(smooth.max())).astype(np.uint8)
    if mask.mean() > 0.5:
        return None
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if n <= 1:
        return None
    sums = np.bincount(labels.ravel(), weights=sal.ravel(), minlength=n)[1:]
    best = int(np.argmax(sums)) + 1
    if sums[best - 1] < 0.15 * float(sal.sum()):
        return None  # the strongest region is not dominant
    bx, by, bw, bh = (int(v) for v in stats[best, :4])
    sx, sy = size[0] / w, size[1] / h
    return (int(bx * sx), int(by * sy), int(np.ceil((bx + bw) * sx)), int(np.ceil((by + bh) * sy)))
