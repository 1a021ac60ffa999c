"""`jobs.runtime.intent`: the marker a lineage-then-catalog step leaves while it runs (issue 45 item 4). The kills at
each point of `eidata verdicts` are tests/jobs/verdicts/test_interrupted.py; here the marker's own rules."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from jobs.runtime.intent import CatalogIntent, CatalogPendingError, Marker, markers, refuse_pending


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_begin_records_the_command_and_done_removes_it(tmp_path: Path) -> None:
    intent = CatalogIntent.begin(tmp_path, "verdicts")
    [found] = markers(tmp_path)
    assert found.command == "verdicts" and found.pid == os.getpid() and found.host == socket.gethostname()
    assert json.loads(found.path.read_text())["command"] == "verdicts" and intent.inherited == []
    with pytest.raises(CatalogPendingError, match=r"`eidata verdicts` did not finish.*Run `eidata catalog corpus/`"):
        refuse_pending(tmp_path, "corpus/", "query")
    intent.done()
    assert markers(tmp_path) == []
    refuse_pending(tmp_path, "corpus/", "query")  # nothing pending: no error


def test_a_dead_runs_marker_is_inherited_and_cleared_a_live_ones_is_kept(tmp_path: Path) -> None:
    folder = tmp_path / "catalog"
    folder.mkdir()
    dead = folder / ".pending-verdicts-dead.json"
    dead.write_text(json.dumps({"command": "verdicts", "pid": _dead_pid(), "host": socket.gethostname()}))
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (folder / ".pending-latents-live.json").write_text(
            json.dumps({"command": "latents", "pid": live.pid, "host": socket.gethostname()})
        )
        (folder / ".pending-caption-torn.json").write_text("{")  # a torn marker counts, as `?`
        intent = CatalogIntent.begin(tmp_path, "verdicts")
        assert sorted(m.command for m in intent.inherited) == ["?", "latents", "verdicts"]
        intent.done()
        assert [m.command for m in markers(tmp_path)] == ["latents"]  # the live run's marker stays
    finally:
        live.kill()
        live.wait()


def test_a_marker_of_another_host_or_this_process_is_not_live() -> None:
    assert not Marker(Path("x"), "verdicts", os.getpid(), "another-host").live()
    assert not Marker(Path("x"), "verdicts", os.getpid(), socket.gethostname()).live()
    assert not Marker(Path("x"), "verdicts", _dead_pid(), socket.gethostname()).live()
