"""The contact sheet shows every crop, labelled, as one JPEG."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from pipeline.contact_sheet import make_contact_sheet
from tests.image_factories import plain


def test_contact_sheet_layout() -> None:
    items = [
        ("Instagram 1080x1350", plain((1080, 1350), (200, 20, 20))),
        ("X 1200x675", plain((1200, 675), (20, 200, 20))),
        ("TikTok 1080x1920", plain((1080, 1920), (20, 20, 200))),
    ]
    data = make_contact_sheet(items, height=200)
    sheet = Image.open(io.BytesIO(data))
    assert sheet.format == "JPEG"
    expected_w = 24 + sum(round(w * 200 / h) + 24 for _, (w, h) in ((0, i.size) for _, i in items))
    assert sheet.width == expected_w
    assert sheet.height > 200
    arr = np.asarray(sheet.convert("RGB")).astype(int)
    mid = 24 + 100
    # Each crop appears in order, scaled to the common height.
    assert arr[mid, 24 + 80, 0] > 150  # red first
    assert arr[mid, 24 + 160 + 24 + 150, 1] > 150  # green second
    # Labels: dark text pixels below the images on the neutral background.
    label_band = arr[24 + 200 + 2 : 24 + 200 + 30, :, :].mean(axis=2)
    assert (label_band < 120).sum() > 50
    assert abs(arr[5, 5] - np.array([236, 236, 236])).max() < 8


def test_contact_sheet_wraps_rows() -> None:
    items = [(f"P{i} 1200x630", plain((1200, 630), (100, 100, 100))) for i in range(6)]
    sheet = Image.open(io.BytesIO(make_contact_sheet(items, height=360, max_width=1600)))
    assert sheet.width <= 1600
    assert sheet.height > 2 * 360


def test_contact_sheet_from_rendered_images_uses_render_thumbnails() -> None:
    from pipeline.intake import load_image
    from pipeline.platforms import PLATFORMS
    from pipeline.render import preview_of, render_platform
    from tests.image_factories import disc_image, encode

    img, _ = disc_image((1200, 800))
    src = load_image(encode(img, "JPEG"))
    rendered = [render_platform(src, PLATFORMS[k], "JPEG", None) for k in ("x", "tiktok")]
    assert all(preview_of(r) is not None and preview_of(r).height == 360 for r in rendered)
    fast = Image.open(io.BytesIO(make_contact_sheet([("X", rendered[0]), ("T", rendered[1])])))
    slow = Image.open(
        io.BytesIO(
            make_contact_sheet(
                [("X", Image.open(io.BytesIO(r.data))) for r in rendered[:1]]
                + [("T", Image.open(io.BytesIO(rendered[1].data)))]
            )
        )
    )
    assert fast.size == slow.size
    diff = np.abs(np.asarray(fast, dtype=int) - np.asarray(slow, dtype=int)).mean()
    assert diff < 3
