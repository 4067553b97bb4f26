"""AI providers. Importing this package fills the registry in `providers.base`.

The offline provider registers on import; OpenAI and Gemini register lazy factories so their
SDKs are imported only when a key actually selects them (they cost ~50 MB and ~1 s to import).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from pipeline.providers import offline  # noqa: F401 - registers "offline"
from pipeline.providers.base import Provider, ProviderFactory, register

if TYPE_CHECKING:
    from socialopt.settings import Settings


def _lazy(module: str, cls: str) -> ProviderFactory:
    def factory(settings: Settings) -> Provider:
        return getattr(importlib.import_module(f"pipeline.providers.{module}"), cls)(settings)

    return factory


register("openai")(_lazy("openai_provider", "OpenAIProvider"))
register("gemini")(_lazy("gemini_provider", "GeminiProvider"))
