"""Alt text per crop: language, limits, people inside the crop, subject only when known."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pipeline import job
from pipeline.alt_text import alt_text_for, people_in_crop
from pipeline.captions import compile_content
from pipeline.models import LANGUAGES, JobOptions, NamedColor
from pipeline.phrases import templates
from pipeline.platforms import ALT_TEXT_LIMITS, PLATFORM_KEYS, PLATFORMS, get_spec
from pipeline.providers.base import ContentRequest
from socialopt.wiring import offline_services
from tests.factories import make_analysis

ROOT = Path(__file__).resolve().parents[1]
FACE = (100, 100, 50, 50)  # x, y, w, h
NUTHATCH = dict(subject="nuthatch", subject_concepts=["nuthatch", "bird", "animal"])


def words(text: str) -> set[str]:
    return {w.lower() for w in re.findall(r"[^\W\d_]+", text)}


def test_people_are_counted_inside_the_crop_only() -> None:
    faces = [FACE, (900, 100, 60, 60)]
    assert people_in_crop(faces, None) == 2
    assert people_in_crop(faces, (0, 0, 400, 400)) == 1
    assert people_in_crop(faces, (300, 0, 800, 400)) == 0
    assert people_in_crop([FACE], (0, 0, 120, 400)) == 0  # 20 of 50 px wide: mostly outside
    assert people_in_crop([FACE], (0, 0, 130, 400)) == 1  # 30 of 50 px: most of it inside


@pytest.mark.parametrize("language", LANGUAGES)
def test_people_sentence_follows_the_crop(language: str) -> None:
    analysis = make_analysis(faces=1, face_boxes=[FACE])
    inside = alt_text_for(analysis, "", language, crop_box=(0, 0, 400, 400))
    outside = alt_text_for(analysis, "", language, crop_box=(300, 0, 800, 400))
    one = templates()[language]["alt"]["people"]["one"]
    assert one in inside
    assert one not in outside


def test_russian_people_counts_agree_with_the_number() -> None:
    def alt(n: int) -> str:
        boxes = [(i * 60, 0, 50, 50) for i in range(n)]
        return alt_text_for(make_analysis(faces=n, face_boxes=boxes), "", "ru")

    assert "один человек" in alt(1)
    assert "3 человека" in alt(3)
    assert "5 человек." in alt(5)


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_format_words_and_subject_only_when_known(language: str) -> None:
    unknown = alt_text_for(make_analysis(), "", language)
    for banned in ("format", "landscape", "paysage", "horizontal", "альбом"):
        assert banned not in unknown.lower()
    known = alt_text_for(make_analysis(kind="animal", **NUTHATCH), "", language)
    phrase = "a nuthatch" if language == "en" else None
    if phrase:
        assert phrase in known
    else:  # named through the lexicon's broader concept, in the language
        from pipeline.phrases import lexicon

        assert lexicon()["bird"][language][1] in known
    shows = templates()[language]["alt"]["shows"].split("{np}")[0]
    assert shows not in unknown  # nothing is named when nothing is known


def test_german_without_description_has_no_english_words() -> None:
    analysis = make_analysis(
        kind="animal",
        colors=[NamedColor("green", "#2e8b57", 0.5, "green"), NamedColor("blue", "#3060c0", 0.3)],
        brightness=0.8,
        **NUTHATCH,
    )
    german = alt_text_for(analysis, "", "de")
    english = alt_text_for(analysis, "", "en")
    assert "Vogel" in german
    assert "Grün" in german and "Blau" in german
    assert not (words(german) & words(english)), (german, english)


@pytest.mark.parametrize("language", LANGUAGES)
def test_description_is_not_just_quoted(language: str) -> None:
    description = "Mein Kleiber am Futterhaus"
    alt = alt_text_for(make_analysis(brightness=0.2), description, language)
    assert description in alt and alt.strip(". ") != description
    assert templates()[language]["alt"]["dark"] in alt


def test_limits_keep_whole_sentences() -> None:
    long_first = "A nuthatch " + "climbing down an old oak " * 10 + "in the morning."
    analysis = make_analysis(faces=1, face_boxes=[FACE], brightness=0.9)
    alt = alt_text_for(analysis, long_first, "en", limit=500)
    assert len(alt) <= 500 and alt.endswith(".")
    short = alt_text_for(analysis, long_first, "en", limit=len(long_first) + 5)
    assert short == long_first  # the people/colour sentences did not fit: dropped, not cut
    tiny = alt_text_for(analysis, long_first, "en", limit=40)
    assert len(tiny) <= 40 and tiny.endswith("…")


def test_platform_alt_text_limits_have_sources() -> None:
    expected = {"instagram": 1000, "x": 1000, "pinterest": 500, "bluesky": 2000, "mastodon": 1500}
    for key, limit in expected.items():
        assert ALT_TEXT_LIMITS[key][0] == limit
        assert ALT_TEXT_LIMITS[key][1].name and ALT_TEXT_LIMITS[key][1].date
    for key, spec in PLATFORMS.items():
        if spec.alt_text_limit:
            assert spec.alt_text_limit == ALT_TEXT_LIMITS[key][0]
            assert spec.sources["alt_text"] is ALT_TEXT_LIMITS[key][1]


@pytest.mark.parametrize("language", LANGUAGES)
def test_compiled_content_alt_text_fits_every_platform(language: str) -> None:
    request = ContentRequest(
        analysis=make_analysis(faces=1, face_boxes=[FACE]),
        niches=[],
        platforms=PLATFORM_KEYS,
        description="Word " * 400,
        language=language,
    )
    for key, content in compile_content(request).items():
        limit = get_spec(key).alt_text_limit
        assert len(content.alt_text) <= limit
        assert bool(content.alt_text) == bool(limit)


def test_job_writes_alt_text_for_each_crop_in_the_caption_language() -> None:
    result = job.run_job(
        (ROOT / "samples" / "astronaut.jpg").read_bytes(),
        JobOptions(platforms=("all",), language="de"),
        offline_services(),
    )
    assert result.analysis.faces == 1
    for key, res in result.platforms.items():
        spec = get_spec(key)
        alt = res.content.alt_text
        if not spec.alt_text_limit:
            assert alt == ""
            continue
        expected = alt_text_for(
            result.analysis, "", "de", crop_box=res.image.crop_box, limit=spec.alt_text_limit
        )
        assert alt == expected
        assert all(v.alt_text == expected for v in res.variants)
        inside = people_in_crop(result.analysis.face_boxes, res.image.crop_box)
        assert ("Eine Person ist im Bild." in alt) == (inside == 1)
        assert "format" not in alt.lower() and "photo" not in alt.lower()
