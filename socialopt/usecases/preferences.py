"""A user's saved preferences: the rules that check them live in `pipeline.rules`; this holds
what is not one value (the logo file, the default-platform toggle)."""

from __future__ import annotations

import io
import os
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from pipeline.errors import OptionsError
from pipeline.platforms import PLATFORM_KEYS

LOGO_MAX_PIXELS = 25_000_000


def logo_file(data_dir: Path, user_id: int) -> Path:
    """Where a user's logo lives: `DATA_DIR/users/<uid>/logo.png`."""
    return Path(data_dir) / "users" / str(user_id) / "logo.png"


def save_logo(data: bytes, path: Path) -> None:
    """Check a PNG/JPEG and store it as PNG (alpha kept); OptionsError INVALID_LOGO if not."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.format not in ("PNG", "JPEG"):
                raise OptionsError(
                    f"The logo must be a PNG or JPEG, not {img.format}.", code="INVALID_LOGO"
                )
            if img.width * img.height > LOGO_MAX_PIXELS:
                raise OptionsError(
                    "That logo is too large (25 megapixels at most).", code="INVALID_LOGO"
                )
            img.load()
            rgba = img.convert("RGBA")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
        raise OptionsError("That file isn't an image I can read.", code="INVALID_LOGO") from None
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    rgba.save(tmp, "PNG")
    os.replace(tmp, path)


def toggle_platform(selected: tuple[str, ...], key: str) -> tuple[str, ...] | None:
    """The default platforms with `key` switched, in canonical order; None when that would
    leave none selected."""
    if key in selected and len(selected) == 1:
        return None
    chosen = [p for p in selected if p != key] if key in selected else [*selected, key]
    return tuple(p for p in PLATFORM_KEYS if p in chosen)
