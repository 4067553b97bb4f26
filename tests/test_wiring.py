"""socialopt.wiring: settings in, the pipeline's plain configs and services out."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from pipeline.intake import MB
from pipeline.product.openai_edit import OpenAIImageEditor
from pipeline.providers.configs import GeminiConfig, OpenAIConfig
from pipeline.providers.gemini_provider import GeminiProvider
from pipeline.providers.openai_provider import OpenAIProvider
from pipeline.recognition import MODEL_FILE
from socialopt import wiring
from socialopt.cli import main as cli_main
from socialopt.settings import Secret, Settings, SettingsError

KEYED = Settings(
    ai_provider="openai",
    openai_api_key=Secret("sk-wiring"),
    openai_base_url="http://127.0.0.1:9/v1",
    openai_model="gpt-wiring",
    openai_image_model="img-wiring",
    gemini_api_key=Secret("g-wiring"),
    gemini_base_url="http://127.0.0.1:9",
    gemini_model="gemini-wiring",
    ai_timeout_s=7.5,
    ai_max_retries=4,
)


def test_provider_configs_carry_the_settings_and_hide_the_keys() -> None:
    openai = wiring.openai_config(KEYED)
    assert openai == OpenAIConfig(
        api_key="sk-wiring",
        base_url="http://127.0.0.1:9/v1",
        model="gpt-wiring",
        image_model="img-wiring",
        timeout_s=7.5,
        max_retries=4,
    )
    gemini = wiring.gemini_config(KEYED)
    assert (gemini.api_key, gemini.model, gemini.timeout_s) == ("g-wiring", "gemini-wiring", 7.5)
    assert isinstance(gemini, GeminiConfig)
    assert "sk-wiring" not in repr(openai) and "g-wiring" not in repr(gemini)


def test_build_services_configures_every_part_from_the_settings(tmp_path: Path) -> None:
    settings = replace(KEYED, models_dir=tmp_path, max_upload_mb=3, ai_cache_days=2)
    services = wiring.build_services(settings)
    assert isinstance(services.provider, OpenAIProvider)
    assert services.provider.model == "gpt-wiring"
    assert str(services.provider.client.base_url).startswith("http://127.0.0.1:9/v1")
    assert services.provider.policy.max_retries == 4
    assert isinstance(services.accounts_provider, GeminiProvider)  # Gemini finds accounts
    assert services.accounts_provider.model == "gemini-wiring"
    assert isinstance(services.image_editor, OpenAIImageEditor)
    assert services.image_editor.model == "img-wiring"
    assert services.model_id == "gpt-wiring" and services.ai_enabled
    assert services.intake_limits.max_bytes == 3 * MB
    assert services.cache_ttl_s == 2 * 86400
    assert services.recogniser.model_path == tmp_path / MODEL_FILE


def test_offline_services_use_no_key_whatever_is_set() -> None:
    services = wiring.offline_services(KEYED)
    assert services.provider.name == services.offline.name == "offline"
    assert services.accounts_provider is services.offline
    assert services.image_editor is None and services.uploader is None
    assert not services.ai_enabled and services.model_id == "offline"


def test_negative_retries_become_none() -> None:
    settings = Settings(openai_api_key=Secret("k"), ai_max_retries=-3)
    assert wiring.provider("openai", settings).policy.max_retries == 0


def test_check_settings_gives_canonical_platform_names() -> None:
    settings = wiring.check_settings(
        Settings(default_platforms=("IG", "twitter", "ig"), hashtag_limits={"insta": 3, "x": 0})
    )
    assert settings.default_platforms == ("instagram", "x")
    assert settings.hashtag_limits == {"instagram": 3, "x": 0}


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"default_platforms": ("instagram", "myspace")}, "myspace"),
        ({"hashtag_limits": {"myspace": 2}}, "myspace"),
        ({"hashtag_limits": {"x": -1}}, "x"),
    ],
)
def test_check_settings_refuses_unknown_platforms_and_negative_caps(
    changes: dict, named: str
) -> None:
    with pytest.raises(SettingsError, match=named):
        wiring.check_settings(Settings(**changes))


def test_cli_reports_a_bad_platform_setting_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DEFAULT_PLATFORMS", "instagram,myspace")
    assert cli_main(["--env-file", "/nonexistent.env", "doctor"]) == 2
    err = capsys.readouterr().err
    assert "myspace" in err and "INVALID_SETTING" in err and "Traceback" not in err
