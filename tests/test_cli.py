"""The command line end to end, on a real photo shipped in the repo."""

from __future__ import annotations

import functools
import http.server
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from PIL import Image

from pipeline.platforms import PLATFORMS
from socialopt.cli import main

ROOT = Path(__file__).resolve().parents[1]
PHOTO = ROOT / "samples" / "coffee.jpg"
EXPECTED_SIZES = {
    "instagram": (1080, 566),  # 600x400 (1.5) is closest to Instagram's 1.91:1
    "facebook": (1200, 630),
    "linkedin": (1200, 627),
    "pinterest": (1000, 1500),
    "x": (1200, 675),
    "tiktok": (1080, 1920),
    "threads": (1440, 754),  # 1.5 is closest to 1.91:1 at Threads' widest 1440 px
    "bluesky": (2000, 1125),  # closest to 16:9 at a 2000 px long side
    "mastodon": (1920, 1080),
}


@pytest.fixture(scope="module")
def run_all(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, Path]:
    out = tmp_path_factory.mktemp("cli") / "out"
    code = main(
        [
            "--env-file",
            "",
            "optimize",
            str(PHOTO),
            "--platforms",
            "all",
            "--description",
            "Morning latte art in my favourite cafe",
            "--output-dir",
            str(out),
            "--timezone",
            "Europe/Berlin",
        ]
    )
    return code, out


def test_optimize_writes_every_output(run_all: tuple[int, Path]) -> None:
    code, out = run_all
    assert code == 0
    for platform, (w, h) in EXPECTED_SIZES.items():
        path = out / f"{platform}_{w}x{h}.jpg"
        assert path.is_file(), path
        with Image.open(path) as im:
            assert im.size == (w, h)
            assert im.format == "JPEG"
        assert path.stat().st_size <= PLATFORMS[platform].max_file_bytes
        assert (out / f"{platform}_caption.txt").is_file()
    with Image.open(out / "preview.jpg") as sheet:
        assert sheet.width > sheet.height  # the crops side by side


def test_results_json_has_the_seed_shape(run_all: tuple[int, Path]) -> None:
    _, out = run_all
    doc = json.loads((out / "results.json").read_text())
    for key in (
        "session_id",
        "user_uuid",
        "timestamp",
        "source_image",
        "platforms",
        "optimization_metadata",
    ):
        assert key in doc
    meta = doc["optimization_metadata"]
    every = len(PLATFORMS)
    assert meta["total_platforms"] == every and meta["successful_platforms"] == every
    for platform, data in doc["platforms"].items():
        for key in (
            "status",
            "processed_image",
            "niches",
            "hashtags",
            "profile_results",
            "processing_time",
            "product_photography_used",
            "caption",
            "alt_text",
            "posting_times",
            "provider",
        ):
            assert key in data, (platform, key)
        assert data["status"] == "completed"
        # the seed's shapes: hashtags as one "#a #b" string, usernames under profile_results
        assert isinstance(data["hashtags"], str)
        assert data["hashtags"].split() == data["hashtag_list"]
        assert all(t.startswith("#") for t in data["hashtag_list"])
        assert len(data["hashtag_list"]) <= PLATFORMS[platform].hashtag_max
        profiles = data["profile_results"]
        assert set(profiles) == {"extracted_usernames", "total_usernames"}
        assert profiles["total_usernames"] == len(profiles["extracted_usernames"])
        assert isinstance(data["accounts"], list)
        assert len(data["caption"]) <= PLATFORMS[platform].caption_limit
        assert data["provider"] == "offline"
        assert all(t["timezone"] == "Europe/Berlin" for t in data["posting_times"])
        # at least two caption versions, the used one first by default
        assert len(data["variants"]) >= 2 and data["variant"] == 0
        assert data["variants"][0]["caption"] == data["caption"]
    assert len(doc["platforms"]["instagram"]["hashtag_list"]) <= 5
    assert "coffee" in doc["platforms"]["instagram"]["niches"]


def test_x_hashtags_appear_once(run_all: tuple[int, Path]) -> None:
    _, out = run_all
    doc = json.loads((out / "results.json").read_text())
    x = doc["platforms"]["x"]
    assert x["hashtag_list"], "the demo photo gets hashtags on X"
    assert x["ready_to_post"].endswith(x["hashtags"])
    assert x["first_comment"] == ""
    text = (out / "x_caption.txt").read_text()
    for tag in x["hashtag_list"]:
        assert text.count(tag) == 1, tag
    insta = doc["platforms"]["instagram"]
    assert insta["first_comment"] == insta["hashtags"]
    assert insta["hashtag_list"][0] not in insta["ready_to_post"]


def test_caption_file_layout(run_all: tuple[int, Path]) -> None:
    _, out = run_all
    text = (out / "x_caption.txt").read_text()
    for heading in (
        "READY TO POST CONTENT",
        "FIRST COMMENT",
        "POSTING INFO",
        "BEST POSTING TIMES",
        "SUGGESTED ACCOUNTS TO TAG",
    ):
        assert heading in text
    assert "Caption length:" in text and "/ 280 characters" in text


def test_variant_picks_another_caption_version(tmp_path: Path) -> None:
    out = tmp_path / "v1"
    code = main(
        ["--env-file", "", "optimize", str(PHOTO), "--platforms", "instagram", "linkedin",
         "--description", "Latte art in a small cafe", "--variant", "1",
         "--output-dir", str(out)]
    )  # fmt: skip
    assert code == 0
    doc = json.loads((out / "results.json").read_text())
    for data in doc["platforms"].values():
        assert data["variant"] == 1
        assert data["caption"] == data["variants"][1]["caption"]
        assert data["variants"][0]["caption"] != data["variants"][1]["caption"]


def test_unknown_variant_is_a_coded_error(tmp_path: Path, capsys) -> None:
    code = main(["--env-file", "", "optimize", str(PHOTO), "--variant", "7",
                 "--output-dir", str(tmp_path / "o")])  # fmt: skip
    assert code == 2
    assert "(UNKNOWN_VARIANT)" in capsys.readouterr().err


def test_compile_reads_an_older_results_file(tmp_path: Path) -> None:
    """Files written before hashtags became a string and profile_results an object."""
    old = {
        "platforms": {
            "instagram": {
                "status": "completed",
                "caption": "Morning latte",
                "ready_to_post": "Morning latte",
                "hashtags": ["#Coffee", "#LatteArt"],
                "profile_results": [{"handle": "@cafe", "source": "saved", "niche": "coffee"}],
                "posting_times": [],
            }
        }
    }
    (tmp_path / "results.json").write_text(json.dumps(old))
    assert main(["--env-file", "", "compile", str(tmp_path)]) == 0
    text = (tmp_path / "instagram_caption.txt").read_text()
    assert "#Coffee #LatteArt" in text and "@cafe" in text
    assert "Hashtags: 2 / 5" in text


def test_compile_rebuilds_caption_files(run_all: tuple[int, Path], tmp_path: Path) -> None:
    _, out = run_all
    originals = {p.name: p.read_text() for p in out.glob("*_caption.txt")}
    assert len(originals) == len(PLATFORMS)
    assert (
        main(
            ["--env-file", "", "compile", str(out / "results.json"), "--output-dir", str(tmp_path)]
        )
        == 0
    )
    rebuilt = {p.name: p.read_text() for p in tmp_path.glob("*_caption.txt")}
    assert rebuilt == originals


def test_compile_rejects_a_non_results_file(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "results.json"
    bad.write_text("{not json")
    assert main(["--env-file", "", "compile", str(bad)]) == 2
    assert "RESULTS_INVALID" in capsys.readouterr().err


def test_alias_json_and_format(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code = main(
        [
            "--env-file",
            "",
            "optimize",
            str(PHOTO),
            "--platforms",
            "twitter",
            "--output-format",
            "png",
            "--output-dir",
            str(tmp_path),
            "--json",
        ]
    )
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    assert list(doc["platforms"]) == ["x"]
    assert (tmp_path / "x_1200x675.png").is_file()


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["optimize", "no/such/file.jpg"], "FILE_NOT_FOUND"),
        (["optimize", str(PHOTO), "--platforms", "myspace"], "UNKNOWN_PLATFORM"),
        (["optimize", str(PHOTO), "--timezone", "Mars/Olympus"], "UNKNOWN_TIMEZONE"),
        (["optimize", str(PHOTO), "--language", "xx"], "UNKNOWN_LANGUAGE"),
        (["optimize", "ftp://example.com/a.jpg"], "URL_NOT_ALLOWED"),
    ],
)
def test_bad_input_is_one_line_with_a_code(
    args: list[str], code: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main(["--env-file", "", *args, "--output-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and code in err
    assert "\n" not in err and "Traceback" not in err


def test_not_an_image(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    fake = tmp_path / "notes.jpg"
    fake.write_text("this is not a photo")
    assert main(["--env-file", "", "optimize", str(fake), "--output-dir", str(tmp_path)]) == 2
    assert "INVALID_IMAGE_FORMAT" in capsys.readouterr().err


def test_url_input_from_a_local_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(PHOTO.parent))
    handler.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/{PHOTO.name}"
        monkeypatch.setenv("ALLOW_PRIVATE_URLS", "true")
        code = main(
            [
                "--env-file",
                "",
                "optimize",
                url,
                "--platforms",
                "pinterest",
                "--output-dir",
                str(tmp_path),
            ]
        )
    finally:
        server.shutdown()
    assert code == 0
    doc = json.loads((tmp_path / "results.json").read_text())
    assert doc["source_image"] == url


def test_db_records_runs_and_history_lists_them(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    db = tmp_path / "runs.sqlite3"
    assert (
        main(
            [
                "--env-file",
                "",
                "optimize",
                str(PHOTO),
                "--platforms",
                "x",
                "linkedin",
                "--output-dir",
                str(tmp_path / "o"),
                "--db",
                str(db),
                "--json",
            ]
        )
        == 0
    )
    session_id = json.loads(capsys.readouterr().out)["session_id"]
    assert main(["--env-file", "", "history", "--db", str(db)]) == 0
    listing = capsys.readouterr().out
    assert session_id in listing and "completed" in listing and "x,linkedin" in listing


def test_console_script_runs_as_a_process(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("socialopt")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run(
        [
            str(exe),
            "--env-file",
            "",
            "optimize",
            str(PHOTO),
            "--platforms",
            "instagram",
            "--output-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "instagram" in proc.stdout
    assert "[1/" in proc.stderr  # plain progress lines when not a terminal
    bad = subprocess.run(
        [str(exe), "optimize", str(tmp_path / "missing.png")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert bad.returncode == 2
    assert bad.stderr.strip().count("\n") == 0 and "FILE_NOT_FOUND" in bad.stderr
