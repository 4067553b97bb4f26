"""Thin tests of /caption, /profiles, /history and /settings through `app.process_update` of
the real application (`build_application`, with every handler it wires).

Updates are built with small factories; a BaseRequest subclass answers the Bot API with canned
JSON, records every call and the buttons each message shows, and fails on methods these
handlers should never use. `Env.press` presses only a button a message shows.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from telegram import (
    CallbackQuery,
    Chat,
    Document,
    Message,
    MessageEntity,
    PhotoSize,
    Update,
    User,
)
from telegram.ext import Application
from telegram.request import BaseRequest, RequestData

from bot import keyboards
from bot.app import build_application
from bot.context import SERVICES_KEY, BotContext
from bot.handlers import settings as settings_handlers
from pipeline.errors import ProviderError
from pipeline.models import Account
from pipeline.serialize import to_dict
from socialopt.settings import Secret, Settings
from socialopt.usecases import captions as caption
from socialopt.wiring import offline_services
from storage.records import rows_from_results
from storage.repository import Repository
from tests.fakes.telegram import Call

TOKEN = "123456:TEST-token"
BOT = User(id=1, first_name="Bot", is_bot=True, username="socialopt_test_bot")
USER_ID = 777
OTHER_ID = 888
_ids = count(1)

KNOWN_METHODS = {
    "getMe",
    "sendMessage",
    "editMessageText",
    "answerCallbackQuery",
    "sendChatAction",
    "sendDocument",
    "sendPhoto",
    "getFile",
    "editMessageReplyMarkup",
    "setMyCommands",
}


@dataclass
class RecordingRequest(BaseRequest):
    """Canned Bot API answers; unexpected methods and URLs are recorded as failures."""

    calls: list[Call] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)  # file_id -> bytes for getFile
    # message_id -> (chat_id, the (label, data) buttons it shows now, after edits)
    keyboards: dict[int, tuple[int, list[tuple[str, str]]]] = field(default_factory=dict)

    @property
    def read_timeout(self) -> float | None:
        return 1.0

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> tuple[int, bytes]:
        if "/file/bot" in url:
            file_id = url.rsplit("/", 1)[-1]
            if file_id in self.files:
                return 200, self.files[file_id]
            self.unexpected.append(url)
            return 404, b""
        api_method = url.rsplit("/", 1)[-1]
        params = dict(request_data.parameters) if request_data else {}
        call = Call(api_method, params)
        self.calls.append(call)
        if api_method not in KNOWN_METHODS:
            self.unexpected.append(api_method)
            return 400, json.dumps(
                {"ok": False, "error_code": 400, "description": f"unexpected {api_method}"}
            ).encode()
        result = self._result(api_method, params)
        chat_id = int(params.get("chat_id") or USER_ID)
        if api_method.startswith("send") and isinstance(result, dict):
            self.keyboards[result["message_id"]] = (chat_id, call.buttons())
        elif api_method in ("editMessageText", "editMessageReplyMarkup"):
            self.keyboards[int(params["message_id"])] = (chat_id, call.buttons())
        return 200, json.dumps({"ok": True, "result": result}).encode()

    def _result(self, method: str, params: dict[str, Any]) -> Any:
        if method == "getMe":
            return BOT.to_dict() | {"can_join_groups": True}
        if method in ("answerCallbackQuery", "sendChatAction"):
            return True
        if method == "getFile":
            return {
                "file_id": params["file_id"],
                "file_unique_id": "u" + params["file_id"],
                "file_size": len(self.files.get(params["file_id"], b"")),
                "file_path": params["file_id"],
            }
        return {
            "message_id": next(_ids),
            "date": int(datetime.now(UTC).timestamp()),
            "chat": {"id": int(params.get("chat_id") or USER_ID), "type": "private"},
            "from": BOT.to_dict(),
            "text": params.get("text", ""),
        }

    def sent(self, *methods: str) -> list[Call]:
        methods = methods or ("sendMessage",)
        return [c for c in self.calls if c.method in methods]

    def texts(self) -> str:
        return "\n".join(c.text for c in self.calls)

    def clear(self) -> None:
        self.calls.clear()

    def message_with(self, data: str, chat_id: int) -> int:
        """The newest message in `chat_id` that shows a button with `data` now (after edits)."""
        for message_id in sorted(self.keyboards, reverse=True):
            chat, buttons = self.keyboards[message_id]
            if chat == chat_id and data in [d for _, d in buttons]:
                return message_id
        raise AssertionError(f"no message of {chat_id} shows a button {data!r}")


# -- update factories --------------------------------------------------------------------------


def make_user(user_id: int = USER_ID) -> User:
    return User(id=user_id, first_name="Ana", is_bot=False, language_code="en")


def make_message(
    app: Application,
    text: str = "",
    user_id: int = USER_ID,
    from_user: User | None = None,
    message_id: int | None = None,
    **kwargs: Any,
) -> Message:
    message = Message(
        message_id=message_id or next(_ids),
        date=datetime.now(UTC),
        chat=Chat(id=user_id, type=Chat.PRIVATE),
        from_user=from_user or make_user(user_id),
        text=text or None,
        **kwargs,
    )
    message.set_bot(app.bot)
    for attachment in (message.document, *(message.photo or ())):
        if attachment is not None:
            attachment.set_bot(app.bot)
    return message


def make_command_message(app: Application, text: str, user_id: int = USER_ID) -> Message:
    """A message whose first word carries the bot_command entity, as Telegram sends it."""
    command = text.split()[0]
    entity = MessageEntity(type=MessageEntity.BOT_COMMAND, offset=0, length=len(command))
    return make_message(app, text, user_id, entities=[entity])


def update_for(message: Message) -> Update:
    return Update(update_id=next(_ids), message=message)


def make_callback(app: Application, data: str, message_id: int, user_id: int = USER_ID) -> Update:
    message = make_message(app, "menu", user_id, from_user=BOT, message_id=message_id)
    query = CallbackQuery(
        id=str(next(_ids)),
        from_user=make_user(user_id),
        chat_instance="ci",
        message=message,
        data=data,
    )
    query.set_bot(app.bot)
    return Update(update_id=next(_ids), callback_query=query)


# -- the application ---------------------------------------------------------------------------


@dataclass
class Env:
    app: Application
    request: RecordingRequest
    repo: Repository
    settings: Settings
    errors: list[BaseException]

    @property
    def photo_flow_replies(self) -> int:
        """Replies of the photo conversation: its platform menu, or its download refusal."""
        return sum(
            (
                "Got your image" in c.text
                or "DOWNLOAD_FAILED" in c.text
                or "Tap the platforms" in c.text
            )
            for c in self.request.sent()
        )

    async def command(self, text: str, user_id: int = USER_ID) -> None:
        await self.app.process_update(update_for(make_command_message(self.app, text, user_id)))

    async def text(self, text: str, user_id: int = USER_ID) -> None:
        await self.app.process_update(update_for(make_message(self.app, text, user_id)))

    async def press(self, data: str, user_id: int = USER_ID) -> None:
        """Press the button with `data` on the newest message of the user that shows it."""
        message_id = self.request.message_with(data, user_id)
        await self.app.process_update(make_callback(self.app, data, message_id, user_id))

    async def forge_press(self, data: str, user_id: int = USER_ID) -> None:
        """What a modified client can send: `data` that no button carries, on the newest
        message of the user that has buttons."""
        message_id = max(
            (
                m
                for m, (chat, buttons) in self.request.keyboards.items()
                if chat == user_id and buttons
            ),
            default=None,
        )
        assert message_id is not None, f"no message of {user_id} has buttons"
        await self.app.process_update(make_callback(self.app, data, message_id, user_id))


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    settings = Settings(data_dir=tmp_path / "data", telegram_bot_token=Secret(TOKEN))
    repo = await Repository.open(tmp_path / "db.sqlite3")
    request = RecordingRequest()
    app = build_application(
        settings, repository=repo, services=offline_services(settings), request=request
    )
    errors: list[BaseException] = []

    async def on_error(update: object, context: BotContext) -> None:
        errors.append(context.error)

    app.add_error_handler(on_error)
    await app.initialize()
    await app.post_init(app)  # as run_polling does: services, command menu
    request.clear()  # getMe, setMyCommands
    env = Env(app, request, repo, settings, errors)
    yield env
    await app.post_stop(app)
    await app.post_shutdown(app)
    await app.shutdown()
    await repo.close()
    assert errors == [], f"handler errors: {errors!r}"
    assert request.unexpected == [], f"unexpected Bot API calls: {request.unexpected}"


def results_doc(session_id: str) -> dict[str, Any]:
    """A results.json-shaped dict for a coffee photo on Instagram and X."""
    analysis = caption.text_analysis("latte art coffee on a marble table")
    platform = {
        "status": "completed",
        "processed_image": "instagram_1080x1350.jpg",
        "image": {"width": 1080, "height": 1350, "format": "JPEG"},
        "niches": ["coffee"],
        "hashtags": ["#Coffee"],
        "caption": "Old caption",
        "posting_times": [],
        "profile_results": [],
        "provider": "offline",
        "error": None,
    }
    return {
        "session_id": session_id,
        "analysis": to_dict(analysis),
        "niches": [{"key": "coffee", "name": "Coffee", "score": 1.0}],
        "platforms": {
            "instagram": platform,
            "x": platform | {"processed_image": "x_1200x675.jpg"},
        },
    }


async def add_session(env: Env, sid: str = "sess0001", user_id: int = USER_ID) -> None:
    await env.repo.create_session(
        user_id, session_id=sid, platforms=("instagram", "x"), description="latte art coffee"
    )
    doc = results_doc(sid)
    await env.repo.complete_session(
        user_id, sid, results=doc, platform_rows=rows_from_results(doc), files=[]
    )


# -- /caption ----------------------------------------------------------------------------------


async def test_caption_without_session_explains(env: Env) -> None:
    await env.command("/caption")
    (call,) = env.request.sent()
    assert "send a photo first" in call.text.lower()


async def test_caption_rewrites_last_session_per_platform(env: Env) -> None:
    await add_session(env)
    await env.command("/caption funny")
    texts = [c.text for c in env.request.sent()]
    assert "variant 1, funny" in texts[0]
    assert any("<b>Instagram</b>" in t and "<pre>" in t for t in texts)
    assert any("<b>X</b>" in t for t in texts)
    assert not any("Old caption" in t for t in texts)
    last = env.request.sent()[-1]
    assert ("Funny", "c:funny:sess0001") in last.buttons()
    assert env.request.sent("sendChatAction")


def _captions(request: RecordingRequest) -> list[str]:
    return re.findall(r"<pre>(.*?)</pre>", request.texts(), flags=re.S)


async def test_caption_variants_change_each_time(env: Env) -> None:
    await add_session(env)
    await env.command("/caption")
    first = _captions(env.request)
    env.request.clear()
    await env.press("c:sess0001")
    assert env.request.calls[0].method == "answerCallbackQuery"
    assert "variant 2" in env.request.texts()
    second = _captions(env.request)
    assert len(first) == len(second) == 2
    assert first != second


async def test_caption_from_text_uses_default_platforms(env: Env) -> None:
    await env.repo.update_user(USER_ID, default_platforms=("linkedin", "pinterest"))
    await env.command("/caption Our new espresso blend is here")
    texts = env.request.texts()
    assert "LinkedIn" in texts and "Pinterest" in texts
    assert "Instagram" not in texts


async def test_caption_button_for_someone_elses_session_finds_nothing(env: Env) -> None:
    await add_session(env, "theirs01", user_id=OTHER_ID)
    await env.command("/settings")  # any message of the user's with buttons
    await env.forge_press("c:theirs01")
    assert "send a photo first" in env.request.sent()[-1].text.lower()


def test_write_captions_falls_back_to_offline_on_provider_error() -> None:
    class Broken:
        name = "openai"
        label = "OpenAI"

        def write_content(self, request: Any, usage: Any) -> Any:
            raise ProviderError("down", code="AI_TIMEOUT", retryable=True)

    services = offline_services(Settings())
    services.provider = Broken()  # type: ignore[assignment]
    request = caption.content_request(
        caption.text_analysis("sunset beach"),
        caption.session_niches({}, "sunset beach"),
        ("instagram",),
        description="sunset beach",
        language="en",
        tone="",
        limits={},
    )
    result = caption.write_captions(services, request, variant=1)
    assert "AI_TIMEOUT" in result.notice
    assert result.contents["instagram"].caption
    assert len(result.contents["instagram"].hashtags) <= 5


# -- /profiles ---------------------------------------------------------------------------------


async def test_profiles_add_list_and_remove(env: Env) -> None:
    await env.command("/profiles add @bean_lovers coffee")
    assert "Saved" in env.request.sent()[-1].text
    saved = await env.repo.list_accounts(USER_ID)
    assert [a.handle for a in saved] == ["@bean_lovers"]
    await env.command("/profiles list")
    assert "@bean_lovers" in env.request.sent()[-1].text
    await env.command("/profiles remove @bean_lovers")
    assert "Removed" in env.request.sent()[-1].text
    assert await env.repo.list_accounts(USER_ID) == []
    await env.command("/profiles remove @bean_lovers")
    assert "not in your saved" in env.request.sent()[-1].text


async def test_profiles_add_with_platform_and_invalid_handle(env: Env) -> None:
    await env.command("/profiles add @shop.berlin Interior Design instagram")
    (acc,) = await env.repo.list_accounts(USER_ID)
    assert acc.platform == "instagram" and acc.niche == "interior_design"
    await env.command("/profiles add @@no!good coffee")
    assert "INVALID_HANDLE" in env.request.sent()[-1].text
    assert len(await env.repo.list_accounts(USER_ID)) == 1


async def test_profiles_topic_then_platform_button_offline(env: Env) -> None:
    await env.repo.add_account(USER_ID, "@mycafe", "coffee", "")
    await env.command("/profiles coffee roasting")
    picker = env.request.sent()[-1]
    assert "Coffee" in picker.text
    assert ("Instagram", "pr:p:instagram") in picker.buttons()
    await env.press("pr:p:instagram")
    edit = env.request.sent("editMessageText")[-1]
    assert "@mycafe" in edit.text  # the user's own list is always included
    assert "never invent handles" in edit.text
    assert "🔎" in edit.text  # search links, labelled as searches
    handles = {w for w in edit.text.split() if w.startswith("@")}
    assert handles <= {"@mycafe"}  # offline invents nothing


async def show_closing_message(env: Env, sid: str) -> None:
    """The bot's closing message of session `sid`, with its real keyboard."""
    markup = keyboards.closing(sid, product=False)
    await env.app.bot.send_message(USER_ID, f"Done: session {sid}", reply_markup=markup)


async def test_profiles_from_last_session_and_session_button(env: Env) -> None:
    await env.command("/profiles")
    assert "no finished photo" in env.request.sent()[-1].text
    await add_session(env)
    await env.command("/profiles")
    picker = env.request.sent()[-1]
    assert [d for _, d in picker.buttons()] == ["pr:p:instagram", "pr:p:x"]
    await env.press("pr:p:x")
    assert "Coffee" in env.request.sent("editMessageText")[-1].text
    env.request.clear()
    await show_closing_message(env, "sess0001")
    await env.press("pr:s:sess0001")  # the closing message's Profiles button
    assert [c.method for c in env.request.calls][-2:] == ["answerCallbackQuery", "sendMessage"]
    assert ("X", "pr:p:x") in env.request.sent()[-1].buttons()


async def test_profiles_uses_ai_finder_and_falls_back(env: Env) -> None:
    class Finder:
        name = "gemini"
        label = "Gemini"
        fail = False

        def find_accounts(self, request: Any, usage: Any) -> list[Account]:
            if self.fail:
                raise ProviderError("quota", code="AI_QUOTA_EXCEEDED", quota=True)
            return [Account("@roastery", request.platform, "coffee", "gemini", "https://r.co")]

    finder = Finder()
    env.app.bot_data[SERVICES_KEY].services.accounts_provider = finder
    await env.command("/profiles coffee")
    await env.press("pr:p:instagram")
    text = env.request.sent("editMessageText")[-1].text
    assert "@roastery" in text and "check before tagging" in text
    finder.fail = True
    await env.press("pr:p:instagram")  # asked before: answered from the cache
    assert "@roastery" in env.request.sent("editMessageText")[-1].text
    await env.press("pr:p:x")
    text = env.request.sent("editMessageText")[-1].text
    assert "@roastery" not in text and "AI_QUOTA_EXCEEDED" in text


# -- /history ----------------------------------------------------------------------------------


async def test_history_lists_sessions_with_resend_buttons(env: Env) -> None:
    await env.command("/history")
    assert "No sessions yet" in env.request.sent()[-1].text
    await add_session(env, "sessA")
    await env.repo.create_session(USER_ID, session_id="sessB", platforms=("tiktok",))
    await env.repo.fail_session(USER_ID, "sessB", "IMAGE_TOO_SMALL", "too small")
    await env.command("/history")
    call = env.request.sent()[-1]
    assert "Instagram, X" in call.text and "completed" in call.text
    assert "TikTok" in call.text and "IMAGE_TOO_SMALL" in call.text
    data = [d for _, d in call.buttons()]
    assert data == ["h:sessA"]  # only sessions with results can be resent


async def test_history_resend_sends_files_and_texts(env: Env) -> None:
    await add_session(env, "sessA")
    folder = env.settings.data_dir / "sessions" / "sessA"
    folder.mkdir(parents=True)
    buf = io.BytesIO()
    Image.new("RGB", (40, 50), "brown").save(buf, "JPEG")
    (folder / "instagram_1080x1350.jpg").write_bytes(buf.getvalue())
    (folder / "preview.jpg").write_bytes(buf.getvalue())
    await env.command("/history")
    env.request.clear()
    await env.press("h:sessA")
    methods = [c.method for c in env.request.calls]
    assert methods[0] == "answerCallbackQuery"
    assert "sendPhoto" in methods and "sendDocument" in methods
    texts = env.request.texts()
    assert "Old caption" in texts and "<b>X</b>" in texts
    closing = env.request.sent()[-1]
    assert "sessA" in closing.text
    assert "c:sessA" in [d for _, d in closing.buttons()]  # the closing keyboard again


async def test_history_resend_is_scoped_to_owner(env: Env) -> None:
    await add_session(env, "theirs01", user_id=OTHER_ID)
    await env.command("/settings")  # any message of the user's with buttons
    await env.forge_press("h:theirs01")
    assert "gone" in env.request.sent()[-1].text
    assert not env.request.sent("sendDocument", "sendPhoto")


# -- /settings ---------------------------------------------------------------------------------


async def test_settings_menu_and_platform_toggles(env: Env) -> None:
    await env.command("/settings")
    menu = env.request.sent()[-1]
    assert "Settings" in menu.text and ("Platforms", "s:plat") in menu.buttons()
    await env.press("s:plat")
    await env.press("s:pt:instagram")  # all selected by default: this removes it
    user = await env.repo.get_user(USER_ID)
    assert user is not None and "instagram" not in user.default_platforms
    labels = [label for label, _ in env.request.sent("editMessageText")[-1].buttons()]
    assert "Instagram" in labels and "✅ Facebook" in labels


async def test_settings_keeps_at_least_one_platform(env: Env) -> None:
    await env.repo.update_user(USER_ID, default_platforms=("x",))
    await env.command("/settings")
    await env.press("s:plat")
    env.request.clear()
    await env.press("s:pt:x")
    (answer,) = env.request.sent("answerCallbackQuery")
    assert answer.params.get("show_alert") is True
    assert (await env.repo.get_user(USER_ID)).default_platforms == ("x",)


async def test_settings_timezone_invalid_then_valid(env: Env) -> None:
    await env.command("/settings")
    await env.press("s:tz")
    assert "IANA" in env.request.sent("editMessageText")[-1].text
    await env.text("Mars/Olympus")
    assert "UNKNOWN_TIMEZONE" in env.request.sent()[-1].text
    await env.text("europe/berlin")
    assert "Europe/Berlin" in env.request.sent()[-1].text
    assert (await env.repo.get_user(USER_ID)).timezone == "Europe/Berlin"
    env.request.clear()
    await env.text("Asia/Tokyo")  # the step is over: text is not a time zone any more
    assert (await env.repo.get_user(USER_ID)).timezone == "Europe/Berlin"


async def test_settings_language_and_format(env: Env) -> None:
    await env.command("/settings")
    await env.press("s:lang")
    assert ("Deutsch", "s:lg:de") in env.request.sent("editMessageText")[-1].buttons()
    await env.press("s:lg:de")
    await env.press("s:menu")
    await env.press("s:fmt")
    await env.press("s:ft:WEBP")
    user = await env.repo.get_user(USER_ID)
    assert user.language == "de" and user.output_format == "WEBP"


def _png(size: tuple[int, int] = (64, 32)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGBA", size, (255, 0, 0, 128)).save(buf, "PNG")
    return buf.getvalue()


async def test_settings_logo_upload_position_size_remove(env: Env) -> None:
    await env.command("/settings")
    await env.press("s:logo")
    assert "PNG or JPEG" in env.request.sent("editMessageText")[-1].text
    env.request.files["logo1"] = _png()
    doc = Document(
        file_id="logo1",
        file_unique_id="ulogo1",
        file_name="logo.png",
        mime_type="image/png",
        file_size=len(env.request.files["logo1"]),
    )
    await env.app.process_update(update_for(make_message(env.app, document=doc)))
    path = env.settings.data_dir / "users" / str(USER_ID) / "logo.png"
    with Image.open(path) as img:
        assert img.format == "PNG" and img.mode == "RGBA" and img.size == (64, 32)
    user = await env.repo.get_user(USER_ID)
    assert user.logo_path == str(path)
    assert ("20 %", "s:ls:20") in env.request.sent()[-1].buttons()
    await env.press("s:lp:top-left")
    await env.press("s:ls:20")
    user = await env.repo.get_user(USER_ID)
    assert user.logo_position == "top-left" and user.logo_size_pct == 20
    await env.press("s:lrm")
    assert not path.exists()
    assert (await env.repo.get_user(USER_ID)).logo_path == ""


async def test_settings_logo_as_photo_and_bad_file(env: Env) -> None:
    await env.command("/settings")
    await env.press("s:logo")
    env.request.files["notimg"] = b"%PDF-1.4 not an image"
    doc = Document(
        file_id="notimg",
        file_unique_id="unot",
        file_name="a.pdf",
        mime_type="application/pdf",
        file_size=20,
    )
    await env.app.process_update(update_for(make_message(env.app, document=doc)))
    assert "INVALID_LOGO" in env.request.sent()[-1].text
    buf = io.BytesIO()
    Image.new("RGB", (50, 50), "blue").save(buf, "JPEG")
    env.request.files["photo1"] = buf.getvalue()
    photo = [PhotoSize("photo1", "uphoto1", 50, 50, file_size=len(buf.getvalue()))]
    await env.app.process_update(update_for(make_message(env.app, photo=photo)))
    assert (await env.repo.get_user(USER_ID)).logo_path.endswith("logo.png")


def _jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (400, 400), "blue").save(buf, "JPEG")
    return buf.getvalue()


async def test_photo_during_timezone_step_goes_to_photo_flow(env: Env) -> None:
    await env.command("/settings")
    await env.press("s:tz")
    env.request.files["p1"] = _jpeg()
    photo = [PhotoSize("p1", "up1", 400, 400, file_size=10)]
    await env.app.process_update(update_for(make_message(env.app, photo=photo)))
    assert env.photo_flow_replies == 1  # the photo flow got it
    await env.text("a cosy cafe in Lisbon")  # the description for that photo
    assert env.photo_flow_replies == 2
    assert (await env.repo.get_user(USER_ID)).timezone == "UTC"
    assert "UNKNOWN_TIMEZONE" not in env.request.texts()


async def test_abandoned_logo_step_does_not_swallow_a_photo(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    await env.command("/settings")
    await env.press("s:logo")
    steps = env.app.bot_data[settings_handlers.STEPS_KEY]
    monkeypatch.setattr(steps, "ttl_s", -1.0)  # the step went stale
    env.request.files["photo2"] = _jpeg()
    photo = [PhotoSize("photo2", "uphoto2", 400, 400, file_size=10)]
    await env.app.process_update(update_for(make_message(env.app, photo=photo)))
    assert env.photo_flow_replies == 1
    assert (await env.repo.get_user(USER_ID)).logo_path == ""


async def test_after_a_logo_upload_the_next_photo_is_a_photo(env: Env) -> None:
    await env.command("/settings")
    await env.press("s:logo")
    env.request.files["photo3"] = _jpeg()
    photo = [PhotoSize("photo3", "uphoto3", 400, 400, file_size=10)]
    await env.app.process_update(update_for(make_message(env.app, photo=photo)))
    logo = (await env.repo.get_user(USER_ID)).logo_path
    assert logo and env.photo_flow_replies == 0
    await env.app.process_update(update_for(make_message(env.app, photo=photo)))
    assert env.photo_flow_replies == 1
    # Adjusting the placement or reopening the submenu does not wait for an upload either.
    await env.press("s:menu")
    await env.press("s:logo")
    assert ("⬆️ Replace logo", "s:lnew") in env.request.sent("editMessageText")[-1].buttons()
    await env.press("s:lp:center")
    await env.app.process_update(update_for(make_message(env.app, photo=photo)))
    assert env.photo_flow_replies == 2
    # Replace does.
    await env.press("s:lnew")
    await env.app.process_update(update_for(make_message(env.app, photo=photo)))
    assert env.photo_flow_replies == 2
    assert "Logo saved" in env.request.sent()[-1].text


async def test_settings_cancel_closes_the_step(env: Env) -> None:
    await env.command("/settings")
    await env.press("s:tz")
    await env.command("/cancel")
    assert "Cancelled" in env.request.sent()[-1].text
    await env.text("Europe/Paris")
    assert (await env.repo.get_user(USER_ID)).timezone == "UTC"


async def test_cancel_outside_a_step_belongs_to_the_photo_flow(env: Env) -> None:
    await env.command("/settings")
    await env.press("s:lang")
    await env.command("/cancel")
    # Not a settings step: the bot's own /cancel answers (no photo and no queued job).
    assert "Nothing to cancel" in env.request.sent()[-1].text
    assert "Cancelled; your other settings" not in env.request.texts()
