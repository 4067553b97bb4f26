"""The Mini App and the playground in a real browser: Debian's headless Chromium driven by
Playwright, against the real API served by uvicorn on 127.0.0.1 and the fake Bot API.

Each case keeps a screenshot in test-artifacts/webapp/ when it fails.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from socialopt.settings import Secret
from tests.api_helpers import api_settings, create_key, serve, wait_done
from tests.webapp_helpers import (
    CHROMIUM_ARGS,
    DESKTOP,
    PHONE,
    fake_telegram_thread,
    kept_on_failure,
    mini_app_url,
    need_browser,
    off_loop,
    signed_init_data,
    wait_until,
)

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
PHOTO = ROOT / "samples" / "coffee.jpg"
TG_USER = 777001
THEME = {
    "bg_color": "#102030",
    "text_color": "#f0f0f0",
    "hint_color": "#a0a8b0",
    "link_color": "#62bcf9",
    "button_color": "#50a8eb",
    "button_text_color": "#ffffff",
    "secondary_bg_color": "#1b2a3a",
}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = need_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def _page(browser: Any, viewport: dict[str, int]) -> Any:
    context = browser.new_context(viewport=viewport, device_scale_factor=1)
    page = context.new_page()
    page.set_default_timeout(60_000)
    outside: list[str] = []
    page.on(
        "request",
        lambda r: (
            outside.append(r.url)
            if not r.url.startswith(("http://127.0.0.1", "blob:", "data:"))
            else None
        ),
    )
    page.outside_requests = outside  # type: ignore[attr-defined]
    return page


def _results(settings: Any, sid: str) -> dict[str, Any]:
    return json.loads((settings.data_dir / "sessions" / sid / "results.json").read_text())


def _session_via_api(served: Any, key: str, platforms: str) -> str:
    with served.client(key) as client, PHOTO.open("rb") as fh:
        answer = client.post(
            "/api/v1/optimize/image", files={"image": fh}, data={"platforms": platforms}
        )
        assert answer.status_code == 202, answer.text
        sid = answer.json()["session_id"]
        assert wait_done(client, sid)["status"] == "completed"
    return sid


def _drag_frame(page: Any, dx: float, dy: float) -> None:
    frame = page.locator("#active-frame")
    box = frame.bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + dx / 2, y + dy / 2, steps=5)
    page.mouse.move(x + dx, y + dy, steps=5)
    page.mouse.up()


def test_playground_upload_six_crops_drag_pinterest_and_save(browser: Any, tmp_path: Path) -> None:
    """Drop a photo, get six crops with captions, drag Pinterest's frame, save: results.json
    has the new box and the Pinterest image is the new crop."""
    settings = api_settings(tmp_path)
    with serve(settings) as served:
        page = _page(browser, DESKTOP)
        with kept_on_failure(page, "playground"):
            page.goto(served.base_url + "/app/")
            page.locator("#playground").wait_for()
            # drop the photo on the drop zone, as a person drags it from their files
            dropped = page.evaluate_handle(
                """(b64) => {
                    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
                    const dt = new DataTransfer();
                    dt.items.add(new File([bytes], "coffee.jpg", {type: "image/jpeg"}));
                    return dt;
                }""",
                base64.b64encode(PHOTO.read_bytes()).decode(),
            )
            page.dispatch_event("#drop", "drop", {"dataTransfer": dropped})
            assert "coffee.jpg" in page.inner_text("#drop-text")
            checked = page.locator("input[name=platform]:checked")
            assert sorted(checked.evaluate_all("els => els.map(e => e.value)")) == sorted(
                ["instagram", "facebook", "linkedin", "pinterest", "x", "tiktok"]
            )
            page.click("#submit")
            page.locator("#cards .card img").nth(5).wait_for()
            wait_until(
                lambda: page.evaluate(
                    "[...document.querySelectorAll('#cards .card img')]"
                    ".every(i => i.complete && i.naturalWidth > 0)"
                ),
                what="six crops shown",
            )
            assert page.locator("#cards .card").count() == 6
            sid = page.evaluate("new URLSearchParams(location.search).get('session')")
            before = _results(settings, sid)["platforms"]["pinterest"]
            folder = settings.data_dir / "sessions" / sid
            old_bytes = (folder / before["processed_image"]).read_bytes()
            other = folder / _results(settings, sid)["platforms"]["x"]["processed_image"]
            other_bytes = other.read_bytes()
            # copy buttons and texts are there for every platform
            assert page.locator("#cards button", has_text="Copy caption").count() == 6
            page.context.grant_permissions(["clipboard-read", "clipboard-write"])
            page.locator("#card-x button", has_text="Copy caption").click()
            x_post = _results(settings, sid)["platforms"]["x"]["ready_to_post"]
            assert page.evaluate("navigator.clipboard.readText()") == x_post
            with page.expect_download() as download:
                page.click("#zip")
            with zipfile.ZipFile(download.value.path()) as bundle:
                assert "results.json" in bundle.namelist()
                assert before["processed_image"] in bundle.namelist()

            page.click("#tab-pinterest")
            page.locator("#active-frame").wait_for()
            _drag_frame(page, -70, 0)
            page.click("#save")
            page.locator("#status", has_text="Saved: Pinterest").wait_for()

            after = _results(settings, sid)["platforms"]["pinterest"]
            old_box, new_box = before["image"]["crop_box"], after["image"]["crop_box"]
            assert new_box[0] < old_box[0] - 20, (old_box, new_box)  # dragged left
            assert new_box[2] - new_box[0] == old_box[2] - old_box[0]  # same size
            new_bytes = (folder / after["processed_image"]).read_bytes()
            assert new_bytes != old_bytes
            with Image.open(io.BytesIO(new_bytes)) as img:
                assert img.size == (1000, 1500)
            assert other.read_bytes() == other_bytes  # X was not re-rendered
            with served.client(
                page.evaluate("localStorage.getItem('socialopt.apiKey')")
            ) as client:
                stored = client.get(f"/api/v1/optimize/results/{sid}").json()
            assert stored["results"]["platforms"]["pinterest"]["image"]["crop_box"] == new_box
            assert page.outside_requests == []  # nothing from a CDN or font host


def test_caption_over_the_limit_is_flagged_in_graphemes(browser: Any, tmp_path: Path) -> None:
    """Bluesky counts graphemes: 100 flags are 100 (not 200 code points) and fit; 301 accented
    letters written with combining marks are over 300 and are flagged, and Save is off."""
    settings = api_settings(tmp_path)
    with serve(settings) as served:
        key = off_loop(create_key, settings, "captions").key
        sid = _session_via_api(served, key, "bluesky,instagram")
        page = _page(browser, PHONE)
        with kept_on_failure(page, "caption_limit"):
            page.goto(served.base_url + "/app/")
            page.locator("#playground").wait_for()  # signed in with the local key first
            page.evaluate(f"localStorage.setItem('socialopt.apiKey', {json.dumps(key)})")
            page.goto(f"{served.base_url}/app/?session={sid}")
            page.click("#tab-bluesky")
            page.fill("#hashtags", "")
            page.fill("#caption", "🇫🇷" * 100)
            counter = page.locator("#caption-count")
            assert counter.inner_text().startswith("100 / 300 graphemes")
            assert "over" not in (counter.get_attribute("class") or "")
            assert page.locator("#save").is_enabled()

            page.fill("#caption", "e\u0301" * 301)
            assert counter.inner_text().startswith("301 / 300 graphemes")
            assert "1 over the limit" in counter.inner_text()
            assert "over" in (counter.get_attribute("class") or "")
            assert page.get_attribute("#caption", "aria-invalid") == "true"
            assert page.locator("#save").is_disabled()
            assert "Bluesky: the caption is over the limit" in page.inner_text("#save-note")


def test_mini_app_adjusts_crops_and_sends_documents_to_the_chat(
    browser: Any, tmp_path: Path
) -> None:
    """Opened by Telegram with a valid initData: the user's session loads in Telegram's
    colours, the Pinterest frame is moved with the keyboard, Save re-renders it and the fake
    Bot API receives the new image as a document in the user's chat."""
    with fake_telegram_thread() as fake:
        settings = api_settings(
            tmp_path,
            telegram_bot_token=Secret(fake.token),
            telegram_api_base_url=fake.base_url,
            telegram_file_base_url=fake.base_file_url,
        )
        with serve(settings) as served:
            key = off_loop(create_key, settings, "tg-user", telegram_id=TG_USER).key
            sid = _session_via_api(served, key, "instagram,pinterest,x,tiktok")
            url = mini_app_url(served.base_url, sid, signed_init_data(fake.token, TG_USER), THEME)
            page = _page(browser, PHONE)
            with kept_on_failure(page, "mini_app"):
                page.goto(url)
                page.locator("#active-frame").wait_for()
                assert page.locator("#playground").is_hidden()
                bg = page.evaluate("getComputedStyle(document.body).backgroundColor")
                assert bg == "rgb(16, 32, 48)"  # THEME bg_color
                assert page.inner_text("#alt")  # the alt text is shown
                before = _results(settings, sid)["platforms"]["pinterest"]["image"]["crop_box"]

                page.click("#tab-pinterest")
                frame = page.locator("#active-frame")
                frame.focus()
                for _ in range(4):
                    frame.press("ArrowRight")
                frame.press("-")  # smaller, so it can move both ways
                page.click("#save")
                page.locator("#status", has_text="Sent to your chat").wait_for()

            after = _results(settings, sid)["platforms"]["pinterest"]
            assert after["image"]["crop_box"] != before
            sent = wait_until(
                lambda: [
                    c for c in fake.calls if c.method == "sendDocument" and c.chat_id == TG_USER
                ],
                what="the re-rendered document",
            )
            assert len(sent) == 1  # only Pinterest changed
            upload = next(iter(sent[0].files.values()))
            assert upload.filename == after["processed_image"]
            on_disk = (
                settings.data_dir / "sessions" / sid / after["processed_image"]
            ).read_bytes()
            assert hashlib.sha256(upload.data).digest() == hashlib.sha256(on_disk).digest()
            assert "Pinterest" in sent[0].text
            assert page.outside_requests == []


def test_mini_app_with_forged_init_data_is_refused(browser: Any, tmp_path: Path) -> None:
    """initData signed with another bot's token: the API answers 401 and the page shows the
    refusal, not the session."""
    with fake_telegram_thread() as fake:
        settings = api_settings(tmp_path, telegram_bot_token=Secret(fake.token))
        with serve(settings) as served:
            key = off_loop(create_key, settings, "tg-user", telegram_id=TG_USER).key
            sid = _session_via_api(served, key, "instagram,pinterest")
            forged = signed_init_data("999999:not-this-bots-token", TG_USER)
            page = _page(browser, PHONE)
            statuses: list[int] = []
            page.on(
                "response",
                lambda r: statuses.append(r.status) if "/api/v1/webapp/" in r.url else None,
            )
            with kept_on_failure(page, "mini_app_forged"):
                page.goto(mini_app_url(served.base_url, sid, forged, THEME))
                alert = page.locator("#alert")
                alert.wait_for()
                assert "UNAUTHORIZED" in alert.inner_text()
                assert "not signed by this bot" in alert.inner_text()
                assert statuses and set(statuses) == {401}
                assert page.locator("#editor").is_hidden()
                assert page.locator("#photo").get_attribute("src") in (None, "")


def test_mini_app_uses_telegram_webapp_object_when_the_client_injects_it(
    browser: Any, tmp_path: Path
) -> None:
    """A client that provides window.Telegram.WebApp: its initData and themeParams are used
    (no launch hash), ready() is called, and the user's newest session opens."""
    token = "123456:injected-object-token"
    settings = api_settings(tmp_path, telegram_bot_token=Secret(token))
    with serve(settings) as served:
        key = off_loop(create_key, settings, "tg-user", telegram_id=TG_USER).key
        sid = _session_via_api(served, key, "instagram,x")
        web_app = {
            "initData": signed_init_data(token, TG_USER),
            "themeParams": {"bg_color": "#202124", "button_color": "#ff8800"},
        }
        page = _page(browser, PHONE)
        requested: list[str] = []
        page.on("request", lambda r: requested.append(r.url))
        page.add_init_script(
            "window.__ready = 0; window.Telegram = {WebApp: Object.assign("
            f"{json.dumps(web_app)}, {{ready() {{ window.__ready += 1; }}, expand() {{}}}})}};"
        )
        with kept_on_failure(page, "mini_app_injected"):
            page.goto(served.base_url + "/app/")  # no ?session: the newest one
            page.locator("#active-frame").wait_for()
            assert page.evaluate("window.__ready") == 1
            assert page.evaluate("getComputedStyle(document.body).backgroundColor") == (
                "rgb(32, 33, 36)"
            )
            assert page.locator("#tab-instagram").get_attribute("aria-selected") == "true"
            assert page.locator("#tab-x").count() == 1
            assert f"/api/v1/webapp/sessions/{sid}/photo" in " ".join(requested)
            # the page's own fetch without the header is refused: the data needs the sign-in
            assert page.evaluate("fetch('/api/v1/webapp/me').then(r => r.status)") == 401


def test_editor_controls_fit_version_and_corner_resize(browser: Any, tmp_path: Path) -> None:
    """Pad chosen for one platform, another caption version for another, a frame made
    smaller by its corner handle for a third: one Save applies all three."""
    settings = api_settings(tmp_path)
    with serve(settings) as served:
        key = off_loop(create_key, settings, "controls").key
        sid = _session_via_api(served, key, "instagram,x,pinterest")
        before = _results(settings, sid)["platforms"]
        assert before["instagram"]["image"]["fit"] == "crop"
        page = _page(browser, DESKTOP)
        with kept_on_failure(page, "editor_controls"):
            page.goto(served.base_url + "/app/")
            page.locator("#playground").wait_for()
            page.evaluate(f"localStorage.setItem('socialopt.apiKey', {json.dumps(key)})")
            page.goto(f"{served.base_url}/app/?session={sid}")
            page.locator("#active-frame").wait_for()

            page.click("#tab-instagram")
            page.check("input[name=fit][value=pad]")
            assert "pad" in page.inner_text("#preview-cap")

            page.click("#tab-x")
            page.select_option("#variant", "1")
            assert page.input_value("#caption") == before["x"]["variants"][1]["caption"]

            page.click("#tab-pinterest")
            handle = page.locator("#active-frame .handle").bounding_box()
            assert handle is not None
            x, y = handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2
            page.mouse.move(x, y)
            page.mouse.down()
            page.mouse.move(x - 40, y - 60, steps=8)
            page.mouse.up()
            for tab in ("instagram", "x", "pinterest"):
                assert "dirty" in (page.get_attribute(f"#tab-{tab}", "class") or "")
            page.click("#save")
            page.locator("#status", has_text="Saved:").wait_for()

        after = _results(settings, sid)["platforms"]
        assert after["instagram"]["image"]["fit"] == "pad"
        assert after["x"]["variant"] == 1
        assert after["x"]["caption"] == before["x"]["variants"][1]["caption"]
        old, new = (
            before["pinterest"]["image"]["crop_box"],
            after["pinterest"]["image"]["crop_box"],
        )
        assert new[:2] == old[:2]  # the top-left corner stays where it was
        assert new[2] - new[0] < old[2] - old[0]
        assert abs((new[2] - new[0]) / (new[3] - new[1]) - 2 / 3) < 0.01
