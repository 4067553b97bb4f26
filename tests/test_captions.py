"""Offline caption compiler: voice, limits, languages, tones, alt text, fitting."""

from __future__ import annotations

import pytest

from pipeline.captions import compile_content, fit_content, post_text, truncate, x_length
from pipeline.errors import OptionsError
from pipeline.models import PlatformContent
from pipeline.niches import match_niches
from pipeline.platforms import PLATFORM_KEYS, get_spec
from pipeline.providers.base import ContentRequest
from tests.factories import make_analysis

DESC = "Latte art in my cafe. We pour every cup by hand, with milk from a local farm."


def request(description: str = DESC, **kw: object) -> ContentRequest:
    return ContentRequest(
        analysis=make_analysis(),
        niches=match_niches(description, None),
        platforms=PLATFORM_KEYS,
        description=description,
        **kw,  # type: ignore[arg-type]
    )


def test_every_platform_within_limits_and_has_cta() -> None:
    out = compile_content(request())
    assert set(out) == set(PLATFORM_KEYS)
    ctas = {
        "instagram": "comments",
        "facebook": "comments",
        "linkedin": "?",
        "pinterest": "Save",
        "x": "?",
        "tiktok": "",
    }
    for key, content in out.items():
        spec = get_spec(key)
        assert content.provider == "offline"
        assert len(post_text(content, spec)) <= spec.caption_limit
        assert spec.hashtag_min <= len(content.hashtags) <= spec.hashtag_max
        assert ctas[key] in content.caption, (key, content.caption)
        if spec.alt_text_limit:
            assert 0 < len(content.alt_text) <= spec.alt_text_limit
        else:
            assert content.alt_text == ""


def test_platform_voices() -> None:
    out = compile_content(request())
    assert "\n\n" in out["instagram"].caption  # line breaks
    linkedin = out["linkedin"].caption.split("\n\n")
    assert len(linkedin) >= 3 and linkedin[-1].endswith("?")  # hook, paragraphs, question
    assert out["pinterest"].title.startswith("Latte art in my cafe")
    assert "coffee" in out["pinterest"].caption.lower()  # keyword-rich description
    assert out["tiktok"].title and len(out["tiktok"].title) <= 90
    assert len(out["x"].caption) < len(out["instagram"].caption)


def test_x_fits_280_with_hashtags_for_a_very_long_description() -> None:
    long = " ".join(["An extraordinarily detailed description of my latte art"] * 40)
    out = compile_content(request(long))
    spec = get_spec("x")
    x = out["x"]
    assert x.hashtags
    assert x_length(post_text(x, spec)) <= 280
    pin = out["pinterest"]
    assert len(pin.title) <= 100 and len(post_text(pin, get_spec("pinterest"))) <= 500
    assert len(out["instagram"].alt_text) <= 1000


def test_fit_x_drops_hashtags_before_cutting_the_sentence() -> None:
    spec = get_spec("x")
    caption = "a" * 200 + " end."
    content = PlatformContent(caption=caption, hashtags=["#" + "B" * 40, "#" + "C" * 40])
    fitted = fit_content(content, spec)
    assert fitted.caption == caption  # sentence intact
    assert fitted.hashtags == ["#" + "B" * 40]
    assert x_length(post_text(fitted, spec)) <= 280
    huge = fit_content(PlatformContent(caption="word " * 100, hashtags=["#Tag"]), spec)
    assert huge.hashtags == [] and huge.caption.endswith("…")
    assert x_length(huge.caption) <= 280


def test_fit_trims_titles_alt_and_pinterest_keeps_hashtags() -> None:
    spec = get_spec("pinterest")
    content = PlatformContent(
        caption="lovely words " * 60,
        hashtags=["#One", "#Two"],
        alt_text="alt " * 300,
        title="title words " * 20,
    )
    fitted = fit_content(content, spec)
    assert len(fitted.title) <= 100 and fitted.title.endswith("…")
    assert len(fitted.alt_text) <= 500
    assert fitted.hashtags == ["#One", "#Two"]
    assert len(post_text(fitted, spec)) <= 500
    assert not fitted.caption.rstrip("…").endswith(" ")


def test_truncate_at_word_boundary() -> None:
    assert truncate("hello wonderful world", 15) == "hello…"
    assert truncate("short", 10) == "short"
    assert truncate("hello wonderful world", 16) == "hello wonderful…"
    assert truncate("abcdefghij", 5) == "abcd…"
    assert x_length("ab😄") == 4


LANG_WORDS = {
    "en": "comments",
    "es": "comentarios",
    "pt": "comentários",
    "de": "Kommentaren",
    "fr": "commentaire",
    "ru": "комментариях",
}


@pytest.mark.parametrize("language", sorted(LANG_WORDS))
def test_every_language_has_its_own_text(language: str) -> None:
    out = compile_content(request("", language=language))
    assert LANG_WORDS[language] in out["instagram"].caption
    for other, word in LANG_WORDS.items():
        if other != language and word not in LANG_WORDS[language]:
            assert word not in out["instagram"].caption


def test_unknown_language_and_tone() -> None:
    with pytest.raises(OptionsError) as err:
        compile_content(request(language="xx"))
    assert err.value.code == "UNKNOWN_LANGUAGE"
    with pytest.raises(OptionsError) as err:
        compile_content(request(tone="angry"))
    assert err.value.code == "UNKNOWN_TONE"


def test_tone_changes_the_text() -> None:
    captions = {
        t: compile_content(request(tone=t))["instagram"].caption
        for t in ("casual", "professional", "funny", "luxury", "minimal")
    }
    assert len(set(captions.values())) == 5
    assert "✨" not in captions["minimal"] and "✨" not in captions["professional"]


def test_deterministic_and_variants() -> None:
    first = compile_content(request())
    assert first == compile_content(request())
    hooks = {compile_content(request(), variant=v)["instagram"].caption for v in range(2)}
    assert len(hooks) == 2


def test_hashtag_candidates_and_limits_are_used() -> None:
    req = request(
        hashtag_candidates={"instagram": ["#sex", "latteart", "#LatteArt", "#MyCafe"]},
        hashtag_limits={"instagram": 3},
    )
    assert compile_content(req)["instagram"].hashtags == ["#LatteArt", "#MyCafe"]


def test_alt_text_is_honest() -> None:
    out = compile_content(request("My cat Luna."))
    alt = out["instagram"].alt_text
    assert "brown tones" in alt and "My cat Luna." in alt
    es = compile_content(request("Mi gata Luna", language="es"))["x"].alt_text
    assert es.startswith("Foto: Mi gata Luna")
