"""What a photo is about: ImageNet probabilities rolled up a WordNet concept hierarchy.

The tables in pipeline/data/concepts*.json are generated from WordNet 3.0 by
tools/gen_concepts.py (licence: pipeline/data/WORDNET-LICENSE.txt). Each ImageNet class and
each English noun has a chain of curated concepts, most specific first ("nuthatch" -> bird ->
animal). A classifier's probabilities are summed under every concept, so a wrong species
(robin for a nuthatch) still lands on "bird"; below the thresholds nothing is named.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

from pipeline.errors import ProcessingError
from pipeline.models import Recognition

# Thresholds, tuned on the labelled real photos of bench/photos.json with EfficientNet-Lite2:
# A single class this sure is named as it is ("nuthatch"), when a broader concept could be
# named instead; fine-grained classes (dog breeds, cat breeds) are often confidently wrong.
CLASS_THRESHOLD = 0.7
# A class outside every concept ("paintbrush") has nothing broader to fall back on: a
# majority of the probability is enough.
LONE_CLASS_THRESHOLD = 0.5
# Otherwise the most specific concept whose classes together hold a majority ("bird")...
CONCEPT_THRESHOLD = 0.5
# ...except broad concepts with this many classes ("animal" has 398, "mammal" 218): they
# collect a large share from noise alone (0.4-0.6 for a flower or a dandelion clock).
BROAD_CLASSES = 150
BROAD_THRESHOLD = 0.8
TOP_K = 5
N_CLASSES = 1000
KINDS = ("product", "person", "place", "animal", "plant", "food", "thing")


@dataclass(frozen=True)
class _Tables:
    class_names: tuple[str, ...]
    class_chains: tuple[tuple[str, ...], ...]
    concept_kind: dict[str, str]
    concept_chain: dict[str, tuple[str, ...]]
    members: dict[str, np.ndarray]  # concept -> indices of the classes under it
    class_set: frozenset[str]


def _read(name: str) -> dict:
    return json.loads(resources.files("pipeline.data").joinpath(name).read_text("utf-8"))


@lru_cache(maxsize=1)
def _tables() -> _Tables:
    data = _read("concepts.json")
    chains = [tuple(c.split(">")) if c else () for c in data["chains"]]
    class_chains = tuple(chains[i] for _, i in data["classes"])
    members: dict[str, list[int]] = {name: [] for name in data["concepts"]}
    for index, chain in enumerate(class_chains):
        for concept in chain:
            members[concept].append(index)
    return _Tables(
        class_names=tuple(name for name, _ in data["classes"]),
        class_chains=class_chains,
        concept_kind={name: c["kind"] for name, c in data["concepts"].items()},
        concept_chain={name: tuple(c["chain"]) for name, c in data["concepts"].items()},
        members={c: np.array(ix, dtype=np.intp) for c, ix in members.items() if ix},
        class_set=frozenset(name for name, _ in data["classes"]),
    )


@lru_cache(maxsize=1)
def _nouns() -> dict[str, tuple[str, ...]]:
    table: dict[str, tuple[str, ...]] = {}
    for chain, lemmas in _read("concepts_nouns.json")["nouns"].items():
        ancestors = tuple(chain.split(">")) if chain else ()
        for lemma in lemmas.split("|"):
            table[lemma] = ancestors
    return table


def class_names() -> tuple[str, ...]:
    """Readable English nouns of the 1000 ImageNet classes, in the standard class order."""
    return _tables().class_names


def class_concepts(index: int) -> tuple[str, ...]:
    """An ImageNet class's noun followed by the concepts it rolls up to."""
    tables = _tables()
    return _with_head(tables.class_names[index], tables.class_chains[index])


def _with_head(noun: str, chain: tuple[str, ...]) -> tuple[str, ...]:
    return chain if chain and chain[0] == noun else (noun, *chain)


def _as_probabilities(probs: Sequence[float] | np.ndarray) -> np.ndarray:
    p = np.asarray(probs, dtype=np.float64).reshape(-1)
    if p.size != N_CLASSES:
        raise ProcessingError(
            f"Recognition needs {N_CLASSES} ImageNet class probabilities, got {p.size}.",
            code="BAD_PROBABILITIES",
        )
    if not np.all(np.isfinite(p)) or np.any(p < 0) or p.sum() <= 0:
        raise ProcessingError(
            "Recognition needs non-negative class probabilities (softmax output), not logits.",
            code="BAD_PROBABILITIES",
        )
    return p / p.sum()


def rollup(probs: Sequence[float] | np.ndarray, *, model: str = "") -> Recognition:
    """Name the most specific subject that is confident, or abstain (empty subject).

    A single sure class is named as it is; otherwise the most specific concept whose classes
    together are sure (see the thresholds above); otherwise nothing.
    `top` always holds the raw top-5 classes for logs and benchmarks."""
    p = _as_probabilities(probs)
    tables = _tables()
    order = np.argsort(p)[::-1][:TOP_K]
    top = tuple((tables.class_names[i], round(float(p[i]), 4)) for i in order)
    best = int(order[0])
    alone = not tables.class_chains[best]
    if p[best] >= (LONE_CLASS_THRESHOLD if alone else CLASS_THRESHOLD):
        return Recognition(
            subject=tables.class_names[best],
            concepts=class_concepts(best),
            confidence=round(float(p[best]), 4),
            top=top,
            model=model,
        )
    sums = {concept: float(p[ix].sum()) for concept, ix in tables.members.items()}
    sure = [c for c, total in sums.items() if total >= _concept_threshold(c)]
    if not sure:
        return Recognition(top=top, model=model)
    # most specific: the longest chain; between equals, the surer one
    subject = max(sure, key=lambda c: (len(tables.concept_chain[c]), sums[c]))
    return Recognition(
        subject=subject,
        concepts=tables.concept_chain[subject],
        confidence=round(min(sums[subject], 1.0), 4),
        top=top,
        model=model,
    )


def _concept_threshold(concept: str) -> float:
    broad = len(_tables().members[concept]) >= BROAD_CLASSES
    return BROAD_THRESHOLD if broad else CONCEPT_THRESHOLD


def concept_scores(probs: Sequence[float] | np.ndarray) -> dict[str, float]:
    """Summed probability under every concept (for benchmarks and debugging)."""
    p = _as_probabilities(probs)
    return {c: float(p[ix].sum()) for c, ix in _tables().members.items()}


def noun_concepts(lemma: str) -> tuple[str, ...]:
    """An English noun lemma and the concepts it rolls up to; () when unknown.

    "nuthatch" -> ("nuthatch", "bird", "animal"); "bird" -> ("bird", "animal"). Lookup is
    case-insensitive; multiword lemmas use spaces ("ice cream")."""
    key = " ".join(lemma.replace("_", " ").split()).lower()
    chain = _nouns().get(key)
    return () if chain is None else _with_head(key, chain)


def concept_kind(concept: str) -> str:
    """Kind of a curated concept (animal, plant, food, place, person, thing) or ""."""
    return _tables().concept_kind.get(concept, "")


def kind_of(concepts: Iterable[str], *, faces: int = 0, is_product: bool = False) -> str:
    """What kind of photo it is, to choose caption templates.

    One of product | person | place | animal | plant | food | thing, or "" when unknown.
    Faces make it a person photo and a product-shot verdict a product photo; otherwise the
    first curated concept decides, and any other ImageNet class ("umbrella") is a "thing"."""
    if faces > 0:
        return "person"
    if is_product:
        return "product"
    tables = _tables()
    names = list(concepts)
    for name in names:
        kind = tables.concept_kind.get(name)
        if kind:
            return kind
    return "thing" if any(name in tables.class_set for name in names) else ""
