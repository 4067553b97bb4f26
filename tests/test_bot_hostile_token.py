"""Issue 12 #3: the bot token never reaches a user or a log. A file download fails with a body
that echoes the requested path (token included, URL-encoded, as some servers do): the user
gets our own sentence with its code, and the log has the error with the token redacted in
every form. The real application runs against the fake Bot API on 127.0.0.1."""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from bot.app import build_application
from socialopt.logs import redact
from tests.bot_helpers import running, settings_for
from tests.fakes.telegram import FakeTelegram

ROOT = Path(__file__).resolve().parents[1]
COFFEE = (ROOT / "samples" / "coffee.jpg").read_bytes()
ANA = 2001

pytestmark = pytest.mark.timeout(60)


def token_forms(token: str) -> list[str]:
    """Every way the token (or its secret half) shows up in an echoed URL."""
    half = token.split(":", 1)[1]
    return [token, half, quote(token, safe=""), quote(token, safe="").lower(), quote(token)]


@pytest.mark.parametrize("as_file", [True, False], ids=["document", "photo"])
async def test_a_failed_download_never_shows_the_servers_text(
    fake: FakeTelegram, tmp_path: Path, caplog: pytest.LogCaptureFixture, as_file: bool
) -> None:
    fake.file_error = (500, "Internal error while reading {path}")
    caplog.set_level(logging.WARNING)
    async with running(build_application(settings_for(fake, tmp_path))):
        if as_file:
            fake.send_document(ANA, COFFEE, "coffee.jpg")
        else:
            fake.send_photo(ANA, COFFEE)
        reply = await fake.wait_text(ANA, "DOWNLOAD_FAILED")
    # our sentence and code, nothing of the server's answer
    assert reply.text == (
        "⚠️ I could not download the file from Telegram. Please send it again. (DOWNLOAD_FAILED)"
    )
    said = " ".join(c.text for c in fake.calls if c.chat_id == ANA)
    assert "Internal error" not in said and "file" + "%2F" not in said
    for form in token_forms(fake.token):
        assert form not in said
    # the log keeps what went wrong, with the token redacted in plain and encoded forms
    logged = "\n".join(  # the bot's process (the fake server's own access log aside)
        r.getMessage() for r in caplog.records if not r.name.startswith("tornado")
    )
    assert "file download failed" in logged and "Internal error while reading" in logged
    assert "%2Ffile%2Fbot***" in logged  # the encoded path is still there, token-less
    for form in token_forms(fake.token):
        assert form not in logged


def test_redaction_covers_url_encoded_secrets() -> None:
    """A secret with characters that URL encoding changes (an API key with `/`, `+`, `=`, a
    token's `:`) is redacted as it is, percent-encoded (either case), form-encoded and
    encoded twice."""
    key = "sk-ab/cd+ef=gh"
    token = "123456:AAH-secret_half"
    text = " | ".join(
        [
            key,
            quote(key, safe=""),
            quote(key, safe="").lower(),
            quote_plus(key),
            quote(quote(key, safe=""), safe=""),
            quote(token, safe=""),
            "bot" + token.split(":")[1],
        ]
    )
    cleaned = redact(text, [key, token])
    assert cleaned == " | ".join(["***"] * 6 + ["bot***"])
