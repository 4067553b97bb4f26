"""The webapp's JSON API over HTTP (uvicorn on 127.0.0.1): Telegram initData validation, the
local key's rule, who may see which session, and the adjust use case (validation with coded
errors, only the changed platforms re-rendered, files, results.json and storage updated)."""

from __future__ import annotations

import asyncio
import io
import json
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import numpy as np
import pytest
from PIL import Image

from api.errors import ApiError
from api.webapp import STATIC, validate_init_data
from socialopt.settings import Secret, Settings
from socialopt.usecases.adjust import AdjustError, lock_box
from storage.api import ApiStore
from storage.repository import Repository
from tests.api_helpers import Served, api_settings, create_key, serve, wait_done
from tests.webapp_helpers import signed_init_data

ROOT = Path(__file__).resolve().parents[1]
PHOTO = ROOT / "samples" / "coffee.jpg"  # 600x400
TOKEN = "123456:TEST-token-for-the-webapp"
ALICE, BOB = 501, 502
PLATFORMS = "instagram,pinterest,x,bluesky,tiktok"


@dataclass
class World:
    settings: Settings
    served: Served
    alice_key: str
    sid: str  # Alice's finished session (PLATFORMS)

    def tma(self, user: int, **kwargs: Any) -> dict[str, str]:
        return {"Authorization": "tma " + signed_init_data(TOKEN, user, **kwargs)}

    def results(self, sid: str | None = None) -> dict[str, Any]:
        folder = self.settings.data_dir / "sessions" / (sid or self.sid)
        return json.loads((folder / "results.json").read_text())


def _session(served: Served, key: str) -> str:
    with served.client(key) as client, PHOTO.open("rb") as fh:
        answer = client.post(
            "/api/v1/optimize/image", files={"image": fh}, data={"platforms": PLATFORMS}
        )
        sid = answer.json()["session_id"]
        assert wait_done(client, sid)["status"] == "completed"
    return sid


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    settings = api_settings(tmp_path, telegram_bot_token=Secret(TOKEN))
    key = create_key(settings, "alice", telegram_id=ALICE).key
    with serve(settings) as served:
        yield World(settings, served, key, _session(served, key))


# --------------------------------------------------------------------------- initData


def _tampered(init: str, **changes: str) -> str:
    fields = dict(parse_qsl(init))
    fields.update(changes)
    return urlencode(fields)


def test_valid_init_data_names_its_user() -> None:
    user = validate_init_data(signed_init_data(TOKEN, ALICE), TOKEN, max_age_s=60)
    assert (user.id, user.first_name) == (ALICE, "Ada")


@pytest.mark.parametrize(
    ("init", "why"),
    [
        (lambda: signed_init_data("654321:another-bot", ALICE), "not signed by this bot"),
        (  # the user swapped after signing
            lambda: _tampered(signed_init_data(TOKEN, ALICE), user=json.dumps({"id": BOB})),
            "not signed by this bot",
        ),
        (lambda: signed_init_data(TOKEN, ALICE, auth_date=int(time.time()) - 120), "s old"),
        (lambda: signed_init_data(TOKEN, ALICE, auth_date=int(time.time()) + 3600), "future"),
        (lambda: urlencode({"user": json.dumps({"id": ALICE}), "auth_date": "1"}), "no hash"),
        (lambda: signed_init_data(TOKEN, ALICE) + "&auth_date=1", "appears twice"),
        (lambda: "no-equals-sign-here", "not a query string"),
    ],
)
def test_bad_init_data_is_refused_with_a_reason(init: Any, why: str) -> None:
    with pytest.raises(ApiError) as caught:
        validate_init_data(init(), TOKEN, max_age_s=60)
    assert caught.value.code == "UNAUTHORIZED" and why in caught.value.message


def test_a_server_without_a_bot_token_refuses_telegram_sign_in() -> None:
    with pytest.raises(ApiError, match="no bot token"):
        validate_init_data(signed_init_data(TOKEN, ALICE), "", max_age_s=60)


def test_telegram_users_see_only_their_own_sessions(world: World) -> None:
    with world.served.client() as client:
        mine = client.get("/api/v1/webapp/me", headers=world.tma(ALICE)).json()
        assert mine["user_id"] == ALICE
        assert [s["session_id"] for s in mine["sessions"]] == [world.sid]
        opened = client.get(f"/api/v1/webapp/sessions/{world.sid}", headers=world.tma(ALICE))
        assert opened.status_code == 200
        assert {p["key"] for p in opened.json()["platforms"]} == set(PLATFORMS.split(","))
        # Bob, validly signed in, gets a 404 for Alice's session, its photo and files
        for path in ("", "/photo", "/files/results.json", "/zip"):
            other = client.get(
                f"/api/v1/webapp/sessions/{world.sid}{path}", headers=world.tma(BOB)
            )
            assert other.status_code == 404 and other.json()["error_code"] == "SESSION_NOT_FOUND"
        assert client.get("/api/v1/webapp/me", headers=world.tma(BOB)).json()["sessions"] == []


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "tma " + signed_init_data("654321:another-bot", ALICE)},
        {"Authorization": "tma " + signed_init_data(TOKEN, ALICE, auth_date=1_600_000_000)},
        {"Authorization": "tma x"},
        {},
    ],
    ids=["forged", "stale", "empty", "none"],
)
def test_forged_or_stale_init_data_gets_401_in_the_seed_shape(
    world: World, headers: dict[str, str]
) -> None:
    with world.served.client() as client:
        for path in (f"/api/v1/webapp/sessions/{world.sid}", "/api/v1/webapp/me"):
            answer = client.get(path, headers=headers)
            assert answer.status_code == 401
            body = answer.json()
            assert body["error"] == "Unauthorized" and body["error_code"] == "UNAUTHORIZED"
            assert body["message"]
        save = client.post(
            f"/api/v1/webapp/sessions/{world.sid}/adjust",
            headers=headers,
            json={"platforms": {"x": {"caption": "hijacked"}}},
        )
        assert save.status_code == 401
    assert world.results()["platforms"]["x"]["caption"] != "hijacked"


# --------------------------------------------------------------------------- the local key


def test_local_key_only_for_a_browser_on_this_machine(world: World) -> None:
    with world.served.client() as client:
        first = client.post("/api/v1/webapp/local-key")
        assert first.status_code == 200 and first.json()["created"] is True
        key = first.json()["key"]
        again = client.post("/api/v1/webapp/local-key").json()
        assert again == {"key": key, "created": False}
        assert client.get(
            "/api/v1/sessions", headers={"Authorization": f"Bearer {key}"}
        ).is_success
        for headers in (
            {"X-Forwarded-For": "203.0.113.9"},  # behind a proxy everyone looks local
            {"Forwarded": "for=203.0.113.9"},
            {"Host": "evil.example:8000"},  # a DNS-rebound page of another site
        ):
            refused = client.post("/api/v1/webapp/local-key", headers=headers)
            assert refused.status_code == 401, headers
            assert refused.json()["error_code"] == "UNAUTHORIZED"
    key_file = world.settings.data_dir / "playground_api_key"
    assert key_file.read_text() == key and key_file.stat().st_mode & 0o777 == 0o600


def test_a_revoked_local_key_is_replaced(world: World) -> None:
    with world.served.client() as client:
        key = client.post("/api/v1/webapp/local-key").json()["key"]

        async def revoke() -> None:
            async with await Repository.open(world.settings.db_path) as repo:
                await ApiStore(repo).revoke_key("playground (local)")

        asyncio.run(revoke())
        fresh = client.post("/api/v1/webapp/local-key").json()
        assert fresh["created"] is True and fresh["key"] != key


def test_local_key_can_be_switched_off(tmp_path: Path) -> None:
    settings = api_settings(tmp_path, webapp_local_key=False)
    with serve(settings) as served, served.client() as client:
        assert client.post("/api/v1/webapp/local-key").status_code == 401


# --------------------------------------------------------------------------- the page


def test_the_page_is_served_with_nothing_from_elsewhere(world: World) -> None:
    with world.served.client() as client:
        assert client.get("/app", follow_redirects=False).headers["location"] == "/app/"
        page = client.get("/app/")
        assert page.status_code == 200 and "<title>" in page.text
        assert "default-src 'self'" in page.headers["content-security-policy"]
        for name in ("app.js", "app.css"):
            assert client.get(f"/app/{name}").status_code == 200
    for path in STATIC.rglob("*"):
        text = path.read_text(encoding="utf-8")
        assert "http://" not in text and "https://" not in text and "//cdn" not in text, path
        assert "telegram-web-app.js" not in text


# --------------------------------------------------------------------------- adjusting


def _adjust(world: World, platforms: dict[str, Any], user: int = ALICE) -> Any:
    with world.served.client() as client:
        return client.post(
            f"/api/v1/webapp/sessions/{world.sid}/adjust",
            headers=world.tma(user),
            json={"platforms": platforms},
        )


def _frame(world: World, platform: str) -> list[int]:
    return world.results()["platforms"][platform]["image"]["crop_box"]


@pytest.mark.parametrize(
    ("edit", "code"),
    [
        ({"bluesky": {"caption": "e\u0301" * 301}}, "CAPTION_TOO_LONG"),  # 301 graphemes
        ({"x": {"caption": "a" * 281}}, "CAPTION_TOO_LONG"),
        ({"instagram": {"hashtags": "#a #b #c #d #e #f"}}, "TOO_MANY_HASHTAGS"),  # cap 5
        ({"instagram": {"hashtags": "#ok not-a-tag"}}, "INVALID_HASHTAG"),
        ({"instagram": {"variant": 7}}, "UNKNOWN_VARIANT"),
        ({"facebook": {"caption": "hi"}}, "PLATFORM_NOT_IN_SESSION"),
        ({"myspace": {"caption": "hi"}}, "UNKNOWN_PLATFORM"),
        ({"pinterest": {"fit": "auto"}}, "UNKNOWN_FIT"),
        ({"pinterest": {"fit": "stretch"}}, "UNKNOWN_FIT"),
        ({"pinterest": {"crop_box": [0, 0, 300, 100]}}, "CROP_ASPECT_MISMATCH"),
        ({"pinterest": {"crop_box": [0, 0, 10, 15]}}, "INVALID_CROP_BOX"),
        ({}, "NO_CHANGES"),
    ],
)
def test_bad_adjustments_get_coded_errors_and_change_nothing(
    world: World, edit: dict[str, Any], code: str
) -> None:
    before = world.results()
    # a valid change beside the bad one must not be applied either
    answer = _adjust(world, {**edit, "tiktok": {"caption": "fine"}} if edit else {})
    assert answer.status_code == 400, answer.text
    assert answer.json()["error_code"] == code
    assert answer.json()["message"]
    assert world.results() == before


def test_bluesky_counts_graphemes_not_code_points(world: World) -> None:
    """100 flags are 200 code points but 100 graphemes: within Bluesky's 300."""
    answer = _adjust(world, {"bluesky": {"caption": "🇫🇷" * 100, "hashtags": ""}})
    assert answer.status_code == 200, answer.text
    assert world.results()["platforms"]["bluesky"]["ready_to_post"] == "🇫🇷" * 100


def test_a_new_crop_rerenders_only_that_platform(world: World) -> None:
    folder = world.settings.data_dir / "sessions" / world.sid
    before = world.results()
    files = {
        p: (folder / e["processed_image"]).read_bytes() for p, e in before["platforms"].items()
    }
    preview = (folder / "preview.jpg").read_bytes()
    with world.served.client(world.alice_key) as client:
        completed = client.get(f"/api/v1/optimize/status/{world.sid}").json()["completed_at"]
    left, top, right, bottom = _frame(world, "pinterest")  # 2:3 in a 600x400 photo
    box = [float(left) - 100, 40.0, left - 100 + 200.0, 340.0]  # 200x300, moved left
    answer = _adjust(world, {"pinterest": {"crop_box": box}})
    assert answer.status_code == 200, answer.text
    assert answer.json()["rendered"] == ["pinterest"]
    after = world.results()
    entry = after["platforms"]["pinterest"]
    expected = [max(0, left - 100), 40, max(0, left - 100) + 200, 340]
    assert entry["image"]["crop_box"] == expected and entry["image"]["fit"] == "crop"
    new = (folder / entry["processed_image"]).read_bytes()
    assert new != files["pinterest"] and entry["image"]["size_bytes"] == len(new)
    for platform, data in files.items():
        if platform != "pinterest":
            assert (folder / before["platforms"][platform]["processed_image"]).read_bytes() == data
    assert (folder / "preview.jpg").read_bytes() != preview  # the contact sheet shows it
    # the image is that box of the source, resized (compared with Pillow's own crop+resize)
    with Image.open(PHOTO) as src, Image.open(io.BytesIO(new)) as img:
        assert img.size == (1000, 1500)
        ref = src.convert("RGB").crop(tuple(expected)).resize(img.size, Image.Resampling.LANCZOS)
        diff = np.abs(np.asarray(img, np.int16) - np.asarray(ref, np.int16)).mean()
    assert diff < 6, diff
    # storage has the new results too; the job's completion time is kept
    with world.served.client(world.alice_key) as client:
        stored = client.get(f"/api/v1/optimize/results/{world.sid}").json()
        status = client.get(f"/api/v1/optimize/status/{world.sid}").json()
    assert stored["results"]["platforms"]["pinterest"]["image"]["crop_box"] == expected
    assert status["completed_at"] == completed


def test_pad_then_captions_hashtags_and_versions(world: World) -> None:
    before = world.results()["platforms"]
    variants = before["x"]["variants"]
    assert len(variants) >= 2 and before["pinterest"]["image"]["fit"] == "crop"
    answer = _adjust(
        world,
        {
            "pinterest": {"fit": "pad"},
            "instagram": {"caption": "My own words.", "hashtags": "#Coffee #Morning"},
            "x": {"variant": 1},
        },
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["rendered"] == ["pinterest"]
    assert sorted(answer.json()["texts"]) == ["instagram", "x"]
    after = world.results()["platforms"]
    assert after["pinterest"]["image"]["fit"] == "pad"
    assert after["pinterest"]["image"]["crop_box"] == [0, 0, 600, 400]
    folder = world.settings.data_dir / "sessions" / world.sid
    with (
        Image.open(folder / after["pinterest"]["processed_image"]) as img,
        Image.open(PHOTO) as src,
    ):
        padded = np.asarray(img.convert("RGB"), np.int16)
        whole = np.asarray(src.convert("RGB").resize((1000, 667)), np.int16)
    top = (1500 - 667) // 2  # the whole photo, centred over a dimmed copy of itself
    assert np.abs(padded[top + 2 : top + 665] - whole[2:665]).mean() < 8
    assert padded[:top].mean() < whole.mean()
    ig = after["instagram"]
    assert (ig["caption"], ig["hashtag_list"]) == ("My own words.", ["#Coffee", "#Morning"])
    assert ig["first_comment"] == "#Coffee #Morning" and ig["ready_to_post"] == "My own words."
    assert ig["variant"] is None  # written by hand, no longer one of the versions
    assert after["x"]["variant"] == 1 and after["x"]["caption"] == variants[1]["caption"]
    assert after["x"]["ready_to_post"].startswith(variants[1]["caption"])  # tags in the post
    caption_file = world.settings.data_dir / "sessions" / world.sid / "instagram_caption.txt"
    assert (
        "My own words." in caption_file.read_text()
        and "#Coffee #Morning" in caption_file.read_text()
    )

    async def rows() -> dict[str, Any]:
        async with await Repository.open(world.settings.db_path) as repo:
            return {r.platform: r for r in await repo.list_platform_rows(ALICE, world.sid)}

    stored = asyncio.run(rows())
    assert stored["instagram"].caption == "My own words."
    assert stored["instagram"].hashtags == ["#Coffee", "#Morning"]


def test_two_saves_at_once_both_count(world: World) -> None:
    """Saves of one session run one after the other: neither overwrites the other's change."""
    from concurrent.futures import ThreadPoolExecutor

    left, top, right, bottom = _frame(world, "pinterest")
    width = (right - left) // 2
    box = [left, top, left + width, top + width * 1.5]
    with ThreadPoolExecutor(2) as pool:
        crop = pool.submit(_adjust, world, {"pinterest": {"crop_box": box}})
        text = pool.submit(_adjust, world, {"x": {"caption": "Both kept."}})
        assert crop.result().status_code == 200 and text.result().status_code == 200
    after = world.results()["platforms"]
    assert after["x"]["caption"] == "Both kept."
    assert after["pinterest"]["image"]["crop_box"][2] - left == width


def test_an_api_key_user_adjusts_with_the_same_routes(world: World) -> None:
    with world.served.client(world.alice_key) as client:
        answer = client.post(
            f"/api/v1/webapp/sessions/{world.sid}/adjust",
            json={"platforms": {"x": {"caption": "Short."}}},
        )
    assert answer.status_code == 200 and answer.json()["telegram"] is None
    assert world.results()["platforms"]["x"]["caption"] == "Short."


# --------------------------------------------------------------------------- the box rule


@pytest.mark.parametrize(
    ("box", "expected"),
    [
        ((100, 0, 300, 300), (100, 0, 300, 300)),  # already fine
        ((-50, -20, 150, 280), (0, 0, 200, 300)),  # off the top-left: moved inside
        ((500, 150, 700, 450), (400, 100, 600, 400)),  # off the bottom-right
        ((0, 0, 400, 600), (66, 0, 333, 400)),  # larger than the photo: the largest that fits
        ((100, 0, 301, 300), (100, 0, 301, 302)),  # within the tolerance: snapped to 2:3
    ],
)
def test_lock_box_keeps_the_aspect_inside_the_photo(box: Any, expected: Any) -> None:
    got = lock_box(box, 2 / 3, 600, 400)
    assert got[0] >= 0 and got[1] >= 0 and got[2] <= 600 and got[3] <= 400
    assert abs((got[2] - got[0]) / (got[3] - got[1]) - 2 / 3) < 0.01
    assert got == pytest.approx(expected, abs=2)


@pytest.mark.parametrize(
    "box", [(0, 0, 100, 100), ("a", 0, 1, 2), (0, 0, float("nan"), 10), (0, 0, 20, 30)]
)
def test_lock_box_refuses_bad_boxes(box: Any) -> None:
    with pytest.raises(AdjustError) as caught:
        lock_box(box, 2 / 3, 600, 400)
    assert caught.value.code in {"CROP_ASPECT_MISMATCH", "INVALID_CROP_BOX"}


def test_socialopt_web_serves_the_playground(tmp_path: Path) -> None:
    """`socialopt web` says where the page is and serves it, with a local key for this
    machine, from a fresh data folder."""
    import os
    import socket
    import subprocess
    import sys

    import httpx

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "DATA_DIR": str(tmp_path / "data"), "AI_PROVIDER": "offline"}
    env.pop("TELEGRAM_BOT_TOKEN", None)
    cli = [sys.executable, "-m", "socialopt", "web", "--port", str(port)]
    proc = subprocess.Popen(cli, env=env, cwd=tmp_path, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == f"playground: http://127.0.0.1:{port}/app/"
        deadline = time.monotonic() + 60
        while True:
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/app/", timeout=5)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and proc.poll() is None, "did not start"
                time.sleep(0.2)
        assert page.status_code == 200 and 'src="app.js"' in page.text
        key = httpx.post(f"http://127.0.0.1:{port}/api/v1/webapp/local-key", timeout=10)
        assert key.status_code == 200 and key.json()["key"].startswith("sk_")
    finally:
        proc.terminate()
        proc.wait(30)


def test_adjusting_a_session_whose_files_live_in_s3(tmp_path: Path) -> None:
    """With S3_BUCKET the files are fetched from the object store, adjusted and put back:
    the new Pinterest image is the one the store (and the webapp's file route) serves."""
    from moto.server import ThreadedMotoServer

    from socialopt.wiring import file_store

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        settings = api_settings(
            tmp_path,
            telegram_bot_token=Secret(TOKEN),
            s3_bucket="socialopt-webapp",
            s3_endpoint_url=f"http://{host}:{port}",
            s3_access_key=Secret("test"),
            s3_secret_key=Secret("test"),
        )
        key = create_key(settings, "alice", telegram_id=ALICE).key
        with serve(settings) as served:
            world = World(settings, served, key, _session(served, key))
            store = file_store(settings)
            name = world.results()["platforms"]["pinterest"]["processed_image"]
            # as with Celery workers on other machines: the files are in the store only
            folder = settings.data_dir / "sessions" / world.sid
            store.put_dir(world.sid, folder)
            shutil.rmtree(folder)
            old = store.get(world.sid, name)
            left, top, right, bottom = json.loads(store.get(world.sid, "results.json"))[
                "platforms"
            ]["pinterest"]["image"]["crop_box"]
            half = (right - left) // 2
            box = [left, top, left + half, top + half * 1.5]
            answer = _adjust(world, {"pinterest": {"crop_box": box}})
            assert answer.status_code == 200, answer.text
            new = store.get(world.sid, name)
            assert new != old
            stored = json.loads(store.get(world.sid, "results.json"))
            assert stored["platforms"]["pinterest"]["image"]["crop_box"][2] == left + half
            with served.client() as client:
                served_file = client.get(
                    f"/api/v1/webapp/sessions/{world.sid}/files/{name}",
                    headers=world.tma(ALICE),
                )
                photo = client.get(
                    f"/api/v1/webapp/sessions/{world.sid}/photo", headers=world.tma(ALICE)
                )
            assert served_file.status_code == 200 and served_file.content == new
            assert photo.status_code == 200
            assert Image.open(io.BytesIO(photo.content)).size == (600, 400)
    finally:
        server.stop()


def test_a_session_with_a_logo_keeps_it_or_refuses(tmp_path: Path) -> None:
    """A job with a logo: without the logo file a crop cannot be redone (LOGO_MISSING, while
    captions still change); with the user's saved logo the new crop carries it again."""
    settings = api_settings(tmp_path, telegram_bot_token=Secret(TOKEN))
    key = create_key(settings, "alice", telegram_id=ALICE).key
    logo = ROOT / "samples" / "logo.png"
    with serve(settings) as served:
        with served.client(key) as client, PHOTO.open("rb") as fh, logo.open("rb") as lf:
            answer = client.post(
                "/api/v1/optimize/image",
                files={"image": fh, "logo": lf},
                data={"platforms": "pinterest,x", "options": '{"logo_position": "top-left"}'},
            )
            sid = answer.json()["session_id"]
            assert wait_done(client, sid)["status"] == "completed"
        world = World(settings, served, key, sid)
        left, top, right, bottom = _frame(world, "pinterest")
        box = [left + 20, top, right - 20, top + (right - left - 40) * 1.5]
        refused = _adjust(world, {"pinterest": {"crop_box": box}})
        assert refused.status_code == 400 and refused.json()["error_code"] == "LOGO_MISSING"
        assert _adjust(world, {"x": {"caption": "Still fine."}}).status_code == 200

        async def save_logo() -> None:  # what the bot's /settings logo upload records
            async with await Repository.open(settings.db_path) as repo:
                await repo.update_user(ALICE, logo_path=str(logo))

        asyncio.run(save_logo())
        done = _adjust(world, {"pinterest": {"crop_box": box}})
        assert done.status_code == 200, done.text
        entry = world.results()["platforms"]["pinterest"]
        got_box = entry["image"]["crop_box"]
        folder = settings.data_dir / "sessions" / sid
        with Image.open(folder / entry["processed_image"]) as img, Image.open(PHOTO) as src:
            out = np.asarray(img.convert("RGB"), np.int16)
            plain = src.convert("RGB").crop(tuple(got_box)).resize(img.size)
            ref = np.asarray(plain, np.int16)
    corner = np.abs(out[:200, :200] - ref[:200, :200]).mean()  # the logo, top left
    rest = np.abs(out[-600:, -500:] - ref[-600:, -500:]).mean()
    assert corner > 4 * rest and rest < 8, (corner, rest)
