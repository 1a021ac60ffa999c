"""`flocked`: refused at once when told, waited for otherwise (a long wait said, naming the holder), released at the
block's end; a folder locks itself."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from adapters.storage.corpus import Corpus
from adapters.storage.locks import flocked
from adapters.storage.root import Root

REPO = Path(__file__).resolve().parents[3]


def test_flocked_refuses_a_second_holder_when_told_and_frees_at_the_end(tmp_path: Path) -> None:
    lock = tmp_path / "rebuild.lock"
    with flocked(lock, lambda: RuntimeError("busy")):
        with pytest.raises(RuntimeError, match="busy"), flocked(lock, lambda: RuntimeError("busy")):
            pass
    with flocked(lock, lambda: RuntimeError("busy")), flocked(tmp_path):  # released; a folder locks itself
        assert sorted(p.name for p in tmp_path.iterdir()) == ["rebuild.lock"]  # no lock file for the folder


def test_flocked_without_busy_waits_for_the_holder(tmp_path: Path) -> None:
    lock, held, order = tmp_path / "cache.lock", threading.Event(), []

    def hold() -> None:
        with flocked(lock):
            held.set()
            time.sleep(0.3)
            order.append("released")

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(5)
    with flocked(lock):  # another open file description: the flock conflicts, so this waits
        order.append("taken")
    holder.join()
    assert order == ["released", "taken"]


def test_a_corpus_locks_a_file_of_its_folder_and_a_second_holder_waits(tmp_path: Path) -> None:
    """`Corpus.locked` (the catalog rebuild's and a manifest folder's lock): the same flock, named from the corpus."""
    corpus, order = Corpus(tmp_path), []

    def second() -> None:
        with Corpus(tmp_path).locked("manifests"):
            order.append("second")

    (tmp_path / "manifests").mkdir()
    with corpus.locked("manifests"):
        thread = threading.Thread(target=second)
        thread.start()
        thread.join(0.3)
        order.append("first")
    thread.join(10)
    assert order == ["first", "second"]


HOLD = """
import sys
from pathlib import Path

from adapters.storage.locks import flocked
from adapters.storage.root import Root

path = Path(sys.argv[1])
if sys.argv[2] == "Root.lock":
    fd = Root(path.parent).lock(path.name)
    print("held", flush=True)
    sys.stdin.readline()  # held until the test says
else:
    with flocked(path):
        print("held", flush=True)
        sys.stdin.readline()
"""


@pytest.mark.parametrize(
    ("how", "folder"), [("flocked", False), ("flocked", True), ("Root.lock", False)], ids=["file", "folder", "root"]
)
def test_a_wait_says_so_naming_the_holder(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, how: str, folder: bool
) -> None:
    """Issue 97 item 5: a command that waited on another's lock printed nothing. Another process holds the lock
    until told (a block's lock, a folder's, a dataset writer's through `Root.lock`); the waiter says once what it
    waits for and who holds it: the record the holder wrote into the lock file (its pid, command, since when), or for
    a folder, which holds no record, the pid and command line the kernel's lock table names."""
    lock = tmp_path / ("manifests" if folder else "cache.lock")
    if folder:
        lock.mkdir()
    script = tmp_path / "hold.py"
    script.write_text(HOLD)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen(
        [sys.executable, str(script), str(lock), how],
        cwd=REPO,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    taken = threading.Event()

    def second() -> None:
        if how == "Root.lock":
            os.close(Root(tmp_path).lock(lock.name))
        else:
            with flocked(lock):
                pass
        taken.set()

    waiter = threading.Thread(target=second, daemon=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "held"
        waiter.start()
        deadline = time.monotonic() + 60  # said after a second of waiting; the holder holds until told
        while not (said := [r.getMessage() for r in caplog.records if "waiting for" in r.getMessage()]):
            assert time.monotonic() < deadline, "the waiter said nothing"
            time.sleep(0.05)
        assert not taken.is_set()
        [line] = said
        assert line.startswith(f"waiting for {lock}, held by pid {child.pid} (")
        assert f"hold.py {lock} {how}" in line and (folder or " UTC)" in line)
    finally:
        assert child.stdin is not None
        child.stdin.write("\n")
        child.stdin.close()
        child.wait(60)
    waiter.join(60)
    assert taken.is_set() and len([r for r in caplog.records if "waiting for" in r.getMessage()]) == 1
