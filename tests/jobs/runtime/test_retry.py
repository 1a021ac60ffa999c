"""`retry_environment`: an error of the environment is tried again after each wait of the policy (1, 2, 4 s ... up to
`max_backoff_s`), then raised as it came; an error of the data is raised at once; a fault that passes costs only the
waits (issue 38 item 1)."""

from __future__ import annotations

import errno
import os

import pytest

from jobs.runtime import retry
from jobs.runtime.retry import EnvironmentFaultError, EnvironmentRetry, retry_environment

ENOSPC = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []
    monkeypatch.setattr(retry.time, "sleep", slept.append)
    return slept


def _failing(errors: list[BaseException]):
    calls = []

    def call() -> str:
        calls.append(1)
        if errors:
            raise errors.pop(0)
        return "done"

    call.calls = calls  # type: ignore[attr-defined]
    return call


def test_the_waits_double_up_to_their_bound() -> None:
    assert EnvironmentRetry().waits() == [1, 2, 4, 8, 16]
    assert EnvironmentRetry(retries=7, backoff_s=2, max_backoff_s=30).waits() == [2, 4, 8, 16, 30, 30, 30]
    assert EnvironmentRetry(retries=0).waits() == []


def test_a_fault_that_passes_costs_the_waits_only(waits: list[float]) -> None:
    call = _failing([ENOSPC, ConnectionRefusedError(errno.ECONNREFUSED, "refused")])
    assert retry_environment(call, EnvironmentRetry(), "ep") == "done"
    assert waits == [1, 2]


def test_a_fault_that_persists_is_raised_after_the_last_wait(waits: list[float]) -> None:
    call = _failing([ENOSPC] * 10)
    with pytest.raises(OSError) as e:
        retry_environment(call, EnvironmentRetry(retries=3), "ep")
    assert e.value is ENOSPC and waits == [1, 2, 4] and len(call.calls) == 4


def test_an_error_of_the_data_is_raised_at_once(waits: list[float]) -> None:
    call = _failing([ValueError("timestamps go backwards")])
    with pytest.raises(ValueError, match="backwards"):
        retry_environment(call, EnvironmentRetry(), "ep")
    assert waits == [] and len(call.calls) == 1


def test_the_job_s_error_names_where_why_and_what_to_do() -> None:
    e = EnvironmentFaultError("src/a/1 (stage write)", "OSError: [Errno 28] No space left on device", left="; more")
    assert str(e) == (
        "src/a/1 (stage write): OSError: [Errno 28] No space left on device. The environment failed, not the data:"
        " nothing was quarantined for it; more; rerun the same command once it is fixed (disk space, the store, the"
        " machine)"
    )
