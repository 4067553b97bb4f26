"""Fixture pages of the hashtag sites (structures from shared/notes/hashtag-sources.md),
served from 127.0.0.1. Each site lives under its own path prefix so one server can play
all of them: /best, /top, /all, /tags; /broken serves a changed layout, /down a 500,
/slow sleeps longer than the client timeout."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from tests.fakes.http import FakeServer, Recorded, Reply

BEST_HASHTAGS = """<html><body>
<div class="tag-box tag-box-v3 margin-bottom-40"><p1>#coffee #coffeetime #latte #CoffeeLover
#followforfollow #barista</p1></div>
<div class="tag-box tag-box-v3 margin-bottom-40"><p2>#coffee #espresso #cafe</p2></div>
<table id="exact"><tr><td>1</td><td>#coffee</td><td>154,338,990</td></tr></table>
</body></html>"""

TOP_HASHTAGS = """<html><body><ul class="i-group">
<li class="i-row"><div class="i-tag"><a href="/hashtag/coffee/">#coffee</a></div>
<div class="i-total">154.3M</div></li>
<li class="i-row"><div class="i-tag"><a href="/hashtag/coffeeshop/">#coffeeshop</a></div>
<div class="i-total">12.1M</div></li>
<li class="i-row"><div class="i-tag"><a href="/hashtag/latteart/"></a></div>
<div class="i-total">9M</div></li>
</ul></body></html>"""

ALL_HASHTAG = """<div id="copy-hashtags">#coffee #morningcoffee #coffeeaddict #1234</div>
<div id="copy-hashtags-similar">#coffeegram #Latte</div>"""

TAGSFINDER = """<html><body><div id="hashtagy">#coffee #specialtycoffee #brewing</div>
<div class="card-table"><a>#ignored_when_hashtagy_present</a></div></body></html>"""

BROKEN = """<html><body><div class="new-layout"><span>coffee, latte</span></div></body></html>"""


class FakeHashtagSites(FakeServer):
    def base_urls(self, **override: str) -> dict[str, str]:
        urls = {
            "best-hashtags": f"{self.root}/best",
            "top-hashtags": f"{self.root}/top",
            "all-hashtag": f"{self.root}/all",
            "tagsfinder": f"{self.root}/tags",
        }
        urls.update({k.replace("_", "-"): f"{self.root}/{v}" for k, v in override.items()})
        return urls

    def default_reply(self, request: Recorded) -> Reply:
        parts = urlsplit(request.path)
        path = parts.path
        html = "text/html; charset=utf-8"
        if path.startswith("/down"):
            return Reply(500, "<h1>Internal Server Error</h1>", content_type=html)
        if path.startswith("/slow"):
            return Reply(200, BEST_HASHTAGS, delay_s=1.0, content_type=html)
        if path.startswith("/broken"):
            return Reply(200, BROKEN, content_type=html)
        if path.startswith("/best/hashtag/") and request.method == "GET":
            return Reply(200, BEST_HASHTAGS, content_type=html)
        if path == "/top/search/" and parse_qs(parts.query).get("opt") == ["top"]:
            return Reply(200, TOP_HASHTAGS, content_type=html)
        if path == "/all/library/contents/ajax_generator.php" and request.method == "POST":
            form = parse_qs(request.body.decode())
            if form.get("keyword"):
                return Reply(200, ALL_HASHTAG, content_type=html)
        if path.startswith("/tags/en-us/related/"):
            return Reply(200, TAGSFINDER, content_type=html)
        return Reply(404, "not found", content_type=html)
