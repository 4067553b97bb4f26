"""Intake: formats, modes, EXIF, limits, every error code, and URL fetching."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import numpy as np
import pytest
from PIL import Image

from pipeline.errors import IntakeError
from pipeline.intake import (
    IntakeLimits,
    decode_size_for,
    fetch_url,
    load_image,
    read_input,
)
from socialopt.settings import Settings
from socialopt.wiring import intake_limits
from tests.image_factories import disc_image, encode, plain


def _code(exc: pytest.ExceptionInfo[IntakeError]) -> str:
    assert exc.value.message and exc.value.message[0].isupper()
    return exc.value.code


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "BMP", "TIFF", "WEBP"])
def test_accepted_formats(fmt: str) -> None:
    src = load_image(encode(plain((640, 480), (10, 200, 30)), fmt), name=f"x.{fmt}")
    assert src.image.mode == "RGB"
    assert (src.info.width, src.info.height) == (640, 480)
    assert src.info.format == fmt
    assert src.info.name == f"x.{fmt}"
    assert len(src.info.sha256) == 64


def test_gif_is_refused_with_invalid_format() -> None:
    with pytest.raises(IntakeError) as exc:
        load_image(encode(plain((400, 400)), "GIF"))
    assert _code(exc) == "INVALID_IMAGE_FORMAT"


def test_non_image_refused() -> None:
    with pytest.raises(IntakeError) as exc:
        load_image(b"%PDF-1.4 definitely not an image" * 20)
    assert _code(exc) == "INVALID_IMAGE_FORMAT"


def test_empty_refused() -> None:
    with pytest.raises(IntakeError) as exc:
        load_image(b"")
    assert _code(exc) == "EMPTY_FILE"


def test_truncated_jpeg_refused() -> None:
    img, _ = disc_image((800, 600))
    data = encode(img, "JPEG", quality=90)
    with pytest.raises(IntakeError) as exc:
        load_image(data[: len(data) // 2])
    assert _code(exc) == "CORRUPT_IMAGE"


def test_too_small_refused() -> None:
    with pytest.raises(IntakeError) as exc:
        load_image(encode(plain((299, 800)), "PNG"))
    assert _code(exc) == "IMAGE_TOO_SMALL"
    assert "299x800" in exc.value.message


def test_too_large_bytes_refused() -> None:
    data = encode(plain((400, 400)), "PNG")
    with pytest.raises(IntakeError) as exc:
        load_image(data, IntakeLimits(max_bytes=len(data) - 1))
    assert _code(exc) == "IMAGE_TOO_LARGE"


def test_decompression_bomb_checked_before_decoding() -> None:
    # A tiny PNG that claims 20000x20000 pixels: refused by the header check.
    data = encode(Image.new("1", (20000, 20000)), "PNG")
    assert len(data) < 200_000
    with pytest.raises(IntakeError) as exc:
        load_image(data)
    assert _code(exc) == "DECOMPRESSION_BOMB"
    # Even with our limit raised, Pillow's own DecompressionBombError is caught and mapped.
    with pytest.raises(IntakeError) as exc:
        load_image(data, IntakeLimits(max_pixels=10**10))
    assert _code(exc) == "DECOMPRESSION_BOMB"
    with pytest.raises(IntakeError) as exc:
        load_image(encode(plain((1000, 1000)), "PNG"), IntakeLimits(max_pixels=999_999))
    assert _code(exc) == "DECOMPRESSION_BOMB"


def test_exif_orientation_applied() -> None:
    img, _ = disc_image((800, 400), cx=0.2)  # disc on the left, stored landscape
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW to display
    src = load_image(encode(img, "JPEG", exif=exif.tobytes()))
    assert (src.info.width, src.info.height) == (400, 800)
    assert src.image.size == (400, 800)
    # After a 90-degree clockwise rotation the left disc is at the top.
    arr = np.asarray(src.image).astype(int)
    red = (arr[..., 0] > 150) & (arr[..., 1] < 100)
    ys = np.nonzero(red)[0]
    assert ys.mean() < 400


def test_cmyk_palette_16bit_alpha_animated() -> None:
    cmyk = load_image(encode(plain((400, 400), (0, 255, 255, 0), "CMYK"), "JPEG"))
    r, g, b = cmyk.image.getpixel((200, 200))
    assert r > 200 and g < 60 and b < 60  # CMYK (0,100%,100%,0) is red

    pal = plain((400, 400), (20, 40, 220)).quantize(8)
    src = load_image(encode(pal, "PNG"))
    assert src.image.mode == "RGB" and src.image.getpixel((5, 5))[2] > 180

    arr16 = np.full((400, 400), 65535 // 2, dtype=np.uint16)
    src = load_image(encode(Image.fromarray(arr16), "PNG"))
    assert src.image.mode == "RGB"
    assert 120 <= src.image.getpixel((10, 10))[0] <= 135
    assert any("16-bit" in w for w in src.warnings)

    rgba = Image.new("RGBA", (400, 400), (255, 0, 0, 0))
    rgba.paste((0, 0, 255, 255), (100, 100, 300, 300))
    src = load_image(encode(rgba, "PNG"))
    assert src.has_alpha
    assert src.image.getpixel((10, 10)) == (255, 255, 255)  # transparent -> white
    assert src.image.getpixel((200, 200)) == (0, 0, 255)

    la = Image.new("LA", (400, 400), (0, 0))
    assert load_image(encode(la, "PNG")).has_alpha

    frames = [plain((400, 400), c) for c in ((250, 0, 0), (0, 250, 0))]
    buf = encode(frames[0], "WEBP", save_all=True, append_images=frames[1:], lossless=True)
    src = load_image(buf)
    assert src.image.getpixel((5, 5))[0] > 200
    assert any("first frame" in w for w in src.warnings)


def test_jpeg_draft_keeps_enough_pixels() -> None:
    img, _ = disc_image((4000, 3000))
    data = encode(img, "JPEG", quality=85)
    src = load_image(data, draft_size=(900, 600))
    assert (src.info.width, src.info.height) == (4000, 3000)
    assert src.image.width >= 900 and src.image.height >= 600
    assert src.image.width < 4000  # actually reduced
    assert src.scale == pytest.approx(src.image.width / 4000)
    # Cover semantics over every target: the crop for each target keeps full resolution.
    src = load_image(data, draft_size=decode_size_for([(1080, 1920), (1200, 675)]))
    assert src.image.height >= 1920 or src.image.size == (4000, 3000)


def test_limits_from_settings() -> None:
    s = Settings(max_upload_mb=3, min_image_side=100, max_image_pixels=10, allow_private_urls=True)
    lim = intake_limits(s)
    assert lim.max_bytes == 3 * 1024 * 1024
    assert (lim.min_side, lim.max_pixels, lim.allow_private_urls) == (100, 10, True)


def test_read_input_local(tmp_path) -> None:
    p = tmp_path / "a.png"
    p.write_bytes(encode(plain((400, 400)), "PNG"))
    data, name = read_input(str(p))
    assert name == "a.png" and data[:4] == b"\x89PNG"
    with pytest.raises(IntakeError) as exc:
        read_input(str(tmp_path / "missing.jpg"))
    assert _code(exc) == "FILE_NOT_FOUND"
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(IntakeError) as exc:
        read_input(str(tmp_path / "empty.jpg"))
    assert _code(exc) == "EMPTY_FILE"
    with pytest.raises(IntakeError) as exc:
        read_input(str(p), IntakeLimits(max_bytes=10))
    assert _code(exc) == "IMAGE_TOO_LARGE"


# ------------------------------------------------------------------ URL fetching

PNG_BYTES = encode(plain((400, 300), (0, 0, 200)), "PNG")


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        if self.path == "/img.png":
            body = PNG_BYTES
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif self.path == "/big":  # no Content-Length: the cap must apply while streaming
            self.send_response(200)
            self.end_headers()
            try:
                for _ in range(64):
                    self.wfile.write(b"\0" * 16384)
            except OSError:  # the client hung up at its cap, as it should
                pass
        elif self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/img.png")
            self.end_headers()
        else:
            self.send_response(404)
            self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


ALLOW = IntakeLimits(allow_private_urls=True, url_timeout_s=5)


def test_url_fetch_ok(server: str) -> None:
    data, name = read_input(f"{server}/img.png", ALLOW)
    assert data == PNG_BYTES and name.endswith("/img.png")
    assert fetch_url(f"{server}/redirect", ALLOW) == PNG_BYTES
    assert load_image(data).info.width == 400


def test_url_private_refused_by_default(server: str) -> None:
    with pytest.raises(IntakeError) as exc:
        read_input(f"{server}/img.png", IntakeLimits(allow_private_urls=False))
    assert _code(exc) == "URL_NOT_ALLOWED"
    with pytest.raises(IntakeError) as exc:
        fetch_url("http://169.254.169.254/latest/meta-data", IntakeLimits())
    assert _code(exc) == "URL_NOT_ALLOWED"


def test_url_scheme_refused() -> None:
    for url in ("ftp://127.0.0.1/x.png", "file:///etc/passwd"):
        with pytest.raises(IntakeError) as exc:
            read_input(url, ALLOW)
        assert _code(exc) == "URL_NOT_ALLOWED"


def test_url_size_cap_while_streaming(server: str) -> None:
    lim = IntakeLimits(allow_private_urls=True, max_bytes=100_000, url_timeout_s=5)
    with pytest.raises(IntakeError) as exc:
        fetch_url(f"{server}/big", lim)
    assert _code(exc) == "IMAGE_TOO_LARGE"


def test_url_errors(server: str) -> None:
    with pytest.raises(IntakeError) as exc:
        fetch_url(f"{server}/missing", ALLOW)
    assert _code(exc) == "URL_FETCH_FAILED"
    with pytest.raises(IntakeError) as exc:  # nothing listens on port 9 of loopback
        fetch_url("http://127.0.0.1:9/x.png", ALLOW)
    assert _code(exc) == "URL_FETCH_FAILED"


def test_large_jpeg_preview_faces_match_full_search() -> None:
    """Intake finds faces on a small draft while decoding; they match a search on the image."""
    from pipeline import vision
    from tests.image_factories import astronaut

    canvas = Image.new("RGB", (2400, 1800), (90, 110, 130))
    canvas.paste(astronaut().resize((900, 900)), (1400, 300))
    exif = Image.Exif()
    exif[0x0112] = 8  # displayed rotated 90 degrees counter-clockwise
    stored = canvas.transpose(Image.Transpose.ROTATE_270)  # what a camera would store
    src = load_image(encode(stored, "JPEG", quality=90, exif=exif.tobytes()))
    assert src.image.size == (2400, 1800)
    cached = src.image.__dict__.get("_socialopt_faces")
    assert cached is not None, "preview faces were not attached"
    fresh = vision.detect_faces(src.image.copy())
    assert len(cached[2]) == len(fresh) == 1
    (x, y, w, h), (fx, fy, fw, fh) = cached[2][0], fresh[0]
    assert (
        abs((x + w / 2) - (fx + fw / 2)) < 0.1 * fw and abs((y + h / 2) - (fy + fh / 2)) < 0.1 * fh
    )
    assert 1400 < x + w / 2 < 2300 and 300 < y + h / 2 < 1200
    # With a draft-reduced decode the preview's faces are scaled to the decoded image.
    half = load_image(
        encode(stored, "JPEG", quality=90, exif=exif.tobytes()), draft_size=(1000, 700)
    )
    assert half.image.size == (1200, 900)
    (hx, hy, hw, hh) = vision.detect_faces(half.image)[0]
    assert abs((hx + hw / 2) * 2 - (x + w / 2)) < 0.1 * w


def test_embedded_rgb_profile_is_converted_to_srgb() -> None:
    from PIL import ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    plain_src = load_image(encode(plain((400, 300), (200, 120, 40)), "PNG", icc_profile=icc))
    assert not any("sRGB" in w for w in plain_src.warnings)  # already sRGB: untouched
    # The same primaries under another name take the conversion path (an identity here).
    renamed = icc.replace("sRGB built-in".encode("utf-16-be"), "Wide RGB test".encode("utf-16-be"))
    src = load_image(encode(plain((400, 300), (200, 120, 40)), "PNG", icc_profile=renamed))
    assert any("Wide RGB test" in w and "sRGB" in w for w in src.warnings)
    r, g, b = src.image.getpixel((10, 10))
    assert abs(r - 200) <= 2 and abs(g - 120) <= 2 and abs(b - 40) <= 2


def test_heic_input_is_accepted() -> None:
    import io

    import pillow_heif
    from PIL import Image

    pillow_heif.register_heif_opener()
    buf = io.BytesIO()
    Image.new("RGB", (640, 480), (10, 200, 30)).save(buf, "HEIF", quality=80)
    src = load_image(buf.getvalue())
    assert (src.info.width, src.info.height) == (640, 480)
    assert src.info.format == "HEIF"
    r, g, b = src.image.getpixel((320, 240))
    assert g > 150 and r < 60 and b < 80
