"""Background removal: rembg with an explicit local session, or a weight-free fallback.

rembg is imported lazily (its first import compiles numba code for ~35 s in a fresh venv) and
never downloads: model files must already sit in the models folder (`U2NET_HOME`). With the
default u2netp model missing, a fallback (border-colour LAB distance + Otsu, refined with
GrabCut on a copy of at most 512 px) keeps the feature working and says so in `method`.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image

from pipeline.errors import ModelUnavailableError, ProcessingError

log = logging.getLogger(__name__)

DEFAULT_MODEL = "u2netp"
FALLBACK_METHOD = "fallback:grabcut"
# rembg sessions whose weights are one file named "<name>.onnx" (sessions/*.py, rembg 2.0.86)
REMBG_FILE_MODELS = frozenset(
    {
        "u2netp",
        "u2net",
        "u2net_human_seg",
        "u2net_cloth_seg",
        "silueta",
        "isnet-general-use",
        "isnet-anime",
        "bria-rmbg",
        "birefnet-general",
        "birefnet-general-lite",
        "birefnet-general-fp16",
        "birefnet-portrait",
        "birefnet-dis",
        "birefnet-hrsod",
        "birefnet-cod",
        "birefnet-massive",
    }
)
REMBG_INPUT_SIDE = 1024  # u2netp looks at 320 px; a 1024 px copy keeps the resize cheap
GRABCUT_SIDE = 512
_ENV_LOCK = threading.Lock()  # U2NET_HOME is process-wide; rembg reads it in new_session


@dataclass
class Cutout:
    """The photo with its foreground mask: `rgba` carries the mask as alpha."""

    rgba: Image.Image
    mask: Image.Image  # "L", 255 = subject
    method: str  # rembg:u2netp | fallback:grabcut | ...

    @property
    def bbox(self) -> tuple[int, int, int, int]:
        """The subject's bounding box (left, top, right, bottom); the whole frame if empty."""
        box = self.mask.point(lambda v: 255 if v >= 128 else 0).getbbox()
        return box or (0, 0, self.mask.width, self.mask.height)

    @property
    def coverage(self) -> float:
        arr = np.asarray(self.mask)
        return float((arr >= 128).mean())

    def subject(self) -> Image.Image:
        """The RGBA subject cropped to its bounding box."""
        return self.rgba.crop(self.bbox)

    def resized(self, max_side: int) -> Cutout:
        """A copy whose long side is at most `max_side` (no upscaling)."""
        w, h = self.rgba.size
        scale = max_side / max(w, h)
        if scale >= 1.0:
            return self
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        rgb = self.rgba.convert("RGB").resize(size, Image.Resampling.LANCZOS)
        mask = self.mask.resize(size, Image.Resampling.LANCZOS)
        rgba = rgb.copy()
        rgba.putalpha(mask)
        return Cutout(rgba=rgba, mask=mask, method=self.method)


def make_cutout(img: Image.Image, mask: Image.Image, method: str) -> Cutout:
    rgba = img.convert("RGB")
    rgba.putalpha(mask)
    return Cutout(rgba=rgba, mask=mask, method=method)


class BackgroundRemover:
    """Cuts the subject out of a photo.

    `model_name` is a rembg model name (its file `<name>.onnx` must be in `models_dir` or
    `models_dir/models/<name>/`) or a path to a `.onnx` file. A missing default u2netp uses
    the fallback; any other missing model raises ModelUnavailableError (nothing downloads).
    """

    def __init__(
        self,
        models_dir: Path | str,
        model_name: str = DEFAULT_MODEL,
        *,
        fallback_when_missing: bool | None = None,
    ) -> None:
        self.models_dir = Path(models_dir)
        self.model_name = model_name or DEFAULT_MODEL
        self._lock = threading.Lock()
        self._session: Any = None
        self.notes: list[str] = []
        allow_fallback = (
            self.model_name == DEFAULT_MODEL
            if fallback_when_missing is None
            else fallback_when_missing
        )
        self._home, self._session_name, self._model_path = self._resolve(allow_fallback)
        if self._session_name and importlib.util.find_spec("rembg") is None:
            if not allow_fallback:
                raise ModelUnavailableError(
                    f"Background model {self.model_name!r} needs the rembg package; install "
                    "it with `pip install socialopt[rembg]`."
                )
            self._session_name = ""
            self.notes.append("rembg is not installed; using the weight-free fallback.")

    @property
    def uses_model(self) -> bool:
        return bool(self._session_name)

    @property
    def method(self) -> str:
        if not self._session_name:
            return FALLBACK_METHOD
        label = Path(self.model_name).stem if self._is_path(self.model_name) else self.model_name
        return f"rembg:{label}"

    @staticmethod
    def _is_path(name: str) -> bool:
        return name.endswith(".onnx") or os.sep in name or "/" in name

    def _resolve(self, allow_fallback: bool) -> tuple[Path, str, str]:
        """(rembg home, session name, model_path) or ('', '', '') for the fallback."""
        name = self.model_name
        if self._is_path(name):
            path = Path(name).expanduser().resolve()
            if not path.is_file():
                raise ModelUnavailableError(
                    f"Background model file {str(path)!r} does not exist; put the .onnx file "
                    "there or name a model in the models folder."
                )
            stem = path.stem
            if stem in REMBG_FILE_MODELS:
                return path.parent, stem, ""
            return path.parent, "u2net_custom", str(path)
        for candidate in (
            self.models_dir / f"{name}.onnx",
            self.models_dir / "models" / name / f"{name}.onnx",
        ):
            if candidate.is_file():
                if name not in REMBG_FILE_MODELS:
                    return candidate.parent, "u2net_custom", str(candidate.resolve())
                return self.models_dir.resolve(), name, ""
        where = (self.models_dir / f"{name}.onnx").resolve()
        if allow_fallback:
            self.notes.append(
                f"Background model {name} not found at {where}; using the weight-free fallback."
            )
            return Path(), "", ""
        raise ModelUnavailableError(
            f"Background model {name!r} is not installed and will not be downloaded: put "
            f"{name}.onnx at {where} (or pass the path to a .onnx file)."
        )

    def _get_session(self) -> Any:
        with self._lock:
            if self._session is None:
                import onnxruntime as ort
                from rembg import new_session  # lazy: first import compiles for ~35 s

                # no CPU memory arena: it holds hundreds of MB between calls for a 4.7 MB model
                opts = ort.SessionOptions()
                opts.enable_cpu_mem_arena = False
                kwargs: dict[str, Any] = {"sess_opts": opts}
                if self._model_path:
                    kwargs["model_path"] = self._model_path
                with _ENV_LOCK:
                    old = os.environ.get("U2NET_HOME")
                    os.environ["U2NET_HOME"] = str(self._home)
                    try:
                        self._session = new_session(self._session_name, **kwargs)
                    finally:
                        if old is None:
                            os.environ.pop("U2NET_HOME", None)
                        else:
                            os.environ["U2NET_HOME"] = old
            return self._session

    def cutout(self, img: Image.Image) -> Cutout:
        """Cut the subject out of `img` (RGB); the mask is cleaned of specks."""
        rgb = img.convert("RGB")
        if self._session_name:
            try:
                mask = self._rembg_mask(rgb)
            except ModelUnavailableError:
                raise
            except Exception as exc:  # onnxruntime/rembg failures: say so, keep working
                log.warning("rembg failed (%s); using the fallback", exc)
                self.notes.append(f"rembg failed ({type(exc).__name__}); used the fallback.")
                return make_cutout(rgb, fallback_mask(rgb), FALLBACK_METHOD)
            return make_cutout(rgb, mask, self.method)
        return make_cutout(rgb, fallback_mask(rgb), FALLBACK_METHOD)

    def _rembg_mask(self, rgb: Image.Image) -> Image.Image:
        from rembg import remove

        session = self._get_session()
        small = rgb
        if max(rgb.size) > REMBG_INPUT_SIDE:
            small = rgb.copy()
            small.thumbnail((REMBG_INPUT_SIDE, REMBG_INPUT_SIDE), Image.Resampling.BILINEAR)
        raw = remove(small, session=session, only_mask=True)
        if not isinstance(raw, Image.Image):
            raise ProcessingError("rembg returned no mask", code="BACKGROUND_FAILED")
        raw = raw.convert("L")
        if raw.size != rgb.size:
            raw = raw.resize(rgb.size, Image.Resampling.BILINEAR)
        return clean_mask(np.asarray(raw))


def clean_mask(soft: np.ndarray, *, keep_ratio: float = 0.2) -> Image.Image:
    """Threshold a soft mask, drop specks, keep the largest component(s), fill small holes.

    Soft edge values survive along the kept components' borders.
    """
    soft = soft.astype(np.uint8)
    binary = (soft >= 128).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    if n <= 1:
        return Image.fromarray(np.zeros_like(soft))
    areas = stats[1:, cv2.CC_STAT_AREA]
    biggest = int(areas.max())
    keep_ids = [i + 1 for i, a in enumerate(areas) if a >= max(keep_ratio * biggest, 16)]
    keep = np.isin(labels, keep_ids).astype(np.uint8)
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


def _border_pixels(lab: np.ndarray, frac: float = 0.04) -> np.ndarray:
    h, w = lab.shape[:2]
    b = max(2, int(round(min(h, w) * frac)))
    parts = [
        lab[:b].reshape(-1, 3),
        lab[-b:].reshape(-1, 3),
        lab[:, :b].reshape(-1, 3),
        lab[:, -b:].reshape(-1, 3),
    ]
    return np.concatenate(parts).astype(np.float32)


def border_distance(rgb: np.ndarray) -> np.ndarray:
    """Per-pixel LAB distance to the nearest of a few border colours (float32)."""
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB).astype(np.float32)
    border = _border_pixels(lab)
    k = 3 if len(border) >= 30 else 1
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 10, 1.0)
    sample = border[:: max(1, len(border) // 4000)]
    _, _, centers = cv2.kmeans(sample, k, None, criteria, 2, cv2.KMEANS_PP_CENTERS)
    flat = lab.reshape(-1, 3)
    dist = np.full(flat.shape[0], np.inf, dtype=np.float32)
    for c in centers:
        d = np.sqrt(((flat - c) ** 2).sum(axis=1))
        np.minimum(dist, d, out=dist)
    return dist.reshape(lab.shape[:2])


def _ring(shape: tuple[int, ...], frac: float = 0.04) -> np.ndarray:
    h, w = shape[:2]
    b = max(2, int(round(min(h, w) * frac)))
    ring = np.ones((h, w), bool)
    ring[b:-b, b:-b] = False
    return ring


def border_mask(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Foreground by border-colour distance: (binary uint8 mask, smoothed distance).

    The cut is Otsu's level, lowered towards the backdrop's own noise when the object is
    so distinct that Otsu would drop its paler parts (a label, a highlight)."""
    dist = border_distance(rgb)
    dist = cv2.GaussianBlur(dist, (0, 0), 1.0)
    scale = max(float(np.percentile(dist, 99.5)), 1e-3)
    d8 = np.clip(dist / scale * 255.0, 0, 255).astype(np.uint8)
    level, _ = cv2.threshold(d8, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    otsu = level / 255.0 * scale
    noise = float(np.percentile(dist[_ring(dist.shape)], 99))
    cut = min(otsu, max(2.5 * noise + 3.0, 0.2 * otsu))
    binary = (dist > cut).astype(np.uint8)
    # a tiny spread means the whole frame is one colour: nothing stands out
    if scale < 8.0:
        binary[:] = 0
    return binary, dist


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
        x, y, bw, bh, _area = stats[i]
        if x == 0 or y == 0 or x + bw >= w or y + bh >= h:
            continue
        hole = labels == i
        if float(np.median(dist[hole])) > limit:
            out[hole] = 1
    return out


def fallback_mask(img: Image.Image) -> Image.Image:
    """Weight-free foreground mask: border-colour distance + Otsu, refined by GrabCut."""
    rgb_full = img.convert("RGB")
    w, h = rgb_full.size
    small = rgb_full
    if max(w, h) > GRABCUT_SIDE:
        small = rgb_full.copy()
        small.thumbnail((GRABCUT_SIDE, GRABCUT_SIDE), Image.Resampling.BILINEAR)
    arr = np.asarray(small)
    binary, dist = border_mask(arr)
    kernel = np.ones((3, 3), np.uint8)
    binary = cv2.morphologyEx(binary, cv2.MORPH_OPEN, kernel)
    binary = fill_foreign_holes(binary, dist)
    if binary.sum() < 16:
        return Image.new("L", (w, h), 0)
    gc = np.full(binary.shape, cv2.GC_PR_BGD, np.uint8)
    gc[binary > 0] = cv2.GC_PR_FGD
    sure_fg = cv2.erode(binary, np.ones((7, 7), np.uint8))
    gc[sure_fg > 0] = cv2.GC_FGD
    far_bg = cv2.dilate(binary, np.ones((15, 15), np.uint8)) == 0
    gc[far_bg] = cv2.GC_BGD
    refined = binary
    if (gc == cv2.GC_FGD).any() and (gc == cv2.GC_BGD).any():
        bgd = np.zeros((1, 65), np.float64)
        fgd = np.zeros((1, 65), np.float64)
        try:
            cv2.grabCut(arr, gc, None, bgd, fgd, 4, cv2.GC_INIT_WITH_MASK)
            refined = np.isin(gc, (cv2.GC_FGD, cv2.GC_PR_FGD)).astype(np.uint8)
            refined = fill_foreign_holes(refined, dist)
        except cv2.error as exc:  # degenerate colour models: keep the Otsu mask
            log.debug("grabCut failed: %s", exc)
    soft = refined.astype(np.float32)
    if soft.shape[::-1] != (w, h):
        soft = cv2.resize(soft, (w, h), interpolation=cv2.INTER_LINEAR)
    soft = cv2.GaussianBlur(soft, (0, 0), 0.6)
    return clean_mask(np.clip(soft * 255.0, 0, 255).astype(np.uint8))
