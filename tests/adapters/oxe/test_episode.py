"""One OXE record to a RawEpisode (`adapters/oxe/episode.py`), on a record of the real Octo debug Bridge shard
(real sample `octo_bridge_debug_rlds`): the subset table's split of the 7-D state and action into parts with units
(BridgeData V2: xyz m, rpy rad, gripper 0..1), the control rate, the instruction, the blank `image_3` left out; a
declared key missing from the record and a record without steps are errors naming the field."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from adapters.base import AdapterError, EpisodeRef, RawEpisode
from adapters.oxe.adapter import OXEAdapter
from adapters.oxe.builder import Builder, load_builder
from adapters.oxe.decode import decode_tensor
from adapters.oxe.discovery import RecordDiscovery
from adapters.oxe.episode import EpisodeReader
from adapters.oxe.options import OXEOptions
from adapters.oxe.subsets import find_subset
from adapters.oxe.tfrecord import parse_example, read_record
from adapters.storage.location import locate
from tests.realdata import realdata

BUILDER = "octo_bridge_debug_rlds/bridge_dataset/1.0.0"


@pytest.fixture(scope="module")
def record() -> tuple[Builder, EpisodeRef, dict]:
    builder = load_builder(locate(realdata(BUILDER)))
    adapter = OXEAdapter()
    walk = RecordDiscovery(builder, OXEOptions(), adapter.error, adapter.new_ref, [])
    ref = next(walk.discover_shard("train", 0, builder.splits[0].shards[0], 25))
    return builder, ref, parse_example(read_record(locate(Path(ref.paths[0])), ref.locator["offset"]))


def _build(builder: Builder, ref: EpisodeRef, ex: dict) -> RawEpisode:
    def fail(reason: str, field: str) -> AdapterError:
        return AdapterError(reason, adapter="oxe", file=ref.paths[0], episode=ref.raw_id, field=field)

    return EpisodeReader(OXEOptions(), ref, builder, find_subset(builder.name), ex, fail).build()


def test_the_real_record_reads_into_parts_with_units(record) -> None:
    builder, ref, ex = record
    ep = _build(builder, ref, ex)
    steps = len(ex["steps/is_first"])
    assert (ep.native_fps, ep.embodiment) == (5.0, "widowx")
    state = decode_tensor(builder.features["steps/observation/state"], ex["steps/observation/state"], steps)
    parts = [ep.states[f"observation/state:{p}"] for p in ("eef_xyz", "eef_rpy", "gripper")]
    assert [p.unit for p in parts] == ["m", "rad", "0..1"]
    np.testing.assert_array_equal(np.concatenate([p.values for p in parts], axis=1), state)  # nothing lost
    np.testing.assert_allclose(parts[0].timestamps, np.arange(steps) / 5.0)
    assert set(ep.actions) == {"action:delta_xyz", "action:delta_rpy", "action:gripper"}
    assert [lang.text for lang in ep.language] == [ex["steps/language_instruction"][0].decode()]
    assert sorted(ep.cameras) == ["image_0", "image_1", "image_2"]  # image_3 is Bridge's blank padding


def test_a_declared_key_missing_from_the_record_is_named(record) -> None:
    builder, ref, ex = record
    with pytest.raises(AdapterError, match=r"declared in features\.json but missing") as err:
        _build(builder, ref, {k: v for k, v in ex.items() if k != "steps/action"})
    assert (err.value.field, err.value.episode) == ("steps/action", "train/00000/000000")


def test_a_record_without_steps_is_named(record) -> None:
    builder, ref, ex = record
    with pytest.raises(AdapterError, match="no steps") as err:
        _build(builder, ref, {k: v for k, v in ex.items() if not k.startswith("steps/")})
    assert err.value.field == "steps/is_first"
