"""Generate the named palette in pipeline/data/colors.json (development time only).

    pip download --no-deps matplotlib -d /tmp/mpl
    python tools/gen_colors.py /tmp/mpl/matplotlib-*.whl

Input: the xkcd colour survey names (Randall Munroe, 2010; CC0 1.0), as carried by
matplotlib's `matplotlib/_color_data.py` (XKCD_COLORS), read from the wheel as a zip;
matplotlib is never installed.

Curation: only names made of everyday colour words (no "puke green", "barney purple"), spelled
"grey"; each gets its hue family from `pipeline.colors.family_of`, and a name whose own head
noun says another family ("blue green" classified teal) is left out, so every kept name is
reached by its own swatch. Only the "colors", "source" and "licence" keys of colors.json are
rewritten; the hand-written translations ("words") are kept.
"""

from __future__ import annotations

import ast
import json
import sys
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.colors import family_of, srgb_to_oklch  # noqa: E402

OUT = ROOT / "pipeline" / "data" / "colors.json"

# head noun -> family, for nouns that name a family on their own
_HEADS = """
blue: blue navy azure cobalt cerulean sky periwinkle denim sapphire ultramarine
teal: teal turquoise aqua cyan aquamarine
green: green olive lime mint sage emerald jade moss
yellow: yellow mustard lemon gold
orange: orange tangerine apricot pumpkin
red: red crimson scarlet maroon burgundy wine cherry brick tomato
pink: pink rose magenta fuchsia salmon blush
purple: purple violet lavender lilac mauve plum indigo eggplant
brown: brown chocolate coffee umber sienna chestnut mahogany
beige: beige cream sand tan khaki ivory
grey: grey silver charcoal slate
black: black
white: white
"""
HEAD = {
    word: fam.strip()
    for line in _HEADS.strip().splitlines()
    for fam, words in [line.split(":")]
    for word in words.split()
}
_MODIFIERS = """
light dark pale deep bright dusty muted soft pastel vivid dull warm cool off burnt hot baby
royal sea ocean forest grass apple bottle kelly hunter spring sunflower canary electric
blood golden sandy steel midnight ice powder cornflower leaf pine moss sage greyish bluish
greenish reddish pinkish purplish yellowish brownish rich true
"""
MODIFIERS = set(_MODIFIERS.split())
_NOUNS = """
amber honey butter taupe caramel copper bronze rust terracotta coral peach raspberry orchid
ruby ochre wheat straw
"""
NOUNS = set(HEAD) | set(_NOUNS.split())
# everyday names, preferred in near-ties (pipeline.colors PLAIN_COST)
_COMMON = """
navy teal olive beige tan maroon burgundy turquoise lavender gold cream khaki peach coral lilac
mint charcoal violet plum salmon aqua lime mustard
"""
COMMON = set(_COMMON.split()) | {
    "sky blue",
    "baby blue",
    "royal blue",
    "forest green",
    "olive green",
    "navy blue",
    "hot pink",
    "off white",
}
# awkward or ambiguous survey names
_SKIP = """
blue blue|navy green|hot green|lemon lime|off yellow|true blue|true green|rich blue|
electric lime|tan green|khaki green|mustard green|olive yellow|brown yellow|sand yellow|
purple pink|pink red|purple red|brown red|brown green|orange pink|teal green|
turquoise green|teal blue|grey pink|blue purple|violet pink|violet red|rose red|
indigo blue|lavender blue|lavender pink|aqua green|greenish beige|greenish tan|pinkish tan|
pinkish grey|greenish cyan|mustard brown|olive brown|tan brown|sand brown|yellow brown|
orange brown|grey brown|pinkish brown|pinkish red|purplish red|brownish yellow|
burnt yellow|dark cream|light eggplant|hot purple|hot magenta|warm purple|warm blue|
warm pink|cool blue|bright olive|dark peach|dark coral|yellowish orange|brick orange|
dark lavender|bright lavender|deep lavender|plum purple|eggplant purple|blood|
midnight purple|red wine|wine red|pale red|pastel red|off green|off blue|denim|sky
"""
SKIP = {name.strip() for name in _SKIP.replace("\n", "").split("|")}


def xkcd_colors(wheel: Path) -> dict[str, str]:
    with zipfile.ZipFile(wheel) as zf:
        source = zf.read("matplotlib/_color_data.py").decode()
    tree = ast.parse(source)
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "XKCD_COLORS":
            value = ast.literal_eval(node.value)
            if isinstance(value, dict):
                return {k.replace("gray", "grey"): v.lower() for k, v in value.items()}
    raise SystemExit("XKCD_COLORS not found in the wheel")


def curate(colors: dict[str, str]) -> list[dict[str, str]]:
    out = []
    for name, hexv in sorted(colors.items()):
        words = name.split()
        if name in SKIP or "/" in name or not all(w in MODIFIERS | NOUNS for w in words):
            continue
        if len(words) > 2 or (len(words) == 1 and name not in NOUNS):
            continue
        rgb = np.array([int(hexv[i : i + 2], 16) for i in (1, 3, 5)])
        fam = family_of(*srgb_to_oklch(rgb))
        head = HEAD.get(words[-1])
        if head and head != fam:
            continue
        row: dict = {"name": name, "hex": hexv, "family": fam}
        if name in COMMON:
            row["common"] = True
        out.append(row)
    return out


def dump(data: dict) -> str:
    """JSON with one palette entry per line (readable diffs), the rest indented."""
    parts = []
    for key, value in data.items():
        if key == "colors":
            rows = ",\n".join("  " + json.dumps(c, ensure_ascii=False) for c in value)
            parts.append(f' "colors": [\n{rows}\n ]')
        else:
            body = json.dumps(value, ensure_ascii=False, indent=1).replace("\n", "\n ")
            parts.append(f" {json.dumps(key)}: {body}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


def main() -> None:
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    wheel = Path(sys.argv[1])
    data = json.loads(OUT.read_text()) if OUT.exists() else {}
    data["source"] = (
        f"xkcd colour survey names (Randall Munroe, 2010), from {wheel.name} "
        "matplotlib/_color_data.py XKCD_COLORS; curated by tools/gen_colors.py"
    )
    data["licence"] = "CC0 1.0 (https://creativecommons.org/publicdomain/zero/1.0/)"
    data["colors"] = curate(xkcd_colors(wheel))
    OUT.write_text(dump(data))
    fams: dict[str, int] = {}
    for c in data["colors"]:
        fams[c["family"]] = fams.get(c["family"], 0) + 1
    print(len(data["colors"]), "names:", fams)


if __name__ == "__main__":
    main()
