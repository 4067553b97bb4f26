"""Issue 9 in the bot: the crop fit in /settings, and product photos that say why they were
refused and offer "Try anyway". The real application (`build_application`) against the fake
Bot API on 127.0.0.1; the photos go through the real pipeline."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from bot.app import build_application
from bot.delivery import refusal_sentence
from pipeline.models import FITS
from pipeline.platforms import get_spec
from pipeline.product.photos import make_product_photos
from socialopt.settings import Settings
from socialopt.wiring import offline_services
from tests.bot_helpers import running, settings_for, svc
from tests.fakes.telegram import Call, FakeTelegram

ROOT = Path(__file__).resolve().parents[1]
COFFEE = (ROOT / "samples" / "coffee.jpg").read_bytes()
CARA, DAN = 3001, 3002

pytestmark = pytest.mark.timeout(180)


def _cups(mode: str) -> Image.Image:
    """Five separate cups in a row: several objects, not one product."""
    background = (0, 0, 0, 0) if mode == "RGBA" else (235, 235, 232)
    img = Image.new(mode, (900, 600), background)
    draw = ImageDraw.Draw(img)
    for i, x in enumerate(range(60, 900, 170)):
        colour = (180, 40 + 30 * i, 40)
        draw.ellipse((x, 220, x + 110, 330), fill=colour + ((255,) if mode == "RGBA" else ()))
    return img


def cups_png() -> bytes:
    """Cups on a transparent background: the PNG's own alpha is the mask (no model needed)."""
    buf = io.BytesIO()
    _cups("RGBA").save(buf, "PNG")
    return buf.getvalue()


async def _press(fake: FakeTelegram, user: int, message: Call, data: str, needle: str) -> Call:
    """Press a button that is really on `message` and wait for a reply containing `needle`."""
    message_id = message.result["message_id"]
    assert data in [d for _, d in fake.keyboard(user, message_id)], (data, message.text)
    mark = len(fake.calls)
    fake.press(user, message_id, data)
    await fake.wait_call(user, "answerCallbackQuery", since=mark)
    return await fake.wait_text(user, needle, since=mark)


async def _closing(fake: FakeTelegram, user: int, since: int) -> Call:
    return await fake.wait_call(
        user,
        "sendMessage",
        since=since,
        timeout=90,
        match=lambda c: any(d.startswith("d:zip:") for _, d in c.buttons()),
    )


def _sid(closing: Call) -> str:
    return next(d for _, d in closing.buttons() if d.startswith("d:zip:")).removeprefix("d:zip:")


def _product_captions(fake: FakeTelegram, user: int, since: int) -> list[str]:
    """Captions of the product photos sent to `user` (documents and media groups)."""
    captions = [c.text for c in fake.calls_for(user, "sendDocument", since=since)]
    for group in fake.calls_for(user, "sendMediaGroup", since=since):
        captions += [str(m.get("caption") or "") for m in group.params["media"]]
    return [c for c in captions if c.startswith("Product photo")]


async def _photo_job(fake: FakeTelegram, user: int, *, document: bytes | None = None) -> Call:
    """Send a photo (or a PNG as a file), keep the default platforms, skip the description;
    the closing message."""
    mark = len(fake.calls)
    if document is None:
        fake.send_photo(user, COFFEE)
    else:
        fake.send_document(user, document, "cups.png", "image/png")
    keyboard = await fake.wait_call(
        user, "sendMessage", since=mark, match=lambda c: "p:done" in [d for _, d in c.buttons()]
    )
    mark = len(fake.calls)
    fake.press(user, keyboard.result["message_id"], "p:done")
    await fake.wait_text(user, "description", since=mark)
    fake.send_command(user, "/skip")
    return await _closing(fake, user, mark)


async def test_crop_fit_in_settings_is_stored_and_used_by_the_next_job(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    async with running(build_application(settings_for(fake, tmp_path))) as app:
        repo = svc(app).repo
        mark = len(fake.calls)
        fake.send_command(CARA, "/settings")
        menu = await fake.wait_text(CARA, "Settings", since=mark)
        assert "Crop fit:</b> Auto — pad only when a crop would lose the subject" in menu.text

        shown = await _press(fake, CARA, menu, "s:fit", "how a photo fills")
        buttons = fake.keyboard(CARA, menu.result["message_id"])
        assert [d for _, d in buttons if d.startswith("s:fv:")] == [f"s:fv:{f}" for f in FITS]
        assert ("✅ Auto", "s:fv:auto") in buttons and ("Pad", "s:fv:pad") in buttons
        assert "✅ Auto — pad only when a crop would lose the subject" in shown.text
        assert "Crop — always fill the frame" in shown.text
        assert "Pad — always show the whole photo" in shown.text

        picked = await _press(fake, CARA, menu, "s:fv:pad", "✅ Pad — always show")
        assert picked.method == "editMessageText"
        assert ("✅ Pad", "s:fv:pad") in fake.keyboard(CARA, menu.result["message_id"])
        assert ("Auto", "s:fv:auto") in fake.keyboard(CARA, menu.result["message_id"])
        assert (await repo.get_user(CARA)).fit == "pad"

        # The next photo job pads every platform; another user's job still crops.
        sid = _sid(await _photo_job(fake, CARA))
        record = await repo.get_session(CARA, sid)
        assert record is not None and record.options["fit"] == "pad"
        fits = {p: d["image"]["fit"] for p, d in record.results["platforms"].items()}
        assert fits == {"instagram": "pad", "x": "pad"}

        other = await repo.get_session(DAN, _sid(await _photo_job(fake, DAN)))
        assert {d["image"]["fit"] for d in other.results["platforms"].values()} == {"crop"}


async def test_product_refusal_says_why_and_try_anyway_makes_them(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    async with running(build_application(settings_for(fake, tmp_path))) as app:
        repo = svc(app).repo
        closing = await _photo_job(fake, CARA, document=cups_png())
        sid = _sid(closing)
        labels = dict((d, label) for label, d in closing.buttons())
        assert "Product photos" in labels.get(f"d:prod:{sid}", "")  # shown for every photo

        # Product photos: the job runs again and the detector refuses, saying why.
        mark = len(fake.calls)
        refusal = await _press(fake, CARA, closing, f"d:prod:{sid}", "(NOT_A_PRODUCT)")
        assert "doesn't look like one product" in refusal.text
        assert "several objects compete" in refusal.text and "(NOT_A_PRODUCT)." in refusal.text
        assert "--product-anyway" not in refusal.text
        closing = await _closing(fake, CARA, mark)
        second = _sid(closing)
        assert second != sid and refusal.result["message_id"] < closing.result["message_id"]
        assert not any(d.startswith("d:prod:") for _, d in closing.buttons())  # asked already
        assert _product_captions(fake, CARA, mark) == []
        stored = await repo.get_session(CARA, second)
        assert stored.results["product"]["code"] == "NOT_A_PRODUCT"

        # Try anyway is on that very message; pressing it delivers product photos.
        refusal_buttons = fake.keyboard(CARA, refusal.result["message_id"])
        assert refusal_buttons == [("🛍 Try anyway", f"d:pany:{second}")]
        mark = len(fake.calls)
        await _press(fake, CARA, refusal, f"d:pany:{second}", "made anyway")
        third = _sid(await _closing(fake, CARA, mark))
        assert fake.keyboard(CARA, refusal.result["message_id"]) == []  # pressed once only
        captions = _product_captions(fake, CARA, mark)
        assert (
            sorted(captions)
            == ["Product photo · floating"] * 2 + ["Product photo · solid_background"] * 2
        )  # two styles for Instagram and X
        forced = await repo.get_session(CARA, third)
        assert forced.options["product_force"] is True
        assert forced.results["product"]["forced"] is True
        made = [p for d in forced.results["platforms"].values() for p in d["product_photos"]]
        assert len(made) == 4
        files = await repo.list_files(CARA, third)
        assert sum(f.type == "product_photo" for f in files) == 4


def test_mask_unreliable_refusal_sentence_and_forced_whole_frame(tmp_path: Path) -> None:
    """Without the model, a photo of many cups cannot be cut out cleanly: the bot's sentence
    names MASK_UNRELIABLE, and forcing stages the whole frame instead of fragments."""
    services = offline_services(Settings(data_dir=tmp_path, u2net_home=tmp_path / "no-models"))
    photo = _cups("RGB")
    targets = [("instagram", get_spec("instagram").choose_size(*photo.size))]
    decision, photos = make_product_photos(
        photo, None, ["solid_background"], targets, "JPEG", services.remover
    )
    assert photos == [] and decision.code == "MASK_UNRELIABLE"
    sentence = refusal_sentence(decision)
    assert sentence.endswith("(MASK_UNRELIABLE).") and "cut the product out cleanly" in sentence
    assert sentence.count(".") == 1  # one sentence
    decision, photos = make_product_photos(
        photo, None, ["solid_background"], targets, "JPEG", services.remover, force=True
    )
    assert decision.forced and len(photos) == 1
    assert photos[0].image.crop_box == (0, 0, *photo.size)  # the whole frame, no cut-out
