"""Every bomb the reading budget of issue 45 was written for, and instances of each class it was not, read by their
adapter in a parse process under the memory limit, as an ingest reads an episode (issue 84 item 5; the budget is
gone): bag chunks inflating to gigabytes (ROS 1 bz2 and lz4, MCAP zstd and lz4, honest or lying about their size),
HDF5 and Zarr arrays declaring gigabytes (never written, or written as gzip chunks of zeros), a sparse JSON sidecar or
`.zattrs`, a video frame of 8192x8192. Each is refused naming the file: by the memory limit (the quarantine's reason
is the kill's, with the limit and the file; the parse process peaks within 1.5x the limit), or first by a reader's
own check of what the file claims (chunks never written, a chunk inflating to other than its declared size, a
sidecar past its limit). The ROS bag and OXE step bombs at the review's own sizes are in their adapters' folders."""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np
import pytest
import zarr

from adapters.cameras import VideoFileCamera
from adapters.hostile.sandbox import answer
from adapters.registry import get_adapter
from adapters.source_adapter import SourceAdapter
from adapters.storage.location import locate
from adapters.synthetic.egodex import write_egodex
from adapters.synthetic.video import write_mp4
from tests.fixtures import bombs

MiB = 1 << 20
CASES = {**bombs.REVIEW, **bombs.VARIANTS, **bombs.DECLARED}


def _read(bomb: bombs.Bomb, root: Path) -> bombs.Refusal | None:
    adapter = get_adapter(bomb.adapter, bomb.options)
    refs = answer(lambda: list(adapter.discover(root)), mib=bombs.LIMIT_MIB, what="discovery")
    assert refs and all(r.error is None for r in refs), refs
    got = [bombs.caged(adapter, ref) for ref in refs]
    return next((g for g in got if g is not None), None)


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_bomb_is_refused_naming_its_file(case: str, tmp_path: Path) -> None:
    bomb = CASES[case](tmp_path)
    assert bomb.file.is_dir() or bomb.file.stat().st_blocks * 512 < 20 * MiB  # small on disk
    got = _read(bomb, tmp_path)
    if bomb.reason == "written":  # not a bomb: a bag whose times or statistics lie, read from what it holds
        assert got is None
    else:
        bombs.assert_refused(got, bomb.file, bomb.reason)


def test_an_hdf5_dataset_written_as_gzip_zeros_is_refused_by_the_limit(tmp_path: Path) -> None:
    """EgoDex's `transforms/camera` honestly declaring and holding 200 MiB, stored as gzip chunks of zeros (200 KB
    on disk): every chunk is written, so only the limit stops it."""
    write_egodex(tmp_path, tasks=("basic_pick_place",), episodes_per_task=1, old_episode=False, num_frames=5)
    [hdf5] = sorted(tmp_path.rglob("*.hdf5"))
    rows = 200 * MiB // 128
    with h5py.File(hdf5, "r+") as f:
        del f["transforms/camera"]
        ds = f.create_dataset("transforms/camera", (rows, 4, 4), "f8", chunks=(rows // 8, 4, 4), compression="gzip")
        for k in range(8):
            ds[k * rows // 8 : (k + 1) * rows // 8] = 0.0
    assert hdf5.stat().st_size < 2 * MiB
    bombs.assert_refused(_read(bombs.Bomb("egodex", {}, hdf5, bombs.BY_LIMIT, rows * 128), tmp_path), hdf5)


def _errors(adapter: SourceAdapter, root: Path) -> list[str]:
    return [str(r.error) for r in adapter.discover(root) if r.error is not None]


def test_a_sparse_zattrs_is_refused_by_the_limit(tmp_path: Path) -> None:
    """zarr reads a `.zattrs` whole when the store opens: a sparse 2 GiB one (nothing on disk) is refused at the
    discovery before a byte is read, by the JSON_BYTES limit every JSON document of a source is held to (at e7043c41
    by the parse process's memory limit, once zarr had read it), the store flagged naming the file and the setting."""
    path = tmp_path / "replay_buffer.zarr"
    g = zarr.open_group(path, mode="w", zarr_format=2)
    g.create_array("meta/episode_ends", data=np.array([10], np.int64))
    g.create_array("data/action", data=np.ones((10, 2)))
    g.create_array("data/state", data=np.ones((10, 2)))
    os.truncate(path / "data/action/.zattrs", 2 << 30)
    adapter = get_adapter("arrays", {"layout": "diffusion_policy", "fps": 10})
    got, errors = bombs.caged_call(_errors, adapter, tmp_path)
    assert got is None and len(errors) == 1, (got, errors)
    assert f"{path}/data/action/.zattrs size in bytes" in errors[0] and "max_json_bytes" in errors[0], errors


def _first_frame(path: Path) -> None:
    for _ in VideoFileCamera(locate(path), "cam", None).frames([0]):
        pass


def test_a_video_frame_past_the_limit_is_refused_naming_the_video(tmp_path: Path) -> None:
    """One 8192x8192 frame (194 KB of H.264 on disk, 192 MiB as RGB): decoded within 1 GiB, refused within 128 MiB
    naming the mp4."""
    mp4 = tmp_path / "big.mp4"
    assert write_mp4(mp4, [np.zeros((8192, 8192, 3), np.uint8)], 30, preset="ultrafast", threads=1) == 1
    assert bombs.caged_call(_first_frame, mp4, mib=1024) == (None, None)
    bombs.assert_refused(bombs.caged_call(_first_frame, mp4)[0], mp4)
