"""Two-arm rigs built from one-armed LeRobot robots (`pair`, over the specs of `joint_space.yaml`): two SO-101, two
SO-100, two PiPER on one table.

lerobot's own two-arm robot (huggingface/lerobot
src/lerobot/robots/bi_so100_follower/bi_so100_follower.py @ 183b2ca0, `BiSO100Follower._motors_ft`) is two
SO100Follower buses whose motor features are prefixed `left_` / `right_` (`left_shoulder_pan.pos` ..
`right_gripper.pos`), each arm with its own calibration file (`<id>_left.json`, `<id>_right.json`); community rigs
write `<motor>_left.pos` or numbered `arm1_` / `arm2_` prefixes (the side from the dataset card or the
`joint_space.sides` option). Each arm is the one-armed spec's chain, link and gripper, placed by `base_from_arm`.

Placement: the makers publish no rig geometry for these. ASSUMED: both bases side by side on the table, facing forward
(+x, the way each arm reaches at its zero pose), the left one on +y. PiPER pairs at +-0.3 m, the spacing of AgileX's
own two-arm PiPER rig (agilexrobotics/mobile_aloha_sim aloha_new.urdf @ 3767e570: fl/fr_base_joint y = +-0.3); SO arms
at +-0.2 m (no maker figure). Only the spacing is assumed: each wrist is exact in its own arm's frame, and the left
arm stays on the left.
"""

from __future__ import annotations

from schemas.robots.joint_space import ArmMap, JointSpaceSpec, load_joint_space
from schemas.transform import RigidTransform

SO_SPACING = 0.2  # ASSUMED (see the docstring)
PIPER_SPACING = 0.3  # aloha_new.urdf fl/fr_base_joint


def pair(one: JointSpaceSpec, spacing: float, source: str) -> JointSpaceSpec:
    """Two copies of `one`'s arm, `left_` / `right_` prefixed, `spacing` m either side of the canonical origin, each
    turned as `one.canonical_from_base` turns the lone arm (so both reach along canonical +x)."""
    arm = one.arms[0]
    turn = one.canonical_from_base.rotation_xyzw

    def placed(side: str, y: float) -> ArmMap:
        base = RigidTransform(translation=(0.0, y, 0.0), rotation_xyzw=turn)
        return arm.model_copy(update={"side": side, "prefixes": (side,), "base_from_arm": base})

    return JointSpaceSpec(
        description=one.description,
        base_link=one.base_link,
        units=one.units,
        arms=(placed("left", spacing), placed("right", -spacing)),
        source=f"{source}; each arm as {one.description!r}: {one.source}",
    )


_S = load_joint_space().robots
SO101_BIMANUAL = pair(_S["so101"], SO_SPACING, "two SO-101 (lerobot bi_so100_follower naming); spacing +-0.2 m ASSUMED")
SO100_BIMANUAL = pair(_S["so100"], SO_SPACING, "two SO-100 (lerobot bi_so100_follower); spacing +-0.2 m ASSUMED")
PIPER_BIMANUAL = pair(_S["piper"], PIPER_SPACING, "two PiPER on piper.urdf's chain; spacing +-0.3 m as aloha_new.urdf")
