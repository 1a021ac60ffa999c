"""Waiting on an object store has a deadline and a voice (issue 45 item 5).

A store that accepts connections and never answers (a paused server, a hung proxy) raises nothing until the client's
own socket timeouts, retried: a paused SeaweedFS held an `s3://` ingest and an export 150 s with not one line logged
(review reliability-5, 5b/5c). Here every request to the store (`watched`, wrapped around each S3 call by
`s3_watched`) says once every `store_progress_s` that it is still waiting, and past `store_deadline_s` raises
`StoreStalledError`, an error of the environment (`faults`): an ingest task retries it, then defers its episode, and
every command ends with exit 75 and one line (`jobs.runtime.retry.EXIT_ENVIRONMENT`): worth running again once the
store answers.

Both are settings (`schemas.settings`), read when a request starts, in whichever process makes it. A line said in a Ray
worker goes to the worker's log and, when `EIDATA_STORE_VOICE` names a file (no setting: the job sets it for its
workers, `jobs.runtime.voice`), is appended there too for the driver to print.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable
from typing import TypeVar

from schemas.faults import say
from schemas.settings import Settings, current

log = logging.getLogger(__name__)

T = TypeVar("T")


class StoreStalledError(OSError):
    """The store did not answer one request within the deadline. An `OSError` as the store's other failures are (what
    catches those, a lease's heartbeat, catches this), but not a `TimeoutError`, which s3fs retries (five times the
    deadline); the environment's by its class name (`faults.toml`: its errno is None)."""

    def __init__(self, what: str, deadline_s: float) -> None:
        self.what, self.deadline_s = what, deadline_s
        super().__init__(
            f"the object store did not answer {what} within {deadline_s:g} s (store_deadline_s); the job is deferred"
        )


async def watched(call: Awaitable[T], what: str, wait: Settings | None = None) -> T:
    """`await call`, saying every `store_progress_s` (of `wait`, default the settings) that `what` is still waiting,
    and raising `StoreStalledError` (the call cancelled) once it has waited `store_deadline_s`."""
    wait = wait or current()
    deadline = wait.store_deadline_s if wait.store_deadline_s > 0 else math.inf
    step = wait.store_progress_s if wait.store_progress_s > 0 else math.inf
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(call)
    t0 = loop.time()
    try:
        while True:
            waited = loop.time() - t0
            timeout = min(step, deadline - waited)
            done, _ = await asyncio.wait({task}, timeout=None if math.isinf(timeout) else max(timeout, 0.0))
            if done:
                return task.result()
            waited = loop.time() - t0
            if waited >= deadline:
                raise StoreStalledError(what, wait.store_deadline_s)
            limit = (
                f"deadline {wait.store_deadline_s:g} s, store_deadline_s" if math.isfinite(deadline) else "no deadline"
            )
            say(f"waiting on the object store: {what} has not answered for {waited:.1f} s ({limit})", log)
    finally:
        if not task.done():
            task.cancel()
