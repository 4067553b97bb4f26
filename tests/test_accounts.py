"""Handle rules per platform and offline account suggestions (never invented handles)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest

from pipeline.accounts import (
    merge_accounts,
    offline_accounts,
    profile_url,
    search_url,
    valid_handle,
)
from pipeline.models import Account, Niche
from pipeline.platforms import PLATFORM_KEYS
from pipeline.providers.base import AccountsRequest

VALID = [
    ("instagram", "a"),
    ("instagram", "@latte.art_daily"),
    ("instagram", "x" * 30),
    ("x", "jack"),
    ("x", "@Coffee_Lover_15"),
    ("tiktok", "ab"),
    ("tiktok", "cafe.life_24"),
    ("pinterest", "abc"),
    ("pinterest", "home_decor_ideas"),
    ("linkedin", "jane-doe-123"),
    ("facebook", "my.cafe.page"),
    ("twitter", "jack"),  # alias
]
INVALID = [
    ("instagram", ""),
    ("instagram", ".dotfirst"),
    ("instagram", "dotlast."),
    ("instagram", "two..dots"),
    ("instagram", "x" * 31),
    ("instagram", "has space"),
    ("instagram", "hyphen-ated"),
    ("x", "sixteen_chars_xx"),
    ("x", "dot.ted"),
    ("x", "mytwitterfan"),
    ("tiktok", "a"),
    ("tiktok", "x" * 25),
    ("tiktok", "endsdot."),
    ("pinterest", "ab"),
    ("pinterest", "with.dot"),
    ("linkedin", "ab"),
    ("linkedin", "under_score"),
    ("linkedin", "-leading"),
    ("facebook", "abcd"),
    ("facebook", "under_score"),
    ("facebook", "1234567"),
    ("myspace", "anything"),
    ("instagram", "@"),
    ("instagram", "..."),
]


@pytest.mark.parametrize(("platform", "handle"), VALID)
def test_valid_handles(platform: str, handle: str) -> None:
    assert valid_handle(platform, handle)


@pytest.mark.parametrize(("platform", "handle"), INVALID)
def test_invalid_handles(platform: str, handle: str) -> None:
    assert not valid_handle(platform, handle)


def test_any_platform_when_platform_is_empty() -> None:
    assert valid_handle("", "some-one")  # LinkedIn style
    assert not valid_handle("", "not valid!")


def saved() -> tuple[Account, ...]:
    return (
        Account("@beanroasters", platform="instagram", niche="coffee"),
        Account("daily_grind", platform="", niche="coffee"),
        Account("@dogpark", platform="instagram", niche="dogs"),
        Account("@xcoffee", platform="x", niche="coffee"),
        Account("@general.friend", platform="instagram", niche=""),
        Account("@BeanRoasters", platform="instagram", niche="coffee"),  # duplicate
    )


def test_saved_accounts_first_then_search_links() -> None:
    req = AccountsRequest(
        niches=[Niche("coffee", "Coffee", 1.0), Niche("food", "Food", 0.8)],
        platform="instagram",
        saved=saved(),
        limit=5,
    )
    out = offline_accounts(req)
    handles = [a.handle for a in out if a.source == "saved"]
    assert handles == ["@beanroasters", "@daily_grind", "@general.friend"]
    assert out[0].url == "https://www.instagram.com/beanroasters/"
    searches = out[len(handles) :]
    assert [a.source for a in searches] == ["search", "search"]
    assert all(a.handle == "" for a in searches)
    assert searches[0].url == "https://www.instagram.com/explore/tags/coffee/"
    assert all("not a verified account" in a.note for a in searches)
    assert searches[0].niche == "coffee" and searches[0].platform == "instagram"


def test_saved_accounts_are_always_included_even_over_the_limit() -> None:
    many = tuple(Account(f"@coffee{i}", platform="instagram", niche="coffee") for i in range(8))
    req = AccountsRequest([Niche("coffee", "Coffee", 1.0)], "instagram", saved=many, limit=2)
    out = offline_accounts(req)
    assert len([a for a in out if a.source == "saved"]) == 8
    assert len([a for a in out if a.source == "search"]) == 1


@pytest.mark.parametrize("platform", PLATFORM_KEYS)
def test_offline_never_invents_handles(platform: str) -> None:
    req = AccountsRequest(
        niches=[Niche("latte", "Latte", 1.0), Niche("travel", "Travel", 0.5)],
        platform=platform,
        description="latte art in my cafe",
    )
    out = offline_accounts(req)
    assert out, platform
    for account in out:
        assert account.handle == "" and account.source == "search"
        assert account.url.startswith("https://")


def test_search_urls_per_platform() -> None:
    assert search_url("x", "home decor") == "https://x.com/search?q=home+decor&f=user"
    li = urlparse(search_url("linkedin", "real estate"))
    assert li.netloc == "www.linkedin.com" and parse_qs(li.query)["keywords"] == ["real estate"]
    assert "pinterest.com/search/users" in search_url("pinterest", "diy")
    assert "tiktok.com/search/user" in search_url("tiktok", "diy")
    assert "facebook.com/search/pages" in search_url("facebook", "diy")
    assert profile_url("tiktok", "@cafe.life") == "https://www.tiktok.com/@cafe.life"
    assert profile_url("x", "bad handle") == ""


def test_one_call_answers_every_platform() -> None:
    req = AccountsRequest(
        niches=[Niche("coffee", "Coffee", 1.0)],
        platform="instagram",
        saved=(Account("@beanroasters", platform="", niche="coffee"),),
        limit=1,
        platforms=("instagram", "x", "twitter"),
    )
    out = offline_accounts(req)
    assert [(a.platform, a.source) for a in out] == [
        ("instagram", "saved"),
        ("instagram", "search"),
        ("x", "saved"),
        ("x", "search"),
    ]
    assert out[2].url == "https://x.com/beanroasters"
    assert out[3].url == "https://x.com/search?q=coffee&f=user"


def test_merge_accounts_saved_first_each_account_once() -> None:
    """One rule for the job and the bot: saved accounts lead, a suggestion naming a saved
    account (with or without '@', any case) is dropped, other platforms are left out."""
    saved = [Account("@Cafe", "", "coffee", "saved"), Account("baker", "x", "food", "saved")]
    link = "https://x.com/search?q=coffee&f=user"
    found = [
        Account("cafe", "x", "coffee", "ai"),  # the saved @Cafe again
        Account("@roaster", "x", "coffee", "ai"),
        Account("@roaster", "instagram", "coffee", "ai"),  # another platform
        Account("", "x", "coffee", "search", url=link),
        Account("", "x", "coffee", "search", url=link),  # the same search twice
    ]
    merged = merge_accounts(saved, found, "x")
    assert [(a.handle, a.source) for a in merged] == [
        ("@Cafe", "saved"),
        ("baker", "saved"),
        ("@roaster", "ai"),
        ("", "search"),
    ]
    assert [a.handle for a in merge_accounts(saved, found, "instagram")] == ["@Cafe", "@roaster"]
