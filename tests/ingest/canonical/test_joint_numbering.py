"""`ingest.canonical.joint_numbering`: names counted from 0 where the description's count from 1 (or the reverse)
are read one shift apart when the two numberings are exactly one shift of each other, refused otherwise, and left to
the name path when both count alike."""

from __future__ import annotations

import pytest

from ingest.canonical.joint_numbering import NumberingError, renumbered
from schemas.robots.joint_space import JointMap
from schemas.robots.registry import JOINT_SPACE


def _arm(embodiment: str, side: str = "right"):  # type: ignore[no-untyped-def]
    [arm] = [a for a in JOINT_SPACE[embodiment].arms if a.side == side]
    return arm


def test_a_zero_based_six_joint_arm_is_read_one_shift_up_on_a_one_based_description() -> None:
    """PiPER's description names joint1 .. joint6; a recorder writing joint_0 .. joint_5 means the same six joints
    in the same order: joint_0 is joint1, joint_5 is joint6, and the note says so."""
    arm = _arm("piper")
    names = [f"joint_{i}" for i in range(6)]
    got = renumbered([("observation.state", names)], [arm.joints], arm.prefixes)
    assert got is not None
    assert {u: c[1:] for u, c in got.columns.items()} == {f"joint{k + 1}": (k, f"joint_{k}") for k in range(6)}
    assert "counts from 0" in got.note and "joint_0 = joint1" in got.note and "joint_5 = joint6" in got.note


def test_one_column_too_many_is_refused_not_shifted() -> None:
    """joint_0 .. joint_6 against PiPER's six joints: today's name path would read joint_1 .. joint_6 as joint1 ..
    joint6 (joint_6 may be the gripper, joint_0 the base): not one shift apart, refused naming both numberings."""
    arm = _arm("piper")
    with pytest.raises(NumberingError, match=r"joint_0\.\.joint_6 \(7\).*1\.\.6 \(6\).*joint_space\.joint_map"):
        renumbered([("observation.state", [f"joint_{i}" for i in range(7)])], [arm.joints], arm.prefixes)


def test_franka_sevens_shift_and_eights_refuse() -> None:
    """InternData-A1's Franka (joint_0 .. joint_6) on panda_joint1 .. 7; with an eighth numbered column the count no
    longer matches and the episode is refused."""
    arm = _arm("franka")
    groups = [(*arm.joints, arm.gripper.joint), arm.joints]
    got = renumbered([("states.joint.position", [f"joint_{i}" for i in range(7)])], groups, arm.prefixes)
    assert got is not None and got.columns["panda_joint1"][1:] == (0, "joint_0")
    assert got.columns["panda_joint7"][1:] == (6, "joint_6") and "panda_finger_joint1" not in got.columns
    with pytest.raises(NumberingError):
        renumbered([("observation.state", [f"joint_{i}" for i in range(8)])], groups, arm.prefixes)


def test_a_gripper_numbered_with_the_arm_shifts_with_it() -> None:
    """Koch's description numbers the gripper joint6 after joint1 .. joint5: six columns joint_0 .. joint_5 are the
    arm and its gripper (the widest group fits first)."""
    arm = _arm("koch")
    names = ["main_joint_0", *[f"main_joint_{i}" for i in range(1, 6)]]
    got = renumbered([("observation.state", names)], [(*arm.joints, arm.gripper.joint), arm.joints], arm.prefixes)
    assert got is not None and got.columns["joint6"][1:] == (5, "main_joint_5")
    assert got.columns["joint1"][1:] == (0, "main_joint_0")


def test_one_based_names_on_a_zero_based_description_shift_down() -> None:
    """The reverse: a description whose names count from 0 (j0 .. j5), a dataset from 1 (j1 .. j6)."""
    joints = [JointMap(urdf=f"a{k}", native=(f"j{k}",)) for k in range(6)]
    got = renumbered([("observation.state", [f"j{k}" for k in range(1, 7)])], [joints], ("",))
    assert got is not None and {u: c[2] for u, c in got.columns.items()} == {f"a{k}": f"j{k + 1}" for k in range(6)}
    assert "counts from 1" in got.note


def test_a_two_arm_set_shifts_each_arm_on_its_own_columns() -> None:
    """left_joint_0 .. left_joint_5, right_joint_0 .. right_joint_5 on the Cobot Magic description (fl_joint1 ..,
    fr_joint1 .., natives joint1 .. with the side prefix): each arm reads its own side's six columns."""
    names = [f"{s}_joint_{i}" for s in ("left", "right") for i in range(6)]
    table = [("observation.state", names)]
    for side, off in (("left", 0), ("right", 6)):
        arm = _arm("piper_dual", side)
        got = renumbered(table, [arm.joints], arm.prefixes)
        assert got is not None
        p = "fl" if side == "left" else "fr"
        assert {u: c[1] for u, c in got.columns.items()} == {f"{p}_joint{k + 1}": off + k for k in range(6)}


def test_alike_numberings_and_unnumbered_names_are_left_to_the_name_path() -> None:
    arm = _arm("piper")
    assert renumbered([("observation.state", [f"joint{i}" for i in range(1, 7)])], [arm.joints], ("",)) is None
    so101 = _arm("so101")  # named joints (shoulder_pan ..): nothing numbered to compare
    assert renumbered([("observation.state", [f"motor_{i}" for i in range(6)])], [so101.joints], ("",)) is None


def test_the_first_stream_holding_the_joints_decides() -> None:
    """A 1-based state ahead of a 0-based velocity vector: the state's numbering is the one read (no shift)."""
    arm = _arm("piper")
    table = [
        ("observation.state", [f"joint{i}" for i in range(1, 7)]),
        ("observation.velocity", [f"joint_{i}" for i in range(6)]),
    ]
    assert renumbered(table, [arm.joints], ("",)) is None
    assert renumbered(table[::-1], [arm.joints], ("",)) is not None
