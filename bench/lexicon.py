"""Benchmark: the cost of reading the user's words (pipeline.lexicon, niches, hashtags).

In a fresh process per language: importing the modules, the first description in that
language (dictionary load, keyword index, concept table for English) and then the warm cost
of niches + hashtags for all six platforms; plus resident memory. Also the first description
when `niches.prefetch` ran in the background while a 12 MP JPEG decoded (as run_job does).

Usage: .venv/bin/python bench/lexicon.py      Writes bench/results/lexicon.json.
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"

TEXTS = {
    "en": "Spotted this nuthatch climbing head-first down an old oak",
    "es": "Un colibrí bebe néctar en las flores del jardín",
    "pt": "Duas sementes de dente-de-leão prestes a voar",
    "de": "Eine Libelle ruht in der Sonne auf einem Haselzweig",
    "fr": "Une fleur orange, vue de très près, pleine de lumière",
    "ru": "Летняя ночь на озере, через час после заката",
}

CHILD = r"""
import json, resource, sys, time
lang, text, prefetch = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
def rss():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
r0 = rss(); t0 = time.perf_counter()
from pipeline import hashtags, niches
from pipeline.platforms import PLATFORM_KEYS, get_spec
t1 = time.perf_counter(); r1 = rss()
if prefetch:
    import io
    from PIL import Image
    img = Image.new("RGB", (4032, 3024), (90, 140, 60))
    buf = io.BytesIO(); img.save(buf, "JPEG", quality=90); data = buf.getvalue()
    t1 = time.perf_counter()
    niches.prefetch(text, lang)
    Image.open(io.BytesIO(data)).load()  # what the job does meanwhile
    t_decode = time.perf_counter() - t1
    t1 = time.perf_counter()
specs = [get_spec(k) for k in PLATFORM_KEYS]
def once(t):
    found = niches.match_niches(t, None, fallback_language=lang)
    return [hashtags.suggest_hashtags(found, None, t, s, language=lang) for s in specs]
tags = once(text)
t2 = time.perf_counter()
n = 50
for i in range(n):
    once(text + " " + str(i))
t3 = time.perf_counter()
print(json.dumps({
    "import_s": round(t1 - t0, 4) if not prefetch else None,
    "first_s": round(t2 - t1, 4),
    "warm_ms": round((t3 - t2) / n * 1000, 2),
    "rss_mb_added": round(rss() - r0, 1),
    "decode_s": round(t_decode, 4) if prefetch else None,
    "instagram": tags[0][:5],
}, ensure_ascii=False))
"""


def run(lang: str, prefetch: bool) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, lang, TEXTS[lang], "1" if prefetch else "0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    rows = {}
    for lang in TEXTS:
        rows[lang] = {"cold": run(lang, False), "prefetched": run(lang, True)}
    result = {
        "benchmark": "lexicon",
        "machine": {"python": platform.python_version(), "cpus": __import__("os").cpu_count()},
        "results": rows,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "lexicon.json").write_text(json.dumps(result, indent=2, ensure_ascii=False))
    print(f"{'lang':4} {'import':>7} {'first':>7} {'first*':>7} {'warm':>8} {'rss':>6}  tags")
    for lang, r in rows.items():
        cold, pre = r["cold"], r["prefetched"]
        print(
            f"{lang:4} {cold['import_s']:6.3f}s {cold['first_s']:6.3f}s {pre['first_s']:6.3f}s "
            f"{cold['warm_ms']:6.2f}ms {cold['rss_mb_added']:5.0f}M  {' '.join(cold['instagram'])}"
        )
    print("first*: after niches.prefetch ran while a 12 MP JPEG decoded; warm: 6 platforms")


if __name__ == "__main__":
    main()
