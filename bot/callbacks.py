"""One codec for every inline button's callback data: `<prefix>:<part>:<part>...`.

Each kind of button has one `Callback` here; keyboards build data with it and handlers match
with its `pattern()` and read the parts with `parts()`. No other module spells a prefix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_BYTES = 64  # the Bot API's limit for callback_data


@dataclass(frozen=True)
class Callback:
    """The callback data of one kind of button: `prefix` then `:`-separated parts."""

    prefix: str

    def __call__(self, *parts: str) -> str:
        """The data for a button with these parts."""
        data = ":".join((self.prefix, *parts))
        if len(data.encode("utf-8")) > MAX_BYTES:
            raise ValueError(f"callback data over {MAX_BYTES} bytes: {data!r}")
        return data

    def pattern(self, *parts: str) -> str:
        """A regex matching this kind's data; `parts` (regexes) narrow it to those parts."""
        head = re.escape(self.prefix)
        if not parts:
            return f"^{head}(:|$)"
        return f"^{head}:{':'.join(parts)}$"

    def rest(self, data: str) -> str:
        """Everything after `<prefix>:` (a session id, for most kinds)."""
        return data.removeprefix(self.prefix).removeprefix(":")

    def head(self, data: str) -> tuple[str, str]:
        """(first part, the rest) after the prefix; "" for what is missing."""
        first, _, rest = self.rest(data).partition(":")
        return first, rest


PHOTO = Callback("p")  # the photo menu: p:tog:<platform>, p:all, p:opt:<option>, p:done, p:skip
ZIP = Callback("d:zip")  # d:zip:<session_id> -> the session's zip
PRODUCT = Callback("d:prod")  # d:prod:<session_id> -> rerun with product photos
TRY_ANYWAY = Callback("d:pany")  # d:pany:<session_id> -> product photos even if refused
RETRY = Callback("r:retry")  # r:retry:<session_id> -> rerun a job a restart interrupted
CAPTIONS = Callback("c")  # c:<session_id> or c:<tone>:<session_id> -> new caption variants
PROFILES = Callback("pr")  # pr:p:<platform> shows accounts; pr:s:<session_id> the picker
HISTORY = Callback("h")  # h:<session_id> -> resend a session
SETTINGS = Callback("s")  # s:<action>[:<value>] -> the settings menu
# rm:o:<sid> offers the next windows; rm:s:<sid>:<platform>[:anyway] sets one; rm:all:<sid> all
REMIND = Callback("rm")
REMINDERS = Callback("rl")  # rl:x:<reminder id> cancels one (/reminders); rl:xa cancels all
