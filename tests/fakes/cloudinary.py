"""A local fake of Cloudinary's upload API (POST /v1_1/<cloud>/image/upload) on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Upload:
    cloud: str
    fields: dict[str, str]
    file: bytes
    filename: str


@dataclass
class FakeCloudinary:
    cloud: str = "demo"
    api_key: str = "1234"
    api_secret: str = "s3cr3t"
    fail_status: int = 0  # e.g. 500 or 401 makes every upload fail
    uploads: list[Upload] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def cloudinary_url(self) -> str:
        return f"cloudinary://{self.api_key}:{self.api_secret}@{self.cloud}"

    def start(self) -> FakeCloudinary:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def _reply(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:  # noqa: N802 (http.server naming)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                parts = self.path.strip("/").split("/")
                if len(parts) != 4 or parts[0] != "v1_1" or parts[2:] != ["image", "upload"]:
                    self._reply(404, {"error": {"message": f"no route {self.path}"}})
                    return
                if fake.fail_status:
                    self._reply(fake.fail_status, {"error": {"message": "fake failure"}})
                    return
                fields, file, filename = _parse_multipart(self.headers["Content-Type"], body)
                if parts[1] != fake.cloud or fields.get("api_key") != fake.api_key:
                    self._reply(401, {"error": {"message": "Invalid api_key"}})
                    return
                if not _signature_ok(fields, fake.api_secret):
                    self._reply(401, {"error": {"message": "Invalid Signature"}})
                    return
                fake.uploads.append(Upload(parts[1], fields, file, filename))
                pid = "/".join(p for p in (fields.get("folder"), fields.get("public_id")) if p)
                self._reply(
                    200,
                    {
                        "public_id": pid,
                        "secure_url": f"https://res.cloudinary.test/{fake.cloud}/image/upload/"
                        f"v1/{pid}",
                        "bytes": len(file),
                    },
                )

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def _parse_multipart(content_type: str, body: bytes) -> tuple[dict[str, str], bytes, str]:
    msg = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    fields: dict[str, str] = {}
    file, filename = b"", ""
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        if name == "file":
            file = payload
            filename = part.get_filename() or ""
        elif name:
            fields[str(name)] = payload.decode()
    return fields, file, filename


def _signature_ok(fields: dict[str, str], secret: str) -> bool:
    from cloudinary.utils import api_sign_request

    signed = {
        k: v
        for k, v in fields.items()
        if k not in {"signature", "api_key", "file", "resource_type"}
    }
    return fields.get("signature") == api_sign_request(signed, secret)
