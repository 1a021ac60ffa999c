"""Each OXE subset's delta actions, settled by the maker's code (the subset table's `action_encoding`), carried onto
the action streams' `Stream.relative` and accumulated at 10 Hz (issue 55 item 4): what the written episode's native
action sums to is what the file's rows sum to; grippers and every stream the code does not settle stay absolute.

Real: Octo's Bridge debug shard (../shared/realdata/octo_bridge_debug_rlds; 5 Hz, 10 steps an episode). Sampled at
10 Hz, each 5 Hz delta was written twice: episode 0's z deltas summed -0.1359 where the file's sum to -0.0708."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from adapters.base import RawEpisode
from adapters.oxe.adapter import OXEAdapter
from adapters.oxe.subsets import SUBSETS
from adapters.synthetic.rlds import write_rlds
from ingest.canonical.store import lineage
from tests.fixtures.offline import prepared
from tests.realdata import realdata

DELTAS = ("action:delta_xyz", "action:delta_rpy")
GRIPPER = "action:gripper.gripper_open"


def _columns(raw: RawEpisode, streams: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(the written episode's native columns of `streams`, the file's rows of them), in the same column order."""
    (ep,) = prepared(raw)
    names = ep.natives.action_names
    cols = [i for s in streams for i, n in enumerate(names) if n.startswith(f"{s}.")]
    return ep.natives.action[:, cols], np.concatenate([raw.actions[s].values for s in streams], axis=1)


@pytest.fixture(scope="module")
def bridge() -> list[RawEpisode]:
    adapter = OXEAdapter()
    return [adapter.read(ref) for ref in adapter.discover(realdata("octo_bridge_debug_rlds"))]


def test_real_bridge_deltas_keep_their_sum_at_10_hz(bridge: list[RawEpisode]) -> None:
    assert len(bridge) == 25
    for raw in bridge:
        for key in DELTAS:
            rel = raw.actions[key].relative
            assert rel is not None and rel.components == (0, 1, 2)
            assert "oxe_dataset_configs.py:60" in rel.why and "@241fb35" in rel.why
        written, file = _columns(raw, DELTAS)
        assert len(written) == 2 * len(file) - 1  # 5 Hz -> 10 Hz
        np.testing.assert_allclose(written.sum(0), file.sum(0), atol=1e-6)
    _, xyz = _columns(bridge[0], ("action:delta_xyz",))
    assert xyz[:, 2].sum() == pytest.approx(-0.0708, abs=1e-4)
    absolute = {k: replace(s, relative=None) for k, s in bridge[0].actions.items()}
    sampled, _ = _columns(replace(bridge[0], actions=absolute), ("action:delta_xyz",))
    assert sampled[:, 2].sum() == pytest.approx(-0.1359, abs=1e-4)  # what sampling wrote: each delta twice


def test_real_bridge_gripper_is_sampled_unchanged_and_the_lineage_names_the_accumulation(
    bridge: list[RawEpisode],
) -> None:
    for raw in bridge:
        assert raw.actions["action:gripper"].relative is None
        (ep,) = prepared(raw)
        gripper = ep.natives.action[:, ep.natives.action_names.index(GRIPPER)]
        file = raw.actions["action:gripper"].values[:, 0]
        np.testing.assert_array_equal(gripper[::2], file)  # every 5 Hz row at its own time, never summed
        assert set(gripper) <= set(file)
        accumulated = lineage(ep).native_accumulated
        assert set(accumulated) == {f"action:delta_xyz.{c}" for c in "xyz"} | {
            f"action:delta_rpy.{c}" for c in ("roll", "pitch", "yaw")
        }
        assert GRIPPER not in accumulated
        assert all(why.startswith("bridge EEF_POS: octo-models/octo@241fb35") for why in accumulated.values())


@pytest.mark.parametrize("subset", ["fractal20220817_data", "kuka", "berkeley_autolab_ur5"])
def test_rt1_style_world_vector_and_rotation_delta_are_deltas_the_gripper_and_base_are_not(
    tmp_path: Path, subset: str
) -> None:
    write_rlds(tmp_path, subset, episodes=1, steps=12, vary_steps=False)
    adapter = OXEAdapter()
    (ref,) = adapter.discover(tmp_path)
    raw = adapter.read(ref)
    rel = {k: s.relative for k, s in raw.actions.items()}
    assert rel["action/world_vector"].components == (0, 1, 2)
    assert rel["action/rotation_delta"].components == (0, 1, 2)
    assert all(rel[k] is None for k in rel if k not in ("action/world_vector", "action/rotation_delta")), rel
    written, file = _columns(raw, ("action/world_vector", "action/rotation_delta"))
    np.testing.assert_allclose(written.sum(0), file.sum(0), atol=1e-5)
    assert raw.metadata["action_encoding"]["name"] == "EEF_POS"


def test_taco_world_deltas_only_and_droid_left_absolute(tmp_path: Path) -> None:
    write_rlds(tmp_path / "taco", "taco_play", episodes=1, steps=8, vary_steps=False)
    write_rlds(tmp_path / "droid", "droid", episodes=1, steps=8, vary_steps=False)
    adapter = OXEAdapter()
    taco = adapter.read(next(iter(adapter.discover(tmp_path / "taco"))))
    deltas = {k for k, s in taco.actions.items() if s.relative is not None}
    assert deltas == {"action/rel_actions_world:delta_xyz", "action/rel_actions_world:delta_euler"}
    droid = adapter.read(next(iter(adapter.discover(tmp_path / "droid"))))
    assert all(s.relative is None for s in droid.actions.values())
    assert droid.metadata["action_encoding"] is None and SUBSETS["droid"].action_encoding is None
