"""A library that opens by path (rosbags) is handed a local path as it is or an object's read-only view."""

from __future__ import annotations

from pathlib import Path

import pytest
from upath import UPath

from adapters.storage.location import Location, locate
from adapters.storage.object_path import ObjectPath


def test_path_like_hands_a_local_path_over_as_it_is(tmp_path: Path) -> None:
    loc = locate(tmp_path)
    assert loc.path_like() is loc


def test_path_like_reads_an_object_through_the_metered_reader() -> None:
    root = UPath("memory://pathlike-test/bags")
    (root / "run").mkdir(parents=True, exist_ok=True)
    (root / "run" / "metadata.yaml").write_text("rosbag2_bagfile_information: {}\n")
    (root / "run" / "x.mcap").write_bytes(b"\x89MCAP0\r\n" + b"\0" * 100)
    view = locate(root / "run").path_like()
    assert isinstance(view, ObjectPath) and view.is_dir() and (view / "x.mcap").exists()
    assert (view / "metadata.yaml").read_text().startswith("rosbag2_bagfile_information")
    with Location.metering() as meter, (view / "x.mcap").open("rb") as f:
        assert f.read(8) == b"\x89MCAP0\r\n"
    assert meter.used == 8 and meter.size == 108  # counted as every object read is
    with pytest.raises(PermissionError, match="read only"):
        (view / "x.mcap").open("wb")
