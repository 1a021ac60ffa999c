"""Bad raw input read from a bucket of the real S3 server is refused with the reason local disk gives (the URL where
the path was): files cut short and read through the ranged readers (a TFRecord shard cut inside a record, and the
records after it; HDF5 files cut in half; mp4s cut at 10 % and at 90 %; a parquet cut in half), Git LFS pointer files
where a parquet, an mp4 and an HDF5 file should be, and EgoDex's bad cases. Per source, `compare_source` checks the
refs discovery flags and each episode's read, or its refusal, on both sides. The same through the ingest job, with
the quarantine rows: tests/s3/test_quarantine_bucket.py."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from adapters import get_adapter
from adapters.lerobot_format.files import load_info
from adapters.storage.urls import filesystem
from adapters.synthetic.agibot import EpisodeSpec as AgibotEpisode
from adapters.synthetic.agibot import write_agibot
from adapters.synthetic.rlds import write_rlds
from adapters.synthetic.robomind import EpisodeSpec as RobomindEpisode
from adapters.synthetic.robomind import write_robomind
from tests.fixtures import corrupt
from tests.fixtures.episodes import write_canonical_dataset
from tests.fixtures.rlds import break_framing
from tests.s3.server import S3Server
from tests.store_cases import compare_source, put_tree, read_or_error

# source -> (adapter, the refusals its episodes must get: lower-case substrings, one per bad episode)
# fmt: off
EXPECTED: dict[str, tuple[str, tuple[str, ...]]] = {
    "bridge": ("oxe", ("truncated tfrecord", "record not reachable", "record not reachable")),
    "agibot": ("agibot", ("not a readable hdf5 file", "no video stream", "invalid data found")),
    "robomind": ("robomind", ("truncated or not hdf5", "git lfs pointer file")),
    "egodex": ("egodex", ("missing transforms/camera", "missing transforms/left", "mp4 has 15 frames",
                          "unreadable mp4", "no video beside the poses")),
    "lerobot": ("lerobot", ("git lfs pointer file", "git lfs pointer file", "parquet magic bytes not found")),
}
# fmt: on


def _lfs_pointer(path: Path) -> None:
    """What `git lfs` leaves in a clone without the objects (tests/adapters/lerobot/test_lfs_pointers.py)."""
    data = path.read_bytes()
    oid = hashlib.sha256(data).hexdigest()
    path.write_text(f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {len(data)}\n")


def _write(raw: Path) -> dict[str, Path]:
    rlds = write_rlds(raw / "bridge", "bridge", episodes=4, steps=12)
    break_framing(rlds, ("train", 1), "truncated")
    bridge = rlds.path
    agibot = raw / "agibot"
    write_agibot(agibot, [AgibotEpisode(327, e, 45) for e in (1, 2, 3, 4)], height=48, width=64)
    corrupt.truncate_file(agibot / "proprio_stats/327/2/proprio_stats.h5", 0.5)
    corrupt.truncate_file(agibot / "observations/327/3/videos/head_color.mp4", 0.9)
    corrupt.truncate_file(agibot / "observations/327/4/videos/head_color.mp4", 0.1)
    robomind = raw / "robomind"
    episodes = [("1014_144600", None), ("1014_144601", "truncated"), ("1014_144602", None)]
    written = write_robomind(robomind, [RobomindEpisode("franka_3rgb", "t", e, 20, bad=bad) for e, bad in episodes])
    corrupt.break_robomind(written["t/train/1014_144602"], "lfs_pointer")
    egodex = raw / "egodex"
    corrupt.write_egodex_bad(egodex, corrupt.EGODEX_BAD_CASES)
    lerobot = raw / "lerobot" / "ds"
    write_canonical_dataset(lerobot, [12, 7, 9, 8])
    info = load_info(lerobot / "meta/info.json")
    for key in info.video_keys:
        _lfs_pointer(lerobot / info.video_file(0, key))
    _lfs_pointer(lerobot / info.data_file(1))
    corrupt.truncate_file(lerobot / info.data_file(2), 0.5)
    return {"bridge": bridge, "agibot": agibot, "robomind": robomind, "egodex": egodex, "lerobot": lerobot}


@pytest.fixture(scope="module")
def corpus(s3: S3Server, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    raw = tmp_path_factory.mktemp("bad_raw")
    roots = _write(raw)
    fs, _ = filesystem("s3://", s3.options())
    base = f"raw/bad-{raw.name}"
    put_tree(fs, raw, base)
    return {"raw": raw, "roots": roots, "base": f"s3://{base}", "storage": s3.options()}


# egodex is slow-marked: in 2 of 3 full `make test` runs of 2026-11-23 (none alone) its ranged h5py read through
# s3fs waited forever in fsspec's loop (S3File._fetch_range); until that is understood, make test keeps the four other
# sources' bad input from the bucket and egodex's from disk (tests/adapters/egodex/test_adapter.py)
@pytest.mark.parametrize("name", [n if n != "egodex" else pytest.param(n, marks=pytest.mark.slow) for n in EXPECTED])
def test_bad_input_from_the_bucket_is_refused_as_from_disk(corpus: dict[str, Any], name: str) -> None:
    adapter, needles = EXPECTED[name]
    raw, root = corpus["raw"], corpus["roots"][name]
    url = f"{corpus['base']}/{root.relative_to(raw).as_posix()}"
    local, _, _ = compare_source(adapter, None, root, url, (corpus["base"], str(raw)), storage=corpus["storage"])
    reader = get_adapter(adapter, None, corpus["storage"])
    refused = sorted(str(e).lower() for r in local if isinstance(e := read_or_error(reader, r), str))
    assert len(refused) == len(needles) < len(local), refused  # each bad episode refused, a good one read
    for needle in needles:  # each refusal names its cause, not a generic read failure
        hit = next((r for r in refused if needle in r), None)
        assert hit is not None, f"{name}: no refusal says {needle!r}: {refused}"
        refused.remove(hit)
