"""The read-only path view of an object: what a library that opens by path (rosbags) is handed."""

from __future__ import annotations

from pathlib import Path

import pytest
from upath import UPath

from adapters.storage.location import metering
from adapters.storage.pathlike import ObjectPath, path_like


def test_a_local_path_is_handed_over_as_it_is(tmp_path: Path) -> None:
    assert path_like(tmp_path) is tmp_path


def test_an_object_reads_through_the_metered_reader() -> None:
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
