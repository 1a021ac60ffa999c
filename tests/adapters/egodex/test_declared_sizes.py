"""EgoDex datasets declaring more than the file holds (issue 45 item 3; reliability review 5): a 340 KB file
declaring `transforms/camera` of (80e6, 4, 4) float64 (10 GB of chunks never written) took 3 GiB in 24 s; the variant
with every transform of 200k rows. Both are refused before any value is read, their rows never written
(`adapters.hostile.bounds.read_array`): the episode is quarantined naming the file and the dataset. A dataset really
written that large is the parse process's memory limit's (`tests/adapters/hostile/test_caged_bombs.py`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.egodex.adapter import EgoDexAdapter
from adapters.synthetic.egodex import write_egodex
from tests.fixtures import bombs


@pytest.mark.parametrize("rows, every", [(80_000_000, False), (200_000, True)])
def test_a_declared_size_bomb_is_refused_before_it_is_read(rows: int, every: bool, tmp_path: Path) -> None:
    write_egodex(tmp_path, tasks=("basic_pick_place",), episodes_per_task=1, old_episode=False, num_frames=5)
    [hdf5] = sorted(tmp_path.rglob("*.hdf5"))
    bombs.egodex_declared(hdf5, rows, every=every)
    assert hdf5.stat().st_size < 1 << 20
    adapter = EgoDexAdapter()
    [ref] = list(adapter.discover(tmp_path))
    got = bombs.caged(adapter, ref)
    reason = rf"/transforms/camera in .*: {rows} of rows 0\.\.{rows - 1} lie in chunks never written"
    bombs.assert_refused(got, hdf5, reason)
    assert got is not None and got.file == str(hdf5) and got.peak is None  # its own refusal: the limit untouched
