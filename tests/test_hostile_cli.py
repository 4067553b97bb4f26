"""Issue 12 (#5, #11, #12, #13, #15) at the command line: every bad input is one coded line
with exit 2, found before any work; crafted results files cannot write outside their folder;
library chatter stays off stderr; settings errors never echo a value."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from socialopt.cli import main

ROOT = Path(__file__).resolve().parents[1]
PHOTO = ROOT / "samples" / "coffee.jpg"


def _one_coded_line(capsys: pytest.CaptureFixture[str], code: str) -> str:
    """stderr is exactly one `error: ... (CODE)` line: no progress line, so no work ran."""
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("error: ") and err[0].endswith(f"({code})"), err
    return err[0]


def _optimize(*args: str) -> int:
    return main(["--env-file", "", "optimize", *args, "--platforms", "x"])


# ------------------------------------------------------------------ #12 exit codes


def test_directory_as_image(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _optimize(str(tmp_path), "--output-dir", str(tmp_path / "o")) == 2
    line = _one_coded_line(capsys, "NOT_A_FILE")
    assert "folder" in line


@contextlib.contextmanager
def _as_nobody() -> Iterator[None]:
    """Run as an unprivileged user (root reads every file whatever its mode)."""
    if os.geteuid() != 0:
        yield
        return
    os.setegid(65534)
    os.seteuid(65534)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)


def test_unreadable_file(capsys: pytest.CaptureFixture[str]) -> None:
    folder = Path(tempfile.mkdtemp(prefix="socialopt-unreadable-"))
    try:
        folder.chmod(0o777)
        photo = folder / "locked.jpg"
        shutil.copy(PHOTO, photo)
        photo.chmod(0o000)
        with _as_nobody():
            code = _optimize(str(photo), "--output-dir", str(folder / "out"))
        assert code == 2
        _one_coded_line(capsys, "FILE_UNREADABLE")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_unusable_output_dir_is_found_before_the_job(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    for target in (a_file, a_file / "sub"):
        assert _optimize(str(PHOTO), "--output-dir", str(target)) == 2
        _one_coded_line(capsys, "OUTPUT_DIR_UNUSABLE")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt"]


@pytest.mark.parametrize("url", ["http://example.com:99999/a.jpg", "https://example.com:x/a.jpg"])
def test_url_with_a_bad_port(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert _optimize(url) == 2
    _one_coded_line(capsys, "INVALID_URL")


def test_300_character_time_zone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    zone = "Europe/" + "A" * 293
    assert _optimize(str(PHOTO), "--timezone", zone, "--output-dir", str(tmp_path / "o")) == 2
    line = _one_coded_line(capsys, "UNKNOWN_TIMEZONE")
    assert len(line) < 400  # the zone is cut short, not echoed whole
    assert not (tmp_path / "o" / "results.json").exists()


# ------------------------------------------------------------------ #5 full disk


def _tmpfs_available() -> bool:
    if not shutil.which("unshare"):
        return False
    probe = subprocess.run(
        ["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


needs_tmpfs = pytest.mark.skipif(not _tmpfs_available(), reason="cannot mount a private tmpfs")


@needs_tmpfs
def test_full_disk_output_dir_is_refused_before_work(tmp_path: Path) -> None:
    """A 1 MB tmpfs as --output-dir: DISK_FULL with exit 2, before the job runs."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    script = (
        f"mount -t tmpfs -o size=1m tmpfs {mnt} && "
        f"{sys.executable} -m socialopt --env-file '' optimize {PHOTO} --platforms x "
        f"--output-dir {mnt}/out; echo rc=$?; ls -A {mnt}/out"
    )
    run = subprocess.run(
        ["unshare", "-rm", "sh", "-c", script],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert "rc=2" in run.stdout, (run.stdout, run.stderr)
    err = run.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].endswith("(DISK_FULL)"), err
    assert run.stdout.strip().endswith("rc=2")  # the folder is empty: no partial file


# ------------------------------------------------------------------ #11 crafted results.json


def _results(platforms: dict) -> dict:
    return {"session_id": "s", "platforms": platforms}


@pytest.mark.parametrize(
    "key",
    ["../../escaped", "x/../../../escaped", "/tmp/escaped", "instagram\\..\\x", "", "myspace"],
)
def test_compile_refuses_unknown_platform_names(
    key: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "session"
    folder.mkdir()
    entry = {"status": "completed", "caption": "hi", "hashtag_list": []}
    (folder / "results.json").write_text(json.dumps(_results({"x": entry, key: entry})))
    before = set(tmp_path.rglob("*"))
    assert main(["--env-file", "", "compile", str(folder)]) == 2
    _one_coded_line(capsys, "RESULTS_INVALID")
    assert set(tmp_path.rglob("*")) == before  # nothing written, not even x's file
    assert not Path("/tmp/escaped_caption.txt").exists()


@pytest.mark.parametrize(
    "entry",
    ["a string", {"posting_times": "not a list"}, {"posting_times": [1, 2]}, {"image": 5}],
)
def test_compile_refuses_entries_of_the_wrong_shape(
    entry: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if isinstance(entry, dict):
        entry = {"status": "completed", "caption": "hi", "processed_image": "x.jpg", **entry}
    (tmp_path / "results.json").write_text(json.dumps(_results({"x": entry})))
    assert main(["--env-file", "", "compile", str(tmp_path)]) == 2
    _one_coded_line(capsys, "RESULTS_INVALID")


def test_compile_output_dir_that_is_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "results.json").write_text(json.dumps(_results({"x": {"caption": "hi"}})))
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    assert main(["--env-file", "", "compile", str(tmp_path), "--output-dir", str(blocker)]) == 2
    _one_coded_line(capsys, "OUTPUT_DIR_UNUSABLE")


# ------------------------------------------------------------------ #13 one line on stderr


def _run_cli(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """The real process (C libraries write to fd 2 itself). Recognition is off (an empty
    MODELS_DIR): it is not what these tests are about, and its documented one-line notice is
    dropped from stderr here."""
    models = tmp_path / "no-models"
    models.mkdir(exist_ok=True)
    run = subprocess.run(
        [sys.executable, "-m", "socialopt", "--env-file", "", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "MODELS_DIR": str(models), **env},
        timeout=120,
        check=False,
    )
    kept = [line for line in run.stderr.splitlines() if "Subject recognition is off" not in line]
    run.stderr = "\n".join(kept)
    return run


def _broken_deflate_tiff(path: Path) -> None:
    rng = np.random.default_rng(3)
    img = Image.fromarray(rng.integers(0, 255, (400, 600, 3), dtype=np.uint8))
    img.save(path, "TIFF", compression="tiff_adobe_deflate")
    data = bytearray(path.read_bytes())
    data[400:460] = b"\0" * 60  # inside the first strip's deflate stream
    path.write_bytes(bytes(data))


def test_broken_deflate_is_one_line_and_v_shows_the_rest(tmp_path: Path) -> None:
    bad = tmp_path / "broken.tif"
    _broken_deflate_tiff(bad)
    args = ["optimize", str(bad), "--platforms", "x", "--json", "--output-dir", str(tmp_path)]
    run = _run_cli(args, tmp_path)
    assert run.returncode == 2, run.stderr
    assert run.stderr.strip().splitlines() == [
        "error: The image file is damaged or incomplete and cannot be read. (CORRUPT_IMAGE)"
    ]
    verbose = _run_cli(["-v", *args], tmp_path)
    assert "ZIPDecode" in verbose.stderr  # libtiff's own words, shown only with -v
    assert verbose.stderr.strip().splitlines()[-1].endswith("(CORRUPT_IMAGE)")


def test_nan_tiff_and_corrupt_exif_print_no_library_warnings(tmp_path: Path) -> None:
    arr = np.linspace(0, 1, 600 * 400, dtype=np.float32).reshape(400, 600)
    arr[:100] = np.nan
    nan_tiff = tmp_path / "nan.tif"
    Image.fromarray(arr, "F").save(nan_tiff)
    bad_exif = tmp_path / "exif.jpg"
    # An IFD that claims an entry whose value runs past the end of the block.
    exif = b"Exif\0\0MM\0*\0\0\0\x08\0\x05\x01\x12\0\x03\0\0\0\x01\0\x06\0\0\xff\xff\xff\xff"
    Image.new("RGB", (600, 400), (9, 99, 199)).save(bad_exif, "JPEG", exif=exif)
    for photo in (nan_tiff, bad_exif):
        out = tmp_path / f"out-{photo.stem}"
        run = _run_cli(
            ["optimize", str(photo), "--platforms", "x", "--json", "--output-dir", str(out)],
            tmp_path,
        )
        assert run.returncode == 0, run.stderr
        assert run.stderr.strip() == "", run.stderr
        verbose = _run_cli(
            ["-v", "optimize", str(photo), "--platforms", "x", "--json", "--output-dir", str(out)],
            tmp_path,
        )
        if photo is bad_exif:
            assert "Corrupt EXIF" in verbose.stderr


# ------------------------------------------------------------------ #15 settings and logging


@pytest.mark.parametrize("name", ["MAX_WORKERS", "URL_TIMEOUT_S", "ALLOW_PRIVATE_URLS"])
def test_a_secret_in_a_numeric_setting_is_never_echoed(
    name: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = "sk-proj-DoNotPrintMe1234567890"
    monkeypatch.setenv(name, secret)
    assert main(["--env-file", "", "doctor"]) == 2
    line = _one_coded_line(capsys, "INVALID_SETTING")
    assert name in line and "donotprint" not in line.lower()


def test_hashtag_limits_error_does_not_echo_the_value(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HASHTAG_LIMITS", "x=sk-DoNotPrintMe")
    assert main(["--env-file", "", "doctor"]) == 2
    assert "donotprint" not in _one_coded_line(capsys, "INVALID_SETTING").lower()


def test_bot_logs_at_log_level_with_timestamps(tmp_path: Path) -> None:
    """`socialopt bot` against a Bot API address where nothing listens: its start-up logs at
    LOG_LEVEL=DEBUG carry timestamps (the command line's own short WARNING format used to
    win), the token stays redacted, and the failure is still one coded line."""
    run = subprocess.run(
        [sys.executable, "-m", "socialopt", "--env-file", "", "bot"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={
            **os.environ,
            "LOG_LEVEL": "DEBUG",
            "TELEGRAM_BOT_TOKEN": "123:SecretHalfOfTheToken",
            "TELEGRAM_API_BASE_URL": "http://127.0.0.1:9/bot",
            "DATA_DIR": str(tmp_path),
        },
        timeout=60,
        check=False,
    )
    lines = run.stderr.strip().splitlines()
    stamped = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} DEBUG ")
    assert any(stamped.match(line) for line in lines), lines[:5]
    assert "SecretHalfOfTheToken" not in run.stderr
    assert lines[-1].startswith("error: ") and lines[-1].endswith("(TELEGRAM_UNREACHABLE)")
    quiet = subprocess.run(
        [sys.executable, "-m", "socialopt", "--env-file", "", "bot"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={
            **os.environ,
            "LOG_LEVEL": "ERROR",
            "TELEGRAM_BOT_TOKEN": "123:x",
            "TELEGRAM_API_BASE_URL": "http://127.0.0.1:9/bot",
            "DATA_DIR": str(tmp_path),
        },
        timeout=60,
        check=False,
    )
    assert [line for line in quiet.stderr.splitlines() if " DEBUG " in line] == []
