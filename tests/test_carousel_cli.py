"""`socialopt optimize` with several images or a folder: one carousel per platform."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from socialopt.cli import main

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = [ROOT / "samples" / n for n in ("coffee.jpg", "rocket.jpg", "astronaut.jpg")]


def _run(*args: str) -> int:
    return main(["--env-file", "", "optimize", *args])


def test_several_images_make_one_carousel_per_platform(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    code = _run(
        *map(str, SAMPLES), "--platforms", "instagram", "bluesky", "--output-dir", str(out)
    )
    assert code == 0, capsys.readouterr().err
    doc = json.loads((out / "results.json").read_text())
    assert doc["carousel"]["count"] == 3
    assert [p["name"] for p in doc["carousel"]["photos"]] == [p.name for p in SAMPLES]
    for key in ("instagram", "bluesky"):
        slides = doc["platforms"][key]["slides"]
        assert len(slides) == 3 and len({(s["width"], s["height"]) for s in slides}) == 1
        for s in slides:
            assert (out / s["file"]).is_file() and s["file"].startswith(f"{key}_{s['n']}_")
        assert (out / f"{key}_contact_sheet.jpg").is_file()
        assert (out / f"{key}_caption.txt").is_file()


def test_a_folder_is_its_images_in_name_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "set"
    folder.mkdir()
    for i, src in enumerate(SAMPLES[:2]):
        shutil.copy(src, folder / f"{2 - i}_{src.name}")
    (folder / "notes.txt").write_text("not an image")
    out = tmp_path / "out"
    assert _run(str(folder), "--platforms", "x", "--output-dir", str(out), "--json") == 0
    doc = json.loads(capsys.readouterr().out)
    names = [Path(p["name"]).name for p in doc["carousel"]["photos"]]
    assert names == ["1_rocket.jpg", "2_coffee.jpg"]
    assert sorted(p.name for p in out.glob("x_*_1200x675.jpg")) == [
        "x_1_1200x675.jpg",
        "x_2_1200x675.jpg",
    ]


def test_a_missing_image_in_the_set_is_one_coded_line_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    missing = tmp_path / "gone.jpg"
    assert _run(str(SAMPLES[0]), str(missing), "--platforms", "x", "--output-dir", str(out)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].endswith("(FILE_NOT_FOUND)") and "gone.jpg" in err[0]
    assert not list(out.glob("*.jpg"))
