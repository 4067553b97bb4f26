"""Offline analysis on synthetic images and one real photo."""

from __future__ import annotations

from PIL import Image, ImageFilter

from pipeline.analysis import analyse_image
from pipeline.colors import color_name, dominant_colors
from pipeline.models import ImageAnalysis
from tests.image_factories import astronaut, disc_image, noise_image, plain, textured_image


def test_dark_image_is_dark() -> None:
    a = analyse_image(plain((600, 400), (15, 15, 20)))
    assert isinstance(a, ImageAnalysis)
    assert a.brightness < 0.15
    assert "dark" in a.description.lower()
    assert any("dark" in w for w in a.warnings)
    b = analyse_image(plain((600, 400), (250, 250, 245)))
    assert b.brightness > 0.9 and "bright" in b.description.lower()


def test_orientation() -> None:
    assert analyse_image(plain((600, 400))).orientation == "landscape"
    assert analyse_image(plain((400, 600))).orientation == "portrait"
    assert analyse_image(plain((500, 500))).orientation == "square"


def test_blur_flagged() -> None:
    sharp = textured_image((800, 600))
    a = analyse_image(sharp)
    assert not a.is_blurry
    b = analyse_image(sharp.filter(ImageFilter.GaussianBlur(6)))
    assert b.is_blurry and b.sharpness < a.sharpness
    assert any("blurry" in w for w in b.warnings)
    real = analyse_image(astronaut())
    assert not real.is_blurry
    assert analyse_image(astronaut().filter(ImageFilter.GaussianBlur(4))).is_blurry


def test_red_dominant_named_red() -> None:
    img = plain((600, 400), (205, 25, 30))
    img.paste((240, 240, 240), (0, 0, 600, 80))
    a = analyse_image(img)
    assert a.colors[0].name == "red" and a.colors[0].family == "red"
    assert a.colors[0].share > 0.7
    assert a.colors[0].hex.startswith("#")
    assert "red" in a.keywords and "red" in a.description
    assert abs(sum(c.share for c in a.colors) - 1.0) < 0.01
    assert len(dominant_colors(textured_image())) <= 5


def test_color_names() -> None:
    assert color_name((0, 0, 250)) == "blue"
    assert color_name((250, 250, 250)) == "white"
    assert color_name((30, 160, 60)) == "green"


def test_product_like_vs_busy() -> None:
    img, _ = disc_image((900, 700), cx=0.5, radius=0.25, bg=(245, 245, 245))
    a = analyse_image(img, description="Handmade ceramic mug")
    assert a.is_product, a.product_reason
    assert a.product_likeness >= 0.5
    assert "plain background" in a.product_reason
    assert "product" in a.keywords
    assert a.faces == 0

    n = analyse_image(noise_image((800, 600)))
    assert not n.is_product and n.product_likeness < 0.5
    assert n.product_reason

    # Two separate objects are not "one product".
    two, _ = disc_image((900, 600), cx=0.25, radius=0.15)
    other, _ = disc_image((900, 600), cx=0.75, radius=0.15)
    two.paste(other.crop((450, 0, 900, 600)), (450, 0))
    assert not analyse_image(two).is_product

    # Filling the whole frame is not a product shot either.
    full, _ = disc_image((600, 600), cx=0.5, radius=0.9)
    assert not analyse_image(full).is_product


def test_astronaut_has_one_face_and_honest_description() -> None:
    a = analyse_image(astronaut(), description="Astronaut portrait on a mission!")
    assert a.faces == 1 and len(a.face_boxes) == 1
    x, y, w, h = a.face_boxes[0]
    assert 150 < x + w / 2 < 300 and 50 < y + h / 2 < 200  # her face, upper middle-left
    assert "one person" in a.description
    assert not a.is_product
    assert "astronaut" in a.keywords and "portrait" in a.keywords
    assert "on" not in a.keywords and "a" not in a.keywords
    # Honest: no recognised objects beyond what was measured or what the user said.
    for word in ("woman", "man", "helmet", "flag"):
        assert word not in a.description.lower()


def test_faces_given_and_source_size_mapping() -> None:
    small = astronaut().resize((256, 256))
    a = analyse_image(small, faces=[(50, 20, 40, 40)], source_size=(512, 512))
    assert (a.width, a.height) == (512, 512)
    assert a.face_boxes == [(100, 40, 80, 80)]
    b = analyse_image(small, faces=[(50, 20, 40, 40)], scale=0.5)
    assert (b.width, b.height) == (512, 512) and b.face_boxes == a.face_boxes


def test_user_words_without_stopwords() -> None:
    a = analyse_image(plain((600, 400), (40, 90, 200)), description="The best coffee in the city")
    assert a.keywords[:3] == ["best", "coffee", "city"]
    assert "the" not in a.keywords
    assert '"The best coffee in the city"' in a.description
    big = Image.new("RGB", (600, 400), (40, 90, 200))
    assert "blue" in analyse_image(big).keywords


def test_a_deep_single_colour_is_not_called_colourful() -> None:
    """A navy lake is saturated but not colourful; four vivid stripes are."""
    navy = Image.new("RGB", (400, 300), (20, 35, 90))
    navy.paste((30, 50, 120), (0, 150, 400, 300))
    assert "colorful" not in analyse_image(navy).keywords
    stripes = Image.new("RGB", (400, 300))
    for i, rgb in enumerate([(220, 30, 30), (30, 180, 40), (30, 60, 220), (240, 210, 20)]):
        stripes.paste(rgb, (i * 100, 0, i * 100 + 100, 300))
    assert "colorful" in analyse_image(stripes).keywords
