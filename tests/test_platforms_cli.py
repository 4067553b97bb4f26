"""The command line with Threads, Bluesky and Mastodon and Instagram's 3:4 choice, end to end
on a portrait cut of a real photo."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from pipeline.captions import graphemes
from pipeline.platforms import PLATFORMS
from socialopt.cli import main

ROOT = Path(__file__).resolve().parents[1]
NEW_SIZES = {"threads": (1440, 1800), "bluesky": (1500, 2000), "mastodon": (1536, 1920)}


@pytest.fixture(scope="module")
def portrait(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 3:4 portrait cut of samples/dandelions.jpg (5312x2988)."""
    path = tmp_path_factory.mktemp("photo") / "dandelion_portrait.jpg"
    with Image.open(ROOT / "samples" / "dandelions.jpg") as im:
        left = 700
        im.crop((left, 0, left + 2241, 2988)).resize((1200, 1600)).save(path, quality=92)
    return path


def _run(photo: Path, out: Path, *extra: str) -> int:
    return main(
        [
            "--env-file",
            "",
            "optimize",
            str(photo),
            "--description",
            "Dandelion clocks glowing in the evening sun",
            "--output-dir",
            str(out),
            *extra,
        ]
    )


@pytest.fixture(scope="module")
def run_new(portrait: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cli_new") / "out"
    code = _run(
        portrait,
        out,
        "--platforms",
        "instagram",
        "threads",
        "bsky",
        "mastodon",
        "--instagram-portrait",
        "3:4",
        "--timezone",
        "Europe/Berlin",
    )
    assert code == 0
    return out


def test_files_have_exact_sizes_and_caps(run_new: Path) -> None:
    for key, (w, h) in {**NEW_SIZES, "instagram": (1080, 1440)}.items():
        path = run_new / f"{key}_{w}x{h}.jpg"
        assert path.is_file(), path
        with Image.open(path) as im:
            assert im.size == (w, h) and im.format == "JPEG"
        assert path.stat().st_size <= PLATFORMS[key].max_file_bytes
    with Image.open(run_new / "preview.jpg") as sheet:
        assert sheet.width > 1000


def test_results_json_adds_the_new_platforms_in_the_seed_shape(run_new: Path) -> None:
    doc = json.loads((run_new / "results.json").read_text())
    assert list(doc["platforms"]) == ["instagram", "threads", "bluesky", "mastodon"]
    assert doc["optimization_metadata"]["successful_platforms"] == 4
    for key in NEW_SIZES:
        data = doc["platforms"][key]
        assert data["status"] == "completed"
        assert (
            isinstance(data["hashtags"], str) and data["hashtags"].split() == data["hashtag_list"]
        )
        assert set(data["profile_results"]) == {"extracted_usernames", "total_usernames"}
        assert data["first_comment"] == ""  # tags are in the post on all three
        assert data["hashtags"] and data["ready_to_post"].endswith(data["hashtags"])
        # no dated study: no times, and the file says why
        assert data["posting_times"] == []
        assert "no dated study" in data["posting_times_note"].lower()
        assert 0 < len(data["alt_text"]) <= PLATFORMS[key].alt_text_limit
    assert len(doc["platforms"]["threads"]["hashtag_list"]) == 1
    assert graphemes(doc["platforms"]["bluesky"]["ready_to_post"]) <= 300
    assert doc["platforms"]["instagram"]["image"]["size_name"] == "portrait_3x4"
    assert doc["platforms"]["instagram"]["posting_times"]  # studies exist for Instagram
    assert doc["platforms"]["instagram"]["posting_times_note"] == ""


def test_caption_files_say_there_is_no_study(run_new: Path) -> None:
    for key in NEW_SIZES:
        text = (run_new / f"{key}_caption.txt").read_text()
        name = PLATFORMS[key].display_name
        assert text.startswith("=" * 60 + f"\n{name.upper()} - READY TO POST CONTENT")
        times = text.split("BEST POSTING TIMES", 1)[1]
        assert f"No dated study of the best posting times for {name}" in times
        assert "n/a" not in times
    assert "Caption length:" in (run_new / "bluesky_caption.txt").read_text()
    assert " / 300 graphemes" in (run_new / "bluesky_caption.txt").read_text()


def test_default_instagram_portrait_stays_four_five(portrait: Path, tmp_path: Path) -> None:
    assert _run(portrait, tmp_path, "--platforms", "instagram") == 0
    assert (tmp_path / "instagram_1080x1350.jpg").is_file()
    assert not list(tmp_path.glob("instagram_1080x1440.*"))


def test_an_unknown_ratio_is_refused(portrait: Path, tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exit_:
        _run(portrait, tmp_path, "--platforms", "instagram", "--instagram-portrait", "2:3")
    assert exit_.value.code == 2
