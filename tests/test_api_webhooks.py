"""Signed webhooks against a receiver on 127.0.0.1 that fails twice and then accepts, and the
per-key limits on Redis (the real server on 6379: in CI it must be up, `.ci/run` checks)."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from api.webhooks import sign, verify
from tests.api_helpers import api_settings, create_key, serve, wait_done
from tests.test_api import COFFEE, assert_error, optimize

pytestmark = pytest.mark.timeout(120)


class Receiver(ThreadingHTTPServer):
    """Answers 500 to the first `failures` POSTs, then 204; keeps every request."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.done = threading.Event()
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hooks/socialopt"


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
        if len(self.server.received) <= self.server.failures:
            self.send_response(500)
        else:
            self.send_response(204)
            self.server.done.set()
        self.end_headers()

    def log_message(self, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver(failures=2)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


def test_signature_round_trip_and_tampering() -> None:
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"type":"session.completed"}'
    now = int(time.time())
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(now),
        "webhook-signature": sign(secret, "msg_1", now, body),
    }
    assert verify(secret, headers, body)
    assert not verify(secret, headers, body + b" ")
    assert not verify("whsec_" + "A" * 32, headers, body)
    stale = {**headers, "webhook-timestamp": str(now - 3600)}
    stale["webhook-signature"] = sign(secret, "msg_1", now - 3600, body)
    assert not verify(secret, stale, body)


def test_completed_event_is_signed_and_retried_until_accepted(
    tmp_path: Path, receiver: Receiver
) -> None:
    settings = api_settings(tmp_path, allow_private_urls=True, webhook_attempts=4)
    new = create_key(settings, "shop")
    with serve(settings) as served, served.client(new.key) as client:
        sid = optimize(client, webhook_url=receiver.url).json()["session_id"]
        assert wait_done(client, sid)["status"] == "completed"
        assert receiver.done.wait(30), "the webhook never arrived"
    assert len(receiver.received) == 3  # two failures, then accepted; no fourth try
    ids = {h["webhook-id"] for h, _ in receiver.received}
    assert len(ids) == 1  # a retry is the same message
    for headers, body in receiver.received:
        assert verify(new.record.webhook_secret, headers, body)
    event = json.loads(receiver.received[-1][1])
    assert event["type"] == "session.completed"
    assert event["data"]["session_id"] == sid
    assert event["data"]["status_url"].endswith(f"/api/v1/optimize/status/{sid}")
    assert event["data"]["platforms"] == {"instagram": "completed", "x": "completed"}


def _redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


@pytest.mark.skipif(
    not _redis_up() and not os.environ.get("CI"), reason="no Redis on 127.0.0.1:6379"
)
def test_rate_limits_on_redis_are_shared_and_answer_429(tmp_path: Path) -> None:
    settings = api_settings(
        tmp_path, api_rate_optimize="1/minute", redis_url="redis://127.0.0.1:6379/15"
    )
    key = create_key(settings, "shop")
    with serve(settings) as served, served.client(key.key) as client:
        assert optimize(client, image=COFFEE).status_code == 202
        assert_error(optimize(client, image=COFFEE), 429, "RATE_LIMITED")
        health = client.get("/api/v1/health").json()
        assert health["services"]["cache"]["status"] == "healthy"
    # a second server on the same Redis shares the window
    with serve(settings) as served, served.client(key.key) as client:
        assert_error(optimize(client, image=COFFEE), 429, "RATE_LIMITED")
