"""A fake Telegram Bot API server on 127.0.0.1 for end-to-end bot tests and the load bench.

It speaks the real HTTP protocol python-telegram-bot uses (form fields with JSON-encoded values,
multipart uploads, long-polling getUpdates, file downloads under `/file/bot<token>/...`), records
every call with its parsed parameters and uploaded files, and lets a test play a user: inject a
photo, a document, a text, a command or a button press, then await the bot's replies.

Point the bot at it with `base_url=fake.base_url` and `base_file_url=fake.base_file_url`.
It runs on the caller's event loop (tornado on asyncio). Like Telegram, it listens with a deep
backlog (LISTEN_BACKLOG, so a load bench measures the bot, not refused connections) and drops
the updates a getUpdates offset has confirmed. Faults a test can ask for: `fail_methods` (a
method answers an error), `file_error` (downloads fail with a body that echoes the requested
path, token included, as some servers do) and `hold_methods` (a method's call is recorded,
then left unanswered until its event is set: a bot killed meanwhile never gets the answer).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import itertools
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets
from tornado.web import Application, RequestHandler

BOT_ID = 424242
LISTEN_BACKLOG = 1024  # Telegram's servers never refuse a connection for want of a backlog
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
    # (HTTP status, description) for every file download; `{path}` in the description is
    # replaced by the requested path as the server received it, URL-encoded
    file_error: tuple[int, str] | None = None
    hold_methods: dict[str, asyncio.Event] = field(default_factory=dict)  # method -> release

    def __post_init__(self) -> None:
        self.port = 0
        self._server: HTTPServer | None = None
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._message_ids: dict[int, itertools.count[int]] = {}
        self._files: dict[str, _FileEntry] = {}
        self._file_seq = itertools.count(1)
        self._callback_owner: dict[str, int] = {}
        self._answered: set[str] = set()
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
        sockets = bind_sockets(0, "127.0.0.1", backlog=LISTEN_BACKLOG)
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
        fields: dict[str, Any] = {"photo": self._photo_sizes(data, "photo.jpg", size)}
        if caption:
            fields["caption"] = caption
        return self._push({"message": self._message(user_id, **fields)})

    def _photo_sizes(
        self, data: bytes, name: str, size: tuple[int, int] | None = None
    ) -> list[dict[str, Any]]:
        """PhotoSize objects, smallest first, as Telegram sends them: downscaled copies
        (longest side 90, 320, 800, 1280) below the original, which comes last."""
        width, height = size or _image_size(data)
        out = []
        for side in PHOTO_SIDES:
            if side < max(width, height):
                with contextlib.suppress(OSError, ValueError):  # not an image: no copies
                    small, (w, h) = _downscale(data, side)
                    out.append(self._photo_size(small, name, w, h))
        out.append(self._photo_size(data, name, width, height))
        return out

    def _photo_size(self, data: bytes, name: str, width: int, height: int) -> dict[str, Any]:
        file_id = self.add_file(data, name)
        return {
            "file_id": file_id,
            "file_unique_id": self._files[file_id].unique_id,
            "width": width,
            "height": height,
            "file_size": len(data),
        }

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
        buttons = self.keyboard(user_id, message_id)
        if data not in [d for _, d in buttons]:
            raise AssertionError(
                f"no button {data!r} on message {message_id} of {user_id}; it has {buttons}"
            )
        return self.forge_press(user_id, message_id, data)

    def forge_press(self, user_id: int, message_id: int, data: str) -> int:
        """What a modified client can send: a press with any `data` on one of the user's
        messages, whether or not a button carries it. Use `press` for real presses."""
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
            **{k: v for k, v in fields.items() if v not in (None, "", [])},
        }
        self.messages[(chat_id, message["message_id"])] = message
        return message

    def _uploaded(self, files: dict[str, UploadedFile], value: Any, name: str) -> Any:
        """A file object (a list of PhotoSize for a photo) for an uploaded (attach or field)
        or re-sent (file_id) media."""
        if isinstance(value, str) and value.startswith("attach://"):
            upload = files.get(value.removeprefix("attach://"))
        else:
            upload = files.get(name)
        data = upload.data if upload else b""
        if name == "photo":
            return self._photo_sizes(data, upload.filename if upload else name)
        file_id = self.add_file(data, upload.filename if upload else name)
        out: dict[str, Any] = {
            "file_id": file_id,
            "file_unique_id": self._files[file_id].unique_id,
            "file_name": upload.filename if upload else name,
            "file_size": len(data),
        }
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
        if method in self.hold_methods:
            await self._record(Call(f"held:{method}", params, files, call.at, call.chat_id))
            await self.hold_methods[method].wait()
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
        if method == "answerCallbackQuery":
            query_id = str(params.get("callback_query_id"))
            if query_id not in self._callback_owner or query_id in self._answered:
                raise _ApiError(
                    "Bad Request: query is too old and response timeout expired or "
                    "query ID is invalid"
                )
            self._answered.add(query_id)
            return True
        if method in {
            "deleteWebhook",
            "setWebhook",
            "sendChatAction",
            "setMyCommands",
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
        markup = params.get("reply_markup") or None
        if method == "sendMessage":
            text = _formatted(params, "text", params.get("parse_mode"))
            return self._bot_message(chat_id, **text, reply_markup=markup)
        if method in {"sendPhoto", "sendDocument"}:
            caption = _formatted(params, "caption", params.get("parse_mode"))
            kind = "photo" if method == "sendPhoto" else "document"
            media = self._uploaded(files, params.get(kind), kind)
            return self._bot_message(chat_id, **caption, reply_markup=markup, **{kind: media})
        if method == "sendMediaGroup":
            items = params.get("media") or []
            if not 2 <= len(items) <= 10:
                raise _ApiError("Bad Request: wrong number of media in the group")
            out = []
            for item in items:
                kind = item.get("type", "document")
                caption = _formatted(item, "caption", item.get("parse_mode"))
                media = self._uploaded(files, item.get("media"), kind)
                out.append(self._bot_message(chat_id, **caption, **{kind: media}))
            return out
        if method in {"editMessageText", "editMessageReplyMarkup", "editMessageCaption"}:
            key = (chat_id, int(params.get("message_id") or 0))
            message = self.messages.get(key)
            if message is None:
                raise _ApiError("Bad Request: message to edit not found")
            changes: dict[str, Any] = {"reply_markup": markup}
            if method == "editMessageText":
                changes |= {"entities": None} | _formatted(
                    params, "text", params.get("parse_mode")
                )
            if method == "editMessageCaption":
                changes |= {"caption": None, "caption_entities": None}
                changes |= _formatted(params, "caption", params.get("parse_mode"))
            if all(message.get(k) == v for k, v in changes.items()):
                raise _ApiError(
                    "Bad Request: message is not modified: specified new message content and "
                    "reply markup are exactly the same as a current content and reply markup "
                    "of the message"
                )
            for k, v in changes.items():
                if v:
                    message[k] = v
                else:
                    message.pop(k, None)
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
        if self.fake.file_error is not None:
            code, description = self.fake.file_error
            echoed = description.replace("{path}", quote(self.request.path, safe=""))
            self.set_status(code)
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps({"ok": False, "error_code": code, "description": echoed}))
            return
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


PHOTO_SIDES = (90, 320, 800, 1280)  # longest sides of the smaller copies of a photo
TEXT_LIMIT, CAPTION_LIMIT = 4096, 1024  # in UTF-16 code units, counted after parsing

# Telegram's HTML: tag -> entity type (https://core.telegram.org/bots/api#html-style).
_HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",  # only with class="tg-spoiler"
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_TAG = re.compile(
    r"<(/?)([a-zA-Z][\w-]*)((?:\s+[\w-]+(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s>]+))?)*)\s*>"
)
_ATTR = re.compile(r"([\w-]+)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s>]+)))?")
_ENTITY = re.compile(r"&(#\d+|#x[0-9a-fA-F]+|[a-zA-Z]+);")


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram's limits and entity offsets."""
    return len(text.encode("utf-16-le")) // 2


def _entity_char(name: str) -> str | None:
    if name.startswith("#x"):
        return chr(int(name[2:], 16))
    if name.startswith("#"):
        return chr(int(name[1:]))
    return _NAMED.get(name)


def parse_html(markup: str) -> tuple[str, list[dict[str, Any]]]:
    """(plain text, entities) of a Telegram-HTML string; _ApiError("Can't parse entities")
    for an unsupported tag, a bare `<`, or a tag left open or closed out of order."""
    out: list[str] = []
    length = 0  # of out, in UTF-16 units
    stack: list[tuple[str, int, dict[str, str]]] = []
    entities: list[dict[str, Any]] = []
    i = 0

    def refuse(why: str) -> _ApiError:
        offset = len(markup[:i].encode("utf-8"))
        return _ApiError(f"Bad Request: can't parse entities: {why} at byte offset {offset}")

    while i < len(markup):
        ch = markup[i]
        if ch == "<":
            tag = _TAG.match(markup, i)
            if tag is None:
                raise refuse("unexpected character <")
            closing, name, attrs = tag.group(1), tag.group(2).lower(), tag.group(3)
            if name not in _HTML_TAGS:
                raise refuse(f'unsupported start tag "{name}"')
            if closing:
                if not stack or stack[-1][0] != name:
                    raise refuse(f'unmatched end tag "{name}"')
                _, start, values = stack.pop()
                entity = _entity(name, start, length - start, values)
                if entity is None:
                    raise refuse(f'bad attributes of tag "{name}"')
                if entity["length"]:
                    entities.append(entity)
            else:
                values = {
                    a.group(1).lower(): next((g for g in a.groups()[1:] if g is not None), "")
                    for a in _ATTR.finditer(attrs)
                }
                stack.append((name, length, {k: html_unescape(v) for k, v in values.items()}))
            i = tag.end()
            continue
        if ch == "&":
            match = _ENTITY.match(markup, i)
            char = _entity_char(match.group(1)) if match else None
            if match and char is not None:
                out.append(char)
                length += utf16_len(char)
                i = match.end()
                continue
        out.append(ch)
        length += utf16_len(ch)
        i += 1
    if stack:
        raise refuse(f'can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    return "".join(out), sorted(entities, key=lambda e: (e["offset"], -e["length"]))


def html_unescape(text: str) -> str:
    return _ENTITY.sub(lambda m: _entity_char(m.group(1)) or m.group(0), text)


def _entity(name: str, offset: int, length: int, attrs: dict[str, str]) -> dict[str, Any] | None:
    kind = _HTML_TAGS[name]
    entity: dict[str, Any] = {"type": kind, "offset": offset, "length": length}
    if name == "span" and attrs.get("class") != "tg-spoiler":
        return None
    if name == "a":
        if not attrs.get("href"):
            return None
        entity["url"] = attrs["href"]
    if name == "tg-emoji":
        if not attrs.get("emoji-id"):
            return None
        entity["custom_emoji_id"] = attrs["emoji-id"]
    if name == "code" and attrs.get("class", "").startswith("language-"):
        entity["language"] = attrs["class"].removeprefix("language-")
    return entity


def _formatted(params: dict[str, Any], key: str, parse_mode: Any) -> dict[str, Any]:
    """{key: plain text, entities key: entities} as the Bot API stores a sent text or caption,
    refusing bad HTML and texts over the limit (counted after parsing, in UTF-16 units)."""
    raw = str(params.get(key) or "")
    entities: list[dict[str, Any]] = []
    if str(parse_mode or "").upper() == "HTML":
        text, entities = parse_html(raw)
    else:
        text = raw
    entities_key = "entities" if key == "text" else "caption_entities"
    if key == "text":
        if not text.strip():
            raise _ApiError("Bad Request: message text is empty")
        if utf16_len(text) > TEXT_LIMIT:
            raise _ApiError("Bad Request: message is too long")
    elif utf16_len(text) > CAPTION_LIMIT:
        raise _ApiError("Bad Request: message caption is too long")
    return {key: text or None, entities_key: entities or None}


def _downscale(data: bytes, side: int) -> tuple[bytes, tuple[int, int]]:
    """A JPEG copy of `data` whose longest side is `side`, and its size."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        small = img.convert("RGB")
    small.thumbnail((side, side))
    buf = io.BytesIO()
    small.save(buf, "JPEG", quality=80)
    return buf.getvalue(), small.size
