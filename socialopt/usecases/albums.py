"""An album (several photos sent together) as one set job, without Telegram.

A chat app delivers an album item by item (Telegram: one update per photo, sharing a
`media_group_id`). `AlbumCollector` gathers the items of one (user, group) until no new item
came for `window_s` seconds, then hands them, in the order they were sent, to its callback
ONCE. The items wait on disk (the drafts folder), not in memory.

`start_set` records the set as one session (the photos kept as `source.*`, `source_2.*`, ...
in its folder), `run_set_session` runs `pipeline.carousel.run_set` off the event loop and
commits its files and rows, or records a coded failure (as `sessions.run` does for a photo).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.carousel import SetResult, check_set, run_set, set_results_to_dict
from pipeline.carousel import write_set_outputs as _write_set
from pipeline.models import JobOptions, ProgressFn
from socialopt.usecases import sessions
from storage.files import FileStore
from storage.repository import Repository

log = logging.getLogger(__name__)

ALBUM_WINDOW_S = 1.5  # quiet time after an album's last item before the set starts


@dataclass
class AlbumItem:
    """One item of an album: its place (the message id orders them), its name, and its bytes
    on disk (`path`), or the sentence saying why it could not be used."""

    order: int
    name: str
    path: Path | None = None
    problem: str = ""
    text: str = ""  # the item's caption (an album's description sits on one item)


@dataclass
class _Group:
    items: list[AlbumItem] = field(default_factory=list)
    deadline: float = 0.0
    pending: int = 0  # items announced (downloading) but not added yet
    task: asyncio.Task[None] | None = None


OnReady = Callable[[Hashable, list[AlbumItem]], Awaitable[None]]


class AlbumCollector:
    """Collects album items per key and calls `on_ready(key, items)` once per album, when
    `window_s` passed without a new item (and no announced item is still downloading)."""

    def __init__(self, on_ready: OnReady, window_s: float = ALBUM_WINDOW_S) -> None:
        self.on_ready, self.window_s = on_ready, window_s
        self._groups: dict[Hashable, _Group] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def _touch(self, key: Hashable) -> _Group:
        loop = asyncio.get_running_loop()
        group = self._groups.setdefault(key, _Group())
        group.deadline = loop.time() + self.window_s
        if group.task is None:
            group.task = loop.create_task(self._wait(key, group))
            self._tasks.add(group.task)
            group.task.add_done_callback(self._tasks.discard)
        return group

    def expect(self, key: Hashable) -> None:
        """An item of `key` arrived and is being fetched: the album waits for it."""
        self._touch(key).pending += 1

    def add(self, key: Hashable, item: AlbumItem, *, expected: bool = True) -> None:
        """The item is fetched (or failed: `item.problem`); `expected`: announced with
        `expect` before."""
        group = self._touch(key)
        group.items.append(item)
        if expected:
            group.pending = max(0, group.pending - 1)

    def waiting(self) -> int:
        """Albums still being collected."""
        return len(self._groups)

    async def _wait(self, key: Hashable, group: _Group) -> None:
        loop = asyncio.get_running_loop()
        while True:
            delay = group.deadline - loop.time()
            if delay > 0 or group.pending:
                await asyncio.sleep(max(delay, 0.05))
                continue
            break
        self._groups.pop(key, None)
        items = sorted(group.items, key=lambda item: item.order)
        try:
            await self.on_ready(key, items)
        except Exception:  # noqa: BLE001 - one album's failure must not stop the collector
            log.exception("album %s failed", key)

    async def close(self) -> None:
        """Stop collecting: pending albums are dropped with their files."""
        for task in list(self._tasks):
            task.cancel()
        for group in self._groups.values():
            for item in group.items:
                sessions.drop_draft(item.path)
        self._groups.clear()


def usable(items: Sequence[AlbumItem]) -> tuple[list[AlbumItem], list[str]]:
    """The items that can be used, and a sentence for each one that cannot."""
    good = [i for i in items if i.path is not None and not i.problem]
    said = [
        f"Item {n} ({i.name}) was skipped: {i.problem or 'it could not be read.'}"
        for n, i in enumerate(items, 1)
        if i.path is None or i.problem
    ]
    return good, said


def _write_sources(out_dir: Path, images: Sequence[bytes], names: Sequence[str]) -> None:
    """The set's photos after the first as `source_<n>.<ext>` (the first is `sessions.start`'s
    `source.<ext>`); make_zip leaves every `source*` file out."""
    for n, (data, name) in enumerate(zip(images, names, strict=True), 1):
        if n == 1:
            continue
        suffix = Path(name).suffix.lower()
        suffix = suffix if suffix and len(suffix) <= 5 and suffix[1:].isalnum() else ".img"
        (out_dir / f"source_{n}{suffix}").write_bytes(data)


def source_paths(started: sessions.Started) -> list[Path]:
    """Every kept photo of a set session, in order (the first is `started.source_path`)."""
    assert started.source_path is not None
    rest = sorted(started.out_dir.glob("source_*"), key=lambda p: int(p.stem.split("_")[1] or 0))
    return [started.source_path, *rest]


async def start_set(
    repo: Repository,
    sessions_dir: Path,
    user_id: int,
    images: Sequence[bytes],
    names: Sequence[str],
    options: JobOptions,
    *,
    deliver: bool = False,
) -> sessions.Started:
    """Record a set as one pending session (NOT_A_SET / TOO_MANY_PHOTOS before anything is
    kept); its photos are kept in the session's folder."""
    check_set(images)
    started = await sessions.start(
        repo, sessions_dir, user_id, images[0], options, deliver=deliver
    )
    await asyncio.to_thread(_write_sources, started.out_dir, images, names)
    return started


async def store_set(
    repo: Repository,
    user_id: int,
    session_id: str,
    result: SetResult,
    out_dir: Path,
    file_store: FileStore | None = None,
) -> Any:
    """Write the set's files, then commit the session row with its results."""
    return await sessions.store(
        repo,
        user_id,
        session_id,
        result,
        out_dir,
        file_store,
        write=_write_set,
        to_doc=set_results_to_dict,
    )


def _read_all(paths: Sequence[Path]) -> list[bytes]:
    return [p.read_bytes() for p in paths]


async def run_set_session(
    repo: Repository,
    services: Any,
    started: sessions.Started,
    user_id: int,
    names: Sequence[str],
    *,
    run_sync: sessions.RunSync,
    progress: ProgressFn | None = None,
) -> SetResult:
    """Run a pending set session to the end. A coded failure is recorded and re-raised;
    anything else is recorded as INTERNAL_ERROR and raised as sessions.JobCrashed; an
    unreadable kept photo raises OSError (the caller says the photos are gone)."""
    images = await asyncio.to_thread(_read_all, source_paths(started))

    async def compute() -> SetResult:
        result = await run_sync(
            run_set, images, started.options, services, progress, names=list(names)
        )
        images.clear()  # the set's photos are not held while its files are written
        return result

    return await sessions.run_recorded(
        repo,
        started,
        user_id,
        compute,
        lambda result: store_set(repo, user_id, started.session_id, result, started.out_dir),
    )
