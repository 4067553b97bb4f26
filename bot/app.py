"""`build_application`: the one place that wires the bot together.

Services (repository, pipeline services, job runner) are opened in `post_init` and stored in
`bot_data` (typed access: `context.svc`), closed in `post_shutdown`; `post_stop` lets running
jobs finish and records the rest as interrupted. Updates of one user are processed in order,
different users concurrently, so one user's slow step never holds up another.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

from telegram import LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    BaseUpdateProcessor,
    ContextTypes,
    Defaults,
)
from telegram.request import BaseRequest
from telegram.warnings import PTBUserWarning

from bot import jobs, keyboards
from bot.context import SERVICES_KEY, BotContext, BotServices
from bot.errors import BotSetupError, error_handler
from bot.handlers import album, caption, common, history, photo, profiles, reminders
from bot.handlers import settings as settings_flow
from bot.ratelimit import PriorityRateLimiter
from socialopt.queue import AIBudget, JobRunner
from socialopt.settings import Settings
from socialopt.usecases import sessions
from socialopt.wiring import (
    admission,
    file_store,
    job_backend,
    job_defaults,
    services_with_cache,
)

log = logging.getLogger(__name__)

# Every message is HTML (escaped with bot.formatting.escape) and shows no link previews.
DEFAULTS = Defaults(
    parse_mode=ParseMode.HTML, link_preview_options=LinkPreviewOptions(is_disabled=True)
)
REMOTE_JOBS = 64  # JOB_BACKEND=celery: jobs in flight on the workers (the bot only waits)
STOP_GRACE_S = 30.0  # how long a stop waits for running jobs before recording them interrupted
_WIRING_KEY = "_wiring"
HOUSEKEEPING_EVERY_S = 6 * 3600  # retention and AI-cache expiry run at start and this often


@dataclass
class _Wiring:
    settings: Settings
    repository: Any
    services: Any
    executor: Executor | None


class PerUserUpdateProcessor(BaseUpdateProcessor):
    """Process updates concurrently across users but in order for each user (and chat)."""

    def __init__(self, max_concurrent_updates: int = 256) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, asyncio.Lock] = {}
        self._users: dict[int, int] = {}

    @staticmethod
    def _key(update: object) -> int | None:
        if isinstance(update, Update):
            if update.effective_user is not None:
                return update.effective_user.id
            if update.effective_chat is not None:
                return update.effective_chat.id
        return None

    async def do_process_update(self, update: object, coroutine: Any) -> None:
        key = self._key(update)
        if key is None:
            await coroutine
            return
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with lock:
                await coroutine
        finally:
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key]
                self._locks.pop(key, None)

    async def initialize(self) -> None:
        """Nothing to open."""

    async def shutdown(self) -> None:
        """Nothing to close."""


def build_application(
    settings: Settings,
    *,
    repository: Any = None,
    services: Any = None,
    executor: Executor | None = None,
    request: BaseRequest | None = None,
) -> Application:
    """The bot application for `settings`. `repository` (an open storage Repository),
    `services` (pipeline Services) and `executor` (where pipeline jobs run) are created in
    post_init when not given; given ones are not closed by the application. `request` is
    the HTTP transport for Bot API calls (PTB's own when not given)."""
    logging.getLogger("httpx").setLevel(logging.WARNING)  # its INFO lines carry the token
    token = settings.telegram_bot_token.get()
    if not token:
        raise BotSetupError(
            "TELEGRAM_BOT_TOKEN is not set; get a token from @BotFather and put it in .env.",
            code="TELEGRAM_TOKEN_MISSING",
        )
    builder = (
        ApplicationBuilder()
        .token(token)
        .context_types(ContextTypes(context=BotContext))
        .defaults(DEFAULTS)
        .rate_limiter(PriorityRateLimiter())
        .concurrent_updates(PerUserUpdateProcessor(256))
        .post_init(_post_init)
        .post_stop(_post_stop)
        .post_shutdown(_post_shutdown)
    )
    if request is not None:
        builder = builder.request(request)
    if settings.telegram_api_base_url:
        builder = builder.base_url(settings.telegram_api_base_url)
    if settings.telegram_file_base_url:
        builder = builder.base_file_url(settings.telegram_file_base_url)
    if settings.telegram_local_mode:
        builder = builder.local_mode(True)  # files come as local paths; no 20 MB cap
    app = builder.build()
    app.bot_data[_WIRING_KEY] = _Wiring(settings, repository, services, executor)

    app.add_handler(common.gate_handler(), group=-1)
    with warnings.catch_warnings():
        # per_message=False is intended: the photo conversation waits for messages and buttons
        # of one chat; PTB warns that buttons are then tracked per chat.
        warnings.simplefilter("ignore", PTBUserWarning)
        conversation_and_buttons = photo.handlers(settings.draft_ttl_s)
    # F2's modules first: their /settings conversation must see a logo upload before the
    # photo conversation does; the photo flow's commands come last.
    steps = settings_flow.StepClock()  # this application's waiting steps in /settings
    app.bot_data[settings_flow.STEPS_KEY] = steps
    commands = [
        h for module in (caption, profiles, history, reminders) for h in module.handlers()
    ] + settings_flow.handlers(steps)
    # an album's items make one set job (bot.handlers.album): never the photo conversation
    app.add_handlers(commands + album.handlers() + conversation_and_buttons + common.handlers())
    app.add_handler(common.fallback_handler())
    app.add_error_handler(error_handler)
    return app


async def _post_init(app: Application) -> None:
    """Open storage and services, recover interrupted jobs, set the command menu."""
    wiring: _Wiring = app.bot_data.pop(_WIRING_KEY)
    settings = wiring.settings
    repo = wiring.repository
    if repo is None:
        from socialopt.wiring import open_repository

        settings.data_dir.mkdir(parents=True, exist_ok=True)
        repo = await open_repository(settings)
    services = wiring.services
    if services is None:
        services = await asyncio.to_thread(services_with_cache, settings)
    svc = BotServices(
        settings=settings,
        repo=repo,
        services=services,
        jobs=JobRunner(
            settings.max_concurrent_jobs if settings.job_backend == "local" else REMOTE_JOBS,
            wiring.executor,
            ai_workers=settings.ai_workers,
        ),
        defaults=job_defaults(settings, concurrent_jobs=settings.max_concurrent_jobs),
        admission=admission(settings),
    )
    svc.ai_budget = AIBudget(svc.admission.ai_calls_per_hour)
    svc.backend = await asyncio.to_thread(job_backend, settings)
    svc.store = await asyncio.to_thread(file_store, settings)
    app.bot_data[SERVICES_KEY] = svc
    app.bot_data["_owns_repo"] = wiring.repository is None
    svc.sessions_dir.mkdir(parents=True, exist_ok=True)
    await housekeep(svc)
    if app.job_queue is not None:  # python-telegram-bot's JobQueue runs it from then on
        app.job_queue.run_repeating(
            _housekeeping_job, HOUSEKEEPING_EVERY_S, first=HOUSEKEEPING_EVERY_S, name="housekeep"
        )
    await reminders.restore(app)  # a JobQueue job again for every pending reminder
    # Jobs of this process died with it; jobs on Celery workers live on and are delivered
    # when they finish (jobs.reoffer_undelivered), so nothing is marked then.
    remote = settings.job_backend == "celery"
    interrupted = [] if remote else await repo.mark_interrupted()
    if interrupted:
        log.warning("%d jobs were interrupted by the last stop", len(interrupted))
    await notify_interrupted(app)
    await asyncio.to_thread(sessions.clear_drafts, svc.drafts_dir)  # no draft outlives a stop
    await jobs.reoffer_undelivered(svc, app.bot)
    try:
        await app.bot.set_my_commands(common.COMMANDS)
    except TelegramError as exc:
        log.warning("could not set the command menu: %s", exc)


async def housekeep(svc: BotServices) -> int:
    """Delete sessions past RETENTION_DAYS (with their files) and expired AI answers."""
    settings = svc.settings
    purged = 0
    if settings.retention_days > 0:
        purged = await svc.repo.purge_older_than(settings.retention_days, settings.data_dir)
        if purged:
            log.info(
                "retention: deleted %d sessions older than %d days",
                purged,
                settings.retention_days,
            )
    await svc.repo.purge_expired_cache()
    return purged


async def _housekeeping_job(context: BotContext) -> None:
    try:
        await housekeep(context.svc)
    except Exception:  # noqa: BLE001 - housekeeping must never stop the bot
        log.exception("housekeeping failed")


async def notify_interrupted(app: Application) -> int:
    """Tell each user once about jobs a restart interrupted, with a Retry button."""
    svc: BotServices = app.bot_data[SERVICES_KEY]
    told = 0
    for session in await svc.repo.unnotified_interrupted():
        if session.user_id <= 0:  # CLI runs have no chat
            await svc.repo.mark_notified(session.user_id, session.id)
            continue
        when = (session.started_at or "")[:16].replace("T", " ")
        text = (
            f"⚠️ Your photo from {when} UTC (session <code>{session.id}</code>) was "
            "interrupted by a restart. Tap Retry to run it again."
        )
        markup = keyboards.retry(session.id)
        try:
            await app.bot.send_message(session.user_id, text, reply_markup=markup)
            told += 1
        except TelegramError as exc:  # blocked the bot, chat gone: do not retry forever
            log.warning(
                "could not tell user %s about session %s: %s", session.user_id, session.id, exc
            )
        await svc.repo.mark_notified(session.user_id, session.id)
    return told


async def _post_stop(app: Application) -> None:
    """Let running jobs finish (within STOP_GRACE_S); record the rest as interrupted."""
    await album.close(app)  # albums still being collected
    svc: BotServices | None = app.bot_data.get(SERVICES_KEY)
    if svc is None:
        return
    unfinished = await svc.jobs.stop(STOP_GRACE_S)
    if unfinished and svc.settings.job_backend == "local":
        marked = await svc.repo.mark_interrupted()
        log.warning(
            "stopped with %d unfinished jobs; %d sessions marked interrupted",
            unfinished,
            len(marked),
        )


async def _post_shutdown(app: Application) -> None:
    """Close what post_init opened."""
    svc: BotServices | None = app.bot_data.pop(SERVICES_KEY, None)
    if svc is None:
        return
    svc.jobs.close()
    if app.bot_data.pop("_owns_repo", False):
        await svc.repo.close()
