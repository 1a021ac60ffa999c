"""SIGTERM and Ctrl-C end `eidata ingest` with one line and the shell's status (143, 130), and the output resumes
(issue 38 item 6; before, SIGTERM aborted in Ray's handler with a stack dump, exit -6, and Ctrl-C ended in a
KeyboardInterrupt traceback). The signal is sent once the job has started writing (`datasets/` appears; one episode
in flight, so the job is far from done); Ctrl-C goes to the job's whole process group, as a terminal sends it. The rerun
gives the uninterrupted run's dataset files."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import ClassVar

import pytest

from jobs import cli
from jobs.cli import main
from jobs.ingest.job import run_ingest
from jobs.runtime.stops import Stopped, armed, rearm, stopped
from jobs.spec import load_spec
from schemas.corpus import FINISHED
from tests import processes
from tests.jobs.demo_reference import demo_spec, hashes

REPO = Path(__file__).resolve().parents[3]
ENV = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0", "PYTHONUNBUFFERED": "1"}


def _children(pid: int) -> list[str]:
    """The child processes of `pid` (Linux /proc)."""
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return []


def _cmdline(pid: str) -> str:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_text()
    return "watcher"  # gone


@pytest.mark.shared_ray  # tests/ray_scope.py: the rerun; the stopped job runs its own Ray in its own process
@pytest.mark.parametrize(
    ("sig", "group", "when"),
    [
        # slow: ~16 s quiet (a Ray job in its own process, then the rerun); make test keeps the handler itself
        # (test_armed_raises_stopped_and_puts_the_handlers_back): Stopped raised, handlers put back, 143 / 130
        pytest.param(signal.SIGTERM, False, "writing", marks=pytest.mark.slow),
        # slow: ~20 s quiet, 37-58 s at load 34; make test keeps the SIGTERM case, the same handler on the same path
        pytest.param(signal.SIGINT, True, "writing", marks=pytest.mark.slow),
        # slow: as above; issue 59: Ctrl-C once exited 1 with a SystemError traceback. While embedded Ray starts (its
        # first process spawned by the job), and in Ray's wait (test_ctrl_c_in_ray_wait_is_a_stop keeps that one)
        pytest.param(signal.SIGINT, True, "ray-start", marks=pytest.mark.slow),
    ],
    ids=["term", "ctrl-c", "ctrl-c-ray-start"],
)
def test_a_signal_ends_the_job_in_one_line_and_the_rerun_resumes(
    sig: signal.Signals, group: bool, when: str, reference: Path, raw: dict[str, Path], tmp_path: Path
) -> None:
    spec = demo_spec(tmp_path, raw, max_in_flight=1)
    cmd = [sys.executable, "-m", "jobs.cli", "ingest", str(spec)]
    with processes.group(cmd, cwd=REPO, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as job:
        deadline = time.monotonic() + 180
        # the first process the command starts besides its watcher (adapters.hostile.watcher)
        first = lambda: any("watcher" not in _cmdline(c) for c in _children(job.pid))  # noqa: E731
        started = first if when == "ray-start" else (tmp_path / "corpus/datasets").exists
        while not started() and job.poll() is None:
            assert time.monotonic() < deadline, f"the job did not reach {when} in 180 s"
            time.sleep(0.02)
        if group:
            processes.kill_group(job, sig)
        else:
            os.kill(job.pid, sig)
        _, err = job.communicate(timeout=120)
    status = 128 + sig
    assert job.returncode == status, err[-3000:]
    assert err.strip().splitlines()[-1] == (
        f"eidata ingest: stopped by {sig.name} (exit {status}); what was committed stays and nothing is half-written:"
        " rerun the same command to resume"
    )
    assert "Traceback" not in err and "received" not in err, err[-3000:]  # no traceback, no Ray stack dump
    assert not (tmp_path / "corpus" / FINISHED).exists()  # stopped part way

    run_ingest(load_spec(spec), progress=False)
    assert hashes(tmp_path / "corpus") == hashes(reference)


def test_armed_raises_stopped_and_puts_the_handlers_back() -> None:
    before = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    with pytest.raises(Stopped) as e, armed():
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # as Ray's core worker puts its own handler
        rearm()
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler raises in this thread before the sleep ends
    assert (e.value.signum, e.value.status) == (signal.SIGTERM, 143)
    assert {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)} == before


@pytest.mark.shared_ray
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "term"])
def test_a_signal_in_ray_wait_is_a_stop(sig: signal.Signals) -> None:
    """Issue 59: Ctrl-C in `ray.wait` exited 1 with `SystemError: <cyfunction CoreWorker.wait> returned a result with
    an exception set`: Ray's signal check caught only KeyboardInterrupt and left our exception set. `Stopped` is a
    KeyboardInterrupt now; Ray raises its own in its place, which `stopped` reads as the signal received."""
    import ray

    @ray.remote
    def slow() -> int:
        time.sleep(30)
        return 1

    ref = slow.remote()
    try:
        with pytest.raises(KeyboardInterrupt) as e, armed():
            rearm()
            threading.Timer(1.0, os.kill, (os.getpid(), sig)).start()
            ray.wait([ref], timeout=20)
        assert not isinstance(e.value, SystemError)
        stop = stopped(e.value)
        assert stop is not None and (stop.signum, stop.status) == (sig, 128 + sig)
    finally:
        ray.cancel(ref, force=True)


def test_stopped_reads_a_stop_however_it_came_up() -> None:
    stop = Stopped(signal.SIGTERM)
    try:
        raise SystemError("<cyfunction CoreWorker.wait> returned a result with an exception set") from stop
    except SystemError as e:
        over = e
    assert stopped(over) is stop and stopped(stop) is stop
    with armed():  # a job armed anew has received no signal yet
        pass
    try:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise RuntimeError("while winding down") from None
    except RuntimeError as e:
        assert e.__context__ is not None and stopped(e).status == 130  # no signal received: Ctrl-C's
    assert stopped(ValueError("an episode's error")) is None and stopped(None) is None
    # once a stop was received, an extension's own error in its place is the stop (DuckDB: "Query interrupted")
    from jobs.runtime import stops

    with pytest.raises(Stopped), armed():
        stops._stop(signal.SIGTERM, None)
    assert stopped(RuntimeError("Query interrupted")).status == 143
    with armed():  # a new block: nothing received
        pass
    assert stopped(RuntimeError("Query interrupted")) is None


def test_main_ends_a_stop_under_an_error_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The traceback issue 59 saw, through `eidata`: a SystemError raised over a stop is the stop (exit 130, one
    line); Ray's own KeyboardInterrupt too."""

    def raising(error: BaseException) -> None:
        def run(args: object) -> int:
            if isinstance(error, SystemError):
                raise error from Stopped(signal.SIGINT)
            raise error

        monkeypatch.setitem(cli.COMMANDS, "inspect", dataclasses.replace(cli.COMMANDS["inspect"], run=run))

    for error in (SystemError("returned a result with an exception set"), KeyboardInterrupt()):
        raising(error)
        assert main(["inspect", "."]) == 130
        assert capsys.readouterr().err == (
            "eidata inspect: stopped by SIGINT (exit 130); what was committed stays and nothing is half-written: rerun"
            " the same command to resume\n"
        )


def test_a_stopped_process_ends_once_the_line_is_said() -> None:
    """`eidata` as the process's command: after the stop's line the process ends with its status, its teardown (here
    an atexit hook standing for a Ray core worker's) skipped; what it logged and printed is flushed."""
    code = (
        "import atexit, dataclasses, signal, sys\n"
        "from jobs import cli\n"
        "from jobs.runtime.stops import Stopped\n"
        "def run(args):\n"
        "    print('half the work', end='')\n"
        "    raise SystemError('returned a result with an exception set') from Stopped(signal.SIGTERM)\n"
        "cli.COMMANDS['inspect'] = dataclasses.replace(cli.COMMANDS['inspect'], run=run)\n"
        "atexit.register(lambda: print('TEARDOWN', file=sys.stderr))\n"
        "sys.argv = ['eidata', 'inspect', '.']\n"
        "sys.exit(cli.main())\n"
    )
    run = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert run.returncode == 143 and run.stdout == "half the work", run.stderr[-2000:]
    assert run.stderr.startswith("eidata inspect: stopped by SIGTERM (exit 143)") and "TEARDOWN" not in run.stderr


class _HeldStart(threading.Timer):
    """A timer whose first `start` holds the calling thread 0.3 s once the timer's thread runs, as a loaded machine
    holds the main thread waiting in `Thread.start` inside the unraisable hook while the timer fires."""

    held: ClassVar[list[bool]] = [True]

    def start(self) -> None:
        super().start()
        if self.held[0]:
            self.held[0] = False
            time.sleep(0.3)


@pytest.mark.parametrize("loaded", [False, True], ids=["quiet", "hook-held"])
def test_a_stop_raised_where_python_drops_exceptions_is_raised_again(
    loaded: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The handler runs wherever the main thread is at a safe point, a weakref callback or a `__del__` included, and
    Python drops what those raise ("Exception ignored in ..."): `eidata report` went on after SIGTERM until the
    watcher killed it, 2 runs in 7 (issue 75). The dropped stop is raised again at the next safe point, also when
    the signal sent again finds the main thread still inside the hook (lost there: 1 run of this test in 4 under load
    failed so before; `hook-held` makes that case every run)."""
    import weakref

    if loaded:
        monkeypatch.setattr(_HeldStart, "held", [True])
        monkeypatch.setattr(threading, "Timer", _HeldStart)

    from jobs.runtime import stops

    class Held:
        pass

    with pytest.raises(Stopped) as got, armed():
        held = Held()
        keep = weakref.ref(held, lambda _: stops._stop(signal.SIGTERM, None))  # the signal lands in the callback
        del held  # the callback runs here; its Stopped is dropped
        for _ in range(200):  # the command goes on (2 s): the stop must come back within it
            time.sleep(0.01)
        assert keep is not None
    assert got.value.status == 143


def test_a_stop_inside_a_native_module_s_init_waits_for_its_end(monkeypatch: pytest.MonkeyPatch) -> None:
    """SIGTERM while a C extension's module init runs Python (`import duckdb` makes its enums from nanobind's C++)
    raised `Stopped` there and the process aborted (SIGABRT, no line: the long tier's `export gr00t` SIGTERM test). The
    stop is held until the init is done, then raised."""
    import importlib.machinery
    import os

    from jobs.runtime import stops

    monkeypatch.setattr(stops, "NATIVE_S", 60.0)  # the init's 0.3 s never reaches the cap, however loaded the machine
    done: list[bool] = []

    class Native(importlib.machinery.ExtensionFileLoader):
        def exec_module(self, module: object) -> None:  # a module init that calls back into Python as the signal lands
            os.kill(os.getpid(), signal.SIGTERM)
            for _ in range(30):
                time.sleep(0.01)
            done.append(True)

    with pytest.raises(Stopped) as got, armed():
        Native("native", "native.so").exec_module(None)
        for _ in range(200):  # the command goes on (2 s): the stop must come within it
            time.sleep(0.01)
    assert done == [True] and got.value.status == 143
