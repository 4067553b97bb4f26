"""The user's words in six languages: language, tokens, stop words, lemmas."""

from __future__ import annotations

import pytest

from pipeline import lexicon
from pipeline.lexicon import detect_language, fold, read_text


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Spotted this nuthatch climbing head-first down an old oak", "en"),
        ("Un colibrí bebe néctar en las flores del jardín", "es"),
        ("Uma joaninha numa folha verde do quintal", "pt"),
        ("Ein Kleiber klettert kopfüber am alten Baum", "de"),
        ("Une coccinelle se promène sur une feuille verte", "fr"),
        ("Поползень спускается вниз головой по старому дубу", "ru"),
    ],
)
def test_detects_the_six_languages(text: str, language: str) -> None:
    # a wrong caption language does not win against a clear sentence
    other = "de" if language != "de" else "fr"
    assert detect_language(text, other) == language
    assert read_text(text).language == language


def test_short_texts_fall_back_to_the_given_language() -> None:
    assert detect_language("latte art", "de") == "de"  # langdetect alone says French
    assert detect_language("Ringelblumen", "de") == "de"
    assert detect_language("", "es") == "es"
    assert detect_language("кот", "en") == "ru"  # the script is enough
    assert detect_language("latte art", "xx") == "en"


def test_detection_is_deterministic() -> None:
    text = "Spaziergang am Strand mit dem Hund bei Sonnenuntergang"
    assert {detect_language(text, "en") for _ in range(5)} == {"de"}


@pytest.mark.parametrize(
    ("word", "language", "expected"),
    [
        ("nuthatches", "en", "nuthatch"),
        ("leaves", "en", "leaf"),
        ("colibríes", "es", "colibrí"),
        ("flores", "es", "flor"),
        ("pássaros", "pt", "pássaro"),
        ("Vögel", "de", "Vogel"),
        ("Eichen", "de", "Eiche"),
        ("oiseaux", "fr", "oiseau"),
        ("птицы", "ru", "птица"),
    ],
)
def test_lemmas_keep_accents_and_keys_fold_them(word: str, language: str, expected: str) -> None:
    token = read_text(word, language).tokens[0]
    assert token.lemma == expected and token.text == word
    assert token.key == fold(expected) and token.key.islower()


def test_stop_words_are_flagged_per_language_but_photo_nouns_stay() -> None:
    es = read_text("las flores del jardín", "es")
    assert [t.text for t in es.content()] == ["flores", "jardín"]
    ru = read_text("поползень на старом дубе", "ru")
    assert "на" not in [t.text for t in ru.content()]
    en = read_text("the water at home", "en")
    assert [t.text for t in en.content()] == ["water", "home"]  # in stopwords-iso, kept


def test_tokens_know_sentences_compounds_and_figures_of_speech() -> None:
    words = read_text("Spotted it head-first. A sea of succulents; the sea at dawn", "en")
    by_text = {}
    for t in words.tokens:
        by_text.setdefault(t.text, []).append(t)
    assert by_text["Spotted"][0].sentence_start and by_text["A"][0].sentence_start
    assert by_text["head"][0].in_compound and by_text["first"][0].in_compound
    first_sea, second_sea = by_text["sea"]
    assert first_sea.figurative and not second_sea.figurative
    elided = read_text("l'oiseau de l'arbre", "fr")
    assert [t.lemma for t in elided.content()] == ["oiseau", "arbre"]


def test_keywords_drop_stop_words_in_the_texts_language() -> None:
    assert lexicon.keywords("receta de pasta casera para la cena") == [
        "receta",
        "pasta",
        "casera",
        "cena",
    ]
    assert lexicon.keywords("Café con leche en Málaga", "es") == ["café", "leche", "málaga"]


def test_prefetch_loads_in_the_background() -> None:
    lexicon._dictionaries.cache_clear()
    lexicon._lemmatizer.cache_clear()
    thread = lexicon.prefetch(["pt", "xx"])  # an unknown code warms English
    thread.join(timeout=30)
    assert not thread.is_alive()
    opened = lexicon._dictionaries()._get_dictionary.cache_info()
    assert opened.currsize == 2  # pt and en are open, nothing else
