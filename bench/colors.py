"""Benchmark: colour naming and subject-aware blur, per photo, on the labelled test photos.

For each photo in tests/data/photos (and samples/*.jpg) it times, on the 512 px analysis copy
the analyser uses: `image_colors` (k-means + naming + monochrome check) and
`subject_sharpness` (given a focus map, which the job computes anyway), and prints the colours
found next to the labels. Median of --repeat runs after one warm-up.
Usage: .venv/bin/python bench/colors.py [--repeat 5]
Writes bench/results/colors.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.analysis import ANALYSIS_SIDE, subject_sharpness  # noqa: E402
from pipeline.colors import image_colors  # noqa: E402
from pipeline.vision import focus_map, small_copy  # noqa: E402

PHOTOS = ROOT / "tests" / "data" / "photos"
RESULTS = ROOT / "bench" / "results"


def _ms(fn, repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000.0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    labels = {p["file"]: p for p in json.loads((PHOTOS / "labels.json").read_text())["photos"]}
    files = sorted(PHOTOS.glob("*.jpg")) + sorted((ROOT / "samples").glob("*.jpg"))
    rows = []
    for path in files:
        img = Image.open(path).convert("RGB")
        small = small_copy(img, ANALYSIS_SIDE).convert("RGB")
        grey = cv2.cvtColor(np.asarray(small), cv2.COLOR_RGB2GRAY)
        focus = focus_map(img)
        colors, mono = image_colors(small)
        rows.append(
            {
                "photo": path.name,
                "labels": labels.get(path.name, {}).get("colors", []),
                "colors": [f"{c.name} ({c.family}) {c.share:.2f}" for c in colors],
                "monochrome": mono,
                "colors_ms": round(_ms(lambda s=small: image_colors(s), args.repeat), 2),
                "subject_sharpness_ms": round(
                    _ms(lambda g=grey, f=focus: subject_sharpness(g, f), args.repeat), 2
                ),
            }
        )
    for r in rows:
        print(
            f"{r['photo']:18} {r['colors_ms']:6.1f} ms {r['subject_sharpness_ms']:5.1f} ms  "
            f"labels={r['labels']}  {'; '.join(r['colors'])}"
        )
    summary = {
        "colors_ms_median": statistics.median(r["colors_ms"] for r in rows),
        "subject_sharpness_ms_median": statistics.median(r["subject_sharpness_ms"] for r in rows),
    }
    print(summary)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = {"summary": summary, "rows": rows}
    (RESULTS / "colors.json").write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
