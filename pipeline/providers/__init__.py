"""AI providers. Importing this package fills the registry in `providers.base`."""

from pipeline.providers import gemini_provider, offline, openai_provider  # noqa: F401
