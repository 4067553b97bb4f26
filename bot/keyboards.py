"""Every inline keyboard the bot shows, built with the callback codec (bot.callbacks).

Handlers decide what to show; this module decides how it looks and which data each button
carries. Labels that say what a press will do live here too (`All` / `None`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, WebAppInfo

from bot.callbacks import (
    CAPTIONS,
    HISTORY,
    PHOTO,
    PRODUCT,
    PROFILES,
    REMIND,
    REMINDERS,
    RETRY,
    SETTINGS,
    TRY_ANYWAY,
    ZIP,
)
from bot.formatting import display_name, local_time
from pipeline.models import FITS, LANGUAGES, LOGO_POSITIONS, OUTPUT_FORMATS, TONES
from pipeline.platforms import PLATFORM_KEYS

if TYPE_CHECKING:
    from socialopt.usecases.reminders import Offer
    from storage.records import UserSettings
    from storage.reminders import ReminderRecord

Rows = list[list[InlineKeyboardButton]]

LOGO_SIZES = (10, 15, 20, 25)
LANGUAGE_NAMES = {
    "en": "English",
    "es": "Español",
    "pt": "Português",
    "de": "Deutsch",
    "fr": "Français",
    "ru": "Русский",
}
# How each of pipeline.models.FITS reads in the menu: (label, what it does).
FIT_NAMES = {
    "auto": ("Auto", "pad only when a crop would lose the subject"),
    "crop": ("Crop", "always fill the frame"),
    "pad": ("Pad", "always show the whole photo"),
}
TIME_ZONES = ("UTC", "Europe/London", "America/New_York")  # one-tap choices


class PhotoChoices(Protocol):
    """What the photo menu shows (bot.handlers.photo.Draft)."""

    platforms: list[str]
    ai_available: bool
    use_ai: bool
    product: bool
    has_logo: bool
    logo: bool


def _rows(buttons: Sequence[InlineKeyboardButton], width: int) -> Rows:
    return [list(buttons[i : i + width]) for i in range(0, len(buttons), width)]


def _mark(on: bool, label: str) -> str:
    return f"✅ {label}" if on else label


# -- the photo menu ----------------------------------------------------------------------------


def photo_menu(draft: PhotoChoices) -> InlineKeyboardMarkup:
    """Platform toggles, All (None when all are selected), option toggles and Done."""
    buttons = [
        InlineKeyboardButton(
            _mark(k in draft.platforms, display_name(k)), callback_data=PHOTO("tog", k)
        )
        for k in PLATFORM_KEYS
    ]
    rows = _rows(buttons, 3)
    everything = len(draft.platforms) == len(PLATFORM_KEYS)
    rows.append(
        [InlineKeyboardButton("None" if everything else "All", callback_data=PHOTO("all"))]
    )
    options = []
    if draft.ai_available:
        options.append(
            InlineKeyboardButton(
                _mark(draft.use_ai, "AI analysis"), callback_data=PHOTO("opt", "ai")
            )
        )
    options.append(
        InlineKeyboardButton(
            _mark(draft.product, "Product photos"), callback_data=PHOTO("opt", "product")
        )
    )
    if draft.has_logo:
        options.append(
            InlineKeyboardButton(_mark(draft.logo, "Logo"), callback_data=PHOTO("opt", "logo"))
        )
    rows.append(options)
    rows.append([InlineKeyboardButton("Done ▶️", callback_data=PHOTO("done"))])
    return InlineKeyboardMarkup(rows)


def skip() -> InlineKeyboardMarkup:
    """Skip the description."""
    return InlineKeyboardMarkup([[InlineKeyboardButton("Skip", callback_data=PHOTO("skip"))]])


# -- results -----------------------------------------------------------------------------------


def closing(session_id: str, *, product: bool, webapp_url: str = "") -> InlineKeyboardMarkup:
    """`Download all`, `Another version`, `Profiles`; `Product photos` when the job made none
    (`product`): the detector decides on the press and says why when it refuses. With
    `webapp_url` (WEBAPP_URL, https), `Adjust crops & captions` opens the Mini App on this
    session."""
    rows = [
        [InlineKeyboardButton("📦 Download all", callback_data=ZIP(session_id))],
        [
            InlineKeyboardButton("✍️ Another version", callback_data=CAPTIONS(session_id)),
            InlineKeyboardButton("👥 Profiles", callback_data=PROFILES("s", session_id)),
        ],
    ]
    if product:
        rows.append([InlineKeyboardButton("🛍 Product photos", callback_data=PRODUCT(session_id))])
    remind = REMIND("o", session_id)
    rows.append([InlineKeyboardButton("⏰ Remind me at the best time", callback_data=remind)])
    if webapp_url:
        app = WebAppInfo(f"{webapp_url.rstrip('/')}/?session={session_id}")
        rows.insert(0, [InlineKeyboardButton("✂️ Adjust crops & captions", web_app=app)])
    return InlineKeyboardMarkup(rows)


def reminder_offer(session_id: str, offers: Sequence[Offer]) -> InlineKeyboardMarkup | None:
    """A button per platform with a window (`⏰ Instagram · Mon 10:00`); a window inside quiet
    hours is offered at 07:00, with `🌙 ... anyway` for its own time; `All` when several.
    None when no platform has a window."""
    rows: Rows = []
    for o in offers:
        if o.window is None or o.send_at is None:
            continue
        name = display_name(o.platform)
        row = [
            InlineKeyboardButton(
                f"⏰ {name} · {o.send_at:%a %H:%M}",
                callback_data=REMIND("s", session_id, o.platform),
            )
        ]
        if o.quiet:
            row.append(
                InlineKeyboardButton(
                    f"🌙 {name} · {o.window.start:%H:%M} anyway",
                    callback_data=REMIND("s", session_id, o.platform, "anyway"),
                )
            )
        rows.append(row)
    if len(rows) > 1:
        rows.append(
            [InlineKeyboardButton("⏰ All of them", callback_data=REMIND("all", session_id))]
        )
    return InlineKeyboardMarkup(rows) if rows else None


def reminders(items: Sequence[ReminderRecord]) -> InlineKeyboardMarkup | None:
    """`✖ 1 · Instagram 07 Dec 10:00` cancels that reminder (numbered as in the list);
    `✖ Cancel all` when there are several. None when there are none."""
    buttons = [
        InlineKeyboardButton(
            f"✖ {i} · {display_name(r.platform)} {local_time(r.due_at, r.timezone)}",
            callback_data=REMINDERS("x", str(r.id)),
        )
        for i, r in enumerate(items, 1)
    ]
    rows = _rows(buttons, 1)
    if len(buttons) > 1:
        rows.append([InlineKeyboardButton("✖ Cancel all", callback_data=REMINDERS("xa"))])
    return InlineKeyboardMarkup(rows) if rows else None


def try_anyway(session_id: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton("🛍 Try anyway", callback_data=TRY_ANYWAY(session_id))]]
    )


def retry(session_id: str) -> InlineKeyboardMarkup:
    """Run a job a restart interrupted again."""
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton("🔁 Retry", callback_data=RETRY(session_id))]]
    )


def tones(session_id: str) -> InlineKeyboardMarkup:
    """A caption tone per button, and `Another` for one more variant in no particular tone."""
    buttons = [
        InlineKeyboardButton(t.title(), callback_data=CAPTIONS(t, session_id)) for t in TONES
    ]
    another = InlineKeyboardButton("Another", callback_data=CAPTIONS(session_id))
    return InlineKeyboardMarkup([buttons[:3], buttons[3:], [another]])


def profile_platforms(platforms: Sequence[str]) -> InlineKeyboardMarkup:
    buttons = [
        InlineKeyboardButton(display_name(p), callback_data=PROFILES("p", p)) for p in platforms
    ]
    return InlineKeyboardMarkup(_rows(buttons, 3))


def history(resendable: Sequence[tuple[str, str]]) -> InlineKeyboardMarkup | None:
    """A resend button per (session id, label); None when there is nothing to resend."""
    buttons = [
        InlineKeyboardButton(label, callback_data=HISTORY(sid)) for sid, label in resendable
    ]
    return InlineKeyboardMarkup(_rows(buttons, 2)) if buttons else None


# -- /settings ---------------------------------------------------------------------------------


def _setting(label: str, action: str, *value: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(label, callback_data=SETTINGS(action, *value))


BACK = _setting("« Back", "menu")


def settings_menu() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [_setting("Platforms", "plat"), _setting("Time zone", "tz")],
            [_setting("Language", "lang"), _setting("Logo", "logo")],
            [_setting("Output format", "fmt"), _setting("Crop fit", "fit")],
            [_setting("Done", "close")],
        ]
    )


def settings_closed() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([])


def fits(current: str) -> InlineKeyboardMarkup:
    buttons = [
        _setting(_mark(f == current, FIT_NAMES.get(f, (f.capitalize(),))[0]), "fv", f)
        for f in FITS
    ]
    return InlineKeyboardMarkup([buttons, [BACK]])


def default_platforms(selected: Sequence[str]) -> InlineKeyboardMarkup:
    buttons = [_setting(_mark(p in selected, display_name(p)), "pt", p) for p in PLATFORM_KEYS]
    return InlineKeyboardMarkup(_rows(buttons, 3) + [[BACK]])


def time_zones() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[_setting(z, "tzv", z) for z in TIME_ZONES], [BACK]])


def languages(current: str) -> InlineKeyboardMarkup:
    buttons = [
        _setting(_mark(code == current, LANGUAGE_NAMES[code]), "lg", code) for code in LANGUAGES
    ]
    return InlineKeyboardMarkup(_rows(buttons, 3) + [[BACK]])


def formats(current: str) -> InlineKeyboardMarkup:
    buttons = [_setting(_mark(f == current, f), "ft", f) for f in OUTPUT_FORMATS]
    return InlineKeyboardMarkup([buttons, [BACK]])


def logo(user: UserSettings, *, uploading: bool = False) -> InlineKeyboardMarkup:
    """Placement buttons when a logo exists; an upload button when not waiting for one."""
    rows: Rows = []
    if user.logo_path:
        positions = [_setting(_mark(p == user.logo_position, p), "lp", p) for p in LOGO_POSITIONS]
        sizes = [
            _setting(_mark(s == user.logo_size_pct, f"{s} %"), "ls", str(s)) for s in LOGO_SIZES
        ]
        rows = _rows(positions, 2) + [sizes, [_setting("🗑 Remove logo", "lrm")]]
    if not uploading:
        label = "⬆️ Replace logo" if user.logo_path else "⬆️ Upload a logo"
        rows.append([_setting(label, "lnew")])
    return InlineKeyboardMarkup(rows + [[BACK]])
