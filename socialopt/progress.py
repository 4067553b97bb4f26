"""Job progress shared across machines: workers write it to Redis, any API process reads it.
Also counts a job's attempts, so a job redelivered after a worker died runs at most twice."""

from __future__ import annotations

import contextlib
import time
from typing import Any

from pipeline.models import ProgressEvent

TTL_S = 24 * 3600
SECONDS_PER_PLATFORM = 1.5  # the first estimate, before a job has finished a platform


def progress_view(total: int, done: int, current: str, elapsed_s: float) -> dict[str, Any]:
    """The seed's progress fields, with the time still expected from the pace so far."""
    per_step = elapsed_s / done if done else SECONDS_PER_PLATFORM
    return {
        "current_platform": current,
        "completed_platforms": done,
        "total_platforms": total,
        "percentage": round(100.0 * done / total, 1) if total else 0.0,
        "estimated_remaining": round(max(0.0, per_step * (total - done)), 1),
    }


class ProgressBoard:
    """`socialopt:progress:<sid>` hashes and `socialopt:attempts:<sid>` counters in Redis."""

    def __init__(self, url: str, *, client: Any = None) -> None:
        import redis

        self.r = client or redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3)

    def start(self, session_id: str, total: int) -> None:
        key = f"socialopt:progress:{session_id}"
        self.r.hset(key, mapping={"total": total, "done": 0, "current": "", "t0": time.time()})
        self.r.expire(key, TTL_S)

    def update(self, session_id: str, event: ProgressEvent) -> None:
        key = f"socialopt:progress:{session_id}"
        fields: dict[str, Any] = {}
        if event.total:
            fields["total"] = event.total
        if event.platform:
            fields["current"] = event.platform
        pipe = self.r.pipeline()
        if fields:
            pipe.hset(key, mapping=fields)
        pipe.hget(key, "done")
        done = pipe.execute()[-1]
        if event.done > int(done or 0):
            self.r.hset(key, "done", event.done)

    def callback(self, session_id: str) -> Any:
        """A ProgressFn that writes here (never failing the job when Redis hiccups)."""

        def report(event: ProgressEvent) -> None:
            with contextlib.suppress(Exception):  # progress is cosmetic
                self.update(session_id, event)

        return report

    def live(self, session_id: str) -> dict[str, Any] | None:
        """`view`, or None when Redis does not answer: progress is cosmetic, the session row
        still says where the job is."""
        try:
            return self.view(session_id)
        except Exception:  # noqa: BLE001
            return None

    def view(self, session_id: str) -> dict[str, Any] | None:
        data = {
            k.decode(): v.decode()
            for k, v in self.r.hgetall(f"socialopt:progress:{session_id}").items()
        }
        if not data:
            return None
        return progress_view(
            int(data.get("total", 0)),
            int(data.get("done", 0)),
            data.get("current", ""),
            time.time() - float(data.get("t0", time.time())),
        )

    def attempt(self, session_id: str) -> int:
        """This run's attempt number for the session (1 the first time)."""
        key = f"socialopt:attempts:{session_id}"
        n = int(self.r.incr(key))
        self.r.expire(key, TTL_S)
        return n
