"""Live hashtag suggestions scraped from public sites (requests + beautifulsoup4).

Off unless HASHTAG_SOURCES names them. Every source has a timeout, a polite User-Agent, a
minimal delay per host and a cache; parsing is defensive and a source that errors or whose
layout changed is skipped with a warning: `fetch()` never raises. Markup notes:
shared/notes/hashtag-sources.md.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import requests
from bs4 import BeautifulSoup

from pipeline.hashtags import is_banned

if TYPE_CHECKING:
    from pipeline.services import Cache

log = logging.getLogger(__name__)

USER_AGENT = "socialopt/0.1 (+hashtag suggestions; contact in README)"
DEFAULT_BASE_URLS: dict[str, str] = {
    "best-hashtags": "https://best-hashtags.com",
    "top-hashtags": "https://top-hashtags.com",
    "all-hashtag": "https://www.all-hashtag.com",
    "tagsfinder": "https://www.tagsfinder.com",
}
TAG_RE = re.compile(r"#(\w{2,60})", re.UNICODE)
MAX_PER_SOURCE = 30


class LayoutChanged(Exception):
    """The page loaded but the expected markup is not there."""


def slug(keyword: str) -> str:
    """'Latte art' / '#latte_art' -> 'latteart' (letters and digits only)."""
    return "".join(ch for ch in keyword.lower() if ch.isalnum())


def tags_in(texts: Iterable[str]) -> list[str]:
    """'#tag' words from text blocks, '#'-prefixed, order kept, digits-only dropped."""
    out = []
    for text in texts:
        for m in TAG_RE.finditer(text or ""):
            word = m.group(1).strip("_")
            if word and not word.isdigit():
                out.append("#" + word)
    return out


def _text_of(nodes: Iterable[Any]) -> list[str]:
    return [n.get_text(" ", strip=True) for n in nodes]


# --------------------------------------------------------------------------- parsers


def parse_best_hashtags(html: str) -> list[str]:
    """best-hashtags.com /hashtag/<tag>/: `div.tag-box p1` (most popular), then `p2`."""
    soup = BeautifulSoup(html, "html.parser")
    blocks = soup.select("div.tag-box p1") + soup.select("div.tag-box p2")
    if not blocks:
        blocks = [b for b in (soup.find("p1"), soup.find("p2")) if b is not None]
    tags = tags_in(_text_of(blocks))
    if not tags:
        raise LayoutChanged("no div.tag-box p1/p2 with hashtags")
    return tags


def parse_top_hashtags(html: str) -> list[str]:
    """top-hashtags.com /search/: `ul.i-group li.i-row div.i-tag a[href=/hashtag/<tag>/]`."""
    soup = BeautifulSoup(html, "html.parser")
    out = []
    for a in soup.select("ul.i-group li.i-row div.i-tag a") or soup.select("div.i-tag a"):
        text = a.get_text(strip=True)
        m = re.search(r"/hashtag/([^/?#]+)/?", a.get("href") or "")
        word = text.lstrip("#") or (m.group(1) if m else "")
        out.extend(tags_in(["#" + word]))
    if not out:  # copy blocks of the /hashtag/<tag>/ page
        out = tags_in(_text_of(soup.select(".i-tags .tht-tags, [id^=clip-tags]")))
    if not out:
        raise LayoutChanged("no ul.i-group div.i-tag links")
    return out


def parse_all_hashtag(html: str) -> list[str]:
    """all-hashtag.com generator answer: `div#copy-hashtags` (then `#copy-hashtags-similar`)."""
    soup = BeautifulSoup(html, "html.parser")
    blocks = [b for b in (soup.select_one("#copy-hashtags"),) if b is not None]
    blocks += soup.select("#copy-hashtags-similar")
    tags = tags_in(_text_of(blocks))
    if not tags:
        raise LayoutChanged("no div#copy-hashtags")
    return tags


def parse_tagsfinder(html: str) -> list[str]:
    """tagsfinder.com related page: `#hashtagy` text, else `.card-table a`."""
    soup = BeautifulSoup(html, "html.parser")
    tags = tags_in(_text_of(soup.select("#hashtagy")))
    if not tags:
        tags = tags_in(["#" + t.lstrip("#") for t in _text_of(soup.select(".card-table a"))])
    if not tags:
        raise LayoutChanged("no #hashtagy or .card-table links")
    return tags


# --------------------------------------------------------------------------- client


class HashtagSources:
    """Configured hashtag sites; `fetch(keyword)` merges their tags and never raises.

    `sources` are names, or `name=base_url` to point a source elsewhere (a mirror, a test
    server). Sources are asked in parallel; one that fails is skipped and, for
    `failure_cooldown_s`, not asked again (a dead site must not cost every job a timeout).
    """

    PARSERS: dict[str, Callable[[str], list[str]]] = {
        "best-hashtags": parse_best_hashtags,
        "top-hashtags": parse_top_hashtags,
        "all-hashtag": parse_all_hashtag,
        "tagsfinder": parse_tagsfinder,
    }

    def __init__(
        self,
        sources: Iterable[str],
        timeout_s: float = 10.0,
        cache: Cache | None = None,
        base_urls: Mapping[str, str] | None = None,
        *,
        min_interval_s: float = 2.0,
        cache_ttl_s: float = 86400.0,
        failure_cooldown_s: float = 600.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.sources: list[str] = []
        self.base_urls = dict(DEFAULT_BASE_URLS)
        for raw in sources:
            name, _, url = raw.partition("=")
            key = name.strip().lower()
            if key not in self.PARSERS:
                log.warning(
                    "unknown hashtag source %r ignored (known: %s)", raw, ", ".join(self.PARSERS)
                )
                continue
            if url.strip():
                self.base_urls[key] = url.strip()
            if key not in self.sources:
                self.sources.append(key)
        self.base_urls.update(dict(base_urls or {}))
        self.timeout_s = timeout_s
        self.cache = cache
        self.cache_ttl_s = cache_ttl_s
        self.failure_cooldown_s = failure_cooldown_s
        self.min_interval_s = min_interval_s
        self._sleep = sleep
        self._last: dict[str, float] = {}
        self._failed_at: dict[str, float] = {}
        self._lock = threading.Lock()
        self.failures: dict[str, str] = {}  # source -> last error, for diagnostics

    # ------------------------------------------------------------ http

    def _polite_wait(self, url: str) -> None:
        host = urlsplit(url).netloc
        with self._lock:
            now = time.monotonic()
            wait = self._last.get(host, -1e9) + self.min_interval_s - now
            self._last[host] = now + max(0.0, wait)
        if wait > 0:
            self._sleep(wait)

    def _request(self, method: str, url: str, **kwargs: Any) -> str:
        self._polite_wait(url)
        headers = {
            "User-Agent": USER_AGENT,
            "Accept": "text/html,*/*",
            **kwargs.pop("headers", {}),
        }
        resp = requests.request(method, url, headers=headers, timeout=self.timeout_s, **kwargs)
        resp.raise_for_status()
        return resp.text

    def _download(self, name: str, keyword: str) -> str:
        base = self.base_urls[name].rstrip("/")
        tag = quote(slug(keyword))
        if name == "best-hashtags":
            return self._request("GET", f"{base}/hashtag/{tag}/")
        if name == "top-hashtags":
            return self._request(
                "GET", f"{base}/search/", params={"q": keyword, "opt": "top", "sp": 1}
            )
        if name == "all-hashtag":
            return self._request(
                "POST",
                f"{base}/library/contents/ajax_generator.php",
                data={"keyword": keyword, "filter": "top"},
                headers={"X-Requested-With": "XMLHttpRequest"},
            )
        return self._request("GET", f"{base}/en-us/related/{tag}/")

    # ------------------------------------------------------------ API

    def fetch_source(self, name: str, keyword: str) -> list[str]:
        """Tags from one source (cached); raises on network or layout errors."""
        key = f"hashtags:{name}:{slug(keyword)}"
        if self.cache is not None:
            try:
                hit = self.cache.get(key)
            except Exception as exc:  # noqa: BLE001 - a broken cache is not fatal
                log.warning("hashtag cache read failed: %s", exc)
                hit = None
            if hit and isinstance(hit.get("tags"), list):
                return [str(t) for t in hit["tags"]]
        tags = self.PARSERS[name](self._download(name, keyword))[:MAX_PER_SOURCE]
        if self.cache is not None and tags:
            try:
                self.cache.put(key, {"tags": tags}, self.cache_ttl_s)
            except Exception as exc:  # noqa: BLE001
                log.warning("hashtag cache write failed: %s", exc)
        return tags

    def _try(self, name: str, keyword: str) -> list[str] | None:
        """One source, failing soft: None (and a warning) when it errors."""
        with self._lock:
            failed_at = self._failed_at.get(name)
        if failed_at is not None and time.monotonic() - failed_at < self.failure_cooldown_s:
            log.debug("hashtag source %s cooling down after a failure", name)
            return None
        try:
            tags = self.fetch_source(name, keyword)
        except Exception as exc:  # noqa: BLE001 - fail soft: skip and log the source
            with self._lock:
                self.failures[name] = f"{type(exc).__name__}: {exc}"[:300]
                self._failed_at[name] = time.monotonic()
            log.warning("hashtag source %s skipped for %r: %s", name, keyword, self.failures[name])
            return None
        with self._lock:
            self.failures.pop(name, None)
            self._failed_at.pop(name, None)
        return tags

    def fetch(self, keyword: str) -> list[str]:
        """Merged (in source order), de-duplicated case-insensitively, '#'-prefixed tags;
        [] when every source fails. Never raises."""
        if not slug(keyword) or not self.sources:
            return []
        try:
            with ThreadPoolExecutor(max_workers=len(self.sources)) as pool:
                results = list(pool.map(lambda n: self._try(n, keyword), self.sources))
        except Exception as exc:  # noqa: BLE001 - belt and braces: fetch never raises
            log.warning("hashtag sources failed: %s", exc)
            return []
        merged: list[str] = []
        seen: set[str] = set()
        for tags in results:
            for tag in tags or []:
                if tag.lower() not in seen and not is_banned(tag):
                    seen.add(tag.lower())
                    merged.append(tag)
        return merged
