"""Accounts worth tagging: the user's saved accounts first, then suggestions from the accounts
provider when AI is on, else offline search links. Nothing is ever invented offline."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from pipeline import accounts as accounts_mod
from pipeline import niches as niches_mod
from pipeline.content import fallback_notice
from pipeline.errors import OptionsError, ProviderError
from pipeline.models import Account, Niche, Usage
from pipeline.platforms import PLATFORM_KEYS, PLATFORMS, normalize_platform
from pipeline.providers.base import AccountsRequest
from socialopt.usecases.captions import AllowAI, session_niches
from storage.records import SessionRecord
from storage.repository import Repository

log = logging.getLogger(__name__)


@dataclass
class ProfilesQuery:
    """What the platform buttons look up: niches, a description, the platforms offered."""

    niches: list[Niche]
    description: str
    platforms: tuple[str, ...]


@dataclass
class Found:
    accounts: list[Account]
    offline: bool
    notice: str = ""


def for_session(session: SessionRecord | None) -> ProfilesQuery | None:
    """The query for a finished session's niches, or None when it has no results."""
    if session is None or not session.results:
        return None
    found = session_niches(session.results, session.description)
    return ProfilesQuery(found, session.description, session.platforms or PLATFORM_KEYS)


def for_topic(topic: str, platforms: tuple[str, ...]) -> ProfilesQuery:
    """The query for a typed topic."""
    return ProfilesQuery(niches_mod.match_niches(topic, None), topic, platforms)


AI_SPENT = "You have used this hour's AI suggestions; these are offline ones."


def find_accounts(
    services: Any, request: AccountsRequest, ai_allowed: AllowAI | None = None
) -> Found:
    """Suggestions for one platform: the accounts provider when AI is on (and the person's
    hourly budget allows a call), else offline. Sync."""
    finder = getattr(services, "accounts_provider", None)
    notice = ""
    if finder is not None and finder.name != "offline":
        if ai_allowed is not None and not ai_allowed():
            notice = AI_SPENT
        else:
            try:
                return Found(finder.find_accounts(request, Usage()), offline=False)
            except ProviderError as exc:
                log.warning("account discovery failed (%s): offline suggestions", exc.code)
                notice = fallback_notice(finder.label, "accounts", exc)
    return Found(accounts_mod.offline_accounts(request), offline=True, notice=notice)


def suggest(
    services: Any,
    saved: list[Account],
    query: ProfilesQuery,
    platform: str,
    cache: dict[Any, Found] | None = None,
    ai_allowed: AllowAI | None = None,
) -> tuple[list[Account], Found]:
    """Saved accounts first, then the suggestions, no duplicates. Sync. AI answers are kept
    in `cache` (per user), so pressing a platform again never pays for another call."""
    key = (tuple(n.key for n in query.niches), query.description, platform)
    found = cache.get(key) if cache is not None else None
    if found is None:
        request = AccountsRequest(query.niches, platform, tuple(saved), query.description)
        found = find_accounts(services, request, ai_allowed)
        if cache is not None and not found.offline:
            cache[key] = found
    return accounts_mod.merge_accounts(saved, found.accounts, platform), found


def niche_key(text: str) -> str:
    """A taxonomy key when the text names a niche (`Interior design` -> `interior_design`),
    else the text itself, lowercased."""
    folded = " ".join(text.lower().split())
    key = folded.replace(" ", "_")
    if niches_mod.niche_info(key) is not None:
        return key
    by_name = {info.name.lower(): k for k, info in niches_mod.NICHES.items()}
    return by_name.get(folded, folded)


async def save_account(repo: Repository, user_id: int, args: list[str]) -> Account:
    """`@handle niche words [platform]` saved as one of the user's accounts.

    The last word is the platform when it names one. OptionsError INVALID_HANDLE when the
    handle breaks that platform's username rules (any platform's, when none is named)."""
    if len(args) < 2:
        raise OptionsError(
            "Tell me the handle and its niche, like: /profiles add @handle coffee",
            code="MISSING_NICHE",
        )
    handle, words = args[0], args[1:]
    platform = ""
    if len(words) > 1:
        try:
            platform = normalize_platform(words[-1])
            words = words[:-1]
        except OptionsError:
            platform = ""
    if not accounts_mod.valid_handle(platform, handle):
        where = f" on {PLATFORMS[platform].display_name}" if platform else ""
        raise OptionsError(
            f"“{handle}” doesn't look like an account handle{where}: use letters, digits, "
            "'.' or '_', like @my_brand.",
            code="INVALID_HANDLE",
        )
    return await repo.add_account(user_id, handle, niche_key(" ".join(words)), platform)
