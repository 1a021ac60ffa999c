"""The RLDS/TFDS builder writer (`adapters/synthetic/rlds.py`) against the real Octo debug Bridge builder
(real sample `octo_bridge_debug_rlds`, octo-models/octo `tests/debug_dataset` @ 241fb35): the same features.json
classes, keys and dtypes, the same dataset_info split fields, and records holding the keys of the real records, each in
the same kind of list with the same number of values per step."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from adapters.oxe.builder import parse_features
from adapters.oxe.tfrecord import parse_example, scan_records
from adapters.storage.location import locate
from adapters.synthetic.rlds import write_rlds
from tests.realdata import realdata


def test_features_json_matches_tfds_shape(tmp_path: Path) -> None:
    """The writer's features.json parses like the real Bridge one (same classes, keys)."""
    wb = write_rlds(tmp_path, "bridge", episodes=1)
    ours = parse_features(json.loads((wb.path / "features.json").read_text()))
    real = realdata("octo_bridge_debug_rlds/bridge_dataset/1.0.0")
    theirs = parse_features(json.loads((real / "features.json").read_text()))
    assert set(ours) == set(theirs)
    for key, info in theirs.items():
        assert (ours[key].kind, ours[key].dtype, ours[key].encoding) == (info.kind, info.dtype, info.encoding), key
    info = json.loads((wb.path / "dataset_info.json").read_text())
    assert info["splits"][0]["filepathTemplate"] == "{DATASET}-{SPLIT}.{FILEFORMAT}-{SHARD_X_OF_Y}"
    assert info["splits"][0]["shardLengths"] == ["1"] and info["fileFormat"] == "tfrecord"


def _first_example(shard: Path) -> dict:
    record = next(scan_records(locate(shard)))
    assert record.error is None and record.payload is not None
    return parse_example(record.payload)


def _steps(example: dict) -> int:
    return len(example["steps/is_first"])


def test_records_hold_the_real_bridge_keys_in_the_same_kinds(tmp_path: Path) -> None:
    real_dir = realdata("octo_bridge_debug_rlds/bridge_dataset/1.0.0")
    theirs = _first_example(real_dir / "bridge_dataset-train.tfrecord-00000-of-00001")
    wb = write_rlds(tmp_path, "bridge", episodes=1, image_size=(64, 64))
    ours = _first_example(wb.shards["train"][0])
    assert set(ours) == set(theirs)
    t_real, t_ours = _steps(theirs), _steps(ours)
    for key, value in theirs.items():
        mine = ours[key]
        assert type(mine) is type(value), key  # bytes_list vs numeric list
        if isinstance(value, np.ndarray):
            assert mine.dtype == value.dtype, key  # float_list vs int64_list
            if key.startswith("steps/"):
                assert len(mine) * t_real == len(value) * t_ours, key  # the same number of values per step
        elif key.startswith("steps/"):
            assert (len(mine), len(value)) == (t_ours, t_real), key  # one image or string per step
    jpeg = theirs["steps/observation/image_0"][0][:2]
    assert jpeg == b"\xff\xd8" and ours["steps/observation/image_0"][0][:2] == jpeg  # JPEG, as the real shard


def test_shard_names_follow_the_real_template(tmp_path: Path) -> None:
    real_dir = realdata("octo_bridge_debug_rlds/bridge_dataset/1.0.0")
    wb = write_rlds(tmp_path, "bridge", episodes={"train": 2, "val": 1}, shards=1)
    assert wb.path.parent.name == real_dir.parent.name and wb.path.name == real_dir.name
    assert sorted(p.name for p in wb.path.glob("*.tfrecord-*")) == sorted(p.name for p in real_dir.glob("*.tfrecord-*"))
