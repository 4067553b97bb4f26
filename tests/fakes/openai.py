"""A fake OpenAI-compatible server on 127.0.0.1 for tests and the AI benchmark.

`FakeOpenAI` (on the shared `tests.fakes.http.FakeServer`) answers POST
/v1/chat/completions with plausible structured JSON chosen by the
request's response_format schema name.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from tests.fakes.http import FakeServer, Recorded, Reply

# ---------------------------------------------------------------------- OpenAI


def completion(
    content: str | None,
    *,
    prompt_tokens: int = 100,
    completion_tokens: int = 50,
    refusal: str | None = None,
    finish_reason: str = "stop",
    model: str = "gpt-fake",
) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "finish_reason": finish_reason,
                "message": {"role": "assistant", "content": content, "refusal": refusal},
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def chat_reply(content: Any, **kw: Any) -> Reply:
    """A 200 chat completion whose message content is `content` (dict -> JSON text)."""
    text = content if isinstance(content, str) or content is None else json.dumps(content)
    return Reply(200, completion(text, **kw))


def error_reply(
    status: int,
    message: str = "error",
    *,
    code: str | None = None,
    type_: str | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    return Reply(
        status,
        {"error": {"message": message, "type": type_, "code": code, "param": None}},
        headers=headers or {},
    )


def good_content(platforms: list[str], caption: str = "") -> dict[str, Any]:
    out = {}
    for p in platforms:
        out[p] = {
            "caption": caption or f"Morning latte art, made slowly. Perfect start for {p}!",
            "hashtags": ["#latteart", "#coffee", "#CoffeeTime", "#barista", "#cafe", "#espresso"],
            "alt_text": "A white cup of latte with a leaf pattern on a saucer.",
            "title": "Latte art to start the day" if p in ("pinterest", "tiktok") else "",
        }
    return out


GOOD_ANALYSIS = {
    "description": "A cup of latte with leaf-shaped latte art on a white saucer.",
    "keywords": ["latte", "coffee", "latte art", "cafe", "morning"],
    "niches": ["coffee", "not_a_real_niche_key"],
    "is_product": False,
    "product_reason": "A drink in a cafe scene, not a product shot.",
    "mood": "Cosy",
}


def good_accounts(platforms: list[str]) -> dict[str, Any]:
    items = []
    for p in platforms:
        items += [
            {"platform": p, "handle": "@latteartist", "reason": "latte art daily"},
            {
                "platform": p,
                "handle": "coffee.daily" if p != "x" else "coffee_daily",
                "reason": "coffee news",
            },
            {"platform": p, "handle": "not a handle!!", "reason": "bad"},
            {"platform": p, "handle": "LatteArtist", "reason": "duplicate"},
        ]
    return {"accounts": items}


NO_VISION_MESSAGE = (
    "image input is not supported - hint: if this is unexpected, you may need to provide the "
    "mmproj"
)  # llama.cpp's llama-server, a model started without --mmproj (tools/server/server-common.cpp)
PROSE = "Sure! What a lovely photo. Here is a caption you could use: Golden hour vibes."


def _prompt_text(body: dict[str, Any]) -> str:
    out = []
    for message in body.get("messages", []):
        content = message.get("content")
        if isinstance(content, str):
            out.append(content)
        elif isinstance(content, list):
            out += [p.get("text", "") for p in content if p.get("type") == "text"]
    return "\n".join(out)


def _has_image(body: dict[str, Any]) -> bool:
    return any(
        isinstance(m.get("content"), list)
        and any(p.get("type") == "image_url" for p in m["content"])
        for m in body.get("messages", [])
    )


def sse_chunks(
    body: dict[str, Any],
    *,
    include_usage: bool,
    tokens_per_s: float = 0.0,
    stall_after: int | None = None,
    stall_s: float = 0.0,
) -> list[tuple[float, bytes]]:
    """A chat completion as server-sent events, ~4 characters (one token) per event."""
    choice = body["choices"][0]
    text = choice["message"].get("content") or ""
    pieces = [text[i : i + 4] for i in range(0, len(text), 4)]
    pause = 1.0 / tokens_per_s if tokens_per_s else 0.0
    base = {"id": body["id"], "object": "chat.completion.chunk", "created": body["created"]}
    base["model"] = body["model"]

    def event(data: dict[str, Any] | str) -> bytes:
        raw = data if isinstance(data, str) else json.dumps(data)
        return f"data: {raw}\n\n".encode()

    out: list[tuple[float, bytes]] = []
    for i, piece in enumerate(pieces):
        wait = pause + (stall_s if stall_after is not None and i == stall_after else 0.0)
        delta = {"content": piece, **({"role": "assistant"} if i == 0 else {})}
        out.append((wait, event({**base, "choices": [{"index": 0, "delta": delta}]})))
    refusal = choice["message"].get("refusal")
    if refusal:
        out.append(
            (0.0, event({**base, "choices": [{"index": 0, "delta": {"refusal": refusal}}]}))
        )
    end = {"index": 0, "delta": {}, "finish_reason": choice["finish_reason"]}
    out.append((0.0, event({**base, "choices": [end]})))
    if include_usage:
        out.append((0.0, event({**base, "choices": [], "usage": body["usage"]})))
    out.append((0.0, event("[DONE]")))
    return out


class FakeOpenAI(FakeServer):
    """POST /v1/chat/completions -> plausible JSON by what was asked; GET /v1/models; and, as
    llama.cpp's llama-server does, GET /props.

    The llama.cpp-like behaviours, each switchable:
    - `vision=False`: any request with an image is answered 500 NO_VISION_MESSAGE;
    - `refuse_formats={"json_schema", ...}`: those response_format types get a 400;
    - `ignore_format=True`: response_format is ignored; like a plain model, it answers JSON
      only when the prompt itself describes the JSON, else prose;
    - `tokens_per_s`: streamed answers (`stream: true`) arrive at this rate; `stall_after` /
      `stall_s`: the stream goes silent after that many tokens;
    - `count_tokens=True`: usage counts the real prompt/answer length (4 characters a token);
    - `content_fn(platforms)`: what the content answer holds (junk hashtags, wrong language).
    Scripted `queue()` replies still come first; a 200 completion is streamed when asked.
    """

    def __init__(
        self,
        latency_s: float = 0.0,
        *,
        vision: bool = True,
        refuse_formats: tuple[str, ...] | set[str] = (),
        ignore_format: bool = False,
        props: dict[str, Any] | None = None,
        tokens_per_s: float = 0.0,
        stall_after: int | None = None,
        stall_s: float = 0.0,
        count_tokens: bool = False,
        models: tuple[str, ...] = ("gpt-fake",),
        content_fn: Any = None,
    ) -> None:
        super().__init__(latency_s)
        self.vision = vision
        self.refuse_formats = set(refuse_formats)
        self.ignore_format = ignore_format
        self.props = props
        self.tokens_per_s = tokens_per_s
        self.stall_after, self.stall_s = stall_after, stall_s
        self.count_tokens = count_tokens
        self.models = models
        self.content_fn = content_fn or good_content

    @property
    def base_url(self) -> str:
        return f"{self.root}/v1"

    def chat_requests(self) -> list[Recorded]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def image_requests(self) -> list[Recorded]:
        return [r for r in self.chat_requests() if _has_image(r.json)]

    def scripted(self, request: Recorded) -> bool:
        return request.path.endswith("/chat/completions")  # /props and /models never are

    def finish(self, request: Recorded, reply: Reply) -> Reply:
        """Stream a 200 chat completion when the request asked for a stream."""
        if not request.path.endswith("/chat/completions") or reply.status != 200:
            return reply
        body = request.json if request.body else {}
        data = reply.body
        if not body.get("stream") or not isinstance(data, dict) or "choices" not in data:
            return reply
        include = bool((body.get("stream_options") or {}).get("include_usage"))
        chunks = sse_chunks(
            data,
            include_usage=include,
            tokens_per_s=self.tokens_per_s,
            stall_after=self.stall_after,
            stall_s=self.stall_s,
        )
        return Reply(200, None, reply.headers, reply.delay_s, "text/event-stream", chunks)

    def default_reply(self, request: Recorded) -> Reply:
        path = request.path.split("?")[0]
        if request.method == "GET" and path == "/props":
            if self.props is None:
                return Reply(404, {"error": {"code": 404, "message": "File Not Found"}})
            return Reply(200, self.props)
        if request.method == "GET" and path.endswith("/models"):
            data = [
                {"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in self.models
            ]
            return Reply(200, {"object": "list", "data": data})
        if not path.endswith("/chat/completions"):
            return Reply(404, {"error": {"message": f"no route {request.path}"}})
        body = request.json
        if _has_image(body) and not self.vision:
            return error_reply(500, NO_VISION_MESSAGE, type_="server_error")
        fmt = body.get("response_format") or {}
        kind = fmt.get("type", "text")
        if kind in self.refuse_formats:
            return error_reply(
                400,
                f"response_format type '{kind}' is not supported by this server",
                type_="invalid_request_error",
            )
        prompt = _prompt_text(body)
        schema_ok = kind == "json_schema" and not self.ignore_format
        if not schema_ok and "exactly of this shape" not in prompt:
            return self._answer(PROSE, prompt)
        return self._answer(json.dumps(self.answer_for(body, prompt)), prompt)

    def _answer(self, text: str, prompt: str) -> Reply:
        if not self.count_tokens:
            return chat_reply(text)
        return chat_reply(
            text, prompt_tokens=len(prompt) // 4 + 20, completion_tokens=len(text) // 4 + 1
        )

    def answer_for(self, body: dict[str, Any], prompt: str) -> dict[str, Any]:
        """The JSON a good model would give, by the schema name or, without one, the prompt."""
        fmt = (body.get("response_format") or {}).get("json_schema") or {}
        name, schema = fmt.get("name", ""), fmt.get("schema") or {}
        if name == "platform_content":
            return self.content_fn(list(schema.get("properties", {})))
        if name == "account_suggestions":
            item = schema["properties"]["accounts"]["items"]["properties"]
            return good_accounts(item["platform"]["enum"])
        if name == "image_analysis":
            return GOOD_ANALYSIS
        if "Platforms and their limits:" in prompt:
            return self.content_fn(re.findall(r"^- (\w+): caption <=", prompt, re.M))
        if "Suggest up to" in prompt:
            found = re.search(r"EACH of these platforms: (.*?), for the niche", prompt)
            return good_accounts(found.group(1).split(", ") if found else ["instagram"])
        if "Analyse this photo" in prompt:
            return GOOD_ANALYSIS
        return {"ok": True, "word": "hello"}
