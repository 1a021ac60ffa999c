"""A Ray worker's lines about the environment reach the driver (`jobs.runtime.voice`): a real second process (a
stand-in for a worker: it inherits the driver's environment as embedded Ray's workers do) says a store line through
`schemas.faults.say`; the driver's relay logs it as a warning within its poll, its own lines are not
repeated, and `stop` removes the file and restores the environment."""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path

import pytest

from jobs.runtime.voice import POLL_S, VoiceRelay
from schemas.faults import say
from schemas.settings import VOICE_ENV
from tests.processes import run_group

REPO = Path(__file__).resolve().parents[3]


def test_a_worker_s_line_is_printed_by_the_driver(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    relay = VoiceRelay.start(tmp_path)
    try:
        assert os.environ[VOICE_ENV] == str(relay.path)
        code = "from schemas.faults import say; say('waiting on the object store: GetObject s3://b/k')"
        assert run_group([sys.executable, "-c", code], timeout=60, cwd=REPO).returncode == 0
        say("the driver's own line")  # logged once, by the driver itself
        deadline = time.monotonic() + 10 * POLL_S
        while not any(r.name == "jobs.runtime.voice" for r in caplog.records) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        relay.stop()
    relayed = [r.getMessage() for r in caplog.records if r.name == "jobs.runtime.voice"]
    assert len(relayed) == 1 and relayed[0].startswith("worker: waiting on the object store: GetObject s3://b/k (pid ")
    assert sum("the driver's own line" in r.getMessage() for r in caplog.records) == 1
    assert VOICE_ENV not in os.environ and not relay.path.exists()
