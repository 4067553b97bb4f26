"""AI calls per session against a fake LOCAL server (127.0.0.1) that streams its answers at
20 tokens/s, like a small model on a CPU under llama.cpp's llama-server.

Three servers, two 6-platform sessions each (the second one a different description, so the
AI cache does not answer it; then the first one again, which the cache does):
- a vision model that honours json_schema;
- a text-only model (images answered 500 "image input is not supported ... mmproj");
- a text-only model behind a server that refuses json_schema with a 400.

Per session: HTTP requests, `usage.calls`, tokens, wall time, image requests and what fell
back (the notices). Targets (issue 11): <= 3 calls per 6-platform session with a vision model;
<= 3 with a text-only model and 0 image requests after the first refusal; 0 requests repeated
after a deterministic error. Writes bench/results/ai_calls.json.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.job import run_job  # noqa: E402
from pipeline.models import JobOptions  # noqa: E402
from pipeline.providers.ai import forget_capabilities  # noqa: E402
from socialopt.settings import Secret, Settings  # noqa: E402
from socialopt.wiring import build_services  # noqa: E402
from storage.cache import MemoryCache  # noqa: E402
from tests.fakes.http import Recorded  # noqa: E402
from tests.fakes.openai import FakeOpenAI  # noqa: E402

PLATFORMS = ("instagram", "facebook", "linkedin", "pinterest", "x", "tiktok")
TOKENS_PER_S = 20.0
IMAGE = ROOT / "samples" / "coffee.jpg"
DESCRIPTIONS = ("Morning latte art in my favourite cafe", "Latte art on a slow Sunday")
SERVERS: dict[str, dict[str, Any]] = {
    "vision model, json_schema": {},
    "text-only model": {"vision": False},
    "text-only model, json_schema refused (400)": {
        "vision": False,
        "refuse_formats": {"json_schema"},
    },
}
TARGET_CALLS = 3


def _repeats(requests: list[Recorded]) -> int:
    """Requests of a kind the server had already refused deterministically: an image after
    the first "image input is not supported", json_schema after the first 400 for it."""
    refused_images = refused_schema = False
    repeats = 0
    for r in requests:
        image = "image_url" in r.body.decode()
        schema = (r.json.get("response_format") or {}).get("type") == "json_schema"
        repeats += (image and refused_images) or (schema and not image and refused_schema)
        refused_images |= image and r.status == 500
        refused_schema |= schema and not image and r.status == 400
    return repeats


def session(fake: FakeOpenAI, services: Any, description: str) -> dict[str, Any]:
    options = JobOptions(platforms=PLATFORMS, description=description, use_ai=True)
    before = len(fake.chat_requests())
    images_before = sum("image_url" in r.body.decode() for r in fake.chat_requests())
    t0 = time.perf_counter()
    result = run_job(IMAGE.read_bytes(), options, services)
    wall = time.perf_counter() - t0
    images = sum("image_url" in r.body.decode() for r in fake.chat_requests()) - images_before
    return {
        "http_requests": len(fake.chat_requests()) - before,
        "calls": result.usage.calls,
        "prompt_tokens": result.usage.prompt_tokens,
        "completion_tokens": result.usage.completion_tokens,
        "cache_hits": result.usage.cache_hits,
        "image_requests": images,
        "wall_s": round(wall, 2),
        "fell_back": list(result.usage.notices),
        "captions_by": sorted({r.provider for r in result.platforms.values()}),
    }


def run_server(name: str, behaviour: dict[str, Any]) -> dict[str, Any]:
    forget_capabilities()  # each server as in a fresh process
    with FakeOpenAI(tokens_per_s=TOKENS_PER_S, count_tokens=True, **behaviour) as fake:
        settings = Settings(
            ai_provider="openai",
            openai_api_key=Secret("local"),
            openai_base_url=fake.base_url,
            openai_model="qwen2.5",
        )
        services = build_services(settings, cache=MemoryCache())
        runs = [session(fake, services, d) for d in DESCRIPTIONS]
        runs.append(session(fake, services, DESCRIPTIONS[0]))  # the AI cache answers it
        repeats = _repeats(fake.chat_requests())
    return {"server": name, "sessions": runs, "repeated_after_deterministic_error": repeats}


def main() -> int:
    servers = [run_server(name, behaviour) for name, behaviour in SERVERS.items()]
    vision, text_only, refused = servers
    ok = (
        all(s["calls"] <= TARGET_CALLS for s in vision["sessions"])
        and all(s["calls"] <= TARGET_CALLS for s in text_only["sessions"])
        and all(s["image_requests"] == 0 for srv in servers[1:] for s in srv["sessions"][1:])
        and all(srv["repeated_after_deterministic_error"] == 0 for srv in servers)
    )
    report = {
        "benchmark": "ai_calls",
        "platforms": list(PLATFORMS),
        "fake_server": f"127.0.0.1, streaming {TOKENS_PER_S:g} tokens/s",
        "servers": servers,
        "targets": {
            "calls_per_session_vision": TARGET_CALLS,
            "calls_per_session_text_only": TARGET_CALLS,
            "image_requests_after_first_refusal": 0,
            "requests_repeated_after_deterministic_error": 0,
        },
        "ok": ok,
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    out = ROOT / "bench" / "results" / "ai_calls.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(f"{len(PLATFORMS)} platforms, fake local server streaming {TOKENS_PER_S:g} tokens/s")
    for srv in servers:
        print(
            f"{srv['server']} (repeated after a deterministic error: "
            f"{srv['repeated_after_deterministic_error']})"
        )
        for i, s in enumerate(srv["sessions"], 1):
            fell = "; ".join(s["fell_back"]) or "nothing"
            print(
                f"  session {i}: {s['calls']} calls ({s['image_requests']} with an image), "
                f"tokens {s['prompt_tokens']}+{s['completion_tokens']}, {s['wall_s']:.1f} s, "
                f"cache hits {s['cache_hits']}; fell back: {fell}"
            )
    print(f"targets met: {ok}  -> {out.relative_to(ROOT)}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
