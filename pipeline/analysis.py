"""Offline image analysis: measurable facts about a photo, described honestly.

It reports what pixels show (brightness, colours, sharpness, faces, a single object on a
plain background) and never claims to recognise objects it cannot.
"""

from __future__ import annotations

import re

import cv2
import numpy as np
from PIL import Image

from pipeline import lexicon
from pipeline.colors import BW_NAME, SEPIA_NAME, image_colors, spoken_colors
from pipeline.concepts import kind_of
from pipeline.models import ImageAnalysis, NamedColor, Recognition
from pipeline.vision import Box, Focus, border_lab_distance, detect_faces, small_copy

ANALYSIS_SIDE = 512
BLUR_THRESHOLD = 60.0  # 90th-percentile tile Laplacian variance on the 512 px grey copy
SUBJECT_GRID = 16  # tiles per side for the subject's sharpness

_STOPWORD_LINES = (
    "a an the and or but if of to in on at by for with from as is are was were be been being",
    "this that these those it its my our your their his her we you they i me us them he she",
    "so very just not no yes do does did done have has had will would can could should may",
    "might into onto over under about after before than then there here what which who whom",
    "whose when where why how all any some each few more most other such only own same too",
    "also photo photos picture pic image images shot new one two out up down off again once",
)
STOPWORDS = frozenset(w for line in _STOPWORD_LINES for w in line.split())


def _tile_variance(grey: np.ndarray, n: int) -> np.ndarray:
    """Laplacian variance of each tile of an n x n grid."""
    lap = cv2.Laplacian(grey, cv2.CV_64F)
    h, w = lap.shape
    return np.array(
        [
            [
                lap[i * h // n : (i + 1) * h // n, j * w // n : (j + 1) * w // n].var()
                for j in range(n)
            ]
            for i in range(n)
        ]
    )


def sharpness(grey: np.ndarray) -> float:
    """90th percentile of per-tile Laplacian variance: high where any region is in focus."""
    return float(np.percentile(_tile_variance(grey, 8), 90))


def subject_sharpness(grey: np.ndarray, focus: Focus) -> float:
    """Sharpness where the subject is: the 90th percentile of tile sharpness, with each tile
    counted by its focus weight. A sharp subject on a soft background (shallow depth of
    field) scores as sharp; only a soft subject scores low. (Weights rather than the subject
    box: a box around a smooth area would make a crisp picture look soft.)"""
    n = SUBJECT_GRID
    tiles = _tile_variance(grey, n).ravel()
    weights = cv2.resize(focus.weights.astype(np.float32), (n, n), interpolation=cv2.INTER_AREA)
    weights = np.clip(weights.astype(np.float64).ravel(), 0.0, None)
    if not np.isfinite(weights).all() or weights.sum() <= 0:
        return sharpness(grey)
    order = np.argsort(tiles)
    cum = np.cumsum(weights[order]) / weights.sum()
    return float(tiles[order][min(n * n - 1, int(np.searchsorted(cum, 0.9)))])


def product_likeness(rgb: np.ndarray) -> tuple[float, bool, str]:
    """Score 0..1 for 'one object on a fairly plain background', the verdict and a reason."""
    dist, spread = border_lab_distance(rgb)
    border_score = float(np.clip(1.0 - (spread - 4.0) / 16.0, 0.0, 1.0))
    mask = (dist > max(18.0, 2.5 * spread)).astype(np.uint8)
    kernel = np.ones((3, 3), np.uint8)
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, kernel)
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, kernel, iterations=2)
    coverage = float(mask.mean())
    n, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    areas = sorted((int(a) for a in stats[1:, cv2.CC_STAT_AREA]), reverse=True) if n > 1 else []
    fg = float(sum(areas)) or 1.0
    main_share = areas[0] / fg if areas else 0.0
    significant = sum(1 for a in areas if a >= 0.02 * mask.size)
    cov_score = 1.0 if 0.05 <= coverage <= 0.70 else 0.0
    score = round(border_score * (0.4 + 0.6 * main_share) * cov_score, 3)
    if spread > 20.0:
        return score, False, "the background is busy rather than plain"
    if coverage < 0.05:
        return score, False, "nothing stands out from the background"
    if coverage > 0.70:
        return score, False, "the subject fills almost the whole frame; no plain background"
    if significant != 1 or main_share < 0.8:
        return score, False, f"{max(significant, 2)} separate objects stand out, not one"
    verdict = score >= 0.5
    reason = (
        f"one object covering {coverage:.0%} of the frame on a plain background"
        if verdict
        else "the background is not plain enough"
    )
    return score, verdict, reason


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _level(value: float, words: tuple[str, str, str], lo: float, hi: float) -> str:
    return words[0] if value < lo else words[2] if value > hi else words[1]


def _keywords(description: str) -> list[str]:
    """The user's content words as typed; stop words of the text's own language dropped."""
    words = re.findall(r"[^\W\d_][\w'-]*", description.lower())
    language = lexicon.detect_language(description, "en") if words else "en"
    stops = STOPWORDS if language == "en" else STOPWORDS | lexicon.stopwords(language)
    out: list[str] = []
    for w in words:
        w = w.strip("'-")
        if len(w) >= 3 and w not in stops and lexicon.fold(w) not in stops and w not in out:
            out.append(w)
    return out


NEUTRAL_FAMILIES = frozenset({"grey", "gray", "black", "white", "beige", "brown"})


def _colorful(colors: list[NamedColor], saturation: float) -> bool:
    """Several vivid hue families, not one deep colour (a navy lake is saturated, not
    colourful)."""
    families = {c.family for c in colors if c.share >= 0.05 and c.family not in NEUTRAL_FAMILIES}
    return saturation > 0.35 and len(families) >= 3


def analyse_image(
    img: Image.Image,
    *,
    description: str = "",
    faces: list[Box] | None = None,
    source_size: tuple[int, int] | None = None,
    scale: float | None = None,
    recognition: Recognition | None = None,
    focus: Focus | None = None,
) -> ImageAnalysis:
    """Analyse a photo offline. `faces` (in img pixels) skips detection when given.
    `recognition` is the offline classifier's answer (pipeline.recognition), None without it.
    `focus` (vision.focus_map of `img`) makes blur a property of the subject, not the frame.

    When `img` is a reduced decode, pass the original `source_size` (width, height) or the
    decode `scale` (decoded/original, SourceImage.scale): the reported size and face boxes
    are then in original pixels.
    """
    if source_size is None and scale and scale != 1.0:
        source_size = (round(img.width / scale), round(img.height / scale))
    width, height = source_size or img.size
    fx, fy = width / img.width, height / img.height
    small = small_copy(img, ANALYSIS_SIDE).convert("RGB")
    rgb = np.asarray(small)
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)

    ratio = width / height
    orientation = "landscape" if ratio > 1.05 else "portrait" if ratio < 0.95 else "square"
    brightness = round(float(grey.mean()) / 255.0, 3)
    contrast = round(min(1.0, float(grey.std()) / 127.5), 3)
    sharp = round(sharpness(grey), 1)
    subject_sharp = round(subject_sharpness(grey, focus), 1) if focus is not None else sharp
    is_blurry = subject_sharp < BLUR_THRESHOLD

    colors, monochrome = image_colors(small)
    if faces is None:
        faces = detect_faces(img)
    face_boxes = [(int(x * fx), int(y * fy), int(w * fx), int(h * fy)) for (x, y, w, h) in faces]
    score, is_product, reason = product_likeness(rgb)
    if face_boxes and is_product:
        is_product, reason = False, "a face is visible, so it is treated as a photo of people"
        score = round(score * 0.5, 3)

    r, _, b = (float(c) for c in rgb.reshape(-1, 3).mean(axis=0))
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
    saturation = float(hsv[..., 1].mean()) / 255.0
    tone = "warm" if r - b > 12 else "cool" if b - r > 12 else "neutral"
    if monochrome:
        tone = {BW_NAME: "black-and-white", SEPIA_NAME: "sepia"}.get(
            colors[0].name, colors[0].family
        )
    elif saturation < 0.08:
        tone = "muted"
    light = _level(brightness, ("dark", "", "bright"), 0.3, 0.65)

    # Description: only what was measured, plus the user's own words, quoted as theirs.
    tone_word = tone if tone in ("muted", "black-and-white") else f"{tone}-toned"
    adjectives = ", ".join(a for a in (light, tone_word) if a)
    kind = f"{orientation}-format photo" if orientation != "square" else "square photo"
    text = f"A {adjectives} {kind}"
    if face_boxes:
        n = len(face_boxes)
        text += " with one person" if n == 1 else f" with {n} people"
    elif is_product:
        text += " of a single object on a plain background"
    if not monochrome:  # a monochrome photo's tone is already in the adjectives
        main, touches = spoken_colors(colors)
        if main:
            text += ", mostly " + _join([c.name for c in main])
            if touches:
                text += ", with touches of " + _join([c.name for c in touches])
    text += "."
    if is_blurry:
        text += " It looks soft or blurry."
    user = " ".join(description.split())
    if user:
        text += f' Described as: "{user[:200]}".'

    keywords = _keywords(description)
    for c in colors[:3]:  # hue families ("green"), not survey names ("dark olive")
        if c.share >= 0.1 and not monochrome and c.family not in keywords:
            keywords.append(c.family)
    cues: list[str] = []
    if face_boxes:
        big = max(w * h for _, _, w, h in face_boxes) / float(width * height)
        cues.append("portrait" if len(face_boxes) == 1 and big > 0.02 else "people")
    if is_product:
        cues += ["product", "minimal"]
    if light:
        cues.append(light)
    if _colorful(colors, saturation):
        cues.append("colorful")
    if tone in ("warm", "cool", "black-and-white", "sepia"):
        cues.append(tone)
    keywords += [c for c in cues if c not in keywords]

    warnings: list[str] = []
    if is_blurry:
        warnings.append(
            "The photo looks blurry; a sharper shot will look better on every platform."
        )
    if brightness < 0.2:
        warnings.append("The photo is very dark; consider brightening it.")
    elif brightness > 0.9:
        warnings.append("The photo is very bright; details may be washed out.")
    if contrast < 0.08:
        warnings.append("The photo has very low contrast.")

    return ImageAnalysis(
        width=width,
        height=height,
        orientation=orientation,
        brightness=brightness,
        contrast=contrast,
        sharpness=sharp,
        is_blurry=is_blurry,
        subject_sharpness=subject_sharp,
        monochrome=monochrome,
        colors=colors,
        faces=len(face_boxes),
        face_boxes=face_boxes,
        product_likeness=score,
        is_product=is_product,
        product_reason=reason,
        description=text,
        keywords=keywords[:20],
        warnings=warnings,
        recognition=recognition,
        # the classifier names a subject only when confident (rollup abstains with "")
        subject=recognition.subject if recognition else "",
        subject_concepts=list(recognition.concepts) if recognition else [],
        kind=kind_of(
            recognition.concepts if recognition else (),
            faces=len(face_boxes),
            is_product=is_product,
        ),
    )
