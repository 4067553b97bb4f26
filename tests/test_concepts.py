"""Concept roll-up, noun lookup, photo kind, and the integrity of the WordNet-derived tables."""

from __future__ import annotations

import importlib.util
import json
import sys
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from pipeline import concepts as C
from pipeline.errors import ProcessingError

ROOT = Path(__file__).resolve().parents[1]
WORDNET = Path("/usr/share/wordnet")
DATA = resources.files("pipeline.data")


def _index(name: str) -> int:
    return C.class_names().index(name)


def _probs(weights: dict[str, float], rest: float = 0.0) -> np.ndarray:
    """Probabilities with the named classes' weights; `rest` spread evenly over the others."""
    p = np.zeros(C.N_CLASSES)
    for name, w in weights.items():
        p[_index(name)] = w
    others = p == 0
    p[others] = rest / others.sum()
    return p


def _load(name: str) -> dict:
    return json.loads(DATA.joinpath(name).read_text("utf-8"))


# --- roll-up ---------------------------------------------------------------------------


def test_a_confident_class_is_named_with_its_concepts():
    p = _probs({"water ouzel": 0.8, "robin": 0.05}, rest=0.15)
    found = C.rollup(p, model="efficientnet-lite2")
    assert found.subject == "water ouzel"
    assert found.concepts == ("water ouzel", "bird", "animal")
    assert found.confidence == pytest.approx(0.8, abs=1e-4)
    assert found.top[0] == ("water ouzel", pytest.approx(0.8, abs=1e-4))
    assert found.top[1][0] == "robin"
    assert len(found.top) == C.TOP_K
    assert found.model == "efficientnet-lite2"


def test_three_bird_species_together_name_the_bird():
    p = _probs({"robin": 0.25, "water ouzel": 0.25, "brambling": 0.25, "umbrella": 0.25})
    found = C.rollup(p)
    assert found.subject == "bird"
    assert found.concepts == ("bird", "animal")
    assert found.confidence == pytest.approx(0.75, abs=1e-4)


def test_a_wrong_species_still_lands_on_bird():
    # a nuthatch photo the classifier takes mostly for a robin: no species is sure enough
    p = _probs({"robin": 0.55, "water ouzel": 0.15, "junco": 0.1}, rest=0.2)
    found = C.rollup(p)
    assert found.subject == "bird"
    assert "robin" not in found.concepts


def test_the_most_specific_sure_concept_wins():
    p = _probs({"cocker spaniel": 0.3, "Sussex spaniel": 0.3}, rest=0.4)
    found = C.rollup(p)
    assert found.subject == "dog"
    assert found.concepts == ("dog", "mammal", "animal")


def test_spread_over_unrelated_classes_abstains():
    p = _probs({"umbrella": 0.2, "espresso": 0.2, "canoe": 0.2, "daisy": 0.2, "tabby": 0.2})
    found = C.rollup(p)
    assert (found.subject, found.concepts, found.confidence) == ("", (), 0.0)
    assert {name for name, _ in found.top} == {"umbrella", "espresso", "canoe", "daisy", "tabby"}


def test_a_uniform_vector_abstains_although_animal_holds_two_fifths():
    p = np.full(C.N_CLASSES, 1 / C.N_CLASSES)
    assert C.concept_scores(p)["animal"] > 0.35
    assert C.rollup(p).subject == ""


def test_a_broad_concept_needs_more_than_a_majority():
    # 0.7 over four unrelated animals: a majority, but "animal" collects that much from noise
    scattered = {"robin": 0.2, "tench": 0.2, "ant": 0.15, "green snake": 0.15, "umbrella": 0.3}
    assert C.concept_scores(_probs(scattered))["animal"] == pytest.approx(0.7)
    assert C.rollup(_probs(scattered)).subject == ""
    surer = {"robin": 0.25, "tench": 0.25, "ant": 0.2, "green snake": 0.2, "umbrella": 0.1}
    found = C.rollup(_probs(surer))
    assert found.subject == "animal"
    assert found.concepts == ("animal",)


def test_a_class_outside_every_concept_is_named_on_a_majority():
    found = C.rollup(_probs({"paintbrush": 0.55}, rest=0.45))
    assert found.subject == "paintbrush"
    assert found.concepts == ("paintbrush",)
    # a breed just as sure is not named: its concept is the safer answer
    found = C.rollup(_probs({"Egyptian cat": 0.55, "tabby": 0.2}, rest=0.25))
    assert found.subject == "cat"


def test_unnormalised_scores_are_normalised_but_logits_are_refused():
    p = _probs({"robin": 0.25, "water ouzel": 0.25, "brambling": 0.25, "umbrella": 0.25})
    assert C.rollup(p * 3.0) == C.rollup(p)
    with pytest.raises(ProcessingError) as err:
        C.rollup(p - 0.1)
    assert err.value.code == "BAD_PROBABILITIES"
    with pytest.raises(ProcessingError) as err:
        C.rollup(np.full(1001, 0.001))
    assert err.value.code == "BAD_PROBABILITIES"
    with pytest.raises(ProcessingError):
        C.rollup(np.full(C.N_CLASSES, np.nan))


# --- noun lookup -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lemma", "chain"),
    [
        ("nuthatch", ("nuthatch", "bird", "animal")),
        ("robin", ("robin", "bird", "animal")),
        ("ladybird", ("ladybird", "beetle", "insect", "animal")),
        ("ladybug", ("ladybug", "beetle", "insect", "animal")),
        ("daisy", ("daisy", "flower", "plant")),
        ("espresso", ("espresso", "coffee", "beverage", "food")),
        ("bird", ("bird", "animal")),
        ("ice cream", ("ice cream", "dessert", "food")),
    ],
)
def test_noun_concepts(lemma, chain):
    assert C.noun_concepts(lemma) == chain


def test_noun_lookup_is_forgiving_about_case_and_underscores_and_empty_when_unknown():
    assert C.noun_concepts("  Nuthatch ") == ("nuthatch", "bird", "animal")
    assert C.noun_concepts("ice_cream") == C.noun_concepts("Ice  Cream")
    assert C.noun_concepts("succulent")[-1] == "plant"
    assert C.noun_concepts("marigold")[-2:] == ("flower", "plant")
    for unknown in ("xyzzy", "", "sunset", "tinca tinca"):
        assert C.noun_concepts(unknown) == ()


def test_common_photo_words_take_their_visual_sense():
    # WordNet's most frequent sense of these is something else (home plate, a fraud cheque)
    assert C.noun_concepts("plate")[1:] == ("tableware",)
    assert "bird" in C.noun_concepts("kite")
    assert C.noun_concepts("puppy")[1] == "dog"
    assert C.noun_concepts("rose")[1] == "flower"


# --- kind ---------------------------------------------------------------------------------


def test_kind_of():
    assert C.kind_of(C.noun_concepts("nuthatch")) == "animal"
    assert C.kind_of(C.noun_concepts("daisy")) == "plant"
    assert C.kind_of(C.noun_concepts("espresso")) == "food"
    assert C.kind_of(C.noun_concepts("volcano")) == "place"
    assert C.kind_of(C.noun_concepts("canoe")) == "thing"
    assert C.kind_of(C.noun_concepts("photographer")) == "person"
    assert C.kind_of(("umbrella",)) == "thing"  # an ImageNet class outside every concept
    assert C.kind_of(()) == ""
    assert C.kind_of(("sunset",)) == ""


def test_faces_and_product_verdicts_decide_first():
    bird = C.noun_concepts("nuthatch")
    assert C.kind_of(bird, faces=2) == "person"
    assert C.kind_of(C.noun_concepts("perfume"), is_product=True) == "product"
    assert C.kind_of((), is_product=True) == "product"
    assert C.kind_of(bird, faces=1, is_product=True) == "person"


def test_a_recognition_has_a_kind():
    found = C.rollup(_probs({"ladybug": 0.9}, rest=0.1))
    assert C.kind_of(found.concepts) == "animal"
    assert C.kind_of(C.rollup(_probs({"alp": 0.8}, rest=0.2)).concepts) == "place"


# --- the data tables -----------------------------------------------------------------------


def test_class_table_is_imagenet_order():
    names = C.class_names()
    assert len(names) == C.N_CLASSES == len(set(_load("concepts.json")["wnids"]))
    wnids = _load("concepts.json")["wnids"]
    assert wnids == sorted(wnids)
    # well-known positions of the standard ImageNet-1k order
    assert (names[0], wnids[0]) == ("tench", "n01440764")
    assert names[1] == "goldfish"
    assert names[817] == "sports car"
    assert (names[999], wnids[999]) == ("toilet tissue", "n15075141")


def test_every_chain_is_made_of_known_concepts_and_agrees_with_them():
    data = _load("concepts.json")
    concepts = data["concepts"]
    for name, concept in concepts.items():
        assert concept["kind"] in C.KINDS and concept["kind"] != "product"
        chain = concept["chain"]
        assert chain[0] == name
        # a concept's chain is its parent's chain: the hierarchy is a tree
        if len(chain) > 1:
            assert chain[1:] == concepts[chain[1]]["chain"]
    for chain in data["chains"]:
        if chain:
            names = chain.split(">")
            assert names == concepts[names[0]]["chain"]
    for index in range(C.N_CLASSES):
        assert set(C.class_concepts(index)[1:]) <= set(concepts)
    for chain in _load("concepts_nouns.json")["nouns"]:
        assert not chain or chain.split(">") == concepts[chain.split(">")[0]]["chain"]
    # every concept is also a noun
    for name in concepts:
        assert C.noun_concepts(name) == tuple(concepts[name]["chain"])


def test_every_class_has_a_kind():
    kinds = {C.kind_of(C.class_concepts(i)) for i in range(C.N_CLASSES)}
    assert kinds == set(C.KINDS) - {"product"}
    lone = [i for i in range(C.N_CLASSES) if len(C.class_concepts(i)) == 1]
    assert lone and all(C.kind_of(C.class_concepts(i)) == "thing" for i in lone)


def test_the_tables_are_compact_and_carry_the_wordnet_notice():
    sizes = [len(DATA.joinpath(n).read_bytes()) for n in ("concepts.json", "concepts_nouns.json")]
    assert sum(sizes) < 260_000
    notice = DATA.joinpath("WORDNET-LICENSE.txt").read_text("utf-8")
    assert "WordNet 3.0 Copyright 2006 by Princeton University" in notice
    assert "Permission to use, copy, modify and distribute" in notice


@pytest.mark.skipif(not (WORDNET / "data.noun").is_file(), reason="Debian wordnet-base missing")
def test_the_tables_are_what_the_generator_makes():
    spec = importlib.util.spec_from_file_location("gen_concepts", ROOT / "tools/gen_concepts.py")
    gen = importlib.util.module_from_spec(spec)
    sys.modules["gen_concepts"] = gen
    spec.loader.exec_module(gen)
    main_table, noun_table = gen.build(WORDNET, _load("concepts.json")["wnids"])
    assert gen.dumps(main_table) == DATA.joinpath("concepts.json").read_text("utf-8")
    assert gen.dumps(noun_table) == DATA.joinpath("concepts_nouns.json").read_text("utf-8")
