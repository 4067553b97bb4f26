"""AI calls per session: a 5-platform session against a fake OpenAI server that adds 1 s of
latency per call. Reports calls, tokens and wall time cold and with a warm cache.

Targets: at most 3 calls (analysis, content, profiles) and under 3 s cold; 0 calls warm.
Drives `pipeline.job.run_job` with `build_services(settings, cache=...)` when the job is
importable, else the provider directly (analysis, then content and profiles in parallel).
Writes bench/results/ai_calls.json.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.models import JobOptions, Usage  # noqa: E402
from pipeline.providers import common  # noqa: E402
from socialopt.settings import Secret, Settings  # noqa: E402
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
    from pipeline.services import build_services

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


def run_direct(fake: FakeOpenAI, settings: Settings, cache: common.DictCache) -> dict[str, Any]:
    """Provider only: analysis, then content and accounts concurrently, each cached."""
    from PIL import Image

    from pipeline.analysis import analyse_image
    from pipeline.models import Niche
    from pipeline.providers.base import AccountsRequest, AnalysisRequest, ContentRequest
    from pipeline.providers.openai_provider import OpenAIProvider

    provider = OpenAIProvider(settings)
    usage = Usage()
    before = len(fake.chat_requests())
    t0 = time.perf_counter()
    img = Image.open(IMAGE).convert("RGB")
    base = analyse_image(img, description=DESCRIPTION)
    thumb = IMAGE.read_bytes()
    key = common.cache_key("sha-of-image", PLATFORMS, DESCRIPTION, "openai", provider.model)
    analysis = common.cached_call(
        cache,
        key + ":analysis",
        lambda: provider.analyse(AnalysisRequest(thumb, base, DESCRIPTION), usage),
        encode=common.analysis_to_dict,
        decode=common.analysis_from_dict,
        usage=usage,
    )
    niches = [Niche(n, n, 1.0) for n in analysis.niches] or [Niche("coffee", "Coffee", 1.0)]
    creq = ContentRequest(analysis, niches, PLATFORMS, DESCRIPTION)
    areq = AccountsRequest(niches, PLATFORMS[0], platforms=PLATFORMS)
    with ThreadPoolExecutor(2) as pool:
        accounts = pool.submit(
            common.cached_call,
            cache,
            key + ":accounts",
            lambda: provider.find_accounts(areq, usage),
            encode=common.accounts_to_dict,
            decode=common.accounts_from_dict,
            usage=usage,
        )
        contents = common.cached_call(
            cache,
            key + ":content",
            lambda: provider.write_content(creq, usage),
            encode=common.contents_to_dict,
            decode=common.contents_from_dict,
            usage=usage,
        )
        accounts.result()
    wall = time.perf_counter() - t0
    return {
        "http_requests": len(fake.chat_requests()) - before,
        "usage": usage.to_dict(),
        "wall_s": round(wall, 3),
        "providers": {k: c.provider for k, c in contents.items()},
    }


def main() -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mode", choices=("auto", "run_job", "provider-direct"), default="auto")
    mode = parser.parse_args().mode
    if mode == "auto":
        try:
            import pipeline.job  # noqa: F401
            import pipeline.services  # noqa: F401

            mode = "run_job"
        except ImportError:
            mode = "provider-direct"
    with FakeOpenAI(latency_s=LATENCY_S) as fake, tempfile.TemporaryDirectory() as tmp:
        settings = _settings(fake.base_url, tmp)
        cache = common.DictCache()
        runner = run_with_job if mode == "run_job" else run_direct
        cold = runner(fake, settings, cache)
        warm = runner(fake, settings, cache)
    report = {
        "benchmark": "ai_calls",
        "mode": mode,
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
    name = "ai_calls.json" if mode == "run_job" else f"ai_calls_{mode}.json"
    out = ROOT / "bench" / "results" / name
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"mode: {mode}; {len(PLATFORMS)} platforms, {LATENCY_S:.0f} s fake latency per call")
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
