"""Added wall time of a whole `socialopt optimize` run against an earlier commit.

Both versions run in fresh processes, alternating, with the same venv: the baseline's source is
checked out into a temporary git worktree and put first on PYTHONPATH. Imports, model loading
and the job itself all count.

    .venv/bin/python bench/cli_wall.py [--baseline REV] [--runs N] [IMAGE DESCRIPTION]

Writes bench/results/cli_wall.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASELINE = "73934eb"  # the first release, before subject recognition and lemmas
CASES = (
    (ROOT / "samples" / "coffee.jpg", "Morning latte art in my favourite cafe"),
    (ROOT / "samples" / "dandelions.jpg", "Dandelion clocks in the evening light"),
)


def _run(source: Path, image: Path, description: str, out: Path) -> float:
    env = dict(os.environ, PYTHONPATH=str(source))
    cmd = [sys.executable, "-m", "socialopt", "--env-file", "", "optimize", str(image)]
    cmd += ["--platforms", "all", "--description", description, "--output-dir", str(out)]
    started = time.perf_counter()
    subprocess.run(cmd, env=env, cwd=out.parent, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default=BASELINE)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("case", nargs="*", help="IMAGE DESCRIPTION (default: two samples)")
    args = parser.parse_args()
    cases = [(Path(args.case[0]), args.case[1])] if len(args.case) == 2 else list(CASES)
    report: dict[str, object] = {"baseline": args.baseline, "runs": args.runs, "cases": []}
    with tempfile.TemporaryDirectory() as tmp:
        old = Path(tmp) / "baseline"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(old), args.baseline],
            check=True,
            capture_output=True,
        )
        try:
            for image, description in cases:
                times: dict[str, list[float]] = {"baseline": [], "now": []}
                for _ in range(args.runs):
                    for label, source in (("baseline", old), ("now", ROOT)):
                        out = Path(tmp) / "out" / label
                        out.mkdir(parents=True, exist_ok=True)
                        times[label].append(_run(source, image, description, out))
                base, now = (statistics.median(times[k]) for k in ("baseline", "now"))
                row = {
                    "image": image.name,
                    "baseline_s": round(base, 3),
                    "now_s": round(now, 3),
                    "added_ms": round((now - base) * 1000),
                }
                report["cases"].append(row)  # type: ignore[union-attr]
                print(
                    f"{image.name:16} baseline {base:.3f} s  now {now:.3f} s  "
                    f"added {row['added_ms']} ms (median of {args.runs})"
                )
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(old)],
                check=False,
                capture_output=True,
            )
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / "cli_wall.json").write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
