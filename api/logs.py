"""Structured JSON logs for `socialopt api`: one JSON object per line, with `session_id` on
every line logged inside a job (bound with structlog's contextvars by ApiJobs) and every
secret redacted with the same `redact` the bot uses.

Our modules keep logging through the standard `logging` module; structlog's ProcessorFormatter
renders those records (uvicorn's included) as JSON, adding the bound context and `extra=`
fields.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from typing import IO, Any
from urllib.parse import urlsplit

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from socialopt.logs import redact
from socialopt.settings import Settings


def secrets_of(settings: Settings) -> list[str]:
    """Every secret of the settings, and the password of REDIS_URL if it has one."""
    values = list(settings.secret_values())
    if settings.redis_url:
        password = urlsplit(settings.redis_url).password
        if password:
            values.append(password)
    return values


class Redact:
    """A structlog processor: every string in the event (nested too) with secrets as `***`."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self.secrets = [s for s in secrets if s]

    def _clean(self, value: Any) -> Any:
        if isinstance(value, str):
            return redact(value, self.secrets)
        if isinstance(value, dict):
            return {k: self._clean(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self._clean(v) for v in value]
        return value

    def __call__(self, logger: WrappedLogger, name: str, event: EventDict) -> EventDict:
        if not self.secrets:
            return event
        return {k: self._clean(v) for k, v in event.items()}


def _drop_internals(logger: WrappedLogger, name: str, event: EventDict) -> EventDict:
    event.pop("_record", None)
    event.pop("_from_structlog", None)
    event.pop("color_message", None)  # uvicorn's ANSI copy of the message
    return event


def processors(secrets: Iterable[str]) -> list[Processor]:
    """The chain every line goes through before it is rendered as JSON."""
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        Redact(secrets),
    ]


def configure_logging(settings: Settings, stream: IO[str] | None = None) -> logging.Handler:
    """JSON lines on `stream` (stderr) at LOG_LEVEL for the root logger (ours, uvicorn's and
    every library's) and for structlog loggers; returns the handler."""
    chain = processors(secrets_of(settings))
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=chain,
        processors=[_drop_internals, structlog.processors.JSONRenderer(ensure_ascii=False)],
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(getattr(logging, settings.log_level, logging.INFO))
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):  # through the root handler
        uv = logging.getLogger(name)
        uv.handlers.clear()
        uv.propagate = True
    for name in ("httpx", "httpx2", "httpcore"):  # their INFO lines repeat every URL
        logging.getLogger(name).setLevel(logging.WARNING)
    structlog.configure(
        processors=[*chain, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    return handler
