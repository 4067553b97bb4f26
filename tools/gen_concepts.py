"""Generate the concept tables in pipeline/data/ from WordNet 3.0 (development time only).

    python tools/gen_concepts.py [--timm-wheel PATH] [--wordnet DIR] [--out DIR]

Inputs
- WordNet 3.0 noun database from Debian's `wordnet-base` (`/usr/share/wordnet/data.noun`,
  `index.noun`, `cntlist.rev`). WordNet 3.0 Copyright 2006 by Princeton University; its licence
  allows redistribution with its notice, which this script copies to
  `pipeline/data/WORDNET-LICENSE.txt`.
- The ImageNet-1k class list (1000 wnids in the standard sorted order) from the PyPI wheel
  `timm` (file `timm/data/_info/imagenet_synsets.txt`, Apache-2.0). The wheel is fetched with
  `pip download --no-deps` and read as a zip; timm is never installed. ImageNet wnids are
  WordNet 3.0 noun offsets (n01440764 -> offset 01440764 in data.noun).

Outputs (compact JSON; the runtime in pipeline/concepts.py never needs apt or WordNet)
- `concepts.json`: the curated concepts (each a name a person would say and a hashtag can
  carry, its WordNet synsets, its kind and its own chain), and the 1000 ImageNet classes as
  [readable noun, index into `chains`].
- `concepts_nouns.json`: English noun lemmas -> concept chain, grouped by chain.

A chain is the list of curated concepts a synset rolls up to, most specific first
("nuthatch" -> bird > animal). Only curated concepts appear in chains; WordNet's many
intermediate levels (passerine, oscine, ...) are skipped.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import zipfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TIMM_SPEC = "timm==1.0.31"
TIMM_MEMBER = "timm/data/_info/imagenet_synsets.txt"
WORDNET_DIR = Path("/usr/share/wordnet")
WORDNET_COPYRIGHT = Path("/usr/share/doc/wordnet-base/copyright")

# (name, kind, WordNet 3.0 noun offsets). Kind is one of animal | plant | food | place |
# person | thing; it chooses caption templates (see pipeline.concepts.kind_of).
CONCEPTS: list[tuple[str, str, tuple[int, ...]]] = [
    # animals
    ("animal", "animal", (15388,)),
    ("mammal", "animal", (1861778,)),
    ("dog", "animal", (2084071,)),
    ("wolf", "animal", (2114100,)),
    ("fox", "animal", (2118333,)),
    ("cat", "animal", (2121620,)),
    ("big cat", "animal", (2127808,)),
    ("bear", "animal", (2131653,)),
    ("primate", "animal", (2469914,)),
    ("monkey", "animal", (2484322,)),
    ("ape", "animal", (2470325,)),
    ("rodent", "animal", (2329401,)),
    ("rabbit", "animal", (2323902,)),  # leporid: rabbits and hares
    ("horse", "animal", (2374451,)),
    ("cattle", "animal", (2402425, 2403003)),
    ("sheep", "animal", (2411705,)),
    ("pig", "animal", (2395003,)),
    ("deer", "animal", (2430045,)),
    ("elephant", "animal", (2503517,)),
    ("whale", "animal", (2062744,)),
    ("seal", "animal", (2076196,)),
    ("bird", "animal", (1503061,)),
    ("bird of prey", "animal", (1604330,)),
    ("owl", "animal", (1621127,)),
    ("parrot", "animal", (1816887,)),
    ("duck", "animal", (1846331,)),
    ("swan", "animal", (1858441,)),
    ("penguin", "animal", (2055803,)),
    ("hummingbird", "animal", (1833805,)),
    ("chicken", "animal", (1791625, 1789740)),
    ("reptile", "animal", (1661091,)),
    ("snake", "animal", (1726692,)),
    ("lizard", "animal", (1674464,)),
    ("turtle", "animal", (1662784,)),
    ("crocodile", "animal", (1696633,)),
    ("amphibian", "animal", (1627424,)),
    ("frog", "animal", (1639765,)),
    ("fish", "animal", (2512053,)),
    ("shark", "animal", (1482330,)),
    ("insect", "animal", (2159955,)),
    ("butterfly", "animal", (2274259,)),
    ("moth", "animal", (2283201,)),
    ("beetle", "animal", (2164464,)),
    ("bee", "animal", (2206856,)),
    ("ant", "animal", (2219486,)),
    ("dragonfly", "animal", (2268443,)),
    ("spider", "animal", (1772222,)),
    ("crustacean", "animal", (1974773,)),
    ("crab", "animal", (1976957,)),
    ("mollusc", "animal", (1940736,)),
    ("snail", "animal", (1944390,)),
    ("jellyfish", "animal", (1910747,)),
    # plants and fungi
    ("plant", "plant", (17222, 13086908)),  # plants and plant parts (leaf, seed, acorn)
    ("flower", "plant", (11669921, 11669335)),
    ("tree", "plant", (13104059,)),
    ("shrub", "plant", (13112664,)),
    ("succulent", "plant", (13084184,)),
    ("cactus", "plant", (11842204,)),
    ("grass", "plant", (12102133,)),
    ("fungus", "plant", (12992868,)),
    ("mushroom", "plant", (13001041, 13000891)),
    # food and drink
    ("food", "food", (21265, 7555863)),
    ("fruit", "food", (7705931,)),  # edible fruit; botanical fruits roll up to "plant"
    ("berry", "food", (7742704,)),
    ("vegetable", "food", (7707451,)),
    ("dish", "food", (7557434,)),
    ("dessert", "food", (7609840,)),
    ("baked goods", "food", (7622061,)),
    ("bread", "food", (7679356,)),
    ("cake", "food", (7628870,)),
    ("sandwich", "food", (7695965,)),
    ("pizza", "food", (7873807,)),
    ("pasta", "food", (7863374, 7698915)),
    ("soup", "food", (7583197,)),
    ("meat", "food", (7649854,)),
    ("seafood", "food", (7776866,)),
    ("cheese", "food", (7850329,)),
    ("sweets", "food", (7596684,)),
    ("ice cream", "food", (7614500,)),
    ("sauce", "food", (7829412,)),
    ("beverage", "food", (7881800,)),
    ("coffee", "food", (7929519,)),
    ("tea", "food", (7933274,)),
    ("alcoholic drink", "food", (7884567,)),
    ("wine", "food", (7891726,)),
    ("beer", "food", (7886849,)),
    # vehicles
    ("vehicle", "thing", (4524313, 3100490)),  # vehicles and conveyances (bus, train)
    ("car", "thing", (2958343,)),
    ("truck", "thing", (4490091,)),
    ("bus", "thing", (2924116,)),
    ("bicycle", "thing", (2834778,)),
    ("motorcycle", "thing", (3790512,)),
    ("train", "thing", (4468005, 3684823, 2959942)),
    ("aircraft", "thing", (2686568,)),
    ("watercraft", "thing", (4530566,)),
    ("boat", "thing", (2858304,)),
    ("ship", "thing", (4194289,)),
    # places: buildings, structures, landscape
    ("building", "place", (2913152,)),
    ("house", "place", (3544360,)),
    ("church", "place", (3028079, 3953416)),
    ("castle", "place", (2980441, 3878066)),
    ("tower", "place", (4460130,)),
    ("shop", "place", (4202417,)),
    ("restaurant", "place", (4081281,)),
    ("bridge", "place", (2898711,)),
    ("monument", "place", (3743902,)),
    ("fountain", "thing", (3388043,)),
    ("fence", "thing", (3327234,)),
    ("landscape", "place", (9287968,)),  # WordNet: geological formation
    ("mountain", "place", (9359803,)),
    ("volcano", "place", (9472597, 9470550)),
    ("valley", "place", (9468604,)),
    ("cliff", "place", (9246464,)),
    ("shore", "place", (9433442,)),
    ("beach", "place", (9217230,)),
    ("coral reef", "place", (9256479,)),
    ("cave", "place", (9238926,)),
    ("water", "place", (9225146,)),  # WordNet: body of water
    ("sea", "place", (9426788, 9376198)),
    ("lake", "place", (9328904,)),
    ("river", "place", (9411430,)),
    ("waterfall", "place", (9475292,)),
    ("forest", "place", (9284015, 8438533)),
    # people
    ("person", "person", (7846,)),
    # objects
    ("furniture", "thing", (3405725,)),
    ("chair", "thing", (3001627,)),
    ("table", "thing", (4379243,)),
    ("bed", "thing", (2818832,)),
    ("lamp", "thing", (3636248, 3636649)),
    ("bag", "thing", (2773037, 2774152)),
    ("bottle", "thing", (2876657,)),
    ("box", "thing", (2883344,)),
    ("basket", "thing", (2801938,)),
    ("vase", "thing", (4522168,)),
    ("tableware", "thing", (4381994,)),
    ("drinkware", "thing", (3241496, 3438257)),  # drinking vessels and glasses
    ("kitchen utensil", "thing", (3621049,)),
    ("home appliance", "thing", (3528263,)),
    ("clothing", "thing", (3051540,)),
    ("footwear", "thing", (3381126, 3380867)),
    ("shoe", "thing", (4199027,)),
    ("hat", "thing", (3497657,)),
    ("dress", "thing", (3236735,)),
    ("jewellery", "thing", (3597469,)),
    ("glasses", "thing", (4272054,)),
    ("musical instrument", "thing", (3800933,)),
    ("guitar", "thing", (3467517,)),
    ("piano", "thing", (3928116,)),
    ("drum", "thing", (3249569,)),
    ("electronic device", "thing", (3277771, 3278248)),
    ("computer", "thing", (3082979,)),
    ("phone", "thing", (4401088,)),
    ("camera", "thing", (2942699,)),
    ("television", "thing", (4405907, 4404412)),
    ("clock", "thing", (3046257,)),
    ("watch", "thing", (4555897,)),
    ("tool", "thing", (4451818,)),
    ("weapon", "thing", (4565375,)),
    ("toy", "thing", (3964744,)),
    ("sports equipment", "thing", (4285146,)),
    ("ball", "thing", (2778669,)),
    ("toiletry", "thing", (4447443,)),
    ("cosmetics", "thing", (3113152,)),
    ("perfume", "thing", (3916031,)),
    ("book", "thing", (2870092,)),
]

# Parent concepts where WordNet's primary hypernym path misses the one a person would name
# (a house is a "dwelling" -> "housing" -> "structure" there, never a "building").
PARENTS = {
    "house": "building",
    "castle": "building",
    "shop": "building",
    "tower": "building",
    "computer": "electronic device",
    "camera": "electronic device",
    "television": "electronic device",
    "drinkware": "tableware",
    "ball": "sports equipment",
    "fungus": "",
}

# Common photo words whose chosen WordNet sense is not the one a caption means, or which
# WordNet files under a broader parent than a person would ("rose" is a shrub there).
NOUN_FIXES = {
    "plate": "tableware",  # WordNet's most frequent sense: home plate
    "bike": "bicycle",
    "kitten": "cat",
    "rose": "flower",
    "tulip": "flower",
    "dandelion": "flower",
    "lavender": "flower",
    "orchid": "flower",
    "lily": "flower",
    "poppy": "flower",
    "peony": "flower",
    "mug": "drinkware",
}

# Readable class nouns where WordNet's first lemma is not what a person would say.
CLASS_NAME_FIXES = {
    "n03594734": "jeans",  # WordNet: jean
    "n03710637": "tights",  # maillot: tights for dancers or gymnasts
    "n03710721": "swimsuit",  # maillot, tank suit
    "n13133613": "corn cob",  # WordNet: ear
    "n12620546": "rose hip",  # WordNet: hip
    "n07930864": "cup",  # WordNet: a punch served in a cup
    "n03947888": "pirate ship",
    "n02497673": "lemur",  # Madagascar cat
    "n03954731": "hand plane",
    "n04515003": "upright piano",
    "n03832673": "notebook computer",
    "n03337140": "filing cabinet",
    "n02704792": "amphibious vehicle",
    "n03930630": "pickup truck",
    "n04037443": "racing car",
    "n02389026": "horse",  # sorrel
    "n02930766": "taxi",  # cab
    "n03126707": "construction crane",
    "n03793489": "computer mouse",
    "n04152593": "computer screen",
    "n04389033": "army tank",
    "n02892201": "brass plaque",
    "n04141076": "saxophone",
}

# Classes whose chain is wrong for the photos the class holds: wnid -> concept ("" for none).
CLASS_CHAIN_FIXES = {
    "n07930864": "drinkware",  # "cup" photos are cups, not punch
    "n07565083": "",  # menu: a printed card, not food
    "n06359193": "",  # web site: screenshots
    "n04238763": "",  # slide rule
}

# Lemmas whose most frequent WordNet sense is rarely what a photo caption means.
NOUN_SKIP = {"bank", "star", "sun", "moon", "light", "spring", "fall", "house"}

# Multiword lemmas outside SemCor and ImageNet are kept only when each word is a known
# English word; this drops Latin binomials ("tinca tinca").
MAX_WORDS = 3
TAXONOMIC_GROUP = 7992450


@dataclass
class Synset:
    lemmas: list[str]  # as written in data.noun (underscores, original case)
    hypernyms: list[int]


def parse_data(path: Path) -> dict[int, Synset]:
    synsets: dict[int, Synset] = {}
    for line in path.read_text("latin-1").splitlines():
        if line.startswith("  "):
            continue
        fields = line.split(" | ")[0].split()
        n_words = int(fields[3], 16)
        lemmas = [fields[4 + 2 * i] for i in range(n_words)]
        i = 4 + 2 * n_words
        n_ptrs = int(fields[i])
        i += 1
        hypernyms = []
        for _ in range(n_ptrs):
            symbol, offset, pos = fields[i], fields[i + 1], fields[i + 2]
            i += 4
            if symbol in ("@", "@i") and pos == "n":
                hypernyms.append(int(offset))
        synsets[int(fields[0])] = Synset([_strip_marker(w) for w in lemmas], hypernyms)
    return synsets


def _strip_marker(lemma: str) -> str:
    # adjectives carry syntactic markers like "(a)"; nouns do not, but be safe
    return lemma.split("(")[0]


def parse_index(path: Path) -> dict[str, list[int]]:
    """lemma -> its noun synset offsets, most frequent sense first."""
    index: dict[str, list[int]] = {}
    for line in path.read_text("latin-1").splitlines():
        if line.startswith("  "):
            continue
        fields = line.split()
        n_ptrs = int(fields[3])
        index[fields[0]] = [int(x) for x in fields[6 + n_ptrs :]]
    return index


def parse_counts(path: Path) -> dict[tuple[str, int], int]:
    """(lemma, noun sense number) -> SemCor tag count, from cntlist.rev."""
    counts: dict[tuple[str, int], int] = {}
    for line in path.read_text("latin-1").splitlines():
        key, sense_number, count = line.split()
        lemma, _, rest = key.partition("%")
        if rest.startswith("1:"):
            counts[(lemma, int(sense_number))] = int(count)
    return counts


def read_imagenet_wnids(wheel: Path | None) -> list[str]:
    if wheel is None:
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "-q", "--no-deps", TIMM_SPEC, "-d", tmp],
                check=True,
            )
            return read_imagenet_wnids(next(Path(tmp).glob("timm-*.whl")))
    with zipfile.ZipFile(wheel) as zf:
        wnids = zf.read(TIMM_MEMBER).decode().split()
    if len(wnids) != 1000 or wnids != sorted(wnids):
        raise SystemExit(f"unexpected ImageNet class list in {wheel}")
    return wnids


class Hierarchy:
    def __init__(self, synsets: dict[int, Synset]) -> None:
        self.synsets = synsets
        self._ancestors: dict[int, frozenset[int]] = {}
        self.concept_of: dict[int, str] = {}
        for name, _kind, offsets in CONCEPTS:
            for offset in offsets:
                if offset not in synsets:
                    raise SystemExit(f"concept {name!r}: no synset {offset:08d}")
                self.concept_of[offset] = name
        self.concept_kind: dict[str, str] = {n: k for n, k, _ in CONCEPTS}
        self.concept_synsets: dict[str, tuple[int, ...]] = {n: o for n, _, o in CONCEPTS}
        self._chains: dict[str, list[str]] = {}
        self._synset_chains: dict[int, list[str]] = {}

    def ancestors(self, offset: int) -> frozenset[int]:
        """All hypernyms (both ordinary and instance), not including the synset itself."""
        if offset not in self._ancestors:
            found: set[int] = set()
            for parent in self.synsets[offset].hypernyms:
                found.add(parent)
                found |= self.ancestors(parent)
            self._ancestors[offset] = frozenset(found)
        return self._ancestors[offset]

    def primary_path(self, offset: int) -> list[int]:
        """The synset and its ancestors along WordNet's first-listed hypernym."""
        path = [offset]
        while self.synsets[path[-1]].hypernyms:
            path.append(self.synsets[path[-1]].hypernyms[0])
        return path

    def chain(self, offset: int) -> list[str]:
        """Curated concepts a synset rolls up to (itself included), most specific first.

        Follows WordNet's first-listed hypernym up to the first curated concept, then that
        concept's own chain, so every member of a concept shares its ancestors. A secondary
        hypernym only refines it (never adds an unrelated parent: WordNet also files every
        wheeled vehicle under "container")."""
        if offset in self.concept_of:
            return self.concept_chain(self.concept_of[offset])
        if offset not in self._synset_chains:
            parents = self.synsets[offset].hypernyms
            chain = self.chain(parents[0]) if parents else []
            # a secondary hypernym may name a more specific concept under the same ancestors
            # (puppy: "young mammal" -> animal first, "dog" second): take the most specific
            for parent in parents[1:]:
                other = self.chain(parent)
                if len(other) > len(chain) and set(chain) <= set(other):
                    chain = other
            self._synset_chains[offset] = chain
        return self._synset_chains[offset]

    def concept_chain(self, name: str) -> list[str]:
        if name not in self._chains:
            parent = PARENTS.get(name)
            if parent is None:
                above = self.primary_path(self.concept_synsets[name][0])[1:]
                parent = next(
                    (self.concept_of[n] for n in above if self.concept_of.get(n, name) != name),
                    "",
                )
            self._chains[name] = [name, *(self.concept_chain(parent) if parent else [])]
        return self._chains[name]


def readable(lemma: str) -> str:
    return lemma.replace("_", " ")


def build(wordnet: Path, wnids: list[str]) -> tuple[dict, dict]:
    synsets = parse_data(wordnet / "data.noun")
    index = parse_index(wordnet / "index.noun")
    counts = parse_counts(wordnet / "cntlist.rev")
    tree = Hierarchy(synsets)

    chains: list[str] = []
    chain_ids: dict[str, int] = {}

    def chain_id(chain: list[str]) -> int:
        key = ">".join(chain)
        if key not in chain_ids:
            chain_ids[key] = len(chains)
            chains.append(key)
        return chain_ids[key]

    classes = []
    class_offsets = []
    for wnid in wnids:
        offset = int(wnid[1:])
        if offset not in synsets:
            raise SystemExit(f"ImageNet class {wnid} is not a WordNet 3.0 noun")
        class_offsets.append(offset)
        name = CLASS_NAME_FIXES.get(wnid, readable(synsets[offset].lemmas[0]))
        chain = tree.chain(offset)
        if wnid in CLASS_CHAIN_FIXES:
            fix = CLASS_CHAIN_FIXES[wnid]
            chain = tree.concept_chain(fix) if fix else []
        classes.append([name, chain_id(chain)])

    concepts = {
        name: {
            "kind": kind,
            "chain": tree.chain(offsets[0]),
            "synsets": [f"n{o:08d}" for o in offsets],
        }
        for name, kind, offsets in CONCEPTS
    }

    nouns = build_nouns(tree, index, counts, class_offsets, classes, chains)
    grouped: dict[str, list[str]] = defaultdict(list)
    for lemma, chain in sorted(nouns.items()):
        grouped[">".join(chain)].append(lemma)

    main = {
        "about": "Generated by tools/gen_concepts.py from WordNet 3.0 (see WORDNET-LICENSE.txt)"
        " and the ImageNet-1k class list of the timm wheel (Apache-2.0).",
        "concepts": concepts,
        "chains": chains,
        "classes": classes,
        "wnids": wnids,
    }
    noun_table = {
        "about": "English noun lemma -> concept chain, grouped by chain ('|' separates lemmas)."
        " Generated by tools/gen_concepts.py from WordNet 3.0.",
        "nouns": {chain: "|".join(lemmas) for chain, lemmas in sorted(grouped.items())},
    }
    return main, noun_table


def build_nouns(
    tree: Hierarchy,
    index: dict[str, list[int]],
    counts: dict[tuple[str, int], int],
    class_offsets: list[int],
    classes: list[list],
    chains: list[str],
) -> dict[str, list[str]]:
    """English lemma -> chain, for lemmas whose chosen sense rolls up to a curated concept."""
    on_paths: set[int] = set()
    for offset in class_offsets:
        on_paths |= tree.ancestors(offset) | {offset}
    genus_words = _taxonomic_words(tree, index)

    def plain(words: list[str], number: int) -> bool:
        return _rare_but_plain(words, number, genus_words, index, counts)

    nouns: dict[str, list[str]] = {}
    for lemma, senses in index.items():
        if lemma in NOUN_SKIP or not lemma.replace("_", "").replace("-", "").isalpha():
            continue
        words = lemma.split("_")
        sense_counts = [counts.get((lemma, i + 1), 0) for i in range(len(senses))]
        top = max(sense_counts)
        candidates = []
        for number, (offset, count) in enumerate(zip(senses, sense_counts, strict=True)):
            if not _written_lowercase(tree.synsets[offset], lemma):
                continue
            chain = tree.chain(offset)
            if not chain:
                continue
            # a sense must be competitive with the word's most frequent sense
            if top > 3 and count * 3 < top:
                continue
            candidates.append((-count, offset not in on_paths, number, offset, chain))
        if not candidates:
            continue
        _, off_path, number, offset, chain = min(candidates)
        # a word missing from SemCor is kept only when plain; WordNet lists thousands of
        # rare occupations, so rare multiword names for people are dropped
        rare = top == 0 and off_path
        if rare and (chain == ["person"] and len(words) > 1 or not plain(words, number)):
            continue
        nouns[readable(lemma)] = chain
    for name, chain_index in classes:
        if chains[chain_index] and name.lower() not in nouns:
            nouns[name.lower()] = chains[chain_index].split(">")
    for lemma, concept in NOUN_FIXES.items():
        nouns[lemma] = tree.concept_chain(concept)
    for name, _kind, _offsets in CONCEPTS:
        nouns[name] = tree.concept_chain(name)
    return {lemma: chain[1:] if chain[0] == lemma else chain for lemma, chain in nouns.items()}


def _written_lowercase(synset: Synset, lemma: str) -> bool:
    """False for proper nouns (WordNet keeps their capitals in data.noun)."""
    for written in synset.lemmas:
        if written.lower() == lemma:
            return written == written.lower()
    return True


def _taxonomic_words(tree: Hierarchy, index: dict[str, list[int]]) -> set[str]:
    return {
        lemma
        for lemma, senses in index.items()
        if "_" not in lemma and any(TAXONOMIC_GROUP in tree.ancestors(o) for o in senses)
    }


def _rare_but_plain(words, number, genus_words, index, counts) -> bool:
    """Keep a word missing from SemCor only when it is unambiguous enough to trust.

    Its first sense must be the chosen one; a multiword lemma must be short, made of words
    people use (tagged in SemCor), and not a Latin binomial ("tinca tinca")."""
    if number != 0:
        return False
    if len(words) == 1:
        return True
    if len(words) > MAX_WORDS or words[0] in genus_words:
        return False
    return all(any(counts.get((w, i + 1), 0) for i in range(len(index.get(w, [])))) for w in words)


def dumps(table: dict) -> str:
    """The exact text written for a table (compact JSON, one line)."""
    return json.dumps(table, ensure_ascii=False, separators=(",", ":")) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timm-wheel", type=Path, help="a downloaded timm wheel")
    parser.add_argument("--wordnet", type=Path, default=WORDNET_DIR)
    parser.add_argument("--out", type=Path, default=ROOT / "pipeline" / "data")
    args = parser.parse_args(argv)

    main_table, noun_table = build(args.wordnet, read_imagenet_wnids(args.timm_wheel))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "concepts.json").write_text(dumps(main_table), "utf-8")
    (args.out / "concepts_nouns.json").write_text(dumps(noun_table), "utf-8")
    (args.out / "WORDNET-LICENSE.txt").write_text(licence_text(), "utf-8")
    for name in ("concepts.json", "concepts_nouns.json", "WORDNET-LICENSE.txt"):
        print(f"{args.out / name}: {(args.out / name).stat().st_size // 1024} KiB")
    return 0


def licence_text() -> str:
    """WordNet 3.0's licence notice, from Debian's copyright file for wordnet-base."""
    text = WORDNET_COPYRIGHT.read_text("utf-8")
    start = text.index("License: WordNet3.0")
    end = text.index("\n\n", start)
    body = [line[1:] if line.startswith(" ") else line for line in text[start:end].splitlines()]
    body = ["" if line == "." else line for line in body[1:]]
    header = (
        "The concept tables in this folder (concepts.json, concepts_nouns.json) are derived\n"
        "from WordNet 3.0 by tools/gen_concepts.py. WordNet 3.0 Copyright 2006 by Princeton\n"
        "University. Source: Debian package wordnet-base, /usr/share/doc/wordnet-base/copyright.\n"
        "WordNet licence:\n\n"
    )
    return header + "\n".join(body) + "\n"


if __name__ == "__main__":
    sys.exit(main())
