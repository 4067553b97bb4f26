"""HashtagSources against fixture pages served from 127.0.0.1."""

from __future__ import annotations

import logging
from urllib.parse import parse_qs

import pytest

from pipeline.hashtag_sources import (
    USER_AGENT,
    HashtagSources,
    LayoutChanged,
    parse_best_hashtags,
    parse_tagsfinder,
)
from storage.cache import MemoryCache
from tests.fakes.hashtag_sites import BROKEN, FakeHashtagSites
from tests.fakes.http import closed_port

ALL = ("best-hashtags", "top-hashtags", "all-hashtag", "tagsfinder")


@pytest.fixture
def sites():
    with FakeHashtagSites() as server:
        yield server


def make(sites, sources=ALL, **kw) -> HashtagSources:
    kw.setdefault("base_urls", sites.base_urls())
    kw.setdefault("min_interval_s", 0.0)
    return HashtagSources(sources, timeout_s=kw.pop("timeout_s", 2.0), **kw)


def test_all_sources_merge_deduplicated(sites):
    tags = make(sites).fetch("coffee")
    assert tags[:6] == [
        "#coffee",
        "#coffeetime",
        "#latte",
        "#CoffeeLover",
        "#barista",
        "#espresso",
    ]
    for tag in (
        "#cafe",
        "#coffeeshop",
        "#latteart",
        "#morningcoffee",
        "#coffeegram",
        "#specialtycoffee",
        "#brewing",
    ):
        assert tag in tags
    lowered = [t.lower() for t in tags]
    assert len(lowered) == len(set(lowered))  # '#Latte' merged into '#latte'
    assert all(t.startswith("#") for t in tags)
    assert "#followforfollow" not in tags  # banned list applies
    assert "#1234" not in tags
    assert "#ignored_when_hashtagy_present" not in tags
    assert len(sites.requests) == 4


def test_requests_are_polite_and_well_formed(sites):
    make(sites).fetch("Latte Art")
    by_path = {r.path.split("?")[0]: r for r in sites.requests}
    assert all(r.headers["user-agent"] == USER_AGENT for r in sites.requests)
    assert "/best/hashtag/latteart/" in by_path
    assert "/tags/en-us/related/latteart/" in by_path
    top = next(r for r in sites.requests if r.path.startswith("/top/search/"))
    assert parse_qs(top.path.split("?", 1)[1])["q"] == ["Latte Art"]
    post = by_path["/all/library/contents/ajax_generator.php"]
    assert post.method == "POST"
    assert parse_qs(post.body.decode()) == {"keyword": ["Latte Art"], "filter": ["top"]}
    assert post.headers["x-requested-with"] == "XMLHttpRequest"


def test_broken_layout_and_server_error_are_skipped(sites, caplog):
    urls = sites.base_urls(best_hashtags="broken", all_hashtag="down")
    src = make(sites, base_urls=urls)
    with caplog.at_level(logging.WARNING, logger="pipeline.hashtag_sources"):
        tags = src.fetch("coffee")
    assert tags == ["#coffee", "#coffeeshop", "#latteart", "#specialtycoffee", "#brewing"]
    assert set(src.failures) == {"best-hashtags", "all-hashtag"}
    assert "LayoutChanged" in src.failures["best-hashtags"]
    assert "500" in src.failures["all-hashtag"]
    skipped = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert len(skipped) == 2


def test_timeout_and_refused_connection_are_skipped(sites):
    urls = sites.base_urls(best_hashtags="slow")
    urls["top-hashtags"] = f"http://127.0.0.1:{closed_port()}"
    src = make(sites, base_urls=urls, timeout_s=0.2)
    tags = src.fetch("coffee")
    assert "#morningcoffee" in tags and "#brewing" in tags
    assert set(src.failures) == {"best-hashtags", "top-hashtags"}


def test_every_source_failing_gives_empty_list(sites):
    urls = {name: f"{sites.root}/down" for name in ALL}
    assert make(sites, base_urls=urls).fetch("coffee") == []


def test_cache_avoids_repeat_requests_and_skips_failures(sites):
    cache = MemoryCache()
    urls = sites.base_urls(all_hashtag="down")
    src = make(sites, base_urls=urls, cache=cache, failure_cooldown_s=0)
    first = src.fetch("coffee")
    assert len(sites.requests) == 4
    second = src.fetch("coffee")
    assert second == first
    # only the failed source is asked again
    assert len(sites.requests) == 5
    assert cache.get("hashtags:all-hashtag:coffee") is None
    assert cache.get("hashtags:tagsfinder:coffee") == {
        "tags": ["#coffee", "#specialtycoffee", "#brewing"]
    }


def test_failed_source_cools_down(sites):
    src = make(sites, base_urls=sites.base_urls(all_hashtag="down"))
    first = src.fetch("coffee")
    src.fetch("latte")
    # the down source was asked once; the three healthy ones twice
    paths = [r.path for r in sites.requests]
    assert sum(p.startswith("/down") for p in paths) == 1
    assert len(paths) == 1 + 3 * 2
    assert "#morningcoffee" not in first


def test_sources_accept_name_equals_url(sites):
    src = HashtagSources(
        [f"tagsfinder={sites.root}/tags", "best-hashtags"],
        timeout_s=2.0,
        min_interval_s=0.0,
        base_urls={"best-hashtags": f"{sites.root}/best"},
    )
    assert src.sources == ["tagsfinder", "best-hashtags"]
    assert src.fetch("coffee")[:3] == ["#coffee", "#specialtycoffee", "#brewing"]


def test_per_host_minimal_delay(sites):
    waits: list[float] = []
    src = make(
        sites, sources=("best-hashtags", "tagsfinder"), min_interval_s=5.0, sleep=waits.append
    )
    src.fetch("coffee")
    # both sources are on the same host: the second request waits for the first's slot
    assert len(waits) == 1 and 0 < waits[0] <= 5.0


def test_unknown_source_names_are_ignored(sites, caplog):
    with caplog.at_level(logging.WARNING, logger="pipeline.hashtag_sources"):
        src = make(sites, sources=("best-hashtags", "nonsense", "BEST-HASHTAGS"))
    assert src.sources == ["best-hashtags"]
    assert any("nonsense" in r.getMessage() for r in caplog.records)


def test_empty_keyword_makes_no_requests(sites):
    assert make(sites).fetch("  #!! ") == []
    assert sites.requests == []


def test_parsers_fall_back_and_detect_layout_changes():
    assert parse_best_hashtags("<p1>#a1 #b2</p1>") == ["#a1", "#b2"]
    assert parse_tagsfinder('<div class="card-table"><a>#one</a><a>two</a></div>') == [
        "#one",
        "#two",
    ]
    with pytest.raises(LayoutChanged):
        parse_best_hashtags(BROKEN)
    with pytest.raises(LayoutChanged):
        parse_tagsfinder(BROKEN)
