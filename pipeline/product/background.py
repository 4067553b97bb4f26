"""Background removal: rembg with an explicit local session, or a weight-free fallback.

rembg is imported lazily (its first import compiles numba code for ~35 s in a fresh venv) and
never downloads: model files must already sit in the models folder passed in (MODELS_DIR,
an absolute per-user folder that `socialopt setup-models` fills). With the
default u2netp model missing, a weight-free fallback (pipeline.product.masks: backdrop colour
distance without soft shadows, GrabCut, guided-filter edges) keeps the feature working, says so
in `method`, and refuses (MASK_UNRELIABLE) a mask that would look broken.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from pipeline.errors import ModelUnavailableError, ProcessingError
from pipeline.product.masks import (  # noqa: F401 - re-exported for callers and tests
    alpha_of,
    border_distance,
    border_mask,
    clean_mask,
    fallback,
    fallback_mask,
    fill_foreign_holes,
    real_alpha,
    refine_edges,
)
from pipeline.product.u2net import U2_SESSIONS, U2Session, session_options

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
REMBG_INPUT_SIDE = 640  # u2netp looks at 320 px; the mask is then refined at the working size
ALPHA_METHOD = "alpha"
MASK_UNRELIABLE = "MASK_UNRELIABLE"
_ENV_LOCK = threading.Lock()  # U2NET_HOME is process-wide; rembg reads it in new_session


@dataclass
class Cutout:
    """The photo with its foreground mask: `rgba` carries the mask as alpha."""

    rgba: Image.Image
    mask: Image.Image  # "L", 255 = subject
    method: str  # rembg:u2netp | fallback:grabcut | alpha | ...+full-frame

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

    def _model_file(self) -> Path | None:
        """The .onnx file of a U^2-Net-family model, or None for rembg's other sessions."""
        if self._session_name not in U2_SESSIONS:
            return None
        if self._model_path:
            return Path(self._model_path)
        for candidate in (
            self._home / f"{self._session_name}.onnx",
            self._home / "models" / self._session_name / f"{self._session_name}.onnx",
        ):
            if candidate.is_file():
                return candidate
        return None

    def _get_session(self) -> Any:
        with self._lock:
            if self._session is None:
                model_file = self._model_file()
                if model_file is not None:  # no rembg import: ~190 MB and numba stay out
                    self._session = U2Session(self._session_name, model_file)
                    return self._session
                from rembg import new_session  # lazy: first import compiles for ~35 s

                kwargs: dict[str, Any] = {"sess_opts": session_options()}
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

    def cutout(self, img: Image.Image, *, strict: bool = True) -> Cutout:
        """Cut the subject out of `img` (RGB), edges refined against the photo.

        The weight-free fallback refuses a mask that would look broken (fragments, ragged
        outline, busy backdrop) with ProcessingError MASK_UNRELIABLE, unless `strict` is off.
        """
        rgb = img.convert("RGB")
        if self._session_name:
            try:
                mask = self._rembg_mask(rgb)
            except ModelUnavailableError:
                raise
            except Exception as exc:  # onnxruntime/rembg failures: say so, keep working
                log.warning("rembg failed (%s); using the fallback", exc)
                self.notes.append(f"rembg failed ({type(exc).__name__}); used the fallback.")
                return fallback_cutout(rgb, strict=strict)
            return make_cutout(rgb, mask, self.method)
        return fallback_cutout(rgb, strict=strict)

    def _rembg_mask(self, rgb: Image.Image) -> Image.Image:
        """The model's mask from a small copy (it looks at 320 px anyway), refined at the
        photo's size against the photo's own edges."""
        session = self._get_session()
        small = rgb
        if max(rgb.size) > REMBG_INPUT_SIDE:
            small = rgb.copy()
            small.thumbnail((REMBG_INPUT_SIDE, REMBG_INPUT_SIDE), Image.Resampling.BILINEAR)
        masks = session.predict(small)
        if not masks or not isinstance(masks[0], Image.Image):
            raise ProcessingError("rembg returned no mask", code="BACKGROUND_FAILED")
        soft = np.asarray(masks[0].convert("L"), dtype=np.float32) / 255.0
        return clean_mask(refine_edges(rgb, soft))


def fallback_cutout(rgb: Image.Image, *, strict: bool = True) -> Cutout:
    """The weight-free cutout; refused (MASK_UNRELIABLE) when it would look broken."""
    result = fallback(rgb)
    problems = result.problems()
    if problems and strict:
        raise ProcessingError(
            "Without the background model the product could not be cut out cleanly: "
            f"{'; '.join(problems)}. Photos made from this cut-out would look broken.",
            code=MASK_UNRELIABLE,
        )
    return make_cutout(rgb, result.mask, FALLBACK_METHOD)
