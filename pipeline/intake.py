"""Intake: read a local file or an http(s) URL safely and decode it once.

Every refusal is an IntakeError with a stable code and a sentence a person understands.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import ipaddress
import logging
import socket
import stat
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit

from PIL import Image, ImageFile, UnidentifiedImageError

from pipeline.errors import IntakeError
from pipeline.models import SourceInfo

MB = 1024 * 1024
log = logging.getLogger(__name__)
_T = TypeVar("_T")

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
    url_timeout_s: float = 20.0  # one wall-clock deadline for a whole URL download
    allow_private_urls: bool = False
    # A frame in Pillow's own storage (RGB takes 4 bytes a pixel, 16-bit grey 2): 100 MP RGB.
    max_decoded_bytes: int = 400 * MB
    # The decoded frame plus its converted copy; above it the copy is made at 1/N size.
    work_bytes: int = 512 * MB
    ca_bundle: str | None = None  # CA certificates for https links; None: certifi's


@dataclass
class SourceImage:
    image: Image.Image  # RGB, EXIF-oriented, possibly draft-reduced
    info: SourceInfo  # width/height of the original (after EXIF rotation)
    scale: float  # decoded size / original size
    has_alpha: bool = False
    warnings: list[str] = field(default_factory=list)
    alpha: Image.Image | None = None  # "L": the input's own transparency (product cut-out)


# --------------------------------------------------------------------------- reading

Resolver = Callable[[str, int], list[str]]
_REDIRECTS = 5
_CHUNK = 64 * 1024
_DEFAULT_PORTS = {"http": 80, "https": 443}
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _mb(n: int) -> str:
    return f"{n / MB:.0f} MB" if n >= MB else f"{n} bytes"


def _too_large(limits: IntakeLimits) -> IntakeError:
    return IntakeError(
        f"The file is larger than the {_mb(limits.max_bytes)} limit. Please send a smaller image.",
        code="IMAGE_TOO_LARGE",
    )


def is_url(text: str) -> bool:
    return "://" in text[:16]


def check_input(path_or_url: str) -> None:
    """Cheap checks before any work: a URL parses the same for us and the HTTP client (no
    network), a path names a readable regular file. Raises IntakeError with a specific code."""
    if is_url(path_or_url):
        _parse_url(path_or_url)
        return
    _local_file(path_or_url)


def _local_file(path_or_url: str) -> Path:
    path = Path(path_or_url).expanduser()
    try:
        st = path.stat()
    except FileNotFoundError:
        raise IntakeError(
            f"I could not find the file {path_or_url}.", code="FILE_NOT_FOUND"
        ) from None
    except OSError as exc:
        raise IntakeError(
            f"I cannot read {path_or_url}: {exc.strerror or 'access denied'}.",
            code="FILE_UNREADABLE",
        ) from None
    if stat.S_ISDIR(st.st_mode):
        raise IntakeError(
            f"{path_or_url} is a folder; give the path of one image file.", code="NOT_A_FILE"
        )
    if not stat.S_ISREG(st.st_mode):
        raise IntakeError(
            f"{path_or_url} is not a regular file; give the path of one image file.",
            code="NOT_A_FILE",
        )
    try:
        with path.open("rb"):
            pass
    except OSError as exc:
        raise IntakeError(
            f"I cannot read {path_or_url}: {exc.strerror or 'access denied'}.",
            code="FILE_UNREADABLE",
        ) from None
    return path


def read_input(path_or_url: str, limits: IntakeLimits | None = None) -> tuple[bytes, str]:
    """Return (bytes, source name) for a local path or an http(s) URL, within the limits."""
    limits = limits or IntakeLimits()
    if is_url(path_or_url):
        return fetch_url(path_or_url, limits), path_or_url
    path = _local_file(path_or_url)
    size = path.stat().st_size
    if size == 0:
        raise IntakeError("The file is empty.", code="EMPTY_FILE")
    if size > limits.max_bytes:
        raise _too_large(limits)
    try:
        with path.open("rb") as fh:
            data = fh.read(limits.max_bytes + 1)
    except OSError as exc:
        raise IntakeError(
            f"I cannot read {path_or_url}: {exc.strerror or 'read error'}.",
            code="FILE_UNREADABLE",
        ) from None
    if len(data) > limits.max_bytes:
        raise _too_large(limits)
    return data, path.name


@dataclass(frozen=True)
class _Target:
    """One URL as both parsers agree on it."""

    scheme: str
    host: str  # hostname, IDNA-encoded, without brackets
    port: int
    netloc: str  # for the Host header: the IDNA host and the URL's explicit port
    target: str  # path and query


def _not_allowed(sentence: str) -> IntakeError:
    return IntakeError(sentence, code="URL_NOT_ALLOWED")


def _parse_url(url: str) -> _Target:
    """Split `url`, refusing anything the standard parser and urllib3 could read differently:
    backslashes, whitespace or control characters, userinfo (`user@`), `%` in the host."""
    from urllib3.exceptions import LocationParseError
    from urllib3.util import parse_url

    if "\\" in url or any(ord(c) <= 0x20 or ord(c) == 0x7F for c in url):
        raise _not_allowed(
            "That link contains characters (a backslash or a space) I do not fetch."
        )
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.netloc:
        raise _not_allowed("Only http:// and https:// links to images are accepted.")
    if "@" in parts.netloc or "%" in parts.netloc:
        raise _not_allowed("Links with a user name or an encoded host are not fetched.")
    try:
        port = parts.port or _DEFAULT_PORTS[scheme]
    except ValueError:
        raise IntakeError(
            "The link's port is not a number from 1 to 65535.", code="INVALID_URL"
        ) from None
    host = (parts.hostname or "").rstrip(".")
    if not host or port == 0:
        raise IntakeError("The link has no usable server name or port.", code="INVALID_URL")
    try:
        host = host.encode("idna").decode("ascii").lower()
        theirs = parse_url(url)
    except (UnicodeError, LocationParseError, ValueError):
        raise IntakeError("The link's server name is not valid.", code="INVALID_URL") from None
    their_host = (theirs.host or "").strip("[]").rstrip(".").lower()
    if (
        their_host != host
        or (theirs.port or _DEFAULT_PORTS[scheme]) != port
        or (theirs.scheme or "").lower() != scheme
    ):
        raise _not_allowed("That link can be read in two ways, so I do not fetch it.")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    netloc = (f"[{host}]" if ":" in host else host) + (f":{parts.port}" if parts.port else "")
    return _Target(scheme, host, port, netloc, target)


def _system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _refused_address(
    addr: ipaddress.IPv4Address | ipaddress.IPv6Address, private_ok: bool
) -> bool:
    """Link-local (cloud metadata), multicast and unspecified addresses are always refused;
    loopback, private and other non-global ones unless `private_ok`."""
    if isinstance(addr, ipaddress.IPv6Address):
        embedded = addr.ipv4_mapped or addr.sixtofour
        if embedded is None and addr in _NAT64:
            embedded = ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
        if embedded is not None:
            return _refused_address(embedded, private_ok)
    if addr.is_link_local or addr.is_multicast or addr.is_unspecified:
        return True
    return not private_ok and not addr.is_global


def _with_deadline(fn: Callable[[], _T], deadline: float) -> _T:
    """Run `fn` on a helper thread and give up at `deadline` (getaddrinfo has no timeout)."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(max(0.0, deadline - time.monotonic()))
    if thread.is_alive():
        raise _timed_out()
    if "error" in box:
        raise box["error"]
    return box["value"]


def _unreachable() -> IntakeError:
    return IntakeError(
        "I could not download that link (the server could not be reached or broke off).",
        code="URL_FETCH_FAILED",
    )


def _timed_out() -> IntakeError:
    return IntakeError("The link took too long to download.", code="URL_FETCH_FAILED")


def _vetted_addresses(
    target: _Target, limits: IntakeLimits, resolver: Resolver, deadline: float
) -> list[str]:
    """Resolve the host once; every address must pass, and these are the ones connected to."""
    try:
        literal = ipaddress.ip_address(target.host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [str(literal)]
    else:
        try:
            addresses = _with_deadline(lambda: resolver(target.host, target.port), deadline)
        except IntakeError:
            raise
        except (OSError, UnicodeError) as exc:
            raise IntakeError(
                f"I could not find the server {target.host}.", code="URL_FETCH_FAILED"
            ) from exc
    if not addresses:
        raise IntakeError(f"I could not find the server {target.host}.", code="URL_FETCH_FAILED")
    for text in addresses:
        try:
            addr = ipaddress.ip_address(text.split("%")[0])
        except ValueError:
            raise _not_allowed("The server's address is not one I can check.") from None
        if _refused_address(addr, limits.allow_private_urls):
            raise _not_allowed(
                "That link points to a private or local address, which I do not fetch."
            )
    return addresses


def _open_pinned(
    target: _Target, address: str, deadline: float, ca_bundle: str | None = None
) -> Any:
    """GET `target` from `address` (the vetted IP), sending the URL's own Host header and,
    for https, its host name as SNI and for the certificate check. No redirects, no retries."""
    import urllib3

    remaining = max(0.05, deadline - time.monotonic())
    timeout = urllib3.Timeout(connect=remaining, read=remaining)
    pool: Any
    if target.scheme == "https":
        ca_certs = ca_bundle
        if ca_certs is None:
            try:
                import certifi

                ca_certs = certifi.where()
            except ImportError:  # pragma: no cover - certifi comes with requests
                ca_certs = None
        pool = urllib3.HTTPSConnectionPool(
            address,
            target.port,
            timeout=timeout,
            retries=False,
            maxsize=1,
            cert_reqs="CERT_REQUIRED",
            ca_certs=ca_certs,
            server_hostname=target.host,
            assert_hostname=target.host,
        )
    else:
        pool = urllib3.HTTPConnectionPool(
            address, target.port, timeout=timeout, retries=False, maxsize=1
        )
    resp = pool.urlopen(
        "GET",
        target.target,
        headers={
            "Host": target.netloc,
            "User-Agent": "socialopt/0.1",
            "Accept-Encoding": "identity",
        },
        redirect=False,
        retries=False,
        preload_content=False,
        decode_content=False,
        assert_same_host=False,
    )
    return pool, resp


def fetch_url(
    url: str, limits: IntakeLimits | None = None, *, resolver: Resolver | None = None
) -> bytes:
    """Download an http(s) URL: every hop parsed strictly, its host resolved once (by
    `resolver`, default the system's) and vetted, and the connection made to that vetted
    address; the body streamed with a byte cap; one wall-clock deadline for everything."""
    import urllib3

    limits = limits or IntakeLimits()
    resolver = resolver or _system_resolver
    deadline = time.monotonic() + limits.url_timeout_s
    current = url
    for _ in range(_REDIRECTS + 1):
        target = _parse_url(current)
        addresses = _vetted_addresses(target, limits, resolver, deadline)
        pool = resp = None
        try:
            for i, address in enumerate(addresses):
                try:
                    pool, resp = _open_pinned(target, address, deadline, limits.ca_bundle)
                    break
                except urllib3.exceptions.NewConnectionError:
                    if i == len(addresses) - 1:
                        raise
            assert resp is not None
            if resp.status in (301, 302, 303, 307, 308) and resp.headers.get("location"):
                current = urljoin(current, resp.headers["location"])
                continue
            if resp.status != 200:
                log.info("fetch %s: HTTP %s", target.host, resp.status)
                raise IntakeError(
                    "The server did not send an image for that link.", code="URL_FETCH_FAILED"
                )
            declared = resp.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > limits.max_bytes:
                raise _too_large(limits)
            buf = bytearray()
            while True:
                if time.monotonic() > deadline:
                    raise _timed_out()
                chunk = resp.read1(_CHUNK)
                if not chunk:
                    break
                buf += chunk
                if len(buf) > limits.max_bytes:
                    raise _too_large(limits)
            if time.monotonic() > deadline:
                raise _timed_out()
            if not buf:
                raise IntakeError("The link returned an empty file.", code="EMPTY_FILE")
            return bytes(buf)
        except IntakeError:
            raise
        except urllib3.exceptions.NewConnectionError as exc:  # a TimeoutError subclass
            log.info("fetch %s failed: %r", target.host, exc)
            raise _unreachable() from None
        except (urllib3.exceptions.TimeoutError, TimeoutError):
            raise _timed_out() from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            log.info("fetch %s failed: %r", target.host, exc)
            raise _unreachable() from None
        finally:
            if resp is not None:
                resp.release_conn()
                resp.close()
            if pool is not None:
                pool.close()
    raise IntakeError("The link redirects too many times.", code="URL_FETCH_FAILED")


@dataclass(frozen=True)
class VettedUrl:
    """A URL that passed the guard, with the one address a client may connect to."""

    scheme: str
    host: str
    port: int
    netloc: str  # the Host header
    target: str  # path and query
    address: str  # the vetted IP


def vet_url(
    url: str, limits: IntakeLimits | None = None, *, resolver: Resolver | None = None
) -> VettedUrl:
    """The guard fetch_url applies to each hop, for callers that send rather than fetch
    (webhooks): strict parse, one resolution, every address vetted; IntakeError if refused."""
    limits = limits or IntakeLimits()
    deadline = time.monotonic() + limits.url_timeout_s
    target = _parse_url(url)
    addresses = _vetted_addresses(target, limits, resolver or _system_resolver, deadline)
    return VettedUrl(
        target.scheme, target.host, target.port, target.netloc, target.target, addresses[0]
    )


# --------------------------------------------------------------------------- decoding

# Bytes a pixel takes in Pillow's own storage, by mode (RGB is stored in 4 bytes).
_MODE_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16L": 2, "I;16B": 2, "I;16N": 2}
_HIGH_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I", "F"})
_ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "RGBa", "La"})
_STRIP_PIXELS = 2_000_000  # pixels converted at a time: a few MB of temporaries
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

_decode_slots = threading.BoundedSemaphore(2)


def set_decode_slots(n: int) -> None:
    """How many images may be decoded at once in this process (default 2)."""
    global _decode_slots
    _decode_slots = threading.BoundedSemaphore(max(1, int(n)))


@contextlib.contextmanager
def decode_slot() -> Iterator[None]:
    """Hold one of the process's decode slots (load_image takes one itself: do not nest)."""
    slots = _decode_slots
    with slots:
        yield


def frame_bytes(size: tuple[int, int], mode: str) -> int:
    """Bytes a decoded frame of `size` in `mode` takes in Pillow's storage."""
    return size[0] * size[1] * _MODE_BYTES.get(mode, 4)


@dataclass(frozen=True)
class ImageHeader:
    """What the header says, read without decoding a pixel (see probe_image)."""

    width: int  # displayed, after EXIF rotation
    height: int
    format: str
    mode: str
    decoded_bytes: int  # the full frame in Pillow's storage


def _orientation(img: Image.Image) -> int:
    """The EXIF orientation (1 = upright), read from the header only: a PNG's eXIf chunk after
    the pixel data is not looked for, since Pillow would decode the whole image to find it."""
    if img.format == "PNG" and "exif" not in img.info and not getattr(img, "_exif", None):
        return 1
    try:
        value = int(img.getexif().get(0x0112, 1))
    except Exception:  # noqa: BLE001 - a broken EXIF block means "upright"
        return 1
    return value if value in _TRANSPOSE else 1


def _oriented_size(img: Image.Image) -> tuple[int, int]:
    """Width/height after EXIF rotation, without decoding pixels."""
    w, h = img.size
    return (h, w) if _orientation(img) in (5, 6, 7, 8) else (w, h)


@contextlib.contextmanager
def _mapped_errors() -> Iterator[None]:
    """Every decoder failure becomes an IntakeError with its code."""
    try:
        with warnings.catch_warnings():
            # Our own max_pixels check runs before decoding; Pillow's warning (at its global
            # MAX_IMAGE_PIXELS) is not needed, its hard error is still caught.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            yield
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
    except MemoryError as exc:
        raise IntakeError(
            "The image is too large to open with the memory I have.", code="DECOMPRESSION_BOMB"
        ) from exc
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError) as exc:
        raise IntakeError(
            "The image file is damaged or incomplete and cannot be read.", code="CORRUPT_IMAGE"
        ) from exc


def _open_checked(data: bytes, limits: IntakeLimits) -> tuple[Image.Image, ImageHeader]:
    """Open (header only) and run every check that needs no pixel: size in bytes, format,
    pixel count, decoded bytes by mode, minimum side. Call inside _mapped_errors."""
    if not data:
        raise IntakeError("The file is empty.", code="EMPTY_FILE")
    if len(data) > limits.max_bytes:
        raise _too_large(limits)
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
    decoded = frame_bytes(img.size, img.mode)
    if decoded > limits.max_decoded_bytes:
        raise IntakeError(
            f"The image would take {_mb(decoded)} of memory once opened ({img.mode}, "
            f"{w0}x{h0}); the limit is {_mb(limits.max_decoded_bytes)}. "
            "Please send a smaller image.",
            code="DECOMPRESSION_BOMB",
        )
    width, height = _oriented_size(img)
    if min(width, height) < limits.min_side:
        raise IntakeError(
            f"The image is {width}x{height} pixels; each side must be at least "
            f"{limits.min_side} pixels.",
            code="IMAGE_TOO_SMALL",
        )
    return img, ImageHeader(width, height, fmt, img.mode, decoded)


def probe_image(data: bytes, limits: IntakeLimits | None = None) -> ImageHeader:
    """Size, format and mode from the header alone, with every check load_image makes before
    decoding (IntakeError with the same codes). Decodes no pixel: cheap for a first answer."""
    with _mapped_errors():
        img, header = _open_checked(data, limits or IntakeLimits())
        img.close()
    return header


def _reduce_factor(
    size: tuple[int, int], decoded: int, alpha: bool, transpose: bool, budget: int
) -> int:
    """The smallest N so that the decoded frame plus an RGB (+alpha) copy at 1/N, and a
    transposed copy of that, fit in `budget` bytes."""
    per_px = 4 + (1 if alpha else 0)
    n = 1
    while n < 64:
        out = -(-size[0] // n) * -(-size[1] // n) * per_px
        if decoded + out <= budget and (not transpose or 2 * out <= budget):
            return n
        n += 1
    return n


def _level_mapper(img: Image.Image, rows: int, warns: list[str]) -> Callable[[Any], Any]:
    """A function from a strip's array (16-bit, 32-bit or float) to uint8, scaled by the whole
    image's range, found strip by strip (never a float64 copy of the whole image)."""
    import numpy as np

    w, h = img.size
    lo, hi = np.inf, -np.inf
    for top in range(0, h, rows):
        arr = np.asarray(img.crop((0, top, w, min(h, top + rows))))
        if img.mode == "F":
            arr = arr[np.isfinite(arr)]
        if arr.size:
            lo, hi = min(lo, float(arr.min())), max(hi, float(arr.max()))
    if not np.isfinite(lo):
        lo = hi = 0.0
    if img.mode == "F":
        warns.append("Floating-point image scaled to 8 bits per channel.")
        span = (hi - lo) or 1.0

        def float_to_8(a: Any) -> Any:
            a = np.nan_to_num(a.astype(np.float32), nan=lo, posinf=hi, neginf=lo)
            return np.clip((a - lo) * (255.0 / span), 0, 255).astype(np.uint8)

        return float_to_8
    warns.append("16-bit image reduced to 8 bits per channel.")
    peak = 65535.0 if hi > 255 else 255.0

    def int_to_8(a: Any) -> Any:
        return np.clip(a.astype(np.float32) * (255.0 / peak) + 0.5, 0, 255).astype(np.uint8)

    return int_to_8


def _convert_strips(
    img: Image.Image, factor: int, has_alpha: bool, warns: list[str]
) -> tuple[Image.Image, Image.Image | None]:
    """RGB (alpha flattened on white) and the alpha channel of `img` at 1/factor size, made a
    strip at a time so no whole-image temporary is ever allocated besides the outputs."""
    w, h = img.size
    size = (-(-w // factor), -(-h // factor))
    rgb = Image.new("RGB", size)
    alpha = Image.new("L", size) if has_alpha else None
    rows = max(factor, (_STRIP_PIXELS // max(1, w)) // factor * factor)
    mapper = _level_mapper(img, rows, warns) if img.mode in _HIGH_MODES else None
    for top in range(0, h, rows):
        strip = img.crop((0, top, w, min(h, top + rows)))
        if mapper is not None:
            import numpy as np

            strip = Image.fromarray(mapper(np.asarray(strip)), "L")
        if has_alpha:
            rgba = strip.convert("RGBA")
            a = rgba.getchannel("A")
            part = Image.new("RGB", rgba.size, (255, 255, 255))
            part.paste(rgba, mask=a)
        else:
            part, a = strip.convert("RGB"), None
        if factor > 1:
            part = part.reduce(factor)
            a = a.reduce(factor) if a is not None else None
        rgb.paste(part, (0, top // factor))
        if alpha is not None and a is not None:
            alpha.paste(a, (0, top // factor))
    return rgb, alpha


def _to_rgb(
    img: Image.Image, orientation: int, limits: IntakeLimits, warns: list[str]
) -> tuple[Image.Image, Image.Image | None]:
    """An upright RGB image (alpha flattened on white) and the alpha channel, within
    `limits.work_bytes`: an RGB frame needing no rotation is used as decoded; anything else is
    converted in strips, at 1/N size when the full size would not fit. Closes `img` when it
    is not the result."""
    has_alpha = img.mode in _ALPHA_MODES or (img.mode == "P" and "transparency" in img.info)
    transpose = orientation in _TRANSPOSE
    decoded = frame_bytes(img.size, img.mode)
    if img.mode == "RGB" and not (transpose and 2 * decoded > limits.work_bytes):
        rgb, alpha = img, None
    else:
        mode = img.mode
        factor = _reduce_factor(img.size, decoded, has_alpha, transpose, limits.work_bytes)
        rgb, alpha = _convert_strips(img, factor, has_alpha, warns)
        img.close()  # the decoded frame goes before the transposed copy is made
        if factor > 1:
            warns.append(
                f"Very large {mode} image: processed at 1/{factor} size to stay within "
                "the memory limit."
            )
    if transpose:
        method = _TRANSPOSE[orientation]
        rgb = rgb.transpose(method)
        alpha = alpha.transpose(method) if alpha is not None else None
    return rgb, alpha


def _to_srgb(img: Image.Image, icc: bytes, warns: list[str]) -> None:
    """Convert an RGB image with an embedded non-sRGB profile (e.g. Display P3) to sRGB in
    place, which is what platforms assume; sRGB-tagged or unreadable profiles are left alone."""
    try:
        from PIL import ImageCms

        src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        desc = (ImageCms.getProfileDescription(src) or "").strip()
        if "srgb" in desc.lower().replace(" ", "") or src.profile.xcolor_space.strip() != "RGB":
            return
        ImageCms.profileToProfile(
            img, src, ImageCms.createProfile("sRGB"), outputMode="RGB", inPlace=True
        )
    except Exception:  # noqa: BLE001 - a broken profile must not refuse the photo
        return
    warns.append(f"Colours converted from the {desc or 'embedded'} profile to sRGB.")


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
    (format, pixel count, decoded bytes by mode, min side) run before any pixel is decoded;
    the decode holds one of the process's decode slots (decode_slot), and the frame plus its
    converted copy stay within `limits.work_bytes`. For large JPEGs a small preview and its
    faces are computed on another core during the decode and attached to the image for
    vision/analysis to reuse.
    """
    limits = limits or IntakeLimits()
    warns: list[str] = []
    with _mapped_errors():
        img, header = _open_checked(data, limits)
        width, height, fmt = header.width, header.height, header.format
        if getattr(img, "is_animated", False):
            img.seek(0)
            warns.append("Animated image: only the first frame is used.")
        orientation = _orientation(img)
        w0, h0 = img.size
        if draft_size and fmt in ("JPEG", "MPO"):
            # EXIF rotation may swap axes: ask for the request in stored orientation.
            dw, dh = draft_size
            if (width, height) != (w0, h0):
                dw, dh = dh, dw
            # Keep the decode at least as large as needed in both axes.
            need = max(dw / w0, dh / h0)
            req = (max(1, int(w0 * need + 0.999)), max(1, int(h0 * need + 0.999)))
            img.draft("RGB", req)
        icc = img.info.get("icc_profile")
        preview = _start_preview(data, img, (width, height))
        with decode_slot():
            img.load()
            rgb, alpha = _to_rgb(img, orientation, limits, warns)
        if rgb is not img:
            img.close()
        has_alpha = alpha is not None
        if icc and rgb.mode == "RGB":
            _to_srgb(rgb, icc, warns)
        if preview is not None:
            preview.finish(rgb)
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
