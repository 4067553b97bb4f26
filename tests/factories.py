"""Small builders shared by tests."""

from __future__ import annotations

from pipeline.models import ImageAnalysis, NamedColor


def make_analysis(**overrides: object) -> ImageAnalysis:
    """A plausible offline analysis of a 600x400 brown-toned photo; override any field."""
    values: dict[str, object] = dict(
        width=600,
        height=400,
        orientation="landscape",
        brightness=0.5,
        contrast=0.3,
        sharpness=100.0,
        is_blurry=False,
        colors=[NamedColor("brown", "#8b4513", 0.4)],
        faces=0,
        face_boxes=[],
        product_likeness=0.2,
        is_product=False,
        product_reason="",
        description="A landscape photo with mostly brown tones.",
        keywords=["brown"],
    )
    values.update(overrides)
    return ImageAnalysis(**values)  # type: ignore[arg-type]
