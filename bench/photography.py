"""Benchmark: all 7 product styles for one platform from a 12 MP product photo, offline.

Run: `.venv/bin/python bench/photography.py [--platform instagram] [--runs 3]`.
Prints a table (per style, background removal, total) for rembg:u2netp (when the model and
rembg are there) and the weight-free fallback, each run in its own process so each path's
peak RSS is its own; writes bench/results/photography.json. Targets: all 7 styles for one
platform under 3 s, and peak RSS under 400 MB per path.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.models import PRODUCT_STYLES  # noqa: E402
from pipeline.platforms import get_spec  # noqa: E402
from pipeline.product.background import BackgroundRemover  # noqa: E402
from pipeline.product.photos import _encode, make_product_photos, working_copy  # noqa: E402
from pipeline.product.styles import render_style  # noqa: E402
from socialopt.settings import Settings  # noqa: E402

TARGET_S = 3.0
RSS_TARGET_MB = 400  # all 7 styles of a 12 MP photo, per path, in its own process


def synth_product_jpeg(width: int = 4032, height: int = 3024, seed: int = 4) -> bytes:
    """A 12 MP studio shot: a shaded bottle with a label on a plain, lightly noisy backdrop.

    Built in bands of rows so the synthesis itself does not dominate the peak RSS."""
    rng = np.random.default_rng(seed)
    out = np.empty((height, width, 3), np.uint8)
    cx, top, bottom, half = width * 0.5, height * 0.18, height * 0.86, width * 0.13
    band = 256
    for y0 in range(0, height, band):
        y1 = min(height, y0 + band)
        yy, xx = np.mgrid[y0:y1, 0:width].astype(np.float32)
        bg = np.array([232, 229, 222], np.float32) * (1 - 0.06 * yy / height)[..., None]
        bg += rng.normal(0, 2.0, (y1 - y0, width, 1)).astype(np.float32)
        body = (np.abs(xx - cx) < half) & (yy > top + height * 0.16) & (yy < bottom)
        neck = (np.abs(xx - cx) < half * 0.35) & (yy > top) & (yy <= top + height * 0.16)
        shoulder = ((xx - cx) / half) ** 2 + ((yy - (top + height * 0.18)) / (height * 0.06)) ** 2
        inside = body | neck | (shoulder <= 1.0)
        shade = 0.65 + 0.5 * np.clip((xx - (cx - half)) / (2 * half), 0, 1)
        obj = np.array([38, 92, 60], np.float32)[None, None, :] * shade[..., None] * 1.4
        label = (np.abs(xx - cx) < half * 0.9) & (np.abs(yy - height * 0.6) < height * 0.1)
        obj = np.where(label[..., None], np.array([240, 232, 210], np.float32), obj)
        stripe = (np.abs(yy - height * 0.6) < height * 0.012) & label
        obj = np.where(stripe[..., None], np.array([180, 40, 40], np.float32), obj)
        out[y0:y1] = np.clip(np.where(inside[..., None], obj, bg), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(out, "RGB").save(buf, "JPEG", quality=92)
    return buf.getvalue()


def rss_mb() -> float:
    """This process's peak RSS in MB: VmHWM (reset by exec, unlike ru_maxrss, which a child
    inherits from the parent that forked it), else ru_maxrss."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def bench_remover(data: bytes, remover: BackgroundRemover, platform_key: str, runs: int) -> dict:
    spec = get_spec(platform_key)
    size = spec.choose_size(4032, 3024)
    targets = [(platform_key, size)]
    # the first real call, as a user's job makes it (session load included): its peak RSS
    # is the number that matters; the timing runs below reuse the loaded session
    t0 = time.perf_counter()
    warm = Image.open(io.BytesIO(data)).convert("RGB")
    _, first = make_product_photos(warm, None, [], targets, "JPEG", remover)
    warmup_s = time.perf_counter() - t0
    first_call_rss = rss_mb()
    assert len(first) == 7
    del warm, first

    steps: dict[str, list[float]] = {k: [] for k in ("decode", "working_copy", "cutout")}
    per_style: dict[str, list[float]] = {s: [] for s in PRODUCT_STYLES}
    totals_serial, totals_parallel = [], []
    for _ in range(runs):
        t_run = time.perf_counter()
        t = time.perf_counter()
        img = Image.open(io.BytesIO(data))
        img = img.convert("RGB")
        steps["decode"].append(time.perf_counter() - t)
        t = time.perf_counter()
        work = working_copy(img, targets)
        steps["working_copy"].append(time.perf_counter() - t)
        t = time.perf_counter()
        cut = remover.cutout(work)
        steps["cutout"].append(time.perf_counter() - t)
        for style in PRODUCT_STYLES:
            t = time.perf_counter()
            out = render_style(style, cut, img, size)
            _encode(out, "JPEG", spec.max_file_bytes)
            per_style[style].append(time.perf_counter() - t)
        totals_serial.append(time.perf_counter() - t_run)
        work_size = work.size
        del img, work, cut, out  # one 12 MP photo alive at a time, as in a job
        # the real entry point, styles on 2 threads, decode included
        t = time.perf_counter()
        img = Image.open(io.BytesIO(data)).convert("RGB")
        decision, photos = make_product_photos(img, None, [], targets, "JPEG", remover)
        totals_parallel.append(time.perf_counter() - t)
        assert len(photos) == 7 and all(p.image.width == size.width for p in photos)
        del img, photos

    def med(v: list[float]) -> float:
        return round(statistics.median(v), 4)

    return {
        "method": remover.method,
        "platform": platform_key,
        "size": f"{size.width}x{size.height}",
        "working_size": f"{work_size[0]}x{work_size[1]}",
        "warmup_s": round(warmup_s, 4),
        "first_call_peak_rss_mb": round(first_call_rss, 1),
        "steps_s": {k: med(v) for k, v in steps.items()},
        "styles_s": {k: med(v) for k, v in per_style.items()},
        "total_serial_s": med(totals_serial),
        "total_make_product_photos_s": med(totals_parallel),
        "is_product": decision.is_product,
        "under_target": med(totals_parallel) < TARGET_S,
    }


def child(args: argparse.Namespace) -> None:
    """One path in its own process, so its peak RSS is its own: prints one JSON line."""
    data = Path(args.photo).read_bytes()
    models = Path(args.models) if args.child == "rembg" else Path("/nonexistent-models")
    remover = BackgroundRemover(models)  # u2netp runs on onnxruntime without importing rembg
    rss_start = rss_mb()
    result = bench_remover(data, remover, args.platform, args.runs)
    result.update(
        rss_before_mb=round(rss_start, 1),
        peak_rss_mb=result["first_call_peak_rss_mb"],
        peak_rss_all_runs_mb=round(rss_mb(), 1),
        under_rss_target=result["first_call_peak_rss_mb"] < RSS_TARGET_MB,
    )
    print(json.dumps(result))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--platform", default="instagram")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--models", default=str(Settings.from_env(env_file=None).rembg_home))
    ap.add_argument("--child", choices=("rembg", "fallback"), help=argparse.SUPPRESS)
    ap.add_argument("--photo", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args)
        return

    data = synth_product_jpeg()
    results = []
    paths = ["fallback"]
    if BackgroundRemover(Path(args.models)).uses_model:
        paths.insert(0, "rembg")
    with tempfile.TemporaryDirectory() as tmp:
        photo = Path(tmp) / "product.jpg"
        photo.write_bytes(data)
        for path in paths:
            cmd = [sys.executable, __file__, "--child", path, "--photo", str(photo)]
            cmd += ["--platform", args.platform, "--runs", str(args.runs)]
            cmd += ["--models", args.models]
            done = subprocess.run(cmd, capture_output=True, text=True, check=True)
            results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    report = {
        "benchmark": "product photography, 7 styles, one platform",
        "photo": "synthetic 4032x3024 JPEG (bottle on a plain backdrop)",
        "photo_bytes": len(data),
        "target_s": TARGET_S,
        "rss_target_mb": RSS_TARGET_MB,
        "runs": args.runs,
        "peak_rss_mb": {r["method"]: r["peak_rss_mb"] for r in results},
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "results": results,
    }
    out = ROOT / "bench" / "results" / "photography.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")

    print(f"12 MP product photo -> 7 styles for {args.platform} (median of {args.runs} runs)")
    cols = [r["method"] for r in results]
    print(f"{'step':<28}" + "".join(f"{c:>20}" for c in cols))
    rows = [
        ("decode 12 MP JPEG", "decode"),
        ("downscale to working", "working_copy"),
        ("background removal", "cutout"),
    ]
    for label, key in rows:
        print(f"{label:<28}" + "".join(f"{r['steps_s'][key]:>19.3f}s" for r in results))
    for style in PRODUCT_STYLES:
        print(f"{'  ' + style:<28}" + "".join(f"{r['styles_s'][style]:>19.3f}s" for r in results))
    print(f"{'total (serial)':<28}" + "".join(f"{r['total_serial_s']:>19.3f}s" for r in results))
    print(
        f"{'make_product_photos (2 thr)':<28}"
        + "".join(f"{r['total_make_product_photos_s']:>19.3f}s" for r in results)
    )
    print(
        f"{'first call (session load)':<28}" + "".join(f"{r['warmup_s']:>19.3f}s" for r in results)
    )
    print(
        f"{'peak RSS, 7 styles, 1st call':<28}"
        + "".join(f"{r['peak_rss_mb']:>17.0f} MB" for r in results)
    )
    print(
        f"{'  after all timing runs':<28}"
        + "".join(f"{r['peak_rss_all_runs_mb']:>17.0f} MB" for r in results)
    )
    print(
        f"{'  of which after imports':<28}"
        + "".join(f"{r['rss_before_mb']:>17.0f} MB" for r in results)
    )
    print(
        f"targets {TARGET_S:.0f} s and {RSS_TARGET_MB} MB: "
        + ", ".join(
            f"{r['method']} {'OK' if r['under_target'] else 'MISSED'}/"
            f"{'OK' if r['under_rss_target'] else 'MISSED'}"
            for r in results
        )
    )
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
