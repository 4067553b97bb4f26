"""The HTTP base of the fake servers: `FakeServer` is a ThreadingHTTPServer in a daemon thread
on 127.0.0.1 that records every request and answers from a queue of scripted `Reply`s first,
then from `default_reply(request)`."""

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
    # a streamed body instead: (pause before, bytes) pieces, sent as they come, then close
    chunks: list[tuple[float, bytes]] | None = None


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    status: int = 0  # the status it was answered with

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
                    scripted = fake.script and fake.scripted(rec)
                    reply = fake.script.popleft() if scripted else None
                if reply is None:
                    reply = fake.default_reply(rec)
                reply = fake.finish(rec, reply)
                rec.status = reply.status
                delay = reply.delay_s + fake.latency_s
                if delay:
                    time.sleep(delay)
                if reply.chunks is not None:
                    self._stream(reply)
                    return
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

            def _stream(self, reply: Reply) -> None:
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", reply.content_type)
                    self.send_header("Connection", "close")
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.flush()
                    for pause, piece in reply.chunks or []:
                        if pause:
                            time.sleep(pause)
                        self.wfile.write(piece)
                        self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):  # client gave up (stall)
                    pass
                self.close_connection = True

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

    def finish(self, request: Recorded, reply: Reply) -> Reply:
        """Last look at a reply before it is sent (a subclass may stream it)."""
        return reply

    def scripted(self, request: Recorded) -> bool:
        """Whether `request` takes the next queued reply (a subclass may exempt some)."""
        return True


def closed_port() -> int:
    """A 127.0.0.1 port with nothing listening (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
