"""bot.formatting: escaping, splitting under Telegram's limits, per-platform messages."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from bot.formatting import (
    MESSAGE_LIMIT,
    content_message,
    escape,
    platform_message,
    split_message,
    tg_len,
)
from pipeline.models import (
    Account,
    Niche,
    PlatformContent,
    PlatformResult,
    PostingTime,
    RenderedImage,
)


class _TagChecker(HTMLParser):
    """Fails on unbalanced tags; collects the text Telegram would show."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: object) -> None:
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, f"unbalanced </{tag}> in {self.stack}"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def visible(chunk: str) -> str:
    """Parse a chunk as Telegram HTML: tags must balance; returns the shown text."""
    checker = _TagChecker()
    checker.feed(chunk)
    checker.close()
    assert checker.stack == [], f"unclosed tags {checker.stack}"
    return "".join(checker.text)


def result(caption: str = "Fresh coffee <3 & cake", **kw: object) -> PlatformResult:
    defaults: dict[str, object] = dict(
        platform="instagram",
        status="completed",
        image=RenderedImage(b"", 1080, 1350, "JPEG"),
        content=PlatformContent(caption, ["#Coffee", "#LatteArt"], alt_text="A cup on a plate"),
        niches=[Niche("coffee", "Coffee", 1.0)],
        posting_times=[PostingTime("Monday", "10:00", "12:00", "UTC", "Sprout Social 2023")],
        profiles=[
            Account("@mine", "instagram", "coffee", "saved"),
            Account(
                "",
                "instagram",
                "coffee",
                "search",
                "https://www.instagram.com/explore/search/keyword/?q=coffee&x=1",
                "Search: coffee on Instagram",
            ),
        ],
    )
    defaults.update(kw)
    return PlatformResult(**defaults)  # type: ignore[arg-type]


def test_escape_html_specials() -> None:
    assert escape("a < b & c > d") == "a &lt; b &amp; c &gt; d"
    assert escape('say "hi"') == 'say "hi"'


def test_short_text_is_one_chunk_and_empty_is_none() -> None:
    assert split_message("hello") == ["hello"]
    assert split_message("   \n ") == []


def test_split_at_line_boundaries() -> None:
    lines = [f"line {i:04d} " + "x" * 40 for i in range(400)]
    chunks = split_message("\n".join(lines), limit=1000)
    assert len(chunks) > 1
    assert all(tg_len(c) <= 1000 for c in chunks)
    # every line survives whole, in order
    rebuilt = [line for c in chunks for line in c.split("\n")]
    assert rebuilt == lines


def test_split_never_cuts_a_tag_and_reopens_it() -> None:
    body = "\n".join(f"word{i} " * 20 for i in range(100))
    text = f"<b>Title</b>\n<pre>{body}</pre>\n<code>#a #b</code>"
    chunks = split_message(text, limit=500)
    assert len(chunks) > 3
    for chunk in chunks:
        assert tg_len(chunk) <= 500
        visible(chunk)  # balanced
        assert not re.search(r"<[^>]*$", chunk), "chunk ends inside a tag"
    assert chunks[1].startswith("<pre>")  # the caption block continues as a code block
    shown = "".join(visible(c) for c in chunks)
    assert shown.count("word99") == 20


def test_split_long_line_between_words_and_long_word_between_chars() -> None:
    text = ("abc " * 400) + "\n" + "y" * 2500
    chunks = split_message(text, limit=1000)
    assert all(tg_len(c) <= 1000 for c in chunks)
    assert "".join(chunks).replace(" ", "").count("y") == 2500
    assert all(not c.endswith("ab") for c in chunks[:2])  # word boundaries for the first line


def test_split_keeps_entities_whole() -> None:
    text = "&amp;" * 300
    chunks = split_message(text, limit=100)
    for chunk in chunks:
        assert tg_len(chunk) <= 100
        assert re.fullmatch(r"(&amp;)+", chunk)


def test_utf16_length_counts_emoji_twice() -> None:
    assert tg_len("😀") == 2
    chunks = split_message("😀" * 3000)
    assert all(tg_len(c) <= MESSAGE_LIMIT for c in chunks)
    assert len(chunks) == 2


def test_platform_message_parts() -> None:
    chunks = platform_message(result(), timezone="UTC")
    assert len(chunks) == 1
    text = chunks[0]
    visible(text)
    assert "Instagram" in text and "1080×1350" in text
    assert "<pre>Fresh coffee &lt;3 &amp; cake</pre>" in text
    assert "<code>#Coffee #LatteArt</code>" in text
    assert "Monday 10:00–12:00" in text and "Sprout Social 2023" in text and "(UTC)" in text
    assert "@mine" in text and "your list" in text
    assert "🔎" in text and "Search Instagram: coffee" in text and "not verified" in text
    assert 'href="https://www.instagram.com/explore/search/keyword/?q=coffee&amp;x=1"' in text
    assert text.index("@mine") < text.index("🔎")  # saved accounts before search links


def test_platform_message_recomputes_times_for_the_users_zone() -> None:
    text = "".join(platform_message(result(), timezone="Asia/Tokyo"))
    assert "(Asia/Tokyo)" in text
    assert "(UTC)" not in text


def test_platform_message_long_caption_is_split_under_limit() -> None:
    long_caption = "\n".join(f"Paragraph {i}: " + "coffee " * 60 for i in range(40))
    res = result(caption=long_caption, platform="facebook")
    chunks = platform_message(res, timezone="UTC")
    assert len(chunks) > 1
    for chunk in chunks:
        assert tg_len(chunk) <= MESSAGE_LIMIT
        visible(chunk)
    shown = "".join(visible(c) for c in chunks)
    assert shown.count("Paragraph") == 40


def test_failed_platform_message() -> None:
    res = PlatformResult("x", "failed", error={"code": "PROCESSING_FAILED", "message": "Oops <1>"})
    (text,) = platform_message(res, timezone="UTC")
    assert "X" in text and "PROCESSING_FAILED" in text and "Oops &lt;1&gt;" in text


def test_ai_suggestion_is_labelled() -> None:
    res = result(profiles=[Account("@roaster", "instagram", "coffee", "gemini", "https://i.co/r")])
    text = platform_message(res, timezone="UTC")[0]
    assert "@roaster" in text and "Gemini" in text and "check before tagging" in text


@pytest.mark.parametrize("platform", ["pinterest", "tiktok"])
def test_content_message_with_title(platform: str) -> None:
    content = PlatformContent(
        "Caption & more", ["#A"], alt_text="alt", title="Pin <title>", provider="openai"
    )
    (text,) = content_message(platform, content)
    visible(text)
    assert "<code>Pin &lt;title&gt;</code>" in text
    assert "<pre>Caption &amp; more</pre>" in text
    assert "written by openai" in text


def test_x_hashtags_appear_once_in_the_post() -> None:
    content = PlatformContent("Morning brew", ["#Coffee", "#Latte"])
    (text,) = content_message("x", content)
    assert "<pre>Morning brew #Coffee #Latte</pre>" in text
    assert text.count("#Coffee") == 1 and "first comment" not in text
    (text,) = content_message("instagram", content)
    assert "<pre>Morning brew</pre>" in text and "first comment" in text
    assert text.count("#Coffee") == 1
