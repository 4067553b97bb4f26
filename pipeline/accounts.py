"""Offline account suggestions and per-platform handle rules.

Offline discovery never invents a handle: it returns the user's saved accounts for the niche
and platform, then search links a person can open to find more, marked as searches.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING
from urllib.parse import quote, quote_plus

from pipeline.errors import OptionsError
from pipeline.models import Account
from pipeline.niches import NICHES
from pipeline.platforms import PLATFORM_KEYS, normalize_platform

if TYPE_CHECKING:  # runtime import would be circular (providers/__init__ imports offline)
    from pipeline.providers.base import AccountsRequest

SEARCH_NOTE = "Search link, not a verified account: open it to find accounts worth tagging."

# platform -> (pattern for the whole handle without '@', min length, max length)
HANDLE_RULES: dict[str, tuple[re.Pattern[str], int, int]] = {
    "instagram": (re.compile(r"[A-Za-z0-9._]+"), 1, 30),
    "x": (re.compile(r"[A-Za-z0-9_]+"), 1, 15),
    "tiktok": (re.compile(r"[A-Za-z0-9._]+"), 2, 24),
    "pinterest": (re.compile(r"[A-Za-z0-9_]+"), 3, 30),
    "linkedin": (re.compile(r"[A-Za-z0-9-]+"), 3, 100),
    "facebook": (re.compile(r"[A-Za-z0-9.]+"), 5, 50),
    "threads": (re.compile(r"[A-Za-z0-9._]+"), 1, 30),  # Threads uses the Instagram username
    # a domain name (atproto handle): two or more labels, e.g. name.bsky.social
    "bluesky": (
        re.compile(
            r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+"
        ),
        3,
        253,
    ),
    # user or user@server
    "mastodon": (re.compile(r"[A-Za-z0-9_]{1,30}(?:@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)?"), 1, 284),
}

PROFILE_URLS: dict[str, str] = {
    "instagram": "https://www.instagram.com/{h}/",
    "x": "https://x.com/{h}",
    "tiktok": "https://www.tiktok.com/@{h}",
    "pinterest": "https://www.pinterest.com/{h}/",
    "linkedin": "https://www.linkedin.com/in/{h}/",
    "facebook": "https://www.facebook.com/{h}",
    "threads": "https://www.threads.net/@{h}",
    "bluesky": "https://bsky.app/profile/{h}",
    "mastodon": "https://{server}/@{user}",  # only for user@server
}

SEARCH_URLS: dict[str, str] = {
    "instagram": "https://www.instagram.com/explore/tags/{tag}/",
    "x": "https://x.com/search?q={q}&f=user",
    "tiktok": "https://www.tiktok.com/search/user?q={q}",
    "pinterest": "https://www.pinterest.com/search/users/?q={q}",
    "linkedin": "https://www.linkedin.com/search/results/people/?keywords={q}",
    "facebook": "https://www.facebook.com/search/pages/?q={q}",
    "threads": "https://www.threads.net/search?q={q}",
    "bluesky": "https://bsky.app/search?q={q}",
    "mastodon": "https://mastodon.social/tags/{tag}",
}


def _platform_key(platform: str) -> str:
    try:
        return normalize_platform(platform)
    except OptionsError:
        return ""


def valid_handle(platform: str, handle: str) -> bool:
    """True when `handle` (with or without '@') follows the platform's username rules.

    With platform "" the handle must be valid on at least one platform.
    """
    name = (handle or "").strip()
    name = name[1:] if name.startswith("@") else name
    if not platform:
        return any(valid_handle(p, name) for p in PLATFORM_KEYS)
    key = _platform_key(platform)
    if not key or not name:
        return False
    pattern, low, high = HANDLE_RULES[key]
    if not (low <= len(name) <= high) or not pattern.fullmatch(name):
        return False
    if key in ("instagram", "threads") and (
        name.startswith(".") or name.endswith(".") or ".." in name
    ):
        return False
    if key == "tiktok" and name.endswith("."):
        return False
    if key == "x" and ("twitter" in name.lower() or "admin" in name.lower()):
        return False  # X does not allow these words in usernames
    if key == "linkedin" and (name.startswith("-") or name.endswith("-")):
        return False
    if key == "facebook" and (name.isdigit() or name.startswith(".") or ".." in name):
        return False
    return name.strip("._-") != ""


def profile_url(platform: str, handle: str) -> str:
    """The profile link for a valid handle, else ""."""
    key = _platform_key(platform)
    if not key or not valid_handle(key, handle):
        return ""
    name = handle.strip().lstrip("@")
    if key == "mastodon":
        user, _, server = name.partition("@")
        return PROFILE_URLS[key].format(user=user, server=server) if server else ""
    return PROFILE_URLS[key].format(h=name)


def search_url(platform: str, query: str) -> str:
    """A search link for a query on a platform (Instagram: its hashtag page)."""
    key = _platform_key(platform)
    if not key:
        return ""
    tag = re.sub(r"[^\w]", "", query.lower())
    return SEARCH_URLS[key].format(tag=quote(tag), q=quote_plus(query))


def account_key(account: Account) -> str:
    """Who an account is, for de-duplication: its handle without '@' (any case), else its
    link, else its note."""
    return (account.handle.strip().lstrip("@") or account.url or account.note).lower()


def merge_accounts(
    saved: Sequence[Account], found: Sequence[Account], platform: str
) -> list[Account]:
    """The accounts to show for one platform: saved ones first, then suggestions, each
    account once (by `account_key`). An account without a platform counts for every one."""
    seen: set[str] = set()
    out: list[Account] = []
    for account in [*saved, *found]:
        key = account_key(account)
        if account.platform in ("", platform) and key and key not in seen:
            seen.add(key)
            out.append(account)
    return out


def _matches(account: Account, niche_keys: set[str], platform: str) -> bool:
    niche_ok = not account.niche or account.niche.lower() in niche_keys
    plat = _platform_key(account.platform) if account.platform else ""
    return niche_ok and (not plat or plat == platform)


def _query(niche_key: str) -> str:
    """A search phrase for a niche: its broad hashtag's words, else its name."""
    info = NICHES.get(niche_key)
    if info is None:
        return niche_key.replace("_", " ")
    broad = info.tags.get("broad", ())
    if broad:
        return " ".join(re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+", broad[0])).lower()
    return info.name.lower()


def offline_accounts(request: AccountsRequest) -> list[Account]:
    """For each requested platform (`request.all_platforms`): the saved accounts for the
    niches and that platform first (all of them), then up to `request.limit` search links
    (handle "", source "search"). Every result has its platform set. Never invents a handle."""
    platforms = [p for p in (_platform_key(x) for x in request.all_platforms) if p]
    out: list[Account] = []
    for platform in dict.fromkeys(platforms):
        out.extend(_saved_for(request, platform))
        out.extend(_searches_for(request, platform))
    return out


def _saved_for(request: AccountsRequest, platform: str) -> list[Account]:
    niche_keys = {n.key.lower() for n in request.niches}
    out: list[Account] = []
    seen: set[str] = set()
    for account in request.saved:
        if not _matches(account, niche_keys, platform):
            continue
        handle = account.handle.strip()
        key = account_key(account) if handle.lstrip("@") else ""
        if not key or key in seen:
            continue
        seen.add(key)
        if not handle.startswith("@"):
            handle = "@" + handle
        out.append(
            replace(
                account,
                handle=handle,
                platform=platform,
                url=account.url or profile_url(platform, handle),
                source=account.source or "saved",
            )
        )
    return out


def _searches_for(request: AccountsRequest, platform: str) -> list[Account]:
    queries = [(n.key, _query(n.key)) for n in request.niches] or [("", "photography")]
    return [
        Account(
            handle="",
            platform=platform,
            niche=niche_key,
            source="search",
            url=search_url(platform, query),
            note=f"{SEARCH_NOTE} Query: “{query}”.",
        )
        for niche_key, query in queries[: max(0, request.limit)]
    ]
