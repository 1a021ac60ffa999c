"""The EEF offsets (schemas/robots/eef_offsets.py) against the makers' own robot descriptions: the tool point lies on
the canonical wrist's approach (z) axis at the flange-to-TCP length of the maker's URDF, and each offset's stated
length is the one its citation gives. (How the offsets are applied and looked up by dataset name is tested in
tests/ingest/test_frames.py and test_eef_offset_lookup.py.)"""

from __future__ import annotations

import re

import numpy as np
import pytest

from schemas.robots.eef_offsets import EEF_OFFSETS, RECORDED_POINT, eef_offset_for, recorded_point
from schemas.robots.registry import JOINT_SPACE
from schemas.transform import RigidTransform
from tests.schemas.robots.urdf import fixed_transform


@pytest.mark.parametrize("robot", ["panda", "fr3"])
def test_franka_offset_is_the_hand_to_tcp_joint_of_the_makers_xacro(robot: str) -> None:
    """franka_description's hand.xacro: `<robot>_hand_tcp` sits 0.1034 m along the hand's z, unrotated; the canonical
    wrist is the hand frame, so eef_from_wrist must be exactly the inverse of that fixed joint."""
    hand_from_tcp = fixed_transform(robot, f"{robot}_hand", f"{robot}_hand_tcp")
    tcp_from_wrist = EEF_OFFSETS["franka"][0].matrix()
    np.testing.assert_allclose(tcp_from_wrist @ hand_from_tcp, np.eye(4), atol=1e-12)


def test_widowx_offset_is_the_gripper_link_to_ee_gripper_link_chain_with_the_joint_space_wrist() -> None:
    """Interbotix wx250s.urdf.xacro: gripper_link -> ee_arm -> gripper_bar -> ee_bar -> ee_gripper (all fixed, along
    x). The wrist of a recorded Bridge EEF pose and the wrist joint-space FK gives (gripper_link turned by
    `link_from_wrist`, schemas/robots/joint_space.yaml) must be one frame."""
    link_from_tcp = fixed_transform("wx250s", "wx250s/gripper_link", "wx250s/ee_gripper_link")
    link_from_wrist = JOINT_SPACE["widowx"].arms[0].link_from_wrist.matrix()
    np.testing.assert_allclose(
        EEF_OFFSETS["widowx"][0].matrix(), np.linalg.inv(link_from_tcp) @ link_from_wrist, atol=1e-12
    )


def _tool(offset: RigidTransform) -> np.ndarray:
    """The TCP in the canonical wrist's frame."""
    return np.linalg.inv(offset.matrix())[:3, 3]


@pytest.mark.parametrize("embodiment", sorted(EEF_OFFSETS))
def test_the_tcp_lies_ahead_of_the_wrist_on_its_approach_axis(embodiment: str) -> None:
    offset, source = EEF_OFFSETS[embodiment]
    tcp = _tool(offset)
    if not tcp.any():
        assert offset == RigidTransform.identity()
        return
    np.testing.assert_allclose(tcp[:2], 0.0, atol=1e-12)  # on the wrist's z axis, z = approach
    length = float(tcp[2])
    assert 0.05 < length < 0.25, length  # a gripper's length, not an arm's
    # the length written in the citation is the length the transform holds
    cited = [float(x) for x in re.findall(r"0\.\d+", source)]
    assert any(abs(c - length) < 5e-4 for c in cited), (embodiment, length, cited)


def test_only_a_tcp_recording_gets_the_tool_offset() -> None:
    for dataset, (point, _) in RECORDED_POINT.items():
        offset, why = eef_offset_for("franka", dataset)
        assert (offset == EEF_OFFSETS["franka"][0]) is (point == "tcp"), dataset
        assert dataset in why
    # the dataset's own entry wins over its source's: DROID is a Franka dataset that records the flange
    assert recorded_point("droid", "agibot")[1] == RECORDED_POINT["droid"][1]
    with pytest.raises(KeyError, match=r"known: .*'franka'"):
        eef_offset_for("spot", "bridge")
