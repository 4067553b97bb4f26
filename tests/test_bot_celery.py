"""The bot with JOB_BACKEND=celery: the real application on the fake Bot API enqueues, a real
`socialopt worker` process runs the job, and the bot delivers it as if it had run it."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.app import build_application
from socialopt.settings import Secret
from storage.files import S3Store
from tests.bot_helpers import running, settings_for, svc
from tests.fakes.telegram import FakeTelegram
from tests.test_bot_commands_e2e import ANA, photo_session
from tests.test_scale_celery import (  # noqa: F401 - fixtures; the module skips without Redis
    redis_url,
    s3,
    start_worker,
    worker_env,
    workers,
)

pytestmark = pytest.mark.timeout(180)


async def test_a_photo_job_runs_on_a_worker_and_is_delivered(  # noqa: F811 - fixtures
    fake: FakeTelegram,
    tmp_path: Path,
    worker_env: dict[str, str],  # noqa: F811
    workers: list,  # noqa: F811
) -> None:
    workers.append(start_worker(tmp_path, worker_env, "w1"))
    settings = settings_for(
        fake,
        tmp_path,
        data_dir=Path(worker_env["DATA_DIR"]),
        job_backend="celery",
        redis_url=worker_env["REDIS_URL"],
        celery_broker_url=worker_env["CELERY_BROKER_URL"],
    )
    async with running(build_application(settings)) as app:
        assert type(svc(app).backend).__name__ == "CeleryBackend"
        mark = len(fake.calls)
        sid, closing = await photo_session(fake, ANA)
        sheet = fake.calls_for(ANA, "sendPhoto", since=mark)
        assert sheet, "the contact sheet was not sent"
        documents = fake.calls_for(ANA, "sendDocument", since=mark)
        assert len(documents) >= 2  # Instagram and X crops, read back from the store
        session = await svc(app).repo.get_session(ANA, sid)
        assert session is not None and session.status == "completed"
        assert "2 of 2 platforms ready" in closing.text


async def test_with_s3_the_bot_delivers_and_zips_from_the_store(  # noqa: F811 - fixtures
    fake: FakeTelegram,
    tmp_path: Path,
    worker_env: dict[str, str],  # noqa: F811
    workers: list,  # noqa: F811
    s3: str,  # noqa: F811
) -> None:
    s3_env = {
        "S3_BUCKET": "socialopt-bot",
        "S3_ENDPOINT_URL": s3,
        "S3_ACCESS_KEY_ID": "test",
        "S3_SECRET_ACCESS_KEY": "test",
    }
    workers.append(start_worker(tmp_path, {**worker_env, **s3_env}, "w1"))
    settings = settings_for(
        fake,
        tmp_path,
        data_dir=Path(worker_env["DATA_DIR"]),
        job_backend="celery",
        redis_url=worker_env["REDIS_URL"],
        celery_broker_url=worker_env["CELERY_BROKER_URL"],
        s3_bucket="socialopt-bot",
        s3_endpoint_url=s3,
        s3_access_key=Secret("test"),
        s3_secret_key=Secret("test"),
    )
    S3Store("socialopt-bot", endpoint_url=s3, access_key="test", secret_key="test").ensure_bucket()
    async with running(build_application(settings)) as app:
        sid, closing = await photo_session(fake, ANA)
        # the worker wrote the results to S3 only: this machine's folder has just the upload
        local = Path(worker_env["DATA_DIR"]) / "sessions" / sid
        assert not (local / "results.json").exists()
        assert len(fake.calls_for(ANA, "sendDocument")) >= 2  # the crops, read from S3
        mark = len(fake.calls)
        fake.press(ANA, closing.result["message_id"], f"d:zip:{sid}")
        zipped = await fake.wait_call(
            ANA,
            "sendDocument",
            since=mark,
            match=lambda c: any(f.filename.endswith(".zip") for f in c.files.values()),
        )
        assert zipped is not None
        assert (await svc(app).repo.get_session(ANA, sid)).status == "completed"
