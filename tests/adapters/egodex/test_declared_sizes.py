"""EgoDex datasets are read through the reading budget (`adapters.hostile.bounds.read_array`; issue 45 item 3): a
340 KB file declaring `transforms/camera` of (80e6, 4, 4) float64 (10 GB of chunks never written) took 3 GiB in 24 s
(reliability review 5); the variant with every transform just within the budget alone and 68 times it together is
refused too, before any dataset is read. The episode is quarantined naming the file, the dataset and the size."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from adapters.base import AdapterError
from adapters.egodex.adapter import EgoDexAdapter
from adapters.synthetic.egodex import write_egodex
from tests.fixtures import bombs
from tests.fixtures.memory_cap import run_capped


def _episode(root: Path) -> tuple[EgoDexAdapter, Path]:
    write_egodex(root, tasks=("basic_pick_place",), episodes_per_task=1, old_episode=False, num_frames=5)
    [hdf5] = sorted(root.rglob("*.hdf5"))
    return EgoDexAdapter(), hdf5


@pytest.mark.parametrize(
    ("rows", "every", "reason", "field"),
    [
        (
            80_000_000,
            False,
            r"largest /transforms/camera \(80000000, 4, 4\)\) size in bytes: 10,240,\d+,\d+ declared, more than",
            "transforms",
        ),
        (
            200_000,
            True,
            r"the 137 transforms and confidences \(the largest /transforms/\w+ \(200000, 4, 4\)\) size in bytes",
            "transforms",
        ),
    ],
)
def test_a_declared_size_bomb_is_refused_before_it_is_read(
    rows: int, every: bool, reason: str, field: str, tmp_path: Path
) -> None:
    adapter, hdf5 = _episode(tmp_path)
    bombs.egodex_declared(hdf5, rows, every=every)
    assert hdf5.stat().st_size < 1 << 20
    [ref] = list(adapter.discover(tmp_path))
    err, peak = bombs.traced(lambda: adapter.read(ref))
    assert isinstance(err, AdapterError) and re.search(reason, str(err)), err
    assert err.file == str(hdf5) and err.field == field
    assert peak < 16 << 20


def test_the_reviews_bomb_stays_under_1_gib(tmp_path: Path) -> None:
    _, hdf5 = _episode(tmp_path)
    bombs.egodex_declared(hdf5, 80_000_000)
    run = run_capped(
        f"""
        from adapters.base import AdapterError
        from adapters.egodex.adapter import EgoDexAdapter
        adapter = EgoDexAdapter()
        [ref] = list(adapter.discover({str(tmp_path)!r}))
        try:
            adapter.read(ref)
            result = None
        except AdapterError as e:
            result = e.reason
        """,
        3 << 30,
        timeout=120,
    )
    assert run.returncode == 0 and "reading budget" in run.result, run.stderr
    assert run.peak_rss < 1 << 30
