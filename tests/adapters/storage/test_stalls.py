"""A request to the store that is not answered is said while it waits and ends at its deadline (issue 45 item 5):
`adapters.storage.stalls.watched` on a call that never ends. The real s3fs client on a silent endpoint:
test_s3_watched.py; the real paused server: tests/s3/test_stall.py."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import pytest

from adapters.storage.stalls import StoreStalledError, watched
from schemas.faults import environment_fault
from schemas.settings import Settings


def test_a_call_that_never_ends_is_said_then_stopped_at_the_deadline(caplog: pytest.LogCaptureFixture) -> None:
    async def never() -> None:
        await asyncio.Event().wait()

    caplog.set_level(logging.WARNING, "adapters.storage.stalls")
    t0 = time.monotonic()
    with pytest.raises(StoreStalledError, match=r"did not answer get_object s3://b/k within 0.5 s") as e:
        asyncio.run(watched(never(), "get_object s3://b/k", Settings(store_progress_s=0.15, store_deadline_s=0.5)))
    assert 0.5 <= time.monotonic() - t0 < 5.0  # a loaded machine delays the loop, never the deadline's floor
    lines = [r.getMessage() for r in caplog.records]
    # a line each 0.15 s until 0.5 s: 3 on a quiet machine, fewer when the loop is starved (seen in a loaded suite)
    assert 1 <= len(lines) <= 3 and all("get_object s3://b/k has not answered for" in x for x in lines), lines
    assert environment_fault(e.value) is not None  # a TimeoutError: the environment's, deferred, exit 75


def test_an_answer_in_time_says_nothing(caplog: pytest.LogCaptureFixture) -> None:
    async def soon() -> int:
        await asyncio.sleep(0.05)
        return 7

    assert asyncio.run(watched(soon(), "x", Settings(store_progress_s=1, store_deadline_s=2))) == 7
    assert asyncio.run(watched(soon(), "x", Settings(store_progress_s=0, store_deadline_s=0))) == 7  # plain await
    assert not caplog.records


def test_the_wait_is_the_settings(settings: Any) -> None:
    settings(store_progress_s=0, store_deadline_s=0.2)
    with pytest.raises(StoreStalledError, match=r"within 0.2 s \(store_deadline_s\)"):  # not the default 120 s
        asyncio.run(asyncio.wait_for(watched(asyncio.Event().wait(), "x"), 10))
