"""Issue 12 (#1, #2, #4): URL fetches that cannot be steered, and decodes within memory.

Every server here is a real HTTP server on a loopback address; nothing reaches the internet.
"""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from pipeline.errors import IntakeError
from pipeline.intake import (
    IntakeLimits,
    check_input,
    decode_slot,
    fetch_url,
    load_image,
    probe_image,
    set_decode_slots,
)
from tests.image_factories import encode, plain

ROOT = Path(__file__).resolve().parents[1]
PNG_BYTES = encode(plain((400, 300), (0, 0, 200)), "PNG")
TRAP_BYTES = encode(plain((400, 300), (200, 0, 0)), "PNG")
ALLOW = IntakeLimits(allow_private_urls=True, url_timeout_s=5)


class _Server:
    """A loopback HTTP server that records every request (path and Host header)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, body: bytes = PNG_BYTES) -> None:
        self.hits: list[tuple[str, str]] = []
        self.routes: dict[str, tuple[int, dict[str, str], bytes]] = {
            "/img.png": (200, {"Content-Type": "image/png"}, body)
        }
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                server.hits.append((self.path, self.headers.get("Host", "")))
                if self.path == "/drip":
                    self.send_response(200)
                    self.send_header("Content-Type", "image/png")
                    self.end_headers()
                    try:
                        for byte in PNG_BYTES:  # one byte every 0.2 s: no single read times out
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()
                            time.sleep(0.2)
                    except OSError:  # the client gave up, as it should
                        pass
                    return
                status, headers, payload = server.routes.get(self.path, (404, {}, b"missing"))
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base = f"http://{host}:{self.port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[_Server]:
    srv = _Server()
    yield srv
    srv.close()


def _code(exc: pytest.ExceptionInfo[IntakeError]) -> str:
    assert exc.value.message[0].isupper()
    return exc.value.code


# ------------------------------------------------------------------ #1 SSRF


def test_backslash_at_url_never_reaches_loopback(server: _Server) -> None:
    """urlsplit reads the host as 1.1.1.1 (public), an HTTP client as 127.0.0.1: refused."""
    url = f"http://127.0.0.1:{server.port}\\@1.1.1.1/img.png"
    with pytest.raises(IntakeError) as exc:
        fetch_url(url, IntakeLimits(url_timeout_s=5))
    assert _code(exc) == "URL_NOT_ALLOWED"
    assert server.hits == []
    with pytest.raises(IntakeError) as exc:  # the same with private URLs allowed
        fetch_url(url, ALLOW)
    assert _code(exc) == "URL_NOT_ALLOWED"
    assert server.hits == []


def test_userinfo_and_encoded_hosts_are_refused(server: _Server) -> None:
    for url in (
        f"http://1.1.1.1@127.0.0.1:{server.port}/img.png",
        f"http://user:pw@127.0.0.1:{server.port}/img.png",
        f"http://127.0.0.1%2f:{server.port}/img.png",
        f"http://127.0.0.1:{server.port}/img .png",
    ):
        with pytest.raises(IntakeError) as exc:
            fetch_url(url, ALLOW)
        assert _code(exc) == "URL_NOT_ALLOWED", url
    assert server.hits == []


def test_redirect_to_link_local_is_refused_at_the_hop(server: _Server) -> None:
    """Metadata addresses are refused on every hop, even with private URLs allowed."""
    server.routes["/meta"] = (302, {"Location": "http://169.254.169.254/latest/meta-data"}, b"")
    server.routes["/meta6"] = (302, {"Location": "http://[fe80::1]/x"}, b"")
    server.routes["/mapped"] = (302, {"Location": "http://[::ffff:169.254.169.254]/x"}, b"")
    server.routes["/slash"] = (
        302,
        {"Location": f"http://127.0.0.1:{server.port}\\@1.1.1.1/img.png"},
        b"",
    )
    for path in ("/meta", "/meta6", "/mapped", "/slash"):
        with pytest.raises(IntakeError) as exc:
            fetch_url(f"{server.base}{path}", ALLOW)
        assert _code(exc) == "URL_NOT_ALLOWED", path
    assert [p for p, _ in server.hits] == ["/meta", "/meta6", "/mapped", "/slash"]
    # A redirect to an allowed place is still followed.
    server.routes["/ok"] = (302, {"Location": "/img.png"}, b"")
    assert fetch_url(f"{server.base}/ok", ALLOW) == PNG_BYTES


def test_dns_rebinding_connects_to_the_vetted_address() -> None:
    """The name is resolved once; the connection goes to that address with the URL's Host,
    even though a second lookup would now answer with another address."""
    good = _Server("127.0.0.1")
    trap = _Server("127.0.0.2", good.port, body=TRAP_BYTES)
    calls: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        calls.append(host)
        return ["127.0.0.1"] if len(calls) == 1 else ["127.0.0.2"]

    try:
        url = f"http://images.rebind.test:{good.port}/img.png"
        assert fetch_url(url, ALLOW, resolver=resolver) == PNG_BYTES
        assert calls == ["images.rebind.test"]
        assert good.hits == [("/img.png", f"images.rebind.test:{good.port}")]
        assert trap.hits == []
    finally:
        good.close()
        trap.close()


def test_resolved_private_or_mixed_answers_are_refused(server: _Server) -> None:
    for answer in (["127.0.0.1"], ["8.8.8.8", "10.0.0.7"], ["169.254.169.254"], ["::1"]):
        with pytest.raises(IntakeError) as exc:
            fetch_url(
                f"http://name.test:{server.port}/img.png",
                IntakeLimits(url_timeout_s=5),
                resolver=lambda host, port, a=answer: list(a),
            )
        assert _code(exc) == "URL_NOT_ALLOWED", answer
    assert server.hits == []


def test_errors_do_not_echo_the_remote_status(server: _Server) -> None:
    server.routes["/teapot"] = (418, {}, b"short and stout")
    with pytest.raises(IntakeError) as exc:
        fetch_url(f"{server.base}/teapot", ALLOW)
    assert _code(exc) == "URL_FETCH_FAILED"
    assert "418" not in exc.value.message and "stout" not in exc.value.message


def test_bad_port_is_its_own_code() -> None:
    for url in ("http://example.com:99999/x.jpg", "http://example.com:abc/x.jpg"):
        with pytest.raises(IntakeError) as exc:
            check_input(url)
        assert _code(exc) == "INVALID_URL"


# ------------------------------------------------------------------ #4 one deadline


@pytest.mark.timeout(30)
def test_dripping_server_hits_one_wall_clock_deadline(server: _Server) -> None:
    """A byte every 0.2 s never trips a per-read timeout; the whole download still ends."""
    with pytest.raises(IntakeError) as exc:
        fetch_url(f"{server.base}/drip", IntakeLimits(allow_private_urls=True, url_timeout_s=1.5))
    assert _code(exc) == "URL_FETCH_FAILED"
    assert "too long" in exc.value.message


# ------------------------------------------------------------------ #2 memory

_BOUNDED_CHILD = """
import json, resource, sys
sys.path.insert(0, {root!r})
data = open({path!r}, 'rb').read()
from pipeline.intake import load_image
limit = {limit_mb} * 1024 * 1024
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
src = load_image(data)
hwm = [int(l.split()[1]) // 1024 for l in open('/proc/self/status') if l.startswith('VmHWM')][0]
print(json.dumps({{"size": src.image.size, "mode": src.image.mode, "hwm_mb": hwm,
                  "warnings": src.warnings, "pixel": src.image.getpixel((10, 10))}}))
"""

_MAKE = {
    "png16": "im = Image.linear_gradient('L').resize((W, H)).convert('I')"
    ".point(lambda v: v * 257).convert('I;16'); im.save(PATH, 'PNG', compress_level=9)",
    "float_tiff": "im = Image.linear_gradient('L').resize((W, H)).convert('F');"
    "im.paste(float('nan'), (0, 0, W, H // 10)); im.save(PATH, 'TIFF', "
    "compression='tiff_adobe_deflate')",
}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("kind", ["png16", "float_tiff"])
def test_high_bit_depth_decodes_under_a_memory_bound(kind: str, tmp_path: Path) -> None:
    """A 10000x9990 16-bit PNG (~200 KB) and a float TIFF decode under RLIMIT_AS 900 MB with
    a peak RSS under 700 MB (the first release needed 2.5 GB and 1.7-2 GB)."""
    path = tmp_path / f"{kind}.img"
    make = f"from PIL import Image\nW, H, PATH = 10000, 9990, {str(path)!r}\n" + _MAKE[kind]
    subprocess.run([sys.executable, "-c", make], check=True)
    assert path.stat().st_size < 2_000_000
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    code = _BOUNDED_CHILD.format(root=str(ROOT), path=str(path), limit_mb=900)
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )
    assert run.returncode == 0, run.stderr[-2000:]
    out = json.loads(run.stdout)
    assert out["hwm_mb"] < 700
    assert out["mode"] == "RGB"
    w, h = out["size"]
    assert w / h == pytest.approx(10000 / 9990, rel=0.01) and w >= 2500
    assert any("8 bits" in warning for warning in out["warnings"])
    assert out["pixel"][0] == out["pixel"][1] == out["pixel"][2]  # grey stays grey


def test_decoded_bytes_are_capped_by_mode() -> None:
    """The same pixel count passes as 8-bit grey and is refused as RGBA (4 bytes a pixel)."""
    limits = IntakeLimits(max_decoded_bytes=1_000_000)
    assert load_image(encode(plain((700, 700), (9, 9, 9)).convert("L"), "PNG"), limits)
    with pytest.raises(IntakeError) as exc:
        load_image(encode(Image.new("RGBA", (700, 700), (1, 2, 3, 255)), "PNG"), limits)
    assert _code(exc) == "DECOMPRESSION_BOMB"
    assert "MB" in exc.value.message or "bytes" in exc.value.message


def test_work_budget_reduces_instead_of_copying() -> None:
    """A 16-bit image whose full-size RGB copy would not fit the work budget comes out at an
    integer fraction of its size, with scale telling the pipeline so."""
    import numpy as np

    arr = np.tile(np.linspace(0, 65535, 1200, dtype=np.uint16), (900, 1))
    data = encode(Image.fromarray(arr), "PNG")
    full = load_image(data)
    assert full.image.size == (1200, 900) and full.scale == 1.0
    small = load_image(data, IntakeLimits(work_bytes=1200 * 900 * 2 + 600 * 450 * 4))
    assert small.image.size == (600, 450) and small.scale == 0.5
    assert small.info.width == 1200  # the original's size is still reported
    # Same levels either way: the strip conversion scales by the whole image's range.
    assert abs(full.image.getpixel((1199, 5))[0] - small.image.getpixel((599, 2))[0]) <= 2
    assert full.image.getpixel((0, 0))[0] == 0 and full.image.getpixel((1199, 0))[0] == 255


def test_float_nan_and_inf_become_levels_not_noise() -> None:
    import numpy as np

    arr = np.linspace(-1.0, 3.0, 500 * 400, dtype=np.float32).reshape(400, 500)
    arr[:50] = np.nan
    arr[60:70] = np.inf
    src = load_image(encode(Image.fromarray(arr, "F"), "TIFF"))
    px = np.asarray(src.image)[..., 0]
    assert px[:50].max() == 0  # NaN shows as the darkest level
    assert px[60:70].min() == 255  # +inf as the brightest
    assert px[-1, -1] == 255 and 0 < px[200, 250] < 255


def test_probe_reads_the_header_without_decoding() -> None:
    """probe_image answers for a file whose pixel data is cut off after 2 KB: nothing past
    the header was decoded. load_image refuses the same bytes."""
    import numpy as np

    rng = np.random.default_rng(1)
    noisy = Image.fromarray(rng.integers(0, 255, (900, 1200, 3), dtype=np.uint8))
    data = encode(noisy, "PNG")[:2048]
    head = probe_image(data)
    assert (head.width, head.height, head.format, head.mode) == (1200, 900, "PNG", "RGB")
    assert head.decoded_bytes == 1200 * 900 * 4
    with pytest.raises(IntakeError) as exc:
        load_image(data)
    assert _code(exc) == "CORRUPT_IMAGE"
    exif = Image.Exif()
    exif[0x0112] = 6
    jpeg = encode(plain((800, 400)), "JPEG", exif=exif.tobytes())
    head = probe_image(jpeg[:1024])
    assert (head.width, head.height) == (400, 800)  # displayed orientation
    with pytest.raises(IntakeError) as exc:  # the header checks are load_image's own
        probe_image(encode(plain((299, 800)), "PNG"))
    assert _code(exc) == "IMAGE_TOO_SMALL"


def test_decodes_wait_for_a_slot() -> None:
    data = encode(plain((600, 400)), "PNG")
    done = threading.Event()
    set_decode_slots(1)
    try:
        with decode_slot():
            worker = threading.Thread(target=lambda: (load_image(data), done.set()))
            worker.start()
            assert not done.wait(0.5)  # blocked while the only slot is held
        worker.join(10)
        assert done.is_set()
    finally:
        set_decode_slots(2)


# ------------------------------------------------------------------ #1 https, pinned


def _certificates(folder: Path, name: str) -> tuple[Path, Path, Path]:
    """A throwaway CA and a certificate for `name` signed by it (PEM files)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "socialopt test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    paths = folder / "ca.pem", folder / "cert.pem", folder / "key.pem"
    paths[0].write_bytes(ca.public_bytes(pem))
    paths[1].write_bytes(leaf.public_bytes(pem))
    paths[2].write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths


def test_https_connects_to_the_vetted_address_with_sni_and_checks_the_name(
    tmp_path: Path,
) -> None:
    """The TLS connection goes to the resolved IP, yet SNI, the Host header and the
    certificate check all use the link's own name; a name the certificate lacks fails."""
    import ssl

    ca, cert, key = _certificates(tmp_path, "images.example.test")
    srv = _Server()
    sni: list[str | None] = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.sni_callback = lambda sock, name, ctx: sni.append(name)
    srv.httpd.socket = context.wrap_socket(srv.httpd.socket, server_side=True)
    limits = IntakeLimits(allow_private_urls=True, url_timeout_s=5, ca_bundle=str(ca))
    try:
        url = f"https://images.example.test:{srv.port}/img.png"
        assert fetch_url(url, limits, resolver=lambda h, p: ["127.0.0.1"]) == PNG_BYTES
        assert sni == ["images.example.test"]
        assert srv.hits == [("/img.png", f"images.example.test:{srv.port}")]
        with pytest.raises(IntakeError) as exc:  # same address, a name the cert does not have
            fetch_url(
                f"https://other.example.test:{srv.port}/img.png",
                limits,
                resolver=lambda h, p: ["127.0.0.1"],
            )
        assert _code(exc) == "URL_FETCH_FAILED"
        assert len(srv.hits) == 1
    finally:
        srv.close()
