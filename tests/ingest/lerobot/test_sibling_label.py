"""A signature sibling's label (`ingest.lerobot.sibling_label`): words a person reads for what a split part has that
its subset's first dataset has not, never a hash (issue 86: `robomimic@state.native164~c062ad07`,
`rosbag_interbotix@-state.native_action.native6~09441e94`). Names as real recordings give them: the Interbotix bags'
(rosbag_interbotix: `wx200.joint_states...`, `wx250.commands.joint_group.cmd[i]`) and an Isaac Lab / robomimic file's
(`obs.joint_pos.i`, `states.rigid_object.cube_1.root_pose.i`)."""

from __future__ import annotations

from ingest.lerobot.sibling_label import label
from schemas.lerobot_features import FeatureSpec

STATE, ACTION = "observation.state.native", "action.native"
MASK = "observation.state.native_valid"


def _vec(names: list[str]) -> FeatureSpec:
    return FeatureSpec(dtype="float32", shape=(len(names),), names=names)


def _video(h: int, w: int) -> FeatureSpec:
    return FeatureSpec(dtype="video", shape=(h, w, 3), names=["height", "width", "channels"])


def _robomimic(*cubes: str, joints: int = 9) -> list[str]:
    names = [f"obs.joint_pos.{i}" for i in range(joints)]
    return names + [f"states.rigid_object.{c}.root_pose.{i}" for c in cubes for i in range(7)]


def test_a_robots_own_namespace_names_the_part() -> None:
    wx200 = {STATE: _vec([f"wx200.joint_states.position.{j}" for j in ("waist", "elbow")])}
    wx200[ACTION] = _vec(["wx200.commands.joint_single.cmd"])
    wx250 = {ACTION: _vec([f"wx250.commands.joint_group.cmd[{i}]" for i in range(6)])}
    assert label(wx200, wx250) == "wx250"  # was -state.native_action.native6~09441e94
    assert label(wx250, wx200) == "wx200"


def test_a_native_is_named_by_the_parts_of_its_names_the_first_dataset_lacks() -> None:
    three = {STATE: _vec(_robomimic("cube_1", "cube_2", "cube_3"))}
    other = {STATE: _vec(_robomimic("cube_1", "cube_2", "cube_4"))}  # one width (30), another object
    assert label(three, other) == "state-cube_4"  # was state.native30~<hash>
    assert label(three, {STATE: _vec(_robomimic("cube_1", "cube_2"))}) == "state-23d"
    assert label(three, {STATE: _vec(list(reversed(three[STATE].names)))}) == "state-reordered"
    renamed = {STATE: _vec(_robomimic("cube_1", "cube_2", "cube_3")[:-7] + [f"obs.extra.{i}" for i in range(7)])}
    assert label(renamed, three) == "state-cube_3"
    assert label(three, {STATE: three[STATE], ACTION: _vec(["actions.0", "actions.1"])}) == "action-actions"
    assert label({STATE: three[STATE], ACTION: _vec(["actions.0"])}, three) == "no-action"


def test_cameras_and_masks() -> None:
    base = {STATE: _vec(["j.0"]), MASK: _vec(["j.0"]), "observation.images.head": _video(2, 2)}
    wrist = {**base, "observation.images.wrist": _video(4, 4)}
    assert label(base, wrist, [MASK]) == "cam-wrist"
    assert label(wrist, base, [MASK]) == "no-wrist"
    moved = {**wrist, STATE: _vec(["k.0", "k.1"]), MASK: _vec(["k.0", "k.1"])}
    assert label(base, moved, [MASK]) == "k+cam-wrist"  # the mask follows its native, unnamed
    assert "~" not in label(base, moved) and "/" not in label({}, {"a/b": _vec(["x"])})
