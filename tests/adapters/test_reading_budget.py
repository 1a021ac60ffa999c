"""The reading budget across adapters (issue 45 item 3): the hidden variants of the review's declared-size bombs, in
the other HDF5 readers, a Zarr store and the JSON sidecars (`tests.fixtures.bombs.DECLARED`). Each is a file of a
few KB that declares gigabytes; each episode is quarantined naming the file, the dataset and the size, and Python's
traced peak stays far below what the file declares (the refusal came before the allocation). The EgoDex and ROS bag
bombs are in their own folders."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from adapters.base import AdapterError
from adapters.registry import get_adapter
from tests.fixtures import bombs

MiB = 1 << 20


@pytest.mark.parametrize("case", sorted(bombs.DECLARED))
def test_a_declared_size_is_refused_before_it_is_allocated(case: str, tmp_path: Path) -> None:
    bomb = bombs.DECLARED[case](tmp_path)
    assert bomb.file.is_dir() or bomb.file.stat().st_blocks * 512 < 2 * MiB  # a few KB on disk
    adapter = get_adapter(bomb.adapter, bomb.options)
    refs = list(adapter.discover(tmp_path))
    assert len(refs) == 1 and refs[0].error is None
    err, peak = bombs.traced(lambda: adapter.read(refs[0]))
    assert isinstance(err, AdapterError) and re.search(bomb.reason, str(err)), err
    assert peak < 64 * MiB
