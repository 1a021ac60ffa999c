"""Locations without a server: local paths and `file://` URLs stay pathlib paths (the adapters' local behaviour is
unchanged), object URLs become UPaths carrying the options registered for their root, folder listings are typed by
the listing itself, the path-only fallback copies an object into the bounded cache once, and a library that opens by
path (rosbags) is handed a local path as it is or an object's read-only view. Object-store reads
against a real S3 server: tests/s3/test_sources.py, tests/s3/test_reads.py."""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path

import fsspec
import pytest
from upath import UPath

from adapters.storage.faults import environment_fault
from adapters.storage.location import (
    NotRegularFile,
    ObjectPath,
    is_object,
    local_path,
    locate,
    metering,
    open_binary,
    path_like,
    readable,
    scan,
    special_kind,
)
from schemas.storage import StorageOptions


def test_local_paths_and_file_urls_stay_pathlib(tmp_path: Path) -> None:
    for where in (tmp_path, str(tmp_path), f"file://{tmp_path}"):
        loc = locate(where)
        assert type(loc) is type(tmp_path) and loc == tmp_path and not is_object(loc)


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
        entries = sorted(scan(root), key=lambda e: e.name)
        assert [(e.name, e.is_dir) for e in entries] == [("a.bin", False), ("d", True), ("e", True)]
        assert [e.path for e in entries] == [root / "a.bin", root / "d", root / "e"]
        with pytest.raises(NotADirectoryError):
            scan(root / "a.bin")
        with pytest.raises(FileNotFoundError):
            scan(root / "missing")
    assert sorted(e.name for e in scan(tmp_path)) == sorted(os.listdir(tmp_path))


def test_local_reads_keep_the_library_s_own_io(tmp_path: Path) -> None:
    path = tmp_path / "x.bin"
    path.write_bytes(b"abcdef")
    with readable(path) as src:
        assert src == str(path)  # the library opens the path itself, as before
    with open_binary(str(path)) as f:
        f.seek(2)
        assert f.read(3) == b"cde"
    assert local_path(path) == path


def test_local_path_copies_an_object_once_into_the_bounded_cache() -> None:
    memory = fsspec.filesystem("memory")
    memory.pipe_file("/cache-test/rec.vrs", b"v" * 1000)
    with metering() as meter:
        first = local_path("memory://cache-test/rec.vrs")
        again = local_path("memory://cache-test/rec.vrs")
    assert first == again and first.read_bytes() == b"v" * 1000
    assert first.parent.name.startswith("eidata-cache-")  # the cache's own temp folder, removed at exit
    assert (meter.fetched, meter.used) == (1000, 1000)  # fetched once


ADAPTERS = Path(__file__).resolve().parents[3] / "adapters"
# what would bypass the Location seam: a builtin open or a scandir of a path (a UPath is not one), h5py on a path, a
# ref's string or a root turned into a pathlib.Path (an s3:// URL becomes "s3:/..."), a VRS reader given a path it
# did not get from `local_path`
BYPASS = re.compile(
    r"(?<![\w.])open\(|os\.scandir\(|h5py\.File\(|\bPath\((root|ref\.|loc\[)|create_vrs_data_provider\(str\((?!local_path)"
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


@pytest.mark.timeout(60)  # the old code's open of the FIFO waited for ever
def test_a_special_file_is_refused_before_any_library_opens_it(tmp_path: Path) -> None:
    """Review 7 i06: an open of a FIFO waits for a writer for ever. `readable` (every library's door) refuses a FIFO
    and a socket, naming them, as the data's; a file, a folder and a missing path pass to the library's own errors."""
    fifo, sock_path = tmp_path / "episode_1.parquet", tmp_path / "s.mcap"
    os.mkfifo(fifo)
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(sock_path))
    try:
        for path, kind in ((fifo, "a FIFO"), (sock_path, "a socket")):
            assert special_kind(path) == kind
            with pytest.raises(NotRegularFile, match=f"{re.escape(str(path))}: not a regular file \\({kind}\\)"):
                with readable(path):
                    pass
            with pytest.raises(NotRegularFile):
                local_path(path)  # a library that opens by path (VRS) is refused it alike
            with pytest.raises(NotRegularFile):
                path_like(tmp_path)  # and one that opens a folder's files by path (rosbags), the folder holding it
            assert environment_fault(NotRegularFile(path, kind)) is None
    finally:
        sock.close()
    (tmp_path / "ok.bin").write_bytes(b"x" * 200)
    assert [special_kind(tmp_path / p) for p in ("ok.bin", ".", "gone")] == [None, None, None]
    with readable(tmp_path / "ok.bin") as src:
        assert src == str(tmp_path / "ok.bin")


def test_path_like_hands_a_local_path_over_as_it_is(tmp_path: Path) -> None:
    assert path_like(tmp_path) is tmp_path


def test_path_like_reads_an_object_through_the_metered_reader() -> None:
    root = UPath("memory://pathlike-test/bags")
    (root / "run").mkdir(parents=True, exist_ok=True)
    (root / "run" / "metadata.yaml").write_text("rosbag2_bagfile_information: {}\n")
    (root / "run" / "x.mcap").write_bytes(b"\x89MCAP0\r\n" + b"\0" * 100)
    view = path_like(root / "run")
    assert isinstance(view, ObjectPath) and view.is_dir() and (view / "x.mcap").exists()
    assert (view / "metadata.yaml").read_text().startswith("rosbag2_bagfile_information")
    with metering() as meter, (view / "x.mcap").open("rb") as f:
        assert f.read(8) == b"\x89MCAP0\r\n"
    assert meter.used == 8 and meter.size == 108  # counted as every object read is
    with pytest.raises(PermissionError, match="read only"):
        (view / "x.mcap").open("wb")
