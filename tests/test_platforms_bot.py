"""The bot's platform keyboards show Threads, Bluesky and Mastodon on a row of their own."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot import keyboards
from bot.callbacks import PHOTO, SETTINGS
from pipeline.platforms import PLATFORM_KEYS


@dataclass
class Draft:
    platforms: list[str] = field(default_factory=lambda: ["instagram", "bluesky"])
    ai_available: bool = False
    use_ai: bool = False
    product: bool = False
    has_logo: bool = False
    logo: bool = False


def test_photo_menu_has_a_row_for_the_new_platforms() -> None:
    rows = keyboards.photo_menu(Draft()).inline_keyboard
    platform_rows = [r for r in rows if all(PHOTO.head(b.callback_data)[0] == "tog" for b in r)]
    pressed = [PHOTO.head(b.callback_data)[1] for r in platform_rows for b in r]
    assert pressed == list(PLATFORM_KEYS)  # every platform has its toggle, in order
    assert [b.text for b in platform_rows[-1]] == ["Threads", "✅ Bluesky", "Mastodon"]
    assert all(len(r) <= 3 for r in platform_rows)  # fits a phone's width
    assert any(b.text == "All" for r in rows for b in r)


def test_default_platforms_setting_lists_them_too() -> None:
    rows = keyboards.default_platforms(["mastodon"]).inline_keyboard
    values = [SETTINGS.head(b.callback_data) for r in rows[:-1] for b in r]
    assert values == [("pt", k) for k in PLATFORM_KEYS]
    assert "✅ Mastodon" in [b.text for r in rows for b in r]
