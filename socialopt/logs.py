"""Secrets never reach a log: redaction of API keys and the bot token, and exception logging.

No Telegram and no bot imports here, so every bot module (the job runner included) can log
through it.
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

_ESCAPE = re.compile(r"%[0-9A-F]{2}")


def _forms(secret: str) -> set[str]:
    """The ways `secret` can appear in text: as is, URL-encoded (a path or query echoed by a
    server: `:` as `%3A`, either case, `+` for a space) and encoded twice."""
    forms = {secret}
    for encoded in (quote(secret, safe=""), quote_plus(secret, safe=""), quote(secret)):
        lower = _ESCAPE.sub(lambda m: m.group(0).lower(), encoded)
        forms |= {encoded, lower, quote(encoded, safe="")}
    return forms


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret (and the token's secret half) replaced by `***`, in plain
    and URL-encoded forms."""
    forms: set[str] = set()
    for secret in {s for s in secrets if s}:
        forms |= _forms(secret)
        if ":" in secret and secret.split(":", 1)[0].isdigit():
            forms |= _forms(secret.split(":", 1)[1])  # bot token without the id
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, "***")
    return text


class RedactingFilter(logging.Filter):
    """A logging filter that redacts secrets in the formatted message and traceback."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + "".join(traceback.format_exception(*record.exc_info))
            record.exc_info = None
            record.exc_text = None
        record.msg = redact(message, self.secrets)
        record.args = None
        return True


def install_redaction(secrets: Iterable[str]) -> RedactingFilter:
    """Attach a RedactingFilter to every handler of the root logger (idempotent)."""
    flt = RedactingFilter(secrets)
    root = logging.getLogger()
    for handler in root.handlers:
        for old in [f for f in handler.filters if isinstance(f, RedactingFilter)]:
            handler.removeFilter(old)
        handler.addFilter(flt)
    return flt


def format_exception(exc: BaseException, secrets: Iterable[str]) -> str:
    """The traceback of `exc` as text with secrets redacted."""
    return redact("".join(traceback.format_exception(exc)), secrets)


def log_exception(
    logger: logging.Logger, what: str, exc: BaseException, secrets: Iterable[str]
) -> None:
    """Log `exc` with its traceback, secrets redacted."""
    logger.error("%s\n%s", redact(what, secrets), format_exception(exc, secrets))
