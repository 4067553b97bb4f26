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
    return _border_distance(cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB).astype(np.float32), strip)


_ONES3 = np.ones((1, 3), np.float32)


def _norm3(diff: np.ndarray) -> np.ndarray:
    """Per-pixel length of a 3-channel float32 difference (OpenCV: ~20x numpy's speed)."""
    return cv2.sqrt(cv2.transform(cv2.multiply(diff, diff), _ONES3))


def border_ring(shape: tuple[int, ...], frac: float = 0.04, min_px: int = 1) -> np.ndarray:
    """A boolean mask of the frame's border: a strip `frac` of the short side wide (at least
    `min_px` pixels), each pixel once."""
    h, w = shape[:2]
    b = max(min_px, int(round(min(h, w) * frac)))
    ring = np.ones((h, w), bool)
    ring[b:-b, b:-b] = False
    return ring


def border_pixels(lab: np.ndarray, frac: float = 0.04, min_px: int = 1) -> np.ndarray:
    """The colours along the frame's border (see `border_ring`), float32 (n, 3)."""
    return lab[border_ring(lab.shape, frac, min_px)].reshape(-1, 3).astype(np.float32)


def colour_distance(lab: np.ndarray, colour: np.ndarray) -> np.ndarray:
    """Per-pixel LAB distance of a float32 (..., 3) array from one colour (float32)."""
    diff = np.ascontiguousarray(lab - np.asarray(colour, np.float32), np.float32)
    if diff.ndim == 2:  # a list of pixels: OpenCV wants an image
        return _norm3(diff[None])[0]
    return _norm3(diff)


def _border_distance(lab: np.ndarray, strip: float = 0.04) -> tuple[np.ndarray, float]:
    border = border_pixels(lab, strip)
    ref = np.median(border, axis=0)
    spread = float(colour_distance(border, ref).mean())
    return colour_distance(lab, ref), spread


@dataclass
class Focus:
    """Where the subject is: a weight map on a small copy, plus faces."""

    weights: np.ndarray  # float32 (h, w), sums to 1 + FACE_WEIGHT if there are faces
    size: tuple[int, int]  # (width, height) of the image focus_map was given
    faces: list[Box] = field(default_factory=list)  # in the given image's pixels
    # The main subject as (left, top, right, bottom) in the given image's pixels: the heads
    # around the faces, or the strongest connected salient region (or a small group of like
    # ones) with its extent; crops keep it whole, or pad when no window of the shape can.
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


CUE_SIDE = 384  # long side the cues are computed on (the map is upscaled to the copy)
SR_SIDE = 96  # long side of the copy the spectral residual is computed on
PEAK_GRID = 48  # long side of the grid a cue's peaks are counted on
CENTRE_SIGMA = 1.5  # blur of the centre (map pixels): fine texture averages out
SURROUNDS = (0.06, 0.12, 0.24)  # local-background window sizes, as shares of the short side


def _lab(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB).astype(np.float32)


def spectral_residual(lab: np.ndarray) -> np.ndarray:
    """Spectral-residual saliency (Hou & Zhang 2007) summed over the L, a and b channels:
    what the image's average spectrum does not predict (small objects that stand out from
    sky, water or bark) lights up. Returned at `lab`'s size, unnormalised."""
    h, w = lab.shape[:2]
    k = SR_SIDE / max(h, w)
    sw, sh = max(8, round(w * k)), max(8, round(h * k))
    small = cv2.resize(lab, (sw, sh), interpolation=cv2.INTER_AREA)
    out = np.zeros((sh, sw), np.float32)
    for c in range(3):
        spec = np.fft.fft2(small[:, :, c])
        amp = np.log(np.abs(spec) + 1e-6).astype(np.float32)
        resid = amp - cv2.blur(amp, (3, 3))
        back = np.fft.ifft2(np.exp(resid) * np.exp(1j * np.angle(spec)))
        out += (np.abs(back) ** 2).astype(np.float32)
    out = cv2.GaussianBlur(out, (0, 0), max(1.0, SR_SIDE / 40))
    return cv2.resize(out, (w, h), interpolation=cv2.INTER_LINEAR)


RARITY_STEP = 16  # LAB quantisation step for colour rarity (16 levels per channel)


def colour_rarity(lab: np.ndarray) -> np.ndarray:
    """Global colour contrast (histogram contrast, Cheng et al. 2011): each pixel scores the
    LAB distance of its colour to all the photo's colours, weighted by how common they are,
    so a colour found nowhere else (a path in a forest, a kite in the sky) stands out."""
    levels = 256 // RARITY_STEP
    q = np.clip(lab, 0, 255).astype(np.int32) // RARITY_STEP
    idx = (q[:, :, 0] * levels + q[:, :, 1]) * levels + q[:, :, 2]
    flat = idx.ravel()
    counts = np.bincount(flat, minlength=levels**3)
    used = np.nonzero(counts)[0]
    n = counts[used].astype(np.float64)
    # Each bin's colour is its centre: (level + 0.5) * step per channel.
    centres = (
        np.stack([used // (levels * levels), (used // levels) % levels, used % levels], axis=1)
        + 0.5
    ) * RARITY_STEP
    dist = np.sqrt(((centres[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2))
    score = np.zeros(levels**3, np.float32)
    score[used] = dist @ (n / n.sum())
    return score[idx]


SURROUND_STEP = 4  # surrounds are blurred on a copy this many times smaller (they are smooth)


def _wide_blur(img: np.ndarray, size: float) -> np.ndarray:
    """Two box blurs of about `size` pixels (a tent filter), done on a reduced copy."""
    h, w = img.shape[:2]
    small = cv2.resize(
        img,
        (max(2, w // SURROUND_STEP), max(2, h // SURROUND_STEP)),
        interpolation=cv2.INTER_AREA,
    )
    k = max(3, int(size / SURROUND_STEP) | 1)
    small = cv2.blur(cv2.blur(small, (k, k)), (k, k))
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def local_contrast(lab: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centre-surround colour contrast and edge contrast against the LOCAL background.

    Colour: LAB distance of a lightly blurred centre from box-blurred surrounds at a few
    scales (a subject differs from what is around it, not just from the photo's border).
    Edges: gradient strength over the surrounding gradient level, so a uniform texture
    (bark, waves, foliage) cancels out and an outline that is stronger than it stands out."""
    h, w = lab.shape[:2]
    centre = cv2.GaussianBlur(lab, (0, 0), CENTRE_SIGMA)
    short = min(h, w)
    colour = np.zeros((h, w), np.float32)
    for share in SURROUNDS:
        surround = _wide_blur(centre, short * share)
        colour += _norm3(cv2.subtract(centre, surround))
    lum = centre[:, :, 0]
    gx = cv2.Sobel(lum, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(lum, cv2.CV_32F, 0, 1, ksize=3)
    grad = cv2.GaussianBlur(cv2.magnitude(gx, gy), (0, 0), 2.0)
    level = _wide_blur(grad, short * SURROUNDS[-1])
    edges = np.clip(grad - level, 0, None) / (level + 0.1 * float(grad.mean()) + 1e-3)
    return colour, edges


FOCUS_FLOOR = 2.0  # local contrast (L units) below which detail is noise, not focus
DETAIL_SIGMA = 0.02  # neighbourhood of the focus measures, as a share of the short side
DETAIL_SPREAD = 0.03  # the detail cue is pooled over this share of the short side
DETAIL_WEIGHT = 0.6  # weight of the in-focus detail cue among the others
SHARP_BASE = 0.8  # salience where nothing is in focus keeps this share (1.0 = off)
GLARE_CUT = 0.85  # salience on glare keeps 1 - this
GLARE_LEVEL = 0.25  # glare regions: connected places at least this glaring


def _fine_band(lum: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(|L - blur(L)|, blur(L)): the pixel-scale detail of the luminance, and the rest."""
    g1 = cv2.GaussianBlur(lum, (0, 0), 1.0)
    return cv2.absdiff(lum, g1), g1


def focus_detail(lum: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """How sharp each place is (0..1) and how much in-focus detail it holds.

    Sharpness compares the finest band of the luminance (pixel-scale detail) with the next
    band up, over a small neighbourhood: an in-focus edge or texture has both, a defocused
    one (bokeh, a soft background) only the coarser band, flat sky neither. Returned as
    (sharpness, detail energy = fine band x sharpness)."""
    band, g1 = _fine_band(lum)
    sigma = max(1.0, min(lum.shape) * DETAIL_SIGMA)
    fine = cv2.GaussianBlur(band, (0, 0), sigma)
    coarse = cv2.GaussianBlur(cv2.absdiff(g1, cv2.GaussianBlur(lum, (0, 0), 3.0)), (0, 0), sigma)
    sharp = fine / (fine + coarse + FOCUS_FLOOR)
    return sharp, fine * sharp


def glare(lab: np.ndarray) -> np.ndarray:
    """0..1: blown-out light that reaches the frame's edge (sky, a glow behind the subject, a
    white backdrop): near-white (L > 200 of 255), colourless (chroma < 35) and textureless.
    A bright spot inside the frame (the sun, a lamp, a white cup) is left alone: it may be
    the subject."""
    lum = lab[:, :, 0]
    chroma = cv2.magnitude(lab[:, :, 1] - 128.0, lab[:, :, 2] - 128.0)
    texture = cv2.GaussianBlur(_fine_band(lum)[0], (0, 0), 2.0)
    bright = np.clip((lum - 200.0) / 40.0, 0.0, 1.0)
    grey = np.clip(1.0 - (chroma - 10.0) / 25.0, 0.0, 1.0)
    flat = np.clip(1.0 - texture / 3.0, 0.0, 1.0)
    soft = cv2.GaussianBlur(bright * grey * flat, (0, 0), 2.0)
    n, labels = cv2.connectedComponents((soft > GLARE_LEVEL).astype(np.uint8), connectivity=8)
    if n <= 1:
        return np.zeros_like(soft)
    edge = np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])
    touching = np.zeros(n, np.float32)
    touching[np.unique(edge)] = 1.0
    touching[0] = 0.0
    return soft * cv2.GaussianBlur(touching[labels], (0, 0), 2.0)


def _promote_peaks(cue: np.ndarray) -> np.ndarray:
    """Scale a cue to 0..1 and weigh it by how much its strongest peak stands above its other
    peaks (Itti's normalisation): one distinct object counts, texture everywhere does not."""
    h, w = cue.shape
    k = PEAK_GRID / max(h, w)
    grid = cv2.resize(
        cue, (max(4, round(w * k)), max(4, round(h * k))), interpolation=cv2.INTER_AREA
    )
    top = float(grid.max())
    if top <= 0:
        return np.zeros_like(cue)
    grid /= top
    dil = cv2.dilate(grid, np.ones((5, 5), np.uint8))
    peaks = grid[(grid >= dil) & (grid > 0.1)]
    others = np.sort(peaks)[:-1]
    mean_other = float(others.mean()) if others.size else 0.0
    return np.clip(cue / top, 0.0, 1.0) * (1.0 - mean_other) ** 2


def salience(rgb: np.ndarray) -> np.ndarray:
    """How much each pixel stands out, 0..1, for an RGB array.

    Six cues, each scaled by how distinct its strongest peak is: spectral residual, colour
    contrast against the local background (centre-surround, LAB, three scales), colour
    rarity in the whole photo, edges stronger than the local texture, distance from the
    border's colour, and in-focus detail. The sum is damped where nothing is in focus and on
    glare along the frame's edge (a blown-out sky or sunset glow is background, however
    much it stands out). A faint centre prior breaks ties. ~12 ms for a 384 px copy."""
    full = _lab(rgb)
    fh, fw = full.shape[:2]
    k = CUE_SIDE / max(fh, fw)
    if k < 1:
        lab = cv2.resize(full, (round(fw * k), round(fh * k)), interpolation=cv2.INTER_AREA)
    else:
        lab = full
    colour, edges = local_contrast(lab)
    dist, spread = _border_distance(lab)
    sharp, detail = focus_detail(lab[:, :, 0])
    cues = (
        (1.0, spectral_residual(lab)),
        (1.0, colour),
        (0.8, colour_rarity(lab)),
        (0.6, edges),
        (0.8, np.clip(dist - spread, 0.0, None)),
        (DETAIL_WEIGHT, cv2.GaussianBlur(detail, (0, 0), min(lab.shape[:2]) * DETAIL_SPREAD)),
    )
    sal = np.zeros(lab.shape[:2], np.float32)
    for weight, cue in cues:
        sal += weight * _promote_peaks(cue)
    # Out-of-focus places (bokeh, a soft background) and glare are not subjects.
    top = float(np.percentile(sharp, 98)) or 1.0
    sal *= SHARP_BASE + (1.0 - SHARP_BASE) * np.clip(sharp / top, 0.0, 1.0)
    sal *= 1.0 - GLARE_CUT * glare(lab)
    sal /= float(sal.max()) or 1.0
    h, w = sal.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    prior = 1.0 - 0.5 * (((xx / w - 0.5) ** 2 + (yy / h - 0.5) ** 2) / 0.5)
    sal = sal * (PRIOR_BASE + (1 - PRIOR_BASE) * prior)
    if (h, w) != (fh, fw):
        sal = cv2.resize(sal, (fw, fh), interpolation=cv2.INTER_LINEAR)
    return sal.astype(np.float32)


def saliency(rgb: np.ndarray) -> np.ndarray:
    """Crop weight (positive, unnormalised): the salience squared, which favours the one most
    distinct region over broad areas of moderate texture or gradient."""
    return _weights(salience(rgb))


def _weights(lin: np.ndarray) -> np.ndarray:
    return (lin * lin + 0.005).astype(np.float32)


def focus_map(
    img: Image.Image, *, faces: list[Box] | None = None, side: int = FOCUS_SIDE
) -> Focus:
    """Compute the focus map once on a small copy; faces are detected unless given."""
    small = small_copy(img, side)
    rgb = np.asarray(small.convert("RGB"))
    lin = salience(rgb)
    sal = _weights(lin)
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
    subject = _subject_box(lin, faces, img.size)
    return Focus(weights=sal.astype(np.float32), size=img.size, faces=list(faces), subject=subject)


SEED_LEVEL = 0.5  # a subject's core: smoothed salience at least this share of the peak
EXTENT_LEVELS = (0.3, 0.35, 0.4, 0.45)  # its extent: connected salience down to one of these
EXTENT_GROW = 3.0  # ... the lowest whose box is at most this many times the core's box
GROUP_LEVEL = 0.6  # regions this close to the strongest one form a group with it
GROUP_MAX = 5  # ... up to this many (more is texture, not a group)
MIN_SHARE = 0.3  # the subject's core holds at least this share of all cores' salience


HEAD = (0.15, 0.45, 0.15, 0.25)  # a face box grown (left, top, right, bottom) to the head
BORDER_SIGMA = 1.5  # boundary connectivity at which a region's weight falls to exp(-1/2)


def _inside_frame(labels: np.ndarray, stats: np.ndarray, n: int) -> np.ndarray:
    """Per component (1..n-1): exp(-BC^2 / 2 sigma^2) with BC = pixels on the frame's edge /
    sqrt(area) (boundary connectivity, Zhu et al. 2014). A band of sky or grass along the
    whole edge is background; a subject touches the edge little, if at all."""
    edge = np.concatenate([labels[0], labels[-1], labels[1:-1, 0], labels[1:-1, -1]])
    contact = np.bincount(edge, minlength=n)[1:].astype(np.float64)
    area = stats[1:, cv2.CC_STAT_AREA].astype(np.float64)
    bc = contact / np.sqrt(np.maximum(area, 1.0))
    return np.exp(-0.5 * (bc / BORDER_SIGMA) ** 2)


def _frame_edges(x: int, y: int, w: int, h: int, width: int, height: int) -> set[str]:
    """Which edges of a width x height frame the box (x, y, w, h) reaches."""
    reached = {"left": x <= 0, "top": y <= 0, "right": x + w >= width, "bottom": y + h >= height}
    return {name for name, hit in reached.items() if hit}


def _subject_box(
    lin: np.ndarray, faces: list[Box], size: tuple[int, int]
) -> tuple[int, int, int, int] | None:
    """The heads around the faces, else the strongest connected salient region (or a group of
    a few like ones) with its extent; None when nothing stands out.

    `lin` is the salience (not squared), so a large subject of steady salience outweighs a
    few tiny bright points. The region's core (SEED_LEVEL of the peak) grows to the lowest
    EXTENT_LEVELS whose region stays compact: an outline that runs on along a tree trunk or
    a door frame does not drag the box across the photo."""
    if faces:
        # The heads: a detected face box covers brows to mouth; hair and chin lie around it.
        x0 = min(x - HEAD[0] * fw for x, _, fw, _ in faces)
        y0 = min(y - HEAD[1] * fh for _, y, _, fh in faces)
        x1 = max(x + fw + HEAD[2] * fw for x, _, fw, _ in faces)
        y1 = max(y + fh + HEAD[3] * fh for _, y, _, fh in faces)
        return (
            max(0, int(x0)),
            max(0, int(y0)),
            min(size[0], int(np.ceil(x1))),
            min(size[1], int(np.ceil(y1))),
        )
    h, w = lin.shape
    smooth = cv2.GaussianBlur(lin, (0, 0), max(1.0, min(h, w) / 100))
    peak = float(smooth.max())
    if peak <= 0:
        return None
    core = (smooth >= SEED_LEVEL * peak).astype(np.uint8)
    if core.mean() > 0.4:
        return None
    n, labels, stats, _ = cv2.connectedComponentsWithStats(core, connectivity=8)
    if n <= 1:
        return None
    sums = np.bincount(labels.ravel(), weights=lin.ravel(), minlength=n)[1:]
    sums = sums * _inside_frame(labels, stats, n)
    best = int(np.argmax(sums)) + 1
    peers = np.nonzero(sums >= GROUP_LEVEL * sums[best - 1])[0] + 1
    if 2 <= len(peers) <= GROUP_MAX and sums[peers - 1].sum() >= MIN_SHARE * float(sums.sum()):
        # A few regions of like strength: a group (cups on a table, boats on a shore).
        x0 = int(stats[peers, 0].min())
        y0 = int(stats[peers, 1].min())
        x1 = int((stats[peers, 0] + stats[peers, 2]).max())
        y1 = int((stats[peers, 1] + stats[peers, 3]).max())
        sx, sy = size[0] / w, size[1] / h
        return (int(x0 * sx), int(y0 * sy), int(np.ceil(x1 * sx)), int(np.ceil(y1 * sy)))
    if sums[best - 1] < MIN_SHARE * float(sums.sum()):
        return None  # no region dominates: several compete, or texture everywhere
    seed_y, seed_x = np.argwhere(labels == best)[0]
    bx, by, bw, bh = (int(v) for v in stats[best, :4])
    limit = min(EXTENT_GROW * bw * bh, 0.5 * w * h)
    edges = _frame_edges(bx, by, bw, bh, w, h)
    for level in EXTENT_LEVELS:
        wide = (smooth >= level * peak).astype(np.uint8)
        _, wlabels, wstats, _ = cv2.connectedComponentsWithStats(wide, connectivity=8)
        ex, ey, ew, eh = (int(v) for v in wstats[int(wlabels[seed_y, seed_x]), :4])
        # An outline that runs on to a frame edge the core does not reach is background
        # (a stem, a branch, a curtain beside the subject): try a tighter level.
        if ew * eh <= limit and _frame_edges(ex, ey, ew, eh, w, h) <= edges:
            bx, by, bw, bh = ex, ey, ew, eh
            break
    sx, sy = size[0] / w, size[1] / h
    return (int(bx * sx), int(by * sy), int(np.ceil((bx + bw) * sx)), int(np.ceil((by + bh) * sy)))
