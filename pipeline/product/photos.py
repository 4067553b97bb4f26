"""Product photos: one cutout, every asked-for style at every selected platform's size."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from PIL import Image, ImageOps

from pipeline import rules
from pipeline.errors import OptionsError, ProcessingError, ProviderError
from pipeline.models import (
    PRODUCT_STYLES,
    ImageAnalysis,
    LogoOptions,
    ProductDecision,
    ProductPhoto,
    RenderedImage,
)
from pipeline.platforms import ImageSize
from pipeline.product.background import (
    ALPHA_METHOD,
    FALLBACK_METHOD,
    MASK_UNRELIABLE,
    Cutout,
    make_cutout,
)
from pipeline.product.detect import detect_product
from pipeline.product.logo import apply_logo, validate_logo
from pipeline.product.masks import alpha_of, real_alpha
from pipeline.product.styles import StyleOptions, compose_style
from pipeline.render import encode_capped

log = logging.getLogger(__name__)

MAX_WORK_SIDE = 2048  # the cutout is made once at this size at most (12 MP in, ~3 MP work)
MIN_WORK_SIDE = 512
WORK_MARGIN = 1.5  # MACRO crops into the subject, so keep some resolution above the target
MIN_COVERAGE = 0.002


def normalize_styles(styles: Iterable[str]) -> tuple[str, ...]:
    """Validated, de-duplicated styles in the asked order; all seven when none are named."""
    out: list[str] = []
    for s in styles:
        key = s.strip().lower().replace("-", "_").replace(" ", "_")
        if key not in PRODUCT_STYLES:
            raise OptionsError(
                f"Unknown product style '{s}'; choose from {', '.join(PRODUCT_STYLES)}.",
                code="UNKNOWN_STYLE",
            )
        if key not in out:
            out.append(key)
    return tuple(out) or PRODUCT_STYLES


def working_copy(img: Image.Image, targets: Sequence[tuple[str, ImageSize]]) -> Image.Image:
    """The photo downscaled to what the largest target needs (never upscaled)."""
    rgb = img if img.mode == "RGB" else img.convert("RGB")
    need = max((max(s.width, s.height) for _, s in targets), default=1080)
    side = int(min(MAX_WORK_SIDE, max(MIN_WORK_SIDE, need * WORK_MARGIN)))
    scale = side / max(rgb.size)
    if scale >= 1.0:
        return rgb
    size = (max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale)))
    return rgb.resize(size, Image.Resampling.LANCZOS, reducing_gap=2.0)


def _encode(img: Image.Image, fmt: str, max_bytes: int) -> tuple[bytes, int]:
    if max_bytes > 0:
        return encode_capped(img, fmt, max_bytes)
    buf = io.BytesIO()
    if fmt == "PNG":
        img.save(buf, "PNG", optimize=False, compress_level=6)
        return buf.getvalue(), 0
    img.save(buf, fmt, quality=90)
    return buf.getvalue(), 90


def _cap_for(platform: str, max_file_bytes: Mapping[str, int] | None) -> int:
    if max_file_bytes is not None and platform in max_file_bytes:
        return int(max_file_bytes[platform])
    try:
        from pipeline.platforms import get_spec

        return get_spec(platform).max_file_bytes
    except Exception:  # an unknown platform key: no cap
        return 0


NOT_A_PRODUCT = "NOT_A_PRODUCT"
TRY_ANYWAY = "Ask for them anyway (“try anyway”; --product-anyway on the command line)."


def _alpha_cutout(
    work: Image.Image, alpha: Image.Image | None, original: Image.Image
) -> Cutout | None:
    """A cutout from the photo's own transparency, at the working size, or None."""
    own = real_alpha(alpha) if alpha is not None else alpha_of(original)
    if own is None:
        return None
    if own.size != work.size:
        own = own.resize(work.size, Image.Resampling.LANCZOS)
    return make_cutout(work, own, ALPHA_METHOD)


def make_product_photos(
    img: Image.Image,
    analysis: ImageAnalysis | None,
    styles: Iterable[str],
    targets: Sequence[tuple[str, ImageSize]],
    fmt: str,
    remover: Any,
    *,
    logo: LogoOptions | None = None,
    openai_editor: Any = None,
    max_file_bytes: Mapping[str, int] | None = None,
    style_options: StyleOptions | None = None,
    force: bool = False,
    alpha: Image.Image | None = None,
    max_workers: int = 2,
) -> tuple[ProductDecision, list[ProductPhoto]]:
    """Cut the subject out once, then render each style for each (platform, size) target.

    The mask is the photo's own transparency when it has some (`alpha`, or `img`'s alpha
    channel: method "alpha"), else `remover.cutout` (a BackgroundRemover). Styles are made
    only for a photo judged to show a product and a cut-out that will not look broken;
    otherwise the decision says why (`code` NOT_A_PRODUCT or MASK_UNRELIABLE) and no photos
    come back, unless `force` (the user asked to try anyway: an unreliable cut-out is then
    replaced by the whole frame, never by fragments). With an `openai_editor`, each style is
    one images.edit call fitted to every target; a failure falls back to the compositor.
    Photos come back in style order, then target order.
    """
    chosen = normalize_styles(styles)
    fmt = rules.output_format(fmt or "JPEG")
    if logo is not None:
        validate_logo(logo)
    rgb = img if img.mode == "RGB" else img.convert("RGB")
    work = working_copy(rgb, targets)
    refusal = ""
    cutout = _alpha_cutout(work, alpha, img)
    if cutout is None:
        try:
            cutout = remover.cutout(work)
        except ProcessingError as exc:
            if exc.code != MASK_UNRELIABLE:
                raise
            refusal = exc.message
            cutout = make_cutout(work, Image.new("L", work.size, 255), f"{FALLBACK_METHOD}")
    if not refusal and cutout.coverage < MIN_COVERAGE:  # nothing found: stage the whole frame
        cutout = make_cutout(work, Image.new("L", work.size, 255), f"{cutout.method}+full-frame")
    if refusal:
        decision = ProductDecision(
            False, refusal, "offline-mask", mask_method=cutout.method, code=MASK_UNRELIABLE
        )
        if force:
            cutout = make_cutout(work, cutout.mask, f"{cutout.method}+full-frame")
    else:
        decision = detect_product(work, analysis, cutout.mask)
        decision.mask_method = cutout.method
        if not decision.is_product:
            decision.code = NOT_A_PRODUCT
    if decision.code:
        if not force:
            return decision, []
        decision.forced = True
    opts = style_options or StyleOptions()
    back = img.width / work.width  # working -> original pixels, for crop_box

    def one_style(style: str) -> list[ProductPhoto]:
        generated = _generate(openai_editor, work, style, targets)
        photos = []
        for platform, size in targets:
            avoid = None
            if generated is not None:
                out = ImageOps.fit(generated, (size.width, size.height), Image.Resampling.LANCZOS)
                method, box = "openai", (0, 0, img.width, img.height)
            else:
                # the full-resolution photo goes along: MACRO crops from it without enlarging
                out, placement = compose_style(style, cutout, rgb, size, opts)
                method = "compositor"
                box = tuple(int(round(v * back)) for v in placement.src_box)
                avoid = placement.mask
            if logo is not None:
                out = apply_logo(out, logo, avoid)
            data, quality = _encode(out, fmt, _cap_for(platform, max_file_bytes))
            rendered = RenderedImage(
                data=data,
                width=size.width,
                height=size.height,
                format=fmt,
                size_name=size.name,
                crop_box=box,
                quality=quality,  # type: ignore[arg-type]
            )
            photos.append(
                ProductPhoto(style=style, platform=platform, image=rendered, method=method)
            )
        return photos

    workers = max(1, min(max_workers, len(chosen)))
    if workers == 1:
        batches = [one_style(s) for s in chosen]
    else:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="product") as pool:
            batches = list(pool.map(one_style, chosen))
    return decision, [p for batch in batches for p in batch]


def decision_warning(decision: ProductDecision) -> str:
    """The sentence telling the user why no product photos were made (or that they were
    made anyway), with its code; "" when there is nothing to say."""
    if not decision.code:
        return ""
    if decision.forced:
        return f"Product photos made anyway as asked, though: {decision.reason} ({decision.code})"
    return f"No product photos: {decision.reason} ({decision.code}) {TRY_ANYWAY}"


def _generate(
    editor: Any, work: Image.Image, style: str, targets: Sequence[tuple[str, ImageSize]]
) -> Image.Image | None:
    """One images.edit call for a style, or None (no editor, or it failed: use the compositor)."""
    if editor is None or not targets:
        return None
    size = targets[0][1]
    try:
        return editor.edit(work, style, size.width, size.height)
    except ProviderError as exc:
        log.warning("image edit for %s failed (%s); using the compositor", style, exc.code)
    except Exception as exc:  # an editor must never break the offline path
        log.warning("image edit for %s failed (%s); using the compositor", style, exc)
    return None
