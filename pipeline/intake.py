"""Intake: read a local file or an http(s) URL safely and decode it once.

Every refusal is an IntakeError with a stable code and a sentence a person understands.
"""

from __future__ import annotations

import hashlib
import io
import ipaddress
import socket
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from pipeline.errors import IntakeError
from pipeline.models import SourceInfo

MB = 1024 * 1024

try:  # optional HEIC/HEIF support
    import pillow_heif  # type: ignore[import-not-found]

    pillow_heif.register_heif_opener()
    HEIC_SUPPORTED = True
except Exception:  # pragma: no cover - depends on an optional package
    HEIC_SUPPORTED = False

ALLOWED_FORMATS: frozenset[str] = frozenset(
    {"JPEG", "PNG", "BMP", "TIFF", "WEBP", "MPO"} | ({"HEIF", "HEIC"} if HEIC_SUPPORTED else set())
)
_FORMAT_NAMES = "JPEG, PNG, BMP, TIFF, WEBP" + (" or HEIC" if HEIC_SUPPORTED else "")


@dataclass(frozen=True)
class IntakeLimits:
    max_bytes: int = 50 * MB
    min_side: int = 300
    max_pixels: int = 100_000_000
    url_timeout_s: float = 20.0
    allow_private_urls: bool = False


@dataclass
class SourceImage:
    image: Image.Image  # RGB, EXIF-oriented, possibly draft-reduced
    info: SourceInfo  # width/height of the original (after EXIF rotation)
    scale: float  # decoded size / original size
    has_alpha: bool = False
    warnings: list[str] = field(default_factory=list)
    alpha: Image.Image | None = None  # "L": the input's own transparency (product cut-out)


# --------------------------------------------------------------------------- reading


def _mb(n: int) -> str:
    return f"{n / MB:.0f} MB" if n >= MB else f"{n} bytes"


def _too_large(limits: IntakeLimits) -> IntakeError:
    return IntakeError(
        f"The file is larger than the {_mb(limits.max_bytes)} limit. Please send a smaller image.",
        code="IMAGE_TOO_LARGE",
    )


def is_url(text: str) -> bool:
    return "://" in text[:16]


def read_input(path_or_url: str, limits: IntakeLimits | None = None) -> tuple[bytes, str]:
    """Return (bytes, source name) for a local path or an http(s) URL, within the limits."""
    limits = limits or IntakeLimits()
    if is_url(path_or_url):
        return fetch_url(path_or_url, limits), path_or_url
    path = Path(path_or_url).expanduser()
    if not path.is_file():
        raise IntakeError(f"I could not find the file {path_or_url}.", code="FILE_NOT_FOUND")
    size = path.stat().st_size
    if size == 0:
        raise IntakeError("The file is empty.", code="EMPTY_FILE")
    if size > limits.max_bytes:
        raise _too_large(limits)
    return path.read_bytes(), path.name


def _check_host(host: str, port: int, limits: IntakeLimits) -> None:
    """Refuse loopback, private, link-local and reserved addresses unless allowed."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise IntakeError(f"I could not find the server {host}.", code="URL_FETCH_FAILED") from exc
    if limits.allow_private_urls:
        return
    for info in infos:
        addr = ipaddress.ip_address(info[4][0].split("%")[0])
        if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
            addr = addr.ipv4_mapped
        if (
            addr.is_loopback
            or addr.is_private
            or addr.is_link_local
            or addr.is_reserved
            or addr.is_multicast
            or addr.is_unspecified
            or not addr.is_global
        ):
            raise IntakeError(
                "That link points to a private or local address, which I do not fetch.",
                code="URL_NOT_ALLOWED",
            )


def fetch_url(url: str, limits: IntakeLimits | None = None) -> bytes:
    """Download an http(s) URL, streamed with a byte cap and a timeout."""
    import requests

    limits = limits or IntakeLimits()
    parts = urlsplit(url)
    if parts.scheme.lower() not in {"http", "https"} or not parts.hostname:
        raise IntakeError(
            "Only http:// and https:// links to images are accepted.", code="URL_NOT_ALLOWED"
        )
    port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    _check_host(parts.hostname, port, limits)
    try:
        # Redirects are followed by hand so every hop's host is checked.
        current = url
        for _ in range(5):
            resp = requests.get(
                current,
                stream=True,
                timeout=limits.url_timeout_s,
                allow_redirects=False,
                headers={"User-Agent": "socialopt/0.1"},
            )
            if resp.is_redirect and resp.headers.get("location"):
                nxt = requests.compat.urljoin(current, resp.headers["location"])
                resp.close()
                p = urlsplit(nxt)
                if p.scheme.lower() not in {"http", "https"} or not p.hostname:
                    raise IntakeError(
                        "The link redirects to something that is not http(s).",
                        code="URL_NOT_ALLOWED",
                    )
                _check_host(p.hostname, p.port or (443 if p.scheme == "https" else 80), limits)
                current = nxt
                continue
            break
        else:
            raise IntakeError("The link redirects too many times.", code="URL_FETCH_FAILED")
        with resp:
            if resp.status_code != 200:
                raise IntakeError(
                    f"The server answered with HTTP {resp.status_code} for that link.",
                    code="URL_FETCH_FAILED",
                )
            declared = resp.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > limits.max_bytes:
                raise _too_large(limits)
            buf = bytearray()
            for chunk in resp.iter_content(64 * 1024):
                buf += chunk
                if len(buf) > limits.max_bytes:
                    raise _too_large(limits)
    except IntakeError:
        raise
    except requests.RequestException as exc:
        raise IntakeError(
            f"I could not download that link ({type(exc).__name__}).", code="URL_FETCH_FAILED"
        ) from exc
    if not buf:
        raise IntakeError("The link returned an empty file.", code="EMPTY_FILE")
    return bytes(buf)


# --------------------------------------------------------------------------- decoding


def _oriented_size(img: Image.Image) -> tuple[int, int]:
    """Width/height after EXIF rotation, without decoding pixels."""
    w, h = img.size
    try:
        orientation = img.getexif().get(0x0112, 1)
    except Exception:
        orientation = 1
    return (h, w) if orientation in (5, 6, 7, 8) else (w, h)


def _to_rgb(img: Image.Image, warns: list[str]) -> tuple[Image.Image, bool]:
    """Convert any mode to RGB; alpha is flattened on white. Returns (rgb, had_alpha)."""
    mode = img.mode
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        mode == "P" and "transparency" in img.info
    )
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        import numpy as np

        arr = np.asarray(img, dtype=np.float64)
        hi = float(arr.max()) if arr.size else 0.0
        peak = 65535.0 if hi > 255 else 255.0
        arr8 = np.clip(arr / peak * 255.0 + 0.5, 0, 255).astype(np.uint8)
        warns.append("16-bit image reduced to 8 bits per channel.")
        return Image.fromarray(arr8, "L").convert("RGB"), False
    if mode == "F":
        import numpy as np

        arr = np.asarray(img, dtype=np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        arr8 = ((arr - lo) / (hi - lo or 1.0) * 255.0).astype(np.uint8)
        return Image.fromarray(arr8, "L").convert("RGB"), False
    if has_alpha:
        rgba = img.convert("RGBA")
        bg = Image.new("RGB", rgba.size, (255, 255, 255))
        bg.paste(rgba, mask=rgba.getchannel("A"))
        return bg, True
    if mode == "CMYK":
        # Pillow's CMYK->RGB is naive; Adobe JPEGs store inverted CMYK which Pillow handles.
        return img.convert("RGB"), False
    if mode != "RGB":
        return img.convert("RGB"), False
    return img, False


def _to_srgb(img: Image.Image, icc: bytes, warns: list[str]) -> Image.Image:
    """Convert an RGB image with an embedded non-sRGB profile (e.g. Display P3) to sRGB,
    which is what platforms assume; sRGB-tagged or unreadable profiles are left alone."""
    try:
        from PIL import ImageCms

        src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        desc = (ImageCms.getProfileDescription(src) or "").strip()
        if "srgb" in desc.lower().replace(" ", "") or src.profile.xcolor_space.strip() != "RGB":
            return img
        out = ImageCms.profileToProfile(img, src, ImageCms.createProfile("sRGB"), outputMode="RGB")
    except Exception:  # noqa: BLE001 - a broken profile must not refuse the photo
        return img
    if out is None:  # pragma: no cover - only with inPlace=True
        return img
    warns.append(f"Colours converted from the {desc or 'embedded'} profile to sRGB.")
    return out


class _Preview:
    """Decode a small JPEG draft and find faces on another core while the full decode runs.

    The results are attached to the decoded image (vision.prime_cache), so focus_map,
    detect_faces and analyse_image reuse them instead of reducing the full image again.
    """

    def __init__(self, data: bytes, oriented: tuple[int, int]) -> None:
        self.data, self.oriented = data, oriented
        self.work: Image.Image | None = None
        self.faces: list | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            import cv2
            import numpy as np

            from pipeline import vision

            ow, oh = self.oriented
            side = max(vision.WORK_SIDE, vision.face_side(self.oriented))
            # Up to 15% short of `side` is fine for faces and saliency (it is resized anyway).
            factor = max(ow, oh) / side * 1.15
            flag = (
                cv2.IMREAD_REDUCED_COLOR_8
                if factor >= 8
                else cv2.IMREAD_REDUCED_COLOR_4
                if factor >= 4
                else cv2.IMREAD_REDUCED_COLOR_2
            )
            # OpenCV decodes with DCT scaling, applies EXIF orientation and, unlike Pillow,
            # releases the GIL, so this really runs beside the main decode.
            bgr = cv2.imdecode(np.frombuffer(self.data, np.uint8), flag)
            if bgr is None:
                return
            im = Image.fromarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
            if abs(im.width / im.height - ow / oh) > 0.02 or max(im.size) * 1.15 < side:
                return  # orientation or size not as expected: later stages recompute
            kw = vision.WORK_SIDE / max(ow, oh)
            work = im.resize(
                (max(1, round(ow * kw)), max(1, round(oh * kw))), Image.Resampling.BILINEAR
            )
            fs = vision.face_side(self.oriented)
            kf = fs / max(ow, oh)
            face_copy = (
                work
                if fs == vision.WORK_SIDE
                else im.resize(
                    (max(1, round(ow * kf)), max(1, round(oh * kf))), Image.Resampling.BILINEAR
                )
            )
            self.faces = vision.faces_on_copy(face_copy, self.oriented)
            self.work = work
        except Exception:  # noqa: BLE001 - an optimisation only; later stages recompute
            self.work = self.faces = None

    def finish(self, rgb: Image.Image) -> None:
        self.thread.join()
        if self.work is None:
            return
        from pipeline import vision

        ow, oh = self.oriented
        if abs(rgb.width / rgb.height - ow / oh) > 0.01 or max(rgb.size) <= 2 * vision.WORK_SIDE:
            return
        sx, sy = rgb.width / ow, rgb.height / oh  # the main decode may be draft-reduced
        faces = [
            (int(x * sx), int(y * sy), max(1, int(w * sx)), max(1, int(h * sy)))
            for x, y, w, h in (self.faces or [])
        ]
        # Faces are only valid for the default search size of the decoded image.
        same_search = vision.face_side(rgb.size) == vision.face_side(self.oriented)
        vision.prime_cache(rgb, self.work, faces if same_search else None)


def _start_preview(data: bytes, img: Image.Image, oriented: tuple[int, int]) -> _Preview | None:
    """A preview thread for large RGB/grey JPEGs (the decode may be draft-reduced)."""
    if (img.format or "").upper() not in ("JPEG", "MPO") or img.mode not in ("RGB", "L"):
        return None
    if max(img.size) < 1600:
        return None
    return _Preview(data, oriented)


def load_image(
    data: bytes,
    limits: IntakeLimits | None = None,
    *,
    draft_size: tuple[int, int] | None = None,
    name: str = "",
) -> SourceImage:
    """Decode image bytes once into an RGB, EXIF-upright SourceImage.

    `draft_size` (w, h), in displayed orientation, lets a JPEG decode reduced by DCT scaling
    while still covering (w, h): the decode scale is >= max(w/W, h/H), so a cover-crop to any
    target up to w wide and h high keeps full detail (see decode_size_for). Header checks
    (format, pixel count, min side) run before any pixel is decoded. For large JPEGs a small
    preview and its faces are computed on another core during the decode and attached to
    the image for vision/analysis to reuse.
    """
    limits = limits or IntakeLimits()
    if not data:
        raise IntakeError("The file is empty.", code="EMPTY_FILE")
    if len(data) > limits.max_bytes:
        raise _too_large(limits)
    warns: list[str] = []
    try:
        with warnings.catch_warnings():
            # Our own max_pixels check below runs before decoding; Pillow's warning (at its
            # global MAX_IMAGE_PIXELS) is not needed, its hard error is still caught.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            fmt = (img.format or "").upper()
            if fmt not in ALLOWED_FORMATS:
                raise IntakeError(
                    f"{fmt or 'This'} files are not supported. Please send {_FORMAT_NAMES}.",
                    code="INVALID_IMAGE_FORMAT",
                )
            w0, h0 = img.size
            if w0 * h0 > limits.max_pixels:
                raise IntakeError(
                    f"The image has {w0 * h0 / 1e6:.0f} megapixels; the limit is "
                    f"{limits.max_pixels / 1e6:.0f}. It may be a decompression bomb.",
                    code="DECOMPRESSION_BOMB",
                )
            width, height = _oriented_size(img)
            if min(width, height) < limits.min_side:
                raise IntakeError(
                    f"The image is {width}x{height} pixels; each side must be at least "
                    f"{limits.min_side} pixels.",
                    code="IMAGE_TOO_SMALL",
                )
            if getattr(img, "is_animated", False):
                img.seek(0)
                warns.append("Animated image: only the first frame is used.")
            if draft_size and fmt in ("JPEG", "MPO"):
                # EXIF rotation may swap axes: ask for the request in stored orientation.
                dw, dh = draft_size
                if (width, height) != (w0, h0):
                    dw, dh = dh, dw
                # Keep the decode at least as large as needed in both axes.
                need = max(dw / w0, dh / h0)
                req = (max(1, int(w0 * need + 0.999)), max(1, int(h0 * need + 0.999)))
                img.draft("RGB", req)
            preview = _start_preview(data, img, (width, height))
            img.load()
            ImageOps.exif_transpose(img, in_place=True)  # no copy when already upright
            icc = img.info.get("icc_profile")
            rgb, has_alpha = _to_rgb(img, warns)
            alpha = img.convert("RGBA").getchannel("A") if has_alpha else None
            if icc and rgb.mode == "RGB":
                rgb = _to_srgb(rgb, icc, warns)
            if preview is not None:
                preview.finish(rgb)
    except IntakeError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise IntakeError(
            "The image is too large to open safely (decompression-bomb guard).",
            code="DECOMPRESSION_BOMB",
        ) from exc
    except UnidentifiedImageError as exc:
        raise IntakeError(
            f"This file is not an image I can read. Please send {_FORMAT_NAMES}.",
            code="INVALID_IMAGE_FORMAT",
        ) from exc
    except (OSError, SyntaxError, ValueError, EOFError, IndexError) as exc:
        raise IntakeError(
            "The image file is damaged or incomplete and cannot be read.", code="CORRUPT_IMAGE"
        ) from exc
    if ImageFile.LOAD_TRUNCATED_IMAGES:  # pragma: no cover - global set by someone else
        warns.append("Truncated images are being accepted by a global Pillow setting.")
    info = SourceInfo(
        name=name,
        sha256=hashlib.sha256(data).hexdigest(),
        width=width,
        height=height,
        format=fmt,
        size_bytes=len(data),
    )
    scale = rgb.width / width if width else 1.0
    return SourceImage(
        image=rgb, info=info, scale=scale, has_alpha=has_alpha, warnings=warns, alpha=alpha
    )


def decode_size_for(sizes) -> tuple[int, int]:
    """The draft_size that keeps full detail for every target (w, h) in `sizes`.

    A cover-crop to (tw, th) from a W x H photo needs a decode scale of max(tw/W, th/H), so
    over several targets asking for (max tw, max th) with cover semantics is exact.
    """
    sizes = list(sizes)
    return (max((w for w, _ in sizes), default=0), max((h for _, h in sizes), default=0))
