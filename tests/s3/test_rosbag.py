"""ROS bags in a bucket of the real S3 server read as from local disk: the real Interbotix recordings (ROS 1 `.bag`, a
ROS 2 MCAP folder and a sqlite3 folder: `rosbag_interbotix`) and the synthetic camera bag, put under a
prefix and discovered and read from `s3://` by an adapter that carries the store's options
(`get_adapter(name, options, storage)`): the same refs, and per episode every stream, finding and camera frame
bit for bit (`tests.store_cases.compare_source`). A truncated bag is refused with the same reason either way. Every
read is a ranged read through `adapters.storage.location.path_like`, rosbags' sqlite3 plugin included."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.adapters.rosbag.conftest import write_bag
from tests.adapters.rosbag.test_adapter import OPTIONS
from tests.adapters.rosbag.test_real import INTERBOTIX
from tests.realdata import realdata
from tests.s3.server import S3Server
from tests.store_cases import compare_source, put_url


def test_real_bags_from_the_bucket_read_as_from_disk(s3: S3Server, prefix: str, tmp_path: Path) -> None:
    folder = tmp_path / "robots"
    shutil.copytree(realdata(INTERBOTIX), folder, ignore=shutil.ignore_patterns("*.md"))
    broken = folder / "broken" / "cut.bag"  # the WidowX 200 bag cut in half: its index and the rest are gone
    broken.parent.mkdir()
    whole = (realdata(INTERBOTIX) / "wx200_waist_diagnostics_12s.bag").read_bytes()
    broken.write_bytes(whole[: len(whole) // 2])
    url = put_url(folder, f"s3://raw/{prefix}/robots", s3.options())
    refs, listed, meter = compare_source("rosbag", None, folder, url, (url, str(folder)), storage=s3.options())
    kinds = {r.raw_id: r.locator["kind"] for r in refs}
    wx200 = "wx200_waist_diagnostics_12s"
    assert kinds == {
        "broken/cut.bag": "ros1",
        f"{wx200}.bag": "ros1",
        f"{wx200}_mcap": "ros2 folder",
        f"{wx200}_db3": "ros2 folder",
        "wx250_duck_dunk.bag": "ros1",
    }
    print(f"interbotix bags: discover {listed}, read {meter}")
    assert 0 < meter.fetched <= meter.size, meter  # no byte of a bag fetched twice (2.5 of 2.5 MB, 8 GETs)


def test_camera_frames_from_a_bag_in_the_bucket_are_the_local_ones(s3: S3Server, prefix: str, tmp_path: Path) -> None:
    folder = tmp_path / "lab"
    write_bag(folder / "table" / "episode_0")
    url = put_url(folder, f"s3://raw/{prefix}/lab", s3.options())
    refs, _, meter = compare_source("rosbag", OPTIONS, folder, url, (url, str(folder)), storage=s3.options())
    assert [r.raw_id for r in refs] == ["table/episode_0"]  # its two cameras compared frame by frame (`same`)
    print(f"synthetic camera bag: read {meter}")
    assert meter.fetched > 0
