"""The humanoids' data (schemas/robots/joint_space.yaml) against the descriptions it names, read with ElementTree alone:
each arm is its description's chain up to the wrist link, the maker's zero lies within every arm joint's limits, the
two arms are mirror images across the pelvis's x-z plane with the left one on +y, and every hand names a hand that
schemas/robots/hands.yaml describes, on its own side."""

from __future__ import annotations

import numpy as np
import pytest

from schemas.robots.joint_space import ArmMap, load_joint_space
from tests.schemas.robots.urdf import chain, joints

HUMANOIDS = ("gr1", "unitree_g1", "unitree_g1_dex3", "unitree_g1_inspire", "unitree_h1_2", "tienkung")
SPECS = {name: load_joint_space().robots[name] for name in HUMANOIDS}
ARMS = [(name, arm) for name, spec in SPECS.items() for arm in spec.arms]
IDS = [f"{name}-{arm.side}" for name, arm in ARMS]


def _at_zero(description: str, link: str) -> np.ndarray:
    """base_from_link with every joint at 0: the product of the joint origins down the chain."""
    m = np.eye(4)
    for j in chain(description, link):
        m = m @ j.origin
    return m


@pytest.mark.parametrize(("name", "arm"), ARMS, ids=IDS)
def test_the_arm_joints_end_the_chain_at_the_wrist_link(name: str, arm: ArmMap) -> None:
    spec = SPECS[name]
    path = chain(spec.description, arm.link)
    movable = [j.name for j in path if j.type != "fixed"]
    names = [j.urdf for j in arm.joints]
    assert movable[-len(names) :] == names  # above them only the torso (waist joints), never another arm joint
    assert path[0].parent == spec.base_link
    assert all(arm.side in n or f"_{arm.side[0]}_" in n for n in names), names


@pytest.mark.parametrize(("name", "arm"), ARMS, ids=IDS)
def test_the_makers_zero_lies_within_every_arm_joint_limit(name: str, arm: ArmMap) -> None:
    by_name = joints(SPECS[name].description)
    for j in arm.joints:
        assert by_name[j.urdf].lower <= 0.0 <= by_name[j.urdf].upper, j.urdf


@pytest.mark.parametrize("name", sorted(SPECS))
def test_the_two_arms_are_mirror_images_with_the_left_on_plus_y(name: str) -> None:
    spec = SPECS[name]
    left, right = (next(a for a in spec.arms if a.side == s) for s in ("left", "right"))
    pl, pr = (_at_zero(spec.description, a.link)[:3, 3] for a in (left, right))
    np.testing.assert_allclose(pl, pr * [1, -1, 1], atol=1e-4)  # the makers' numbers agree to 0.1 mm
    assert pl[1] > 0.1 and len(left.joints) == len(right.joints)
    # the wrist frames mirror too: the left wrist's approach (z) axis is the right one's reflected in y
    zl, zr = ((_at_zero(spec.description, a.link) @ a.link_from_wrist.matrix())[:3, 2] for a in (left, right))
    np.testing.assert_allclose(zl, zr * [1, -1, 1], atol=1e-3)


@pytest.mark.parametrize(("name", "arm"), [(n, a) for n, a in ARMS if a.hand is not None])
def test_every_hand_is_described_and_on_its_own_side(name: str, arm: ArmMap) -> None:
    assert arm.hand is not None
    hand = arm.hand.spec()  # raises for a hand hands.yaml does not list
    assert hand.side == arm.side
    hand_joints = joints(hand.description)
    assert all(j.urdf in hand_joints for j in arm.hand.joints())  # the native order names the hand's own joints
