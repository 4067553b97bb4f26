"""Telegram HTML for results: escaping, splitting under the 4096-char limit, per-platform text.

Everything here is pure (no Telegram calls) so handlers and tests share it. Lengths are
measured on the raw HTML in UTF-16 code units, which is never shorter than what Telegram
counts after parsing entities, so a chunk that passes here passes there.
"""

from __future__ import annotations

import contextlib
import html
import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pipeline.captions import first_comment, ready_to_post
from pipeline.models import Account, PlatformContent, PlatformResult, PostingTime
from pipeline.platforms import PLATFORMS, get_spec
from pipeline.posting import no_study_note

MESSAGE_LIMIT = 4096  # Telegram: text message, after entity parsing
CAPTION_LIMIT = 1024  # Telegram: media caption

_TOKEN = re.compile(r"<[^<>]*>|&#?[A-Za-z0-9]+;|\n|[ \t]+|[^<&\s]+|[<&\s]")
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)[^>]*>")

SOURCE_LABELS = {
    "saved": "your list",
    "openai": "suggested by OpenAI, check before tagging",
    "gemini": "suggested by Gemini, check before tagging",
    "offline": "suggested",
}


def escape(text: str) -> str:
    """Escape text for Telegram's HTML parse mode (`<`, `>`, `&`)."""
    return html.escape(str(text), quote=False)


def escape_attr(text: str) -> str:
    """Escape a value for an HTML attribute such as `href`."""
    return html.escape(str(text), quote=True)


def tg_len(text: str) -> int:
    """Length in UTF-16 code units, the way Telegram counts."""
    return len(text.encode("utf-16-le")) // 2


def display_name(platform: str) -> str:
    """`instagram` -> `Instagram`, unknown keys title-cased."""
    spec = PLATFORMS.get(platform)
    return spec.display_name if spec else platform.title()


def local_time(moment: datetime | None, timezone: str) -> str:
    """`25 Nov 14:02` in `timezone` (UTC kept when the zone is unknown); `?` for no time."""
    if moment is None:
        return "?"
    with contextlib.suppress(ZoneInfoNotFoundError, ValueError):
        moment = moment.astimezone(ZoneInfo(timezone))
    return moment.strftime("%d %b %H:%M")


# -- splitting ---------------------------------------------------------------------------------


def _apply_tags(stack: list[tuple[str, str]], piece: str) -> list[tuple[str, str]]:
    """The open-tag stack after `piece`: (name, opening tag text) pairs."""
    stack = list(stack)
    for match in _TAG.finditer(piece):
        closing, name = match.group(1), match.group(2).lower()
        if not closing:
            stack.append((name, match.group(0)))
            continue
        for i in range(len(stack) - 1, -1, -1):
            if stack[i][0] == name:
                del stack[i:]
                break
    return stack


def _closing(stack: Sequence[tuple[str, str]]) -> str:
    return "".join(f"</{name}>" for name, _ in reversed(stack))


def _opening(stack: Sequence[tuple[str, str]]) -> str:
    return "".join(tag for _, tag in stack)


class _Splitter:
    """Greedy packer that closes open tags at a chunk end and reopens them in the next."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.chunks: list[str] = []
        self.stack: list[tuple[str, str]] = []
        self.parts: list[str] = []
        self.size = 0
        self.has_text = False

    def fits(self, piece: str) -> bool:
        after = _apply_tags(self.stack, piece)
        return self.size + tg_len(piece) + tg_len(_closing(after)) <= self.limit

    def add(self, piece: str) -> None:
        self.parts.append(piece)
        self.size += tg_len(piece)
        self.stack = _apply_tags(self.stack, piece)
        if _TAG.sub("", piece).strip():
            self.has_text = True

    def flush(self) -> None:
        if self.has_text:
            body = "".join(self.parts).rstrip()
            self.chunks.append(body + _closing(self.stack))
        reopen = _opening(self.stack)
        self.parts = [reopen] if reopen else []
        self.size = tg_len(reopen)
        self.has_text = False

    def put(self, piece: str) -> bool:
        """Add `piece`, starting a new chunk first if needed; False if it never fits."""
        if self.fits(piece):
            self.add(piece)
            return True
        if self.has_text:
            self.flush()
            if self.fits(piece):
                self.add(piece)
                return True
        return False


def split_message(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Split HTML into chunks of at most `limit`, at line boundaries where possible.

    Never cuts inside a tag or an entity; tags open at a cut are closed at the end of the
    chunk and reopened at the start of the next, so every chunk is valid HTML on its own.
    Lines longer than a chunk are cut between words, words longer than a chunk between
    characters. Whitespace-only input gives no chunks.
    """
    if not text.strip():
        return []
    if tg_len(text) <= limit:
        return [text]
    splitter = _Splitter(limit)
    for line in text.splitlines(keepends=True):
        if splitter.put(line):
            continue
        tokens = _TOKEN.findall(line)
        for token in tokens:
            if splitter.put(token):
                continue
            for char in token:  # one word longer than a whole chunk
                if not splitter.put(char):
                    raise ValueError(f"limit {limit} is too small for the open tags")
    splitter.flush()
    return splitter.chunks


# -- per-platform messages ---------------------------------------------------------------------


def _times_block(times: Sequence[PostingTime], timezone: str, platform: str = "") -> list[str]:
    """The best times, or (none, for a platform no dated study covers) the plain note why."""
    if not times:
        spec = PLATFORMS.get(platform)
        note = no_study_note(spec) if spec is not None else ""
        return [escape(note)] if note else []
    tz = times[0].timezone or timezone
    lines = [f"<b>Best times to post</b> ({escape(tz)})"]
    for t in times:
        lines.append(
            f"• {escape(t.day)} {escape(t.start)}–{escape(t.end)} <i>({escape(t.study)})</i>"
        )
    return lines


def _posting_times(result: PlatformResult, timezone: str) -> list[PostingTime]:
    """The result's times, recomputed for `timezone` when they were made for another one."""
    times = list(result.posting_times)
    if times and all(t.timezone == timezone for t in times):
        return times
    try:
        from pipeline.posting import best_times

        return best_times(get_spec(result.platform), timezone, limit=max(3, len(times)))
    except Exception:  # noqa: BLE001 - formatting must never fail on a missing stage
        return times


def account_line(account: Account) -> str:
    """One bullet for an account: a handle with where it came from, or a labelled search link."""
    if not account.handle:
        topic = (account.niche or "this niche").replace("_", " ")
        label = (
            f"Search {display_name(account.platform)}: {topic}"
            if account.platform
            else (f"Search: {topic}")
        )
        if account.url:
            return f'• 🔎 <a href="{escape_attr(account.url)}">{escape(label)}</a>'
        return f"• 🔎 {escape(label)}"
    handle = account.handle if account.handle.startswith("@") else f"@{account.handle}"
    shown = (
        f'<a href="{escape_attr(account.url)}">{escape(handle)}</a>'
        if account.url
        else f"<code>{escape(handle)}</code>"
    )
    bits = [account.niche.replace("_", " ")] if account.niche else []
    bits.append(SOURCE_LABELS.get(account.source, account.source))
    if account.note and account.source != "saved":
        bits.append(account.note)
    return f"• {shown} — <i>{escape('; '.join(b for b in bits if b))}</i>"


def accounts_block(accounts: Iterable[Account], *, title: str = "Accounts to tag") -> list[str]:
    """Saved accounts first, then suggestions, then search links (said to be searches)."""
    order = {"saved": 0}
    items = sorted(accounts, key=lambda a: order.get(a.source, 1) if a.handle else 2)
    if not items:
        return []
    lines = [f"<b>{escape(title)}</b>"]
    lines.extend(account_line(a) for a in items)
    if any(not a.handle for a in items):
        lines.append(
            "<i>🔎 links are searches, not verified accounts: open them to find "
            "accounts worth tagging.</i>"
        )
    return lines


def _content_lines(platform: str, content: PlatformContent) -> list[str]:
    """Title, the ready-to-post caption in <pre>, first-comment hashtags in <code>, alt text.

    Where hashtags belong in the post (X), the <pre> block holds caption and hashtags together
    and they are not repeated as a first comment."""
    spec = get_spec(platform)
    lines: list[str] = []
    if content.title:
        lines += ["<b>Title</b>", f"<code>{escape(content.title)}</code>", ""]
    text = ready_to_post(content, spec)
    lines += ["<b>Caption</b> (tap to copy)", f"<pre>{escape(text.strip())}</pre>"]
    comment = first_comment(content, spec)
    if comment:
        lines += ["", "<b>Hashtags for the first comment</b>", f"<code>{escape(comment)}</code>"]
    if content.alt_text:
        lines += ["", "<b>Alt text</b>", f"<i>{escape(content.alt_text)}</i>"]
    return lines


def platform_message(result: PlatformResult, *, timezone: str) -> list[str]:
    """The message(s) for one platform's result, as HTML chunks of at most 4096 chars."""
    name = escape(display_name(result.platform))
    if result.status != "completed":
        err = result.error or {}
        message = err.get("message") or "this platform could not be prepared."
        code = f" ({escape(err['code'])})" if err.get("code") else ""
        return split_message(f"❌ <b>{name}</b>: {escape(message)}{code}")
    head = f"<b>{name}</b>"
    if result.image is not None:
        head += f" · {result.image.width}×{result.image.height} {escape(result.image.format)}"
    lines = [head]
    if result.niches:
        lines.append("<i>Niches: " + escape(", ".join(n.name for n in result.niches)) + "</i>")
    if result.content is not None:
        lines += [""] + _content_lines(result.platform, result.content)
    times = _times_block(_posting_times(result, timezone), timezone, result.platform)
    if times:
        lines += [""] + times
    accounts = accounts_block(result.profiles)
    if accounts:
        lines += [""] + accounts
    return split_message("\n".join(lines))


def content_message(platform: str, content: PlatformContent) -> list[str]:
    """New caption variant for one platform (/caption), as HTML chunks."""
    head = f"<b>{escape(display_name(platform))}</b>"
    if content.provider and content.provider != "offline":
        head += f" <i>(written by {escape(content.provider)})</i>"
    return split_message("\n".join([head, ""] + _content_lines(platform, content)))
