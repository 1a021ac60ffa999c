"""`flocked`: refused at once when told, waited for otherwise, released at the block's end; a folder locks itself."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from adapters.storage.corpus import Corpus
from adapters.storage.locks import flocked


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
