"""Albums in the bot, end to end: the real application against the fake Bot API on 127.0.0.1.

Telegram delivers an album as one message per item sharing a `media_group_id`; the fake
server here sends such items (photos or documents) and records the bot's sendMediaGroup calls.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import re
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from bot.app import build_application
from bot.handlers import album
from pipeline.platforms import PLATFORMS
from socialopt.usecases.albums import AlbumCollector, AlbumItem
from tests.bot_helpers import running, settings_for, svc
from tests.fakes.telegram import Call, FakeTelegram
from tests.image_factories import disc_image, encode

ALICE = 2001
pytestmark = pytest.mark.timeout(120)


class AlbumFake(FakeTelegram):
    """The fake Bot API plus albums: items that share a media_group_id."""

    _groups = itertools.count(1)

    def send_album(
        self, user_id: int, items: list[tuple[str, bytes, str, str]], caption: str = ""
    ) -> str:
        """Inject an album; items are (kind "photo"|"document", bytes, file name, mime type).
        The caption goes on the first item, as Telegram's clients put it."""
        group = f"1335{next(self._groups):06d}"
        for n, (kind, data, name, mime) in enumerate(items):
            fields: dict[str, Any] = {"media_group_id": group}
            if kind == "photo":
                fields["photo"] = self._photo_sizes(data, "photo.jpg")
            else:
                file_id = self.add_file(data, name)
                fields["document"] = {
                    "file_id": file_id,
                    "file_unique_id": self._files[file_id].unique_id,
                    "file_name": name,
                    "mime_type": mime,
                    "file_size": len(data),
                }
            if n == 0 and caption:
                fields["caption"] = caption
            self._push({"message": self._message(user_id, **fields)})
        return group


@pytest.fixture
async def fake() -> AsyncIterator[AlbumFake]:
    async with AlbumFake() as server:
        yield server


@pytest.fixture(autouse=True)
def short_window(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(album, "ALBUM_WINDOW_S", 0.4)


def _photo(size: tuple[int, int], cx: float, fmt: str = "JPEG") -> bytes:
    img, _ = disc_image(size, cx=cx, cy=0.5, radius=0.12)
    return encode(img, fmt)


async def _closing(fake: FakeTelegram, user: int, since: int) -> Call:
    return await fake.wait_call(
        user,
        "sendMessage",
        since=since,
        match=lambda c: any(d.startswith("d:zip:") for _, d in c.buttons()),
        timeout=90,
    )


def _docs(calls: list[Call], platform: str) -> list[tuple[int, str, str]]:
    """(group index, file name, caption) of every slide document sent for `platform`."""
    out = []
    for g, call in enumerate(c for c in calls if c.method == "sendMediaGroup"):
        for item in call.params["media"]:
            name = call.files[item["media"].removeprefix("attach://")].filename
            if name.startswith(f"{platform}_"):
                out.append((g, name, item.get("caption", "")))
    return out


async def test_an_album_of_photos_is_one_job_delivered_as_document_albums(
    fake: AlbumFake, tmp_path: Path
) -> None:
    app = build_application(
        settings_for(fake, tmp_path, default_platforms=("instagram", "x", "pinterest"))
    )
    photos = [_photo((800, 1000), cx) for cx in (0.2, 0.35, 0.5, 0.65, 0.8, 0.3)]
    async with running(app):
        mark = len(fake.calls)
        fake.send_album(ALICE, [("photo", p, "", "") for p in photos], caption="Our pottery stand")
        closing = await _closing(fake, ALICE, mark)
        calls = fake.calls_for(ALICE, since=mark)
        sessions = await svc(app).repo.list_sessions(ALICE)

    # one job for the whole album, never the single-photo conversation
    assert len(sessions) == 1 and sessions[0].status == "completed"
    assert not any(d == "p:done" for c in calls for _, d in c.buttons())
    assert sessions[0].description == "Our pottery stand"
    sid = sessions[0].id
    assert any(sid in d for _, d in closing.buttons())

    # every platform's limit: Instagram 10, Pinterest 5, X 4
    ig, pin, x = (_docs(calls, k) for k in ("instagram", "pinterest", "x"))
    assert (len(ig), len(pin), len(x)) == (6, PLATFORMS["pinterest"].max_items, 4)
    for docs, size in ((ig, "1080x1350"), (pin, "1000x1500"), (x, "1200x675")):
        assert [n for _, n, _ in docs] == [
            f"{docs[0][1].split('_')[0]}_{i}_{size}.jpg" for i in range(1, len(docs) + 1)
        ]  # one ratio per platform, slides in the album's order
        assert len({g for g, _, _ in docs}) == 1  # one document album per platform here
        assert all("Alt:" in cap for _, _, cap in docs)
    for call in (c for c in calls if c.method == "sendMediaGroup"):
        assert 2 <= len(call.params["media"]) <= 10
        assert {m["type"] for m in call.params["media"]} == {"document"}
    texts = " ".join(c.text for c in calls if c.method == "sendMessage")
    assert re.search(r"X takes 4 photos per post: photos 5 \(photo5\.jpg\), 6 \(photo6", texts)
    assert "Pinterest takes 5 photos" in texts and "photo6.jpg" in texts

    # the caption after the slides, then the zip with every slide and results.json
    first_group = next(i for i, c in enumerate(calls) if c.method == "sendMediaGroup")
    assert any(c.method == "sendMessage" and "<pre>" in c.text for c in calls[first_group:])
    zipped = next(c for c in calls if c.method == "sendDocument" and c.files)
    names = zipfile.ZipFile(io.BytesIO(zipped.files["document"].data)).namelist()
    assert {"results.json", "x_4_1200x675.jpg", "instagram_6_1080x1350.jpg"} <= set(names)
    assert "x_contact_sheet.jpg" in names and not any(n.startswith("source") for n in names)
    results = sessions[0].results
    assert [s["n"] for s in results["platforms"]["x"]["slides"]] == [1, 2, 3, 4]
    assert results["platforms"]["x"]["left_out"] == [
        {"n": 5, "photo": "photo5.jpg"},
        {"n": 6, "photo": "photo6.jpg"},
    ]


async def test_an_album_of_image_files_shares_one_ratio_and_skips_what_is_not_an_image(
    fake: AlbumFake, tmp_path: Path
) -> None:
    app = build_application(settings_for(fake, tmp_path, default_platforms=("instagram",)))
    items = [
        ("document", _photo((1600, 900), 0.8, "PNG"), "a.png", "image/png"),
        ("document", _photo((1600, 1000), 0.3), "b.jpg", "image/jpeg"),
        ("document", b"%PDF-1.4 not a photo", "menu.pdf", "application/pdf"),
        ("document", _photo((1000, 1000), 0.5), "c.jpg", "image/jpeg"),
    ]
    async with running(app):
        mark = len(fake.calls)
        fake.send_album(ALICE, items)
        await _closing(fake, ALICE, mark)
        calls = fake.calls_for(ALICE, since=mark)
        sessions = await svc(app).repo.list_sessions(ALICE)
    assert len(sessions) == 1
    docs = _docs(calls, "instagram")
    # two landscapes and a square: the landscape shape crops least of the set
    assert [n for _, n, _ in docs] == [f"instagram_{i}_1080x566.jpg" for i in (1, 2, 3)]
    group = next(c for c in calls if c.method == "sendMediaGroup")
    for item in group.params["media"]:
        data = group.files[item["media"].removeprefix("attach://")].data
        assert Image.open(io.BytesIO(data)).size == (1080, 566)
    said = " ".join(c.text for c in calls if c.method in ("sendMessage", "editMessageText"))
    assert "Item 3 (menu.pdf) was skipped" in said and "INVALID_IMAGE_FORMAT" in said
    photos = sessions[0].results["carousel"]["photos"]
    assert [p["name"] for p in photos] == ["a.png", "b.jpg", "c.jpg"]


async def test_an_album_with_one_usable_photo_says_so_and_starts_nothing(
    fake: AlbumFake, tmp_path: Path
) -> None:
    app = build_application(settings_for(fake, tmp_path))
    async with running(app):
        mark = len(fake.calls)
        fake.send_album(
            ALICE,
            [
                ("photo", _photo((800, 800), 0.5), "", ""),
                ("document", b"hello", "notes.txt", "text/plain"),
            ],
        )
        said = await fake.wait_text(ALICE, "needs at least 2", since=mark)
        assert "Item 2 (notes.txt) was skipped" in said.text
        assert await svc(app).repo.list_sessions(ALICE) == []


def test_media_groups_are_2_to_10_documents_and_even() -> None:
    assert album.media_groups(4) == [(0, 4)]
    assert album.media_groups(10) == [(0, 10)]
    assert album.media_groups(11) == [(0, 6), (6, 11)]
    assert album.media_groups(21) == [(0, 7), (7, 14), (14, 21)]
    assert album.media_groups(1) == [(0, 1)]  # sent as one plain document
    for n in range(2, 40):
        sizes = [b - a for a, b in album.media_groups(n)]
        assert sum(sizes) == n and all(2 <= s <= 10 for s in sizes)


async def test_the_collector_waits_for_quiet_and_for_items_still_downloading() -> None:
    ready: list[tuple[object, list[str]]] = []

    async def on_ready(key: object, items: list[AlbumItem]) -> None:
        ready.append((key, [i.name for i in items]))

    collector = AlbumCollector(on_ready, window_s=0.2)
    collector.add("a", AlbumItem(2, "second", Path("x")), expected=False)
    collector.add("b", AlbumItem(1, "other", Path("x")), expected=False)
    collector.expect("a")  # a third item is still downloading
    collector.add("a", AlbumItem(1, "first", Path("x")), expected=False)
    await asyncio.sleep(0.5)
    assert ready == [("b", ["other"])]  # "a" waits for its download
    collector.add("a", AlbumItem(3, "third", Path("x")))
    await asyncio.sleep(0.4)
    assert ready == [("b", ["other"]), ("a", ["first", "second", "third"])]
    assert collector.waiting() == 0
