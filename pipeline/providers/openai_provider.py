"""OpenAI (or any OpenAI-compatible server via OPENAI_BASE_URL): vision analysis, all
platforms' captions in one structured call, and account suggestions.

The client's own retries are off (`max_retries=0`); `RetryPolicy` retries 429 (honouring
Retry-After, bounded), 5xx, timeouts and connection errors, and never retries
`insufficient_quota` or 401.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from typing import Any

import openai
from openai import OpenAI

from pipeline.errors import ProviderError
from pipeline.models import Account, ImageAnalysis, PlatformContent, Usage
from pipeline.providers import common, prompts
from pipeline.providers.base import AccountsRequest, AnalysisRequest, ContentRequest
from pipeline.providers.configs import OpenAIConfig

log = logging.getLogger(__name__)

NAME = "openai"
UNVERIFIED_NOTE = "Suggested by the AI model from memory, not verified: check before tagging."


def classify_openai_error(exc: Exception) -> ProviderError:
    """Map an openai client exception to a ProviderError with code/retryable/quota."""
    if isinstance(exc, openai.APITimeoutError):
        return common.provider_error(common.TIMEOUT_ERROR, common.AI_TIMEOUT, retryable=True)
    if isinstance(exc, openai.APIConnectionError):
        return common.provider_error(
            common.UNREACHABLE_ERROR, common.AI_UNREACHABLE, retryable=True
        )
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        code = (exc.code or "").lower()
        etype = (getattr(exc, "type", None) or "").lower()
        # 402: OpenRouter and other gateways say "insufficient credits" this way
        if status == 402 or (status == 429 and "insufficient_quota" in (code, etype)):
            return common.provider_error(
                "The OpenAI quota is used up.", common.AI_QUOTA_EXCEEDED, quota=True
            )
        return common.error_for_status(
            status, exc.message, retry_after=common.parse_retry_after(exc.response.headers)
        )
    if isinstance(exc, openai.APIResponseValidationError | openai.OpenAIError):
        return common.provider_error(
            f"The AI service answered strangely: {exc}", common.AI_BAD_RESPONSE, retryable=True
        )
    return common.provider_error(
        f"Unexpected AI client error: {type(exc).__name__}", common.AI_BAD_RESPONSE
    )


class OpenAIProvider:
    """Provider backed by chat.completions with strict JSON-schema output."""

    name = NAME

    def __init__(
        self,
        config: OpenAIConfig,
        *,
        policy: common.RetryPolicy | None = None,
        client: OpenAI | None = None,
    ) -> None:
        self.config = config
        self.model = config.model
        self.policy = policy or common.RetryPolicy.with_retries(config.max_retries)
        self.client = client or OpenAI(
            # local servers (Ollama, llama.cpp) accept any key
            api_key=config.api_key or "no-key",
            base_url=config.base_url or None,
            timeout=config.timeout_s,
            max_retries=0,
        )

    # ----------------------------------------------------------------- plumbing

    def _chat(
        self,
        messages: list[dict[str, Any]],
        schema_name: str,
        schema: dict[str, Any],
        usage: Usage,
        max_tokens: int,
    ) -> str:
        """One completion (with retries); refusals raise AI_REFUSED; returns the text."""

        def call() -> Any:
            return self.client.chat.completions.create(
                model=self.model,
                messages=messages,  # type: ignore[arg-type]
                response_format={
                    "type": "json_schema",
                    "json_schema": {"name": schema_name, "schema": schema, "strict": True},
                },
                max_completion_tokens=max_tokens,
            )

        # failures propagate as ProviderError; the job tells the user (once) and falls back
        response = self.policy.run(call, classify_openai_error)
        u = getattr(response, "usage", None)
        usage.record(
            NAME, getattr(u, "prompt_tokens", 0) or 0, getattr(u, "completion_tokens", 0) or 0
        )
        if not response.choices:
            return ""
        choice = response.choices[0]
        message = choice.message
        if getattr(message, "refusal", None) or choice.finish_reason == "content_filter":
            reason = (message.refusal or "content filter").strip()[:200]
            raise common.provider_error(
                f"The AI model declined to answer ({reason}).", common.AI_REFUSED
            )
        return message.content or ""

    def _structured(
        self,
        messages: list[dict[str, Any]],
        schema_name: str,
        schema: dict[str, Any],
        usage: Usage,
        validate: Callable[[dict[str, Any]], Any],
        max_tokens: int,
    ) -> Any:
        def ask(previous: str | None, error: str | None) -> str:
            msgs = list(messages)
            if error is not None:
                msgs.append({"role": "assistant", "content": (previous or "")[:6000]})
                msgs.append({"role": "user", "content": prompts.repair_prompt(error)})
            return self._chat(msgs, schema_name, schema, usage, max_tokens)

        return common.structured_with_repair(ask, validate, "OpenAI")

    # ----------------------------------------------------------------- Protocol

    def analyse(self, request: AnalysisRequest, usage: Usage) -> ImageAnalysis:
        """Describe the photo; measured numbers stay from the offline baseline."""
        data_url = "data:image/jpeg;base64," + base64.b64encode(request.image_jpeg).decode()
        text = prompts.analysis_prompt(request.description, request.language, common.niche_keys())
        messages = [
            {"role": "system", "content": prompts.ANALYSIS_SYSTEM},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": text},
                    {"type": "image_url", "image_url": {"url": data_url, "detail": "low"}},
                ],
            },
        ]
        answer = self._structured(
            messages,
            prompts.ANALYSIS_SCHEMA_NAME,
            prompts.analysis_schema(),
            usage,
            common.validate_analysis,
            4000,
        )
        return common.merge_analysis(request.baseline, answer, NAME)

    def write_content(self, request: ContentRequest, usage: Usage) -> dict[str, PlatformContent]:
        """Captions, hashtags, alt text (+ titles) for every platform in ONE call."""
        platforms = list(request.platforms)
        user = common.content_prompt_for(request)
        messages = [
            {"role": "system", "content": prompts.CONTENT_SYSTEM},
            {"role": "user", "content": user},
        ]
        answer = self._structured(
            messages,
            prompts.CONTENT_SCHEMA_NAME,
            prompts.content_schema(platforms),
            usage,
            lambda d: common.validate_content(d, platforms),
            4000 + 1500 * len(platforms),
        )
        return common.build_contents(
            answer, platforms, request.hashtag_limits, request.hashtag_candidates, NAME
        )

    def find_accounts(self, request: AccountsRequest, usage: Usage) -> list[Account]:
        """ONE call for every requested platform: suggested handles, validated per
        platform, de-duplicated, marked unverified. Saved accounts are the job's to merge."""
        platforms = list(request.all_platforms)
        niche = request.niches[0].key if request.niches else ""
        messages = [
            {"role": "system", "content": prompts.ACCOUNTS_SYSTEM},
            {
                "role": "user",
                "content": prompts.accounts_prompt(
                    platforms,
                    [n.name or n.key for n in request.niches],
                    request.description,
                    request.limit,
                ),
            },
        ]
        answer = self._structured(
            messages,
            prompts.ACCOUNTS_SCHEMA_NAME,
            prompts.accounts_schema_for(platforms),
            usage,
            common.validate_accounts,
            4000 + 300 * len(platforms),
        )
        suggested = []
        for item in answer:
            plat = item.get("platform") or (platforms[0] if len(platforms) == 1 else "")
            handle = common.normalize_handle(item["handle"])
            if plat not in platforms or not common.valid_handle(plat, handle):
                log.info("dropping invalid handle from OpenAI: %r on %r", handle, plat)
                continue
            note = UNVERIFIED_NOTE + (f" {item['reason']}" if item["reason"] else "")
            suggested.append(
                Account(
                    handle=f"@{handle}",
                    platform=plat,
                    niche=niche,
                    source=NAME,
                    url=common.profile_url(plat, handle),
                    note=note[:300],
                )
            )
        return common.cap_per_platform(suggested, request.limit)
