"""The registry of AI backends by name, and the requests they answer (from `pipeline.ports`).

`pipeline.providers.ai.AIProvider` is the one base class every AI backend extends; the offline
provider implements the same Protocol on its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pipeline.errors import OptionsError
from pipeline.ports import AccountsRequest, AnalysisRequest, ContentRequest, Provider

__all__ = [
    "AccountsRequest",
    "AnalysisRequest",
    "ContentRequest",
    "Provider",
    "available",
    "create_provider",
    "register",
]

# --------------------------------------------------------------------------- registry

ProviderFactory = Callable[[Any], Provider]  # config (pipeline.providers.configs) -> provider
_REGISTRY: dict[str, ProviderFactory] = {}


def register(name: str) -> Callable[[ProviderFactory], ProviderFactory]:
    """Decorator: make a provider factory available by name."""

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
