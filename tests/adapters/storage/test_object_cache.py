"""The training cache (adapters/storage/object_cache.py) on local disk: the bound over entries and reservations, least
recently used evicted first, a file over the bound refused by name, one fetch of an entry by several processes at
once with no half-written file ever visible, a dead writer's reservation reclaimed, an entry evicted before its read
fetched again."""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from pathlib import Path

import pytest

from adapters.storage.object_cache import FETCH_LOG, TMP, Cache, CacheFullError, entry_name
from tests.fixtures.readback import fetched_bytes, used_bytes


def _bytes(n: int, fill: int) -> bytes:
    return bytes([fill]) * n


def _put(cache: Cache, name: str, data: bytes) -> Path:
    return cache.put(name, len(data), lambda fd: os.write(fd, data), what=f"s3://b/{name}")


def test_least_recently_used_entries_go_first_and_the_bound_holds(tmp_path: Path) -> None:
    cache = Cache(tmp_path, max_bytes=300)
    for name in ("a", "b", "c"):
        _put(cache, name, _bytes(100, ord(name)))
        time.sleep(0.01)  # distinct mtimes
    assert cache.lookup("a") is not None  # a is now the most recently used
    time.sleep(0.01)
    _put(cache, "d", _bytes(100, 1))
    assert cache.lookup("b") is None and all(cache.lookup(n) for n in ("a", "c", "d"))
    assert used_bytes(cache) == 300
    _put(cache, "e", _bytes(250, 2))  # evicts until it fits: c, a, d in their order of use
    assert [n for n in "acde" if cache.lookup(n)] == ["e"] and used_bytes(cache) == 250
    assert fetched_bytes(cache) == 4 * 100 + 250


def test_a_file_over_the_bound_is_refused_by_name(tmp_path: Path) -> None:
    cache = Cache(tmp_path, max_bytes=50)
    with pytest.raises(CacheFullError, match=r"s3://b/big: 51 bytes exceed the training cache bound of 50"):
        _put(cache, "big", _bytes(51, 0))
    assert not list((tmp_path / TMP).iterdir())


def test_a_failed_write_leaves_no_entry_and_no_reservation(tmp_path: Path) -> None:
    cache = Cache(tmp_path, max_bytes=100)

    def half(fd: int) -> None:
        os.write(fd, b"x" * 10)
        raise ConnectionError("the store hung up")

    with pytest.raises(ConnectionError):
        cache.put("x", 40, half, what="s3://b/x")
    assert cache.lookup("x") is None and used_bytes(cache) == 0
    with pytest.raises(OSError, match="wrote 10 bytes, expected 40"):
        cache.put("x", 40, lambda fd: os.write(fd, b"y" * 10) and os.ftruncate(fd, 10), what="s3://b/x")
    assert cache.lookup("x") is None and not (tmp_path / FETCH_LOG).exists()


def _worker(root: str, n: int, start: mp.synchronize.Event, out: mp.Queue) -> None:
    cache = Cache(root, max_bytes=10_000)
    start.wait()

    def slow(fd: int) -> None:
        for _ in range(10):
            os.write(fd, b"z" * (n // 10))
            time.sleep(0.01)  # a half-written file exists for a while: nobody may see it as the entry

    path = cache.put("shared", n, slow, what="s3://b/shared")
    out.put(path.read_bytes() == b"z" * n)


def test_processes_wanting_one_entry_fetch_it_once_and_never_see_it_half_written(tmp_path: Path) -> None:
    ctx = mp.get_context("fork")
    start, out = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(str(tmp_path), 1000, start, out)) for _ in range(3)]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(30)
    assert [out.get(timeout=5) for _ in procs] == [True, True, True]
    cache = Cache(tmp_path, max_bytes=10_000)
    assert fetched_bytes(cache) == 1000  # one fetch for three readers
    assert not list((tmp_path / TMP).iterdir())


def test_a_dead_writers_reservation_is_reclaimed(tmp_path: Path) -> None:
    cache = Cache(tmp_path, max_bytes=100)
    ctx = mp.get_context("fork")
    p = ctx.Process(target=os.getpid)
    p.start()
    p.join()
    dead = tmp_path / TMP / f"other.{p.pid}.1"
    with open(dead, "wb") as f:
        f.truncate(90)  # a SIGKILLed worker's reservation
    assert used_bytes(cache) == 90
    _put(cache, "a", _bytes(50, 1))
    assert not dead.exists() and used_bytes(cache) == 50


def test_an_entry_evicted_before_its_read_is_fetched_again(tmp_path: Path) -> None:
    cache = Cache(tmp_path, max_bytes=100)
    fetches = []

    def fetch() -> Path:
        fetches.append(1)
        return _put(cache, "a", _bytes(10, 7))

    def read(path: Path) -> bytes:
        if len(fetches) == 1:
            path.unlink()  # another worker evicts it between lookup and open
        return path.read_bytes()

    assert cache.use("a", fetch, read) == _bytes(10, 7) and len(fetches) == 2


def test_entry_names_change_with_the_version_and_the_projection() -> None:
    a = entry_name("s3://b/d/latents/e.safetensors", "etag1")
    assert a.endswith(".safetensors") and a != entry_name("s3://b/d/latents/e.safetensors", "etag2")
    p = entry_name("s3://b/d/data/e.parquet", "etag1", "action,observation.state")
    assert p.endswith(".parquet") and p != entry_name("s3://b/d/data/e.parquet", "etag1", "action")
