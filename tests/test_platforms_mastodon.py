"""Mastodon's caption limit read from a server's /api/v2/instance (a fake one on 127.0.0.1),
through the settings, the wiring and a whole job."""

from __future__ import annotations

import http.server
import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import replace

import pytest

from pipeline.captions import post_text
from pipeline.job import run_job
from pipeline.models import JobOptions
from pipeline.platforms import get_spec, limit_key
from socialopt import wiring
from socialopt.settings import Settings, SettingsError
from tests.image_factories import encode, textured_image

LONG = "Dandelion clocks glowing in the evening sun. " + "Seeds drift over the grass. " * 60


class FakeMastodon:
    """A Mastodon server that answers GET /api/v2/instance with `document` (or `status`)."""

    def __init__(self) -> None:
        self.document: object = {}
        self.status = 200
        self.paths: list[str] = []
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                fake.paths.append(self.path)
                body = b"not json" if fake.document is None else json.dumps(fake.document)
                if self.path != "/api/v2/instance":
                    self.send_response(404)
                    body = b'{"error":"Record not found"}'
                else:
                    self.send_response(fake.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body if isinstance(body, bytes) else body.encode())

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def instance(self, max_characters: object, attachments: int = 4) -> None:
        self.document = {
            "domain": "social.example",
            "configuration": {
                "statuses": {
                    "max_characters": max_characters,
                    "max_media_attachments": attachments,
                    "characters_reserved_per_url": 23,
                },
            },
        }


@pytest.fixture
def server() -> Iterator[FakeMastodon]:
    fake = FakeMastodon()
    thread = threading.Thread(target=fake.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        fake.server.shutdown()
        fake.server.server_close()


def test_setting_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MASTODON_SERVER_URL", "https://social.example/")
    assert Settings.from_env(None).mastodon_server_url == "https://social.example"
    monkeypatch.setenv("MASTODON_SERVER_URL", "social.example")
    with pytest.raises(SettingsError, match="MASTODON_SERVER_URL"):
        Settings.from_env(None)


def test_the_servers_limit_is_read_from_api_v2_instance(server: FakeMastodon) -> None:
    server.instance(5000, attachments=6)
    limits = wiring.mastodon_server_limits(Settings(mastodon_server_url=server.url))
    assert server.paths == ["/api/v2/instance"]
    spec = get_spec("mastodon", limits)
    assert (spec.caption_limit, spec.max_items) == (5000, 6)
    assert get_spec("threads", limits).caption_limit == 500  # only Mastodon changes


def test_no_server_means_the_default_and_no_request(server: FakeMastodon) -> None:
    assert wiring.mastodon_server_limits(Settings()) == {}
    assert server.paths == []
    assert get_spec("mastodon", {}).caption_limit == 500


@pytest.mark.parametrize(
    ("status", "document"),
    [
        (500, {"error": "boom"}),
        (200, None),  # not JSON
        (200, {"configuration": {"statuses": {"max_characters": -1}}}),
        (200, {"configuration": {}}),
    ],
)
def test_an_unreadable_server_keeps_the_default_and_warns(
    server: FakeMastodon, status: int, document: object, caplog: pytest.LogCaptureFixture
) -> None:
    server.status, server.document = status, document
    with caplog.at_level(logging.WARNING, logger="socialopt.wiring"):
        limits = wiring.mastodon_server_limits(Settings(mastodon_server_url=server.url))
    assert limits == {}
    assert get_spec("mastodon", limits).caption_limit == 500
    assert any("Mastodon server limits not read" in r.getMessage() for r in caplog.records)


def test_a_refused_connection_keeps_the_default(server: FakeMastodon) -> None:
    url = server.url
    server.server.shutdown()
    server.server.server_close()
    assert wiring.mastodon_server_limits(Settings(mastodon_server_url=url, url_timeout_s=2)) == {}


def test_a_job_writes_to_the_servers_limit(server: FakeMastodon) -> None:
    server.instance(1000)
    base = wiring.offline_services()
    services = wiring.build_services(
        replace(Settings(), ai_provider="offline", mastodon_server_url=server.url)
    )
    assert services.hashtag_limits[limit_key("mastodon", "caption")] == 1000
    image = encode(textured_image((900, 600)), "JPEG", quality=90)
    options = JobOptions(platforms=("mastodon",), description=LONG)
    wide = run_job(image, options, services).platforms["mastodon"].content
    short = run_job(image, options, base).platforms["mastodon"].content
    assert wide is not None and short is not None
    spec_wide = get_spec("mastodon", services.hashtag_limits)
    assert len(post_text(short, get_spec("mastodon"))) <= 500
    assert 500 < len(post_text(wide, spec_wide)) <= 1000
    assert wide.hashtags  # the server's room is used for the text, not at the tags' cost
