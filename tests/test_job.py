"""run_job: the whole offline pipeline as one pure function."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from pipeline import job
from pipeline.errors import IntakeError, OptionsError
from pipeline.models import JobOptions, ProgressEvent
from pipeline.outputs import make_zip, write_outputs
from pipeline.platforms import PLATFORM_KEYS, PLATFORMS
from socialopt.wiring import offline_services

ROOT = Path(__file__).resolve().parents[1]
SERVICES = offline_services()


def _jpeg(width: int, height: int) -> bytes:
    img = Image.new("RGB", (width, height), (235, 232, 225))
    draw = ImageDraw.Draw(img)
    r = height // 6
    cx, cy = int(width * 0.82), height // 2
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(200, 30, 30))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def test_every_platform_gets_its_exact_size_and_content() -> None:
    events: list[ProgressEvent] = []
    result = job.run_job(
        (ROOT / "samples" / "astronaut.jpg").read_bytes(),
        JobOptions(platforms=("all",), description="portrait of an astronaut"),
        SERVICES,
        progress=events.append,
    )
    assert tuple(result.platforms) == PLATFORM_KEYS
    sizes = {k: (r.image.width, r.image.height) for k, r in result.platforms.items()}
    assert sizes["instagram"] == (1080, 1080)  # a square photo gets Instagram's square
    assert sizes["tiktok"] == (1080, 1920)
    for res in result.platforms.values():
        assert res.status == "completed"
        with Image.open(io.BytesIO(res.image.data)) as im:
            assert im.size == (res.image.width, res.image.height)
        assert res.content is not None and res.content.caption
        # times where a dated study exists (Threads, Bluesky, Mastodon have none: left empty)
        assert bool(res.posting_times) == bool(PLATFORMS[res.platform].posting_windows)
    assert result.analysis.faces == 1
    assert events[-1].stage == "done" and events[-1].done == events[-1].total
    assert {e.platform for e in events if e.stage == "render"} == set(result.platforms)
    assert result.contact_sheet[:2] == b"\xff\xd8"


def test_large_jpeg_is_decoded_reduced_but_reports_original_size() -> None:
    data = _jpeg(4032, 3024)
    result = job.run_job(data, JobOptions(platforms=("x", "instagram")), SERVICES)
    assert (result.source.width, result.source.height) == (4032, 3024)
    x = result.platforms["x"]
    assert (x.image.width, x.image.height) == (1200, 675)
    # The red disc spans x = 2802..3810 of 4032. A centre square crop (504..3528) would cut
    # it; the smart square crop (in original pixels) keeps all of it.
    square = result.platforms["instagram"].image
    left, top, right, bottom = square.crop_box
    assert right - left == bottom - top == 3024
    assert left <= 2802 and right >= 3810


def test_one_failing_platform_keeps_the_others(monkeypatch: pytest.MonkeyPatch) -> None:
    real = job.render_platform

    def flaky(source, spec, *args, **kwargs):  # noqa: ANN001, ANN202 - fault injection
        if spec.key == "linkedin":
            raise MemoryError("simulated")
        return real(source, spec, *args, **kwargs)

    monkeypatch.setattr(job, "render_platform", flaky)
    result = job.run_job(_jpeg(900, 900), JobOptions(platforms=("linkedin", "x")), SERVICES)
    assert result.platforms["linkedin"].status == "failed"
    assert result.platforms["linkedin"].error["code"] == "PROCESSING_FAILED"
    assert result.platforms["x"].status == "completed"
    assert result.successful == ["x"]


@pytest.mark.parametrize(
    ("options", "code"),
    [
        (JobOptions(platforms=()), "NO_PLATFORMS"),
        (JobOptions(platforms=("orkut",)), "UNKNOWN_PLATFORM"),
        (JobOptions(platforms=("x",), output_format="GIF"), "UNKNOWN_FORMAT"),
        (JobOptions(platforms=("x",), language="tlh"), "UNKNOWN_LANGUAGE"),
        (JobOptions(platforms=("x",), timezone="Nowhere/City"), "UNKNOWN_TIMEZONE"),
        (JobOptions(platforms=("x",), product_styles=("neon",)), "UNKNOWN_STYLE"),
    ],
)
def test_invalid_options_have_specific_codes(options: JobOptions, code: str) -> None:
    with pytest.raises(OptionsError) as info:
        job.run_job(_jpeg(600, 600), options, SERVICES)
    assert info.value.code == code


def test_bad_bytes_raise_intake_error() -> None:
    with pytest.raises(IntakeError) as info:
        job.run_job(b"GIF89a not really", JobOptions(platforms=("x",)), SERVICES)
    assert info.value.code in {"CORRUPT_IMAGE", "INVALID_IMAGE_FORMAT"}


def test_same_input_same_text() -> None:
    data = _jpeg(800, 600)
    opts = JobOptions(platforms=("instagram", "x"), description="red ball on the table")
    a, b = job.run_job(data, opts, SERVICES), job.run_job(data, opts, SERVICES)
    for key in ("instagram", "x"):
        assert a.platforms[key].content.caption == b.platforms[key].content.caption
        assert a.platforms[key].content.hashtags == b.platforms[key].content.hashtags


def test_outputs_and_zip(tmp_path: Path) -> None:
    result = job.run_job(_jpeg(800, 800), JobOptions(platforms=("pinterest", "x")), SERVICES)
    files = write_outputs(result, tmp_path)
    archive = make_zip(tmp_path)
    import zipfile

    with zipfile.ZipFile(archive) as zf:
        names = set(zf.namelist())
    assert {
        "results.json",
        "preview.jpg",
        "pinterest_caption.txt",
        "x_caption.txt",
        files.images["pinterest"].name,
        files.images["x"].name,
    } <= names


def test_small_photos_warn_about_enlargement() -> None:
    small = job.run_job(_jpeg(600, 400), JobOptions(platforms=("tiktok", "x")), SERVICES)
    assert any("enlarged" in w and "TikTok" in w for w in small.warnings)
    big = job.run_job(_jpeg(2400, 2400), JobOptions(platforms=("tiktok", "x")), SERVICES)
    assert not any("enlarged" in w for w in big.warnings)
