"""Contact sheet: every platform's crop side by side, labelled, as one JPEG."""

from __future__ import annotations

import io
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

from pipeline.models import RenderedImage

BACKGROUND = (236, 236, 236)
TEXT = (40, 40, 40)
FRAME = (200, 200, 200)


@lru_cache(maxsize=4)
def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # pragma: no cover - Pillow without FreeType
        return ImageFont.load_default()


def _thumbnail(img: Image.Image | RenderedImage, height: int) -> Image.Image:
    if isinstance(img, RenderedImage):
        from pipeline.render import preview_of

        thumb = preview_of(img)
        if thumb is not None and thumb.height == height:
            return thumb
        img = Image.open(io.BytesIO(img.data))
    if getattr(img, "format", None) == "JPEG":
        # A lazily opened JPEG then decodes already reduced (no-op once loaded).
        img.draft("RGB", (max(1, round(img.width * height / img.height)), height))
    w = max(1, round(img.width * height / img.height))
    thumb = img.convert("RGB") if img.mode != "RGB" else img
    return thumb.resize((w, height), Image.Resampling.BICUBIC, reducing_gap=2.0)


def make_contact_sheet(
    items: list[tuple[str, Image.Image | RenderedImage]],
    *,
    height: int = 360,
    gap: int = 24,
    max_width: int = 2600,
    quality: int = 85,
) -> bytes:
    """Scale each (label, image) to `height`, place them in rows with the label under each
    (e.g. "Instagram 1080x1350"), on a neutral background; return JPEG bytes.

    An item may be a RenderedImage from render_platform: its thumbnail, made at render time,
    is used and nothing is decoded (the fast path).
    """
    if not items:
        raise ValueError("make_contact_sheet needs at least one image")
    font = _font(max(12, height // 18))
    label_h = max(12, height // 18) + 14
    thumbs: list[tuple[str, Image.Image]] = []
    for label, img in items:
        thumbs.append((label, _thumbnail(img, height)))

    rows: list[list[tuple[str, Image.Image]]] = [[]]
    row_w = gap
    for label, thumb in thumbs:
        if rows[-1] and row_w + thumb.width + gap > max_width:
            rows.append([])
            row_w = gap
        rows[-1].append((label, thumb))
        row_w += thumb.width + gap

    def width_of(row: list[tuple[str, Image.Image]]) -> int:
        return gap + sum(t.width + gap for _, t in row)

    sheet_w = max(width_of(r) for r in rows)
    cell_h = height + label_h + gap
    sheet = Image.new("RGB", (sheet_w, gap + cell_h * len(rows)), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    y = gap
    for row in rows:
        x = gap + (sheet_w - width_of(row)) // 2
        for label, thumb in row:
            sheet.paste(thumb, (x, y))
            draw.rectangle((x - 1, y - 1, x + thumb.width, y + height), outline=FRAME)
            tw = draw.textlength(label, font=font)
            draw.text((x + (thumb.width - tw) / 2, y + height + 6), label, fill=TEXT, font=font)
            x += thumb.width + gap
        y += cell_h
    buf = io.BytesIO()
    sheet.save(buf, "JPEG", quality=quality)
    return buf.getvalue()
