"""The offline provider implements the Provider Protocol without any network."""

from __future__ import annotations

from pipeline.captions import post_text
from pipeline.models import ImageAnalysis, Niche, Usage
from pipeline.platforms import PLATFORM_KEYS, get_spec
from pipeline.providers.base import (
    AccountsRequest,
    AnalysisRequest,
    ContentRequest,
    Provider,
    available,
    create_provider,
)
from pipeline.providers.offline import OfflineProvider
from tests.factories import make_analysis as base_analysis


def make_analysis() -> ImageAnalysis:
    return base_analysis(provider="something-else")


def test_registered_and_protocol() -> None:
    assert "offline" in available()
    provider = create_provider("offline", None)  # type: ignore[arg-type]
    assert isinstance(provider, OfflineProvider)
    assert isinstance(provider, Provider)
    assert provider.name == "offline"


def test_analyse_returns_baseline() -> None:
    baseline = make_analysis()
    usage = Usage()
    result = OfflineProvider().analyse(AnalysisRequest(b"", baseline), usage)
    assert result is baseline and result.provider == "offline"
    assert usage.calls == 0


def test_write_content_for_all_platforms() -> None:
    req = ContentRequest(
        analysis=make_analysis(),
        niches=[Niche("coffee", "Coffee", 1.0), Niche("food", "Food", 0.9)],
        platforms=PLATFORM_KEYS,
        description="latte art in my cafe " * 30,
        hashtag_candidates={"x": ["#sex", "#LatteArt", "#latteart", "#CafeLife", "#Third"]},
        hashtag_limits={"instagram": 3},
    )
    usage = Usage()
    provider = OfflineProvider()
    out = provider.write_content(req, usage)
    assert set(out) == set(PLATFORM_KEYS)
    assert out["x"].hashtags == ["#LatteArt", "#CafeLife"]
    assert len(out["instagram"].hashtags) == 3
    for key, content in out.items():
        spec = get_spec(key, req.hashtag_limits)
        assert content.provider == "offline"
        assert len(post_text(content, spec)) <= spec.caption_limit
        assert len(content.hashtags) <= spec.hashtag_max
    assert out == provider.write_content(req, usage)  # deterministic
    assert usage.calls == 0


def test_find_accounts_only_saved_and_searches() -> None:
    req = AccountsRequest(niches=[Niche("dogs", "Dogs", 1.0)], platform="tiktok")
    out = OfflineProvider().find_accounts(req, Usage())
    assert out and all(a.handle == "" and a.source == "search" for a in out)
    assert out[0].url.startswith("https://www.tiktok.com/search/user?q=")
