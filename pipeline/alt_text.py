"""Alt text for one rendered crop, in the caption language, within a platform's limit.

It says what a blind reader needs and nothing it cannot know: the subject (named only when
recognised or described by the user), how many people are inside the crop, the main colours
(or black and white) and the light. Never the source photo's shape, never only the user's
description quoted back. Phrases live in `pipeline/data/captions.json` under each language's
"alt" key.
"""

from __future__ import annotations

from pipeline.models import ImageAnalysis
from pipeline.phrases import (
    colour_words,
    join_words,
    kind_of,
    split_description,
    subject_phrase,
    templates,
    truncate,
)

DESCRIPTION_CHARS = 300  # the user's first sentence is used when at most this long
INSIDE_SHARE = 0.5  # a face counts when at least half of its box is inside the crop
DARK, BRIGHT = 0.3, 0.7  # mean luminance below/above which the light is mentioned

Box = tuple[int, int, int, int]


def people_in_crop(face_boxes: list[Box], crop_box: Box | None = None) -> int:
    """How many faces (x, y, w, h) are inside the crop (left, top, right, bottom), both in
    source pixels; every face when there is no crop box."""
    if crop_box is None or crop_box[2] <= crop_box[0] or crop_box[3] <= crop_box[1]:
        return len(face_boxes)
    left, top, right, bottom = crop_box
    count = 0
    for x, y, w, h in face_boxes:
        if w <= 0 or h <= 0:
            continue
        ix = max(0, min(x + w, right) - max(x, left))
        iy = max(0, min(y + h, bottom) - max(y, top))
        if ix * iy >= INSIDE_SHARE * w * h:
            count += 1
    return count


def _people_sentence(count: int, language: str) -> str:
    forms = templates()[language]["alt"]["people"]
    if count == 1:
        form = forms["one"]
    elif "few" in forms and count % 10 in (2, 3, 4) and count % 100 not in (12, 13, 14):
        form = forms["few"]
    else:
        form = forms["other"]
    return form.replace("{n}", str(count))


def _fit_sentences(parts: list[str], limit: int) -> str:
    """Join whole sentences, dropping the last ones that do not fit; cut only a first
    sentence that alone is over the limit."""
    if limit <= 0:
        return " ".join(parts)
    out = ""
    for part in parts:
        joined = f"{out} {part}".strip()
        if len(joined) > limit:
            break
        out = joined
    return out or truncate(parts[0], limit)


def alt_text_for(
    analysis: ImageAnalysis | None,
    description: str,
    language: str,
    crop_box: Box | None = None,
    limit: int = 0,
) -> str:
    """Alt text for the crop `crop_box` (source pixels; None = the whole photo), in
    `language` (a checked code), at most `limit` characters (0 = no limit)."""
    tpl = templates()[language]["alt"]
    people = people_in_crop(analysis.face_boxes, crop_box) if analysis else 0
    parts: list[str] = []

    said, _ = split_description(description, DESCRIPTION_CHARS)
    if said:
        parts.append(said)
    else:
        phrase = subject_phrase(analysis, language)
        person_only = kind_of(analysis) == "person" and not (analysis and analysis.subject)
        if phrase and not person_only:
            parts.append(tpl["shows"].replace("{np}", phrase[1]))
    if people:
        parts.append(_people_sentence(people, language))

    if analysis is not None:
        colours = colour_words(analysis, language, limit=3)
        if analysis.monochrome and _greyscale(analysis):
            parts.append(tpl["mono"])
        elif colours:
            parts.append(tpl["colors"].replace("{colors}", join_words(colours, language)))
        if analysis.brightness < DARK:
            parts.append(tpl["dark"])
        elif analysis.brightness > BRIGHT:
            parts.append(tpl["bright"])
    if not parts or parts == [said]:
        parts.insert(0, tpl["plain"])
    return _fit_sentences(parts, limit)


def _greyscale(analysis: ImageAnalysis) -> bool:
    """A monochrome photo without a hue (black and white rather than, say, sepia)."""
    neutral = {"grey", "gray", "black", "white", ""}
    if any(c.name == "black and white" for c in analysis.colors):
        return True
    return all(c.family in neutral for c in analysis.colors[:3])
