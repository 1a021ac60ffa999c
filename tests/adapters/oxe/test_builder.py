"""TFDS builder directories (`adapters/oxe/builder.py`) on the real Octo debug Bridge builder
(real sample `octo_bridge_debug_rlds`, octo-models/octo `tests/debug_dataset` @ 241fb35): features.json flattened
to the keys a `tf.train.Example` holds, shapes and dtypes as declared, shard paths from `filepathTemplate` and
`shardLengths`, builders found under a root, versions compared as numbers, unreadable files named."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from adapters.base import AdapterError
from adapters.oxe.builder import find_builders, load_builder, parse_features, version_key
from adapters.storage.location import locate
from tests.realdata import realdata

BUILDER = "octo_bridge_debug_rlds/bridge_dataset/1.0.0"


def test_real_features_flatten_to_the_example_keys() -> None:
    features = parse_features(json.loads((realdata(BUILDER) / "features.json").read_text()))
    state, image, text = (
        features["steps/observation/state"],
        features["steps/observation/image_0"],
        features["steps/language_instruction"],
    )
    assert (state.kind, state.shape, state.dtype, state.in_steps, state.rel) == (
        "tensor",
        (7,),
        "float32",
        True,
        "observation/state",
    )
    assert (image.kind, image.shape, image.image_format) == ("image", (64, 64, 3), "jpeg")  # frames 64x64 (README)
    assert text.kind == "text" and features["steps/is_first"].dtype == "bool"
    assert features["episode_metadata/file_path"].in_steps is False


def test_real_builder_loads_its_splits_and_shards() -> None:
    b = load_builder(locate(realdata(BUILDER)))
    assert (b.name, b.version) == ("bridge_dataset", "1.0.0")
    assert [(s.name, s.shard_lengths) for s in b.splits] == [("train", (25,)), ("val", (25,))]
    assert all(shard.exists() for s in b.splits for shard in s.shards)
    assert b.splits[0].shards[0].name == "bridge_dataset-train.tfrecord-00000-of-00001"


def test_builders_are_found_under_a_root_and_at_it() -> None:
    root = realdata("octo_bridge_debug_rlds")
    assert find_builders(root) == [root / "bridge_dataset/1.0.0"]
    assert find_builders(realdata(BUILDER)) == [realdata(BUILDER)]
    assert find_builders(root / "bridge_dataset", max_depth=1) == [realdata(BUILDER)]
    assert find_builders(root, max_depth=1) == []  # two levels down


def test_versions_compare_as_numbers() -> None:
    assert sorted(["1.10.0", "1.2.0", "0.1.0"], key=version_key) == ["0.1.0", "1.2.0", "1.10.0"]
    assert version_key("latest") == (0,)


def test_an_unreadable_features_json_is_named(tmp_path: Path) -> None:
    copy = tmp_path / "bridge_dataset" / "9.9.9"
    shutil.copytree(realdata(BUILDER), copy, ignore=shutil.ignore_patterns("*.tfrecord-*"))
    (copy / "features.json").write_text("{not json")
    with pytest.raises(AdapterError, match=r"unreadable features\.json") as err:
        load_builder(locate(copy))
    assert Path(err.value.file) == copy / "features.json"
