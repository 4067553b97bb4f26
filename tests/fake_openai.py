"""A fake OpenAI-compatible server on 127.0.0.1 for tests and the AI benchmark.

`FakeServer` is a ThreadingHTTPServer in a daemon thread that records every request and
answers from a queue of scripted `Reply`s first, then from `default_reply(request)`.
`FakeOpenAI` answers POST /v1/chat/completions with plausible structured JSON chosen by the
request's response_format schema name.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # dict/list -> JSON, str/bytes -> raw
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    content_type: str = "application/json"


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def json(self) -> Any:
        return json.loads(self.body or b"null")


class FakeServer:
    """Scripted HTTP server on 127.0.0.1 (port chosen by the OS)."""

    def __init__(self, latency_s: float = 0.0) -> None:
        self.latency_s = latency_s
        self.requests: list[Recorded] = []
        self.script: deque[Reply] = deque()
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                rec = Recorded(
                    self.command,
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                    time.monotonic(),
                )
                with fake._lock:
                    fake.requests.append(rec)
                    reply = fake.script.popleft() if fake.script else None
                if reply is None:
                    reply = fake.default_reply(rec)
                delay = reply.delay_s + fake.latency_s
                if delay:
                    time.sleep(delay)
                raw = reply.body
                if isinstance(raw, dict | list):
                    data = json.dumps(raw).encode()
                elif isinstance(raw, str):
                    data = raw.encode()
                else:
                    data = raw or b""
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", reply.content_type)
                    self.send_header("Content-Length", str(len(data)))
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # client gave up (timeout)
                    pass

            do_GET = do_POST = _handle  # noqa: N815

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def queue(self, *replies: Reply) -> None:
        with self._lock:
            self.script.extend(replies)

    def default_reply(self, request: Recorded) -> Reply:
        return Reply(404, {"error": {"message": "not found"}})


def closed_port() -> int:
    """A 127.0.0.1 port with nothing listening (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


class FakeOpenAI(FakeServer):
    """POST /v1/chat/completions -> structured JSON by response_format schema name."""

    @property
    def base_url(self) -> str:
        return f"{self.root}/v1"

    def chat_requests(self) -> list[Recorded]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def default_reply(self, request: Recorded) -> Reply:
        if not request.path.endswith("/chat/completions"):
            return Reply(404, {"error": {"message": f"no route {request.path}"}})
        body = request.json
        fmt = (body.get("response_format") or {}).get("json_schema") or {}
        name, schema = fmt.get("name", ""), fmt.get("schema") or {}
        if name == "platform_content":
            return chat_reply(good_content(list(schema.get("properties", {}))))
        if name == "account_suggestions":
            item = schema["properties"]["accounts"]["items"]["properties"]
            return chat_reply(good_accounts(item["platform"]["enum"]))
        if name == "image_analysis":
            return chat_reply(GOOD_ANALYSIS)
        return chat_reply({"ok": True})
