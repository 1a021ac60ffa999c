"""A RoboMIND HDF5 dataset's declared shape is checked before it is read (reliability review 1j): a 244 KB file whose
`puppet/joint_position_left` declares (4e7, 7) rows of a never-written chunked dataset is refused naming the field and
its cameras' frame count, within a memory budget, where the reader allocated 2 x 2.2 GB."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import h5py
import pytest

from adapters.base import AdapterError
from adapters.robomind.adapter import RoboMINDAdapter
from adapters.synthetic.robomind import EpisodeSpec, write_robomind
from tests.fixtures.memory_cap import run_capped

CAP = 3 << 30
BUDGET = 700 << 20


def _agilex(root: Path, rows: int, field: str = "puppet/joint_position_left", *, written: bool = False) -> Path:
    [ep] = write_robomind(root, [EpisodeSpec("agilex_3rgb", "task_agilex", "1014_144600", 40)]).values()
    with h5py.File(ep.path, "r+") as f:
        del f[field]
        ds = f.create_dataset(field, shape=(rows, 7), dtype="f8", chunks=(min(rows, 1024), 7))  # declared
        if written:  # else never written (and refused so, `adapters.hostile.absent`, once within the bound)
            ds[:] = 0.1
    return ep.path


def test_a_row_count_bomb_is_refused_within_a_memory_budget(tmp_path: Path) -> None:
    path = _agilex(tmp_path / "root", 40_000_000)
    assert path.stat().st_size < 1 << 20
    run = run_capped(
        f"""
        from adapters.base import AdapterError
        from adapters.robomind.adapter import RoboMINDAdapter
        adapter = RoboMINDAdapter()
        [ref] = list(adapter.discover({str(tmp_path / "root")!r}))
        try:
            adapter.read(ref)
            result = None
        except AdapterError as e:
            result = [e.field, e.reason]
        """,
        CAP,
    )
    assert run.returncode == 0, run.stderr
    field, reason = run.result
    assert field == "puppet/joint_position_left"
    assert reason == "rows: 40,000,000 declared, more than the cameras' 40 frames + frame_tolerance (42); not read"
    assert run.peak_rss < BUDGET


def test_rows_within_the_cameras_frames_are_read(tmp_path: Path) -> None:
    """The bound is the cameras' frames plus the tolerance `_cameras` already allows, so no valid file is refused."""
    _agilex(tmp_path / "root", 41, written=True)  # one row more than the frames: within frame_tolerance
    adapter = RoboMINDAdapter()
    [ref] = list(adapter.discover(tmp_path / "root"))
    ep = adapter.read(ref)
    assert len(ep.states["puppet.joint_position_left"]) == 41


def test_a_camera_declaring_more_frames_than_the_limit_is_refused(tmp_path: Path, settings: Any) -> None:
    settings(max_rows=30)
    _agilex(tmp_path / "root", 40)
    adapter = RoboMINDAdapter()
    [ref] = list(adapter.discover(tmp_path / "root"))
    with pytest.raises(AdapterError, match="40 frames: 40 declared, more than the ROWS limit") as err:
        adapter.read(ref)
    assert err.value.field.startswith("observations/rgb_images/")
