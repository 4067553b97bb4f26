"""The offline provider: the analyser's baseline, the knowledge base and the templates.

Deterministic, no network; answers whenever an AI provider is off or fails.
"""

from __future__ import annotations

from pipeline.accounts import offline_accounts
from pipeline.captions import compile_content, fit_content
from pipeline.hashtags import finalize_hashtags
from pipeline.models import Account, ImageAnalysis, PlatformContent, Usage
from pipeline.platforms import get_spec
from pipeline.ports import AccountsRequest, AnalysisRequest, ContentRequest


class OfflineProvider:
    """Provider Protocol over the offline stages; records no AI calls."""

    name = "offline"
    label = "offline"

    def __init__(self, config: None = None, *, variant: int = 0) -> None:
        self.variant = variant  # `config`: the registry's calling shape; offline needs none

    def analyse(self, request: AnalysisRequest, usage: Usage) -> ImageAnalysis:
        """The offline analyser already ran: return its baseline, marked offline."""
        request.baseline.provider = "offline"
        return request.baseline

    def write_content(self, request: ContentRequest, usage: Usage) -> dict[str, PlatformContent]:
        """Template captions per platform, hashtags finalised and fitted to the limits."""
        out: dict[str, PlatformContent] = {}
        for key, content in compile_content(request, variant=self.variant).items():
            spec = get_spec(key, request.hashtag_limits)
            content.hashtags = finalize_hashtags(content.hashtags, spec)
            content.provider = self.name
            out[key] = fit_content(content, spec)
        return out

    def find_accounts(self, request: AccountsRequest, usage: Usage) -> list[Account]:
        """Saved accounts and search links; never invented handles."""
        return offline_accounts(request)
