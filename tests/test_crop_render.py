"""Smart crop, exact output sizes, file-size caps and format fallback."""

from __future__ import annotations

import io
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from pipeline.crop import choose_crop, crop_size
from pipeline.errors import ProcessingError
from pipeline.intake import load_image
from pipeline.platforms import PLATFORMS, ImageSize
from pipeline.render import crop_resize, encode_capped, render_platform
from pipeline.vision import detect_faces, focus_map
from tests.image_factories import astronaut, disc_image, encode, noise_image, textured_image


def _inside(inner: tuple[int, int, int, int], outer: tuple[int, int, int, int]) -> bool:
    return (
        inner[0] >= outer[0]
        and inner[1] >= outer[1]
        and inner[2] <= outer[2]
        and inner[3] <= outer[3]
    )


def _centre_crop(w: int, h: int, aspect: float) -> tuple[int, int, int, int]:
    cw, ch = crop_size(w, h, aspect)
    return (w - cw) // 2, (h - ch) // 2, (w - cw) // 2 + cw, (h - ch) // 2 + ch


@pytest.mark.parametrize("cx", [0.85, 0.12])
def test_crop_keeps_off_centre_subject_horizontally(cx: float) -> None:
    img, disc = disc_image((1600, 900), cx=cx)
    focus = focus_map(img)
    for aspect in (9 / 16, 2 / 3, 4 / 5, 1.0):
        box = choose_crop(img.width, img.height, aspect, focus)
        assert (box[2] - box[0], box[3] - box[1]) == crop_size(img.width, img.height, aspect)
        assert _inside(disc, box), (aspect, box, disc)
        assert not _inside(disc, _centre_crop(img.width, img.height, aspect))


def test_crop_keeps_off_centre_subject_vertically() -> None:
    img, disc = disc_image((900, 1600), cx=0.5, cy=0.1)
    focus = focus_map(img)
    for aspect in (1.91, 16 / 9, 1200 / 630):
        box = choose_crop(img.width, img.height, aspect, focus)
        assert _inside(disc, box)
        assert not _inside(disc, _centre_crop(img.width, img.height, aspect))


def test_crop_keeps_face_over_busier_detail() -> None:
    # The astronaut on the right of a wide canvas, a noisy block on the left.
    face_img = astronaut()
    canvas = Image.new("RGB", (1800, 600), (120, 120, 120))
    canvas.paste(noise_image((500, 500), seed=3), (40, 50))
    canvas.paste(face_img.resize((600, 600)), (1200, 0))
    faces = detect_faces(canvas)
    assert len(faces) == 1
    x, y, w, h = faces[0]
    focus = focus_map(canvas)
    assert focus.faces == faces
    box = choose_crop(canvas.width, canvas.height, 4 / 5, focus)
    assert _inside((x, y, x + w, y + h), box)


def test_crop_without_focus_is_centred() -> None:
    assert choose_crop(1000, 500, 1.0, None) == (250, 0, 750, 500)


def test_every_platform_size_exact() -> None:
    img = textured_image((1500, 1000))
    src = load_image(encode(img, "JPEG", quality=90))
    focus = focus_map(src.image)
    for spec in PLATFORMS.values():
        for size in spec.sizes:
            r = render_platform(src, spec, "JPEG", focus, size=size)
            out = Image.open(io.BytesIO(r.data))
            assert out.size == (size.width, size.height) == (r.width, r.height)
            assert out.format == "JPEG" and r.format == "JPEG"
            assert len(r.data) <= spec.max_file_bytes
            assert 0 < r.quality <= 95
            left, t, rr, b = r.crop_box
            assert 0 <= left < rr <= 1500 and 0 <= t < b <= 1000


def test_render_uses_choose_size_and_maps_box_to_original() -> None:
    img, disc = disc_image((4000, 2000), cx=0.8)
    src = load_image(encode(img, "JPEG", quality=85), draft_size=(1200, 1000))
    assert src.scale < 1.0
    focus = focus_map(src.image)
    spec = PLATFORMS["instagram"]
    r = render_platform(src, spec, "JPEG", focus)
    assert (r.width, r.height) == (1080, 566)  # a 2:1 photo gets Instagram's landscape size
    assert r.size_name == "landscape"
    r = render_platform(src, PLATFORMS["pinterest"], "JPEG", focus)
    assert _inside(disc, r.crop_box)  # crop box in original pixels


def test_png_and_webp_and_fallback() -> None:
    img, _ = disc_image((800, 600))
    src = load_image(encode(img, "PNG"))
    focus = focus_map(src.image)
    r = render_platform(src, PLATFORMS["instagram"], "PNG", focus)
    assert r.format == "PNG" and r.data[:4] == b"\x89PNG"
    warnings: list[str] = []
    r = render_platform(src, PLATFORMS["tiktok"], "PNG", focus, warnings=warnings)
    assert r.format == "JPEG" and r.data[:2] == b"\xff\xd8"
    assert any("TikTok" in w and "PNG" in w for w in warnings)
    assert any("enlarged" in w for w in warnings)
    spec = replace(PLATFORMS["x"], formats=("WEBP", "JPEG"))
    r = render_platform(src, spec, "WEBP", focus)
    assert r.format == "WEBP" and Image.open(io.BytesIO(r.data)).size == (1200, 675)


def test_decorate_is_applied() -> None:
    img, _ = disc_image((800, 600))
    src = load_image(encode(img, "PNG"))

    def paint(im: Image.Image) -> Image.Image:
        im = im.copy()
        im.paste((0, 255, 0), (0, 0, 50, 50))
        return im

    r = render_platform(src, PLATFORMS["x"], "PNG", None, decorate=paint)
    px = Image.open(io.BytesIO(r.data)).convert("RGB").getpixel((10, 10))
    assert px == (0, 255, 0)


def test_file_size_cap_honoured_with_noise() -> None:
    img = noise_image((1200, 700))
    src = load_image(encode(img, "PNG"))
    spec = replace(PLATFORMS["x"], max_file_bytes=300_000)
    r = render_platform(src, spec, "JPEG", None)
    assert len(r.data) <= 300_000
    assert Image.open(io.BytesIO(r.data)).size == (1200, 675)
    assert r.quality < 90
    # A cap that forces the last resort (soften) still keeps the exact size.
    data, q = encode_capped(img.resize((1200, 675)), "JPEG", 120_000)
    assert len(data) <= 120_000 and Image.open(io.BytesIO(data)).size == (1200, 675)
    # PNG: quantize to fit.
    data, q = encode_capped(img.resize((600, 400)), "PNG", 400_000)
    assert len(data) <= 400_000


def test_file_size_cap_impossible_raises() -> None:
    img = noise_image((1200, 675))
    with pytest.raises(ProcessingError) as exc:
        encode_capped(img, "JPEG", 1000)
    assert exc.value.code == "FILE_TOO_LARGE"
    src = load_image(encode(img, "PNG"))
    with pytest.raises(ProcessingError):
        render_platform(src, replace(PLATFORMS["x"], max_file_bytes=1000), "JPEG", None)


def test_crop_resize_large_reduction_is_exact_and_faithful() -> None:
    img, _ = disc_image((4032, 3024), cx=0.5)
    box = (0, 0, 4032, 3024)
    out = crop_resize(img, box, ImageSize("x", 400, 300))
    assert out.size == (400, 300)
    ref = img.resize((400, 300), Image.Resampling.LANCZOS)
    diff = np.abs(np.asarray(out, dtype=int) - np.asarray(ref, dtype=int)).mean()
    assert diff < 2.0


def test_real_photo_subject_is_centred_when_it_fits() -> None:
    # samples/rocket.jpg: the rocket stands in the middle (x ~ 300-340 of 640), with towers
    # and lights either side; a tall crop should centre the rocket, not the busiest side.
    from tests.image_factories import SAMPLES

    img = Image.open(SAMPLES / "rocket.jpg").convert("RGB")
    focus = focus_map(img)
    assert focus.subject is not None
    for aspect in (9 / 16, 2 / 3):
        left, _, right, _ = choose_crop(img.width, img.height, aspect, focus)
        third = (right - left) / 3
        assert left + third < 320 < right - third, (aspect, left, right)
