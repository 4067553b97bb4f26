"""Gemini: account discovery with Google Search grounding; also analysis and captions
(JSON output) when it is the only key. The transport and the error mapping; everything else
is `AIProvider`'s."""

from __future__ import annotations

import logging
import re
from typing import Any

import httpx2
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from pipeline.errors import ProviderError
from pipeline.models import Account, Usage
from pipeline.ports import AccountsRequest
from pipeline.providers import common, prompts
from pipeline.providers.ai import AIProvider, Call, Reply
from pipeline.providers.configs import GeminiConfig

log = logging.getLogger(__name__)

NAME = "gemini"
GROUNDED_NOTE = "Found by Gemini with Google Search; the link is the search result it came from."
UNGROUNDED_NOTE = "Named by Gemini without a matching search source: check before tagging."
REFUSAL_REASONS = {
    "SAFETY",
    "PROHIBITED_CONTENT",
    "BLOCKLIST",
    "SPII",
    "RECITATION",
    "IMAGE_SAFETY",
    "IMAGE_PROHIBITED_CONTENT",
}


def _retry_delay(exc: genai_errors.APIError) -> float | None:
    """Retry-After header, else google.rpc.RetryInfo retryDelay ('37s') in the details."""
    headers = getattr(getattr(exc, "response", None), "headers", None)
    after = common.parse_retry_after(headers)
    if after is not None:
        return after
    details = exc.details if isinstance(exc.details, dict) else {}
    error = details.get("error", details)
    for item in error.get("details", []) if isinstance(error, dict) else []:
        if isinstance(item, dict) and "retryDelay" in item:
            m = re.fullmatch(r"\s*([\d.]+)s\s*", str(item["retryDelay"]))
            if m:
                return float(m.group(1))
    return None


def classify_gemini_error(exc: Exception, max_wait_s: float = 10.0) -> ProviderError:
    """Map google-genai / httpx2 exceptions to a ProviderError."""
    if isinstance(exc, httpx2.TimeoutException):
        accepted = isinstance(exc, httpx2.ReadTimeout | httpx2.WriteTimeout)
        return common.timeout_error(generating=accepted)
    if isinstance(exc, httpx2.TransportError):
        return common.provider_error(
            common.UNREACHABLE_ERROR, common.AI_UNREACHABLE, retryable=True
        )
    if isinstance(exc, genai_errors.APIError):
        status = int(exc.code or 0)
        message = str(exc.message or "")
        delay = _retry_delay(exc)
        if status == 429 and "quota" in message.lower() and (delay is None or delay > max_wait_s):
            return common.provider_error(
                "The Gemini quota is used up.", common.AI_QUOTA_EXCEEDED, quota=True
            )
        bad_key = status == 400 and "api key" in message.lower()
        return common.error_for_status(status, message, retry_after=delay, auth=bad_key)
    return common.provider_error(
        f"Unexpected AI client error: {type(exc).__name__}: {exc}"[:300], common.AI_BAD_RESPONSE
    )


def _text_of(response: Any) -> str:
    """Answer text of the first candidate, skipping thought parts."""
    candidates = getattr(response, "candidates", None) or []
    if not candidates or not candidates[0].content or not candidates[0].content.parts:
        return ""
    return "".join(
        p.text for p in candidates[0].content.parts if p.text and not getattr(p, "thought", False)
    )


def _refusal_of(response: Any) -> str:
    """Why the model declined (a blocked prompt or a refusal finish reason), else ""."""
    feedback = getattr(response, "prompt_feedback", None)
    if feedback is not None and getattr(feedback, "block_reason", None):
        return str(feedback.block_reason)
    candidates = getattr(response, "candidates", None) or []
    if candidates:
        reason = candidates[0].finish_reason
        reason_name = str(getattr(reason, "value", reason) or "")
        if reason_name.upper() in REFUSAL_REASONS:
            return reason_name
    return ""


def _finish_of(response: Any) -> str:
    candidates = getattr(response, "candidates", None) or []
    if not candidates:
        return "stop"
    reason = candidates[0].finish_reason
    name = str(getattr(reason, "value", reason) or "").upper()
    return "length" if name == "MAX_TOKENS" else "stop"


class GeminiProvider(AIProvider):
    """google-genai generate_content; the Client lives with the provider."""

    name = NAME
    vendor = "Gemini"
    default_server = "https://generativelanguage.googleapis.com"

    def __init__(
        self,
        config: GeminiConfig,
        *,
        policy: common.RetryPolicy | None = None,
        client: genai.Client | None = None,
    ) -> None:
        super().__init__(config, policy)
        self.client = client or genai.Client(
            api_key=config.api_key or "no-key",
            http_options=types.HttpOptions(
                base_url=config.base_url or None,
                timeout=max(1, int(config.timeout_s * 1000)),
            ),
        )

    def default_label(self) -> str:
        return self.vendor  # a proxy in front of Gemini is still Gemini

    # ----------------------------------------------------------------- transport

    def _classify(self, exc: Exception) -> ProviderError:
        return classify_gemini_error(exc, self.policy.max_wait_s)

    def _send(self, call: Call) -> Reply:
        contents: list[Any] = []
        if call.image_jpeg is not None:
            contents.append(types.Part.from_bytes(data=call.image_jpeg, mime_type="image/jpeg"))
        contents.append(call.text)
        if call.problem:
            contents.append(f"Your previous answer was:\n{call.previous}\n" + call.repair_text())
        options: dict[str, Any] = {"system_instruction": call.system}
        if call.search:
            options["tools"] = [types.Tool(google_search=types.GoogleSearch())]
        elif call.output != "text" and call.schema is not None:
            options["response_mime_type"] = "application/json"
            if call.output == "json_schema":
                options["response_schema"] = prompts.gemini_schema(call.schema)
        # no max_output_tokens: on thinking models it also caps the thoughts and cuts JSON
        response = self.client.models.generate_content(
            model=self.model, contents=contents, config=types.GenerateContentConfig(**options)
        )
        meta = getattr(response, "usage_metadata", None)
        return Reply(
            _text_of(response),
            finish_reason=_finish_of(response),
            refusal=_refusal_of(response),
            prompt_tokens=getattr(meta, "prompt_token_count", 0) or 0,
            completion_tokens=getattr(meta, "candidates_token_count", 0) or 0,
            raw=response,
        )

    def list_models(self) -> list[str]:
        return [str(m.name).removeprefix("models/") for m in self.client.models.list()]

    def _grounded_accounts(self, request: AccountsRequest, usage: Usage) -> list[Account]:
        """ONE Google Search grounded call for every requested platform: handles from the
        answer and its grounding sources, validated per platform, each with the source URL
        it came from."""
        platforms = list(request.all_platforms)
        niche = request.niches[0].key if request.niches else ""
        prompt = prompts.grounded_accounts_prompt(
            platforms,
            [n.name or n.key for n in request.niches],
            request.description,
            request.limit,
        )
        call = Call(step="accounts", system=prompts.ACCOUNTS_SYSTEM, text=prompt, search=True)
        reply = self._request(call, usage)
        return extract_grounded_accounts(reply.raw, platforms, niche)


def extract_grounded_accounts(
    response: Any, platforms: list[str] | tuple[str, ...], niche: str = ""
) -> list[Account]:
    """Accounts from a grounded answer, in answer order: @handles and profile URLs in the
    text (linked to the grounding source of the segment that mentions them), then
    grounding sources that are themselves profile pages. Invalid handles are dropped."""
    candidates = getattr(response, "candidates", None) or []
    meta = getattr(candidates[0], "grounding_metadata", None) if candidates else None
    chunks = list(getattr(meta, "grounding_chunks", None) or [])
    supports = list(getattr(meta, "grounding_supports", None) or [])
    text = _text_of(response)

    def chunk_uri(i: int) -> str:
        web = chunks[i].web if 0 <= i < len(chunks) else None
        return (web.uri or "") if web is not None else ""

    # source URL for each character span of the text that a grounding support covers
    spans: list[tuple[int, int, str]] = []
    for support in supports:
        seg = support.segment
        if seg is None or not seg.text:
            continue
        uris = [u for u in (chunk_uri(i) for i in support.grounding_chunk_indices or []) if u]
        at = text.find(seg.text)
        if uris and at >= 0:
            spans.append((at, at + len(seg.text), uris[0]))

    found: list[tuple[str, str, str]] = []  # platform, handle, source url ("" = none)
    for pos, handle, plat in common.find_handles(text, platforms):
        url = next((u for a, b, u in spans if a <= pos < b), "")
        found.append((plat, handle, url))
    for chunk in chunks:
        web = chunk.web
        if web is None or not web.uri:
            continue
        for plat in platforms:
            handle = common.handle_from_url(web.uri, plat)
            if handle:
                found.append((plat, handle, web.uri))
                break
        else:
            title = " ".join(x for x in (web.title, web.domain) if x)
            named = common.platforms_in_text(title, platforms)
            for _, handle, plat in common.find_handles(title, named[:1]):
                found.append((plat, handle, web.uri))

    accounts: list[Account] = []
    index: dict[tuple[str, str], int] = {}
    for plat, handle, url in found:
        if not common.valid_handle(plat, handle):
            log.info("dropping invalid %s handle from Gemini: %r", plat, handle)
            continue
        key = (plat, handle.lower())
        if key in index:
            i = index[key]
            if url and accounts[i].note == UNGROUNDED_NOTE:  # now we know its source
                accounts[i] = Account(
                    handle=accounts[i].handle,
                    platform=plat,
                    niche=niche,
                    source=NAME,
                    url=url,
                    note=GROUNDED_NOTE,
                )
            continue
        index[key] = len(accounts)
        accounts.append(
            Account(
                handle=f"@{handle}",
                platform=plat,
                niche=niche,
                source=NAME,
                url=url or common.profile_url(plat, handle),
                note=GROUNDED_NOTE if url else UNGROUNDED_NOTE,
            )
        )
    return accounts
