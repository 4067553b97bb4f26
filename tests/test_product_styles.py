"""The seven styles: exact output size, the subject's own pixels survive, each style's look."""

from __future__ import annotations

import colorsys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter

from pipeline.errors import OptionsError
from pipeline.models import PRODUCT_STYLES
from pipeline.platforms import ImageSize
from pipeline.product import styles as st
from pipeline.product.background import BackgroundRemover, Cutout
from pipeline.product.styles import StyleOptions, compose_style, render_style
from tests.test_product_synth import product_shot

SIZES = [ImageSize("portrait", 480, 600), ImageSize("landscape", 600, 315)]


@pytest.fixture(scope="module")
def shot() -> tuple[Image.Image, Cutout]:
    img, _ = product_shot(w=520, h=420)
    return img, BackgroundRemover(Path("/nonexistent-models")).cutout(img)


def subject_error(cutout: Cutout, out: Image.Image, placement: st.Placement) -> float:
    """Mean |difference| between the output and the scaled cutout inside the subject."""
    lft, t, r, b = placement.dest_box
    expected = cutout.rgba.crop(placement.src_box).resize(
        (r - lft, b - t), Image.Resampling.LANCZOS
    )
    alpha = expected.getchannel("A").filter(ImageFilter.MinFilter(7))
    inside = np.asarray(alpha) == 255
    assert inside.sum() > 500, "the subject should be visible"
    got = np.asarray(out.crop((lft, t, r, b))).astype(np.float32)
    want = np.asarray(expected.convert("RGB")).astype(np.float32)
    return float(np.abs(got - want)[inside].mean())


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s.width}x{s.height}")
@pytest.mark.parametrize("style", PRODUCT_STYLES)
def test_style_size_and_subject_pixels(style: str, size: ImageSize, shot) -> None:
    img, cutout = shot
    out, placement = compose_style(style, cutout, img, size)
    assert out.size == (size.width, size.height) and out.mode == "RGB"
    assert render_style(style, cutout, img, size).size == out.size
    error = subject_error(cutout, out, placement)
    assert error < (3.0 if style == "macro" else 0.5), f"{style}: subject changed by {error:.1f}"


def test_public_style_functions_dispatch(shot) -> None:
    img, cutout = shot
    size = SIZES[0]
    for name in PRODUCT_STYLES:
        fn = getattr(st, name)
        a = np.asarray(fn(cutout, img, size))
        b = np.asarray(render_style(name, cutout, img, size))
        assert np.array_equal(a, b)


def test_unknown_style_is_an_options_error(shot) -> None:
    img, cutout = shot
    with pytest.raises(OptionsError) as err:
        render_style("glitter", cutout, img, SIZES[0])
    assert err.value.code == "UNKNOWN_STYLE"


def test_solid_background_white_or_brand_colour_with_padding(shot) -> None:
    img, cutout = shot
    size = SIZES[0]
    out, placement = compose_style("solid_background", cutout, img, size)
    arr = np.asarray(out)
    assert tuple(arr[2, 2]) == (255, 255, 255) and tuple(arr[-3, -3]) == (255, 255, 255)
    lft, t, r, b = placement.dest_box
    assert lft >= 0.09 * size.width and size.width - r >= 0.09 * size.width - 1
    assert t >= 0.09 * size.height - 1
    assert abs((lft + r) / 2 - size.width / 2) <= 1  # centred
    brand = compose_style(
        "solid_background", cutout, img, size, StyleOptions(brand_color=(10, 90, 200))
    )[0]
    assert tuple(np.asarray(brand)[2, 2]) == (10, 90, 200)


def test_floating_has_a_soft_shadow_below_a_lifted_subject(shot) -> None:
    img, cutout = shot
    size = SIZES[0]
    out, placement = compose_style("floating", cutout, img, size)
    gray = np.asarray(out.convert("L")).astype(np.float32)
    lft, t, r, b = placement.dest_box
    cx = (lft + r) // 2
    below = gray[b + 2 : min(size.height, b + int(0.12 * size.height)), cx]
    assert below.min() < gray[b + 2, 3] - 15  # a shadow under the subject, not at the edge
    assert b < 0.85 * size.height  # lifted: room left below


def test_flat_lay_surface_is_textured_but_subtle(shot) -> None:
    img, cutout = shot
    out = render_style("flat_lay", cutout, img, SIZES[0])
    corner = np.asarray(out.convert("L").crop((0, 0, 80, 80))).astype(np.float32)
    assert 0.3 < corner.std() < 12
    wood = np.asarray(st.paper_texture(SIZES[0], surface="wood").convert("L"))
    assert wood.std() > corner.std()


def test_lifestyle_background_is_a_warm_blur_of_the_photo(shot) -> None:
    img, cutout = shot
    size = SIZES[0]
    out, placement = compose_style("lifestyle", cutout, img, size)
    arr = np.asarray(out).astype(np.float32)
    corner = arr[:40, :40].reshape(-1, 3).mean(axis=0)
    src_corner = np.asarray(img).astype(np.float32)[:20, :20].reshape(-1, 3).mean(axis=0)
    assert corner[0] - corner[2] > src_corner[0] - src_corner[2] + 10  # warmer than the photo
    assert arr[:40, :40].std(axis=(0, 1)).max() < 4  # heavily blurred (noise gone)


def test_product_art_uses_the_complementary_colour(shot) -> None:
    img, cutout = shot
    hue, sat, _ = st.subject_palette(cutout)
    out = render_style("product_art", cutout, img, SIZES[0])
    r, g, b = (np.asarray(out)[5, 5] / 255.0).tolist()
    bh, bs, _ = colorsys.rgb_to_hsv(r, g, b)
    distance = min(abs(bh - hue), 1 - abs(bh - hue))
    assert bs > 0.5 and distance > 0.4  # bold and opposite the red subject


def test_macro_is_a_tight_sharpened_crop(shot) -> None:
    img, cutout = shot
    size = SIZES[0]
    out, placement = compose_style("macro", cutout, img, size)
    lft, t, r, b = placement.src_box
    bl, bt, br, bb = cutout.bbox
    assert (r - lft) * (b - t) < 0.6 * (br - bl) * (bb - bt)  # tighter than the subject
    assert placement.dest_box == (0, 0, size.width, size.height)
    plain = (
        cutout.rgba.convert("RGB")
        .crop(placement.src_box)
        .resize((size.width, size.height), Image.Resampling.LANCZOS)
    )

    def edge(im: Image.Image) -> float:
        return float(np.asarray(im.convert("L").filter(ImageFilter.FIND_EDGES)).mean())

    assert edge(out) > edge(plain)  # UnsharpMask made edges crisper


def test_dark_moody_is_dark_with_a_rim_light(shot) -> None:
    img, cutout = shot
    size = SIZES[0]
    out, placement = compose_style("dark_moody", cutout, img, size)
    gray = np.asarray(out.convert("L")).astype(np.float32)
    assert gray[:30, :30].mean() < 40 and gray[-30:, -30:].mean() < 25  # vignette corners
    lft, t, r, b = placement.dest_box
    cy = (t + b) // 2
    rim = gray[cy, max(0, lft - 6) : lft - 1].mean()
    far = gray[cy, max(0, lft - 60) : lft - 40].mean()
    assert rim > far + 15


def test_styles_work_on_a_real_photo_cutout() -> None:
    img = Image.open(Path(__file__).resolve().parents[1] / "samples" / "coffee.jpg")
    img = img.convert("RGB")
    cutout = BackgroundRemover(Path("/nonexistent-models")).cutout(img)
    for style in PRODUCT_STYLES:
        out = render_style(style, cutout, img, ImageSize("square", 400, 400))
        assert out.size == (400, 400)
