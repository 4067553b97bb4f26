"""AI calls per session: a 5-platform session against a fake OpenAI server that adds 1 s of
latency per call. Reports calls, tokens and wall time cold and with a warm cache.

Targets: at most 3 calls (analysis, content, profiles) and under 3 s cold; 0 calls warm.
Drives `pipeline.job.run_job` with `build_services(settings, cache=...)`.
Writes bench/results/ai_calls.json.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.models import JobOptions  # noqa: E402
from socialopt.settings import Secret, Settings  # noqa: E402
from storage.cache import MemoryCache  # noqa: E402
from tests.fake_openai import FakeOpenAI  # noqa: E402

PLATFORMS = ("instagram", "facebook", "linkedin", "pinterest", "x")
LATENCY_S = 1.0
IMAGE = ROOT / "samples" / "coffee.jpg"
DESCRIPTION = "Morning latte art in my favourite cafe"
TARGET_CALLS, TARGET_WALL_S = 3, 3.0


def _settings(base_url: str, data_dir: str) -> Settings:
    return Settings(
        ai_provider="openai",
        openai_api_key=Secret("sk-bench"),
        openai_base_url=base_url,
        ai_timeout_s=10.0,
        data_dir=Path(data_dir),
    )


def run_with_job(fake: FakeOpenAI, settings: Settings, cache: Any) -> dict[str, Any]:
    from pipeline.job import run_job
    from socialopt.wiring import build_services

    services = build_services(settings, cache=cache)
    image = IMAGE.read_bytes()
    options = JobOptions(platforms=PLATFORMS, description=DESCRIPTION, use_ai=True)
    before = len(fake.chat_requests())
    t0 = time.perf_counter()
    result = run_job(image, options, services)
    wall = time.perf_counter() - t0
    return {
        "http_requests": len(fake.chat_requests()) - before,
        "usage": result.usage.to_dict(),
        "wall_s": round(wall, 3),
        "providers": {k: r.provider for k, r in result.platforms.items()},
        "status": {k: r.status for k, r in result.platforms.items()},
    }


def main() -> int:
    with FakeOpenAI(latency_s=LATENCY_S) as fake, tempfile.TemporaryDirectory() as tmp:
        settings = _settings(fake.base_url, tmp)
        cache = MemoryCache()
        cold = run_with_job(fake, settings, cache)
        warm = run_with_job(fake, settings, cache)
    report = {
        "benchmark": "ai_calls",
        "mode": "run_job",
        "platforms": list(PLATFORMS),
        "fake_latency_s_per_call": LATENCY_S,
        "cold": cold,
        "warm_cache": warm,
        "targets": {"max_calls": TARGET_CALLS, "max_wall_s_cold": TARGET_WALL_S},
        "ok": cold["http_requests"] <= TARGET_CALLS
        and cold["wall_s"] < TARGET_WALL_S
        and warm["http_requests"] == 0,
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    out = ROOT / "bench" / "results" / "ai_calls.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"run_job: {len(PLATFORMS)} platforms, {LATENCY_S:.0f} s fake latency per call")
    for label, run in (("cold", cold), ("warm cache", warm)):
        print(
            f"{label:>10}: {run['http_requests']} calls, {run['wall_s']:.2f} s, "
            f"tokens {run['usage']['prompt_tokens']}+{run['usage']['completion_tokens']}, "
            f"cache hits {run['usage']['cache_hits']}, "
            f"providers {sorted(set(run['providers'].values()))}"
        )
    print(f"targets met: {report['ok']}  -> {out.relative_to(ROOT)}")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
