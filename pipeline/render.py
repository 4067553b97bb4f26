"""Render: crop + resize to the exact platform size, encode under the platform's file cap."""

from __future__ import annotations

import io
import os
import threading
from collections.abc import Callable

import cv2
import numpy as np
from PIL import Image, ImageFilter

from pipeline import rules
from pipeline.crop import plan_crop
from pipeline.errors import OptionsError, ProcessingError
from pipeline.intake import SourceImage
from pipeline.models import RenderedImage
from pipeline.platforms import ImageSize, PlatformSpec
from pipeline.vision import Focus

# Progressive JPEG would make files ~5% smaller but costs ~2.3x the encode time of
# baseline+optimize (measured: 22 ms vs 10 ms for 1080x1920), which alone takes the 12 MP
# benchmark from ~3.8x to ~3.3x the naive script; platforms re-encode uploads anyway.
JPEG_PROGRESSIVE = False
JPEG_QUALITIES = (90, 85, 80, 75, 70, 60, 50, 40)
WEBP_QUALITIES = (90, 85, 80, 70, 60, 50, 40)
PNG_LOSSLESS = 100  # "quality" reported for a lossless PNG
PNG_QUANTIZED = 80  # ... and for a 256-colour PNG
DOWNSCALE_STEPS = (0.85, 0.7, 0.55, 0.4, 0.25)  # last resort: soften by down+up scaling


# More renders at once than cores only adds memory (each holds ~15-25 MB of intermediates
# for a 12 MP source), so callers may use any pool size.
_RENDER_SLOTS = threading.BoundedSemaphore(max(2, os.cpu_count() or 2))
FINAL_FILTER = Image.Resampling.BICUBIC  # last step for modes OpenCV does not take
SNAP = 0.02  # shrink a crop by up to 2% when that makes the resize an exact integer reduce


def crop_resize(img: Image.Image, box: tuple[int, int, int, int], size: ImageSize) -> Image.Image:
    """Crop `box` (img pixels) and resize to exactly size.width x size.height.

    Large reductions go in steps: an integer `reduce` (box filter) of the crop first, then a
    pixel-area resize for the remaining factor below 2x: visually the same as a one-step
    LANCZOS (mean difference < 1 level of 255) and 3-5x faster. When the crop is within 2% of
    an integer multiple of the target it is trimmed (centred) so `reduce` alone is exact.
    """
    target = (size.width, size.height)
    left, t, r, b = box
    cw, ch = r - left, b - t
    if (cw, ch) == target:
        return img.crop(box)
    factor = min(cw / size.width, ch / size.height)
    k = int(factor)
    if k >= 1 and factor / k <= 1 + SNAP:
        nw, nh = k * size.width, k * size.height
        if nw <= cw and nh <= ch:
            nl, nt = left + (cw - nw) // 2, t + (ch - nh) // 2
            snapped = (nl, nt, nl + nw, nt + nh)
            return img.crop(snapped) if k == 1 else img.reduce(k, box=snapped)
    if k >= 2:
        return _area_resize(img.reduce(k, box=box), target)
    if factor >= 1:
        return _area_resize(img.crop(box), target)
    return img.resize(target, Image.Resampling.LANCZOS, box=box)  # enlarging


PAD_DIM = 0.55  # brightness of the blurred backdrop behind a padded photo
PAD_BLUR_SIDE = 48  # the backdrop is blurred at about this many pixels on its long side


def pad_resize(img: Image.Image, size: ImageSize) -> Image.Image:
    """The whole of `img` fitted inside size.width x size.height, centred over a blurred,
    dimmed copy of itself that fills the frame (for a subject no crop of the shape keeps)."""
    target = (size.width, size.height)
    k = min(size.width / img.width, size.height / img.height)
    fw = min(size.width, max(1, round(img.width * k)))
    fh = min(size.height, max(1, round(img.height * k)))
    front = crop_resize(img, (0, 0, img.width, img.height), ImageSize(size.name, fw, fh))
    if (fw, fh) == target:
        return front
    # The backdrop: the fitted copy's centre cut to the frame's shape, blurred small and dimmed.
    aspect = size.width / size.height
    if fw / fh > aspect:
        cw, ch = max(1, round(fh * aspect)), fh
    else:
        cw, ch = fw, max(1, round(fw / aspect))
    left, top = (fw - cw) // 2, (fh - ch) // 2
    j = PAD_BLUR_SIDE / max(cw, ch)
    tiny = front.resize(
        (max(2, round(cw * j)), max(2, round(ch * j))),
        Image.Resampling.BILINEAR,
        box=(left, top, left + cw, top + ch),
        reducing_gap=2.0,
    )
    tiny = tiny.filter(ImageFilter.GaussianBlur(PAD_BLUR_SIDE / 24))
    tiny = Image.eval(tiny, lambda v: int(v * PAD_DIM))
    back = tiny.resize(target, Image.Resampling.BICUBIC)
    back.paste(front, ((size.width - fw) // 2, (size.height - fh) // 2))
    return back


def _area_resize(img: Image.Image, target: tuple[int, int]) -> Image.Image:
    """Downscale by a factor below 2 with OpenCV's pixel-area filter: the sharp, alias-free
    choice for shrinking, ~40% faster than Pillow's bicubic, and it releases the GIL."""
    if img.mode not in ("RGB", "L"):
        return img.resize(target, FINAL_FILTER)
    out = cv2.resize(np.asarray(img), target, interpolation=cv2.INTER_AREA)
    return Image.fromarray(out, img.mode)


def encode_jpeg(img: Image.Image, quality: int, *, progressive: bool | None = None) -> bytes:
    """JPEG bytes (optimized Huffman tables, 4:2:0) via OpenCV's libjpeg-turbo.

    Same encoder and bytes as Pillow's, but OpenCV releases the GIL while encoding, so the
    platforms' encodes really run in parallel threads (Pillow's JPEG encoder holds it).
    """
    progressive = JPEG_PROGRESSIVE if progressive is None else progressive
    if img.mode not in ("RGB", "L"):
        img = img.convert("RGB")
    if img.mode == "RGB":  # one packed copy in OpenCV's channel order
        arr = np.frombuffer(img.tobytes("raw", "BGR"), np.uint8).reshape(img.height, img.width, 3)
    else:
        arr = np.asarray(img)
    params = [
        cv2.IMWRITE_JPEG_QUALITY, int(quality),
        cv2.IMWRITE_JPEG_OPTIMIZE, 1,
        cv2.IMWRITE_JPEG_PROGRESSIVE, int(progressive),
        cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420,
    ]  # fmt: skip
    ok, buf = cv2.imencode(".jpg", arr, params)
    if ok:
        return buf.tobytes()
    out = io.BytesIO()  # pragma: no cover - OpenCV without JPEG support
    img.save(out, "JPEG", quality=quality, optimize=True, progressive=progressive, subsampling=2)
    return out.getvalue()


def _save(img: Image.Image, fmt: str, quality: int, quantize: bool = False) -> bytes:
    buf = io.BytesIO()
    if fmt == "JPEG":
        return encode_jpeg(img, quality)
    elif fmt == "WEBP":
        img.save(buf, "WEBP", quality=quality, method=4)
    elif fmt == "PNG":
        out = img.quantize(256, method=Image.Quantize.FASTOCTREE) if quantize else img
        out.save(buf, "PNG", optimize=True)
    else:
        raise OptionsError(
            f"Output format {fmt!r} is not supported; choose JPEG, PNG or WEBP.",
            code="UNKNOWN_FORMAT",
        )
    return buf.getvalue()


def _ladder(fmt: str) -> list[tuple[int, bool]]:
    if fmt == "JPEG":
        return [(q, False) for q in JPEG_QUALITIES]
    if fmt == "WEBP":
        return [(q, False) for q in WEBP_QUALITIES]
    return [(PNG_LOSSLESS, False), (PNG_QUANTIZED, True)]


def encode_capped(img: Image.Image, fmt: str, max_bytes: int) -> tuple[bytes, int]:
    """Encode under `max_bytes`: lower the quality, then (last resort) soften by scaling down
    and back up so the pixel size stays exact. Returns (bytes, quality used).

    Raises ProcessingError FILE_TOO_LARGE when nothing fits.
    """
    fmt = rules.output_format(fmt)
    if img.mode not in ("RGB", "L") and fmt == "JPEG":
        img = img.convert("RGB")
    ladder = _ladder(fmt)
    smallest = 0
    for quality, quantize in ladder:
        data = _save(img, fmt, quality, quantize)
        smallest = len(data) if not smallest else min(smallest, len(data))
        if len(data) <= max_bytes:
            return data, quality
    last_q, last_quant = ladder[-1]
    for k in DOWNSCALE_STEPS:
        small = img.resize(
            (max(1, round(img.width * k)), max(1, round(img.height * k))),
            Image.Resampling.BILINEAR,
        )
        soft = small.resize(img.size, Image.Resampling.BICUBIC)
        data = _save(soft, fmt, last_q, last_quant)
        smallest = min(smallest, len(data))
        if len(data) <= max_bytes:
            return data, last_q
    raise ProcessingError(
        f"The image cannot be made smaller than {max_bytes} bytes at {img.width}x{img.height} "
        f"(best was {smallest} bytes).",
        code="FILE_TOO_LARGE",
    )


def pick_format(spec: PlatformSpec, fmt: str) -> tuple[str, str | None]:
    """The format to use for `spec` and a warning when the requested one is not accepted."""
    fmt = rules.output_format(fmt or "JPEG")
    if fmt in spec.formats:
        return fmt, None
    used = spec.formats[0]
    return used, f"{spec.display_name} does not accept {fmt}; saved as {used} instead."


def render_platform(
    source: SourceImage,
    spec: PlatformSpec,
    fmt: str,
    focus: Focus | None,
    *,
    decorate: Callable[[Image.Image], Image.Image] | None = None,
    warnings: list[str] | None = None,
    size: ImageSize | None = None,
    fit: str = "auto",
) -> RenderedImage:
    """Smart-crop (or pad, see pipeline.crop.plan_crop), resize and encode `source` for one
    platform.

    The size is `spec.choose_size(original width, height)` unless given. RenderedImage.crop_box
    and subject_box are in ORIGINAL pixels. A format the platform does not accept falls back
    to its first format; the reason is appended to `warnings` when a list is passed.
    """
    used_fmt, note = pick_format(spec, fmt)
    if note and warnings is not None:
        warnings.append(note)
    size = size or spec.choose_size(source.info.width, source.info.height)
    img = source.image
    plan = plan_crop(img.width, img.height, size.aspect, focus, fit)
    box = plan.box
    if plan.fit == "pad":
        enlarged = min(size.width / img.width, size.height / img.height) > 1.001
    else:
        cw, ch = box[2] - box[0], box[3] - box[1]
        enlarged = cw < size.width * 0.999 and ch < size.height * 0.999
    if enlarged and warnings is not None:
        warnings.append(
            f"{spec.display_name}: the photo is smaller than {size.width}x{size.height}, "
            "so it was enlarged."
        )
    with _RENDER_SLOTS:
        out = pad_resize(img, size) if plan.fit == "pad" else crop_resize(img, box, size)
        if decorate is not None:
            out = decorate(out)
            if out.size != (size.width, size.height):
                out = out.resize((size.width, size.height), Image.Resampling.LANCZOS)
        if out.mode not in ("RGB", "L") and used_fmt == "JPEG":
            out = out.convert("RGB")
        preview = make_preview(out)
        data, quality = encode_capped(out, used_fmt, spec.max_file_bytes)
        del out
    inv = 1.0 / source.scale if source.scale else 1.0

    def to_original(b: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
        return (
            int(round(b[0] * inv)),
            int(round(b[1] * inv)),
            min(source.info.width, int(round(b[2] * inv))),
            min(source.info.height, int(round(b[3] * inv))),
        )

    orig_box = to_original(box)
    rendered = RenderedImage(
        data=data,
        width=size.width,
        height=size.height,
        format=used_fmt,
        size_name=size.name,
        crop_box=orig_box,
        quality=quality,
        fit=plan.fit,
        subject_box=None if plan.subject is None else to_original(plan.subject),
        subject_kept=None if plan.subject is None else round(plan.subject_kept, 3),
    )
    # Not a dataclass field (not serialised): the contact sheet uses it to avoid decoding.
    setattr(rendered, PREVIEW_ATTR, preview)  # noqa: B010
    return rendered


PREVIEW_HEIGHT = 360
PREVIEW_ATTR = "preview"


def make_preview(img: Image.Image, height: int = PREVIEW_HEIGHT) -> Image.Image:
    """A contact-sheet thumbnail of `height` pixels, made while the full image is in memory."""
    w = max(1, round(img.width * height / img.height))
    thumb = img.convert("RGB") if img.mode != "RGB" else img
    return thumb.resize((w, height), Image.Resampling.BICUBIC, reducing_gap=2.0)


def preview_of(rendered: RenderedImage) -> Image.Image | None:
    """The thumbnail render_platform attached to `rendered`, if any."""
    return getattr(rendered, PREVIEW_ATTR, None)
