"""Threads, Bluesky and Mastodon, and Instagram's 3:4: facts with sources, exact sizes, file
caps, grapheme counting, hashtag rules, voice and posting times (issue 16, part 1)."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image

from pipeline.captions import (
    compile_content,
    first_comment,
    fit_content,
    graphemes,
    length_for,
    post_text,
    ready_to_post,
)
from pipeline.contact_sheet import balanced_rows, make_contact_sheet
from pipeline.errors import OptionsError
from pipeline.hashtags import finalize_hashtags
from pipeline.intake import load_image
from pipeline.models import PlatformContent
from pipeline.niches import match_niches
from pipeline.platforms import (
    PLATFORM_KEYS,
    PLATFORMS,
    get_spec,
    limit_key,
    mastodon_limits,
    normalize_platform,
    portrait_ratios,
    size_choice,
)
from pipeline.posting import best_times, no_study_note
from pipeline.providers.base import ContentRequest
from pipeline.render import render_platform
from pipeline.vision import focus_map
from tests.image_factories import encode, noise_image, textured_image

NEW = ("threads", "bluesky", "mastodon")
FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"  # 7 code points, 25 bytes
RAINBOW_FLAG = "\U0001f3f3\ufe0f\u200d\U0001f308"  # white flag + VS16 + ZWJ + rainbow
FLAGS = "\U0001f1fa\U0001f1e6\U0001f1e9\U0001f1ea"  # two regional-indicator pairs: UA, DE
E_ACUTE = "e\u0301"  # e + combining acute accent


# -- facts ------------------------------------------------------------------------------------


def test_new_platforms_are_known_with_aliases() -> None:
    for key in NEW:
        assert key in PLATFORM_KEYS
    assert normalize_platform("bsky") == "bluesky"
    assert normalize_platform("Threads.net") == "threads"


def test_the_numbers_of_issue_16() -> None:
    threads, bsky, masto = (PLATFORMS[k] for k in NEW)
    assert bsky.max_file_bytes == 2_000_000  # bytes, not MiB
    assert bsky.max_side == 4000 and bsky.caption_limit == 300 and bsky.counting == "graphemes"
    assert bsky.caption_bytes == 3000 and bsky.alt_text_limit == 2000 and bsky.max_items == 4
    assert set(bsky.formats) == {"JPEG", "PNG", "WEBP"}
    assert threads.max_file_bytes == 8 * 1024 * 1024 and set(threads.formats) == {"JPEG", "PNG"}
    assert threads.width_range == (320, 1440) and threads.caption_limit == 500
    assert threads.hashtag_max == 1 and threads.max_items == 20 and threads.alt_text_limit > 0
    assert masto.caption_limit == 500 and masto.alt_text_limit == 1500 and masto.max_items == 4
    ig = PLATFORMS["instagram"]
    assert ig.default_size.width == 1080 and ig.default_size.height == 1350  # 4:5 stays default
    assert [(s.width, s.height) for s in ig.choices] == [(1080, 1440)]


@pytest.mark.parametrize("key", NEW)
def test_every_number_has_a_dated_source(key: str) -> None:
    spec = PLATFORMS[key]
    for what in ("sizes", "file", "caption", "hashtags", "alt_text", "items"):
        source = spec.sources[what]
        assert source.name and re.fullmatch(r"20\d\d-\d\d(-\d\d)?", source.date), (key, what)
    assert "3:4" in PLATFORMS["instagram"].sources["choices"].name


@pytest.mark.parametrize("key", [*NEW, "instagram"])
def test_sizes_are_within_documented_limits(key: str) -> None:
    spec = PLATFORMS[key]
    low, high = spec.width_range
    for size in (*spec.sizes, *spec.choices):
        if spec.max_side:
            assert max(size.width, size.height) <= spec.max_side
        if high:
            assert low <= size.width <= high


# -- exact sizes, file caps -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "photo", "expected"),
    [
        ("threads", (1600, 900), (1440, 754)),
        ("threads", (900, 1200), (1440, 1800)),
        ("threads", (1000, 1000), (1440, 1440)),
        ("bluesky", (1600, 900), (2000, 1125)),
        ("bluesky", (900, 1200), (1500, 2000)),
        ("bluesky", (1000, 1000), (2000, 2000)),
        ("mastodon", (1600, 900), (1920, 1080)),
        ("mastodon", (1000, 1250), (1536, 1920)),
        ("mastodon", (1000, 1000), (1920, 1920)),
    ],
)
def test_exact_output_size_for_the_photos_shape(
    key: str, photo: tuple[int, int], expected: tuple[int, int]
) -> None:
    src = load_image(encode(textured_image(photo), "JPEG", quality=90))
    rendered = render_platform(src, PLATFORMS[key], "JPEG", focus_map(src.image))
    assert (rendered.width, rendered.height) == expected
    with Image.open(io.BytesIO(rendered.data)) as im:
        assert im.size == expected and im.format == "JPEG"
    assert len(rendered.data) <= PLATFORMS[key].max_file_bytes


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_bluesky_two_million_byte_cap_on_a_noisy_large_image(fmt: str) -> None:
    # pixel noise at the output size: a straight encode is far over the cap
    img = noise_image((2000, 2000), seed=7)
    assert len(encode(img, "JPEG", quality=90)) > 2_000_000
    assert len(encode(img, "PNG")) > 2_000_000
    src = load_image(encode(img, "PNG"))
    rendered = render_platform(src, PLATFORMS["bluesky"], fmt, None)
    assert len(rendered.data) <= 2_000_000
    assert (rendered.width, rendered.height) == (2000, 2000)
    with Image.open(io.BytesIO(rendered.data)) as im:
        assert im.size == (2000, 2000) and im.format == fmt


def test_threads_refuses_webp_and_says_so() -> None:
    src = load_image(encode(textured_image((800, 600)), "JPEG"))
    warnings: list[str] = []
    rendered = render_platform(src, PLATFORMS["threads"], "WEBP", None, warnings=warnings)
    assert rendered.format == "JPEG" and any("Threads does not accept WEBP" in w for w in warnings)


# -- Instagram 3:4 ----------------------------------------------------------------------------


def test_instagram_three_four_is_a_choice_for_portrait_photos() -> None:
    default = get_spec("instagram")
    chosen = get_spec("instagram", size_choice("instagram", "3:4"))
    portrait = (3000, 4000)
    assert (default.choose_size(*portrait).width, default.choose_size(*portrait).height) == (
        1080,
        1350,
    )
    size = chosen.choose_size(*portrait)
    assert (size.width, size.height, size.name) == (1080, 1440, "portrait_3x4")
    # landscape and square photos keep their sizes
    assert chosen.choose_size(4000, 3000) == default.choose_size(4000, 3000)
    assert chosen.choose_size(2000, 2000) == default.choose_size(2000, 2000)
    src = load_image(encode(textured_image((900, 1200)), "JPEG", quality=90))
    rendered = render_platform(src, chosen, "JPEG", focus_map(src.image))
    assert (rendered.width, rendered.height) == (1080, 1440)
    with Image.open(io.BytesIO(rendered.data)) as im:
        assert im.size == (1080, 1440)


def test_portrait_choice_rules() -> None:
    assert list(portrait_ratios(PLATFORMS["instagram"])) == ["4:5", "3:4"]
    assert size_choice("instagram", "4:5") == {}  # the default needs no override
    assert size_choice("ig", "3x4") == {limit_key("instagram", "portrait"): 1440}
    for platform, ratio in (("instagram", "2:3"), ("x", "3:4")):
        with pytest.raises(OptionsError) as err:
            size_choice(platform, ratio)
        assert err.value.code == "UNKNOWN_RATIO"
    with pytest.raises(OptionsError) as err:
        get_spec("instagram", {limit_key("instagram", "portrait"): 1234})
    assert err.value.code == "UNKNOWN_RATIO"


# -- graphemes --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "count"),
    [
        (FAMILY, 1),
        (RAINBOW_FLAG, 1),
        (FLAGS, 2),
        ("\U0001f44d\U0001f3fd", 1),  # thumbs up + skin tone
        (E_ACUTE, 1),
        ("Z\u0324\u0308", 1),  # two combining marks on one letter
        (f"caf{E_ACUTE} {FAMILY}!", 7),
        ("plain", 5),
    ],
)
def test_graphemes_count_what_a_reader_sees(text: str, count: int) -> None:
    assert graphemes(text) == count
    assert len(text) >= count


def test_bluesky_counts_graphemes_not_code_points() -> None:
    spec = PLATFORMS["bluesky"]
    caption = " ".join([FAMILY] * 100)  # 199 graphemes, 799 code points, 2,599 bytes
    assert len(caption) > spec.caption_limit
    fitted = fit_content(PlatformContent(caption=caption, hashtags=[]), spec)
    assert fitted.caption == caption  # fits as Bluesky counts; a len() count would cut it
    # over 300 graphemes once combining marks are counted as part of their letter
    words = " ".join([f"caf{E_ACUTE}"] * 70)  # 349 graphemes, 419 code points
    fitted = fit_content(PlatformContent(caption=words, hashtags=["#Cafe"]), spec)
    text = post_text(fitted, spec)
    assert graphemes(text) <= 300 and len(fitted.caption) > 250
    assert not fitted.caption.endswith("e")  # never cut between a letter and its accent


def test_bluesky_also_keeps_its_three_thousand_byte_cap() -> None:
    spec = PLATFORMS["bluesky"]
    caption = " ".join([FAMILY] * 130)  # 259 graphemes but 3,379 bytes
    measure = length_for(spec)
    assert measure(caption) > 300
    fitted = fit_content(PlatformContent(caption=caption, hashtags=[]), spec)
    assert len(fitted.caption.encode("utf-8")) <= 3000 and graphemes(fitted.caption) <= 300
    assert FAMILY in fitted.caption and len(fitted.caption) < len(caption)


# -- hashtag rules and voice ------------------------------------------------------------------


def _request(
    platforms: tuple[str, ...], description: str, limits: dict[str, int] | None = None
) -> ContentRequest:
    return ContentRequest(
        analysis=None,  # type: ignore[arg-type]
        niches=match_niches(description, None),
        platforms=platforms,
        description=description,
        hashtag_limits=limits or {},
    )


def test_threads_gets_one_topic_tag_in_the_post() -> None:
    spec = PLATFORMS["threads"]
    tags = finalize_hashtags(["#Dandelion", "#Flowers", "#Nature", "#Macro"], spec)
    assert tags == ["#Dandelion"]
    out = compile_content(_request(("threads",), "Dandelion clocks glowing in the evening sun"))
    content = out["threads"]
    assert len(content.hashtags) == 1
    post = ready_to_post(content, spec)
    assert len(re.findall(r"#\w+", post)) == 1 and post.endswith(content.hashtags[0])
    assert first_comment(content, spec) == ""
    assert "repl" in content.caption.lower()  # Threads voice: asks for replies


def test_mastodon_tags_are_camel_case_and_in_the_post() -> None:
    spec = PLATFORMS["mastodon"]
    tags = finalize_hashtags(["#dandelionclock", "photooftheday", "nature photography"], spec)
    assert tags == ["#DandelionClock", "#PhotoOfTheDay", "#NaturePhotography"]
    content = compile_content(_request(("mastodon",), "Dandelion clocks in the evening sun"))[
        "mastodon"
    ]
    assert spec.hashtag_min <= len(content.hashtags) <= spec.hashtag_max
    for tag in content.hashtags:
        assert re.fullmatch(r"#[A-Z0-9][^\W_]*", tag), tag
    post = ready_to_post(content, spec)
    assert post.endswith(" ".join(content.hashtags)) and first_comment(content, spec) == ""
    assert "boost" in content.caption.lower()
    assert not re.search(r"[\u2600-\u27bf\U0001f300-\U0001faff]", content.caption)  # no emoji


def test_new_platforms_fit_their_limits_with_a_long_description() -> None:
    long = "Dandelion clocks glowing in the evening sun. " + "Seeds drift over the grass. " * 60
    out = compile_content(_request(NEW, long))
    for key in NEW:
        spec = PLATFORMS[key]
        text = post_text(out[key], spec)
        assert length_for(spec)(text) <= spec.caption_limit, key
        assert 0 < len(out[key].alt_text) <= spec.alt_text_limit
        assert out[key].hashtags, key  # the tags survive: the caption is cut first


def test_a_servers_caption_limit_applies_to_mastodon() -> None:
    long = "Dandelion clocks glowing in the evening sun. " + "Seeds drift over the grass. " * 60
    limits = mastodon_limits({"configuration": {"statuses": {"max_characters": 1000}}})
    spec = get_spec("mastodon", limits)
    assert spec.caption_limit == 1000
    short = compile_content(_request(("mastodon",), long))["mastodon"]
    wide = compile_content(_request(("mastodon",), long, limits=limits))["mastodon"]
    assert len(post_text(short, spec)) <= 500 < len(post_text(wide, spec)) <= 1000


def test_mastodon_instance_document_errors_are_coded() -> None:
    for bad in ({}, {"configuration": {"statuses": {"max_characters": "500"}}}, None, []):
        with pytest.raises(OptionsError) as err:
            mastodon_limits(bad)
        assert err.value.code == "MASTODON_INSTANCE_INVALID"
    doc = {"configuration": {"statuses": {"max_characters": 11000, "max_media_attachments": 8}}}
    assert get_spec("mastodon", mastodon_limits(doc)).max_items == 8


# -- posting times ----------------------------------------------------------------------------


@pytest.mark.parametrize("key", NEW)
def test_no_study_means_no_times_and_says_so(key: str) -> None:
    spec = PLATFORMS[key]
    assert best_times(spec, "Europe/Berlin") == []
    note = no_study_note(spec)
    assert spec.display_name in note and "no dated study" in note.lower()
    assert no_study_note(PLATFORMS["instagram"]) == ""


# -- contact sheet ----------------------------------------------------------------------------


def test_contact_sheet_rows_are_balanced_for_nine_platforms() -> None:
    # thumbnail widths at 360 px high for a 16:9 photo on the nine platforms
    widths = [687, 686, 689, 240, 640, 202, 687, 640, 640]
    rows = balanced_rows(widths, 24, 2600)
    assert len(rows) == 3 and [r[0] for r in rows][0] == 0 and rows[-1][1] == len(widths)
    spans = [24 + sum(w + 24 for w in widths[a:b]) for a, b in rows]
    assert all(s <= 2600 for s in spans)
    assert max(spans) - min(spans) < 700  # no lone item in a row of its own
    assert all(b - a >= 2 for a, b in rows)
    images = [
        (f"{PLATFORMS[k].display_name} {w}", Image.new("RGB", (w, 360), (9 * i, 80, 80)))
        for i, (k, w) in enumerate(zip(PLATFORM_KEYS, widths, strict=True))
    ]
    with Image.open(io.BytesIO(make_contact_sheet(images))) as sheet:
        assert sheet.width <= 2600 and sheet.height < 3 * 500
