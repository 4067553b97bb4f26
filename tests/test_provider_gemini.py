"""GeminiProvider with the real google-genai client against a fake server on 127.0.0.1."""

from __future__ import annotations

import json

import pytest

from pipeline.errors import ProviderError
from pipeline.models import Niche, Usage
from pipeline.providers import common
from pipeline.providers.base import AccountsRequest, AnalysisRequest, ContentRequest
from pipeline.providers.configs import GeminiConfig
from pipeline.providers.gemini_provider import (
    GROUNDED_NOTE,
    UNGROUNDED_NOTE,
    GeminiProvider,
)
from tests.fakes.gemini import (
    GROUNDED_CHUNKS,
    FakeGemini,
    gemini_error,
    gemini_reply,
)
from tests.fakes.http import Reply, closed_port
from tests.fakes.openai import good_content
from tests.test_provider_openai import JPEG, baseline

COFFEE = [Niche("coffee", "Coffee", 1.0)]


@pytest.fixture
def fake():
    with FakeGemini() as server:
        yield server


def make(base_url: str, *, timeout: float = 5.0, retries: int = 2) -> GeminiProvider:
    config = GeminiConfig(
        api_key="g-test",
        base_url=base_url,
        model="gemini-test",
        timeout_s=timeout,
        max_retries=retries,
    )
    policy = common.RetryPolicy(max_retries=retries, max_wait_s=0.5, backoff_s=0.01)
    return GeminiProvider(config, policy=policy)


def content_request(platforms=("instagram", "x")) -> ContentRequest:
    return ContentRequest(
        analysis=baseline(),
        niches=COFFEE,
        platforms=platforms,
        language="de",
        tone="funny",
    )


# ----------------------------------------------------------------------------- grounding


def test_grounded_account_discovery(fake):
    usage = Usage()
    provider = make(fake.base_url)
    req = AccountsRequest(COFFEE, "instagram", platforms=("instagram", "x", "tiktok"))
    found = provider.find_accounts(req, usage)

    reqs = fake.generate_requests()
    assert len(reqs) == 1 and "gemini-test:generateContent" in reqs[0].path
    body = reqs[0].json
    assert any("googleSearch" in t for t in body["tools"])
    assert reqs[0].headers.get("x-goog-api-key") == "g-test"

    got = {(a.platform, a.handle): a for a in found}
    # invalid handles dropped (@bad..handle, too long for X, /explore/ path), duplicates merged
    assert list(got) == [
        ("instagram", "@latteartist"),
        ("x", "@coffee_news"),
        ("tiktok", "@barista.life"),
        ("instagram", "@cafe.culture"),
    ]
    assert all(a.source == "gemini" and a.niche == "coffee" for a in found)
    # each with the grounding source it came from
    assert got["instagram", "@latteartist"].url == GROUNDED_CHUNKS[0]["uri"]
    assert got["x", "@coffee_news"].url == GROUNDED_CHUNKS[1]["uri"]
    assert got["instagram", "@cafe.culture"].url == GROUNDED_CHUNKS[3]["uri"]
    assert got["x", "@coffee_news"].note == GROUNDED_NOTE
    # mentioned without a supporting source: a profile link, marked as such
    assert got["tiktok", "@barista.life"].url == "https://www.tiktok.com/@barista.life"
    assert got["tiktok", "@barista.life"].note == UNGROUNDED_NOTE
    assert usage.calls == 1 and usage.prompt_tokens == 120


def test_grounded_handles_are_capped_per_platform(fake):
    text = "\n".join(f"Instagram: @coffee_account{i}" for i in range(8))
    fake.queue(gemini_reply(text, chunks=[], supports=[]))
    found = make(fake.base_url).find_accounts(
        AccountsRequest(COFFEE, "instagram", limit=3), Usage()
    )
    assert [a.handle for a in found] == [
        "@coffee_account0",
        "@coffee_account1",
        "@coffee_account2",
    ]


def test_ambiguous_handles_are_skipped_when_several_platforms(fake):
    fake.queue(gemini_reply("Try @someone and @another.", chunks=[], supports=[]))
    found = make(fake.base_url).find_accounts(
        AccountsRequest(COFFEE, "instagram", platforms=("instagram", "x")), Usage()
    )
    assert found == []


# ----------------------------------------------------------------------------- JSON answers


def test_analyse_with_json_schema(fake):
    usage = Usage()
    out = make(fake.base_url).analyse(AnalysisRequest(JPEG, baseline(), "latte"), usage)
    body = fake.generate_requests()[0].json
    config = body["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert "description" in config["responseSchema"]["properties"]
    assert any("inlineData" in p for p in body["contents"][0]["parts"])
    assert out.provider == "Gemini" and out.width == 600 and out.niches == ["coffee"]
    assert usage.calls == 1


def test_write_content_all_platforms_in_one_call(fake):
    usage = Usage()
    out = make(fake.base_url).write_content(
        content_request(("instagram", "x", "pinterest", "tiktok")), usage
    )
    assert len(fake.generate_requests()) == 1
    body = fake.generate_requests()[0].json
    assert "German" in json.dumps(body)
    assert set(out) == {"instagram", "x", "pinterest", "tiktok"}
    assert all(c.provider == "Gemini" for c in out.values())
    assert out["pinterest"].title
    assert usage.calls == 1


# ----------------------------------------------------------------------------- faults


def test_rate_limit_with_retry_after_is_honoured(fake):
    fake.queue(
        gemini_error(
            429,
            "Resource has been exhausted (e.g. check quota).",
            "RESOURCE_EXHAUSTED",
            headers={"Retry-After": "0.2"},
        )
    )
    provider = make(fake.base_url)
    out = provider.write_content(content_request(), Usage())
    assert len(fake.generate_requests()) == 2
    assert len(provider.policy.waits) == 1 and 0.2 <= provider.policy.waits[0] <= 0.5
    assert set(out) == {"instagram", "x"}


def test_rate_limit_with_retry_info_delay(fake):
    fake.queue(
        gemini_error(
            429,
            "Rate limit",
            "RESOURCE_EXHAUSTED",
            details=[{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "0.1s"}],
        )
    )
    provider = make(fake.base_url)
    provider.write_content(content_request(), Usage())
    assert len(fake.generate_requests()) == 2
    assert provider.policy.waits == [pytest.approx(0.1)]


def test_quota_exhausted_is_not_retried(fake):
    fake.queue(
        gemini_error(
            429, "You exceeded your current quota, please check your plan.", "RESOURCE_EXHAUSTED"
        )
    )
    usage = Usage()
    provider = make(fake.base_url)
    with pytest.raises(ProviderError) as err:
        provider.find_accounts(AccountsRequest(COFFEE, "instagram"), usage)
    assert err.value.quota is True and err.value.code == "AI_QUOTA_EXCEEDED"
    assert len(fake.generate_requests()) == 1 and provider.policy.waits == []
    assert usage.calls == 1  # a failed request is counted too (no tokens)


@pytest.mark.parametrize("status,name", [(401, "UNAUTHENTICATED"), (403, "PERMISSION_DENIED")])
def test_auth_errors_are_not_retried(fake, status, name):
    fake.queue(gemini_error(status, "API key not valid.", name))
    with pytest.raises(ProviderError) as err:
        make(fake.base_url).write_content(content_request(), Usage())
    assert err.value.code == "AI_AUTH_FAILED"
    assert len(fake.generate_requests()) == 1


def test_server_errors_bounded(fake):
    for _ in range(4):
        fake.queue(gemini_error(503, "The model is overloaded.", "UNAVAILABLE"))
    provider = make(fake.base_url, retries=2)
    with pytest.raises(ProviderError) as err:
        provider.write_content(content_request(), Usage())
    assert err.value.code == "AI_SERVER_ERROR" and err.value.retryable
    assert len(fake.generate_requests()) == 3


def test_timeout_of_an_accepted_request_is_not_retried(fake):
    """A read timeout means Gemini had the request: it is not sent again."""
    fake.queue(Reply(delay_s=1.0), Reply(delay_s=1.0))
    provider = make(fake.base_url, timeout=0.2, retries=1)
    with pytest.raises(ProviderError) as err:
        provider.write_content(content_request(), Usage())
    assert err.value.code == "AI_TIMEOUT" and not err.value.retryable
    assert len(fake.generate_requests()) == 1


def test_connection_refused():
    provider = make(f"http://127.0.0.1:{closed_port()}/", retries=1)
    with pytest.raises(ProviderError) as err:
        provider.find_accounts(AccountsRequest(COFFEE, "x"), Usage())
    assert err.value.code == "AI_UNREACHABLE"
    assert len(provider.policy.waits) == 1


def test_malformed_json_then_repair(fake):
    fake.queue(gemini_reply('{"instagram": '))
    out = make(fake.base_url).write_content(content_request(), Usage())
    reqs = fake.generate_requests()
    assert len(reqs) == 2
    assert "not valid JSON" in json.dumps(reqs[1].json)
    assert set(out) == {"instagram", "x"}


def test_malformed_twice_fails(fake):
    fake.queue(gemini_reply("nope"), gemini_reply('{"instagram": {}}'))
    with pytest.raises(ProviderError) as err:
        make(fake.base_url).write_content(content_request(), Usage())
    assert err.value.code == "AI_BAD_RESPONSE"
    assert len(fake.generate_requests()) == 2


def test_schema_violation_then_repair(fake):
    bad = good_content(["instagram", "x"])
    bad["x"]["caption"] = ""
    fake.queue(gemini_reply(bad))
    out = make(fake.base_url).write_content(content_request(), Usage())
    assert len(fake.generate_requests()) == 2
    assert "x.caption must be a non-empty string" in json.dumps(fake.generate_requests()[1].json)
    assert out["x"].caption


def test_refusal_by_finish_reason(fake):
    fake.queue(gemini_reply("", finish_reason="SAFETY"))
    with pytest.raises(ProviderError) as err:
        make(fake.base_url).write_content(content_request(), Usage())
    assert err.value.code == "AI_REFUSED"
    assert len(fake.generate_requests()) == 1


def test_refusal_by_blocked_prompt(fake):
    fake.queue(gemini_reply("", block_reason="PROHIBITED_CONTENT"))
    with pytest.raises(ProviderError) as err:
        make(fake.base_url).analyse(AnalysisRequest(JPEG, baseline()), Usage())
    assert err.value.code == "AI_REFUSED"


def test_over_long_caption_trimmed(fake):
    fake.queue(gemini_reply(good_content(["x"], caption="Kaffee " * 100)))
    out = make(fake.base_url).write_content(content_request(("x",)), Usage())
    x = out["x"]
    assert len(x.caption) + 1 + len(" ".join(x.hashtags)) <= 280


def test_find_handles_uses_headings_urls_and_skips_emails():
    text = (
        "**Instagram**\n"
        "1. @first.account - mail me at someone@example.com\n"
        "**X (Twitter)**\n"
        "- @second_acc\n"
        "- https://www.tiktok.com/@third.one\n"
    )
    found = [(h, p) for _, h, p in common.find_handles(text, ["instagram", "x", "tiktok"])]
    assert found == [("first.account", "instagram"), ("second_acc", "x"), ("third.one", "tiktok")]


def test_parse_json_tolerates_a_code_fence():
    assert common.parse_json_object('```json\n{"a": 1}\n```') == {"a": 1}
    with pytest.raises(common.InvalidAnswer):
        common.parse_json_object("")
