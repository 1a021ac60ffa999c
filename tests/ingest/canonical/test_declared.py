"""A raw episode as one of a declared robot (`ingest.canonical.declared`): its joints found by the vector's order
(each arm's joints, then its gripper) or by column names, its units the declared ones."""

from __future__ import annotations

import numpy as np

from adapters.base import EpisodeRef, RawEpisode, Stream
from ingest.canonical.declared import as_declared, joint_map
from schemas.robots.declared import DeclaredRobot
from schemas.tiers import QualityTier


def _raw(names: list[str] | None) -> RawEpisode:
    s = Stream(np.arange(3) / 10.0, np.zeros((3, 4)), names=names)
    ref = EpisodeRef(adapter="lerobot", source="s", subset="d", raw_id="e0", paths=())
    return RawEpisode(ref, None, "unknown", QualityTier.high, 10.0, states={"observation.state": s}, actions={})


def test_joints_by_the_vectors_order_then_by_column_names() -> None:
    arm = {"joints": ["j1", "j2", "j3"], "eef_link": "t", "gripper": {"joint": "g", "open": 1, "closed": 0}}
    robot = DeclaredRobot(urdf="/x/a.urdf", units="deg", arms={"right": arm})
    assert joint_map(_raw(["m0", "m1", "m2", "m3"]), robot) == {"m0": "j1", "m1": "j2", "m2": "j3", "m3": "g"}
    unnamed = joint_map(_raw(None), robot)
    assert unnamed["observation.state.0"] == "j1" and unnamed["observation.state.3"] == "g"
    by_name = DeclaredRobot(urdf="/x/a.urdf", arms={"right": {"columns": {"m2": "j1"}, "eef_link": "t"}})
    assert joint_map(_raw(["m0", "m1", "m2", "m3"]), by_name) == {"m2": "j1"}
    out = as_declared(_raw(["m0", "m1", "m2", "m3"]), "acme", robot)
    assert out.embodiment == "acme" and out.joint_space is not None and out.joint_space.units == "deg"
