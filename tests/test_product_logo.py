"""Logo placement by pixels: position, opacity, alpha, contrast help, no upscaling."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pipeline.errors import OptionsError
from pipeline.models import LOGO_POSITIONS, LogoOptions
from pipeline.product.logo import apply_logo, place_logo


def png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def solid_logo(color=(255, 0, 0, 255), size=(60, 30)) -> bytes:
    return png(Image.new("RGBA", size, color))


def test_red_logo_bottom_right_at_half_opacity_over_white() -> None:
    base = Image.new("RGB", (600, 400), "white")
    opts = LogoOptions(
        solid_logo(), position="bottom-right", size_pct=10, margin_pct=3, opacity=0.5
    )
    out, placement = place_logo(base, opts)
    arr = np.asarray(out).astype(int)
    lft, t, r, b = placement.box
    assert (r - lft, b - t) == (60, 30)  # 10% of 600 = its native 60 px
    assert (lft, t) == (600 - 18 - 60, 400 - 18 - 30)  # 3% margin of the width
    centre = arr[(t + b) // 2, (lft + r) // 2]
    assert abs(centre[0] - 255) <= 1 and abs(centre[1] - 128) <= 2 and abs(centre[2] - 128) <= 2
    assert tuple(arr[5, 5]) == (255, 255, 255)
    assert (arr[: t - 1] == 255).all()  # everything above the logo untouched
    assert placement.treatment == "none"
    assert out.mode == "RGB" and out.size == base.size


@pytest.mark.parametrize("position", [p for p in LOGO_POSITIONS if p != "auto"])
def test_every_position_lands_where_named(position: str) -> None:
    base = Image.new("RGB", (500, 300), "white")
    out, placement = place_logo(
        base,
        LogoOptions(
            solid_logo((0, 0, 200, 255), (50, 20)),
            position=position,
            size_pct=10,
            margin_pct=4,
            opacity=1.0,
        ),
    )
    lft, t, r, b = placement.box
    m = 20
    expect_x = {"left": m, "right": 500 - m - 50}.get(position.split("-")[-1], 225)
    expect_y = {"top": m, "bottom": 300 - m - 20}.get(position.split("-")[0], 140)
    assert (lft, t) == (expect_x, expect_y)
    arr = np.asarray(out)
    assert tuple(arr[(t + b) // 2, (lft + r) // 2]) == (0, 0, 200)
    blue = (arr[..., 2] == 200) & (arr[..., 0] == 0)
    ys, xs = np.nonzero(blue)
    assert (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1) == (lft, t, r, b)


def test_a_small_logo_is_never_upscaled() -> None:
    base = Image.new("RGB", (800, 600), "white")
    out, placement = place_logo(
        base, LogoOptions(solid_logo(size=(20, 10)), size_pct=50, opacity=1.0)
    )
    lft, t, r, b = placement.box
    assert (r - lft, b - t) == (20, 10)
    red = (np.asarray(out)[..., 1] == 0).sum()
    assert red == 200


def test_a_large_logo_is_scaled_down_to_its_share_of_the_width() -> None:
    base = Image.new("RGB", (400, 300), "white")
    logo = Path(__file__).resolve().parents[1] / "samples" / "logo.png"
    _, placement = place_logo(base, LogoOptions(logo.read_bytes(), size_pct=20))
    lft, t, r, b = placement.box
    assert r - lft == 80


def test_png_alpha_is_kept() -> None:
    mark = Image.new("RGBA", (40, 40), (0, 0, 0, 0))
    mark.paste(Image.new("RGBA", (20, 40), (0, 128, 0, 255)), (0, 0))  # left half opaque
    base = Image.new("RGB", (400, 400), (240, 240, 230))
    out, placement = place_logo(
        base, LogoOptions(png(mark), position="top-left", size_pct=10, margin_pct=0, opacity=1.0)
    )
    arr = np.asarray(out)
    assert tuple(arr[20, 5]) == (0, 128, 0)
    assert tuple(arr[20, 35]) == (240, 240, 230)  # transparent half leaves the photo alone


def test_white_logo_on_white_gets_a_dark_variant() -> None:
    base = Image.new("RGB", (400, 300), (250, 250, 250))
    out, placement = place_logo(
        base, LogoOptions(solid_logo((255, 255, 255, 255)), size_pct=15, opacity=1.0)
    )
    lft, t, r, b = placement.box
    assert placement.treatment == "recoloured"
    assert np.asarray(out.convert("L").crop(placement.box)).mean() < 60


def test_dark_logo_on_dark_gets_a_light_variant() -> None:
    base = Image.new("RGB", (400, 300), (15, 15, 20))
    out, placement = place_logo(
        base, LogoOptions(solid_logo((0, 0, 0, 255)), size_pct=15, opacity=1.0)
    )
    assert placement.treatment == "recoloured"
    assert np.asarray(out.convert("L").crop(placement.box)).mean() > 200


def test_colourful_logo_over_its_own_colours_gets_a_backing_plate() -> None:
    mark = Image.new("RGBA", (80, 40), (230, 200, 40, 255))
    mark.paste(Image.new("RGBA", (40, 40), (120, 220, 230, 255)), (40, 0))
    base = Image.new("RGB", (400, 300), (225, 215, 120))
    out, placement = place_logo(base, LogoOptions(png(mark), size_pct=20, opacity=0.8))
    assert placement.treatment == "plate"
    plain = Image.new("RGB", (400, 300), (225, 215, 120))
    plain.paste(Image.open(io.BytesIO(png(mark))).convert("RGB"), placement.box[:2])
    # the plate darkens the logo's area compared to the logo simply pasted on
    assert (
        np.asarray(out.convert("L").crop(placement.box)).mean()
        < np.asarray(plain.convert("L").crop(placement.box)).mean() - 10
    )
    assert np.asarray(out)[5, 5].tolist() == [225, 215, 120]


def test_rgba_images_stay_rgba() -> None:
    base = Image.new("RGBA", (300, 300), (255, 255, 255, 255))
    assert apply_logo(base, LogoOptions(solid_logo())).mode == "RGBA"


@pytest.mark.parametrize("data", [b"", b"not an image at all", b"\x89PNG\r\n\x1a\n broken"])
def test_invalid_logo_bytes(data: bytes) -> None:
    with pytest.raises(OptionsError) as err:
        apply_logo(Image.new("RGB", (300, 300)), LogoOptions(data))
    assert err.value.code == "INVALID_LOGO"


def test_invalid_position_and_size() -> None:
    base = Image.new("RGB", (300, 300))
    with pytest.raises(OptionsError, match="position"):
        apply_logo(base, LogoOptions(solid_logo(), position="middle"))
    with pytest.raises(OptionsError) as err:
        apply_logo(base, LogoOptions(solid_logo(), size_pct=0))
    assert err.value.code == "INVALID_LOGO"


def subject_scene() -> tuple[Image.Image, Image.Image]:
    """A 600x400 photo: a detailed subject filling the left and a busy top-right corner;
    only the bottom-right corner is empty. Returns (image, subject mask)."""
    rng = np.random.default_rng(3)
    arr = np.full((400, 600, 3), 235, np.uint8)
    mask = np.zeros((400, 600), np.uint8)
    arr[40:400, 0:330] = rng.integers(0, 255, (360, 330, 3), dtype=np.uint8)  # the product
    mask[40:400, 0:330] = 255
    arr[0:90, 430:600] = rng.integers(0, 255, (90, 170, 3), dtype=np.uint8)  # busy, no subject
    return Image.fromarray(arr), Image.fromarray(mask)


def test_auto_puts_the_logo_in_the_emptiest_corner_off_the_subject() -> None:
    base, mask = subject_scene()
    opts = LogoOptions(solid_logo((0, 0, 200, 255), (90, 40)), size_pct=15, opacity=1.0)
    assert opts.position == "auto"  # the default
    out, placement = place_logo(base, opts, avoid=mask)
    assert placement.position == "bottom-right"  # top-right is as free but busier
    lft, t, r, b = placement.box
    assert lft >= 300 and t >= 200
    assert np.asarray(mask)[t:b, lft:r].max() == 0  # never over the subject
    # without a subject mask it still picks the least detailed corner
    assert place_logo(base, opts)[1].position == "bottom-right"


@pytest.mark.parametrize("asked", ["bottom-left", "top-left", "center"])
def test_a_named_spot_over_the_subject_moves_off_it(asked: str) -> None:
    base, mask = subject_scene()
    opts = LogoOptions(solid_logo((0, 0, 200, 255), (90, 40)), position=asked, size_pct=15)
    _, placement = place_logo(base, opts, avoid=mask)
    lft, t, r, b = placement.box
    assert np.asarray(mask)[t:b, lft:r].max() == 0
    assert placement.position == "bottom-right"


def test_a_named_corner_off_the_subject_is_kept() -> None:
    base, mask = subject_scene()
    opts = LogoOptions(solid_logo(), position="top-right", size_pct=10)
    assert place_logo(base, opts, avoid=mask)[1].position == "top-right"
