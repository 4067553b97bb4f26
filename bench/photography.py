"""Benchmark: all 7 product styles for one platform from a 12 MP product photo, offline.

Run: `.venv/bin/python bench/photography.py [--platform instagram] [--runs 3]`.
Prints a table (per style, background removal, total) for rembg:u2netp (when the model and
rembg are there) and the weight-free fallback, with peak RSS; writes
bench/results/photography.json. Target: all 7 styles for one platform under 3 s.
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import resource
import statistics
import sys
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

TARGET_S = 3.0


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
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def bench_remover(data: bytes, remover: BackgroundRemover, platform_key: str, runs: int) -> dict:
    spec = get_spec(platform_key)
    size = spec.choose_size(4032, 3024)
    targets = [(platform_key, size)]
    # warm-up (session load, numba-compiled paths, first-call allocations)
    t0 = time.perf_counter()
    warm = Image.open(io.BytesIO(data)).convert("RGB")
    remover.cutout(working_copy(warm, targets))
    warmup_s = time.perf_counter() - t0

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
            out = render_style(style, cut, work, size)
            _encode(out, "JPEG", spec.max_file_bytes)
            per_style[style].append(time.perf_counter() - t)
        totals_serial.append(time.perf_counter() - t_run)
        # the real entry point, styles on 2 threads, decode included
        t = time.perf_counter()
        img = Image.open(io.BytesIO(data)).convert("RGB")
        decision, photos = make_product_photos(img, None, [], targets, "JPEG", remover)
        totals_parallel.append(time.perf_counter() - t)
        assert len(photos) == 7 and all(p.image.width == size.width for p in photos)

    def med(v: list[float]) -> float:
        return round(statistics.median(v), 4)

    return {
        "method": remover.method,
        "platform": platform_key,
        "size": f"{size.width}x{size.height}",
        "working_size": f"{work.width}x{work.height}",
        "warmup_s": round(warmup_s, 4),
        "steps_s": {k: med(v) for k, v in steps.items()},
        "styles_s": {k: med(v) for k, v in per_style.items()},
        "total_serial_s": med(totals_serial),
        "total_make_product_photos_s": med(totals_parallel),
        "is_product": decision.is_product,
        "under_target": med(totals_parallel) < TARGET_S,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--platform", default="instagram")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--models", default=str(ROOT / "models"))
    args = ap.parse_args()

    data = synth_product_jpeg()
    rss_after_synth = rss_mb()
    results = []
    t = time.perf_counter()
    rembg_remover = BackgroundRemover(Path(args.models))
    import_s = None
    if rembg_remover.uses_model:
        import rembg  # noqa: F401 - timed once: numba compiles on the very first import

        import_s = round(time.perf_counter() - t, 3)
        results.append(bench_remover(data, rembg_remover, args.platform, args.runs))
    results.append(
        bench_remover(
            data, BackgroundRemover(Path("/nonexistent-models")), args.platform, args.runs
        )
    )
    report = {
        "benchmark": "product photography, 7 styles, one platform",
        "photo": "synthetic 4032x3024 JPEG (bottle on a plain backdrop)",
        "photo_bytes": len(data),
        "target_s": TARGET_S,
        "runs": args.runs,
        "rembg_import_s": import_s,
        "peak_rss_mb": round(rss_mb(), 1),
        "rss_after_synthesis_mb": round(rss_after_synth, 1),
        "machine": {"python": platform.python_version(), "cpus": __import__("os").cpu_count()},
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
    print(f"{'first cutout (warm-up)':<28}" + "".join(f"{r['warmup_s']:>19.3f}s" for r in results))
    if import_s is not None:
        print(f"rembg import: {import_s:.2f}s (about 35 s the first time in a fresh venv)")
    print(
        f"peak RSS: {report['peak_rss_mb']:.0f} MB (after synthesising the photo: "
        f"{rss_after_synth:.0f} MB); target {TARGET_S:.0f} s: "
        + ", ".join(f"{r['method']} {'OK' if r['under_target'] else 'MISSED'}" for r in results)
    )
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
