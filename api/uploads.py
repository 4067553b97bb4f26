"""Upload limits, checked while the body streams in, before anything is kept."""

from __future__ import annotations

from fastapi import UploadFile
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import ApiError, error_body

CHUNK = 1024 * 1024


class BodyTooLarge(ApiError):
    def __init__(self, max_bytes: int) -> None:
        super().__init__(
            f"The request is larger than {max_bytes // (1024 * 1024)} MB.",
            code="UPLOAD_TOO_LARGE",
        )


class BodyLimit:
    """ASGI middleware: refuse a body over `max_bytes` from its Content-Length at once, and
    stop reading one that grows past it (chunked uploads) with 413."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _too_large(send, self.max_bytes)
            return
        seen = 0
        exceeded = replaced = False

        async def counting() -> Message:
            nonlocal seen, exceeded
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    exceeded = True
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def answering(message: Message) -> None:
            """Once the limit is passed, whatever the app answers (a parser's 400) becomes
            our 413."""
            nonlocal replaced
            if not exceeded:
                await send(message)
            elif not replaced:
                replaced = True
                await _too_large(send, self.max_bytes)

        try:
            await self.app(scope, counting, answering)
        except BodyTooLarge:
            if not replaced:
                await _too_large(send, self.max_bytes)


async def _too_large(send: Send, max_bytes: int) -> None:
    import json

    body = json.dumps(error_body(413, BodyTooLarge(max_bytes).message, "UPLOAD_TOO_LARGE"))
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"connection", b"close")],
        }
    )
    await send({"type": "http.response.body", "body": body.encode()})


async def read_upload(upload: UploadFile, max_bytes: int) -> bytes:
    """The bytes of one uploaded part, or 413 IMAGE_TOO_LARGE past `max_bytes`."""
    buf = bytearray()
    while chunk := await upload.read(CHUNK):
        buf += chunk
        if len(buf) > max_bytes:
            raise ApiError(
                f"The file is larger than {max_bytes // (1024 * 1024)} MB.",
                code="IMAGE_TOO_LARGE",
            )
    if not buf:
        raise ApiError("The uploaded file is empty.", code="EMPTY_FILE")
    return bytes(buf)
