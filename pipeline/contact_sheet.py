"""Contact sheet: every platform's crop side by side, labelled, as one JPEG."""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

from pipeline.models import PlatformResult, RenderedImage

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


def balanced_rows(widths: list[int], gap: int, max_width: int) -> list[tuple[int, int]]:
    """Split items of these widths, in order, into as few rows as fit `max_width` (gaps
    included), their widths as even as possible (least sum of squares): nine platforms make
    three even rows rather than two full ones and a lone last item. (start, end) per row."""

    def span(a: int, b: int) -> int:
        return gap + sum(w + gap for w in widths[a:b])

    n = len(widths)
    rows = 1
    start = 0
    for i in range(n):  # greedy: the fewest rows (an item wider than a row gets its own)
        if i > start and span(start, i + 1) > max_width:
            rows += 1
            start = i
    # best[k][i]: the least sum of squared row widths splitting the first i items in k rows
    inf = float("inf")
    best = [[inf] * (n + 1) for _ in range(rows + 1)]
    cut = [[0] * (n + 1) for _ in range(rows + 1)]
    best[0][0] = 0
    for k in range(1, rows + 1):
        for i in range(1, n + 1):
            for j in range(k - 1, i):
                width = span(j, i)
                if i - j > 1 and width > max_width:
                    continue
                value = best[k - 1][j] + width * width
                if value < best[k][i]:
                    best[k][i], cut[k][i] = value, j
    out: list[tuple[int, int]] = []
    end = n
    for k in range(rows, 0, -1):
        out.append((cut[k][end], end))
        end = cut[k][end]
    return out[::-1]


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

    rows = [thumbs[a:b] for a, b in balanced_rows([t.width for _, t in thumbs], gap, max_width)]

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


def results_sheet(
    results: Mapping[str, PlatformResult],
    names: Mapping[str, str],
    suffix: Callable[[str], str] = lambda _key: "",
) -> bytes:
    """The preview of a job: each platform's image labelled `<name> <W>x<H><suffix>`; b""
    when no platform has an image."""
    items = [
        (f"{names[k]} {r.image.width}x{r.image.height}{suffix(k)}", r.image)
        for k, r in results.items()
        if r.image is not None
    ]
    return make_contact_sheet(items) if items else b""
