"""OpenAIProvider with the real openai client against a fake server on 127.0.0.1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.errors import ProviderError
from pipeline.job import run_job
from pipeline.models import ImageAnalysis, JobOptions, NamedColor, Niche, Usage
from pipeline.platforms import get_spec
from pipeline.providers import common
from pipeline.providers.base import AccountsRequest, AnalysisRequest, ContentRequest
from pipeline.providers.configs import OpenAIConfig
from pipeline.providers.openai_provider import UNVERIFIED_NOTE, OpenAIProvider
from pipeline.serialize import account_from_dict, analysis_from_dict, to_dict
from socialopt.settings import Secret, Settings
from socialopt.wiring import build_services
from storage.cache import MemoryCache
from tests.factories import make_analysis
from tests.fakes.http import Reply, closed_port
from tests.fakes.openai import FakeOpenAI, chat_reply, error_reply, good_content

ROOT = Path(__file__).resolve().parents[1]
ALL = ("instagram", "facebook", "linkedin", "pinterest", "x", "tiktok")
JPEG = b"\xff\xd8\xff\xe0fake-jpeg-bytes\xff\xd9"


def baseline() -> ImageAnalysis:
    return make_analysis(
        brightness=0.55,
        sharpness=120.0,
        colors=[NamedColor("white", "#ffffff", 0.4)],
        product_likeness=0.3,
        product_reason="offline guess",
        description="A landscape photo.",
        keywords=["white"],
    )


@pytest.fixture
def fake():
    with FakeOpenAI() as server:
        yield server


def make(
    base_url: str,
    *,
    timeout: float = 5.0,
    retries: int = 2,
    stream: bool = True,
    stall_s: float = 5.0,
) -> OpenAIProvider:
    config = OpenAIConfig(
        api_key="sk-test",
        base_url=base_url,
        model="gpt-test-mini",
        timeout_s=timeout,
        max_retries=retries,
        stream=stream,
        stall_s=stall_s,
    )
    policy = common.RetryPolicy(max_retries=retries, max_wait_s=0.5, backoff_s=0.01)
    return OpenAIProvider(config, policy=policy)


def content_request(platforms=ALL) -> ContentRequest:
    return ContentRequest(
        analysis=baseline(),
        niches=[Niche("coffee", "Coffee", 1.0)],
        platforms=platforms,
        description="Morning latte",
        language="es",
        tone="casual",
        hashtag_candidates={p: ["#latte", "#CafeDeEspecialidad", "#morning"] for p in platforms},
    )


def messages_text(body: dict) -> str:
    return json.dumps(body["messages"], ensure_ascii=False)


# ----------------------------------------------------------------------------- success


def test_client_is_built_from_config_without_its_own_retries(fake):
    provider = make(fake.base_url)
    assert provider.client.max_retries == 0
    assert str(provider.client.base_url).startswith(fake.base_url)
    assert provider.model == "gpt-test-mini"


def test_registry_creates_openai_provider(fake):
    import pipeline.providers  # noqa: F401
    from pipeline.providers.base import available, create_provider

    assert {"openai", "gemini"} <= set(available())
    config = OpenAIConfig(api_key="k", base_url=fake.base_url)
    assert isinstance(create_provider("openai", config), OpenAIProvider)


def test_analyse_sends_image_and_merges_onto_baseline(fake):
    usage = Usage()
    result = make(fake.base_url).analyse(
        AnalysisRequest(JPEG, baseline(), "my latte", "en"), usage
    )
    assert len(fake.chat_requests()) == 1
    body = fake.chat_requests()[0].json
    assert body["model"] == "gpt-test-mini"
    fmt = body["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] is True
    image_part = body["messages"][1]["content"][1]
    assert image_part["image_url"]["url"].startswith("data:image/jpeg;base64,")
    # measured numbers kept, words replaced
    assert (result.width, result.height, result.sharpness) == (600, 400, 120.0)
    assert result.description.startswith("A cup of latte")
    assert "latte" in result.keywords and "cosy" in result.keywords
    assert result.niches == ["coffee"]  # unknown niche keys dropped
    assert result.provider == "gpt-test-mini at " + fake.root[7:] + " (OpenAI-compatible)"
    assert usage.calls == 1 and usage.prompt_tokens == 100 and usage.completion_tokens == 50


def test_content_for_all_platforms_in_one_call(fake):
    usage = Usage()
    out = make(fake.base_url).write_content(content_request(), usage)
    assert len(fake.chat_requests()) == 1
    body = fake.chat_requests()[0].json
    schema = body["response_format"]["json_schema"]["schema"]
    assert schema["required"] == list(ALL)
    assert schema["additionalProperties"] is False
    text = messages_text(body)
    assert "Spanish" in text and "casual" in text and "#CafeDeEspecialidad" in text
    assert set(out) == set(ALL)
    for p, item in out.items():
        spec = get_spec(p)
        assert item.provider == "gpt-test-mini at " + fake.root[7:] + " (OpenAI-compatible)"
        assert 1 <= len(item.hashtags) <= spec.hashtag_max
        assert all(t.startswith("#") for t in item.hashtags)
        assert len(item.caption) <= spec.caption_limit
    assert out["pinterest"].title and out["tiktok"].title
    assert out["instagram"].title == ""
    assert usage.calls == 1


def test_find_accounts_one_call_validated_and_deduplicated(fake):
    usage = Usage()
    req = AccountsRequest(
        [Niche("coffee", "Coffee", 1.0)], "instagram", platforms=("instagram", "x"), limit=5
    )
    found = make(fake.base_url).find_accounts(req, usage)
    assert len(fake.chat_requests()) == 1
    schema = fake.chat_requests()[0].json["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["accounts"]["items"]["properties"]["platform"]["enum"] == [
        "instagram",
        "x",
    ]
    handles = [(a.platform, a.handle) for a in found]
    assert handles == [
        ("instagram", "@latteartist"),
        ("instagram", "@coffee.daily"),
        ("x", "@latteartist"),
        ("x", "@coffee_daily"),
    ]
    assert all(a.source == "openai" and a.note.startswith(UNVERIFIED_NOTE) for a in found)
    assert found[0].url == "https://www.instagram.com/latteartist/"
    assert found[2].url == "https://x.com/latteartist"
    assert usage.calls == 1


# ----------------------------------------------------------------------------- faults


def test_rate_limit_retry_after_is_honoured(fake):
    fake.queue(
        error_reply(429, "slow down", code="rate_limit_exceeded", headers={"Retry-After": "0.3"})
    )
    provider = make(fake.base_url)
    out = provider.write_content(content_request(("x",)), Usage())
    assert len(fake.chat_requests()) == 2
    assert len(provider.policy.waits) == 1
    assert 0.3 <= provider.policy.waits[0] <= provider.policy.max_wait_s
    assert out["x"].provider == provider.label


def test_rate_limit_retry_after_ms_header(fake):
    fake.queue(error_reply(429, "slow", headers={"retry-after-ms": "120"}))
    provider = make(fake.base_url)
    provider.write_content(content_request(("x",)), Usage())
    assert len(fake.chat_requests()) == 2
    assert provider.policy.waits == [pytest.approx(0.12)]


def test_rate_limit_is_retried_a_bounded_number_of_times(fake):
    for _ in range(5):
        fake.queue(error_reply(429, "slow", headers={"Retry-After": "0.05"}))
    provider = make(fake.base_url, retries=2)
    with pytest.raises(ProviderError) as err:
        provider.write_content(content_request(("x",)), Usage())
    assert err.value.code == "AI_RATE_LIMITED" and err.value.retryable
    assert len(fake.chat_requests()) == 3
    assert len(provider.policy.waits) == 2
    assert all(0.05 <= w <= 0.5 for w in provider.policy.waits)


def test_retry_after_longer_than_the_bound_fails_at_once(fake):
    fake.queue(error_reply(429, "slow", headers={"Retry-After": "3600"}))
    provider = make(fake.base_url)
    with pytest.raises(ProviderError) as err:
        provider.write_content(content_request(("x",)), Usage())
    assert err.value.code == "AI_RATE_LIMITED"
    assert len(fake.chat_requests()) == 1
    assert provider.policy.waits == []


def test_insufficient_quota_is_never_retried(fake):
    fake.queue(
        error_reply(
            429,
            "You exceeded your current quota",
            code="insufficient_quota",
            type_="insufficient_quota",
            headers={"Retry-After": "0.01"},
        )
    )
    provider = make(fake.base_url)
    usage = Usage()
    with pytest.raises(ProviderError) as err:
        provider.analyse(AnalysisRequest(JPEG, baseline()), usage)
    assert err.value.quota is True and err.value.code == "AI_QUOTA_EXCEEDED"
    assert not err.value.retryable
    assert len(fake.chat_requests()) == 1
    assert provider.policy.waits == []
    assert usage.calls == 1  # a failed request is counted too (no tokens)
    assert usage.prompt_tokens == usage.completion_tokens == 0


def test_payment_required_counts_as_quota(fake):
    fake.queue(error_reply(402, "Insufficient credits"))
    with pytest.raises(ProviderError) as err:
        make(fake.base_url).write_content(content_request(("x",)), Usage())
    assert err.value.quota and len(fake.chat_requests()) == 1


def test_unauthorized_is_not_retried(fake):
    fake.queue(error_reply(401, "Incorrect API key provided", code="invalid_api_key"))
    usage = Usage()
    with pytest.raises(ProviderError) as err:
        make(fake.base_url).write_content(content_request(), usage)
    assert err.value.code == "AI_AUTH_FAILED" and not err.value.retryable
    assert len(fake.chat_requests()) == 1


def test_server_errors_are_retried_then_fail(fake):
    for _ in range(3):
        fake.queue(error_reply(500, "boom", type_="server_error"))
    provider = make(fake.base_url, retries=2)
    with pytest.raises(ProviderError) as err:
        provider.write_content(content_request(), Usage())
    assert err.value.code == "AI_SERVER_ERROR" and err.value.retryable
    assert len(fake.chat_requests()) == 3
    assert provider.policy.waits == [0.01, 0.02]  # exponential backoff, bounded


def test_one_server_error_then_success(fake):
    fake.queue(error_reply(503, "overloaded"))
    out = make(fake.base_url).write_content(content_request(("linkedin",)), Usage())
    assert len(fake.chat_requests()) == 2
    assert out["linkedin"].caption


def test_timeout_of_an_accepted_request_is_not_retried(fake):
    """The server took the request and was still generating: one long wait beats three short
    ones, so the timeout is not retried (a retry would throw the generation away)."""
    fake.queue(Reply(delay_s=1.0), Reply(delay_s=1.0))
    provider = make(fake.base_url, timeout=0.2, retries=2, stream=False)
    usage = Usage()
    with pytest.raises(ProviderError) as err:
        provider.write_content(content_request(("x",)), usage)
    assert err.value.code == "AI_TIMEOUT" and not err.value.retryable
    assert len(fake.chat_requests()) == 1
    assert usage.calls == 1


def test_a_stalled_stream_is_detected_by_silence_and_not_retried():
    """Tokens arrive, then nothing: the stall is found after `stall_s` of silence, however long
    the whole answer may take."""
    with FakeOpenAI(stall_after=3, stall_s=3.0) as server:
        provider = make(server.base_url, timeout=30.0, stall_s=0.4)
        with pytest.raises(ProviderError) as err:
            provider.write_content(content_request(("x",)), Usage())
        assert err.value.code == "AI_STALLED" and not err.value.retryable
        assert "0.4 s" in err.value.message
        assert len(server.chat_requests()) == 1


def test_connection_refused():
    provider = make(f"http://127.0.0.1:{closed_port()}/v1", retries=2)
    with pytest.raises(ProviderError) as err:
        provider.write_content(content_request(("x",)), Usage())
    assert err.value.code == "AI_UNREACHABLE"
    assert len(provider.policy.waits) == 2  # bounded


def test_malformed_json_then_repair(fake):
    fake.queue(chat_reply('{"instagram": {"caption": "oops"'))
    usage = Usage()
    out = make(fake.base_url).write_content(content_request(("instagram", "x")), usage)
    reqs = fake.chat_requests()
    assert len(reqs) == 2
    repair = reqs[1].json["messages"]
    assert repair[-2]["role"] == "assistant" and "oops" in repair[-2]["content"]
    assert "not valid JSON" in repair[-1]["content"]
    assert set(out) == {"instagram", "x"}
    assert usage.calls == 2 and usage.prompt_tokens == 200


def test_malformed_twice_fails(fake):
    fake.queue(chat_reply("not json"), chat_reply("```json\n[1, 2]\n```"))
    with pytest.raises(ProviderError) as err:
        make(fake.base_url).write_content(content_request(("x",)), Usage())
    assert err.value.code == "AI_BAD_RESPONSE"
    assert len(fake.chat_requests()) == 2


def test_schema_violation_missing_platform_is_repaired(fake):
    fake.queue(chat_reply(good_content(["instagram"])))
    out = make(fake.base_url).write_content(content_request(("instagram", "x")), Usage())
    reqs = fake.chat_requests()
    assert len(reqs) == 2
    assert "platforms missing from the answer: x" in messages_text(reqs[1].json)
    assert set(out) == {"instagram", "x"}


def test_schema_violation_twice_fails(fake):
    bad = good_content(["x"])
    bad["x"]["hashtags"] = "#one #two"  # a string, not a list
    fake.queue(chat_reply(bad), chat_reply(bad))
    with pytest.raises(ProviderError) as err:
        make(fake.base_url).write_content(content_request(("x",)), Usage())
    assert err.value.code == "AI_BAD_RESPONSE"
    assert "x.hashtags must be a list of strings" in err.value.message


def test_refusal(fake):
    fake.queue(chat_reply(None, refusal="I can't help with that request."))
    with pytest.raises(ProviderError) as err:
        make(fake.base_url).write_content(content_request(("x",)), Usage())
    assert err.value.code == "AI_REFUSED" and not err.value.retryable
    assert len(fake.chat_requests()) == 1


def test_content_filter_finish_reason_is_a_refusal(fake):
    fake.queue(chat_reply(good_content(["x"]), finish_reason="content_filter"))
    with pytest.raises(ProviderError) as err:
        make(fake.base_url).analyse(AnalysisRequest(JPEG, baseline()), Usage())
    assert err.value.code == "AI_REFUSED"


def test_over_long_answers_are_trimmed_to_platform_limits(fake):
    answer = good_content(["x", "instagram", "pinterest"], caption="latte " * 900)
    answer["pinterest"]["title"] = "Title " * 60
    answer["x"]["hashtags"] = ["#LatteArtEveryMorning", "#CoffeeLovers", "#Barista", "#Cafe"]
    fake.queue(chat_reply(answer))
    out = make(fake.base_url).write_content(
        content_request(("x", "instagram", "pinterest")), Usage()
    )
    x = out["x"]
    assert len(x.hashtags) <= 2
    assert len(x.caption) + 1 + len(" ".join(x.hashtags)) <= 280
    assert 0 < len(x.caption) < len(answer["x"]["caption"])
    assert len(out["instagram"].caption) <= 2200
    assert len(out["instagram"].hashtags) <= 5
    assert len(out["pinterest"].caption) <= 500
    assert len(out["pinterest"].title) <= 100


def test_too_few_hashtags_are_topped_up_from_candidates(fake):
    answer = good_content(["linkedin"])
    answer["linkedin"]["hashtags"] = ["#Coffee"]
    fake.queue(chat_reply(answer))
    out = make(fake.base_url).write_content(content_request(("linkedin",)), Usage())
    assert len(out["linkedin"].hashtags) >= get_spec("linkedin").hashtag_min


def test_token_usage_is_recorded_per_call(fake):
    fake.queue(
        chat_reply(good_content(["x"]), prompt_tokens=11, completion_tokens=7),
        chat_reply({"accounts": []}, prompt_tokens=5, completion_tokens=3),
    )
    usage = Usage()
    provider = make(fake.base_url)
    provider.write_content(content_request(("x",)), usage)
    provider.find_accounts(AccountsRequest([Niche("coffee", "Coffee", 1.0)], "x"), usage)
    assert usage.calls == 2
    assert (usage.prompt_tokens, usage.completion_tokens) == (16, 10)
    assert usage.by_provider == {"openai": 2}


def cached_ai_session(fake, tmp_path):
    """Services with an in-memory AI cache against the fake server, options and the photo."""
    services = build_services(
        Settings(
            ai_provider="openai",
            openai_api_key=Secret("sk-test"),
            openai_base_url=fake.base_url,
            u2net_home=tmp_path,
        ),
        cache=MemoryCache(),
    )
    options = JobOptions(platforms=("x", "pinterest"), description="my latte", use_ai=True)
    return services, options, (ROOT / "samples" / "coffee.jpg").read_bytes()


def test_warm_cache_makes_no_calls(fake, tmp_path):
    """A second identical session is answered from the AI cache: no request reaches the API."""
    services, options, image = cached_ai_session(fake, tmp_path)
    cold = run_job(image, options, services)
    sent = len(fake.chat_requests())
    warm = run_job(image, options, services)
    assert sent == 3 and cold.usage.calls == 3
    assert len(fake.chat_requests()) == sent
    assert warm.usage.calls == 0 and warm.usage.cache_hits == 1
    for key in ("x", "pinterest"):
        assert warm.platforms[key].content.caption == cold.platforms[key].content.caption
        assert warm.platforms[key].provider == services.provider.label
    assert warm.analysis.description == cold.analysis.description


def test_results_serialise_for_the_cache(fake):
    usage = Usage()
    provider = make(fake.base_url)
    analysis = provider.analyse(AnalysisRequest(JPEG, baseline()), usage)
    assert analysis_from_dict(json.loads(json.dumps(to_dict(analysis)))) == analysis
    req = AccountsRequest([Niche("coffee", "Coffee", 1.0)], "x")
    accounts = provider.find_accounts(req, usage)
    roundtrip = [
        account_from_dict(a) for a in json.loads(json.dumps([to_dict(a) for a in accounts]))
    ]
    assert roundtrip == accounts and accounts


def test_a_failed_content_answer_is_not_cached(fake, tmp_path):
    """When the captions fall back to offline, the next identical session asks the AI again."""
    answer = fake.default_reply

    def refuse_content(request):
        fmt = (request.json.get("response_format") or {}).get("json_schema") or {}
        if fmt.get("name") == "platform_content":
            return error_reply(400, "bad request", code="invalid_request_error")
        return answer(request)

    fake.default_reply = refuse_content
    services, options, image = cached_ai_session(fake, tmp_path)
    first = run_job(image, options, services)
    assert {r.provider for r in first.platforms.values()} == {"offline"}
    sent = len(fake.chat_requests())
    second = run_job(image, options, services)
    assert second.usage.cache_hits == 0
    assert len(fake.chat_requests()) > sent
