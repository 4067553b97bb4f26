"""Niche matching and hashtag suggestion / finalisation."""

from __future__ import annotations

import pytest

from pipeline import hashtags, niches
from pipeline.hashtags import finalize_hashtags, is_banned, suggest_hashtags
from pipeline.models import ImageAnalysis, NamedColor, Niche
from pipeline.niches import NICHES, match_niches
from pipeline.platforms import PLATFORM_KEYS, get_spec
from tests.factories import make_analysis as base_analysis


def make_analysis(**overrides: object) -> ImageAnalysis:
    """A neutral grey photo with no text cues, so only the overrides steer matching."""
    neutral: dict[str, object] = dict(
        colors=[NamedColor("grey", "#808080", 0.6)], description="", keywords=[]
    )
    return base_analysis(**(neutral | overrides))


REQUIRED = [
    "food",
    "coffee",
    "travel",
    "fitness",
    "fashion",
    "beauty",
    "tech",
    "pets",
    "dogs",
    "cats",
    "nature",
    "landscape",
    "architecture",
    "art",
    "photography",
    "music",
    "business",
    "marketing",
    "real_estate",
    "home_decor",
    "interior_design",
    "parenting",
    "wedding",
    "cars",
    "sports",
    "gaming",
    "education",
    "health",
    "wellness",
    "yoga",
    "books",
    "diy",
    "gardening",
    "sustainability",
    "jewelry",
    "skincare",
    "baking",
    "cocktails",
    "street_photography",
    "portrait",
    "ecommerce",
    "space_science",
    "lifestyle",
]


def test_taxonomy_has_at_least_40_niches_with_all_tiers() -> None:
    assert len(NICHES) >= 40
    assert set(REQUIRED) <= set(NICHES)
    for info in NICHES.values():
        for tier in ("broad", "mid", "specific"):
            assert info.tags[tier], (info.key, tier)
        for tag in info.all_tags():
            assert tag.startswith("#") and tag[1].isupper(), tag
            assert not is_banned(tag), tag
        for parent in info.parents:
            assert parent in NICHES


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("latte art in my cafe", {"coffee", "food"}),
        ("my golden retriever puppy at the park", {"dogs", "pets"}),
        ("sourdough bread fresh from the oven", {"baking"}),
        ("our new apartment living room with a scandinavian sofa", {"interior_design"}),
        ("rocket launch at night", {"space_science"}),
        ("Hochzeit am See, die Braut im Kleid", {"wedding"}),
        ("Мой кот спит", {"cats"}),
        ("receta de pasta casera para la cena", {"food"}),
    ],
)
def test_match_niches_from_descriptions(text: str, expected: set[str]) -> None:
    keys = [n.key for n in match_niches(text, None, limit=3)]
    assert expected <= set(keys), keys


def test_latte_art_ranks_coffee_first_and_not_art() -> None:
    result = match_niches("latte art in my cafe", None, limit=3)
    assert result[0].key == "coffee"
    assert result[1].key == "food"
    assert "art" not in [n.key for n in result]  # "art" is part of the phrase "latte art"
    assert result[0].score == 1.0 and all(0 < n.score <= 1 for n in result)


def test_match_is_deterministic_and_limited() -> None:
    text = "sunset over the mountains on a hiking trip"
    first = match_niches(text, None, limit=2)
    assert first == match_niches(text, None, limit=2)
    assert len(first) == 2


def test_fallback_when_nothing_matches() -> None:
    result = match_niches("", None)
    assert [n.key for n in result] == ["lifestyle", "photography"]
    assert match_niches("qwertyuiop zxcv", make_analysis())[0].key == "lifestyle"


def test_analysis_signals_and_ai_hints() -> None:
    face = match_niches("", make_analysis(faces=1, face_boxes=[(1, 1, 10, 10)]))
    assert face[0].key == "portrait"
    product = match_niches("", make_analysis(is_product=True, product_likeness=0.9))
    assert product[0].key == "ecommerce"
    hinted = match_niches("a photo", make_analysis(niches=["Real Estate"]))
    assert hinted[0].key == "real_estate"
    keyworded = match_niches("", make_analysis(keywords=["guitar", "concert"]))
    assert keyworded[0].key == "music"


def test_suggest_counts_per_platform_within_caps() -> None:
    found = match_niches("latte art in my cafe", None)
    for key in PLATFORM_KEYS:
        spec = get_spec(key)
        suggested = suggest_hashtags(found, None, "latte art in my cafe", spec)
        assert len(suggested) > spec.hashtag_max  # spares for merging with other sources
        final = finalize_hashtags(suggested, spec)
        assert spec.hashtag_min <= len(final) <= spec.hashtag_max, (key, final)
    assert get_spec("instagram").hashtag_max == 5


@pytest.mark.parametrize("cap", [3, 10])
def test_configured_instagram_cap(cap: int) -> None:
    spec = get_spec("instagram", {"instagram": cap})
    found = match_niches("my cat sleeping on the sofa", None)
    final = finalize_hashtags(suggest_hashtags(found, None, "", spec), spec)
    assert len(final) == cap


def test_tier_mix_for_small_caps() -> None:
    spec = get_spec("instagram")
    coffee = NICHES["coffee"]
    tags = suggest_hashtags([Niche("coffee", "Coffee", 1.0)], None, "", spec)[:5]
    tier_of = {t: tier for tier in ("broad", "mid", "specific") for t in coffee.tags[tier]}
    tiers = [tier_of[t] for t in tags]
    assert tiers.count("broad") == 1 and tiers.count("mid") == 2 and tiers.count("specific") == 2
    assert hashtags.tier_plan(2) == ["mid", "specific"]


def test_description_words_boost_matching_tags() -> None:
    spec = get_spec("x")
    tags = suggest_hashtags([Niche("coffee", "Coffee", 1.0)], None, "latte art", spec)
    assert "#LatteArt" in tags[:2]


def test_finalize_normalises_dedupes_and_filters() -> None:
    spec = get_spec("instagram", {"instagram": 30})
    raw = [
        "#latteart",
        "LATTEART",
        "#LatteArt",
        "coffee time",
        "#sex",
        "follow4follow",
        "#LikeForLike",
        "#12345",
        "#",
        "#cafe!!",
        "goldenhour",
        "#sunsetbeachvibes",
        "#кофе",
        "#Blockedword",
    ]
    final = finalize_hashtags(raw, spec, banned_extra=["blockedWORD"])
    assert final == [
        "#LatteArt",
        "#CoffeeTime",
        "#Cafe",
        "#GoldenHour",
        "#SunsetBeachVibes",
        "#Кофе",
    ]
    lowered = [t.lower() for t in final]
    assert len(lowered) == len(set(lowered))


def test_finalize_caps_at_platform_max() -> None:
    tags = [f"#tag{i}word" for i in range(20)]
    assert len(finalize_hashtags(tags, get_spec("x"))) == 2
    assert len(finalize_hashtags(tags, get_spec("instagram", {"instagram": 0}))) == 0


def test_banned_list_is_dated_data_and_warn_only_is_allowed() -> None:
    entries = hashtags.banned_entries()
    assert entries["thinspo"].level == "block" and entries["thinspo"].added
    assert entries["thinspo"].sources
    assert is_banned("#Thinspo") and is_banned("porn") and is_banned("#F4F")
    assert not is_banned("#followthesun")
    assert not is_banned("#photography")  # warn only
    assert hashtags.is_warned("#Photography")
    assert hashtags.hashtag_warnings(["#boho", "#Coffee"])[0].startswith("#boho")


def test_kb_never_suggests_warned_or_instagram_tags_elsewhere() -> None:
    dogs = [Niche("dogs", "Dogs", 1.0), Niche("pets", "Pets", 0.5)]
    for key in PLATFORM_KEYS:
        for tag in suggest_hashtags(dogs, None, "", get_spec(key)):
            assert not hashtags.is_warned(tag)
            if key != "instagram":
                assert "instagram" not in tag.lower()


def test_camel_case_splits_known_words() -> None:
    assert hashtags.camel_case("latteart") == "LatteArt"
    assert hashtags.camel_case("#coffeeshoplife") == "CoffeeShopLife"
    assert hashtags.camel_case("xyzzyplugh") == "Xyzzyplugh"
    assert hashtags.camel_case("iPhone") == "IPhone"
    assert niches.fold("Café") == "cafe"


def test_analyser_format_words_do_not_pick_niches() -> None:
    analysis = make_analysis(
        description="A warm-toned landscape-format photo, mostly red and olive.",
        keywords=["red", "olive", "warm"],
    )
    text = "A warm-toned landscape-format photo, mostly red and olive. red olive warm"
    assert [n.key for n in match_niches(text, analysis)] == ["lifestyle", "photography"]
    assert match_niches("landscape photography at sunset", None)[0].key == "landscape"
