"""Compression bombs and lying time ranges in bags (reliability review 5, 1a-1c and 1g-1j; issue 45 item 3).

rosbags inflates a chunk whole with the library's own call; what that costs is bounded by the parse process's memory
limit (issue 84: `hostile.sandbox`): a bag chunk inflating past it is killed, and the episode quarantined naming
the bag and the limit, its parse process peaking within 1.5x the limit. A chunk inflating to other than the size its
container declares is refused as such (MCAP: rosbags' own "Chunk size mismatch"; ROS 1, whose `size` rosbags never
reads: `adapters.rosbag.bags`). The fast tests inflate 200 MiB under a 128 MiB limit; the review's own sizes are in
`tests/adapters/hostile/test_caged_bombs.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from adapters.hostile.limits import DEFAULT_MIB
from adapters.hostile.sandbox import answer
from adapters.rosbag.adapter import RosbagAdapter
from jobs.catalog.query import run_query
from jobs.ingest.job import run_ingest
from jobs.spec import load_spec
from tests.fixtures import bombs

MiB = 1 << 20

CASES: dict[str, tuple[Callable[[Path], Path], str]] = {
    # name -> (build under a root, what the reason says: BY_LIMIT, or a reader's own refusal)
    "mcap zstd, honest 200 MiB": (lambda d: bombs.mcap_chunk_bomb(d / "ep.mcap", "zstd", 200 * MiB), bombs.BY_LIMIT),
    "mcap zstd, declares 1 MiB": (
        lambda d: bombs.mcap_chunk_bomb(d / "ep.mcap", "zstd", 200 * MiB, declared=MiB),
        bombs.BY_LIMIT,
    ),
    "mcap lz4, declares 1 MiB": (  # rosbags' lz4 inflates the first frame alone (the records, then zeros to 64 MiB)
        lambda d: bombs.mcap_chunk_bomb(d / "ep.mcap", "lz4", 200 * MiB, declared=MiB),
        r"Chunk size mismatch: expected 1048576 bytes, got \d+",
    ),
    "db3 zstd message, 200 MiB": (
        lambda d: next(bombs.db3_message_bomb(d / "bag", 200 * MiB).glob("*.db3")),
        bombs.BY_LIMIT,
    ),
    "ros1 bz2, 200 MiB": (lambda d: bombs.ros1_chunk_bomb(d / "ep.bag", "bz2", 200 * MiB), bombs.BY_LIMIT),
    "ros1 lz4, declares 1000 B": (
        lambda d: bombs.ros1_chunk_bomb(d / "ep.bag", "lz4", 200 * MiB, declared=1000),
        r"ROS 1 lz4 chunk inflates to [\d,]+ bytes, its header declares 1,000",
    ),
    "ros1 bz2, declares 1000 B": (
        lambda d: bombs.ros1_chunk_bomb(d / "ep.bag", "bz2", 200 * MiB, declared=1000),
        bombs.BY_LIMIT,
    ),
    "ros1 lz4, declares 1000 B, 2 MiB": (  # within the limit: the declared size refuses it
        lambda d: bombs.ros1_chunk_bomb(d / "ep.bag", "lz4", 2 * MiB, declared=1000),
        r"ROS 1 lz4 chunk inflates to [\d,]+ bytes, its header declares 1,000",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_chunk_bomb_is_refused_naming_the_bag(case: str, tmp_path: Path) -> None:
    build, reason = CASES[case]
    bag = build(tmp_path)
    assert bag.stat().st_size < 2 * MiB
    adapter = RosbagAdapter()
    [ref] = answer(lambda: list(adapter.discover(tmp_path)), mib=bombs.LIMIT_MIB, what="discovery")
    got = bombs.caged(adapter, ref)
    bombs.assert_refused(got, bag, reason)  # a folder's one .db3 names itself, not its folder (issue 85)


@pytest.mark.parametrize("codec", ["zstd", "lz4"])
def test_a_legal_compressed_chunk_reads_whole(codec: str, tmp_path: Path) -> None:
    bombs.mcap_chunk_bomb(tmp_path / "ep.mcap", codec, None)
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


@pytest.mark.shared_ray
def test_an_ingest_quarantines_each_bomb_and_writes_the_good_bag(tmp_path: Path) -> None:
    """`eidata ingest` of a root holding the review's MCAP and ROS 1 bombs at their size beside a good bag, and an
    EgoDex root with its declared-size bomb, under the default limit: each bomb quarantined naming its file (and the
    limit, or the rows never written), the rest written."""
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
    for name in ("bz2", "zstd"):
        bag = next((bags / name).glob("ep.*"))
        assert f"killed by the memory limit of {DEFAULT_MIB} MiB" in reasons[name] and str(bag) in reasons[name]
    assert "lie in chunks never written" in reasons["egodex"] and str(egodex) in [r["file"] for r in rows]
