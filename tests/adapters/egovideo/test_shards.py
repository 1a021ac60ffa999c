"""WebDataset shards (`adapters/egovideo/shards.py`): keys split as webdataset splits them, the index read from
the tar headers in order, a member read through the shard at its offset, never copied out."""

from __future__ import annotations

import tarfile
from pathlib import Path
from unittest import mock

import numpy as np

from adapters.egovideo.adapter import EgoVideoAdapter
from adapters.egovideo.shards import base_plus_ext, index_shard
from adapters.storage.location import locate
from adapters.synthetic.egovideo import EgoFixture
from adapters.synthetic.video import write_mp4


def test_keys_split_as_webdataset_splits_them() -> None:
    assert base_plus_ext("a/b/factory001_worker001_00001.mp4") == ("a/b/factory001_worker001_00001", "mp4")
    assert base_plus_ext("x/clip.seg1.JSON") == ("x/clip", "seg1.json")  # up to the first dot, extension lower-cased
    assert base_plus_ext("noext") is None


def test_shard_index_reads_headers_in_tar_order(shards: EgoFixture) -> None:
    shard = next(c.file for c in shards.clips if c.bad is None)
    samples = index_shard(locate(shard))
    assert [s.key for s in samples] == [c.key for c in shards.clips if c.file == shard]
    assert all({"mp4", "json", "txt"} <= s.members.keys() for s in samples)


def test_a_member_is_read_through_the_shard_not_copied(tmp_path: Path) -> None:
    """A noisy 600 KB mp4 in a shard is demuxed from a window on the tar file in small requests (PyAV's buffer),
    never read whole; every frame still comes out."""
    rng = np.random.default_rng(0)
    video = tmp_path / "noise.mp4"
    write_mp4(video, (rng.integers(0, 255, (64, 64, 3), dtype=np.uint8) for _ in range(60)), 30, crf=10)
    root = tmp_path / "shards"
    root.mkdir()
    with tarfile.open(root / "part0.tar", "w") as tf:
        tf.add(video, "clip_00000.mp4")
    size = video.stat().st_size
    assert size > 200_000
    ref = next(EgoVideoAdapter().discover(root))
    reads: list[int] = []
    real_read = tarfile.ExFileObject.read

    def counting_read(self: tarfile.ExFileObject, n: int = -1) -> bytes:
        data = real_read(self, n)
        reads.append(len(data))
        return data

    with mock.patch.object(tarfile.ExFileObject, "read", counting_read):
        raw = EgoVideoAdapter().read(ref)
        assert len(list(raw.cameras["video"].frames())) == 60
    assert max(reads) <= 64 * 1024 < size
