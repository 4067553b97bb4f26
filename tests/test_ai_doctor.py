"""`socialopt doctor --ai`: three calls to the configured server, through the real openai
client, and what socialopt will use it for."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.providers.ai import forget_capabilities
from socialopt.cli import EXIT_FAILED, EXIT_OK, main
from tests.fakes.openai import NO_VISION_MESSAGE, FakeOpenAI, error_reply


@pytest.fixture(autouse=True)
def fresh_process_memory():
    forget_capabilities()
    yield
    forget_capabilities()


def doctor(
    tmp_path: Path,
    fake: FakeOpenAI,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[int, str]:
    """Run `socialopt doctor --ai` against `fake` (settings from the environment only)."""
    for key, value in {
        "AI_PROVIDER": "openai",
        "OPENAI_API_KEY": "local",
        "OPENAI_BASE_URL": fake.base_url,
        "OPENAI_MODEL": "qwen2.5",
    }.items():
        monkeypatch.setenv(key, value)
    empty = tmp_path / "empty.env"
    empty.write_text("", encoding="utf-8")
    code = main(["--env-file", str(empty), "doctor", "--ai"])
    return code, capsys.readouterr().out


def test_a_vision_model_with_json_schema(tmp_path, capsys, monkeypatch):
    with FakeOpenAI(models=("qwen2.5", "llava")) as fake:
        code, out = doctor(tmp_path, fake, capsys, monkeypatch)
        paths = [r.path for r in fake.requests]
    assert code == EXIT_OK
    assert paths == ["/v1/models", "/v1/chat/completions", "/v1/chat/completions"]
    assert f"qwen2.5 at 127.0.0.1:{fake.port} (OpenAI-compatible)" in out
    assert "models  ok" in out and "json    ok    JSON answers work (json_schema)" in out
    assert "vision  ok" in out
    assert "use it for: image analysis, captions" in out


def test_a_text_only_model_without_json_schema(tmp_path, capsys, monkeypatch):
    with FakeOpenAI(vision=False, refuse_formats={"json_schema"}, models=("other",)) as fake:
        code, out = doctor(tmp_path, fake, capsys, monkeypatch)
    assert code == EXIT_OK
    assert "JSON answers work (json_object)" in out
    assert "vision  FAIL" in out and NO_VISION_MESSAGE in out and "AI_NO_VISION" in out
    assert "serves one model (other)" in out
    assert "use it for: captions, hashtags and alt text, account suggestions" in out
    assert "analysed offline" in out


def test_a_server_that_cannot_answer_json_fails(tmp_path, capsys, monkeypatch):
    with FakeOpenAI(models=()) as fake:
        fake.queue(*[error_reply(500, "model failed to load") for _ in range(6)])
        code, out = doctor(tmp_path, fake, capsys, monkeypatch)
    assert code == EXIT_FAILED
    assert "json    FAIL" in out and "model failed to load" in out
    assert "use it for: nothing (offline results)" in out
