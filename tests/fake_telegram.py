"""A fake Telegram Bot API server on 127.0.0.1 for end-to-end bot tests and the load bench.

It speaks the real HTTP protocol python-telegram-bot uses (form fields with JSON-encoded values,
multipart uploads, long-polling getUpdates, file downloads under `/file/bot<token>/...`), records
every call with its parsed parameters and uploaded files, and lets a test play a user: inject a
photo, a document, a text, a command or a button press, then await the bot's replies.

Point the bot at it with `base_url=fake.base_url` and `base_file_url=fake.base_file_url`.
It runs on the caller's event loop (tornado on asyncio).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets
from tornado.web import Application, RequestHandler

BOT_ID = 424242
BOT_USERNAME = "socialopt_test_bot"
# Parameters whose values are plain strings even when they look like JSON (e.g. text "42").
_STRING_PARAMS = frozenset(
    {
        "text",
        "caption",
        "parse_mode",
        "file_id",
        "callback_query_id",
        "secret_token",
        "url",
        "title",
        "description",
        "short_description",
        "action",
        "inline_message_id",
        "language_code",
    }
)


@dataclass
class UploadedFile:
    filename: str
    data: bytes
    content_type: str


@dataclass
class Call:
    """One request the bot made."""

    method: str
    params: dict[str, Any]
    files: dict[str, UploadedFile] = field(default_factory=dict)
    at: float = 0.0  # time.perf_counter()
    chat_id: int | None = None
    result: Any = None

    @property
    def text(self) -> str:
        return str(self.params.get("text") or self.params.get("caption") or "")

    def buttons(self) -> list[tuple[str, str]]:
        """(label, callback_data) of the inline keyboard attached to this call, if any."""
        markup = self.params.get("reply_markup") or {}
        if isinstance(markup, str):
            markup = json.loads(markup)
        return [
            (b.get("text", ""), b.get("callback_data", ""))
            for row in markup.get("inline_keyboard", [])
            for b in row
        ]


@dataclass
class _FileEntry:
    data: bytes
    path: str
    unique_id: str


@dataclass
class FakeTelegram:
    """The fake server; use `async with FakeTelegram() as fake:`."""

    token: str = "123456:TEST-token-for-fake-server"
    calls: list[Call] = field(default_factory=list)
    fail_methods: dict[str, tuple[int, str]] = field(
        default_factory=dict
    )  # method -> (code, desc)

    def __post_init__(self) -> None:
        self.port = 0
        self._server: HTTPServer | None = None
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._message_ids: dict[int, itertools.count[int]] = {}
        self._files: dict[str, _FileEntry] = {}
        self._file_seq = itertools.count(1)
        self._callback_owner: dict[str, int] = {}
        self._callback_seq = itertools.count(1)
        self._changed = asyncio.Condition()
        self._new_update = asyncio.Event()
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}  # bot messages, after edits
        self.injected_at: dict[int, float] = {}  # update_id -> perf_counter at injection

    # ------------------------------------------------------------------ lifecycle

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    async def start(self) -> FakeTelegram:
        app = Application(
            [
                (r"/bot([^/]+)/(\w+)", _ApiHandler, {"fake": self}),
                (r"/file/bot([^/]+)/(.+)", _FileHandler, {"fake": self}),
            ]
        )
        sockets = bind_sockets(0, "127.0.0.1")
        self.port = sockets[0].getsockname()[1]
        self._server = HTTPServer(app, max_body_size=200 * 1024 * 1024)
        self._server.add_sockets(sockets)
        return self

    async def stop(self) -> None:
        self._new_update.set()
        if self._server is not None:
            self._server.stop()
            await self._server.close_all_connections()
            self._server = None

    async def __aenter__(self) -> FakeTelegram:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ playing a user

    @staticmethod
    def user(user_id: int) -> dict[str, Any]:
        return {
            "id": user_id,
            "is_bot": False,
            "first_name": f"User{user_id}",
            "language_code": "en",
        }

    def _message(self, user_id: int, **fields: Any) -> dict[str, Any]:
        counter = self._message_ids.setdefault(user_id, itertools.count(1))
        return {
            "message_id": next(counter),
            "date": int(time.time()),
            "chat": {"id": user_id, "type": "private", "first_name": f"User{user_id}"},
            "from": self.user(user_id),
            **fields,
        }

    def _push(self, update: dict[str, Any]) -> int:
        update_id = next(self._update_ids)
        update["update_id"] = update_id
        self._updates.append(update)
        self.injected_at[update_id] = time.perf_counter()
        self._new_update.set()
        return update_id

    def add_file(self, data: bytes, name: str = "file.bin") -> str:
        """Store bytes the bot can fetch with getFile; returns the file_id."""
        n = next(self._file_seq)
        file_id = f"FILE{n:05d}"
        self._files[file_id] = _FileEntry(data, f"files/{n}/{name}", f"U{n:05d}")
        return file_id

    def send_photo(
        self, user_id: int, data: bytes, *, caption: str = "", size: tuple[int, int] | None = None
    ) -> int:
        """Inject a compressed photo (as Telegram's photo message); returns the update_id."""
        width, height = size or _image_size(data)
        file_id = self.add_file(data, "photo.jpg")
        photo = [
            {
                "file_id": file_id,
                "file_unique_id": self._files[file_id].unique_id,
                "width": width,
                "height": height,
                "file_size": len(data),
            }
        ]
        fields: dict[str, Any] = {"photo": photo}
        if caption:
            fields["caption"] = caption
        return self._push({"message": self._message(user_id, **fields)})

    def send_document(
        self, user_id: int, data: bytes, file_name: str, mime_type: str = "image/jpeg"
    ) -> int:
        """Inject a file (document) message; returns the update_id."""
        file_id = self.add_file(data, file_name)
        document = {
            "file_id": file_id,
            "file_unique_id": self._files[file_id].unique_id,
            "file_name": file_name,
            "mime_type": mime_type,
            "file_size": len(data),
        }
        return self._push({"message": self._message(user_id, document=document)})

    def send_text(self, user_id: int, text: str) -> int:
        """Inject a text message; a leading '/word' gets a bot_command entity."""
        fields: dict[str, Any] = {"text": text}
        if text.startswith("/"):
            command = text.split()[0]
            fields["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        return self._push({"message": self._message(user_id, **fields)})

    send_command = send_text

    def press(self, user_id: int, message_id: int, data: str) -> int:
        """Inject a press of an inline button with callback `data` on the bot's message."""
        message = self.messages.get((user_id, message_id))
        if message is None:
            raise KeyError(f"the bot never sent message {message_id} to {user_id}")
        query_id = f"Q{next(self._callback_seq)}"
        self._callback_owner[query_id] = user_id
        update = {
            "callback_query": {
                "id": query_id,
                "from": self.user(user_id),
                "chat_instance": str(user_id),
                "message": message,
                "data": data,
            }
        }
        return self._push(update)

    def press_label(self, user_id: int, message_id: int, label: str) -> int:
        """Press the button whose label contains `label` on the bot's message."""
        for text, data in self.keyboard(user_id, message_id):
            if label in text:
                return self.press(user_id, message_id, data)
        raise KeyError(f"no button {label!r} on message {message_id}")

    def keyboard(self, user_id: int, message_id: int) -> list[tuple[str, str]]:
        """Current (label, callback_data) buttons of a bot message (after edits)."""
        markup = self.messages.get((user_id, message_id), {}).get("reply_markup") or {}
        return [
            (b.get("text", ""), b.get("callback_data", ""))
            for row in markup.get("inline_keyboard", [])
            for b in row
        ]

    # ------------------------------------------------------------------ awaiting replies

    def calls_for(self, chat_id: int, *methods: str, since: int = 0) -> list[Call]:
        return [
            c
            for c in self.calls[since:]
            if c.chat_id == chat_id and (not methods or c.method in methods)
        ]

    async def wait_for(
        self, predicate: Callable[[], Any], timeout: float = 30.0, what: str = "a call"
    ) -> Any:
        """Wait until `predicate()` returns something truthy (re-checked on every call)."""

        async def _wait() -> Any:
            async with self._changed:
                while not (value := predicate()):
                    await self._changed.wait()
                return value

        try:
            return await asyncio.wait_for(_wait(), timeout)
        except TimeoutError:
            recent = [(c.method, c.chat_id, c.text[:60]) for c in self.calls[-8:]]
            raise AssertionError(f"timed out waiting for {what}; last calls: {recent}") from None

    async def wait_call(
        self,
        chat_id: int,
        *methods: str,
        since: int = 0,
        match: Callable[[Call], bool] | None = None,
        timeout: float = 30.0,
    ) -> Call:
        """The first call to `chat_id` (of `methods`, at index >= since) that matches."""

        scanned = since  # calls before this index were already checked

        def find() -> Call | None:
            nonlocal scanned
            calls, start = self.calls, scanned
            scanned = len(calls)
            for c in calls[start:]:
                if (
                    c.chat_id == chat_id
                    and (not methods or c.method in methods)
                    and (match is None or match(c))
                ):
                    return c
            return None

        return await self.wait_for(find, timeout, f"{methods or 'any'} to {chat_id}")

    async def wait_text(
        self, chat_id: int, needle: str, *, since: int = 0, timeout: float = 30.0
    ) -> Call:
        """The first sent or edited message to `chat_id` containing `needle`."""
        return await self.wait_call(
            chat_id,
            "sendMessage",
            "editMessageText",
            "sendPhoto",
            "sendDocument",
            since=since,
            match=lambda c: needle in c.text,
            timeout=timeout,
        )

    # ------------------------------------------------------------------ API implementation

    async def _record(self, call: Call) -> None:
        self.calls.append(call)
        async with self._changed:
            self._changed.notify_all()

    def _bot_message(self, chat_id: int, **fields: Any) -> dict[str, Any]:
        counter = self._message_ids.setdefault(chat_id, itertools.count(1))
        message = {
            "message_id": next(counter),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private", "first_name": f"User{chat_id}"},
            "from": {
                "id": BOT_ID,
                "is_bot": True,
                "first_name": "SocialOpt",
                "username": BOT_USERNAME,
            },
            **{k: v for k, v in fields.items() if v not in (None, "")},
        }
        self.messages[(chat_id, message["message_id"])] = message
        return message

    def _uploaded(self, files: dict[str, UploadedFile], value: Any, name: str) -> dict[str, Any]:
        """A file object for an uploaded (attach or field) or re-sent (file_id) media."""
        if isinstance(value, str) and value.startswith("attach://"):
            upload = files.get(value.removeprefix("attach://"))
        else:
            upload = files.get(name)
        data = upload.data if upload else b""
        file_id = self.add_file(data, upload.filename if upload else name)
        out: dict[str, Any] = {
            "file_id": file_id,
            "file_unique_id": self._files[file_id].unique_id,
            "file_name": upload.filename if upload else name,
            "file_size": len(data),
        }
        if name == "photo":
            out["width"], out["height"] = _image_size(data)
        return out

    async def api(
        self, token: str, method: str, params: dict[str, Any], files: dict[str, UploadedFile]
    ) -> tuple[int, dict[str, Any]]:
        """Answer one Bot API call: returns (HTTP status, JSON body)."""
        if token != self.token:
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        chat_id = params.get("chat_id")
        if method == "answerCallbackQuery":
            chat_id = self._callback_owner.get(str(params.get("callback_query_id")))
        call = Call(
            method,
            params,
            files,
            time.perf_counter(),
            int(chat_id)
            if isinstance(chat_id, int | str) and str(chat_id).lstrip("-").isdigit()
            else None,
        )
        if method == "getUpdates":
            result: Any = await self._get_updates(params)
            call.result = result
            if result:
                await self._record(call)
            return 200, {"ok": True, "result": result}
        if method in self.fail_methods:
            code, description = self.fail_methods[method]
            await self._record(call)
            return code, {"ok": False, "error_code": code, "description": description}
        try:
            result = self._answer(method, params, files, call.chat_id)
        except _ApiError as exc:
            await self._record(call)
            return 400, {"ok": False, "error_code": 400, "description": str(exc)}
        if result is _NOT_FOUND:
            await self._record(call)
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        call.result = result
        await self._record(call)
        return 200, {"ok": True, "result": result}

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        timeout = float(params.get("timeout") or 0)
        if offset:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        deadline = time.monotonic() + timeout
        while True:
            ready = [u for u in self._updates if u["update_id"] >= offset][:limit]
            remaining = deadline - time.monotonic()
            if ready or remaining <= 0 or self._server is None:
                return ready
            self._new_update.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_update.wait(), remaining)

    def _answer(
        self,
        method: str,
        params: dict[str, Any],
        files: dict[str, UploadedFile],
        chat_id: int | None,
    ) -> Any:
        if method == "getMe":
            return {
                "id": BOT_ID,
                "is_bot": True,
                "first_name": "SocialOpt",
                "username": BOT_USERNAME,
                "can_join_groups": False,
                "can_read_all_group_messages": False,
                "supports_inline_queries": False,
            }
        if method in {
            "deleteWebhook",
            "setWebhook",
            "sendChatAction",
            "setMyCommands",
            "answerCallbackQuery",
            "deleteMessage",
            "close",
            "logOut",
        }:
            return True
        if method == "getFile":
            entry = self._files.get(str(params.get("file_id")))
            if entry is None:
                raise _ApiError("Bad Request: invalid file_id")
            return {
                "file_id": params["file_id"],
                "file_unique_id": entry.unique_id,
                "file_size": len(entry.data),
                "file_path": entry.path,
            }
        if chat_id is None and method.startswith(("send", "edit")):
            raise _ApiError("Bad Request: chat_id is empty")
        markup = params.get("reply_markup")
        if method == "sendMessage":
            if len(str(params.get("text", ""))) > 4096:
                raise _ApiError("Bad Request: message is too long")
            return self._bot_message(chat_id, text=params.get("text"), reply_markup=markup)
        if method in {"sendPhoto", "sendDocument"}:
            if len(str(params.get("caption", ""))) > 1024:
                raise _ApiError("Bad Request: message caption is too long")
            kind = "photo" if method == "sendPhoto" else "document"
            media = self._uploaded(files, params.get(kind), kind)
            value: Any = [media] if kind == "photo" else media
            return self._bot_message(
                chat_id, caption=params.get("caption"), reply_markup=markup, **{kind: value}
            )
        if method == "sendMediaGroup":
            items = params.get("media") or []
            if not 2 <= len(items) <= 10:
                raise _ApiError("Bad Request: wrong number of media in the group")
            out = []
            for item in items:
                kind = item.get("type", "document")
                media = self._uploaded(files, item.get("media"), kind)
                value = [media] if kind == "photo" else media
                out.append(
                    self._bot_message(chat_id, caption=item.get("caption"), **{kind: value})
                )
            return out
        if method in {"editMessageText", "editMessageReplyMarkup", "editMessageCaption"}:
            key = (chat_id, int(params.get("message_id") or 0))
            message = self.messages.get(key)
            if message is None:
                raise _ApiError("Bad Request: message to edit not found")
            if method == "editMessageText":
                if len(str(params.get("text", ""))) > 4096:
                    raise _ApiError("Bad Request: message is too long")
                if (
                    message.get("text") == params.get("text")
                    and message.get("reply_markup") == markup
                ):
                    raise _ApiError("Bad Request: message is not modified")
                message["text"] = params.get("text")
            if method == "editMessageCaption":
                message["caption"] = params.get("caption")
            if markup:
                message["reply_markup"] = markup
            else:
                message.pop("reply_markup", None)
            return message
        return _NOT_FOUND

    def file_bytes(self, file_path: str) -> bytes | None:
        for entry in self._files.values():
            if entry.path == file_path:
                return entry.data
        return None


class _ApiError(Exception):
    pass


_NOT_FOUND = object()


def _parse_value(key: str, raw: str) -> Any:
    if key in _STRING_PARAMS:
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        return raw


class _ApiHandler(RequestHandler):
    def initialize(self, fake: FakeTelegram) -> None:
        self.fake = fake

    async def _handle(self, token: str, method: str) -> None:
        params: dict[str, Any] = {}
        content_type = self.request.headers.get("Content-Type", "")
        if content_type.startswith("application/json") and self.request.body:
            params.update(json.loads(self.request.body))
        for key, values in {**self.request.query_arguments, **self.request.body_arguments}.items():
            params[key] = _parse_value(key, values[-1].decode("utf-8"))
        files = {
            key: UploadedFile(f.filename, f.body, f.content_type)
            for key, items in self.request.files.items()
            for f in items[-1:]
        }
        status, body = await self.fake.api(token, method, params, files)
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))

    async def post(self, token: str, method: str) -> None:
        await self._handle(token, method)

    async def get(self, token: str, method: str) -> None:
        await self._handle(token, method)


class _FileHandler(RequestHandler):
    def initialize(self, fake: FakeTelegram) -> None:
        self.fake = fake

    def get(self, token: str, path: str) -> None:
        data = self.fake.file_bytes(path) if token == self.fake.token else None
        if data is None:
            self.set_status(404)
            self.finish("not found")
            return
        self.set_header("Content-Type", "application/octet-stream")
        self.finish(data)


def _image_size(data: bytes) -> tuple[int, int]:
    try:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as img:
            return img.size
    except Exception:
        return (0, 0)
