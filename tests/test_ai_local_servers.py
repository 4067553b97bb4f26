"""The model a user really runs: the real openai client against a fake server that behaves
like llama.cpp's llama-server (and servers like it) in each case of issue 11.

Text-only models, servers that ignore or refuse `response_format`, cut-off answers, slow and
stalled streams, junk hashtags, captions in the wrong language, accounts that fail validation.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pipeline.errors import ProviderError
from pipeline.job import run_job
from pipeline.models import JobOptions, Niche, Usage
from pipeline.platforms import get_spec
from pipeline.ports import AccountsRequest, AnalysisRequest, ContentRequest
from pipeline.providers import prompts
from pipeline.providers.ai import forget_capabilities
from pipeline.providers.common import RetryPolicy
from pipeline.providers.configs import OpenAIConfig
from pipeline.providers.openai_provider import OpenAIProvider
from socialopt.settings import Secret, Settings
from socialopt.wiring import build_services, openai_config
from storage.cache import MemoryCache
from tests.factories import make_analysis
from tests.fakes.openai import (
    FakeOpenAI,
    chat_reply,
    error_reply,
    good_accounts,
    good_content,
)

ROOT = Path(__file__).resolve().parents[1]
SIX = ("instagram", "facebook", "linkedin", "pinterest", "x", "tiktok")
JPEG = (ROOT / "samples" / "coffee.jpg").read_bytes()[:4000]  # any bytes: the fake never decodes


@pytest.fixture(autouse=True)
def fresh_process_memory():
    """Every test starts like a new process: no server's capabilities are known yet."""
    forget_capabilities()
    yield
    forget_capabilities()


def provider(base_url: str, *, retries: int = 2, **extra: Any) -> OpenAIProvider:
    config = OpenAIConfig(
        api_key="local", base_url=base_url, model="qwen2.5", max_retries=retries, **extra
    )
    return OpenAIProvider(
        config, policy=RetryPolicy(max_retries=retries, max_wait_s=0.5, backoff_s=0.01)
    )


def content_request(platforms=("instagram", "x"), language: str = "en") -> ContentRequest:
    return ContentRequest(
        analysis=make_analysis(description="A cup of latte.", keywords=["latte", "coffee"]),
        niches=[Niche("coffee", "Coffee", 1.0)],
        platforms=platforms,
        description="Morning latte art",
        language=language,
        hashtag_candidates={
            p: ["#LatteArt", "#CoffeeTime", "#Barista", "#Cafe"] for p in platforms
        },
    )


def session(fake: FakeOpenAI, **settings: Any) -> tuple[Any, bytes]:
    services = build_services(
        Settings(
            ai_provider="openai",
            openai_api_key=Secret("local"),
            openai_base_url=fake.base_url,
            openai_model="qwen2.5",
            ai_max_retries=2,
            **settings,
        ),
        cache=MemoryCache(),
    )
    services.provider.policy = RetryPolicy(max_retries=2, max_wait_s=0.5, backoff_s=0.01)
    return services, (ROOT / "samples" / "coffee.jpg").read_bytes()


def options(platforms=SIX, **kw: Any) -> JobOptions:
    return JobOptions(platforms=platforms, description="latte art", use_ai=True, **kw)


def last_user_text(request) -> str:
    content = request.json["messages"][-1]["content"]
    return content if isinstance(content, str) else content[0]["text"]


# ----------------------------------------------------------------------------- 1. no vision


def test_a_text_only_model_is_asked_once_and_never_sent_an_image_again():
    with FakeOpenAI(vision=False) as fake:
        usage = Usage()
        with pytest.raises(ProviderError) as err:
            provider(fake.base_url).analyse(AnalysisRequest(JPEG, make_analysis()), usage)
        assert err.value.code == "AI_NO_VISION" and not err.value.retryable
        assert "mmproj" in err.value.message  # the server's own reason is kept
        assert len(fake.image_requests()) == 1 and usage.calls == 1
        # a new provider for the same (server, model) in this process remembers it
        with pytest.raises(ProviderError) as again:
            provider(fake.base_url).analyse(AnalysisRequest(JPEG, make_analysis()), Usage())
        assert again.value.code == "AI_NO_VISION"
        assert len(fake.image_requests()) == 1


def test_a_server_that_reports_no_vision_is_never_sent_an_image():
    props = {"default_generation_settings": {"n_ctx": 8192}, "modalities": {"vision": False}}
    with FakeOpenAI(props=props) as fake:
        with pytest.raises(ProviderError) as err:
            provider(fake.base_url).analyse(AnalysisRequest(JPEG, make_analysis()), Usage())
        assert err.value.code == "AI_NO_VISION"
        assert fake.image_requests() == []


def test_job_with_a_text_only_model_says_only_the_analysis_fell_back():
    with FakeOpenAI(vision=False) as fake:
        services, image = session(fake)
        first = run_job(image, options(), services)
        label = services.provider.label
        assert first.usage.notices == [
            f"{label} can't see images: using the offline analysis for the photo."
        ]
        assert {r.provider for r in first.platforms.values()} == {label}
        assert first.analysis.provider == "offline"
        # 1 refused image + content + accounts; the 500 is not retried
        assert first.usage.calls == 3 == len(fake.chat_requests())
        second = run_job(image, options(platforms=("x", "linkedin")), services)
        assert len(fake.image_requests()) == 1  # 0 image requests after the first refusal
        assert second.usage.calls == 2


def test_other_failures_name_the_step_and_the_reason():
    with FakeOpenAI() as fake:
        for _ in range(3):
            fake.queue(error_reply(503, "loading model", type_="unavailable_error"))
        services, image = session(fake)
        result = run_job(image, options(platforms=("x",)), services)
        [notice] = result.usage.notices
        assert notice.startswith(f"Image analysis: {services.provider.label} could not answer")
        assert "loading model" in notice and "AI_SERVER_ERROR" in notice
        assert result.platforms["x"].provider == services.provider.label  # captions: AI


# ----------------------------------------------------------------------------- 3. usage


def test_usage_counts_every_request_retries_repairs_and_failures():
    with FakeOpenAI() as fake:
        fake.queue(
            error_reply(503, "busy"),
            chat_reply("not json", prompt_tokens=10, completion_tokens=3),
            chat_reply(good_content(["x"]), prompt_tokens=20, completion_tokens=30),
        )
        usage = Usage()
        provider(fake.base_url).write_content(content_request(("x",)), usage)
        assert len(fake.chat_requests()) == 3
        assert usage.calls == 3
        assert (usage.prompt_tokens, usage.completion_tokens) == (30, 33)


# ----------------------------------------------------------------------------- 4/5. formats


def test_a_server_ignoring_response_format_gets_the_json_described_in_the_prompt():
    with FakeOpenAI(ignore_format=True) as fake:
        out = provider(fake.base_url).write_content(content_request(), Usage())
        assert len(fake.chat_requests()) == 1
        text = last_user_text(fake.chat_requests()[0])
        assert "exactly of this shape" in text
        assert '"x": {"caption": string (<= 280 chars)' in text
        assert out["x"].caption.startswith("Morning latte art")


def test_the_repair_prompt_says_what_was_wrong_and_the_shape_again():
    with FakeOpenAI(ignore_format=True) as fake:
        fake.queue(chat_reply("Sure! Here are some captions for you."))
        out = provider(fake.base_url).write_content(content_request(("x",)), Usage())
        repair = fake.chat_requests()[1].json["messages"]
        assert repair[-2] == {
            "role": "assistant",
            "content": "Sure! Here are some captions for you.",
        }
        assert "not valid JSON" in repair[-1]["content"]
        assert '"x": {"caption": string (<= 280 chars)' in repair[-1]["content"]
        assert set(out) == {"x"}


def test_refused_json_schema_degrades_to_json_object_and_is_remembered():
    with FakeOpenAI(refuse_formats={"json_schema"}) as fake:
        provider(fake.base_url).write_content(content_request(), Usage())
        kinds = [r.json["response_format"]["type"] for r in fake.chat_requests()]
        assert kinds == ["json_schema", "json_object"]
        usage = Usage()
        provider(fake.base_url).write_content(content_request(), usage)  # a later session
        assert fake.chat_requests()[-1].json["response_format"] == {"type": "json_object"}
        assert usage.calls == 1


def test_a_server_refusing_both_json_modes_gets_plain_text_with_instructions():
    with FakeOpenAI(refuse_formats={"json_schema", "json_object"}) as fake:
        out = provider(fake.base_url).write_content(content_request(("x",)), Usage())
        last = fake.chat_requests()[-1].json
        assert "response_format" not in last and len(fake.chat_requests()) == 3
        assert "exactly of this shape" in last_user_text(fake.chat_requests()[-1])
        assert out["x"].caption


# ----------------------------------------------------------------------------- 6/7. budgets


def test_budgets_come_from_the_schema_limits():
    with FakeOpenAI() as fake:
        p = provider(fake.base_url)
        p.write_content(content_request(SIX), Usage())
        p.find_accounts(
            AccountsRequest([Niche("coffee", "Coffee", 1.0)], "x", platforms=SIX, limit=5),
            Usage(),
        )
        content, accounts = (r.json for r in fake.chat_requests())
        schema = content["response_format"]["json_schema"]["schema"]
        assert schema["properties"]["x"]["properties"]["caption"]["maxLength"] == 280
        assert schema["properties"]["instagram"]["properties"]["hashtags"]["maxItems"] == (
            get_spec("instagram").hashtag_max
        )
        assert content["max_tokens"] == prompts.answer_tokens(schema)
        assert content["max_tokens"] < 4000 + 1500 * 6
        acc = accounts["response_format"]["json_schema"]["schema"]["properties"]["accounts"]
        assert acc["maxItems"] == 30
        assert acc["items"]["properties"]["handle"]["maxLength"] == 40


def test_the_budget_fits_the_context_the_server_reports():
    props = {"default_generation_settings": {"n_ctx": 2048}, "modalities": {"vision": True}}
    with FakeOpenAI(props=props) as fake:
        provider(fake.base_url).write_content(content_request(SIX), Usage())
        body = fake.chat_requests()[0].json
        prompt_chars = sum(len(m["content"]) for m in body["messages"])
        assert body["max_tokens"] < 2048 - prompt_chars / 4


def test_official_openai_gets_no_length_keywords_but_the_limits_stay_in_the_prompt():
    p = OpenAIProvider(OpenAIConfig(api_key="k"))
    sent = p._schema(prompts.content_schema(["x"], {"x": {"caption": 280}}))
    assert "maxLength" not in json.dumps(sent) and "maxItems" not in json.dumps(sent)
    assert "<= 280 chars" in prompts.describe_json(
        prompts.content_schema(["x"], {"x": {"caption": 280}})
    )


def test_a_cut_off_answer_is_asked_again_for_less_not_repaired():
    with FakeOpenAI() as fake:
        fake.queue(chat_reply('{"instagram": {"caption": "Lorem ipsum', finish_reason="length"))
        out = provider(fake.base_url).write_content(content_request(("instagram",)), Usage())
        first, second = (r.json for r in fake.chat_requests())
        assert all(m["role"] != "assistant" for m in second["messages"])  # no "repair"
        cap = lambda b: b["response_format"]["json_schema"]["schema"]["properties"]["instagram"][  # noqa: E731
            "properties"
        ]["caption"]["maxLength"]
        assert cap(first) == prompts.CAPTION_MAX_CHARS
        assert cap(second) == prompts.COMPACT_CAPTION_CHARS
        assert second["max_tokens"] < first["max_tokens"]
        assert out["instagram"].caption


def test_cut_off_twice_fails_with_a_clear_code():
    with FakeOpenAI() as fake:
        cut = chat_reply('{"x": {"caption": "Lor', finish_reason="length")
        fake.queue(cut, cut)
        with pytest.raises(ProviderError) as err:
            provider(fake.base_url).write_content(content_request(("x",)), Usage())
        assert err.value.code == "AI_TRUNCATED" and "ran out of tokens" in err.value.message
        assert len(fake.chat_requests()) == 2


# ----------------------------------------------------------------------------- 8. timeouts


def test_local_servers_get_a_longer_timeout_and_the_setting_wins():
    local = Settings(openai_base_url="http://localhost:8080/v1")
    assert openai_config(local).timeout_s == 300
    assert openai_config(Settings(openai_base_url="https://openrouter.ai/api/v1")).timeout_s == 60
    assert openai_config(Settings(openai_base_url="http://192.168.1.5:11434/v1")).timeout_s == 300
    own = Settings(openai_base_url="http://localhost:8080/v1", openai_timeout_s=42)
    assert openai_config(own).timeout_s == 42
    told = Settings(openai_base_url="http://localhost:8080/v1", ai_timeout_s=90)
    assert openai_config(told).timeout_s == 90  # AI_TIMEOUT_S set: honoured everywhere


def test_a_slow_stream_reports_progress_and_its_usage():
    with FakeOpenAI(tokens_per_s=400) as fake:
        seen: list[tuple[str, float]] = []
        request = ContentRequest(
            **{
                **content_request(("x", "instagram", "linkedin", "tiktok")).__dict__,
                "progress": lambda s, d: seen.append((s, d)),
            }
        )
        usage = Usage()
        out = provider(fake.base_url).write_content(request, usage)
        assert fake.chat_requests()[0].json["stream"] is True
        assert seen and all(step == "content" for step, _ in seen)
        assert [d for _, d in seen] == [0.25, 0.5, 0.75]  # x, instagram, linkedin written
        assert usage.prompt_tokens == 100 and usage.completion_tokens == 50  # from the stream
        assert out["x"].caption


def test_job_progress_shows_how_far_the_captions_are():
    with FakeOpenAI(tokens_per_s=2000) as fake:
        services, image = session(fake)
        messages: list[str] = []
        run_job(
            image,
            options(platforms=("x", "linkedin", "pinterest")),
            services,
            progress=lambda e: messages.append(e.message),
        )
        assert any(m.startswith("writing captions… ") and m.endswith("%") for m in messages)


# ----------------------------------------------------------------------------- 9. accounts


def test_accounts_fall_back_per_platform_when_every_handle_is_invalid():
    def reply(request):
        if "Suggest up to" in json.dumps(request.json.get("messages")):
            answer = good_accounts(["instagram"])
            answer["accounts"].append({"platform": "x", "handle": "not a handle!!", "reason": ""})
            return chat_reply(answer)
        return FakeOpenAI.default_reply(fake, request)

    with FakeOpenAI() as fake:
        fake.default_reply = reply
        services, image = session(fake)
        result = run_job(image, options(platforms=("instagram", "x")), services)
        insta = result.platforms["instagram"].profiles
        x = result.platforms["x"].profiles
        assert [a.handle for a in insta][:2] == ["@latteartist", "@coffee.daily"]
        assert x and all(
            a.source == "search" and a.url.startswith("https://x.com/search") for a in x
        )


# ----------------------------------------------------------------------------- 10. hashtags


def test_junk_hashtags_are_dropped_and_topped_up_from_the_candidates():
    def junk(platforms):
        out = good_content(platforms)
        out["instagram"]["hashtags"] = [
            "#Httpstwittercomlatteartstatus",
            "#LatteArtCoffeeLoversBaristaLifeCafeMorningVibes",
            "#CryptoGiveaway",
            "#ComingFromBrands",  # "and" in the description must not make it related
            "#latteart",
            "https://instagram.com/p/xyz",
        ]
        return out

    with FakeOpenAI(content_fn=junk) as fake:
        request = content_request(("instagram",))
        request = ContentRequest(**{**request.__dict__, "description": "Latte and the morning"})
        out = provider(fake.base_url).write_content(request, Usage())
        tags = out["instagram"].hashtags
        assert tags[0] == "#LatteArt"
        assert not any(w in t.lower() for t in tags for w in ("http", "crypto", "brands"))
        assert all(len(t) <= 31 for t in tags)
        # as many as the AI gave (5), as far as the candidates go (all 3 new ones)
        assert tags == ["#LatteArt", "#CoffeeTime", "#Barista", "#Cafe"]


# ----------------------------------------------------------------------------- 11. captions


def spanish(platforms):
    out = good_content(platforms)
    for p in platforms:
        out[p]["caption"] = (
            "Arte latte por la mañana, hecho con calma. ¡El mejor comienzo del día!"
        )
    return out


def test_a_caption_in_the_wrong_language_gets_one_targeted_retry():
    with FakeOpenAI(content_fn=spanish) as fake:
        english = good_content(["x", "linkedin"])
        english["linkedin"]["caption"] = spanish(["linkedin"])["linkedin"]["caption"]

        def first_english(request, state={"n": 0}):  # noqa: B006 - a counter for this test
            if "Platforms and their limits" in json.dumps(request.json["messages"]):
                state["n"] += 1
                if state["n"] == 1:
                    return chat_reply(english)
            return FakeOpenAI.default_reply(fake, request)

        fake.default_reply = first_english
        services, image = session(fake)
        result = run_job(image, options(platforms=("x", "linkedin"), language="es"), services)
        content_calls = [
            r for r in fake.chat_requests() if "Platforms and their limits" in last_user_text(r)
        ]
        assert len(content_calls) == 2
        retry = content_calls[1].json["response_format"]["json_schema"]["schema"]
        assert list(retry["properties"]) == ["x"]  # only the rejected platform
        assert "not Spanish" in last_user_text(content_calls[1])
        assert result.platforms["x"].content.caption.startswith("Arte latte")
        assert result.platforms["x"].provider == services.provider.label
        assert result.usage.notices == []


def test_a_caption_still_wrong_after_the_retry_is_replaced_and_never_cached():
    with FakeOpenAI(content_fn=lambda ps: good_content(ps, caption="Amara")) as fake:
        services, image = session(fake)
        first = run_job(image, options(platforms=("x",)), services)
        assert first.platforms["x"].provider == "offline"
        assert any(
            n.startswith("Captions for x:") and "too short to post" in n
            for n in first.usage.notices
        )
        sent = len(fake.chat_requests())
        second = run_job(image, options(platforms=("x",)), services)
        assert second.usage.cache_hits == 0 and len(fake.chat_requests()) > sent


# ----------------------------------------------------------------------------- 12. naming


def test_the_provider_is_named_by_what_it_is():
    assert OpenAIProvider(OpenAIConfig(api_key="k")).label == "OpenAI"
    local = OpenAIProvider(OpenAIConfig(base_url="http://localhost:8080/v1", model="qwen2.5"))
    assert local.label == "qwen2.5 at localhost:8080 (OpenAI-compatible)"
    named = OpenAIProvider(OpenAIConfig(base_url="http://localhost:8080/v1", label="My Qwen"))
    assert named.label == "My Qwen"
    assert openai_config(Settings(openai_label="Home server")).label == "Home server"


def test_content_and_accounts_at_once_find_the_refused_mode_only_once():
    """The two calls of a session run at the same time; only one of them learns that the
    server refuses json_schema, the other waits and uses json_object."""
    with FakeOpenAI(refuse_formats={"json_schema"}, tokens_per_s=400) as fake:
        services, image = session(fake)
        first = run_job(image, options(platforms=("x", "linkedin")), services)
        kinds = [(r.json.get("response_format") or {}).get("type") for r in fake.chat_requests()]
        assert kinds.count("json_schema") == 1
        assert first.usage.calls == 4  # analysis refused once, then json_object x 3
        run_job(image, options(platforms=("pinterest",)), services)
        kinds = [(r.json.get("response_format") or {}).get("type") for r in fake.chat_requests()]
        assert kinds.count("json_schema") == 1  # remembered for the server


def test_no_valid_account_at_all_gives_every_platform_the_offline_links():
    def reply(request):
        if "Suggest up to" in json.dumps(request.json.get("messages")):
            bad = [
                {"platform": p, "handle": "instagram.com", "reason": ""}
                for p in ("x", "instagram")
            ]
            return chat_reply({"accounts": bad})
        return FakeOpenAI.default_reply(fake, request)

    with FakeOpenAI() as fake:
        fake.default_reply = reply
        services, image = session(fake)
        result = run_job(image, options(platforms=("instagram", "x")), services)
        for key in ("instagram", "x"):
            profiles = result.platforms[key].profiles
            assert profiles and all(a.source == "search" for a in profiles)
