"""Special files refused at every door a library opens a file by (review 7 i06)."""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path

import pytest

from adapters.storage.location import locate
from adapters.storage.special import NotRegularFile, special_kind
from schemas.faults import environment_fault


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
                with locate(path).readable():
                    pass
            with pytest.raises(NotRegularFile):
                locate(path).local_path()  # a library that opens by path (VRS) is refused it alike
            with pytest.raises(NotRegularFile):
                locate(tmp_path).path_like()  # one that opens a folder's files by path (rosbags): the folder holding it
            assert environment_fault(NotRegularFile(path, kind)) is None
    finally:
        sock.close()
    (tmp_path / "ok.bin").write_bytes(b"x" * 200)
    assert [special_kind(tmp_path / p) for p in ("ok.bin", ".", "gone")] == [None, None, None]
    with locate(tmp_path / "ok.bin").readable() as src:
        assert src == str(tmp_path / "ok.bin")
