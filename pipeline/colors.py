"""Colours a person would name.

- Dominant colours: a chroma-weighted k-means in CIELAB on a small copy (deterministic), so a
  small vivid region is found among large dull ones; shares stay honest pixel counts.
- Naming: the hue family first, from lightness, chroma and hue in OKLCh (whose hue keeps blues
  blue, unlike CIELAB's), then the nearest name of that family by CIEDE2000 in CIELAB. Names
  are a curated subset of the xkcd colour survey (CC0), in `pipeline/data/colors.json`.
- Monochrome: black-and-white and single-hue (sepia, blue-toned) photos are one tonal entry.
- Words: `color_word` gives a colour's name in the caption language (en/es/pt/de/fr/ru).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import cv2
import numpy as np
from PIL import Image

from pipeline.models import NamedColor
from pipeline.vision import small_copy

FAMILIES: tuple[str, ...] = (
    "red",
    "orange",
    "yellow",
    "green",
    "teal",
    "blue",
    "purple",
    "pink",
    "brown",
    "beige",
    "grey",
    "black",
    "white",
)
COLOR_SIDE = 96  # long side of the copy the colours are found on
CLUSTERS = 8  # k-means clusters before names are merged
KMEANS_ITERATIONS = 15
CHROMA_WEIGHT = 20.0  # a pixel weighs 1 + CIELAB chroma / CHROMA_WEIGHT in the clustering
MIN_SHARE = 0.01  # smaller clusters are not reported
ACCENT_CHROMA = 8.0  # OKLCh chroma (x100) of a vivid pixel
ACCENT_SHARE = 0.02  # a vivid family this large is always reported
STRONG_CHROMA = 15.0  # a strongly saturated pixel (a dragonfly's blue)
STRONG_SHARE = 0.005  # strongly saturated families this large are reported too
ACCENT_FAMILIES = ("red", "orange", "yellow", "green", "teal", "blue", "purple", "pink")
MERGE_DE = 12.0  # same-family clusters closer than this (CIEDE2000) are one colour
MERGE_DE_GREY = 20.0  # greys differ in lightness only: merge them more readily
PLAIN_COST = 3.0  # ΔE handicap of "light/dark/pale <family>" and everyday names ("navy")
RARE_COST = 6.0  # ΔE handicap of any other name ("cerulean", "burnt sienna")
MONO_MIN_RANGE = 20.0  # OKLab lightness (x100) spread a monochrome photo needs
BW_CHROMA = 2.5  # 95% of a black-and-white photo's pixels have less OKLCh chroma (x100)
TONED_CHROMA = 8.5  # a toned photo's chroma stays under this for 99.5% of its pixels
TONED_OUTLIERS = 0.002  # at most this share of coloured pixels may be of another hue
TONED_COHERENCE = 0.85  # chroma-weighted hue coherence (0..1) of a single-hue photo
BW_NAME = "black and white"
SEPIA_NAME = "sepia tones"

_M1 = np.array(
    [
        [0.4122214708, 0.5363325363, 0.0514459929],
        [0.2119034982, 0.6806995451, 0.1073969566],
        [0.0883024619, 0.2817188376, 0.6299787005],
    ]
)
_M2 = np.array(
    [
        [0.2104542553, 0.7936177850, -0.0040720468],
        [1.9779984951, -2.4285922050, 0.4505937099],
        [0.0259040371, 0.7827717662, -0.8086757660],
    ]
)


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """CIELAB (D65; L 0..100) of sRGB values (..., 3) in 0..255."""
    arr = np.asarray(rgb, dtype=np.float32).reshape(-1, 1, 3) / 255.0
    lab = cv2.cvtColor(arr, cv2.COLOR_RGB2LAB)
    return lab.reshape(np.shape(rgb)[:-1] + (3,))


def lab_to_srgb(lab: np.ndarray) -> np.ndarray:
    """sRGB (0..255, uint8) of CIELAB values (..., 3)."""
    arr = np.asarray(lab, dtype=np.float32).reshape(-1, 1, 3)
    rgb = cv2.cvtColor(arr, cv2.COLOR_LAB2RGB)
    out = np.clip(np.rint(rgb * 255.0), 0, 255).astype(np.uint8)
    return out.reshape(np.shape(lab)[:-1] + (3,))


def srgb_to_oklch(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """OKLCh of sRGB values (..., 3) in 0..255: L and C scaled by 100, hue in degrees."""
    c = np.asarray(rgb, dtype=np.float64) / 255.0
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    lab = np.cbrt(linear @ _M1.T) @ _M2.T
    chroma = np.hypot(lab[..., 1], lab[..., 2]) * 100.0
    hue = np.degrees(np.arctan2(lab[..., 2], lab[..., 1])) % 360.0
    return lab[..., 0] * 100.0, chroma, hue


def family_of(lightness: float, chroma: float, hue: float) -> str:
    """The hue family a person would use for an OKLCh colour (L, C scaled by 100).

    Lightness and chroma decide black/grey/white, brown against orange or red, beige against
    yellow, pink against red or purple; so a dark blue stays blue and a deep orange orange.
    """
    L, C, h = float(lightness), float(chroma), float(hue)
    if C < 3.0 + 0.01 * L or (L < 16 and C < 8):
        return "black" if L < 22 else "white" if L >= 92 else "grey"
    if h >= 345 or h < 14:
        return "pink" if L >= 50 else "red"
    if h < 36:
        if L >= 68:
            return "pink"
        return "brown" if (L < 50 and C < 14 and h >= 25) or C < 9 else "red"
    if h < 75:
        if L >= 60:
            return "orange" if C >= 10 else "beige" if L >= 72 else "brown"
        return "orange" if C >= 0.27 * L else "brown"
    if h < 118:
        if L >= 76:
            return "yellow" if (C >= 12 and h < 105) or C >= 14 else "beige"
        if L >= 68 and C >= 13 and h < 105:
            return "yellow"
        return "green" if h >= (90 if C < 9 else 98) else "brown"
    if h < 163:
        return "green"
    if h < 210:
        return "teal"
    if h < 285:
        return "blue"
    if L >= 58 and h >= 322:
        return "pink"
    return "purple"


def delta_e2000(lab1: np.ndarray, lab2: np.ndarray) -> np.ndarray:
    """CIEDE2000 colour difference between CIELAB arrays (broadcast over leading axes)."""
    L1, a1, b1 = (np.asarray(lab1, dtype=np.float64)[..., i] for i in range(3))
    L2, a2, b2 = (np.asarray(lab2, dtype=np.float64)[..., i] for i in range(3))
    c1, c2 = np.hypot(a1, b1), np.hypot(a2, b2)
    cm7 = ((c1 + c2) / 2.0) ** 7
    g = 0.5 * (1.0 - np.sqrt(cm7 / (cm7 + 25.0**7)))
    a1p, a2p = a1 * (1 + g), a2 * (1 + g)
    c1p, c2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    h1p = np.degrees(np.arctan2(b1, a1p)) % 360.0
    h2p = np.degrees(np.arctan2(b2, a2p)) % 360.0
    dlp, dcp = L2 - L1, c2p - c1p
    dh = h2p - h1p
    dh = np.where(dh > 180, dh - 360, np.where(dh < -180, dh + 360, dh))
    dh = np.where(c1p * c2p == 0, 0.0, dh)
    dHp = 2.0 * np.sqrt(c1p * c2p) * np.sin(np.radians(dh) / 2.0)
    lm, cm = (L1 + L2) / 2.0, (c1p + c2p) / 2.0
    hs = h1p + h2p
    hm = np.where(
        c1p * c2p == 0,
        hs,
        np.where(
            np.abs(h1p - h2p) <= 180, hs / 2.0, np.where(hs < 360, (hs + 360) / 2, (hs - 360) / 2)
        ),
    )
    t = (
        1
        - 0.17 * np.cos(np.radians(hm - 30))
        + 0.24 * np.cos(np.radians(2 * hm))
        + 0.32 * np.cos(np.radians(3 * hm + 6))
        - 0.20 * np.cos(np.radians(4 * hm - 63))
    )
    sl = 1 + 0.015 * (lm - 50) ** 2 / np.sqrt(20 + (lm - 50) ** 2)
    sc = 1 + 0.045 * cm
    sh = 1 + 0.015 * cm * t
    cm7p = cm**7
    rt = (
        -2
        * np.sqrt(cm7p / (cm7p + 25.0**7))
        * np.sin(np.radians(60 * np.exp(-(((hm - 275) / 25) ** 2))))
    )
    return np.sqrt(
        (dlp / sl) ** 2 + (dcp / sc) ** 2 + (dHp / sh) ** 2 + rt * (dcp / sc) * (dHp / sh)
    )


@dataclass(frozen=True)
class _Palette:
    names: tuple[str, ...]
    families: np.ndarray  # family index per name
    lab: np.ndarray  # CIELAB per name
    cost: np.ndarray  # ΔE added to rarer names, so everyday names win near-ties
    words: dict[str, dict[str, dict[str, str]]]
    modifiers: dict[str, str]  # English modifier word -> light | dark | pale | deep | bright


@lru_cache(maxsize=1)
def _palette() -> _Palette:
    raw = json.loads(resources.files("pipeline.data").joinpath("colors.json").read_text("utf-8"))
    rows = raw["colors"]
    rgb = np.array([[int(r["hex"][i : i + 2], 16) for i in (1, 3, 5)] for r in rows])
    modifiers = {w: kind for kind, words in raw["modifiers"].items() for w in words}
    return _Palette(
        names=tuple(r["name"] for r in rows),
        families=np.array([FAMILIES.index(r["family"]) for r in rows]),
        lab=srgb_to_lab(rgb.astype(np.float32)).astype(np.float64),
        cost=np.array([_name_cost(r["name"], r["family"], r.get("common", False)) for r in rows]),
        words=raw["words"],
        modifiers=modifiers,
    )


def _name_cost(name: str, family: str, common: bool) -> float:
    words = name.split()
    if name == family:
        return 0.0
    plain = len(words) == 2 and words[1] == family and words[0] in ("light", "dark", "pale")
    return PLAIN_COST if plain or common or words[0] == "bright" else RARE_COST


def _hex(rgb: np.ndarray) -> str:
    return "#{:02x}{:02x}{:02x}".format(*(int(v) for v in rgb))


def name_color(rgb: tuple[int, int, int], share: float = 0.0) -> NamedColor:
    """Name an sRGB colour: its family from OKLCh, then the nearest name of that family."""
    arr = np.clip(np.asarray(rgb, dtype=np.float64), 0, 255)
    family = family_of(*srgb_to_oklch(arr))
    pal = _palette()
    idx = np.flatnonzero(pal.families == FAMILIES.index(family))
    lab = srgb_to_lab(arr.astype(np.float32)).astype(np.float64)
    best = idx[int(np.argmin(delta_e2000(pal.lab[idx], lab) + pal.cost[idx]))]
    return NamedColor(pal.names[best], _hex(np.rint(arr)), round(float(share), 3), family)


def color_name(rgb: tuple[int, int, int]) -> str:
    """The English name a person would say for an sRGB colour."""
    return name_color(rgb).name


def _kmeans(points: np.ndarray, weights: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Weighted k-means (k-means++ start from a fixed seed): centres and labels."""
    rng = np.random.default_rng(0)
    pts = points.astype(np.float32)
    wts = weights.astype(np.float64)
    centres = [pts[int(np.argmax(wts))]]
    d2 = ((pts - centres[0]) ** 2).sum(axis=1)
    for _ in range(1, min(k, len(pts))):
        p = d2 * wts
        if p.sum() <= 0:
            break
        centres.append(pts[int(rng.choice(len(pts), p=p / p.sum()))])
        d2 = np.minimum(d2, ((pts - centres[-1]) ** 2).sum(axis=1))
    c = np.array(centres, dtype=np.float32)
    sq = (pts * pts).sum(axis=1)[:, None]
    labels = np.full(len(pts), -1)
    for _ in range(KMEANS_ITERATIONS):
        new = (sq - 2.0 * pts @ c.T + (c * c).sum(axis=1)[None, :]).argmin(axis=1)
        if np.array_equal(new, labels):
            break
        labels = new
        sums = np.zeros_like(c, dtype=np.float64)
        np.add.at(sums, labels, pts * wts[:, None])
        mass = np.bincount(labels, weights=wts, minlength=len(c))
        keep = mass > 0
        c[keep] = (sums[keep] / mass[keep, None]).astype(np.float32)
    return c.astype(np.float64), labels


def _pixels(img: Image.Image) -> np.ndarray:
    small = small_copy(img, COLOR_SIDE).convert("RGB")
    return np.asarray(small, dtype=np.uint8).reshape(-1, 3)


def _vivid_accents(rgb: np.ndarray, taken: set[str]) -> list[NamedColor]:
    """Vivid families no cluster named: ACCENT_SHARE of the pixels, or STRONG_SHARE of
    strongly saturated ones."""
    L, C, h = srgb_to_oklch(rgb.astype(np.float64))
    vivid = np.flatnonzero(C >= ACCENT_CHROMA)
    fams = np.array([family_of(L[i], C[i], h[i]) for i in vivid])
    out = []
    for fam in ACCENT_FAMILIES:
        members = vivid[fams == fam] if len(fams) else vivid[:0]
        share = len(members) / float(len(rgb))
        strong = float((C[members] >= STRONG_CHROMA).sum()) / float(len(rgb))
        if fam in taken or (share < ACCENT_SHARE and strong < STRONG_SHARE):
            continue
        mean = np.average(rgb[members].astype(np.float64), axis=0, weights=C[members])
        named = name_color(tuple(int(v) for v in np.rint(mean)), share)
        if named.family == fam:
            out.append(named)
    return out


def dominant_colors(img: Image.Image, k: int = 5) -> list[NamedColor]:
    """Up to k named dominant colours, largest share first (shares are pixel fractions).

    Clusters are found in CIELAB with vivid pixels weighing more, so a small saturated
    region keeps its own cluster, and are named by their pixels' plain mean; clusters with
    the same name, or of one family and close together, are merged. A vivid family covering
    a few percent of the photo that no cluster named (the orange of a sunset among grey
    water) is added with its own pixel share.
    """
    rgb = _pixels(img)
    lab = srgb_to_lab(rgb.astype(np.float32)).astype(np.float64)
    chroma = np.hypot(lab[:, 1], lab[:, 2])
    weights = 1.0 + chroma / CHROMA_WEIGHT
    centres, labels = _kmeans(lab, weights, CLUSTERS)
    total = float(len(lab))
    groups: list[dict] = []
    for j in np.argsort(-np.bincount(labels, minlength=len(centres))):
        count = int((labels == j).sum())
        if count == 0:
            continue
        centres[j] = lab[labels == j].mean(axis=0)  # the members' own colour names them
        centre_rgb = lab_to_srgb(centres[j])
        named = name_color(tuple(int(v) for v in centre_rgb))
        for g in groups:
            same = g["name"] == named.name or (
                g["family"] == named.family
                and float(delta_e2000(g["lab"], centres[j]))
                < (MERGE_DE_GREY if named.family == "grey" else MERGE_DE)
            )
            if same:
                g["lab"] = (g["lab"] * g["count"] + centres[j] * count) / (g["count"] + count)
                g["count"] += count
                break
        else:
            groups.append(
                {"name": named.name, "family": named.family, "lab": centres[j], "count": count}
            )
    scored: list[tuple[float, NamedColor]] = []
    for g in groups:
        share = g["count"] / total
        if share < MIN_SHARE:
            continue
        nc = name_color(tuple(int(v) for v in lab_to_srgb(g["lab"])), share)
        scored.append((share * (1.0 + float(np.hypot(g["lab"][1], g["lab"][2])) / 40.0), nc))
    scored.sort(key=lambda sc: -sc[0])
    merged: dict[str, NamedColor] = {}
    for _, nc in scored:  # merging may have moved a centre onto a name already taken
        old = merged.get(nc.name)
        share = nc.share + (old.share if old else 0.0)
        merged[nc.name] = NamedColor(nc.name, (old or nc).hex, round(share, 3), nc.family)
    chosen = list(merged.values())[:k]
    names = {c.name for c in chosen}
    accents = _vivid_accents(rgb, {c.family for c in chosen})
    accents = [a for a in accents if a.name not in names][: max(0, k - 2)]
    chosen = chosen[: k - len(accents)] + accents
    return sorted(chosen, key=lambda c: -c.share)


def monochrome_tone(img: Image.Image) -> str:
    """A monochrome photo's tone ("black and white", "sepia tones", "blue tones"), else "".

    Black and white: almost no pixel has colour. Toned: the colour there is weak and of one
    hue, with no object of another colour. Either needs a real range of lightness: a flat
    colour is a colour, not a photo's tone.
    """
    L, C, h = srgb_to_oklch(_pixels(img).astype(np.float64))
    if float(np.percentile(L, 95) - np.percentile(L, 5)) < MONO_MIN_RANGE:
        return ""
    if float(np.percentile(C, 95)) < BW_CHROMA:
        return BW_NAME
    if float(np.percentile(C, 99.5)) >= TONED_CHROMA:
        return ""
    tinted = C >= 1.0
    if tinted.mean() < 0.5:
        return ""
    angles = np.radians(h[tinted])
    w = C[tinted]
    vx, vy = float((w * np.cos(angles)).sum()), float((w * np.sin(angles)).sum())
    if np.hypot(vx, vy) / float(w.sum()) < TONED_COHERENCE:
        return ""
    mean_hue = np.degrees(np.arctan2(vy, vx))
    off_hue = (np.abs((h - mean_hue + 180.0) % 360.0 - 180.0) > 45.0) & (C >= 3.0)
    if off_hue.mean() > TONED_OUTLIERS:  # a small object of another colour
        return ""
    hue = float(np.degrees(np.arctan2(vy, vx)) % 360.0)
    if 40.0 <= hue < 110.0:
        return SEPIA_NAME
    lm, cm = float(np.median(L)), float(np.percentile(C, 75))
    family = family_of(max(lm, 40.0), max(cm, 4.0), hue)
    return f"{family} tones" if family in FAMILIES[:9] else BW_NAME


def image_colors(img: Image.Image, k: int = 5) -> tuple[list[NamedColor], bool]:
    """The colours to report and whether the photo is monochrome.

    A monochrome photo is one entry ("black and white", "sepia tones", "blue tones") with
    share 1.0; otherwise the dominant colours."""
    tone = monochrome_tone(img)
    if not tone:
        return dominant_colors(img, k), False
    mean = _pixels(img).mean(axis=0)
    if tone == BW_NAME:
        family = "grey"
    elif tone == SEPIA_NAME:
        family = "brown"
    else:
        family = tone.split()[0]
    return [NamedColor(tone, _hex(np.rint(mean)), 1.0, family)], True


def spoken_colors(
    colors: list[NamedColor], *, main_share: float = 0.15, most: int = 3, touches: int = 2
) -> tuple[list[NamedColor], list[NamedColor]]:
    """The colours worth saying: the main hue families (each `main_share`+ of the photo,
    up to `most`) and small vivid accents (up to `touches`), largest first.

    Each family is said once: by its colour, or by the family word with the family's total
    share when several shades of it were found ("green", not "dark olive and moss green")."""
    merged: dict[str, NamedColor] = {}
    for c in sorted(colors, key=lambda c: -c.share):
        family = c.family or name_color(_rgb(c.hex)).family
        old = merged.get(family)
        if old is None:
            merged[family] = NamedColor(c.name, c.hex, c.share, family)
        else:
            merged[family] = NamedColor(family, old.hex, round(old.share + c.share, 3), family)
    ranked = sorted(merged.values(), key=lambda c: -c.share)
    main = [c for c in ranked if c.share >= main_share][:most]
    accents = [c for c in ranked if c.share < main_share and c.family in ACCENT_FAMILIES]
    return main, accents[:touches]


def _rgb(hex_color: str) -> tuple[int, int, int]:
    try:
        return (int(hex_color[1:3], 16), int(hex_color[3:5], 16), int(hex_color[5:7], 16))
    except ValueError:
        return (128, 128, 128)


def _modifier(color: NamedColor, family: str) -> str:
    """light/dark/pale/deep/bright from the name's first word, else from the colour's own
    lightness for a specific name ("cornflower blue" is light); none for a family word."""
    words = color.name.split()
    if len(words) > 1 and words[0] in _palette().modifiers:
        return _palette().modifiers[words[0]]
    if color.name == family or family in ("black", "white"):
        return ""
    lightness = float(srgb_to_oklch(np.array(_rgb(color.hex), dtype=np.float64))[0])
    return "light" if lightness >= 82 else "dark" if lightness <= 38 else ""


def color_word(color: NamedColor, language: str) -> str:
    """The colour's name as a native speaker of `language` (en/es/pt/de/fr/ru) would say it.

    English keeps the survey name ("sky blue"); other languages use a known translation of
    the name, or the family word with light/dark/pale/deep/bright in that language's order
    ("azul oscuro", "dunkelblau", "тёмно-синий"). Unknown languages get English."""
    words = _palette().words.get(language)
    if words is None:
        return color.name
    name = color.name
    family = color.family or (name.split()[-1] if name.split() else "")
    if name in (BW_NAME, SEPIA_NAME):
        return words["tones"][name]
    if name.endswith(" tones"):
        return words["tones"].get(name[: -len(" tones")], words["tones"][SEPIA_NAME])
    if name in words["names"]:
        return words["names"][name]
    if family not in words["families"]:
        family = name_color(_rgb(color.hex)).family
    mod = _modifier(color, family)
    head = name.split()[-1] if name.split() else ""
    pattern = words["modifiers"].get(mod, "{c}")
    base = words["families"][family]
    if mod and head != family and head in words["names"]:
        own = words["names"][head]  # "light turquoise": "turquesa claro", "helltürkis"
        if pattern.startswith("{c} ") or " " not in own:
            return pattern.format(c=own)
    if mod and f"{mod} {family}" in words["names"]:
        return words["names"][f"{mod} {family}"]  # "light blue" in Russian: "голубой"
    return pattern.format(c=base)
