"""The U^2-Net family (u2netp, u2net, silueta, ...) run directly on onnxruntime.

Same pre- and post-processing as rembg's sessions (rembg/sessions/u2netp.py: a 320x320 input
scaled by its maximum and normalised with ImageNet's mean and std, the first output min-max
scaled), without importing rembg: its import pulls scipy, scikit-image and numba (~190 MB of
resident memory and a ~35 s first-time compile) that these models never use.

Memory: no CPU arena and no memory-pattern planning (the arena keeps the peak of every run
for the process's life), and glibc is told to hand large blocks straight back to the OS, so
the ~170 MB of temporary tensors of one 320 px run do not fragment the heap and pile up
run after run.
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

log = logging.getLogger(__name__)

U2_SESSIONS = frozenset({"u2netp", "u2net", "u2net_human_seg", "silueta", "u2net_custom"})
INPUT_SIDE = 320
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)
MMAP_THRESHOLD = 1 << 20  # blocks of 1 MB and more are mmapped and returned on free

_heap_lock = threading.Lock()
_heap_tuned = False


def limit_heap_growth() -> bool:
    """Fix glibc's mmap threshold (it otherwise rises after each large free, after which
    big tensors come from the heap and its peak is never returned). Linux/glibc only;
    returns whether it was set."""
    global _heap_tuned
    with _heap_lock:
        if _heap_tuned:
            return True
        if not sys.platform.startswith("linux"):
            return False
        try:
            libc = ctypes.CDLL("libc.so.6")
            _heap_tuned = bool(libc.mallopt(-3, MMAP_THRESHOLD))  # M_MMAP_THRESHOLD
        except (OSError, AttributeError):  # musl or no libc.so.6: leave the allocator alone
            _heap_tuned = False
        return _heap_tuned


def session_options() -> Any:
    """onnxruntime options that keep a small model's memory small: no CPU arena (it holds
    the peak between calls), no memory-pattern planning, basic graph optimisation (the full
    level fuses into larger buffers: a higher peak for u2netp), bounded threads."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.enable_cpu_mem_arena = False
    opts.enable_mem_pattern = False
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    opts.intra_op_num_threads = min(4, os.cpu_count() or 1)
    opts.inter_op_num_threads = 1
    return opts


class U2Session:
    """A rembg-compatible session (`model_name`, `inner_session`, `predict`) for one
    U^2-Net .onnx file."""

    def __init__(self, model_name: str, model_file: Path | str) -> None:
        import onnxruntime as ort

        limit_heap_growth()
        self.model_name = model_name
        self.inner_session = ort.InferenceSession(
            str(model_file), sess_options=session_options(), providers=["CPUExecutionProvider"]
        )
        self._input = self.inner_session.get_inputs()[0].name
        self._output = self.inner_session.get_outputs()[0].name

    def predict(self, img: Image.Image, *args: Any, **kwargs: Any) -> list[Image.Image]:
        """The soft foreground mask ("L") at `img`'s size."""
        small = img.convert("RGB").resize((INPUT_SIDE, INPUT_SIDE), Image.Resampling.LANCZOS)
        arr = np.asarray(small, dtype=np.float32)
        arr = arr / max(float(arr.max()), 1e-6)
        arr = (arr - MEAN) / STD
        tensor = np.ascontiguousarray(arr.transpose(2, 0, 1)[None])
        pred = self.inner_session.run([self._output], {self._input: tensor})[0][0, 0]
        lo, hi = float(pred.min()), float(pred.max())
        pred = (pred - lo) / max(hi - lo, 1e-6)
        mask = Image.fromarray((pred * 255).astype(np.uint8), "L")
        return [mask.resize(img.size, Image.Resampling.LANCZOS)]
