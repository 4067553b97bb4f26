"""AI providers: the registry table. Importing this package fills the registry in
`providers.base` without importing any backend.

Every backend is built by a lazy factory, so its module (and SDK: OpenAI and Gemini cost ~50 MB
and ~1 s to import) loads only when a provider of that name is created. Each backend takes its
plain config from `pipeline.providers.configs` (the offline one takes none).
"""

from __future__ import annotations

import importlib
from typing import Any

from pipeline.providers.base import Provider, ProviderFactory, register

# provider name -> (module in this package, class)
BACKENDS: dict[str, tuple[str, str]] = {
    "offline": ("offline", "OfflineProvider"),
    "openai": ("openai_provider", "OpenAIProvider"),
    "gemini": ("gemini_provider", "GeminiProvider"),
}


def _lazy(module: str, cls: str) -> ProviderFactory:
    def factory(config: Any) -> Provider:
        return getattr(importlib.import_module(f"pipeline.providers.{module}"), cls)(config)

    return factory


for _name, (_module, _cls) in BACKENDS.items():
    register(_name)(_lazy(_module, _cls))
