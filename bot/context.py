"""Typed bot context: the services every handler reaches through `context.svc`.

Services live in `application.bot_data` (opened in `post_init`, closed in `post_shutdown`), the
rules-bot way; `BotContext` gives handlers a typed door to them instead of `cast()` everywhere.
Use it with `ContextTypes(context=BotContext)` (done in `bot.app.build_application`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from telegram.ext import Application, CallbackContext, ExtBot

from socialopt.backends import JobBackend, LocalBackend
from socialopt.queue import AIBudget
from storage.files import FileStore, LocalStore

if TYPE_CHECKING:
    from pipeline.models import JobOptions
    from pipeline.services import Services
    from socialopt.queue import Admission, JobRunner
    from socialopt.settings import Settings
    from storage.repository import Repository

SERVICES_KEY = "svc"


@dataclass
class BotServices:
    """Everything a handler needs besides the update."""

    settings: Settings
    repo: Repository
    services: Services | None  # pipeline services (provider, cache, remover ...)
    jobs: JobRunner
    defaults: JobOptions  # what a job uses where the user chose nothing (wiring.job_defaults)
    admission: Admission  # per-user limits checked before a job is created
    ai_budget: AIBudget = field(default_factory=AIBudget)  # AI calls outside jobs, per hour
    backend: JobBackend = field(default_factory=LocalBackend)  # where jobs run (JOB_BACKEND)
    store: FileStore | None = None  # where session files live (wiring.file_store)

    @property
    def files(self) -> FileStore:
        """The session file store: the configured one, else DATA_DIR/sessions."""
        return self.store or LocalStore(self.sessions_dir)

    @property
    def ai_enabled(self) -> bool:
        """Whether jobs can use AI: the services' provider decides, not the settings."""
        return self.services is not None and self.services.ai_enabled

    @property
    def sessions_dir(self) -> Path:
        """`DATA_DIR/sessions`: each session's files live in `<sessions_dir>/<session_id>/`."""
        return self.settings.data_dir / "sessions"

    @property
    def drafts_dir(self) -> Path:
        """`DATA_DIR/drafts`: photos waiting for their platforms, kept on disk."""
        return self.settings.data_dir / "drafts"


class BotContext(CallbackContext[ExtBot, dict, dict, dict]):
    """CallbackContext with a typed `.svc` (the BotServices in bot_data)."""

    def __init__(
        self,
        application: Application[Any, Any, Any, Any, Any, Any],
        chat_id: int | None = None,
        user_id: int | None = None,
    ) -> None:
        super().__init__(application=application, chat_id=chat_id, user_id=user_id)

    @property
    def svc(self) -> BotServices:
        """The bot's services; raises a clear error if used before `post_init`."""
        try:
            return self.bot_data[SERVICES_KEY]
        except KeyError as exc:  # pragma: no cover - wiring mistake
            raise RuntimeError("bot services are not open yet (post_init has not run)") from exc
