"""End-to-end bot tests: the real `build_application` against a fake Bot API on 127.0.0.1.

Everything goes through python-telegram-bot's real network stack: long-polling getUpdates,
getFile and file downloads, multipart uploads. The fake server plays the users.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
import re
import socket
import threading
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from telegram.ext import Application, CommandHandler

from bot import app as bot_app
from bot.app import build_application
from bot.context import SERVICES_KEY, BotServices
from bot.errors import BotSetupError
from socialopt.settings import Secret, Settings
from socialopt.wiring import offline_services
from storage.repository import Repository
from tests.bot_helpers import running, settings_for, svc
from tests.fakes.telegram import Call, FakeTelegram

ROOT = Path(__file__).resolve().parents[1]
COFFEE = (ROOT / "samples" / "coffee.jpg").read_bytes()  # 600x400
ASTRONAUT = (ROOT / "samples" / "astronaut.jpg").read_bytes()  # 512x512
ALICE, BOB = 1001, 1002
PLATFORM_LABELS = ("Instagram", "Facebook", "LinkedIn", "Pinterest", "X", "TikTok")

pytestmark = pytest.mark.timeout(120)


def jpeg(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (200, 120, 40)).save(buf, "JPEG")
    return buf.getvalue()


class GatedExecutor(ThreadPoolExecutor):
    """Pipeline jobs block until `gate` is set; `entered` counts jobs that reached the gate."""

    def __init__(self) -> None:
        super().__init__(max_workers=4, thread_name_prefix="gated")
        self.gate = threading.Event()
        self.entered = threading.Semaphore(0)

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        def gated() -> Any:
            self.entered.release()
            self.gate.wait(60)
            return fn(*args, **kwargs)

        return super().submit(gated)

    async def wait_entered(self) -> None:
        assert await asyncio.to_thread(self.entered.acquire, True, 30), "no job reached the gate"


class FailingExecutor(ThreadPoolExecutor):
    """Every pipeline job raises an error whose text contains a secret."""

    def __init__(self, secret: str) -> None:
        super().__init__(max_workers=1)
        self.secret = secret

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        def boom() -> Any:
            raise RuntimeError(f"pipeline exploded with key {self.secret}")

        return super().submit(boom)


# -- helpers playing a user --------------------------------------------------------------------


async def keyboard_for(fake: FakeTelegram, user: int, since: int) -> Call:
    def has_done(call: Call) -> bool:
        return any(d == "p:done" for _, d in call.buttons())

    return await fake.wait_call(user, "sendMessage", since=since, match=has_done)


async def choose_and_skip(
    fake: FakeTelegram, user: int, keyboard: Call, *, description: str | None = None
) -> None:
    """Press Done on `keyboard`, then describe (text) or skip."""
    mark = len(fake.calls)
    fake.press(user, keyboard.result["message_id"], "p:done")
    await fake.wait_text(user, "description", since=mark)
    if description is None:
        fake.send_command(user, "/skip")
    else:
        fake.send_text(user, description)


async def closing_message(fake: FakeTelegram, user: int, since: int = 0) -> Call:
    return await fake.wait_call(
        user,
        "sendMessage",
        since=since,
        match=lambda c: any(d.startswith("d:zip:") for _, d in c.buttons()),
        timeout=60,
    )


def session_id_of(closing: Call) -> str:
    return next(d for _, d in closing.buttons() if d.startswith("d:zip:")).removeprefix("d:zip:")


# -- tests -------------------------------------------------------------------------------------


async def test_photo_flow_delivers_results_and_records_the_session(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    app = build_application(settings_for(fake, tmp_path))
    async with running(app):
        fake.send_command(ALICE, "/start")
        start = await fake.wait_call(ALICE, "sendMessage")
        assert "as a file" in start.text

        mark = len(fake.calls)
        fake.send_photo(ALICE, COFFEE)
        kb = await keyboard_for(fake, ALICE, mark)
        labels = [label for label, _ in kb.buttons()]
        for name in PLATFORM_LABELS:
            assert any(name in label for label in labels), name
        assert "✅ Instagram" in labels and "✅ X" in labels and "Facebook" in labels
        assert "All" in labels and any("Done" in lb for lb in labels)
        assert "Product photos" in labels
        assert not any("AI analysis" in lb or "Logo" in lb for lb in labels)
        assert "as a file" in kb.text  # the compressed-photo tip, shown once

        # Toggle X off: the same message is edited.
        mark = len(fake.calls)
        fake.press(ALICE, kb.result["message_id"], "p:tog:x")
        edit = await fake.wait_call(ALICE, "editMessageReplyMarkup", since=mark)
        assert edit.params["message_id"] == kb.result["message_id"]
        assert "X" in [label for label, _ in edit.buttons()]
        assert await fake.wait_call(ALICE, "answerCallbackQuery", since=mark)

        mark = len(fake.calls)
        await choose_and_skip(fake, ALICE, kb, description="Latte art at a small cafe in Lisbon")
        closing = await closing_message(fake, ALICE, mark)
        sid = session_id_of(closing)
        calls = fake.calls_for(ALICE, since=mark)
        methods = [c.method for c in calls]

        # The contact sheet first, then the image as a document and the HTML caption message.
        first_photo = methods.index("sendPhoto")
        docs = [c for c in calls if c.method == "sendDocument"]
        assert len(docs) == 1 and first_photo < calls.index(docs[0])
        assert re.fullmatch(r"instagram_\d+x\d+\.jpg", docs[0].files["document"].filename)
        html = [c for c in calls if c.method == "sendMessage" and c.params.get("parse_mode")]
        assert any("<pre>" in c.text and "<code>#" in c.text for c in html)
        assert all(len(c.text) <= 4096 for c in calls)
        labels = [label for label, _ in closing.buttons()]
        assert any("Download all" in lb for lb in labels)
        assert any("Another version" in lb for lb in labels)
        assert any("Profiles" in lb for lb in labels)
        # One status message, edited as the job went on.
        status_edits = [c for c in calls if c.method == "editMessageText" and sid in c.text]
        assert status_edits and len({c.params["message_id"] for c in status_edits}) == 1

        record = await svc(app).repo.get_session(ALICE, sid)
        assert record is not None and record.status == "completed"
        assert record.results and set(record.results["platforms"]) == {"instagram"}
        assert record.description == "Latte art at a small cafe in Lisbon"
        assert Path(record.source_path).parent == tmp_path / "data" / "sessions" / sid

        # Download all: a zip with the image, results.json and the caption files.
        mark = len(fake.calls)
        fake.press(ALICE, closing.result["message_id"], f"d:zip:{sid}")
        zipped = await fake.wait_call(ALICE, "sendDocument", since=mark)
        names = zipfile.ZipFile(io.BytesIO(zipped.files["document"].data)).namelist()
        assert "results.json" in names
        assert any(re.fullmatch(r"instagram_\d+x\d+\.jpg", n) for n in names)
        assert any(n.endswith(".txt") for n in names)
        assert not any(n.startswith("source") for n in names)

        # Another user cannot fetch that zip with the same button data (a modified client
        # can send any callback data on a message of its own that has buttons).
        mark = len(fake.calls)
        fake.send_command(BOB, "/settings")
        menu = await fake.wait_call(BOB, "sendMessage", since=mark, match=lambda c: c.buttons())
        mark = len(fake.calls)
        fake.forge_press(BOB, menu.result["message_id"], f"d:zip:{sid}")
        await fake.wait_text(BOB, "no longer available", since=mark)
        assert not fake.calls_for(BOB, "sendDocument")


async def test_file_flow_keeps_quality_and_names_documents(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    app = build_application(settings_for(fake, tmp_path, default_platforms=("pinterest",)))
    async with running(app):
        mark = len(fake.calls)
        fake.send_document(ALICE, ASTRONAUT, "astronaut.jpg", "image/jpeg")
        kb = await keyboard_for(fake, ALICE, mark)
        assert "512×512" in kb.text and "as a file" not in kb.text
        assert "✅ Pinterest" in [label for label, _ in kb.buttons()]
        await choose_and_skip(fake, ALICE, kb)
        closing = await closing_message(fake, ALICE, mark)
        docs = fake.calls_for(ALICE, "sendDocument", since=mark)
        assert [d.files["document"].filename for d in docs] == ["pinterest_1000x1500.jpg"]
        record = await svc(app).repo.get_session(ALICE, session_id_of(closing))
        assert record.status == "completed" and record.description == ""
        assert record.source_hash == hashlib.sha256(ASTRONAUT).hexdigest()


@pytest.mark.parametrize(
    ("data", "name", "mime", "code"),
    [
        (b"%PDF-1.4 not an image", "notes.pdf", "application/pdf", "INVALID_IMAGE_FORMAT"),
        (b"just some bytes that are no image", "x.bin", "application/octet-stream", None),
        (jpeg(120, 90), "tiny.jpg", "image/jpeg", "IMAGE_TOO_SMALL"),
    ],
)
async def test_bad_files_get_a_friendly_error_with_its_code(
    fake: FakeTelegram, tmp_path: Path, data: bytes, name: str, mime: str, code: str | None
) -> None:
    app = build_application(settings_for(fake, tmp_path))
    async with running(app):
        mark = len(fake.calls)
        fake.send_document(ALICE, data, name, mime)
        reply = await fake.wait_call(ALICE, "sendMessage", since=mark)
        found = re.search(r"\(([A-Z_]+)\)$", reply.text)
        assert found, reply.text
        if code:
            assert found.group(1) == code
        assert "Traceback" not in reply.text and not reply.buttons()
        fake.send_command(ALICE, "/help")
        await fake.wait_text(ALICE, "/caption", since=mark)
        assert len(fake.calls_for(ALICE, "sendMessage", since=mark)) == 2  # nothing else
        assert await svc(app).repo.list_sessions(ALICE) == []


async def test_cancel_from_any_step_and_stale_buttons(fake: FakeTelegram, tmp_path: Path) -> None:
    app = build_application(settings_for(fake, tmp_path))
    async with running(app):
        # While choosing platforms.
        mark = len(fake.calls)
        fake.send_photo(ALICE, COFFEE)
        kb = await keyboard_for(fake, ALICE, mark)
        fake.send_command(ALICE, "/cancel")
        await fake.wait_text(ALICE, "Cancelled", since=mark)
        mark = len(fake.calls)
        fake.press(ALICE, kb.result["message_id"], "p:done")
        answer = await fake.wait_call(ALICE, "answerCallbackQuery", since=mark)
        assert "expired" in answer.params.get("text", "")

        # While asked for a description.
        mark = len(fake.calls)
        fake.send_photo(ALICE, COFFEE)
        kb = await keyboard_for(fake, ALICE, mark)
        fake.press(ALICE, kb.result["message_id"], "p:done")
        await fake.wait_text(ALICE, "description", since=mark)
        fake.send_command(ALICE, "/cancel")
        await fake.wait_text(ALICE, "Cancelled", since=mark)
        mark = len(fake.calls)
        fake.send_text(ALICE, "a description that arrives too late")
        fake.send_command(ALICE, "/cancel")
        await fake.wait_text(ALICE, "Nothing to cancel", since=mark)
        assert await svc(app).repo.list_sessions(ALICE) == []


async def test_a_new_photo_mid_flow_starts_over(fake: FakeTelegram, tmp_path: Path) -> None:
    app = build_application(settings_for(fake, tmp_path, default_platforms=("x",)))
    async with running(app):
        mark = len(fake.calls)
        fake.send_photo(ALICE, COFFEE)
        first = await keyboard_for(fake, ALICE, mark)
        fake.press(ALICE, first.result["message_id"], "p:done")
        await fake.wait_text(ALICE, "description", since=mark)

        mark = len(fake.calls)
        fake.send_document(ALICE, ASTRONAUT, "astronaut.jpg")
        second = await keyboard_for(fake, ALICE, mark)
        assert "512×512" in second.text
        fake.press(ALICE, first.result["message_id"], "p:skip")  # the old prompt is dead
        answer = await fake.wait_call(ALICE, "answerCallbackQuery", since=mark)
        assert "expired" in answer.params.get("text", "")

        await choose_and_skip(fake, ALICE, second)
        closing = await closing_message(fake, ALICE, mark)
        sessions = await svc(app).repo.list_sessions(ALICE)
        assert [s.id for s in sessions] == [session_id_of(closing)]
        assert sessions[0].source_hash == hashlib.sha256(ASTRONAUT).hexdigest()


async def test_done_with_nothing_selected_explains(fake: FakeTelegram, tmp_path: Path) -> None:
    app = build_application(settings_for(fake, tmp_path))
    async with running(app):
        fake.send_photo(ALICE, COFFEE)
        kb = await keyboard_for(fake, ALICE, 0)
        msg_id = kb.result["message_id"]
        assert ("All", "p:all") in fake.keyboard(ALICE, msg_id)
        mark = len(fake.calls)
        fake.press(ALICE, msg_id, "p:all")  # defaults -> all
        await fake.wait_call(ALICE, "editMessageReplyMarkup", since=mark)
        assert all(label.startswith("✅") for label, _ in fake.keyboard(ALICE, msg_id)[:6])
        # Everything is selected: the same button now says what it will do.
        assert ("None", "p:all") in fake.keyboard(ALICE, msg_id)
        mark = len(fake.calls)
        fake.press(ALICE, msg_id, "p:all")  # all -> none
        await fake.wait_call(ALICE, "editMessageReplyMarkup", since=mark)
        assert not any(label.startswith("✅") for label, _ in fake.keyboard(ALICE, msg_id))
        assert ("All", "p:all") in fake.keyboard(ALICE, msg_id)

        mark = len(fake.calls)
        fake.press(ALICE, msg_id, "p:done")
        answer = await fake.wait_call(ALICE, "answerCallbackQuery", since=mark)
        assert "at least one platform" in answer.params["text"]
        await fake.wait_text(ALICE, "at least one platform", since=mark)
        # Done again: the alert again, but no identical edit and no error message.
        mark = len(fake.calls)
        fake.press(ALICE, msg_id, "p:done")
        answer = await fake.wait_call(ALICE, "answerCallbackQuery", since=mark)
        assert "at least one platform" in answer.params["text"]
        fake.send_command(ALICE, "/help")  # updates of one user run in order: a sync point
        await fake.wait_text(ALICE, "as a file", since=mark)
        after = fake.calls_for(ALICE, since=mark)
        assert not [c for c in after if c.method == "editMessageText"]
        assert not [c for c in after if "went wrong" in c.text]
        mark = len(fake.calls)
        # Still choosing: picking one and pressing Done now asks for the description.
        fake.press(ALICE, msg_id, "p:tog:tiktok")
        await fake.wait_call(ALICE, "editMessageReplyMarkup", since=mark)
        fake.press(ALICE, msg_id, "p:done")
        await fake.wait_text(ALICE, "description", since=mark)
        assert await svc(app).repo.list_sessions(ALICE) == []


async def test_two_users_at_once(fake: FakeTelegram, tmp_path: Path) -> None:
    app = build_application(settings_for(fake, tmp_path, default_platforms=("instagram",)))
    async with running(app):
        fake.send_photo(ALICE, COFFEE)
        fake.send_document(BOB, ASTRONAUT, "astronaut.png", "image/jpeg")
        kb_a, kb_b = await asyncio.gather(keyboard_for(fake, ALICE, 0), keyboard_for(fake, BOB, 0))
        await asyncio.gather(
            choose_and_skip(fake, ALICE, kb_a, description="coffee"),
            choose_and_skip(fake, BOB, kb_b, description="space"),
        )
        done_a, done_b = await asyncio.gather(
            closing_message(fake, ALICE), closing_message(fake, BOB)
        )
        sid_a, sid_b = session_id_of(done_a), session_id_of(done_b)
        assert sid_a != sid_b
        repo = svc(app).repo
        a, b = await repo.get_session(ALICE, sid_a), await repo.get_session(BOB, sid_b)
        assert (a.description, b.description) == ("coffee", "space")
        assert a.status == b.status == "completed"
        assert await repo.get_session(ALICE, sid_b) is None
        assert await repo.get_session(BOB, sid_a) is None
        # Each got their own results only.
        assert all(sid_b not in c.text for c in fake.calls_for(ALICE))
        assert all(sid_a not in c.text for c in fake.calls_for(BOB))


async def test_the_bot_answers_others_while_a_slow_job_runs_and_queues_jobs(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    executor = GatedExecutor()
    settings = settings_for(fake, tmp_path, max_concurrent_jobs=1, default_platforms=("x",))
    app = build_application(settings, executor=executor)
    try:
        async with running(app):
            fake.send_photo(ALICE, COFFEE)
            await choose_and_skip(fake, ALICE, await keyboard_for(fake, ALICE, 0))
            await executor.wait_entered()  # Alice's pipeline is running (blocked) in a thread

            # Meanwhile: /help for Alice, a whole menu for Bob, answered at once.
            mark = len(fake.calls)
            fake.send_command(ALICE, "/help")
            await fake.wait_text(ALICE, "/caption", since=mark)
            fake.send_photo(BOB, COFFEE)
            kb_b = await keyboard_for(fake, BOB, mark)
            await choose_and_skip(fake, BOB, kb_b)
            queued = await fake.wait_text(BOB, "position 1", since=mark)
            assert svc(app).jobs.running_count == 1 and svc(app).jobs.waiting_count == 1
            assert not any(d.startswith("d:zip:") for c in fake.calls for _, d in c.buttons())

            executor.gate.set()
            await closing_message(fake, ALICE)
            await closing_message(fake, BOB)
            # Bob's status message went from queued to working to finished.
            edits = fake.calls_for(BOB, "editMessageText", since=mark)
            assert any(
                "Finished" in c.text and c.params["message_id"] == queued.params["message_id"]
                for c in edits
            )
    finally:
        executor.gate.set()
        executor.shutdown()


async def test_a_failing_job_tells_one_sentence_and_redacts_secrets(
    fake: FakeTelegram, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    secret_key = "sk-test-secret-0123456789"
    settings = settings_for(fake, tmp_path, openai_api_key=Secret(secret_key))
    settings = Settings(**{**settings.__dict__, "ai_provider": "offline"})
    executor = FailingExecutor(secret_key)
    app = build_application(settings, executor=executor)
    app.add_handler(CommandHandler("boom", _boom), group=-2)
    caplog.set_level(logging.INFO)
    try:
        async with running(app):
            fake.send_photo(ALICE, COFFEE)
            await choose_and_skip(fake, ALICE, await keyboard_for(fake, ALICE, 0))
            failed = await fake.wait_text(ALICE, "went wrong")
            sid = re.search(r"session <code>(\w+)</code>", failed.text).group(1)
            record = await svc(app).repo.get_session(ALICE, sid)
            assert record.status == "failed" and record.error_code == "INTERNAL_ERROR"

            # Another user is unaffected by Alice's failure.
            mark = len(fake.calls)
            fake.send_command(BOB, "/start")
            await fake.wait_text(BOB, "as a file", since=mark)

            # A crashing handler: one sentence with a reference, no traceback to the user.
            fake.send_command(BOB, "/boom")
            reply = await fake.wait_text(BOB, "went wrong", since=mark)
            assert "ref" in reply.text and "Traceback" not in reply.text
    finally:
        executor.shutdown()
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name != "tornado.access")
    assert "Traceback" in logged and "pipeline exploded" in logged
    assert secret_key not in logged and fake.token not in logged
    assert fake.token.split(":")[1] not in logged


async def _boom(update: Any, context: Any) -> None:
    raise RuntimeError(f"handler exploded near {context.bot.token}")


async def _same_edit(update: Any, context: Any) -> None:
    sent = await update.effective_message.reply_text("<b>Same</b> text")
    await sent.edit_text("<b>Same</b> text")  # changes nothing: the Bot API answers 400


async def test_an_edit_that_changes_nothing_is_not_an_error_for_the_user(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    app = build_application(settings_for(fake, tmp_path))
    app.add_handler(CommandHandler("same", _same_edit), group=-2)
    async with running(app):
        mark = len(fake.calls)
        fake.send_command(ALICE, "/same")
        refused = await fake.wait_call(ALICE, "editMessageText", since=mark)
        assert refused.result is None  # the fake refused it, as Telegram does
        fake.send_command(ALICE, "/help")  # updates of one user run in order: a sync point
        await fake.wait_text(ALICE, "as a file", since=mark)
        assert not [c for c in fake.calls_for(ALICE, since=mark) if "went wrong" in c.text]


async def test_interrupted_jobs_are_told_once_with_a_retry(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    settings = settings_for(fake, tmp_path)
    settings.data_dir.mkdir(parents=True)
    source = settings.data_dir / "sessions" / "crashed01" / "source.jpg"
    source.parent.mkdir(parents=True)
    source.write_bytes(COFFEE)
    async with await Repository.open(settings.db_path) as repo:
        await repo.create_session(
            ALICE, session_id="crashed01", source_path=str(source), platforms=("x",)
        )
        await repo.mark_processing(ALICE, "crashed01")

    app = build_application(settings)
    async with running(app):
        told = await fake.wait_text(ALICE, "interrupted")
        assert (await svc(app).repo.get_session(ALICE, "crashed01")).status == "interrupted"
        mark = len(fake.calls)
        fake.press(ALICE, told.result["message_id"], "r:retry:crashed01")
        closing = await closing_message(fake, ALICE, mark)
        retried = await svc(app).repo.get_session(ALICE, session_id_of(closing))
        assert retried.status == "completed" and retried.platforms == ("x",)

    again = build_application(settings)
    mark = len(fake.calls)
    async with running(again):
        fake.send_command(ALICE, "/help")
        await fake.wait_text(ALICE, "/caption", since=mark)
    assert not any("interrupted" in c.text for c in fake.calls_for(ALICE, since=mark))


async def test_limits_allowed_users_and_jobs_per_hour(fake: FakeTelegram, tmp_path: Path) -> None:
    settings = settings_for(fake, tmp_path, allowed_user_ids=(ALICE,), jobs_per_hour=1)
    app = build_application(settings)
    async with running(app):
        fake.send_command(BOB, "/start")
        assert "private" in (await fake.wait_call(BOB, "sendMessage")).text

        fake.send_photo(ALICE, COFFEE)
        await choose_and_skip(fake, ALICE, await keyboard_for(fake, ALICE, 0))
        await closing_message(fake, ALICE)
        mark = len(fake.calls)
        fake.send_photo(ALICE, COFFEE)
        await choose_and_skip(fake, ALICE, await keyboard_for(fake, ALICE, mark))
        refused = await fake.wait_text(ALICE, "RATE_LIMITED", since=mark)
        assert "per hour" in refused.text
        assert len(await svc(app).repo.list_sessions(ALICE)) == 1


def test_missing_token_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(BotSetupError) as info:
        build_application(Settings(data_dir=tmp_path))
    assert info.value.code == "TELEGRAM_TOKEN_MISSING"


@contextmanager
def fake_in_thread() -> Iterator[FakeTelegram]:
    """A fake Bot API on its own loop in a thread, for code that runs its own loop (run_bot)."""
    ready = threading.Event()
    holder: dict[str, Any] = {}

    def serve() -> None:
        async def main() -> None:
            async with FakeTelegram() as server:
                holder["fake"], holder["stop"] = server, asyncio.Event()
                ready.set()
                await holder["stop"].wait()

        loop = asyncio.new_event_loop()
        holder["loop"] = loop
        loop.run_until_complete(main())
        loop.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(10)
    try:
        yield holder["fake"]
    finally:
        holder["loop"].call_soon_threadsafe(holder["stop"].set)
        thread.join(10)


def test_rejected_token_is_a_one_line_error(tmp_path: Path) -> None:
    """run_bot against the fake server with a token it does not know."""
    from bot.run import run_bot

    with fake_in_thread() as fake:
        settings = settings_for(fake, tmp_path, telegram_bot_token=Secret("999:wrong-token"))
        with pytest.raises(BotSetupError) as info:
            run_bot(settings)
    assert info.value.code == "TELEGRAM_TOKEN_REJECTED"
    assert "wrong-token" not in str(info.value)


def test_unreachable_server_is_a_one_line_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from bot.run import run_bot

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = Settings(
        data_dir=tmp_path,
        telegram_bot_token=Secret("123:abc"),
        telegram_api_base_url=f"http://127.0.0.1:{port}/bot",
    )
    with pytest.raises(BotSetupError) as info:
        run_bot(settings)
    assert info.value.code == "TELEGRAM_UNREACHABLE"
    assert not [r for r in caplog.records if r.exc_info]  # no traceback in the logs


async def test_results_are_committed_before_the_user_is_told(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    settings = settings_for(fake, tmp_path)
    settings.data_dir.mkdir(parents=True)
    events: list[tuple[str, int]] = []

    class SpyRepository(Repository):
        async def complete_session(self, *args: Any, **kwargs: Any) -> None:
            await super().complete_session(*args, **kwargs)
            events.append(("committed", len(fake.calls)))

    repo = await SpyRepository.open(settings.db_path)
    try:
        app = build_application(settings, repository=repo)
        async with running(app):
            fake.send_photo(ALICE, COFFEE)
            await choose_and_skip(fake, ALICE, await keyboard_for(fake, ALICE, 0))
            await closing_message(fake, ALICE)
        committed_at = events[0][1]
        told = [
            i
            for i, c in enumerate(fake.calls)
            if c.chat_id == ALICE and ("Finished" in c.text or c.method == "sendPhoto")
        ]
        assert told and min(told) >= committed_at
        # A repository passed in is left open by the app's shutdown.
        assert (await repo.list_sessions(ALICE))[0].status == "completed"
    finally:
        await repo.close()


async def test_graceful_stop_records_unfinished_jobs_as_interrupted(
    fake: FakeTelegram, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bot_app, "STOP_GRACE_S", 0.2)
    executor = GatedExecutor()
    settings = settings_for(fake, tmp_path, max_concurrent_jobs=1)
    app = build_application(settings, executor=executor)
    try:
        async with running(app):
            fake.send_photo(ALICE, COFFEE)
            await choose_and_skip(fake, ALICE, await keyboard_for(fake, ALICE, 0))
            fake.send_photo(BOB, COFFEE)
            await choose_and_skip(fake, BOB, await keyboard_for(fake, BOB, 0))
            await fake.wait_text(BOB, "position 1")
            await executor.wait_entered()
    finally:
        executor.gate.set()
        executor.shutdown()
    async with await Repository.open(settings.db_path) as repo:
        statuses = [s.status for uid in (ALICE, BOB) for s in await repo.list_sessions(uid)]
    assert statuses == ["interrupted", "interrupted"]


async def test_ai_and_logo_options_only_when_available(fake: FakeTelegram, tmp_path: Path) -> None:
    settings = settings_for(fake, tmp_path, ai_provider="auto", openai_api_key=Secret("sk-x"))
    settings.data_dir.mkdir(parents=True)
    logo = tmp_path / "logo.png"
    logo.write_bytes((ROOT / "samples" / "logo.png").read_bytes())
    async with await Repository.open(settings.db_path) as repo:
        await repo.update_user(ALICE, logo_path=str(logo))
    # The application builds its own services from the settings: an OpenAI key, so AI.
    app = build_application(settings)
    async with running(app):
        assert svc(app).services.ai_enabled
        fake.send_photo(ALICE, COFFEE)
        fake.send_photo(BOB, COFFEE)
        kb_a, kb_b = await asyncio.gather(keyboard_for(fake, ALICE, 0), keyboard_for(fake, BOB, 0))
        labels_a = [label for label, _ in kb_a.buttons()]
        labels_b = [label for label, _ in kb_b.buttons()]
        assert "✅ AI analysis" in labels_a and "✅ Logo" in labels_a
        assert "✅ AI analysis" in labels_b and not any("Logo" in lb for lb in labels_b)
        mark = len(fake.calls)
        fake.press(ALICE, kb_a.result["message_id"], "p:opt:product")
        edit = await fake.wait_call(ALICE, "editMessageReplyMarkup", since=mark)
        assert "✅ Product photos" in [label for label, _ in edit.buttons()]


async def test_no_ai_option_when_the_services_run_offline(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    # A key in the settings, but the services the bot runs with have no AI provider: jobs
    # would not use AI, so the keyboard must not offer it.
    settings = settings_for(fake, tmp_path, ai_provider="auto", openai_api_key=Secret("sk-x"))
    app = build_application(settings, services=offline_services(settings))
    async with running(app):
        fake.send_photo(ALICE, COFFEE)
        labels = [label for label, _ in (await keyboard_for(fake, ALICE, 0)).buttons()]
        assert "Product photos" in labels
        assert not any("AI analysis" in label for label in labels)


def test_webhook_mode_uses_the_url_path_and_a_secret_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.run import run_bot

    seen: dict[str, Any] = {}
    monkeypatch.setattr(Application, "run_webhook", lambda self, **kw: seen.update(kw))
    with fake_in_thread() as fake:
        settings = settings_for(fake, tmp_path)
        run_bot(settings, webhook_url="https://bot.example.com/tg/hook", port=8444)
        with pytest.raises(BotSetupError):
            run_bot(settings, webhook_url="not a url")
    assert seen["url_path"] == "tg/hook" and seen["port"] == 8444
    assert seen["webhook_url"] == "https://bot.example.com/tg/hook"
    assert re.fullmatch(r"[A-Za-z0-9_-]{32,256}", seen["secret_token"])


async def test_every_message_is_html_without_link_previews(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    app = build_application(settings_for(fake, tmp_path))
    async with running(app):
        fake.send_command(ALICE, "/help")
        help_text = await fake.wait_text(ALICE, "as a file")
        fake.send_text(ALICE, "hello")  # a plain-text hint, sent with no options at all
        hint = await fake.wait_text(ALICE, "Send me a photo")
    for call in (help_text, hint):
        assert call.params["parse_mode"] == "HTML"
        assert call.params["link_preview_options"] == {"is_disabled": True}
    assert fake.messages[(ALICE, help_text.result["message_id"])]["entities"]  # <b> parsed


async def test_other_messages_get_a_hint(fake: FakeTelegram, tmp_path: Path) -> None:
    app = build_application(settings_for(fake, tmp_path))
    async with running(app):
        fake.send_text(ALICE, "hello there")
        assert "Send me a photo" in (await fake.wait_call(ALICE, "sendMessage")).text
        mark = len(fake.calls)
        fake.send_command(ALICE, "/frobnicate")
        await fake.wait_text(ALICE, "do not know that command", since=mark)


async def test_a_failed_download_is_a_friendly_error(fake: FakeTelegram, tmp_path: Path) -> None:
    fake.fail_methods["getFile"] = (400, "Bad Request: file is too big")
    app = build_application(settings_for(fake, tmp_path))
    async with running(app):
        fake.send_document(ALICE, COFFEE, "coffee.jpg")
        reply = await fake.wait_call(ALICE, "sendMessage")
        assert reply.text.endswith("(DOWNLOAD_FAILED)") and "too big" in reply.text


async def test_housekeeping_runs_while_the_bot_runs(
    fake: FakeTelegram, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sessions past RETENTION_DAYS disappear with their files without a restart."""
    from datetime import UTC, datetime, timedelta

    monkeypatch.setattr(bot_app, "HOUSEKEEPING_EVERY_S", 0.05)
    app = build_application(settings_for(fake, tmp_path, retention_days=30))
    async with running(app):
        svc: BotServices = app.bot_data[SERVICES_KEY]
        old = datetime.now(UTC) - timedelta(days=40)
        await svc.repo.create_session(ALICE, session_id="old1", started_at=old)
        await svc.repo.complete_session(ALICE, "old1", results={}, platform_rows=[], files=[])
        folder = svc.sessions_dir / "old1"
        folder.mkdir(parents=True)
        (folder / "x_1200x675.jpg").write_bytes(b"x")
        await svc.repo.create_session(ALICE, session_id="new1")
        for _ in range(100):
            if await svc.repo.get_session(ALICE, "old1") is None:
                break
            await asyncio.sleep(0.05)
        assert await svc.repo.get_session(ALICE, "old1") is None
        assert not folder.exists()
        assert await svc.repo.get_session(ALICE, "new1") is not None
