"""One oracle process for the whole test session instead of one per call: each call started a Python that imported
lerobot, torch and datasets again (5-6 s of CPU for lerobot 0.6.1's, 3.6 s for 0.3.3's), and `make test` makes two
dozen calls. Standard library only: the server side runs in the oracle's own venv (Python 3.12 for lerobot 0.6.1),
where it is imported by the oracle script from its own folder.

Server (`lerobot_oracle.py serve FD`, `lerobot_v30_oracle.py serve FD`): imports lerobot and torch once, then reads
one JSON argv per stdin line, runs the script's own `main(argv)` in a forked child with its stdout captured, and
answers on file descriptor FD with one JSON line: the exit code (an exception is code 1 with its traceback,
`SystemExit` its code, a child killed by a signal its negative number) and the last line `main` printed, which is
what a process of its own would have printed last. Its other output (lerobot's logs, stderr) goes to a log file.

Client (`OracleProcess`, used by `tests/oracle/fixture.py` and `fixture_v30.py`): starts the server on first use and
again after one died or was killed at a call's timeout, and fails a call with the messages a process per call gave.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import select
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any


def serve_forever(main: Callable[[list[str]], int], reply_fd: int, warm: tuple[str, ...]) -> None:
    """Import the `warm` modules once, then run each call in a forked child of this process: every call starts
    from the state a fresh process has after those imports (the oracles' spies and patches do not pile up), without
    paying for them again."""
    for name in warm:
        importlib.import_module(name)
    with os.fdopen(reply_fd, "w") as reply:
        for line in sys.stdin:
            read, write = os.pipe()
            pid = os.fork()
            if pid == 0:  # the call's own process
                os.close(read)
                os._exit(_call(main, json.loads(line), write))
            os.close(write)
            with os.fdopen(read) as answer:
                text = answer.read()
            _, status = os.waitpid(pid, 0)
            code = os.waitstatus_to_exitcode(status)
            reply.write(text if text else json.dumps({"code": code or 1, "last": None}) + "\n")
            reply.flush()


def _call(main: Callable[[list[str]], int], argv: list[str], write: int) -> int:
    out, error = io.StringIO(), ""
    try:
        with contextlib.redirect_stdout(out):
            code = main(argv)
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except Exception:
        code, error = 1, traceback.format_exc()
    sys.stderr.write(error)
    sys.stderr.flush()
    lines = out.getvalue().strip().splitlines()
    with os.fdopen(write, "w") as answer:
        answer.write(json.dumps({"code": code, "last": lines[-1] if lines else None}) + "\n")
    return 0


class OracleFailed(Exception):
    """A call that a process of its own would have ended with a failure: the message says which and why."""


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


class OracleProcess:
    """`label`: how messages name the oracle; `cmd`: the interpreter and script; `log`: where its output goes."""

    def __init__(self, label: str, cmd: list[str], env: dict[str, str], log: Path) -> None:
        self.label, self.cmd, self.env, self.log = label, cmd, env, log
        self.proc: subprocess.Popen[bytes] | None = None
        self.reply_fd = -1

    def _start(self) -> None:
        # imported here: the oracle's own process imports this module as a file of its folder, without `tests`
        from tests.processes import start

        read, write = os.pipe()
        with self.log.open("ab") as log:
            self.proc = start(
                [*self.cmd, "serve", str(write)],
                env=self.env,
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=log,
                pass_fds=(write,),
            )
        os.close(write)
        self.reply_fd = read

    def stop(self) -> None:
        """End the server and any call it runs (its process group): at the session's end, at a call's timeout, and
        after the server died."""
        if self.proc is None:
            return
        from tests.processes import kill_group  # imported here: see _start

        proc, self.proc = self.proc, None
        kill_group(proc)
        proc.wait()
        with contextlib.suppress(OSError):
            proc.stdin.close()  # type: ignore[union-attr]
        os.close(self.reply_fd)

    def run(self, args: tuple[Any, ...], timeout: float) -> dict[str, Any]:
        """The JSON object the oracle printed last for `args`; `OracleFailed` as a process of its own would fail."""
        if self.proc is None or self.proc.poll() is not None:
            self.stop()
            self._start()
        assert self.proc is not None and self.proc.stdin is not None
        start = self.log.stat().st_size
        argv = [str(a) for a in args]
        buf = b""
        try:
            self.proc.stdin.write((json.dumps(argv) + "\n").encode())
            self.proc.stdin.flush()
            deadline = time.monotonic() + timeout
            while b"\n" not in buf:
                ready, _, _ = select.select([self.reply_fd], [], [], max(0.0, deadline - time.monotonic()))
                if not ready:
                    self.stop()
                    tail = self._since(start)
                    raise OracleFailed(f"{self.label} {argv[:1]} timed out after {timeout} s; stderr:\n{tail}")
                chunk = os.read(self.reply_fd, 1 << 16)
                if not chunk:
                    break
                buf += chunk
        except BrokenPipeError:
            pass
        if b"\n" not in buf:  # the process died during the call
            code = self.proc.wait()
            self.stop()
            raise OracleFailed(f"{self.label} {' '.join(argv)} exited {code}; stderr:\n{self._since(start)}")
        reply = json.loads(buf)
        if reply["code"] != 0:
            raise OracleFailed(f"{self.label} {' '.join(argv)} exited {reply['code']}; stderr:\n{self._since(start)}")
        if reply["last"] is None:
            raise OracleFailed(f"{self.label} {argv[:1]} printed nothing; stderr:\n{self._since(start)}")
        return json.loads(reply["last"])

    def _since(self, offset: int) -> str:
        with self.log.open("rb") as f:
            f.seek(offset)
            return _tail(f.read().decode(errors="replace"))
