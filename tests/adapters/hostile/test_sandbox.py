"""`hostile.sandbox` and `hostile.limits`: a parse of a source's bytes in a process of its own under the
operating system's memory limit, by each mechanism this machine offers (issue 84 items 1 and 5).

The bombs are libraries' own inflates (numcodecs' GZip, Blosc, Zstd, LZ4, BZ2 chunks, a PNG in OpenCV, `json.loads`
of a document whose objects outgrow it), none of which the tests of the readers' own checks were written from: each
is refused, the parse process peaks within 1.5x the limit, and the file opened last is named."""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from adapters.hostile import limits, sealed
from adapters.hostile.h5 import open_h5
from adapters.hostile.sandbox import Killed, answer
from adapters.hostile.watcher import descendants
from adapters.storage.location import locate
from adapters.synthetic.arrays import write_robomimic
from tests.fixtures import library_bombs as lb

LIMIT_MIB = 128


def _mechanisms() -> list[str]:
    """The mechanisms this machine can use: a cgroup where it offers one, and `RLIMIT_AS` always."""
    return sorted({limits.mechanism(), "RLIMIT_AS"})


@pytest.fixture(params=_mechanisms())
def mechanism(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The cage's mechanism for the test: the machine's own, or `RLIMIT_AS` forced (as a machine without a writable
    cgroup has it)."""
    if request.param == "RLIMIT_AS":
        monkeypatch.setattr(limits, "home", lambda: limits.Home())
    return request.param


def _vm(field: str) -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(field + ":"))


def _inflated(codec: str, path: str) -> float:
    """In the parse process: the bomb chunk at `path` read and decoded; what it added to the address space at its
    peak, MiB, if the decode raised MemoryError (re-raised with that figure), never returning otherwise."""
    compressor, _ = lb.CODECS[codec]
    with open(path, "rb") as f:
        chunk = f.read()
    before = _vm("VmPeak")
    try:
        compressor.decode(chunk)
    except MemoryError as e:
        raise MemoryError(f"added {(_vm('VmPeak') - before) / 2**20:.0f} MiB") from e
    return -1.0


@pytest.mark.parametrize("codec", sorted(lb.CODECS))
def test_a_library_inflate_past_the_limit_is_refused_near_it(mechanism: str, codec: str, tmp_path: Path) -> None:
    """Refused whichever way the mechanism and the codec make it: the cgroup's kill (its peak read back), the failed
    allocation (`RLIMIT_AS`: the address space grew by at most the limit), or the library's own error on a chunk whose
    declared size was reserved but never filled (under a cgroup, untouched space is not use). Never inflated."""
    bomb = tmp_path / f"{codec}.chunk"
    bomb.write_bytes(lb.CODECS[codec][1]())
    assert bomb.stat().st_size < 1 << 20  # small on disk
    try:
        answer(_inflated, codec, str(bomb), mib=LIMIT_MIB, what=f"chunk {codec}")
    except Killed as e:
        assert mechanism != "RLIMIT_AS" and e.oom and e.reading == str(bomb), e
        assert e.peak is not None and e.peak <= 1.5 * LIMIT_MIB, e
        assert f"killed by the memory limit of {LIMIT_MIB} MiB ({mechanism}) reading {bomb}" in str(e)
    except MemoryError as e:
        assert float(str(e).split()[1]) <= 1.5 * LIMIT_MIB, e
    except RuntimeError as e:  # the library's own refusal of the forged header
        assert "decompression" in str(e) or "error" in str(e).lower(), e
    else:
        pytest.fail(f"{codec}: inflated under the limit")


def _touch(mib: int) -> int:
    """In the parse process: `mib` MiB allocated and written (real use, not reserved space)."""
    return int(np.ones(mib << 17).sum()) >> 17


def test_honest_work_under_the_limit_answers(mechanism: str) -> None:
    """A parse using most of its limit is no trip: 96 of 128 MiB really used."""
    assert answer(_touch, 96, mib=LIMIT_MIB, what="honest") == 96


def _parse_json(path: str) -> int:
    with open(path) as f:
        return len(json.load(f))


def test_json_whose_objects_outgrow_the_limit_names_the_document(mechanism: str, tmp_path: Path) -> None:
    """30 MB of `{}` take ~470 MiB as Python objects: past a 64 MiB limit, refused naming the file, whichever way
    (under `RLIMIT_AS` the caller's free heap, which a fork shares, is room the limit does not see: a 3 MB document
    fitted in pytest's)."""
    doc = tmp_path / "episodes.json"
    doc.write_bytes(b"[" + b"{}," * 10_000_000 + b"{}]")
    with pytest.raises((Killed, MemoryError)) as got:
        answer(_parse_json, str(doc), mib=64, what="meta")
    if isinstance(got.value, Killed):
        assert got.value.reading == str(doc) and got.value.oom
    assert answer(_parse_json, str(doc), mib=1024, what="meta") == 10_000_001


def test_an_answer_and_an_error_with_its_cause_come_back() -> None:
    assert answer(sorted, [3, 1, 2], mib=LIMIT_MIB, what="x") == [1, 2, 3]

    def fails() -> None:
        try:
            raise ConnectionResetError("the store hung up")
        except OSError as e:
            raise ValueError("read failed") from e

    with pytest.raises(ValueError, match="read failed") as got:
        answer(fails, mib=None, what="x")
    assert isinstance(got.value.__cause__, ConnectionResetError)  # whose fault it is reads the chain


def test_an_error_that_does_not_pickle_comes_back_as_its_text() -> None:
    class Local(Exception):  # a class defined in a function does not pickle
        pass

    def fails() -> None:
        raise Local("odd")

    with pytest.raises(RuntimeError, match="Local: odd"):
        answer(fails, mib=None, what="x")


def _dies(path: str, sig: int) -> None:
    open(path).close()
    os.kill(os.getpid(), sig)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGABRT, signal.SIGSEGV])
def test_a_death_names_the_signal_and_the_file_it_was_reading(sig: int, tmp_path: Path) -> None:
    """A library's abort or crash is said as what it is, never as the memory limit."""
    (tmp_path / "frames.bin").write_bytes(b"x")
    with pytest.raises(Killed) as got:
        answer(_dies, str(tmp_path / "frames.bin"), sig, mib=LIMIT_MIB, what="episode e")
    e = got.value
    assert e.signum == sig and not e.oom and e.reading == str(tmp_path / "frames.bin"), e
    assert f"ended by {signal.Signals(sig).name} reading {tmp_path / 'frames.bin'}" in str(e)


def _sleeps() -> None:
    time.sleep(600)


def test_the_parse_process_dies_with_its_parent(tmp_path: Path) -> None:
    """A SIGKILLed caller (a worker Ray killed) leaves no parse process behind."""
    r, w = os.pipe()
    caller = os.fork()
    if caller == 0:
        os.close(r)
        pid = os.fork()
        if pid == 0:
            os.write(w, f"{os.getpid()}\n".encode())  # the caller's own stand-in: announce, then parse
            answer(_sleeps, mib=LIMIT_MIB, what="x")
        os._exit(0)
    os.close(w)
    os.waitpid(caller, 0)
    parser_parent = int(os.read(r, 64).decode().split()[0])
    deadline = time.monotonic() + 60
    while not (kids := list(descendants(parser_parent))) and time.monotonic() < deadline:  # until it has forked
        time.sleep(0.05)
    os.kill(parser_parent, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{p}").exists() and _state(p) != "Z" for p in kids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert kids and not [p for p in kids if Path(f"/proc/{p}").exists() and _state(p) != "Z"], kids


def _state(pid: int) -> str:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return "gone"
    return stat[stat.rindex(")") + 2]


def _announces_then_sleeps(path: str) -> None:
    Path(f"{path}.part").write_text(str(os.getpid()))
    os.rename(f"{path}.part", path)  # whole when it appears: a stop sent between the create and the write read ""
    time.sleep(600)


def test_a_stop_in_the_wait_ends_the_parse(tmp_path: Path) -> None:
    """A stop raised while the caller waits (SIGTERM's `Stopped`, here an alarm's error) kills and reaps the parse
    process on the way out, whatever the mechanism (`RLIMIT_AS` has no cgroup to empty)."""

    class Stop(Exception):
        pass

    def raise_stop(signum: int, frame: object) -> None:
        raise Stop

    announced = tmp_path / "pid"
    main = threading.main_thread().ident
    assert main is not None

    def stop_once_announced() -> None:  # the stop comes once the parse runs, however loaded the machine
        deadline = time.monotonic() + 120
        while not announced.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        signal.pthread_kill(main, signal.SIGALRM)

    before = signal.signal(signal.SIGALRM, raise_stop)
    try:
        threading.Thread(target=stop_once_announced, daemon=True).start()
        with pytest.raises(Stop):
            answer(_announces_then_sleeps, str(announced), mib=None, what="x")
    finally:
        signal.signal(signal.SIGALRM, before)
    pid = int(announced.read_text())
    assert not Path(f"/proc/{pid}").exists(), "the parse process outlived its caller's stop"


def _imports(name: str) -> bool:
    importlib.import_module(name)
    return True


def test_what_a_parse_imports_the_next_fork_has() -> None:
    """Each parse process imported the adapter, pandas, PyAV and MuJoCo anew (418 modules, about 1 s of CPU an
    episode: issue 84's 10k rerun measured ingest at 2x the CPU of 00f20645); the caller imports them after."""
    name = "xml.dom.minidom"  # a module nothing in the suite imports at start (checked below)
    sys.modules.pop(name, None)
    assert answer(_imports, name, mib=None, what="x") and name in sys.modules


def _known_at_fork(path: Path) -> bool:
    """In the parse process: whether `path` was known sealed when it was forked; then it is opened through the door
    that checks it."""
    with h5py.File(path, "r") as f:
        known = sealed._identity(f) in sealed._checked
    open_h5(locate(path)).close()
    return known


def test_what_a_parse_process_learnt_of_a_file_is_known_to_the_next(tmp_path: Path) -> None:
    """A file found sealed by one parse process is not walked again by the next the same parent forks (review 10:
    each episode of a 50-demo robomimic file walked its 1,151 objects again, 42 ms of CPU an episode)."""
    path = write_robomimic(tmp_path / "demos.hdf5", [5, 5])
    assert answer(_known_at_fork, path, mib=LIMIT_MIB, what="x") is False
    assert answer(_known_at_fork, path, mib=LIMIT_MIB, what="x") is True
