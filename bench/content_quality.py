"""Benchmark: is the offline content about the photo? Real labelled photos, real pipeline.

For each photo of bench/photos.json (fetched by bench/photoset.py) this runs
`pipeline.job.run_job` with offline services built the way the CLI builds them, all six
platforms, the photo's description and language, and scores the result against the labels:

  subject named (description)   photos with a description naming the subject whose hashtags
                                name it: a tag holding the subject, its concept or a listed
                                alias (folded, CamelCase split)                  target >= 90%
  subject named (recognition)   the same for photos with no description         target >= 60%
  off-topic hashtags            tags holding a word of the photo's off_topic list  target 0
  colour names                  photos whose top 3 colour families hold a labelled one
                                ("black and white": monochrome, or only grey/black/white)
  blur false positives          sharp subject on a soft background called blurry   target 0
  recognition                   top-1 concept accuracy (a labelled concept among the
                                recogniser's concepts) and abstention rate
  time                          content stages per photo (analysis incl. recognition, niches,
                                hashtags, captions: run_job's "text" timing, measured while the
                                six renders run beside it) and the wall time of a whole
                                `socialopt optimize` subprocess (median of 3)

Usage: .venv/bin/python bench/content_quality.py [--only ID ...] [--cli-runs 3] [--cli-photo ID]
Writes bench/results/content_quality.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import unicodedata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.append(str(ROOT / "bench"))  # after ROOT: bench/pipeline.py must not shadow pipeline/

from photoset import COLOR_FAMILIES, PhotoSetError, fetch, load_manifest  # noqa: E402

RESULTS = ROOT / "bench" / "results"
PLATFORMS = ("instagram", "facebook", "linkedin", "pinterest", "x", "tiktok")
TARGETS = {
    "subject_named_with_description": 0.90,
    "subject_named_by_recognition": 0.60,
    "off_topic_tags": 0,
    "blur_false_positives": 0,
}
FAMILIES = COLOR_FAMILIES
# Colour words that clearly belong to one family (for names without a `family` field).
FAMILY_WORDS = {
    "gray": "grey",
    "silver": "grey",
    "charcoal": "grey",
    "navy": "blue",
    "azure": "blue",
    "olive": "green",
    "lime": "green",
    "cyan": "teal",
    "turquoise": "teal",
    "violet": "purple",
    "lavender": "purple",
    "magenta": "pink",
    "maroon": "red",
    "crimson": "red",
    "gold": "yellow",
    "golden": "yellow",
    "tan": "beige",
    "cream": "beige",
    "khaki": "beige",
}
NEUTRAL = {"grey", "black", "white"}
ENV_DROP = ("OPENAI_API_KEY", "GEMINI_API_KEY", "CLOUDINARY_URL", "HASHTAG_SOURCES")


# --- text folding -------------------------------------------------------------------------


def fold(text: str) -> str:
    """Lower case, accents stripped (é -> e, but Cyrillic kept), only letters and digits."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    kept = "".join(c for c in decomposed if not unicodedata.combining(c))
    return "".join(c for c in kept if c.isalnum())


def tag_words(tag: str) -> list[str]:
    """A hashtag's words: CamelCase and letter/digit boundaries split, then folded."""
    words: list[str] = []
    current = ""
    prev = ""
    for ch in tag.lstrip("#"):
        if not ch.isalnum():
            boundary = True
        else:
            boundary = bool(prev) and (
                (prev.islower() and ch.isupper()) or (prev.isalpha() != ch.isalpha())
            )
        if boundary and current:
            words.append(current)
            current = ""
        if ch.isalnum():
            current += ch
        prev = ch if ch.isalnum() else ""
    if current:
        words.append(current)
    return [fold(w) for w in words if fold(w)]


def tag_mentions(tag: str, word: str) -> bool:
    """Whether a hashtag holds this word: as one of its words (or their plural), or inside it
    when the word has 4+ letters ("#BirdWatching" holds "bird", "#Catholic" not "cat")."""
    target = fold(word)
    if not target:
        return False
    words = tag_words(tag)
    plural = {target, target + "s", target + "es"}
    return bool(plural & set(words)) or (len(target) >= 4 and target in fold(tag))


# --- scoring ------------------------------------------------------------------------------


def color_families(colors: list[Any]) -> list[str]:
    """The distinct hue families of the analysis' colours, in order."""
    out: list[str] = []
    for color in colors:
        family = fold(getattr(color, "family", "") or "")
        if family == "gray":
            family = "grey"
        if family not in FAMILIES:
            family = ""
            for word in str(getattr(color, "name", "")).lower().replace("-", " ").split():
                word = FAMILY_WORDS.get(word, word)
                if word in FAMILIES:
                    family = word  # the last word is the hue: "dark olive green" -> green
        if family and family not in out:
            out.append(family)
    return out


def color_ok(labels: list[str], families: list[str], monochrome: bool) -> bool:
    top = families[:3]
    if "black and white" in labels:
        return monochrome or (bool(top) and set(top) <= NEUTRAL)
    return bool(set(labels) & set(top))


def recognition_view(analysis: Any) -> dict[str, Any]:
    rec = getattr(analysis, "recognition", None)
    if rec is None:
        return {"ran": False, "subject": "", "concepts": [], "confidence": 0.0, "top": []}
    return {
        "ran": True,
        "subject": rec.subject,
        "concepts": list(rec.concepts),
        "confidence": round(float(rec.confidence), 3),
        "top": [[label, round(float(p), 3)] for label, p in list(rec.top)[:3]],
    }


def score_photo(photo: dict[str, Any], result: Any) -> dict[str, Any]:
    """Everything the benchmark measures on one job result."""
    analysis = result.analysis
    per_platform = {
        key: list(r.content.hashtags) if r.content else [] for key, r in result.platforms.items()
    }
    tags: list[str] = []
    for items in per_platform.values():
        tags += [t for t in items if t not in tags]
    names = [photo["subject"], photo["concept"], *photo.get("subject_names", [])]
    naming = [t for t in tags if any(tag_mentions(t, n) for n in names)]
    off = [t for t in tags if any(tag_mentions(t, w) for w in photo["off_topic"])]
    on = [t for t in tags if any(tag_mentions(t, w) for w in photo["on_topic"] + names)]
    platforms_naming = sum(
        any(any(tag_mentions(t, n) for n in names) for t in items)
        for items in per_platform.values()
    )
    families = color_families(list(analysis.colors))
    monochrome = bool(getattr(analysis, "monochrome", False))
    rec = recognition_view(analysis)
    wanted = {fold(c) for c in [photo["concept"], *photo.get("concepts_ok", [])]}
    said = {fold(c) for c in [rec["subject"], *rec["concepts"]] if c}
    wrong = {fold(c) for c in photo.get("concepts_wrong", [])}  # e.g. the bird sense of "kite"
    answered = bool(rec["subject"])
    return {
        "id": photo["id"],
        "language": photo.get("language", "en"),
        "description": photo["description"],
        "subject": photo["subject"],
        "hashtags": tags,
        "hashtags_by_platform": per_platform,
        "names_subject": bool(naming),
        "naming_tags": naming,
        "platforms_naming_subject": platforms_naming,
        "off_topic_tags": off,
        "on_topic_share": round(len(on) / len(tags), 3) if tags else 0.0,
        "colors": [getattr(c, "name", str(c)) for c in analysis.colors],
        "color_families": families,
        "monochrome": monochrome,
        "color_labels": photo["colors"],
        "color_ok": color_ok(photo["colors"], families, monochrome),
        "color_first_ok": color_ok(photo["colors"], families[:1], monochrome),
        "sharp_bokeh": photo["sharp_bokeh"],
        "is_blurry": bool(analysis.is_blurry),
        "blur_false_positive": photo["sharp_bokeh"] and bool(analysis.is_blurry),
        "analysis_subject": getattr(analysis, "subject", ""),
        "analysis_concepts": list(getattr(analysis, "subject_concepts", []) or []),
        "kind": getattr(analysis, "kind", ""),
        "recognition": rec,
        "recognition_answered": answered,
        "recognition_correct": answered and bool(wanted & said) and not (wrong & said),
        "caption_en_or_lang": (
            result.platforms["instagram"].content.caption
            if result.platforms.get("instagram") and result.platforms["instagram"].content
            else ""
        ),
        "alt_text": (
            result.platforms["instagram"].content.alt_text
            if result.platforms.get("instagram") and result.platforms["instagram"].content
            else ""
        ),
        "text_s": round(float(result.timings.get("text", 0.0)), 4),
        "timings": {k: round(float(v), 4) for k, v in result.timings.items()},
    }


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    def share(items: list[bool]) -> float | None:
        return round(sum(items) / len(items), 3) if items else None

    described = [r for r in rows if r["description"]]
    silent = [r for r in rows if not r["description"]]
    bokeh = [r for r in rows if r["sharp_bokeh"]]
    answered = [r for r in rows if r["recognition_answered"]]
    ran = [r for r in rows if r["recognition"]["ran"]]
    texts = [r["text_s"] for r in rows]
    summary = {
        "photos": len(rows),
        "subject_named_with_description": share([r["names_subject"] for r in described]),
        "subject_named_with_description_n": len(described),
        "subject_named_by_recognition": share([r["names_subject"] for r in silent]),
        "subject_named_by_recognition_n": len(silent),
        "off_topic_tags": sum(len(r["off_topic_tags"]) for r in rows),
        "photos_with_off_topic_tags": sum(bool(r["off_topic_tags"]) for r in rows),
        "on_topic_share_mean": round(statistics.mean(r["on_topic_share"] for r in rows), 3),
        "color_accuracy": share([r["color_ok"] for r in rows]),
        "color_first_accuracy": share([r["color_first_ok"] for r in rows]),
        "blur_false_positives": sum(r["blur_false_positive"] for r in bokeh),
        "sharp_bokeh_photos": len(bokeh),
        "recognition_ran": len(ran),
        "recognition_top1_concept_accuracy": share([r["recognition_correct"] for r in answered]),
        "recognition_abstention_rate": (round(1 - len(answered) / len(ran), 3) if ran else None),
        "recognition_answered": len(answered),
        "content_s_median": round(statistics.median(texts), 4) if texts else None,
        "content_s_first": texts[0] if texts else None,
        "content_s_max": max(texts) if texts else None,
    }
    summary["targets_met"] = {
        "subject_named_with_description": (summary["subject_named_with_description"] or 0)
        >= TARGETS["subject_named_with_description"],
        "subject_named_by_recognition": (summary["subject_named_by_recognition"] or 0)
        >= TARGETS["subject_named_by_recognition"],
        "off_topic_tags": summary["off_topic_tags"] == 0,
        "blur_false_positives": summary["blur_false_positives"] == 0,
    }
    return summary


# --- running ------------------------------------------------------------------------------


def offline_services() -> Any:
    """Services as `socialopt optimize` builds them, forced offline (no keys, no scraping)."""
    from socialopt import wiring

    return wiring.offline_services(wiring.load_settings(env_file=None))


def run_photo(photo: dict[str, Any], path: Path, services: Any) -> dict[str, Any]:
    from pipeline.job import run_job
    from pipeline.models import JobOptions

    options = JobOptions(
        platforms=PLATFORMS,
        description=photo["description"],
        language=photo.get("language", "en"),
        source_name=path.name,
    )
    t0 = time.perf_counter()
    result = run_job(path.read_bytes(), options, services)
    row = score_photo(photo, result)
    row["job_s"] = round(time.perf_counter() - t0, 3)
    return row


def cli_wall(photo: dict[str, Any], path: Path, runs: int) -> dict[str, Any]:
    """Median wall time of `socialopt optimize` on one photo, all six platforms, offline."""
    cmd = [sys.executable, "-m", "socialopt"]  # this tree's code, run from its root
    env = {k: v for k, v in os.environ.items() if k not in ENV_DROP}
    env["AI_PROVIDER"] = "offline"
    times: list[float] = []
    codes: list[int] = []
    with tempfile.TemporaryDirectory() as out:
        for _ in range(runs):
            args = [*cmd, "optimize", str(path), "--platforms", "all", "--output-dir", out]
            args += ["--json"]
            if photo["description"]:
                args += ["--description", photo["description"]]
            args += ["--language", photo.get("language", "en")]
            t0 = time.perf_counter()
            done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True)
            times.append(time.perf_counter() - t0)
            codes.append(done.returncode)
    return {
        "photo": photo["id"],
        "runs": [round(t, 3) for t in times],
        "median_s": round(statistics.median(times), 3),
        "exit_codes": codes,
    }


def print_table(rows: list[dict[str, Any]], summary: dict[str, Any], cli: Any) -> None:
    head = f"{'photo':17} {'lang':4} {'desc':4} {'named':5} {'off':3} {'colour':6} "
    head += f"{'blurFP':6} {'recognised (conf)':28} {'ok':3} {'text ms':>7}"
    print(head)
    print("-" * len(head))
    for r in rows:
        rec = r["recognition"]
        said = (
            f"{rec['subject']} ({rec['confidence']:.2f})"
            if rec["subject"]
            else ("abstained" if rec["ran"] else "no recogniser")
        )
        ok = (
            "yes" if r["recognition_correct"] else ("-" if not r["recognition_answered"] else "NO")
        )
        print(
            f"{r['id']:17} {r['language']:4} {'yes' if r['description'] else '-':4} "
            f"{'yes' if r['names_subject'] else 'NO':5} {len(r['off_topic_tags']):3} "
            f"{'ok' if r['color_ok'] else 'miss':6} "
            f"{('FP' if r['blur_false_positive'] else '-') if r['sharp_bokeh'] else '':6} "
            f"{said[:28]:28} {ok:3} {r['text_s'] * 1000:7.0f}"
        )
    print()

    def pct(value: float | None) -> str:
        return "n/a" if value is None else f"{value * 100:.0f}%"

    s = summary
    lines = [
        (
            "subject named, description names it",
            f"{pct(s['subject_named_with_description'])}"
            f" of {s['subject_named_with_description_n']}",
            ">= 90%",
        ),
        (
            "subject named, recognition alone",
            f"{pct(s['subject_named_by_recognition'])} of {s['subject_named_by_recognition_n']}",
            ">= 60%",
        ),
        (
            "off-topic hashtags",
            f"{s['off_topic_tags']} (on {s['photos_with_off_topic_tags']} photos)",
            "0",
        ),
        ("colour-name accuracy (a label in top 3)", pct(s["color_accuracy"]), "reported"),
        ("colour-name accuracy (top colour)", pct(s["color_first_accuracy"]), "reported"),
        (
            "blur false positives (sharp + bokeh)",
            f"{s['blur_false_positives']} of {s['sharp_bokeh_photos']}",
            "0",
        ),
        (
            "recognition top-1 concept accuracy",
            f"{pct(s['recognition_top1_concept_accuracy'])} of {s['recognition_answered']}",
            "reported",
        ),
        ("recognition abstention rate", pct(s["recognition_abstention_rate"]), "reported"),
        (
            "content stages per photo (median)",
            f"{(s['content_s_median'] or 0) * 1000:.0f} ms"
            f" (first {(s['content_s_first'] or 0) * 1000:.0f} ms)",
            "< 150 ms added",
        ),
    ]
    if cli:
        lines.append(
            (f"socialopt optimize wall ({cli['photo']})", f"{cli['median_s']:.2f} s", "reported")
        )
    for name, value, target in lines:
        print(f"{name:40} {value:28} target {target}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=None, help="photo ids to run")
    parser.add_argument("--cli-runs", type=int, default=3, help="0 skips the CLI timing")
    parser.add_argument("--cli-photo", default="nuthatch")
    parser.add_argument("--output", type=Path, default=RESULTS / "content_quality.json")
    args = parser.parse_args(argv)

    photos = load_manifest()
    if args.only:
        photos = [p for p in photos if p["id"] in set(args.only)]
    try:
        paths = fetch(photos=load_manifest())
    except PhotoSetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    t0 = time.perf_counter()
    services = offline_services()
    setup_s = time.perf_counter() - t0
    rows = []
    for photo in photos:
        rows.append(run_photo(photo, paths[photo["id"]], services))
    summary = summarise(rows)
    summary["services_setup_s"] = round(setup_s, 3)

    cli = None
    if args.cli_runs > 0:
        by_id = {p["id"]: p for p in load_manifest()}
        cli = cli_wall(by_id[args.cli_photo], paths[args.cli_photo], args.cli_runs)
        summary["cli_wall_s_median"] = cli["median_s"]

    print_table(rows, summary, cli)
    doc = {
        "benchmark": "content_quality",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "targets": TARGETS,
        "summary": summary,
        "cli": cli,
        "photos": rows,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(doc, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
