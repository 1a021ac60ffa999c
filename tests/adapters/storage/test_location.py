"""Locations without a server: local paths and `file://` URLs stay pathlib paths (the adapters' local behaviour is
unchanged), object URLs become UPaths carrying the options registered for their root, folder listings are typed by
the listing itself, the path-only fallback copies an object into the bounded cache once. Object-store reads
against a real S3 server: tests/s3/test_sources.py, tests/s3/test_reads.py."""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path

import fsspec
import pytest
from upath import UPath

from adapters.storage.location import Location, is_object, locate
from schemas.faults import environment_fault
from schemas.storage import StorageOptions


def test_local_paths_and_file_urls_stay_pathlib(tmp_path: Path) -> None:
    for where in (tmp_path, str(tmp_path), f"file://{tmp_path}"):
        loc = locate(where)
        assert isinstance(loc, type(tmp_path)) and loc == tmp_path and not is_object(loc)


def test_object_urls_carry_the_options_given_and_their_children_too() -> None:
    options = StorageOptions(endpoint_url="http://127.0.0.1:2", access_key_id="inner")
    loc = locate("s3://bucket/a/b/c.mp4", options)
    assert isinstance(loc, UPath) and is_object(loc) and str(loc) == "s3://bucket/a/b/c.mp4"
    assert loc.storage_options["endpoint_url"] == "http://127.0.0.1:2" and loc.storage_options["key"] == "inner"
    assert locate(loc) is loc
    child = locate("s3://bucket/a", options) / "b" / "c.mp4"
    assert child.storage_options["key"] == "inner"  # a path made from a located root keeps its credential
    assert "endpoint_url" not in locate("s3://bucket/a/b/c.mp4").storage_options  # nothing remembered globally


def _tree(make_file: object, root: str) -> None:
    for rel, data in (("a.bin", b"12345"), ("d/c.bin", b"1"), ("e/f/g.bin", b"22")):
        make_file(f"{root}/{rel}", data)  # type: ignore[operator]


def test_scan_types_entries_from_the_listing_locally_and_on_a_filesystem(tmp_path: Path) -> None:
    def local_file(path: str, data: bytes) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_bytes(data)

    _tree(local_file, str(tmp_path))
    memory = fsspec.filesystem("memory")
    _tree(memory.pipe_file, "/scan-test")
    for root in (tmp_path, locate("memory://scan-test")):
        entries = sorted(locate(root).scan(), key=lambda e: e.name)
        assert [(e.name, e.is_dir) for e in entries] == [("a.bin", False), ("d", True), ("e", True)]
        assert [e.path for e in entries] == [root / "a.bin", root / "d", root / "e"]
        with pytest.raises(NotADirectoryError):
            locate(root / "a.bin").scan()
        with pytest.raises(FileNotFoundError):
            locate(root / "missing").scan()
    assert sorted(e.name for e in locate(tmp_path).scan()) == sorted(os.listdir(tmp_path))


def test_local_reads_keep_the_library_s_own_io(tmp_path: Path) -> None:
    path = tmp_path / "x.bin"
    path.write_bytes(b"abcdef")
    with locate(path).readable() as src:
        assert src == str(path)  # the library opens the path itself, as before
    with locate(str(path)).open_binary() as f:
        f.seek(2)
        assert f.read(3) == b"cde"
    assert locate(path).local_path() == path


def test_local_path_copies_an_object_once_into_the_bounded_cache() -> None:
    memory = fsspec.filesystem("memory")
    memory.pipe_file("/cache-test/rec.vrs", b"v" * 1000)
    with Location.metering() as meter:
        first = locate("memory://cache-test/rec.vrs").local_path()
        again = locate("memory://cache-test/rec.vrs").local_path()
    assert first == again and first.read_bytes() == b"v" * 1000
    assert first.parent.name.startswith("eidata-cache-")  # the cache's own temp folder, removed at exit
    assert (meter.fetched, meter.used) == (1000, 1000)  # fetched once


ADAPTERS = Path(__file__).resolve().parents[3] / "adapters"
# what would bypass the Location seam: a builtin open or a scandir of a path (a UPath is not one), h5py on a path, a
# ref's string or a root turned into a pathlib.Path (an s3:// URL becomes "s3:/..."), a VRS reader given a path it
# did not get from `local_path`
BYPASS = re.compile(
    r"(?<![\w.])open\(|os\.scandir\(|h5py\.File\(|\bPath\((root|ref\.|loc\[)|create_vrs_data_provider\(str\((?!\w+\.local_path\(\))"
)
# a library reader given anything but the name `readable` / `open_binary` / a tar member bound (`src`, `f`)
LIBRARY = re.compile(
    r"(pq\.(read_table|ParquetFile|read_metadata|read_schema)|av\.open|pacsv\.read_csv)\((?!src\b|f\b)"
)
OPEN_DECODER = (
    "    c = av.open(str(video) if isinstance(video, (str, Path)) else video)"  # given what `decoding` opened
)


def test_adapters_hand_libraries_only_what_location_opens() -> None:
    found = []
    for path in sorted(ADAPTERS.rglob("*.py")):
        if path.parent.name in ("storage", "hostile", "synthetic"):  # the doors themselves (h5py's, scandir beneath)
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if line.strip().startswith("#") or line == OPEN_DECODER:
                continue
            if BYPASS.search(line) or LIBRARY.search(line):
                found.append(f"{path.relative_to(ADAPTERS)}:{n}: {line.strip()}")
    assert not found, "\n".join(found)


def test_an_object_is_missing_only_when_the_store_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    """fsspec's `isfile` is False for any error; an object's `is_file()` raises when the store does not answer (a
    closed port: connection refused), so an outage never reads as "x is missing" (issue 38)."""
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # botocore's own retries of a refused connection: 8 s otherwise
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening
        options = StorageOptions(endpoint_url=f"http://127.0.0.1:{port}", access_key_id="k", secret_access_key="s")
        loc = locate("s3://raw/demo/episode.parquet", options)
        assert loc.fs.isfile(loc.path) is False  # what fsspec answers
        with pytest.raises(Exception, match="Could not connect to the endpoint URL") as e:
            loc.is_file()
    assert environment_fault(e.value) is not None


def test_an_object_path_made_before_a_fork_reads_in_the_forked_child() -> None:
    """A parse process is forked from its caller (`adapters.hostile.sandbox`) with the caller's located roots: their
    filesystem, made before the fork, refused every call there ("This class is not fork-safe": `eidata validate
    s3://...` failed). The child's path makes its own; the parent's keeps the one it had."""
    loc = locate("s3://bucket/a", StorageOptions(endpoint_url="http://127.0.0.1:2", access_key_id="k"))
    made = loc.fs
    assert made.loop is not None  # made and used in this process
    pid = os.fork()
    if pid == 0:  # pragma: no cover (the child: its exit status is the answer)
        status = 3
        try:
            child = loc / "b.parquet"
            status = 0 if loc.fs is not made and child.fs.loop is not None and loc.fs.loop is not None else 1
        except RuntimeError:
            status = 2
        finally:
            os._exit(status)
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
    assert loc.fs is made
