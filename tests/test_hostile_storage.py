"""Issue 12 (#5, #14): a full disk becomes a coded failure the database can still record,
partial outputs are removed, and saved accounts are bounded."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from PIL import Image

from pipeline.errors import OutputError
from pipeline.job import run_job
from pipeline.models import JobOptions
from pipeline.outputs import check_free_space, inside, write_outputs
from socialopt.wiring import offline_services
from storage.errors import AccountLimitReached, InvalidNiche
from storage.repository import MAX_NICHE_CHARS, MAX_SAVED_ACCOUNTS, Repository

ROOT = Path(__file__).resolve().parents[1]


def _jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (900, 700), (40, 120, 200)).save(buf, "JPEG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def result():  # one real offline job, reused
    return run_job(_jpeg(), JobOptions(platforms=("x", "instagram")), offline_services())


# ------------------------------------------------------------------ #5 outputs


def test_write_failure_is_disk_full_and_leaves_no_partial_files(result, tmp_path: Path) -> None:
    """results.json is written last; its temporary file is /dev/full (a real ENOSPC), so every
    image, the preview and the caption files were already written and must be removed."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.json.tmp").symlink_to("/dev/full")
    with pytest.raises(OutputError) as exc:
        write_outputs(result, out)
    assert exc.value.code == "DISK_FULL"
    assert "full" in exc.value.message
    assert sorted(p.name for p in out.iterdir()) == []
    # The same folder works once there is room again.
    files = write_outputs(result, out)
    assert files.results_json.is_file() and len(files.images) == 2


def test_other_write_failures_are_coded_too(result, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    os.mkfifo(out / "preview.jpg.tmp.blocker")  # unrelated file stays
    (out / "preview.jpg.tmp").mkdir()  # writing the preview fails with EISDIR
    with pytest.raises(OutputError) as exc:
        write_outputs(result, out)
    assert exc.value.code == "OUTPUT_FAILED"
    assert sorted(p.name for p in out.iterdir()) == ["preview.jpg.tmp", "preview.jpg.tmp.blocker"]


def test_free_space_is_checked_before_a_job(tmp_path: Path) -> None:
    free = shutil.disk_usage(tmp_path).free
    check_free_space(tmp_path, need_bytes=1)
    with pytest.raises(OutputError) as exc:
        check_free_space(tmp_path / "not" / "yet", need_bytes=free + 2**40)
    assert exc.value.code == "DISK_FULL"


@pytest.mark.parametrize("name", ["../x.txt", "a/b.txt", "..", "", "x\\..\\y"])
def test_output_names_stay_inside_their_folder(name: str, tmp_path: Path) -> None:
    with pytest.raises(OutputError) as exc:
        inside(tmp_path, name)
    assert exc.value.code == "UNSAFE_PATH"
    (tmp_path / "link").symlink_to("/etc")
    with pytest.raises(OutputError):
        inside(tmp_path, "link")  # resolves outside
    assert inside(tmp_path, "x_caption.txt") == tmp_path / "x_caption.txt"


# ------------------------------------------------------------------ #5 storage


def _tmpfs_available() -> bool:
    if not shutil.which("unshare"):
        return False
    probe = subprocess.run(
        ["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


_FULL_DISK = textwrap.dedent(
    """
    import asyncio, os, sys
    sys.path.insert(0, {root!r})
    from pathlib import Path
    from storage.errors import DiskFull
    from storage.repository import Repository

    def fill(folder):
        fd = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT)
        try:
            while True:
                os.write(fd, b"\\0" * 4096)
        except OSError as exc:
            assert exc.errno == 28, exc
        finally:
            os.close(fd)

    async def main():
        folder = Path(sys.argv[1])
        repo = await Repository.open(folder / "db.sqlite3")
        for i in range(10):
            await repo.create_session(7, session_id=f"s{{i}}", options={{"pad": "x" * 4000}})
        await repo.mark_processing(7, "s0")
        fill(folder)
        try:
            await repo.complete_session(7, "s0", results={{"big": "y" * 4_000_000}},
                                        platform_rows=[], files=[])
            print("complete: stored")
        except DiskFull as exc:
            print("complete:", exc.code)
        await repo.fail_session(7, "s0", "DISK_FULL", "The disk is full.")
        record = await repo.get_session(7, "s0")
        print("session:", record.status, record.error_code)
        await repo.close()
        (folder / "filler").unlink()
        repo = await Repository.open(folder / "db.sqlite3")  # and the reserve is back
        print("reserve:", (folder / "db.sqlite3.reserve").is_file())
        print("after:", (await repo.get_session(7, "s0")).status, await repo.integrity_check())
        await repo.close()

    try:
        asyncio.run(main())
    except BaseException:
        import traceback
        traceback.print_exc()
        os._exit(1)  # do not wait for aiosqlite's thread
    """
)


@pytest.mark.skipif(not _tmpfs_available(), reason="cannot mount a private tmpfs")
def test_fail_session_still_writes_on_a_full_disk(tmp_path: Path) -> None:
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    script = tmp_path / "full.py"
    script.write_text(_FULL_DISK.format(root=str(ROOT)))
    run = subprocess.run(
        [
            "unshare",
            "-rm",
            "sh",
            "-c",
            f"mount -t tmpfs -o size=8m tmpfs {mnt} && {sys.executable} {script} {mnt}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    lines = run.stdout.strip().splitlines()
    assert lines == [
        "complete: DISK_FULL",
        "session: failed DISK_FULL",
        "reserve: True",
        "after: failed ok",
    ]


# ------------------------------------------------------------------ #14 saved accounts


async def test_niche_length_is_capped(tmp_path: Path) -> None:
    async with await Repository.open(tmp_path / "db.sqlite3") as repo:
        ok = await repo.add_account(1, "@brand", "  Street   Photography ")
        assert ok.niche == "street photography"
        with pytest.raises(InvalidNiche) as exc:
            await repo.add_account(1, "@other", "n" * (MAX_NICHE_CHARS + 1))
        assert exc.value.code == "NICHE_TOO_LONG"
        assert str(MAX_NICHE_CHARS) in exc.value.message
        assert [a.handle for a in await repo.list_accounts(1)] == ["@brand"]


async def test_accounts_per_user_are_capped(tmp_path: Path) -> None:
    async with await Repository.open(tmp_path / "db.sqlite3") as repo:
        for i in range(MAX_SAVED_ACCOUNTS):
            await repo.add_account(1, f"@acc{i}", "coffee")
        with pytest.raises(AccountLimitReached) as exc:
            await repo.add_account(1, "@one_too_many", "coffee")
        assert exc.value.code == "TOO_MANY_ACCOUNTS"
        assert "/profiles remove" in exc.value.message
        # Updating a saved one is still allowed, and another user has their own allowance.
        updated = await repo.add_account(1, "@ACC3", "tea")
        assert updated.niche == "tea"
        await repo.add_account(2, "@one_too_many", "coffee")
        assert len(await repo.list_accounts(1)) == MAX_SAVED_ACCOUNTS
        await repo.remove_account(1, "@acc0")
        await repo.add_account(1, "@one_too_many", "coffee")
