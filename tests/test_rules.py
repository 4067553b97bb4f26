"""One rule per setting: the same answer from the pipeline, storage and the CLI."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from pipeline import rules
from pipeline.errors import OptionsError
from pipeline.job import validate_options
from pipeline.models import JobOptions, LogoOptions
from pipeline.platforms import get_spec
from pipeline.posting import get_zone
from pipeline.product.logo import validate_logo
from pipeline.render import pick_format
from socialopt.cli import main
from storage.repository import Repository

ROOT = Path(__file__).resolve().parents[1]


def _logo_png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGBA", (40, 20), (200, 0, 0, 255)).save(buf, "PNG")
    return buf.getvalue()


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [("jpg", "JPEG"), ("JPG", "JPEG"), ("jpeg", "JPEG"), (" png ", "PNG"), ("WebP", "WEBP")],
)
def test_output_format_spellings(typed: str, canonical: str) -> None:
    assert rules.output_format(typed) == canonical
    options = validate_options(JobOptions(platforms=("x",), output_format=typed))
    assert options.output_format == canonical
    spec = get_spec("instagram")
    used, note = pick_format(spec, typed)
    assert (used, note is None) == (
        (canonical, True) if canonical in spec.formats else (spec.formats[0], False)
    )


@pytest.mark.parametrize("typed", ["gif", "", "JPEGG", "jp g"])
def test_unknown_output_format_is_refused(typed: str) -> None:
    with pytest.raises(OptionsError) as err:
        rules.output_format(typed)
    assert err.value.code == "UNKNOWN_FORMAT"


async def test_storage_and_pipeline_share_the_format_rule(tmp_path: Path) -> None:
    async with await Repository.open(tmp_path / "db.sqlite3") as repo:
        assert (await repo.update_user(1, output_format="jpg")).output_format == "JPEG"
        assert (await repo.update_user(1, output_format="webp")).output_format == "WEBP"
        with pytest.raises(OptionsError) as err:
            await repo.update_user(1, output_format="gif")
        assert err.value.code == "UNKNOWN_FORMAT"


@pytest.mark.parametrize("size", [0, 0.5, 50.5, 60, 100, float("nan"), "big"])
def test_logo_size_outside_the_one_range_is_refused(size: object) -> None:
    with pytest.raises(OptionsError) as err:
        rules.logo_size_pct(size)  # type: ignore[arg-type]
    assert err.value.code == "INVALID_LOGO"


async def test_the_logo_cap_is_the_same_for_the_pipeline_storage_and_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Half the width is allowed everywhere; a little more is refused everywhere."""
    cap, over = rules.LOGO_SIZE_MAX_PCT, rules.LOGO_SIZE_MAX_PCT + 10
    validate_logo(LogoOptions(_logo_png(), size_pct=cap))
    with pytest.raises(OptionsError) as err:
        validate_logo(LogoOptions(_logo_png(), size_pct=over))
    assert err.value.code == "INVALID_LOGO"

    async with await Repository.open(tmp_path / "db.sqlite3") as repo:
        assert (await repo.update_user(1, logo_size_pct=cap)).logo_size_pct == cap
        with pytest.raises(OptionsError) as err:
            await repo.update_user(1, logo_size_pct=over)
        assert err.value.code == "INVALID_LOGO"

    logo = tmp_path / "logo.png"
    logo.write_bytes(_logo_png())
    code = main(["--env-file", "", "optimize", str(ROOT / "samples" / "coffee.jpg"),
                 "--logo", str(logo), "--logo-size", str(over),
                 "--output-dir", str(tmp_path / "o")])  # fmt: skip
    assert code == 2
    assert "(INVALID_LOGO)" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("Europe/Berlin", "Europe/Berlin"),
        (" europe/berlin ", "Europe/Berlin"),
        ("America/New York", "America/New_York"),
        ("gmt", "UTC"),
        ("Z", "UTC"),
    ],
)
async def test_one_time_zone_rule_for_job_and_storage(
    typed: str, canonical: str, tmp_path: Path
) -> None:
    assert rules.timezone(typed) == canonical
    assert get_zone(typed).key == canonical
    async with await Repository.open(tmp_path / "db.sqlite3") as repo:
        assert (await repo.update_user(1, timezone=typed)).timezone == canonical


@pytest.mark.parametrize("typed", ["", "Mars/Olympus", "../etc/passwd", "Europe/" + "x" * 300])
def test_unknown_time_zone_is_refused(typed: str) -> None:
    with pytest.raises(OptionsError) as err:
        rules.timezone(typed)
    assert err.value.code == "UNKNOWN_TIMEZONE"
    assert len(err.value.message) < 250


async def test_one_language_rule_for_job_and_storage(tmp_path: Path) -> None:
    for typed in ("de", "DE", "de-DE", "de_AT"):
        assert rules.language(typed) == "de"
        assert validate_options(JobOptions(platforms=("x",), language=typed)).language == "de"
    async with await Repository.open(tmp_path / "db.sqlite3") as repo:
        assert (await repo.update_user(1, language="de-AT")).language == "de"
        with pytest.raises(OptionsError) as err:
            await repo.update_user(1, language="klingon")
        assert err.value.code == "UNKNOWN_LANGUAGE"
