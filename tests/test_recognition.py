"""Offline subject recognition with the real converted EfficientNet-Lite2 on real photos."""

from __future__ import annotations

import logging
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pipeline.models import JobOptions, Recognition
from pipeline.recognition import INPUT_SIZE, MEAN, MODEL_FILE, STD, Recogniser, preprocess
from socialopt.settings import Settings
from socialopt.wiring import load_settings, recognition_model

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
MODEL = recognition_model(load_settings(env_file=None))
needs_model = pytest.mark.skipif(
    not MODEL.is_file(), reason=f"the converted model is absent ({MODEL}); `make model` makes it"
)
# ImageNet-1k class indices (WordNet ids in the standard order)
ESPRESSO, CUP, COFFEE_MUG = 967, 968, 504
MISSILE, PROJECTILE, SPACE_SHUTTLE = 657, 744, 812


@pytest.fixture(scope="module")
def recogniser() -> Recogniser:
    return Recogniser(MODEL)


def _probs(recogniser: Recogniser, name: str) -> np.ndarray:
    with Image.open(SAMPLES / name) as img:
        probs = recogniser.probabilities(img)
    assert probs is not None
    return probs


def test_preprocess_takes_the_centre_square_and_normalises() -> None:
    img = Image.new("RGB", (600, 300), (255, 0, 0))  # red side bands ...
    img.paste((0, 0, 255), (150, 0, 450, 300))  # ... around a blue centre square
    x = preprocess(img)
    assert x.shape == (1, 3, INPUT_SIZE, INPUT_SIZE) and x.dtype == np.float32
    blue = (np.array([0, 0, 255], np.float32) - MEAN) / STD
    inner = x[0, :, :, 2:-2].reshape(3, -1).T  # the resampling filter may touch the bands
    np.testing.assert_allclose(inner, np.tile(blue, (inner.shape[0], 1)))
    grey = preprocess(Image.new("L", (400, 500), 127))  # other modes become RGB
    np.testing.assert_allclose(grey, 0.0, atol=1e-6)


@needs_model
def test_coffee_is_an_espresso(recogniser: Recogniser) -> None:
    probs = _probs(recogniser, "coffee.jpg")
    assert probs.shape == (1000,)
    assert probs.sum() == pytest.approx(1.0, abs=1e-4)
    assert int(probs.argmax()) == ESPRESSO
    assert probs[[ESPRESSO, CUP, COFFEE_MUG]].sum() > 0.8


@needs_model
def test_rocket_photo_ranks_missile_like_classes_high(recogniser: Recogniser) -> None:
    top5 = set(np.argsort(-_probs(recogniser, "rocket.jpg"))[:5].tolist())
    assert top5 & {MISSILE, PROJECTILE, SPACE_SHUTTLE}


@needs_model
def test_portrait_has_no_confident_class(recogniser: Recogniser) -> None:
    # ImageNet has no "person" class: the model spreads its bets, so a roll-up must abstain
    assert _probs(recogniser, "astronaut.jpg").max() < 0.3


@needs_model
def test_one_session_shared_by_threads(recogniser: Recogniser) -> None:
    with Image.open(SAMPLES / "coffee.jpg") as img:
        img.load()
    results: list[np.ndarray] = []
    sessions: set[int] = set()

    def work() -> None:
        probs = recogniser.probabilities(img)
        assert probs is not None
        results.append(probs)
        sessions.add(id(recogniser._session))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4 and len(sessions) == 1
    assert Recogniser(MODEL)._get_session() is recogniser._session  # one per process
    for probs in results[1:]:
        np.testing.assert_allclose(probs, results[0], atol=1e-6)


@pytest.mark.parametrize("content", [None, b"not an onnx model"])
def test_missing_or_unreadable_model_logs_one_line_and_returns_none(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, content: bytes | None
) -> None:
    path = tmp_path / MODEL_FILE
    if content is not None:
        path.write_bytes(content)
    rec = Recogniser(path)
    img = Image.new("RGB", (300, 300), "white")
    with caplog.at_level(logging.WARNING, logger="pipeline.recognition"):
        assert rec.recognise(img) is None
        assert rec.probabilities(img) is None
        assert rec.recognise(img) is None
    lines = [r for r in caplog.records if r.name == "pipeline.recognition"]
    assert len(lines) == 1
    message = lines[0].getMessage()
    assert "\n" not in message and str(path) in message and "setup-models" in message
    assert not rec.available


@needs_model
def test_recognise_rolls_up_to_a_recognition(recogniser: Recogniser) -> None:
    with Image.open(SAMPLES / "coffee.jpg") as img:
        found = recogniser.recognise(img)
    assert isinstance(found, Recognition)
    assert found.model == "efficientnet-lite2"
    assert found.top[0][0] == "espresso" and found.top[0][1] > 0.8
    assert {"espresso", "coffee"} & set(found.concepts)  # a confident espresso is named
    with Image.open(SAMPLES / "astronaut.jpg") as img:
        unsure = recogniser.recognise(img)
    assert unsure is not None and unsure.subject == ""  # no fitting class: abstain


def _services(models_dir: Path, tmp_path: Path):  # noqa: ANN202 - pipeline.services.Services
    from socialopt.wiring import offline_services

    settings = replace(Settings(), models_dir=models_dir, u2net_home=tmp_path / "no-u2netp")
    return offline_services(settings)


@needs_model
def test_job_passes_the_recognition_into_the_analysis(tmp_path: Path) -> None:
    from pipeline.job import run_job

    services = _services(MODEL.parent, tmp_path)
    data = (SAMPLES / "coffee.jpg").read_bytes()
    result = run_job(data, JobOptions(platforms=("instagram",)), services)
    found = result.analysis.recognition
    assert found is not None and found.model == "efficientnet-lite2"
    assert result.analysis.subject == found.subject
    assert result.analysis.subject_concepts == list(found.concepts)
    assert result.analysis.kind == "food"  # espresso -> coffee -> beverage -> food


def test_job_goes_on_without_a_model(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from pipeline.job import run_job

    services = _services(tmp_path / "empty", tmp_path)
    data = (SAMPLES / "coffee.jpg").read_bytes()
    with caplog.at_level(logging.WARNING):
        result = run_job(data, JobOptions(platforms=("instagram",)), services)
    assert result.platforms["instagram"].status == "completed"
    assert result.analysis.recognition is None and result.analysis.subject == ""
    assert sum("Subject recognition is off" in r.getMessage() for r in caplog.records) == 1
