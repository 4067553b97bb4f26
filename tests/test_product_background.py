"""Background removal: rembg with the real u2netp model, the weight-free fallback, no downloads."""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pipeline.errors import ModelUnavailableError, ProcessingError
from pipeline.product.background import BackgroundRemover, clean_mask, fallback_mask
from pipeline.product.masks import fallback, guided_filter
from socialopt.settings import Settings
from tests.test_product_synth import busy_shot, cups_shot, iou, product_shot, with_soft_shadow

MODELS = Settings.from_env(env_file=None).rembg_home  # MODELS_DIR: where `make model` puts it
U2NETP = MODELS / "u2netp.onnx"


def _rembg_skip_reason() -> str:
    if not U2NETP.is_file():
        return f"the u2netp model is absent ({U2NETP}); see shared/notes/offline-models.md"
    if (
        importlib.util.find_spec("rembg") is None
        or importlib.util.find_spec("onnxruntime") is None
    ):
        return "rembg/onnxruntime are not installed (pip install socialopt[rembg])"
    return ""


needs_rembg = pytest.mark.skipif(bool(_rembg_skip_reason()), reason=_rembg_skip_reason())


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Fail (and record) any attempt to open a non-loopback connection."""
    attempts: list[object] = []
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: object) -> object:
        host = address[0] if isinstance(address, tuple) else address
        if host not in ("127.0.0.1", "localhost", "::1"):
            attempts.append(address)
            raise OSError(f"network disabled in tests: {address}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    return attempts


@pytest.mark.parametrize("shape", ["ellipse", "rounded"])
def test_fallback_mask_matches_the_known_shape(shape: str, tmp_path: Path) -> None:
    img, truth = product_shot(shape=shape)
    remover = BackgroundRemover(tmp_path)  # no model there: the fallback
    cut = remover.cutout(img)
    assert cut.method == "fallback:grabcut"
    assert remover.method == "fallback:grabcut"
    assert any("fallback" in n for n in remover.notes)
    assert iou(cut.mask, truth) >= 0.95
    assert cut.rgba.mode == "RGBA" and cut.rgba.size == img.size
    assert np.array_equal(np.asarray(cut.rgba)[..., 3], np.asarray(cut.mask))


def test_fallback_on_a_darker_object_and_textured_backdrop() -> None:
    img, truth = product_shot(
        shape="ellipse", color=(40, 70, 150), background=(210, 205, 195), texture=5.0, seed=3
    )
    assert iou(fallback_mask(img), truth) >= 0.95


def test_fallback_finds_nothing_on_a_plain_frame() -> None:
    img = Image.new("RGB", (300, 200), (200, 200, 200))
    assert np.asarray(fallback_mask(img)).max() == 0


def test_clean_mask_drops_specks_and_keeps_the_object() -> None:
    soft = np.zeros((200, 200), np.uint8)
    soft[50:150, 60:140] = 255
    soft[5:8, 5:8] = 255  # speck
    soft[190:193, 100:102] = 200  # speck
    soft[95:98, 95:98] = 0  # pinhole inside the object
    out = np.asarray(clean_mask(soft))
    assert out[6, 6] == 0 and out[191, 100] == 0
    assert out[96, 96] >= 128
    assert (out[50:150, 60:140] >= 128).all()


def test_cutout_resized_keeps_mask_and_alpha_in_step(tmp_path: Path) -> None:
    img, _ = product_shot()
    cut = BackgroundRemover(tmp_path).cutout(img)
    small = cut.resized(200)
    assert max(small.rgba.size) == 200 and small.mask.size == small.rgba.size
    assert cut.resized(10_000) is cut


def test_explicitly_named_missing_model_fails_fast_without_network(
    tmp_path: Path, no_network: list[object]
) -> None:
    with pytest.raises(ModelUnavailableError) as err:
        BackgroundRemover(tmp_path, "isnet-general-use")
    assert err.value.code == "MODEL_UNAVAILABLE"
    assert str(tmp_path / "isnet-general-use.onnx") in err.value.message
    assert "will not be downloaded" in err.value.message
    assert no_network == []
    assert not (tmp_path / "models").exists()  # nothing created (pooch would leave a folder)


def test_missing_model_path_fails_fast(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailableError, match="does not exist"):
        BackgroundRemover(tmp_path, str(tmp_path / "mine.onnx"))


def test_missing_default_model_can_be_made_strict(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailableError, match="u2netp.onnx"):
        BackgroundRemover(tmp_path, "u2netp", fallback_when_missing=False)


@pytest.mark.rembg
@needs_rembg
def test_rembg_u2netp_mask_quality_and_session_reuse(no_network: list[object]) -> None:
    remover = BackgroundRemover(MODELS)
    before = os.environ.get("U2NET_HOME")
    img, truth = product_shot(shape="ellipse")
    cut = remover.cutout(img)
    assert cut.method == "rembg:u2netp"
    assert iou(cut.mask, truth) >= 0.95
    session = remover._session
    assert session is not None and session.model_name == "u2netp"
    img2, truth2 = product_shot(shape="rounded", color=(30, 120, 60), seed=5)
    results: list[float] = []
    threads = [
        threading.Thread(target=lambda: results.append(iou(remover.cutout(img2).mask, truth2)))
        for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert remover._session is session  # one session per remover
    assert len(results) == 2 and min(results) >= 0.95
    assert os.environ.get("U2NET_HOME") == before  # restored after loading
    assert no_network == []


@pytest.mark.rembg
@needs_rembg
@pytest.mark.parametrize("filename", ["u2netp.onnx", "my_product_model.onnx"])
def test_rembg_accepts_a_user_supplied_model_file(
    filename: str, tmp_path: Path, no_network: list[object]
) -> None:
    path = tmp_path / "elsewhere" / filename
    path.parent.mkdir()
    shutil.copyfile(U2NETP, path)
    remover = BackgroundRemover(tmp_path / "empty", str(path))
    img, truth = product_shot(shape="rounded")
    cut = remover.cutout(img)
    assert cut.method == f"rembg:{path.stem}"
    assert iou(cut.mask, truth) >= 0.95
    assert no_network == []


def components(mask: Image.Image) -> int:
    import cv2

    return cv2.connectedComponents((np.asarray(mask) >= 128).astype(np.uint8))[0] - 1


@pytest.mark.parametrize("color", [(150, 60, 120), (70, 80, 90)], ids=["plum", "grey"])
def test_fallback_leaves_a_soft_shadow_out_with_clean_edges(color, tmp_path: Path) -> None:
    img, truth = product_shot(w=600, h=760, shape="rounded", color=color)
    shot = with_soft_shadow(img, truth)  # a neutral, darker, soft-edged shadow down-right
    shadow = (
        np.asarray(shot).astype(int).sum(axis=2) < np.asarray(img).astype(int).sum(axis=2) - 30
    )
    assert shadow.sum() > 0.04 * shadow.size  # the shadow is really there
    cut = BackgroundRemover(tmp_path).cutout(shot)
    pred = np.asarray(cut.mask) >= 128
    assert components(cut.mask) == 1
    assert iou(cut.mask, truth) >= 0.97
    assert pred[shadow & ~truth].mean() < 0.02  # the shadow is not part of the subject
    # a clean outline: the edge is a thin anti-aliased band, no jagged steps far from truth
    soft = (np.asarray(cut.mask) > 8) & (np.asarray(cut.mask) < 247)
    assert soft.sum() < 4 * np.sqrt(truth.sum())


def test_the_old_fallback_problem_a_grey_object_is_not_mistaken_for_shadow() -> None:
    img, truth = product_shot(shape="rounded", color=(70, 80, 90))
    result = fallback(img)
    assert result.problems() == [] and iou(result.mask, truth) >= 0.97


@pytest.mark.parametrize("make", [busy_shot, cups_shot], ids=["busy", "many-objects"])
def test_fallback_refuses_what_would_look_broken(make, tmp_path: Path) -> None:
    with pytest.raises(ProcessingError) as err:
        BackgroundRemover(tmp_path).cutout(make())
    assert err.value.code == "MASK_UNRELIABLE"
    assert "could not be cut out cleanly" in err.value.message
    assert ("busy" in err.value.message) or ("pieces" in err.value.message)


def test_guided_filter_follows_the_guide_edge() -> None:
    guide = np.zeros((60, 60), np.float32)
    guide[:, 30:] = 1.0
    coarse = np.zeros((60, 60), np.float32)
    coarse[:, 26:] = 1.0  # four pixels off
    out = guided_filter(guide, coarse, 6, 1e-3)
    crossing = int(np.argmax(out[30] > 0.5))
    assert 26 < crossing <= 30  # moved from the coarse edge (26) towards the guide's (30)
    assert out[30, 40] > 0.9 and out[30, 12] < 0.1


@pytest.mark.rembg
@needs_rembg
def test_rembg_session_keeps_no_arena_and_runs_on_a_small_copy(monkeypatch) -> None:
    remover = BackgroundRemover(MODELS)
    img, truth = product_shot(w=1600, h=1300)
    seen: list[tuple[int, int]] = []
    session = remover._get_session()
    real = session.predict
    monkeypatch.setattr(session, "predict", lambda im, *a, **k: seen.append(im.size) or real(im))
    cut = remover.cutout(img)
    assert max(seen[0]) <= 640 and cut.mask.size == img.size
    assert iou(cut.mask, truth) >= 0.95
    opts = session.inner_session.get_session_options()
    assert opts.enable_cpu_mem_arena is False and opts.enable_mem_pattern is False
