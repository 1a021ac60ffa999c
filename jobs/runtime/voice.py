"""What a Ray worker says about the environment reaches the driver's stderr (issue 45 item 5).

Jobs start Ray with `log_to_driver=False` (the workers' own output is noise), so a worker's "waiting on the object
store" or "trying again" line went to its log file under Ray's session folder, and the user of a stalled ingest saw
nothing. `VoiceRelay.start` names a file in `EIDATA_STORE_VOICE` before Ray starts (the workers inherit it), the
workers append their lines to it, and a thread of the driver prints each new line of another process as a warning
every `POLL_S` until `stop`. On a cluster the file must be where every node writes (the job's shared output).
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from schemas.settings import VOICE_ENV

log = logging.getLogger(__name__)

POLL_S = 0.5


@dataclass
class VoiceRelay:
    path: Path
    previous: str | None
    offset: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    @classmethod
    def start(cls, folder: Path | None = None) -> VoiceRelay:
        """Relay the lines appended to a new file in `folder` (default: the temp folder) while the job runs."""
        base = Path(folder) if folder is not None else Path(tempfile.gettempdir())
        base.mkdir(parents=True, exist_ok=True)
        path = base / f".eidata-voice-{os.getpid()}-{uuid.uuid4().hex[:8]}.log"
        path.touch()
        relay = cls(path, os.environ.get(VOICE_ENV))
        os.environ[VOICE_ENV] = str(path)
        relay._thread = threading.Thread(target=relay._run, name="eidata-voice", daemon=True)
        relay._thread.start()
        return relay

    def _run(self) -> None:
        while not self._stop.wait(POLL_S):
            self.drain()

    def drain(self) -> None:
        """Print the whole lines appended since the last drain, but this process's own (logged already)."""
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except OSError:
            return
        end = data.rfind(b"\n") + 1
        self.offset += end
        mine = f"(pid {os.getpid()})"
        for line in data[:end].decode("utf-8", errors="replace").splitlines():
            if line and not line.endswith(mine):
                log.warning("worker: %s", line)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.drain()
        if self.previous is None:
            os.environ.pop(VOICE_ENV, None)
        else:
            os.environ[VOICE_ENV] = self.previous
        self.path.unlink(missing_ok=True)
