"""Use cases shared by every front door (bot, CLI, API, worker): no Telegram, no HTTP.

Each takes plain values plus what the composition root (`socialopt.wiring`) built: the
pipeline's `Services`, the storage `Repository` and the job defaults. They never read Settings.
"""
