"""make_product_photos: one cutout, styles x platforms, logo, size caps, OpenAI edit + fallback."""

from __future__ import annotations

import base64
import io
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from pipeline.errors import OptionsError
from pipeline.models import PRODUCT_STYLES, LogoOptions
from pipeline.platforms import ImageSize
from pipeline.product.background import BackgroundRemover, Cutout
from pipeline.product.openai_edit import OpenAIImageEditor, edit_size
from pipeline.product.photos import decision_warning, make_product_photos, working_copy
from pipeline.product.styles import compose_style
from socialopt.settings import Secret, Settings
from socialopt.wiring import offline_services, openai_config
from tests.test_product_synth import busy_shot, cups_shot, product_shot

TARGETS = [("instagram", ImageSize("square", 360, 360)), ("x", ImageSize("landscape", 480, 270))]


class CountingRemover:
    """A real fallback remover that counts calls (the cutout must be made once)."""

    def __init__(self) -> None:
        self.inner = BackgroundRemover(Path("/nonexistent-models"))
        self.calls = 0
        self.sizes: list[tuple[int, int]] = []

    def cutout(self, img: Image.Image) -> Cutout:
        self.calls += 1
        self.sizes.append(img.size)
        return self.inner.cutout(img)


def decode(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    im.load()
    return im


def test_styles_by_platform_from_one_cutout() -> None:
    img, _ = product_shot()
    remover = CountingRemover()
    decision, photos = make_product_photos(
        img, None, ["floating", "macro"], TARGETS, "JPEG", remover
    )
    assert remover.calls == 1
    assert decision.is_product and decision.mask_method == "fallback:grabcut"
    assert [(p.style, p.platform) for p in photos] == [
        ("floating", "instagram"),
        ("floating", "x"),
        ("macro", "instagram"),
        ("macro", "x"),
    ]
    for p, (_, size) in zip(photos, TARGETS * 2, strict=True):
        im = decode(p.image.data)
        assert im.format == "JPEG" and im.size == (size.width, size.height)
        assert (p.image.width, p.image.height) == (size.width, size.height)
        assert p.method == "compositor" and p.image.size_name == size.name
    assert photos[0].filename == "product_floating_instagram_360x360.jpg"
    assert photos[3].filename == "product_macro_x_480x270.jpg"


def test_all_seven_when_none_named_and_png_output() -> None:
    img, _ = product_shot(w=400, h=320)
    _, photos = make_product_photos(img, None, [], TARGETS[:1], "png", CountingRemover())
    assert [p.style for p in photos] == list(PRODUCT_STYLES)
    assert all(decode(p.image.data).format == "PNG" for p in photos)


def test_big_photos_are_cut_out_at_a_working_size() -> None:
    img, _ = product_shot(w=2600, h=2000, texture=1.0)
    remover = CountingRemover()
    work = working_copy(img, TARGETS)
    assert max(work.size) == 720  # 1.5 x the largest target side
    _, photos = make_product_photos(img, None, ["solid_background"], TARGETS, "JPEG", remover)
    assert remover.sizes == [work.size]
    assert photos[0].image.crop_box[2] > 720  # crop box reported in original pixels


def test_logo_on_every_output() -> None:
    img, _ = product_shot(w=400, h=320)
    red = io.BytesIO()
    Image.new("RGBA", (30, 30), (255, 0, 0, 255)).save(red, "PNG")
    logo = LogoOptions(red.getvalue(), position="top-left", size_pct=10, margin_pct=2, opacity=1.0)
    _, photos = make_product_photos(
        img, None, ["solid_background", "dark_moody"], TARGETS, "PNG", CountingRemover(), logo=logo
    )
    for p in photos:
        arr = np.asarray(decode(p.image.data).convert("RGB"))
        m = round(p.image.width * 0.02)
        assert tuple(arr[m + 5, m + 5]) == (255, 0, 0)


def test_bad_inputs_fail_before_any_work() -> None:
    img, _ = product_shot(w=400, h=320)
    remover = CountingRemover()
    with pytest.raises(OptionsError) as err:
        make_product_photos(img, None, ["glitter"], TARGETS, "JPEG", remover)
    assert err.value.code == "UNKNOWN_STYLE"
    with pytest.raises(OptionsError) as err:
        make_product_photos(
            img, None, ["macro"], TARGETS, "JPEG", remover, logo=LogoOptions(b"nope")
        )
    assert err.value.code == "INVALID_LOGO"
    assert remover.calls == 0


def test_file_size_cap_is_honoured() -> None:
    img, _ = product_shot(w=400, h=320, texture=12.0)
    cap = 9_000
    _, photos = make_product_photos(
        img,
        None,
        ["flat_lay"],
        TARGETS[:1],
        "JPEG",
        CountingRemover(),
        max_file_bytes={"instagram": cap},
    )
    assert len(photos[0].image.data) <= cap


def test_not_a_product_gets_no_styles_but_a_reason_and_can_be_forced() -> None:
    img = cups_shot()  # many cups: several objects compete
    decision, photos = make_product_photos(img, None, [], TARGETS[:1], "JPEG", PermissiveRemover())
    assert photos == [] and decision.is_product is False
    assert decision.code == "NOT_A_PRODUCT" and "several objects compete" in decision.reason
    assert "NOT_A_PRODUCT" in decision_warning(decision)
    assert "try anyway" in decision_warning(decision)
    decision, photos = make_product_photos(
        img, None, [], TARGETS[:1], "JPEG", PermissiveRemover(), force=True
    )
    assert [p.style for p in photos] == list(PRODUCT_STYLES)
    assert decision.forced and decision.code == "NOT_A_PRODUCT"
    assert "made anyway" in decision_warning(decision)


def test_an_unreliable_fallback_mask_is_refused_with_its_code() -> None:
    img = busy_shot()
    decision, photos = make_product_photos(img, None, [], TARGETS[:1], "JPEG", CountingRemover())
    assert photos == [] and decision.code == "MASK_UNRELIABLE"
    assert "busy" in decision.reason and decision.mask_method == "fallback:grabcut"
    # try anyway: the whole frame is staged, never fragments
    decision, photos = make_product_photos(
        img, None, ["solid_background"], TARGETS[:1], "PNG", CountingRemover(), force=True
    )
    assert len(photos) == 1 and decision.forced
    out = np.asarray(decode(photos[0].image.data).convert("RGB"))
    assert photos[0].image.crop_box == (0, 0, img.width, img.height)
    assert out[out.shape[0] // 2, 5].min() > 245  # white padding around the whole photo


def test_a_png_with_transparency_is_its_own_mask() -> None:
    img, truth = product_shot(w=400, h=320)
    rgba = img.convert("RGBA")
    rgba.putalpha(Image.fromarray((truth * 255).astype(np.uint8)))
    remover = CountingRemover()
    decision, photos = make_product_photos(rgba, None, ["floating"], TARGETS[:1], "PNG", remover)
    assert remover.calls == 0 and decision.mask_method == "alpha" and decision.is_product
    assert len(photos) == 1
    # the same through the `alpha` argument (what intake keeps of a PNG)
    decision, _ = make_product_photos(
        img, None, ["floating"], TARGETS[:1], "PNG", remover, alpha=rgba.getchannel("A")
    )
    assert remover.calls == 0 and decision.mask_method == "alpha"
    # an alpha channel with no real transparency is ignored
    opaque = img.convert("RGBA")
    decision, _ = make_product_photos(opaque, None, ["floating"], TARGETS[:1], "PNG", remover)
    assert remover.calls == 1 and decision.mask_method == "fallback:grabcut"


def test_the_logo_stays_off_the_subject_in_every_style() -> None:
    img, _ = product_shot(w=640, h=520)
    buf = io.BytesIO()
    Image.new("RGBA", (80, 40), (0, 0, 255, 255)).save(buf, "PNG")
    logo = LogoOptions(buf.getvalue(), size_pct=20, opacity=1.0)
    remover = CountingRemover()
    cut = remover.inner.cutout(working_copy(img, TARGETS[:1]))
    _, photos = make_product_photos(img, None, [], TARGETS[:1], "PNG", remover, logo=logo)
    for p in photos:
        arr = np.asarray(decode(p.image.data).convert("RGB")).astype(int)
        blue = (arr[..., 2] > 200) & (arr[..., 0] < 40) & (arr[..., 1] < 40)
        ys, xs = np.nonzero(blue)
        assert len(ys) > 200, p.style
        near_corner = min(xs.min(), 360 - xs.max()) < 60 and min(ys.min(), 360 - ys.max()) < 60
        assert near_corner, p.style
        out, placement = compose_style(p.style, cut, img, TARGETS[0][1])
        if p.style == "macro":  # all subject: the least detailed corner (not the label)
            gray = np.asarray(out.convert("L")).astype(np.float32)
            edges = np.abs(np.diff(gray, axis=1))[:-1] + np.abs(np.diff(gray, axis=0))[:, :-1]
            h, w = ys.max() - ys.min() + 1, xs.max() - xs.min() + 1
            x0, y0 = xs.min(), ys.min()
            corners = [(x0, y0), (359 - w - x0 + 1, y0), (x0, 359 - h - y0 + 1)]
            corners.append((359 - w - x0 + 1, 359 - h - y0 + 1))
            busy = [edges[y : y + h, x : x + w].mean() for x, y in corners]
            assert edges[y0 : y0 + h, x0 : x0 + w].mean() <= min(busy) + 0.5
            continue
        under = np.asarray(placement.mask)[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
        assert under.max() < 128, p.style


class PermissiveRemover:
    """The real fallback, with its reliability check off (to reach the product detector)."""

    def __init__(self) -> None:
        self.inner = BackgroundRemover(Path("/nonexistent-models"))

    def cutout(self, img: Image.Image) -> Cutout:
        return self.inner.cutout(img, strict=False)


# ---------------------------------------------------------------- OpenAI images.edit


class FakeImagesAPI:
    """POST /v1/images/edits answering b64_json (or a status), counting calls."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.requests: list[dict[str, Any]] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                api.requests.append(
                    {"path": self.path, "body": body, "auth": self.headers.get("Authorization")}
                )
                if api.status != 200:
                    payload = {"error": {"message": "boom", "type": "server_error"}}
                else:
                    buf = io.BytesIO()
                    Image.new("RGB", (1024, 1024), (10, 200, 30)).save(buf, "PNG")
                    payload = {
                        "created": 0,
                        "data": [{"b64_json": base64.b64encode(buf.getvalue()).decode()}],
                    }
                data = json.dumps(payload).encode()
                self.send_response(api.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def images_api(request: pytest.FixtureRequest) -> Iterator[FakeImagesAPI]:
    api = FakeImagesAPI(getattr(request, "param", 200))
    yield api
    api.close()


def editor_for(api: FakeImagesAPI) -> OpenAIImageEditor:
    return OpenAIImageEditor(
        openai_config(
            Settings(
                openai_api_key=Secret("sk-test"),
                openai_base_url=api.base_url,
                ai_max_retries=0,
                ai_timeout_s=10,
            )
        )
    )


def test_openai_edit_one_call_per_style(images_api: FakeImagesAPI) -> None:
    img, _ = product_shot(w=400, h=320)
    _, photos = make_product_photos(
        img,
        None,
        ["floating", "product_art"],
        TARGETS,
        "JPEG",
        CountingRemover(),
        openai_editor=editor_for(images_api),
    )
    assert len(images_api.requests) == 2
    assert all(r["path"] == "/v1/images/edits" for r in images_api.requests)
    assert images_api.requests[0]["auth"] == "Bearer sk-test"
    bodies = sorted(r["body"] for r in images_api.requests)  # styles run in parallel
    assert sum(b"floats slightly above" in b for b in bodies) == 1
    assert sum(b"colour-blocked backdrop" in b for b in bodies) == 1
    assert all(b"gpt-image-1" in b and b'name="image"' in b for b in bodies)
    assert [p.method for p in photos] == ["openai"] * 4
    for p, (_, size) in zip(photos, TARGETS * 2, strict=True):
        im = decode(p.image.data).convert("RGB")
        assert im.size == (size.width, size.height)
        assert np.abs(np.asarray(im)[10, 10].astype(int) - (10, 200, 30)).max() < 8


@pytest.mark.parametrize("images_api", [500], indirect=True)
def test_openai_failure_falls_back_to_the_compositor(images_api: FakeImagesAPI) -> None:
    img, _ = product_shot(w=400, h=320)
    _, photos = make_product_photos(
        img,
        None,
        ["solid_background"],
        TARGETS,
        "JPEG",
        CountingRemover(),
        openai_editor=editor_for(images_api),
    )
    assert len(images_api.requests) == 1  # no retries with ai_max_retries=0
    assert [p.method for p in photos] == ["compositor"] * 2
    corner = np.asarray(decode(photos[0].image.data).convert("RGB"))[3, 3]
    assert corner.min() > 245  # the offline white background


def test_edit_size_follows_the_target_shape() -> None:
    assert edit_size(1080, 1350) == "1024x1536"
    assert edit_size(1200, 630) == "1536x1024"
    assert edit_size(1080, 1080) == "1024x1024"


# ---------------------------------------------------------------- through the job


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def _services():
    import dataclasses

    return dataclasses.replace(
        offline_services(), remover=BackgroundRemover(Path("/nonexistent-models"))
    )


def test_the_job_says_why_and_tries_anyway_when_asked() -> None:
    from pipeline import job
    from pipeline.models import JobOptions

    data = _png(cups_shot())
    opts = JobOptions(platforms=("x",), product_styles=("floating", "macro"))
    result = job.run_job(data, opts, _services())
    assert result.platforms["x"].product_photos == []
    assert result.product is not None and result.product.code in (
        "NOT_A_PRODUCT",
        "MASK_UNRELIABLE",
    )
    said = [w for w in result.warnings if w.startswith("No product photos")]
    assert said and result.product.code in said[0] and "--product-anyway" in said[0]
    forced = job.run_job(
        data,
        JobOptions(platforms=("x",), product_styles=("floating", "macro"), product_force=True),
        _services(),
    )
    assert [p.style for p in forced.platforms["x"].product_photos] == ["floating", "macro"]
    assert forced.product.forced and any("made anyway" in w for w in forced.warnings)


def test_the_job_uses_a_png_s_own_transparency() -> None:
    from pipeline import job
    from pipeline.models import JobOptions

    img, truth = product_shot(w=420, h=340)
    rgba = img.convert("RGBA")
    rgba.putalpha(Image.fromarray((truth * 255).astype(np.uint8)))
    opts = JobOptions(platforms=("x",), product_styles=("solid_background",))
    result = job.run_job(_png(rgba), opts, _services())
    assert result.product.mask_method == "alpha" and result.product.is_product
    assert len(result.platforms["x"].product_photos) == 1


@pytest.mark.parametrize("anyway", [False, True])
def test_cli_product_anyway(anyway: bool, tmp_path: Path, monkeypatch) -> None:
    from socialopt.cli import main

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    photo = tmp_path / "cups.png"
    photo.write_bytes(_png(cups_shot()))
    out = tmp_path / "out"
    argv = ["optimize", str(photo), "--platforms", "x", "--output-dir", str(out)]
    argv += ["--product-photography", "floating"] + (["--product-anyway"] if anyway else [])
    assert main(argv) == 0
    made = sorted(p.name for p in out.glob("product_floating_x_*"))
    assert len(made) == (1 if anyway else 0)
    doc = json.loads((out / "results.json").read_text())
    assert doc["product"]["code"] in ("NOT_A_PRODUCT", "MASK_UNRELIABLE")
    assert doc["product"]["forced"] is anyway
