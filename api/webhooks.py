"""Signed webhooks in the style of the Standard Webhooks spec.

Headers: `Webhook-Id`, `Webhook-Timestamp` (Unix seconds) and `Webhook-Signature`
(`v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, keyed with the key's secret after its
`whsec_` prefix, base64-decoded). Every attempt goes through the same SSRF guard as image URLs:
the host is resolved once, vetted, and the connection is made to that address.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from pipeline.intake import IntakeLimits, vet_url

log = logging.getLogger(__name__)

TIMEOUT_S = 10.0
MAX_WAIT_S = 300.0


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix("whsec_"))


def sign(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The `Webhook-Signature` header value for one delivery."""
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(secret: str, headers: dict[str, str], body: bytes, tolerance_s: int = 300) -> bool:
    """What a receiver does (documented in the README): check the time, then any signature."""
    try:
        timestamp = int(headers["webhook-timestamp"])
    except (KeyError, ValueError):
        return False
    if abs(time.time() - timestamp) > tolerance_s:
        return False
    expected = sign(secret, headers.get("webhook-id", ""), timestamp, body)
    return any(
        hmac.compare_digest(expected, candidate)
        for candidate in headers.get("webhook-signature", "").split()
    )


@dataclass
class Attempt:
    status: int | None
    error: str

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def post_once(url: str, body: bytes, headers: dict[str, str], limits: IntakeLimits) -> Attempt:
    """One POST to the vetted address of `url` (sync; run it in a thread)."""
    try:
        vetted = vet_url(url, limits)
    except Exception as exc:  # noqa: BLE001 - a refused or unresolvable target is an attempt
        return Attempt(None, getattr(exc, "code", type(exc).__name__))
    address = f"[{vetted.address}]" if ":" in vetted.address else vetted.address
    target = f"{vetted.scheme}://{address}:{vetted.port}{vetted.target}"
    extensions = {"sni_hostname": vetted.host} if vetted.scheme == "https" else {}
    try:
        with httpx.Client(timeout=TIMEOUT_S, follow_redirects=False) as client:
            resp = client.post(
                target,
                content=body,
                headers={**headers, "Host": vetted.netloc, "Content-Type": "application/json"},
                extensions=extensions,
            )
        return Attempt(resp.status_code, "" if resp.is_success else f"HTTP {resp.status_code}")
    except httpx.HTTPError as exc:
        return Attempt(None, type(exc).__name__)


async def deliver(
    store: Any,
    *,
    user_id: int,
    session_id: str,
    url: str,
    secret: str,
    event: str,
    payload: dict[str, Any],
    limits: IntakeLimits,
    attempts: int = 4,
    backoff_s: float = 2.0,
) -> bool:
    """Deliver one event: up to `attempts` tries, waiting backoff_s, 4x, 16x ... between
    them, every attempt logged in the store."""
    webhook_id = "msg_" + uuid.uuid4().hex
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    delivery = await store.start_delivery(user_id, session_id, url, event, webhook_id)
    for n in range(max(1, attempts)):
        timestamp = int(time.time())
        headers = {
            "Webhook-Id": webhook_id,
            "Webhook-Timestamp": str(timestamp),
            "Webhook-Signature": sign(secret, webhook_id, timestamp, body),
        }
        result = await asyncio.to_thread(post_once, url, body, headers, limits)
        await store.record_attempt(delivery, result.status, result.error, result.ok)
        if result.ok:
            return True
        if result.error == "URL_NOT_ALLOWED":
            log.warning("webhook for %s refused by the URL guard", session_id)
            return False
        if n + 1 < attempts:
            await asyncio.sleep(min(MAX_WAIT_S, backoff_s * 4**n))
    log.warning("webhook for %s not delivered after %d attempts", session_id, attempts)
    return False


async def notify_webhook(
    keys: Any,
    settings: Any,
    user_id: int,
    session_id: str,
    url: str,
    status: str,
    error: Any = None,
) -> bool:
    """`session.completed` / `session.failed` to `url`, signed with the user's key secret.
    Called by whichever process saw the job end (the API, or a Celery worker)."""
    from socialopt.wiring import intake_limits

    key = next((k for k in await keys.list_keys() if k.user_id == user_id), None)
    if key is None:
        return False
    base = settings.api_public_url or f"http://{settings.api_host}:{settings.api_port}"
    data: dict[str, Any] = {
        "session_id": session_id,
        "status": status,
        "status_url": f"{base}/api/v1/optimize/status/{session_id}",
        "results_url": f"{base}/api/v1/optimize/results/{session_id}",
    }
    session = await keys.repo.get_session(user_id, session_id)
    if session is not None and session.results:
        data["platforms"] = {
            p: d.get("status") for p, d in (session.results.get("platforms") or {}).items()
        }
    if error is not None:
        data["error"] = {"code": error.code, "message": error.message}
    payload = {
        "type": f"session.{status}",
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "data": data,
    }
    return await deliver(
        keys,
        user_id=user_id,
        session_id=session_id,
        url=url,
        secret=key.webhook_secret,
        event=payload["type"],
        payload=payload,
        limits=intake_limits(settings),
        attempts=settings.webhook_attempts,
        backoff_s=settings.webhook_backoff_s,
    )
