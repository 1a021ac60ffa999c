"""HDF5 rows that were never written are refused naming the file, the dataset and the rows (issue 55 item 5), where
h5py would read them as the dataset's fill value without a word: chunks never written and contiguous datasets with no
storage allocated, found from the chunk index at the door every HDF5 dataset is read through (`bounds.read_array`;
AgiBot Genie's low-level per-frame reads check themselves), and turned into the adapter's error by the read wrapper
every adapter has (`adapters.hostile.isolated.flagged_first`). Files are written here with h5py; the planted ones are
the makers' layouts (the synthetic writers) with one dataset re-created and partly written. A fully written file is
never flagged: every dataset of the real HDF5 samples is checked."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from adapters.base import AdapterError
from adapters.hostile import bounds
from adapters.hostile.absent import AbsentData, h5_unwritten
from adapters.hostile.h5 import dataset_paths
from adapters.registry import get_adapter
from adapters.synthetic.agibot import EpisodeSpec as AgibotSpec
from adapters.synthetic.agibot import write_agibot
from adapters.synthetic.egodex import write_egodex
from adapters.synthetic.robomind import EpisodeSpec as RoboMINDSpec
from adapters.synthetic.robomind import write_robomind
from tests.adapters.arrays.conftest import ROBOSUITE
from tests.adapters.arrays.test_real_isaaclab import ISAACLAB, MIMIC
from tests.fixtures.agibot_genie import GenieSpec, write_genie_sim
from tests.fixtures.writers.arrays import write_isaaclab
from tests.realdata import realdata

AGIBOT_REAL = "agibot_proprio_stats_real/proprio_stats.h5"


def _unwrite(path: Path, key: str, written: int, chunk_rows: int | None = 4) -> np.ndarray:
    """`key` in `path` re-created with its shape and dtype, only its first `written` rows written (chunks of
    `chunk_rows` rows; None: contiguous, whose storage a write of no rows never allocates). Returns the old values."""
    with h5py.File(path, "r+") as f:
        old = f[key][()]
        del f[key]
        chunks = None if chunk_rows is None else (chunk_rows, *old.shape[1:])
        ds = f.create_dataset(key, shape=old.shape, dtype=old.dtype, chunks=chunks, fillvalue=0)
        if written:
            ds[:written] = old[:written]
    return old


def test_chunks_never_written_are_named_with_their_rows(tmp_path: Path) -> None:
    with h5py.File(tmp_path / "f.h5", "w") as f:
        a = f.create_dataset("a", shape=(100, 3), chunks=(10, 3), dtype="f4", fillvalue=-1.0)
        a[:25] = 1.0  # chunks 0..2 written: rows 30..99 never were
        f.create_dataset("contiguous", shape=(5,), dtype="f8")
        f.create_dataset("gzip", data=np.arange(40.0).reshape(20, 2), chunks=(3, 2), compression="gzip")
        dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        dcpl.set_layout(h5py.h5d.COMPACT)
        f.create_dataset("compact", data=np.arange(4.0), dcpl=dcpl)
        f["scalar"], f["empty"], f["whole"] = 3.0, np.zeros((0, 2)), np.ones((4, 2))
    with h5py.File(tmp_path / "f.h5") as f:
        with pytest.raises(AbsentData) as err:
            bounds.read_array(f["a"])
        msg = str(err.value)
        assert msg.startswith(f"/a in {tmp_path / 'f.h5'}: 70 of rows 0..99 lie in chunks never written (rows 30..99)")
        assert "fill value -1.0; not read" in msg
        assert (err.value.file, err.value.dataset) == (str(tmp_path / "f.h5"), "/a")
        assert np.all(f["a"][30:] == -1.0)  # what h5py would have returned: the fill value, silently
        assert bounds.read_array(f["a"], 0, 30).shape == (30, 3)  # rows 25..29 were written as the fill value
        with pytest.raises(AbsentData, match=r"rows 40\.\.59 lie in chunks never written \(rows 40\.\.59\)"):
            bounds.read_array(f["a"], 40, 60)
        with pytest.raises(AbsentData, match=r"/contiguous in .*: no storage was ever allocated \(rows 0\.\.4"):
            bounds.read_array(f["contiguous"])
        for key in ("gzip", "compact", "scalar", "empty", "whole"):
            bounds.read_array(f[key])  # written: not flagged
            h5_unwritten(f[key].id)  # the low-level id too


def test_an_isaac_lab_demo_with_unwritten_actions_is_refused_the_others_read(tmp_path: Path) -> None:
    path = write_isaaclab(tmp_path / "stack.hdf5", [40, 40])
    _unwrite(path, "data/demo_1/actions", 8)
    adapter = get_adapter("arrays")
    refs = {r.raw_id: r for r in adapter.discover(tmp_path)}
    assert adapter.read(refs["stack.hdf5/demo_0"]).actions["actions"].values.shape == (40, 7)
    with pytest.raises(AdapterError) as err:
        adapter.read(refs["stack.hdf5/demo_1"])
    msg = str(err.value)
    assert f"file {path}" in msg and "episode stack.hdf5/demo_1" in msg
    assert f"/data/demo_1/actions in {path}: 32 of rows 0..39 lie in chunks never written (rows 8..39)" in msg


def _refused(name: str, root: Path, dataset: str, rows: str) -> None:
    adapter = get_adapter(name)
    refs = list(adapter.discover(root))
    assert refs and all(r.error is None for r in refs), [r.error for r in refs]
    with pytest.raises(AdapterError) as err:
        for ref in refs:
            adapter.read(ref)
    assert (err.value.field or "").lstrip("/") == dataset.lstrip("/"), (err.value.field, str(err.value))
    assert err.value.file is not None and err.value.file.endswith((".h5", ".hdf5")), err.value.file
    assert f"{dataset} in " in str(err.value) and rows in str(err.value), str(err.value)


def test_agibot_proprio_state_never_allocated(tmp_path: Path) -> None:
    write_agibot(tmp_path, [AgibotSpec(5, 1, 20)], height=32, width=48)
    _unwrite(tmp_path / "proprio_stats/5/1/proprio_stats.h5", "state/joint/position", 0, chunk_rows=None)
    _refused("agibot", tmp_path, "/state/joint/position", "no storage was ever allocated (rows 0..19")


def test_egodex_transform_rows_never_written(tmp_path: Path) -> None:
    write_egodex(tmp_path, tasks=("basic_pick_place",), episodes_per_task=1, old_episode=False, num_frames=20)
    [hdf5] = sorted(tmp_path.rglob("*.hdf5"))
    _unwrite(hdf5, "transforms/camera", 12)
    _refused("egodex", tmp_path, "/transforms/camera", "(rows 12..19)")


def test_robomind_joints_never_written(tmp_path: Path) -> None:
    [ep] = write_robomind(tmp_path, [RoboMINDSpec("agilex_3rgb", "task_agilex", "1014_144600", 40)]).values()
    _unwrite(ep.path, "puppet/joint_position_left", 20, chunk_rows=10)
    _refused("robomind", tmp_path, "/puppet/joint_position_left", "(rows 20..39)")


def test_agibot_genie_per_frame_dataset_never_allocated(tmp_path: Path) -> None:
    write_genie_sim(tmp_path, [GenieSpec(num_frames=24, videos=False)])
    [path] = sorted(tmp_path.rglob("aligned_joints.h5"))
    _unwrite(path, "7/state/joint/position", 0, chunk_rows=None)
    _refused("agibot_genie", tmp_path, "/7/state/joint/position", "no storage was ever allocated")


@pytest.mark.parametrize("sample", [ROBOSUITE, AGIBOT_REAL, ISAACLAB, MIMIC])
def test_real_files_fully_written_are_not_flagged(sample: str) -> None:
    path = realdata(sample)
    if path is None:
        pytest.skip(f"real sample absent: {sample}")
    with h5py.File(path) as f:
        keys = dataset_paths(f)
        for key in keys:
            h5_unwritten(f[key])  # raises on a false positive
    assert len(keys) >= 8
