"""Compression bombs and lying time ranges in bags (reliability review 5, 1a-1c and 1g-1j; issue 45 item 3).

Every chunk rosbags inflates goes through the reading budget (`adapters.hostile.bounds.inflate`): an MCAP chunk that
declares more than the budget is refused before anything is allocated, one that inflates past what it declares stops
one byte after it and is refused (ROS 1: the chunk header's `size`, which rosbags itself never reads). The episode is
quarantined with a reason naming the file, the chunk and the size; the job goes on. The fast tests shrink the budget
to 8 MiB and the bombs to 200 MiB (tracemalloc's peak proves no more than the budget was held); the review's own
sizes run in a child process under an address-space cap, with its peak RSS held under 1 GiB.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from adapters.base import AdapterError
from adapters.rosbag.adapter import RosbagAdapter
from jobs.catalog.query import run_query
from jobs.ingest.job import run_ingest
from jobs.spec import load_spec
from tests.fixtures import bombs
from tests.fixtures.memory_cap import run_capped

BUDGET = 8 << 20
MiB = 1 << 20

CASES: dict[str, tuple[Callable[[Path], Path], str]] = {
    # name -> (build under a root, what the reason says)
    "mcap zstd, honest 200 MiB": (
        lambda d: bombs.mcap_chunk_bomb(d / "ep.mcap", "zstd", 200 * MiB),
        r"MCAP zstd chunk size in bytes: 209,715,200 declared, more than the reading budget",
    ),
    "mcap lz4, honest 200 MiB": (
        lambda d: bombs.mcap_chunk_bomb(d / "ep.mcap", "lz4", 200 * MiB),
        r"MCAP lz4 chunk size in bytes: 209,715,200 declared, more than the reading budget",
    ),
    "mcap zstd, declares 1 MiB": (
        lambda d: bombs.mcap_chunk_bomb(d / "ep.mcap", "zstd", 200 * MiB, declared=MiB),
        r"Chunk size mismatch: expected 1048576 bytes, got 1048577",
    ),
    "mcap lz4, declares 1 MiB": (
        lambda d: bombs.mcap_chunk_bomb(d / "ep.mcap", "lz4", 200 * MiB, declared=MiB),
        r"Chunk size mismatch: expected 1048576 bytes, got 1048577",
    ),
    "db3 zstd message, 200 MiB": (
        lambda d: next(bombs.db3_message_bomb(d / "bag", 200 * MiB).glob("*.db3")),
        r"TooLarge: zstd-compressed message inflated size in bytes: 8,388,609 reached",
    ),
    "ros1 bz2, 200 MiB": (
        lambda d: bombs.ros1_chunk_bomb(d / "ep.bag", "bz2", 200 * MiB),
        r"ROS 1 bz2 chunk size in bytes: 209,715,200 declared, more than the reading budget",
    ),
    "ros1 lz4, declares 1000 B": (
        lambda d: bombs.ros1_chunk_bomb(d / "ep.bag", "lz4", 200 * MiB, declared=1000),
        r"ROS 1 lz4 chunk inflates past the 1,000 bytes its header declares",
    ),
    "ros1 bz2, declares 1000 B": (
        lambda d: bombs.ros1_chunk_bomb(d / "ep.bag", "bz2", 200 * MiB, declared=1000),
        r"ROS 1 bz2 chunk inflates past the 1,000 bytes its header declares",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_chunk_bomb_is_quarantined_within_the_budget(case: str, tmp_path: Path, settings: Any) -> None:
    build, reason = CASES[case]
    bag = build(tmp_path)
    assert bag.stat().st_size < 2 * MiB
    settings(max_read_bytes=BUDGET)
    adapter = RosbagAdapter()
    [ref] = list(adapter.discover(tmp_path))
    err, peak = bombs.traced(lambda: adapter.read(ref))
    assert isinstance(err, AdapterError) and re.search(reason, str(err)), err
    assert err.file == str(bag if bag.suffix != ".db3" else bag.parent)
    assert peak < 3 * BUDGET  # the budget (and a join of it), never the 200 MiB the chunk inflates to


@pytest.mark.parametrize("codec", ["zstd", "lz4"])
def test_a_legal_compressed_chunk_reads_whole(codec: str, tmp_path: Path, settings: Any) -> None:
    bombs.mcap_chunk_bomb(tmp_path / "ep.mcap", codec, None)
    settings(max_read_bytes=BUDGET)
    adapter = RosbagAdapter()
    [ref] = list(adapter.discover(tmp_path))
    ep = adapter.read(ref)
    assert ep.metadata["topics"]["/joint_states"]["messages"] == 100


def test_windows_are_cut_from_the_times_read_not_the_range_the_bag_states(tmp_path: Path) -> None:
    bombs.time_span_bag(tmp_path / "bag")  # 1 ns, then 99 messages from 1.7e18 ns: 1.7e8 windows of 10 s
    adapter = RosbagAdapter({"episodes": {"by": "window", "window_s": 10}})
    refs = list(adapter.discover(tmp_path))
    spans = [r.locator["span"] for r in refs]
    assert len(spans) == 2 and spans[0] == [1, 1 + 10 * bombs.NS] and spans[1][1] == bombs.T0 + 99 * 10**7 + 1


@pytest.mark.parametrize("by", ["bag", "window"])
def test_a_lying_statistics_record_does_not_make_the_windows(by: str, tmp_path: Path) -> None:
    """Statistics claiming 10^12 messages to 2^63 - 2 ns (the review's 1f-1g): windows come from the 100 messages."""
    bombs.lying_statistics(tmp_path / "ep.mcap")
    adapter = RosbagAdapter({"episodes": {"by": by, "window_s": 10} if by == "window" else {"by": by}})
    [ref] = list(adapter.discover(tmp_path))
    span = ref.locator["span"]
    assert span is None if by == "bag" else span == [bombs.T0, bombs.T0 + 99 * 10**7 + 1]
    assert adapter.read(ref).metadata["topics"]["/joint_states"]["messages"] == 100


REAL_SIZES = """
import os
from adapters.base import AdapterError
from adapters.rosbag.adapter import RosbagAdapter
adapter = RosbagAdapter()
result = {{}}
for root in {roots!r}:
    [ref] = list(adapter.discover(root))
    try:
        adapter.read(ref)
        result[root] = None
    except AdapterError as e:
        result[root] = e.reason
"""


def _real_size(tmp_path: Path, builds: dict[str, tuple[Callable[[Path], Path], str]]) -> None:
    roots = {}
    for name, (build, reason) in builds.items():
        (tmp_path / name).mkdir()
        build(tmp_path / name)
        roots[str(tmp_path / name)] = reason
    run = run_capped(REAL_SIZES.format(roots=list(roots)), 3 << 30, timeout=120)
    assert run.returncode == 0, run.stderr
    assert all(reason in run.result[r] for r, reason in roots.items()), run.result
    assert run.peak_rss < 1 << 30, run.peak_rss / MiB


def test_the_reviews_mcap_bombs_at_their_size_stay_under_1_gib(tmp_path: Path) -> None:
    """The 6 GiB zstd and 4 GiB lz4 chunks of the review with the default budget: each refused from what it
    declares, before the inflate (the review's worker reached 2.3 GB and was killed)."""
    budget = "declared, more than the reading budget"
    _real_size(
        tmp_path,
        {
            "zstd": (lambda d: bombs.mcap_chunk_bomb(d / "ep.mcap", "zstd", 6 << 30), budget),
            "lz4": (lambda d: bombs.mcap_chunk_bomb(d / "ep.mcap", "lz4", 4 << 30), budget),
        },
    )


def test_the_reviews_ros1_bombs_at_their_size_stay_under_1_gib(tmp_path: Path) -> None:
    """A 3.9 GiB bz2 ROS 1 chunk (the review's 14.5 KB bag), refused from its header's size, and a 3.9 GiB lz4 one
    whose header says 4 KiB, stopped one byte past it."""
    _real_size(
        tmp_path,
        {
            "bz2": (
                lambda d: bombs.ros1_chunk_bomb(d / "ep.bag", "bz2", bombs.ROS1_SIZE),
                "declared, more than the reading budget",
            ),
            "lz4": (
                lambda d: bombs.ros1_chunk_bomb(d / "ep.bag", "lz4", bombs.ROS1_SIZE, declared=4096),
                "inflates past the 4,096 bytes its header declares",
            ),
        },
    )


@pytest.mark.shared_ray
def test_an_ingest_quarantines_each_bomb_and_writes_the_good_bag(tmp_path: Path) -> None:
    """`eidata ingest` of a root holding the review's MCAP and ROS 1 bombs at their size beside a good bag, and an
    EgoDex root with its declared-size bomb: each bomb quarantined naming its file and size, the rest written."""
    bags = tmp_path / "bags"
    for name, build in {
        "good": lambda d: bombs.mcap_chunk_bomb(d / "ep.mcap", "zstd", None),
        "zstd": lambda d: bombs.mcap_chunk_bomb(d / "ep.mcap", "zstd", 6 << 30),
        "bz2": lambda d: bombs.ros1_chunk_bomb(d / "ep.bag", "bz2", bombs.ROS1_SIZE),
    }.items():
        (bags / name).mkdir(parents=True)
        build(bags / name)
    egodex = bombs.REVIEW["EgoDex transforms/camera (80e6, 4, 4)"](tmp_path / "egodex").file
    spec = {
        "output": str(tmp_path / "corpus"),
        "sources": [
            {"name": "bags", "adapter": "rosbag", "root": str(bags)},
            {"name": "egodex", "adapter": "egodex", "root": str(tmp_path / "egodex")},
        ],
        "parallelism": {"num_cpus": 2},
    }
    (tmp_path / "job.yaml").write_text(yaml.safe_dump(spec))
    report = run_ingest(load_spec(tmp_path / "job.yaml"), progress=False)
    assert report.tallies["bags"].written == 1 and report.quarantined == 3
    rows = run_query(tmp_path / "corpus", "SELECT file, message FROM quarantine ORDER BY file").to_pylist()
    reasons = {
        Path(r["file"]).parent.name if r["file"].endswith(("ep.bag", "ep.mcap")) else "egodex": r["message"]
        for r in rows
    }
    assert "ROS 1 bz2 chunk size in bytes: 4,177,560,889 declared" in reasons["bz2"]
    assert "MCAP zstd chunk size in bytes: 6,442,450,944 declared" in reasons["zstd"]
    assert "(80000000, 4, 4)) size in bytes: 10,240,0" in reasons["egodex"] and str(egodex) in [r["file"] for r in rows]
