"""Product detection from the foreground mask, or from an AI analysis."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pipeline.models import ImageAnalysis
from pipeline.product.background import BackgroundRemover
from pipeline.product.detect import detect_product
from tests.factories import make_analysis
from tests.test_product_synth import product_shot

SKIMAGE_ASTRONAUT = Path(__file__).resolve().parents[1] / "samples" / "astronaut.jpg"


def analysis(
    provider: str = "offline", is_product: bool = False, reason: str = ""
) -> ImageAnalysis:
    return make_analysis(
        width=500,
        height=400,
        colors=[],
        product_likeness=0.0,
        is_product=is_product,
        product_reason=reason,
        description="",
        keywords=[],
        provider=provider,
    )


@pytest.fixture(scope="module")
def remover() -> BackgroundRemover:
    return BackgroundRemover(Path("/nonexistent-models"))


def test_synthetic_product_shot_is_a_product(remover: BackgroundRemover) -> None:
    img, _ = product_shot()
    decision = detect_product(img, analysis(), remover.cutout(img, strict=False).mask)
    assert decision.is_product is True
    assert decision.source == "offline-mask"
    assert "plain backdrop" in decision.reason and "%" in decision.reason
    # without a mask it measures one itself
    assert detect_product(img, None).is_product is True


def test_a_face_photo_is_not_a_product(remover: BackgroundRemover) -> None:
    img = Image.open(SKIMAGE_ASTRONAUT).convert("RGB")
    decision = detect_product(img, analysis(), remover.cutout(img, strict=False).mask)
    assert decision.is_product is False
    assert decision.reason.startswith("Not a product shot")


def test_noise_is_not_a_product(remover: BackgroundRemover) -> None:
    rng = np.random.default_rng(0)
    img = Image.fromarray(rng.integers(0, 256, (300, 360, 3), dtype=np.uint8))
    assert (
        detect_product(img, analysis(), remover.cutout(img, strict=False).mask).is_product is False
    )
    assert detect_product(img, None).is_product is False


def test_two_objects_compete() -> None:
    img = Image.new("RGB", (500, 400), (235, 235, 235))
    mask = Image.new("L", img.size, 0)
    for box in ((40, 100, 200, 300), (300, 100, 460, 300)):
        img.paste((200, 40, 40), box)
        mask.paste(255, box)
    decision = detect_product(img, None, mask)
    assert decision.is_product is False and "several objects" in decision.reason


def test_an_ai_analysis_is_trusted() -> None:
    img, _ = product_shot()
    no = detect_product(img, analysis("openai", False, "a landscape, no product"))
    assert (no.is_product, no.source, no.reason) == (False, "ai", "a landscape, no product")
    rng = np.random.default_rng(1)
    noise = Image.fromarray(rng.integers(0, 256, (300, 300, 3), dtype=np.uint8))
    yes = detect_product(noise, analysis("gemini", True))
    assert yes.is_product is True and yes.source == "ai" and yes.reason
