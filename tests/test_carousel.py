"""pipeline.carousel: several photos -> one carousel per platform (issue 16, part 2)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image

from pipeline import carousel
from pipeline.carousel import merge_analyses, run_set, set_size, write_set_outputs
from pipeline.errors import IntakeError, OptionsError
from pipeline.job import run_job
from pipeline.models import JobOptions, NamedColor, Recognition
from pipeline.outputs import results_to_dict
from pipeline.platforms import PLATFORMS, get_spec
from socialopt.wiring import offline_services
from tests.factories import make_analysis
from tests.image_factories import disc_image, encode

SERVICES = offline_services()


def _photo(size: tuple[int, int], cx: float = 0.8, fg=(210, 30, 30), bg=(235, 235, 235)):
    img, box = disc_image(size, cx=cx, cy=0.5, radius=0.12, fg=fg, bg=bg)
    return encode(img, "JPEG", quality=90), box


def _size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as im:
        return im.size


# -- one ratio per platform ---------------------------------------------------------------------


def test_set_size_takes_the_shape_that_crops_least_of_the_whole_set() -> None:
    ig = PLATFORMS["instagram"]
    assert set_size(ig, [(800, 1000)] * 3 + [(1600, 900)]).name == "portrait"
    assert set_size(ig, [(1600, 900)] * 3 + [(800, 1000)]).name == "landscape"
    assert set_size(ig, [(1000, 1000), (1000, 1000), (800, 1000)]).name == "square"
    # a platform with one fixed size keeps it whatever the photos
    assert set_size(PLATFORMS["x"], [(800, 1000)] * 4) == PLATFORMS["x"].default_size
    # the chosen portrait (Instagram 3:4) is what a portrait set gets
    three_four = get_spec("instagram", {"instagram.portrait": 1440})
    assert (set_size(three_four, [(750, 1000)] * 2).width, 1440) == (1080, 1440)


def test_every_slide_of_a_platform_shares_one_size_and_keeps_its_subject() -> None:
    shapes = [(800, 1000), (800, 1000), (800, 1000), (1600, 900)]
    photos = [_photo(s, cx=cx) for s, cx in zip(shapes, (0.2, 0.5, 0.8, 0.85), strict=True)]
    result = run_set(
        [p for p, _ in photos], JobOptions(platforms=("instagram", "x", "tiktok")), SERVICES
    )
    expected = {"instagram": (1080, 1350), "x": (1200, 675), "tiktok": (1080, 1920)}
    for key, (w, h) in expected.items():
        slides = result.slides[key]
        assert [s.n for s in slides] == [1, 2, 3, 4]
        assert {(s.image.width, s.image.height) for s in slides} == {(w, h)}
        assert {_size(s.image.data) for s in slides} == {(w, h)}
        for slide in slides:  # the disc is in every crop, wherever it sat in its photo
            assert slide.image.fit == "crop" or slide.image.subject_kept == 1.0
            assert slide.image.subject_kept is not None and slide.image.subject_kept >= 0.95
    # the landscape photo in Instagram's portrait set is cropped around its disc
    left, _, right, _ = result.slides["instagram"][3].image.crop_box
    disc = photos[3][1]
    assert left <= disc[0] and disc[2] <= right
    assert result.job.platforms["instagram"].image is result.slides["instagram"][0].image


# -- the platform's limit -----------------------------------------------------------------------


def test_photos_over_a_platforms_limit_are_left_out_and_named() -> None:
    photos = [_photo((900, 900), cx=0.3 + 0.08 * i)[0] for i in range(6)]
    names = [f"shot{i + 1}.jpg" for i in range(6)]
    result = run_set(
        photos, JobOptions(platforms=("x", "pinterest", "instagram")), SERVICES, names=names
    )
    assert PLATFORMS["x"].max_items == 4 and PLATFORMS["pinterest"].max_items == 5
    assert [s.photo for s in result.slides["x"]] == names[:4]
    assert result.left_out == {"x": [5, 6], "pinterest": [6], "instagram": []}
    assert len(result.slides["instagram"]) == 6
    said = [w for w in result.job.warnings if w.startswith("X takes 4")]
    assert len(said) == 1 and "shot5.jpg" in said[0] and "shot6.jpg" in said[0]
    assert any("Pinterest takes 5" in w and "shot6.jpg" in w for w in result.job.warnings)
    assert not any(w.startswith("Instagram takes") for w in result.job.warnings)


def test_a_servers_own_attachment_limit_is_the_one_enforced() -> None:
    photos = [_photo((900, 900))[0] for _ in range(3)]
    options = JobOptions(platforms=("mastodon",), hashtag_limits={"mastodon.items": 2})
    result = run_set(photos, options, SERVICES)
    assert len(result.slides["mastodon"]) == 2 and result.left_out["mastodon"] == [3]


def test_a_set_has_two_to_35_photos_and_a_bad_photo_is_named() -> None:
    one = _photo((900, 900))[0]
    options = JobOptions(platforms=("x",))
    with pytest.raises(OptionsError) as few:
        run_set([one], options, SERVICES)
    assert few.value.code == "NOT_A_SET"
    with pytest.raises(OptionsError) as many:
        run_set([one] * (carousel.MAX_SET_PHOTOS + 1), options, SERVICES)
    assert many.value.code == "TOO_MANY_PHOTOS"
    with pytest.raises(IntakeError) as bad:
        run_set([one, b"not an image at all"], options, SERVICES, names=["a.jpg", "b.jpg"])
    assert bad.value.message.startswith("Photo 2 (b.jpg):") and bad.value.code != "INTERNAL_ERROR"


# -- one caption, alt text per slide ------------------------------------------------------------


def test_the_caption_is_written_once_from_every_photo() -> None:
    red = _photo((900, 900), fg=(210, 30, 30))[0]
    blue = _photo((900, 900), fg=(20, 60, 200), bg=(20, 60, 200))[0]
    options = JobOptions(platforms=("instagram", "x"), description="Our new ceramics")
    result = run_set([red, blue], options, SERVICES)
    merged = {c.name for c in result.job.analysis.colors}
    first, second = result.analyses
    assert second.colors[0].name in merged  # the second photo's main colour counts too
    assert second.colors[0].name not in {c.name for c in first.colors}
    for key in ("instagram", "x"):
        res = result.job.platforms[key]
        assert res.content.caption and "ceramics" in res.content.caption.lower()
    # alt text per slide, each describing its own photo; the platform's is the cover's
    ig = result.slides["instagram"]
    assert all(s.alt_text for s in ig) and ig[0].alt_text != ig[1].alt_text
    assert result.job.platforms["instagram"].content.alt_text == ig[0].alt_text
    assert all(len(s.alt_text) <= PLATFORMS["instagram"].alt_text_limit for s in ig)


def test_merged_analysis_takes_the_subject_most_photos_show() -> None:
    cup = Recognition(subject="cup", concepts=("cup",), confidence=0.9)
    cat = Recognition(subject="cat", concepts=("cat", "animal"), confidence=0.95)
    a = make_analysis(subject="cat", kind="animal", recognition=cat, keywords=["cat"])
    b = make_analysis(
        subject="cup",
        kind="thing",
        recognition=cup,
        keywords=["cup"],
        colors=[NamedColor("blue", "#0000ff", 0.9)],  # mean 0.3 > brown 0.27
    )
    c = make_analysis(subject="cup", kind="thing", recognition=cup, monochrome=True)
    merged = merge_analyses([a, b, c])
    assert (merged.subject, merged.kind, merged.recognition) == ("cup", "thing", cup)
    assert merged.keywords == ["cat", "cup", "brown"]
    assert merged.monochrome is False  # only when every photo is
    assert [col.name for col in merged.colors] == ["blue"]  # the largest mean share


# -- files and results.json ---------------------------------------------------------------------


def test_outputs_name_each_slide_and_keep_the_single_photo_shape(tmp_path: Path) -> None:
    photos = [_photo((900, 1100), cx=0.3 + 0.2 * i)[0] for i in range(5)]
    names = [f"p{i}.jpg" for i in range(5)]
    options = JobOptions(platforms=("instagram", "x"), description="Studio day")
    result = run_set(photos, options, SERVICES, names=names)
    files = write_set_outputs(result, tmp_path)
    written = sorted(p.name for p in tmp_path.iterdir())
    for n in range(1, 6):
        assert f"instagram_{n}_1080x1350.jpg" in written
    assert [f"x_{n}_1200x675.jpg" in written for n in range(1, 6)] == [True] * 4 + [False]
    assert {"instagram_contact_sheet.jpg", "x_contact_sheet.jpg", "preview.jpg"} <= set(written)
    sheet = Image.open(tmp_path / "x_contact_sheet.jpg")
    assert sheet.width > sheet.height  # four slides side by side

    doc = json.loads(files.results_json.read_text())
    single = results_to_dict(run_job(photos[0], options, SERVICES))
    assert set(single) <= set(doc)  # new keys only
    for key in ("instagram", "x"):
        assert set(single["platforms"][key]) <= set(doc["platforms"][key])
        entry = doc["platforms"][key]
        assert isinstance(entry["hashtags"], str)
        assert set(entry["profile_results"]) == {"extracted_usernames", "total_usernames"}
        assert entry["processed_image"] == entry["slides"][0]["file"]
        assert all((tmp_path / s["file"]).is_file() for s in entry["slides"])
    assert [s["photo"] for s in doc["platforms"]["x"]["slides"]] == names[:4]
    assert doc["platforms"]["x"]["left_out"] == [{"n": 5, "photo": "p4.jpg"}]
    assert doc["platforms"]["instagram"]["aspect"] == "4:5"
    assert [p["name"] for p in doc["carousel"]["photos"]] == names
    caption_file = (tmp_path / "x_caption.txt").read_text()
    assert "Slide 4: x_4_1200x675.jpg" in caption_file and "photo 5 (p4.jpg)" in caption_file
