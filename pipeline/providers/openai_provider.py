"""OpenAI, or any OpenAI-compatible server (OPENAI_BASE_URL: llama.cpp's llama-server,
Ollama, vLLM, OpenRouter): the transport and the error mapping; everything else is
`AIProvider`'s.

The client's own retries are off (`max_retries=0`); `RetryPolicy` retries 429 (honouring
Retry-After, bounded), 5xx and refused connections, and never retries `insufficient_quota`,
401, a deterministic "no vision" answer, or a timeout of a request the server had accepted.
Answers are streamed where the server can: progress is reported as the answer arrives and a
stalled server is detected by its silence (`stall_s`), not by the total time.
"""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

import httpx2
import openai
from openai import OpenAI

from pipeline.errors import ProviderError
from pipeline.providers import common, prompts
from pipeline.providers.ai import AIProvider, Call, Reply
from pipeline.providers.common import UNVERIFIED_NOTE
from pipeline.providers.configs import OpenAIConfig

__all__ = ["NAME", "UNVERIFIED_NOTE", "OpenAIProvider", "classify_openai_error"]

log = logging.getLogger(__name__)

NAME = "openai"
OFFICIAL = "https://api.openai.com/v1"
PROGRESS_EVERY = 0.1  # report streamed progress in steps of 10%


def _accepted_timeout(exc: BaseException) -> bool:
    """True when a timeout hit a request the server had accepted (reading its answer)."""
    cause = exc if isinstance(exc, httpx2.TimeoutException) else exc.__cause__
    return isinstance(cause, httpx2.ReadTimeout | httpx2.WriteTimeout)


def classify_openai_error(exc: Exception) -> ProviderError:
    """Map an openai client exception to a ProviderError with code/retryable/quota."""
    if isinstance(exc, openai.APITimeoutError | httpx2.TimeoutException):
        return common.timeout_error(generating=_accepted_timeout(exc))
    if isinstance(exc, openai.APIConnectionError | httpx2.TransportError):
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


class OpenAIProvider(AIProvider):
    """chat.completions over the openai client."""

    name = NAME
    vendor = "OpenAI"
    default_server = OFFICIAL

    def __init__(
        self,
        config: OpenAIConfig,
        *,
        policy: common.RetryPolicy | None = None,
        client: OpenAI | None = None,
    ) -> None:
        super().__init__(config, policy)
        self.official = not config.base_url or "api.openai.com" in config.base_url
        self.client = client or OpenAI(
            # local servers (Ollama, llama.cpp) accept any key
            api_key=config.api_key or "no-key",
            base_url=config.base_url or None,
            timeout=config.timeout_s,
            max_retries=0,
        )

    # ----------------------------------------------------------------- transport

    def _classify(self, exc: Exception) -> ProviderError:
        return classify_openai_error(exc)

    def _schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        # OpenAI's strict subset takes no length limits; they stay in the prompt text
        if self.official:
            return prompts.strip_keywords(schema, ("maxLength", "maxItems"))
        return schema

    def _messages(self, call: Call) -> list[dict[str, Any]]:
        content: Any = call.text
        if call.image_jpeg is not None:
            url = "data:image/jpeg;base64," + base64.b64encode(call.image_jpeg).decode()
            content = [
                {"type": "text", "text": call.text},
                {"type": "image_url", "image_url": {"url": url, "detail": "low"}},
            ]
        messages = [
            {"role": "system", "content": call.system},
            {"role": "user", "content": content},
        ]
        if call.problem:
            messages.append({"role": "assistant", "content": call.previous})
            messages.append({"role": "user", "content": call.repair_text()})
        return messages

    def _send(self, call: Call) -> Reply:
        kwargs: dict[str, Any] = {"model": self.model, "messages": self._messages(call)}
        if call.output == "json_schema" and call.schema is not None:
            kwargs["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": call.schema_name, "schema": call.schema, "strict": True},
            }
        elif call.output == "json_object":
            kwargs["response_format"] = {"type": "json_object"}
        # OpenAI's reasoning models take only max_completion_tokens; servers that copy the
        # API (llama.cpp, Ollama, vLLM) have always read max_tokens
        kwargs["max_completion_tokens" if self.official else "max_tokens"] = call.max_tokens
        if self.config.stream and self.caps.stream:
            return self._stream(kwargs, call)
        response = self.client.chat.completions.create(**kwargs)
        return _reply_of(response)

    def _stream(self, kwargs: dict[str, Any], call: Call) -> Reply:
        """A streamed answer; silence longer than `stall_s` ends it (AI_STALLED)."""
        timeout = httpx2.Timeout(self.config.timeout_s, read=self.config.stall_s)
        stream = self.client.with_options(timeout=timeout).chat.completions.create(
            **kwargs, stream=True, stream_options={"include_usage": True}
        )
        if call.on_accepted is not None:
            call.on_accepted()  # 200 and headers: the server takes this output mode
        try:
            kind = stream.response.headers.get("content-type", "")
            if "event-stream" not in kind:  # the server ignored `stream`: a whole answer
                self.caps.stream = False
                return _reply_of(json.loads(stream.response.read()))
            return self._read_stream(stream, call)
        except (httpx2.TimeoutException, openai.APITimeoutError) as exc:
            raise common.timeout_error(True, self.config.stall_s) from exc
        finally:
            stream.close()

    def _read_stream(self, stream: Any, call: Call) -> Reply:
        parts: list[str] = []
        reply = Reply("")
        meter = _Progress(call)
        for chunk in stream:
            usage = getattr(chunk, "usage", None)
            if usage is not None:
                reply.prompt_tokens = usage.prompt_tokens or 0
                reply.completion_tokens = usage.completion_tokens or 0
            for choice in chunk.choices or []:
                delta = choice.delta
                if delta is not None and delta.content:
                    parts.append(delta.content)
                    meter.update(delta.content)
                if delta is not None and getattr(delta, "refusal", None):
                    reply.refusal += delta.refusal
                if choice.finish_reason:
                    reply.finish_reason = choice.finish_reason
        reply.text = "".join(parts)
        return reply

    # ----------------------------------------------------------------- server facts

    def _probe_server(self) -> dict[str, Any]:
        """llama.cpp's /props: the context size and whether images are accepted."""
        if self.official:
            return {}
        root = self.server[: -len("/v1")] if self.server.endswith("/v1") else self.server
        response = httpx2.get(f"{root}/props", timeout=5.0)
        if response.status_code != 200:
            return {}
        data = response.json()
        settings = data.get("default_generation_settings") or {}
        found: dict[str, Any] = {}
        n_ctx = settings.get("n_ctx") or data.get("n_ctx")
        if isinstance(n_ctx, int) and n_ctx > 0:
            found["context"] = n_ctx
        modalities = data.get("modalities")
        if isinstance(modalities, dict) and isinstance(modalities.get("vision"), bool):
            found["vision"] = modalities["vision"]
        return found

    def list_models(self) -> list[str]:
        return [m.id for m in self.client.models.list()]


class _Progress:
    """How far a streamed answer is: the share of milestones passed (the platform keys of a
    content answer), else of the token budget; reported in steps of PROGRESS_EVERY."""

    def __init__(self, call: Call) -> None:
        self.call, self.text, self.seen, self.tokens, self.shown = call, "", 0, 0, 0.0
        self.expected = max(1, int(call.max_tokens * 0.6))  # answers rarely fill the budget

    def update(self, piece: str) -> None:
        call = self.call
        if call.progress is None:
            return
        self.tokens += 1
        marks = call.milestones
        if marks:
            self.text += piece
            while self.seen < len(marks) and marks[self.seen] in self.text:
                self.seen += 1
            done = max(0, self.seen - 1) / len(marks)  # the current one is being written
        else:
            done = min(0.99, self.tokens / self.expected)
        if done - self.shown >= PROGRESS_EVERY:
            self.shown = done
            call.progress(call.step, done)


def _reply_of(response: Any) -> Reply:
    """A Reply from a chat completion (the client's object or its JSON)."""
    if isinstance(response, dict):
        response = openai.types.chat.ChatCompletion.model_validate(response)
    u = getattr(response, "usage", None)
    reply = Reply(
        "",
        prompt_tokens=getattr(u, "prompt_tokens", 0) or 0,
        completion_tokens=getattr(u, "completion_tokens", 0) or 0,
        raw=response,
    )
    if response.choices:
        choice = response.choices[0]
        reply.text = choice.message.content or ""
        reply.refusal = getattr(choice.message, "refusal", None) or ""
        reply.finish_reason = choice.finish_reason or "stop"
    return reply
