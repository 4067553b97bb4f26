"""`run_bot`: long polling, or a webhook with a secret token. Start-up problems become one line.

`TELEGRAM_API_BASE_URL` / `TELEGRAM_FILE_BASE_URL` (e.g. `http://localhost:8081/bot` and
`http://localhost:8081/file/bot`) point the bot at a self-hosted Bot API server; see
`bot.app.build_application`.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from urllib.parse import urlsplit

from telegram import Bot, Update
from telegram.error import InvalidToken, NetworkError

from bot.app import build_application
from bot.errors import BotSetupError
from socialopt.logs import install_redaction
from socialopt.settings import Settings

log = logging.getLogger(__name__)


def configure_logging(settings: Settings) -> None:
    """Readable logs at LOG_LEVEL, httpx at WARNING (its INFO lines carry the bot URL), and
    every secret redacted."""
    if not logging.getLogger().handlers:
        logging.basicConfig(
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            level=getattr(logging, settings.log_level, logging.INFO),
        )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    install_redaction(settings.secret_values())


async def _preflight(settings: Settings) -> None:
    """Ask getMe once with a plain Bot, so a bad token or an unreachable server surfaces as an
    exception here instead of python-telegram-bot's retry loop logging a traceback."""
    kwargs = {}
    if settings.telegram_api_base_url:
        kwargs["base_url"] = settings.telegram_api_base_url
    if settings.telegram_file_base_url:
        kwargs["base_file_url"] = settings.telegram_file_base_url
    async with Bot(settings.telegram_bot_token.get(), **kwargs):
        pass


def run_bot(
    settings: Settings,
    webhook_url: str | None = None,
    *,
    listen: str = "0.0.0.0",
    port: int = 8443,
) -> None:
    """Run until stopped (Ctrl+C / SIGTERM). Raises BotSetupError with one readable line when
    the token is missing or rejected or the Bot API server cannot be reached."""
    configure_logging(settings)
    app = build_application(settings)
    server = settings.telegram_api_base_url or "https://api.telegram.org/bot"
    try:
        asyncio.run(_preflight(settings))
        if webhook_url:
            parts = urlsplit(webhook_url)
            if parts.scheme not in {"http", "https"} or not parts.netloc:
                raise BotSetupError(
                    f"--webhook needs a full URL such as https://example.com/telegram, "
                    f"got {webhook_url!r}.",
                    code="BAD_WEBHOOK_URL",
                )
            secret = settings.webhook_secret.get() or secrets.token_urlsafe(32)
            log.info("webhook on %s:%s for %s", listen, port, webhook_url)
            app.run_webhook(
                listen=listen,
                port=port,
                url_path=parts.path.lstrip("/"),
                webhook_url=webhook_url,
                secret_token=secret,
                allowed_updates=Update.ALL_TYPES,
            )
        else:
            log.info("long polling %s", server.split("/bot")[0])
            app.run_polling(allowed_updates=Update.ALL_TYPES)
    except InvalidToken:
        raise BotSetupError(
            "Telegram rejected TELEGRAM_BOT_TOKEN; check the token from @BotFather.",
            code="TELEGRAM_TOKEN_REJECTED",
        ) from None
    except NetworkError as exc:
        reason = str(exc).replace(settings.telegram_bot_token.get(), "***")
        raise BotSetupError(
            f"Cannot reach the Telegram Bot API at {server.split('/bot')[0]}: {reason}",
            code="TELEGRAM_UNREACHABLE",
        ) from None
