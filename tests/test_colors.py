"""Colour naming, monochrome photos, colour words in six languages, subject-aware blur."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter, ImageOps

from pipeline.analysis import analyse_image
from pipeline.colors import (
    FAMILIES,
    color_word,
    dominant_colors,
    family_of,
    image_colors,
    name_color,
    srgb_to_oklch,
)
from pipeline.models import NamedColor
from pipeline.vision import focus_map
from tests.image_factories import SAMPLES, astronaut

SWATCHES = [  # sRGB patch -> the family a person would name
    ((0, 0, 250), "blue"),
    ((20, 30, 60), "blue"),  # dark desaturated blue: navy, not black
    ((135, 206, 235), "blue"),
    ((200, 80, 0), "orange"),  # deep orange stays orange
    ((150, 60, 20), "orange"),
    ((240, 140, 50), "orange"),
    ((255, 79, 0), "orange"),
    ((205, 25, 30), "red"),
    ((128, 0, 0), "red"),
    ((30, 160, 60), "green"),
    ((128, 128, 0), "green"),
    ((0, 128, 128), "teal"),
    ((250, 220, 30), "yellow"),
    ((128, 0, 128), "purple"),
    ((255, 105, 180), "pink"),
    ((120, 75, 40), "brown"),
    ((220, 200, 160), "beige"),
    ((128, 128, 128), "grey"),
    ((15, 15, 20), "black"),
    ((250, 250, 250), "white"),
]


@pytest.mark.parametrize(("rgb", "family"), SWATCHES)
def test_swatch_families(rgb: tuple[int, int, int], family: str) -> None:
    named = name_color(rgb)
    assert named.family == family, named
    assert named.hex == "#{:02x}{:02x}{:02x}".format(*rgb)


def test_everyday_names_on_plain_swatches() -> None:
    assert name_color((0, 0, 250)).name == "blue"
    assert name_color((205, 25, 30)).name == "red"
    assert name_color((30, 160, 60)).name == "green"
    assert name_color((20, 30, 60)).name == "navy"
    assert name_color((250, 250, 250)).name == "white"


def test_family_rule_agrees_with_the_palette_it_names() -> None:
    # every curated name is reached by its own swatch's family (no unreachable names)
    from pipeline.colors import _palette

    pal = _palette()
    assert len(pal.names) >= 200
    rgb = np.array([[int(h[i : i + 2], 16) for i in (1, 3, 5)] for h in _hexes()])
    fams = [family_of(*srgb_to_oklch(c)) for c in rgb]
    assert [FAMILIES[i] for i in pal.families] == fams


def _hexes() -> list[str]:
    import json
    from importlib import resources

    raw = json.loads(resources.files("pipeline.data").joinpath("colors.json").read_text())
    return [c["hex"] for c in raw["colors"]]


def test_greyscale_photo_is_black_and_white() -> None:
    grey = Image.open(SAMPLES / "coffee.jpg").convert("L").convert("RGB")
    colors, mono = image_colors(grey)
    assert mono
    assert [c.name for c in colors] == ["black and white"]
    a = analyse_image(grey)
    assert a.monochrome and "black-and-white" in a.description
    assert "brown" not in a.description and "grey" not in a.description
    colour, mono_c = image_colors(Image.open(SAMPLES / "coffee.jpg").convert("RGB"))
    assert not mono_c and len(colour) >= 2


def test_sepia_photo_is_sepia_tones() -> None:
    grey = astronaut().convert("L")
    sepia = ImageOps.colorize(grey, (40, 26, 13), (255, 240, 220))
    colors, mono = image_colors(sepia)
    assert mono and colors[0].name == "sepia tones" and colors[0].family == "brown"
    blue = ImageOps.colorize(grey, (10, 20, 50), (230, 240, 255))
    colors, mono = image_colors(blue)
    assert mono and colors[0].name == "blue tones"
    a = analyse_image(sepia)
    assert a.monochrome and "sepia" in a.description


def test_flat_colour_is_a_colour_not_a_tone() -> None:
    colors, mono = image_colors(Image.new("RGB", (400, 300), (128, 128, 128)))
    assert not mono and colors[0].family == "grey"


def test_small_vivid_blue_and_green_object_on_grey() -> None:
    rng = np.random.default_rng(3)
    base = np.clip(rng.normal(120, 18, (400, 600, 1)), 0, 255).repeat(3, axis=2)
    img = Image.fromarray(base.astype(np.uint8))
    d = ImageDraw.Draw(img)
    d.ellipse((280, 170, 330, 230), fill=(20, 90, 230))  # ~1% of the frame each
    d.rectangle((340, 180, 380, 220), fill=(40, 190, 60))
    colors = dominant_colors(img)
    fams = [c.family for c in colors]
    assert "blue" in fams and "green" in fams, colors
    assert colors[0].family == "grey" and colors[0].share > 0.8  # shares stay honest
    blue = next(c for c in colors if c.family == "blue")
    assert blue.share < 0.05


def test_orange_sunset_gradient_names_orange() -> None:
    h, w = 400, 600
    t = np.linspace(0.0, 1.0, h)[:, None, None]
    sky = (1 - t) * np.array([250, 150, 40]) + t * np.array([120, 40, 10])
    img = np.broadcast_to(sky, (h, w, 3)).copy()
    img[300:] = [40, 35, 40]  # dark land
    colors = dominant_colors(Image.fromarray(img.astype(np.uint8)))
    assert "orange" in [c.family for c in colors], colors
    assert "grey" not in [c.family for c in colors if c.share > 0.5]


LOCALISED = {
    "en": ("dark blue", "light green", "black and white", "sepia tones"),
    "es": ("azul oscuro", "verde claro", "blanco y negro", "tonos sepia"),
    "pt": ("azul-escuro", "verde-claro", "preto e branco", "tons de sépia"),
    "de": ("dunkelblau", "hellgrün", "Schwarz-Weiß", "Sepiatöne"),
    "fr": ("bleu foncé", "vert clair", "noir et blanc", "tons sépia"),
    "ru": ("тёмно-синий", "светло-зелёный", "чёрно-белые тона", "тона сепии"),
}


@pytest.mark.parametrize("language", sorted(LOCALISED))
def test_color_words_in_six_languages(language: str) -> None:
    dark_blue = NamedColor("dark blue", "#00035b", 0.5, "blue")
    light_green = NamedColor("light green", "#96f97b", 0.2, "green")
    bw = NamedColor("black and white", "#808080", 1.0, "grey")
    sepia = NamedColor("sepia tones", "#a08060", 1.0, "brown")
    got = tuple(color_word(c, language) for c in (dark_blue, light_green, bw, sepia))
    assert got == LOCALISED[language]


def test_color_words_cover_every_family_and_name() -> None:
    from pipeline.colors import _palette

    pal = _palette()
    for language in ("es", "pt", "de", "fr", "ru"):
        for name, fam in zip(pal.names, pal.families, strict=True):
            word = color_word(NamedColor(name, "#808080", 0.1, FAMILIES[fam]), language)
            assert word and "{" not in word, (language, name)
        for fam in ("red", "green", "blue", "yellow", "grey", "black", "white", "brown"):
            assert color_word(NamedColor(fam, "#808080", 0.1, fam), language) != fam
    assert color_word(NamedColor("light blue", "#95d0fc", 0.1, "blue"), "ru") == "голубой"
    assert color_word(NamedColor("navy", "#01153e", 0.1, "blue"), "es") == "azul marino"
    assert color_word(NamedColor("blue tones", "#203050", 1.0, "blue"), "de") == "Blautöne"


def _bokeh_scene(blur_all: float = 0.0) -> Image.Image:
    """A sharp textured subject in the middle of a Gaussian-blurred textured background."""
    rng = np.random.default_rng(7)
    h, w = 600, 900
    bg = rng.integers(60, 200, (h // 8, w // 8, 3), dtype=np.uint8)
    bg_img = Image.fromarray(bg).resize((w, h), Image.Resampling.NEAREST)
    bg_img = bg_img.filter(ImageFilter.GaussianBlur(12))
    subject = Image.fromarray(rng.integers(0, 256, (140, 160, 3), dtype=np.uint8))
    d = ImageDraw.Draw(subject)
    for x in range(0, 160, 8):
        d.line((x, 0, x, 140), fill=(255, 40, 20), width=2)
    bg_img.paste(subject, (370, 230))
    return bg_img.filter(ImageFilter.GaussianBlur(blur_all)) if blur_all else bg_img


def test_shallow_depth_of_field_is_not_blurry() -> None:
    img = _bokeh_scene()
    a = analyse_image(img, focus=focus_map(img))
    assert not a.is_blurry
    assert a.subject_sharpness > a.sharpness  # the subject is sharper than the frame overall
    assert "blurry" not in a.description and not any("blurry" in w for w in a.warnings)


def test_soft_subject_is_blurry() -> None:
    img = _bokeh_scene(blur_all=4)
    a = analyse_image(img, focus=focus_map(img))
    assert a.is_blurry and a.subject_sharpness < 60
    assert any("blurry" in w for w in a.warnings)


def test_without_focus_map_global_measure_is_kept() -> None:
    img = _bokeh_scene()
    a = analyse_image(img)
    assert a.subject_sharpness == a.sharpness


@pytest.mark.parametrize("name", ["coffee.jpg", "astronaut.jpg", "rocket.jpg"])
def test_real_samples(name: str) -> None:
    img = Image.open(SAMPLES / name).convert("RGB")
    colors, mono = image_colors(img)
    assert not mono
    fams = {c.family for c in colors}
    expected = {"coffee.jpg": "orange", "astronaut.jpg": "orange", "rocket.jpg": "blue"}[name]
    assert expected in fams, colors  # coffee's wood, the astronaut's suit, the dusk sky
    a = analyse_image(img, focus=focus_map(img))
    assert not a.is_blurry


PHOTOS = SAMPLES.parent / "tests" / "data" / "photos"


def _labelled() -> list[dict]:
    import json

    return json.loads((PHOTOS / "labels.json").read_text())["photos"]


@pytest.mark.parametrize("photo", _labelled(), ids=lambda p: p["id"])
def test_real_photos_colour_labels(photo: dict) -> None:
    img = Image.open(PHOTOS / photo["file"]).convert("RGB")
    a = analyse_image(img, focus=focus_map(img))
    labels = photo["colors"]
    if labels == ["black and white"]:
        assert a.monochrome and a.colors[0].name == "black and white"
        return
    assert not a.monochrome
    families = list(dict.fromkeys(c.family for c in a.colors))
    assert set(labels) & set(families[:3]), (labels, a.colors)
    if photo["sharp_bokeh"]:  # sharp subject, soft background: never "blurry"
        assert not a.is_blurry and a.subject_sharpness > a.sharpness
        assert "blurry" not in a.description


def test_issue_photos_name_what_a_person_sees() -> None:
    def families(file: str) -> set[str]:
        img = Image.open(PHOTOS / file).convert("RGB")
        return {c.family for c in analyse_image(img).colors}

    assert {"green", "blue"} <= families("dragonfly.jpg")  # was "mostly grey and black"
    assert "orange" in families("rowing_boats.jpg")  # the sunset, was "dark grey and peach"
    lake = analyse_image(Image.open(PHOTOS / "misty_lake.jpg").convert("RGB"))
    assert lake.colors[0].family == "blue" and "blue" in lake.description
    pier = analyse_image(Image.open(PHOTOS / "bw_pier.jpg").convert("RGB"))
    assert pier.monochrome and "brown" not in pier.description


def test_ladybird_bokeh_was_blurry_by_the_global_measure() -> None:
    img = Image.open(PHOTOS / "ladybird.jpg").convert("RGB")
    frame = analyse_image(img)  # no focus map: the old whole-frame measure
    subject = analyse_image(img, focus=focus_map(img))
    assert frame.is_blurry and not subject.is_blurry


def test_dominant_colours_are_deterministic() -> None:
    img = Image.open(PHOTOS / "dragonfly.jpg").convert("RGB")
    first = dominant_colors(img)
    assert all(dominant_colors(img.copy()) == first for _ in range(3))
    assert all(c.family in FAMILIES for c in first)
