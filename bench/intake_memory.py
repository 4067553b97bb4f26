"""Benchmark: peak RSS of the intake on the largest inputs it accepts (100 MP by default).

Run: `.venv/bin/python bench/intake_memory.py [--side 10000x9990] [--keep DIR]`.
Each input is made once (in its own process), then decoded by `load_image` in a fresh process
per case, and `probe_image` (the header-only size check) in another; peak RSS is that
process's VmHWM, which includes the interpreter, Pillow and numpy (the import baseline is
measured too). Writes bench/results/intake_memory.json. Target: under 700 MB for every input
the intake accepts.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RSS_TARGET_MB = 700

# name -> (description, code run in a child to write the file at PATH with size W x H)
CASES: dict[str, tuple[str, str]] = {
    "png16_grey": (
        "16-bit grey PNG (a gradient; the issue's 219 KB file)",
        "im = Image.linear_gradient('L').resize((W, H)).convert('I').point(lambda v: v * 257)"
        ".convert('I;16'); im.save(PATH, 'PNG', compress_level=9)",
    ),
    "tiff_float_nan": (
        "32-bit float TIFF, deflate, a band of NaN",
        "im = Image.linear_gradient('L').resize((W, H)).convert('F');"
        "im.paste(float('nan'), (0, 0, W, H // 10)); im.save(PATH, 'TIFF', "
        "compression='tiff_adobe_deflate')",
    ),
    "png_rgba": (
        "RGBA PNG with transparency",
        "im = Image.new('RGBA', (W, H), (200, 40, 40, 0)); im.paste((20, 90, 200, 255), "
        "(W // 4, H // 4, 3 * W // 4, 3 * H // 4)); im.save(PATH, 'PNG', compress_level=1)",
    ),
    "png_rgb": (
        "RGB PNG (decoded frame used as is)",
        "im = Image.linear_gradient('L').resize((W, H)).convert('RGB');"
        "im.save(PATH, 'PNG', compress_level=1)",
    ),
    "jpeg_rotated": (
        "RGB JPEG with EXIF orientation 6 (rotated copy needed)",
        "im = Image.linear_gradient('L').resize((W, H)).convert('RGB'); ex = Image.Exif();"
        "ex[0x0112] = 6; im.save(PATH, 'JPEG', quality=80, exif=ex.tobytes())",
    ),
    "jpeg_cmyk": (
        "CMYK JPEG",
        "im = Image.new('CMYK', (W, H), (0, 200, 200, 0)); im.save(PATH, 'JPEG', quality=80)",
    ),
    "png_palette_alpha": (
        "palette PNG with a transparent colour",
        "im = Image.new('P', (W, H), 1); im.putpalette([255, 255, 255, 200, 0, 0] * 128);"
        "im.save(PATH, 'PNG', transparency=0, compress_level=1)",
    ),
}

_MEASURE = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
from pipeline.intake import load_image, probe_image

def hwm():
    for line in open('/proc/self/status'):
        if line.startswith('VmHWM'):
            return int(line.split()[1]) / 1024
base = hwm()
data = open({path!r}, 'rb').read()
t0 = time.perf_counter()
if {probe!r}:
    h = probe_image(data)
    out = dict(size=[h.width, h.height], mode=h.mode)
else:
    src = load_image(data)
    out = dict(size=list(src.image.size), scale=round(src.scale, 3), warnings=src.warnings)
out.update(seconds=round(time.perf_counter() - t0, 2), baseline_mb=round(base),
           peak_mb=round(hwm()), file_kb=round(len(data) / 1024))
print(json.dumps(out))
"""


def make(case: str, path: Path, w: int, h: int) -> None:
    code = f"from PIL import Image\nW, H, PATH = {w}, {h}, {str(path)!r}\n" + CASES[case][1]
    subprocess.run([sys.executable, "-c", code], check=True)


def measure(path: Path, probe: bool = False) -> dict:
    code = _MEASURE.format(root=str(ROOT), path=str(path), probe=probe)
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )
    if run.returncode != 0:
        return {"error": run.stderr.strip().splitlines()[-1] if run.stderr else "failed"}
    return json.loads(run.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", default="10000x9990", help="W x H of every input")
    parser.add_argument("--keep", type=Path, default=None, help="keep the inputs in this folder")
    parser.add_argument("--cases", nargs="*", default=list(CASES))
    args = parser.parse_args()
    w, h = (int(v) for v in args.side.lower().split("x"))
    folder = args.keep or Path(tempfile.mkdtemp(prefix="intake_mem_"))
    folder.mkdir(parents=True, exist_ok=True)
    rows = {}
    print(f"{'input':<20}{'file':>10}{'decoded to':>14}{'peak RSS':>10}{'probe':>8}{'time':>7}")
    for case in args.cases:
        ext = "tif" if "tiff" in case else "png" if "png" in case else "jpg"
        path = folder / f"{case}_{w}x{h}.{ext}"
        if not path.exists():
            make(case, path, w, h)
        full, probe = measure(path), measure(path, probe=True)
        rows[case] = {"what": CASES[case][0], "load_image": full, "probe_image": probe}
        if "error" in full:
            print(f"{case:<20} refused/failed: {full['error']}")
            continue
        size = "x".join(map(str, full["size"]))
        print(
            f"{case:<20}{full['file_kb']:>8} KB{size:>14}{full['peak_mb']:>7} MB"
            f"{probe.get('peak_mb', '?'):>5} MB{full['seconds']:>6.1f}s"
        )
    worst = max((r["load_image"].get("peak_mb", 0) for r in rows.values()), default=0)
    print(
        f"worst peak RSS {worst} MB (target < {RSS_TARGET_MB} MB); baseline (imports) "
        f"{next(iter(rows.values()))['load_image'].get('baseline_mb')} MB"
    )
    out = ROOT / "bench" / "results" / "intake_memory.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "side": [w, h],
                "machine": platform.platform(),
                "target_mb": RSS_TARGET_MB,
                "worst_peak_mb": worst,
                "cases": rows,
            },
            indent=2,
        )
    )
    if args.keep is None:
        for p in folder.iterdir():
            p.unlink()
        folder.rmdir()


if __name__ == "__main__":
    main()
