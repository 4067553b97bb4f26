"""The Celery side every process shares: the app, its delivery guarantees, and the job
message (references only: session id, user, options, file names in the store). Senders (the
API, the bot) need only this; `socialopt.worker` holds the task that runs the job."""

from __future__ import annotations

import dataclasses
from typing import Any

from celery import Celery

from pipeline.models import Account, JobOptions, LogoOptions
from pipeline.serialize import account_from_dict, to_dict
from socialopt.settings import Settings
from socialopt.usecases import sessions

TASK = "socialopt.run_session"
QUEUE = "socialopt"
HARD_LIMIT_GRACE_S = 30

app = Celery("socialopt")


def configure(settings: Settings, broker_url: str) -> Celery:
    """Point the Celery app at the broker and set the delivery guarantees."""
    app.conf.update(
        broker_url=broker_url,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_soft_time_limit=settings.processing_timeout_s,
        task_time_limit=settings.processing_timeout_s + HARD_LIMIT_GRACE_S,
        broker_transport_options={"visibility_timeout": settings.celery_visibility_timeout_s},
        task_serializer="json",
        accept_content=["json"],
        task_default_queue=QUEUE,
        task_ignore_result=True,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
    )
    return app


# --------------------------------------------------------------------------- payloads


def job_payload(
    user_id: int,
    started: sessions.Started,
    *,
    source: str,
    logo: str = "",
    webhook_url: str = "",
) -> dict[str, Any]:
    """What a job message carries: JSON, no image bytes (they are in the store)."""
    options = to_dict(dataclasses.replace(started.options, logo=None))
    if started.options.logo is not None:
        options["logo"] = {k: v for k, v in to_dict(started.options.logo).items() if k != "image"}
    return {
        "session_id": started.session_id,
        "user_id": user_id,
        "options": options,
        "source": source,
        "logo": logo,
        "webhook_url": webhook_url,
    }


def options_from_payload(data: dict[str, Any], logo: bytes | None) -> JobOptions:
    names = {f.name for f in dataclasses.fields(JobOptions)}
    fields = {k: v for k, v in data.items() if k in names}
    for key in ("platforms", "product_styles"):
        fields[key] = tuple(fields.get(key) or ())
    fields["saved_accounts"] = tuple(
        a if isinstance(a, Account) else account_from_dict(a)
        for a in fields.get("saved_accounts") or ()
    )
    placement = fields.pop("logo", None)
    fields["logo"] = LogoOptions(image=logo, **placement) if logo and placement else None
    return JobOptions(**fields)


def enqueue(payload: dict[str, Any]) -> None:
    """Send a job message (by name: the sender needs no task code loaded)."""
    app.send_task(TASK, args=[payload], queue=QUEUE)
