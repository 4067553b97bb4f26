"""The one small Protocol every AI backend implements, and the registry by name."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from pipeline.errors import OptionsError
from pipeline.models import Account, ImageAnalysis, Niche, PlatformContent, Usage


@dataclass(frozen=True)
class AnalysisRequest:
    image_jpeg: bytes  # downscaled copy (long side <= 1024) for vision models
    baseline: ImageAnalysis  # the offline analyser's measurements
    description: str = ""
    language: str = "en"


@dataclass(frozen=True)
class ContentRequest:
    analysis: ImageAnalysis
    niches: list[Niche]
    platforms: tuple[str, ...]
    description: str = ""
    language: str = "en"
    tone: str = ""
    # hashtag ideas per platform from the knowledge base (and live sources), best first
    hashtag_candidates: Mapping[str, list[str]] = field(default_factory=dict)
    hashtag_limits: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class AccountsRequest:
    niches: list[Niche]
    platform: str  # the first of `platforms`
    saved: tuple[Account, ...] = ()
    description: str = ""
    limit: int = 5  # per platform
    # every platform to answer for IN ONE CALL (a session pays one profiles call, not one per
    # platform); each returned Account has its `platform` set. Empty means just `platform`.
    platforms: tuple[str, ...] = ()

    @property
    def all_platforms(self) -> tuple[str, ...]:
        return self.platforms or (self.platform,)


@runtime_checkable
class Provider(Protocol):
    """An AI backend. Every method may raise ProviderError; the job then falls back to
    the offline provider for that step. Methods record calls/tokens in `usage`."""

    name: str

    def analyse(self, request: AnalysisRequest, usage: Usage) -> ImageAnalysis: ...

    def write_content(
        self, request: ContentRequest, usage: Usage
    ) -> dict[str, PlatformContent]: ...

    def find_accounts(self, request: AccountsRequest, usage: Usage) -> list[Account]: ...


ProviderFactory = Callable[[Any], Provider]  # config (pipeline.providers.configs) -> provider
_REGISTRY: dict[str, ProviderFactory] = {}


def register(name: str) -> Callable[[ProviderFactory], ProviderFactory]:
    """Class decorator: make a provider available by name."""

    def wrap(factory: ProviderFactory) -> ProviderFactory:
        _REGISTRY[name] = factory
        return factory

    return wrap


def available() -> list[str]:
    return sorted(_REGISTRY)


def create_provider(name: str, config: Any = None) -> Provider:
    """Build the provider registered under `name` from its config (see
    `pipeline.providers.configs`; the offline provider takes none); unknown names are an error."""
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise OptionsError(
            f"No AI provider named '{name}'. Available: {', '.join(available())}.",
            code="UNKNOWN_PROVIDER",
        ) from None
    return factory(config)
