"""Properties of `ingest.canonical.hands` (MANO-21 keypoints from joint maps, wrist frames, fingertips); the
MANO model's tests are in mano/test_model.py."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from adapters.egodex.adapter import MANO21_JOINTS, mano21_keypoints
from adapters.synthetic.egodex import FINGERS as EGODEX_FINGERS
from adapters.synthetic.egodex import JOINTS as EGODEX_JOINTS
from adapters.synthetic.egodex import PHALANGES as EGODEX_PHALANGES
from ingest.canonical.hands import (
    FINGERTIPS,
    fingertips_in_wrist,
    wrist_frames_from_keypoints,
)
from schemas.canonical import FINGERTIPS as TIP_NAMES
from schemas.canonical import NUM_KEYPOINTS
from tests.fixtures.mano import (
    MIRROR,
    hand_layout,
    template_keypoints,
)


def keypoints_from_joints(joint_positions: Mapping[str, np.ndarray], joint_map: Sequence[str]) -> np.ndarray:
    """Any skeleton -> (T,21,3) by an explicit list of 21 source joint names in MANO-21 order; raises KeyError
    naming missing joints.

    Values are (T,3) positions or (T,4,4) world_from_joint poses (their translation is used).
    """
    if len(joint_map) != NUM_KEYPOINTS:
        raise ValueError(f"joint_map names {len(joint_map)} joints, expected {NUM_KEYPOINTS} (MANO21_NAMES order)")
    missing = [j for j in joint_map if j not in joint_positions]
    if missing:
        raise KeyError(f"missing joint(s) {missing} of the 21-joint map")
    points = []
    for j in joint_map:
        a = np.asarray(joint_positions[j])
        if a.shape[-2:] == (4, 4):
            a = a[..., :3, 3]
        if a.ndim != 2 or a.shape[1] != 3:
            raise ValueError(f"joint {j!r}: shape {np.shape(joint_positions[j])}, expected (T,3) or (T,4,4)")
        points.append(a)
    lengths = {len(p) for p in points}
    if len(lengths) > 1:
        raise ValueError(f"joints of different lengths {sorted(lengths)}")
    return np.stack(points, axis=1).astype(np.float64)


settings.register_profile("hands", max_examples=40, deadline=None)
settings.load_profile("hands")

CHAINS = [[0, *range(1 + 4 * f, 5 + 4 * f)] for f in range(5)]  # wrist -> base .. tip, per finger


def _rotations() -> st.SearchStrategy[np.ndarray]:
    quat = st.lists(st.floats(-1, 1), min_size=4, max_size=4).filter(lambda q: np.linalg.norm(q) > 0.1)
    return quat.map(lambda q: Rotation.from_quat(q).as_matrix())


_translations = st.lists(st.floats(-5, 5), min_size=3, max_size=3).map(np.array)


def _egodex_transforms(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    """All 68 EgoDex joints as (n,4,4) poses; hand joints placed by their EgoDex names (finger, then phalanx in
    `PHALANGES` order) on the synthetic hand, which moves rigidly; other joints anywhere."""
    rng = np.random.default_rng(seed)
    ours = dict(zip(EGODEX_FINGERS, TIP_NAMES, strict=True))  # Thumb -> thumb, ..., LittleFinger -> pinky
    motion = Rotation.from_rotvec(rng.normal(scale=0.5, size=(n, 3))).as_matrix()
    offsets = rng.normal(scale=0.2, size=(n, 3))
    out = {}
    for joint in EGODEX_JOINTS:
        pose = np.tile(np.eye(4), (n, 1, 1))
        pose[:, :3, :3] = Rotation.random(n, random_state=rng.integers(1 << 31)).as_matrix()  # joint orientation
        side = next((s for s in ("left", "right") if joint.startswith(s)), None)
        point = rng.normal(size=3)
        if side is not None:
            layout, rest = hand_layout(side), joint[len(side) :]
            if rest == "Hand":
                point = layout["wrist"]
            for finger, name in ours.items():
                if rest.startswith(finger) and rest[len(finger) :] in EGODEX_PHALANGES:
                    k = EGODEX_PHALANGES.index(rest[len(finger) :])
                    point = layout[f"{name}_tip" if k == 3 else f"{name}{k + 1}"]
                elif rest == f"{finger}Metacarpal":
                    point = 0.5 * layout[f"{name}1"]
            point = point + (0.3 if side == "right" else -0.3)
        pose[:, :3, 3] = np.einsum("tij,j->ti", motion, point) + offsets
        out[joint] = pose.astype(np.float32)
    return out


def test_egodex_joint_map_gives_anatomically_ordered_keypoints() -> None:
    transforms = _egodex_transforms(30)
    both = mano21_keypoints(transforms)
    for hand, joints in enumerate(MANO21_JOINTS):
        kp = keypoints_from_joints(transforms, joints)
        assert kp.shape == (30, 21, 3)
        np.testing.assert_allclose(kp, both[:, hand], atol=0)
        for chain in CHAINS:
            assert (np.linalg.norm(np.diff(kp[:, chain], axis=1), axis=-1) > 1e-3).all()  # bones have length
            from_wrist = np.linalg.norm(kp[:, chain] - kp[:, :1], axis=-1)
            assert (np.diff(from_wrist, axis=1) > 0).all()  # each joint farther out than the last; tip farthest
        # The recovered hand is the synthetic one, up to the rigid motion: same wrist-frame fingertips every frame.
        tips = fingertips_in_wrist(kp, wrist_frames_from_keypoints(kp, ("left", "right")[hand]))
        np.testing.assert_allclose(tips, np.repeat(tips[:1], 30, axis=0), atol=1e-5)


def test_keypoints_from_joints_errors_and_positions() -> None:
    positions = {f"j{i}": np.full((4, 3), float(i)) for i in range(21)}
    kp = keypoints_from_joints(positions, [f"j{i}" for i in reversed(range(21))])
    assert kp.shape == (4, 21, 3) and kp[0, 0, 0] == 20 and kp[0, 20, 0] == 0
    with pytest.raises(KeyError, match=r"\['j7', 'x'\]"):
        keypoints_from_joints({k: v for k, v in positions.items() if k != "j7"}, [*(f"j{i}" for i in range(20)), "x"])
    with pytest.raises(ValueError, match="21"):
        keypoints_from_joints(positions, ["j0"])
    with pytest.raises(ValueError, match="lengths"):
        keypoints_from_joints({**positions, "j3": np.zeros((5, 3))}, [f"j{i}" for i in range(21)])


# -- wrist frames and fingertips -----------------------------------------------------------------------------------


def _hands(n: int, seed: int = 0) -> np.ndarray:
    """n right hands: the template with each keypoint jittered by up to ~1 cm (finger poses vary)."""
    return template_keypoints("right") + np.random.default_rng(seed).normal(scale=0.005, size=(n, 21, 3))


def _rigid(k: np.ndarray, r: np.ndarray, t: np.ndarray) -> np.ndarray:
    return k @ r.T + t


def test_wrist_frame_of_the_template_hand() -> None:
    pose = wrist_frames_from_keypoints(template_keypoints("right")[None], "right")[0]
    z = hand_layout("right")["middle1"] / np.linalg.norm(hand_layout("right")["middle1"])
    np.testing.assert_allclose(pose[:3, 2], z, atol=1e-12)  # approach: wrist -> middle1
    np.testing.assert_allclose(pose[:3, 1], [0, 0, -1], atol=1e-12)  # palmar: the palm faces -z
    assert pose[1, 0] < -0.99  # x towards the little finger (-y) on a right hand
    np.testing.assert_allclose(pose[:3, 3], 0, atol=0)
    np.testing.assert_allclose(pose[3], [0, 0, 0, 1], atol=0)


@given(r=_rotations(), t=_translations, seed=st.integers(0, 1000))
def test_wrist_frames_are_proper_rotations_and_move_with_the_hand(r: np.ndarray, t: np.ndarray, seed: int) -> None:
    k = _hands(5, seed)
    for side, keys in (("right", k), ("left", k * MIRROR)):
        pose = wrist_frames_from_keypoints(keys, side)
        rot = pose[:, :3, :3]
        np.testing.assert_allclose(rot.transpose(0, 2, 1) @ rot, np.tile(np.eye(3), (5, 1, 1)), atol=1e-12)
        np.testing.assert_allclose(np.linalg.det(rot), 1.0, atol=1e-12)
        world = np.eye(4)
        world[:3, :3], world[:3, 3] = r, t
        np.testing.assert_allclose(wrist_frames_from_keypoints(_rigid(keys, r, t), side), world @ pose, atol=1e-9)


@given(r=_rotations(), t=_translations, seed=st.integers(0, 1000))
def test_fingertips_in_wrist_are_invariant_to_rigid_motion(r: np.ndarray, t: np.ndarray, seed: int) -> None:
    k = _hands(5, seed)
    pose = wrist_frames_from_keypoints(k, "right")
    tips = fingertips_in_wrist(k, pose)
    world = np.eye(4)
    world[:3, :3], world[:3, 3] = r, t
    np.testing.assert_allclose(fingertips_in_wrist(_rigid(k, r, t), world @ pose), tips, atol=1e-9)
    # distances from the wrist survive the change of frame
    np.testing.assert_allclose(
        np.linalg.norm(tips.reshape(5, 5, 3), axis=-1), np.linalg.norm(k[:, FINGERTIPS] - k[:, :1], axis=-1), atol=1e-12
    )


@given(normal=st.lists(st.floats(-1, 1), min_size=3, max_size=3).filter(lambda v: np.linalg.norm(v) > 0.1))
def test_left_and_right_frames_are_mirror_images(normal: list[float]) -> None:
    n = np.asarray(normal) / np.linalg.norm(normal)
    reflect = np.eye(3) - 2 * np.outer(n, n)  # any mirror turns a right hand into a left one
    k = _hands(4, seed=11)
    right = wrist_frames_from_keypoints(k, "right")
    left = wrist_frames_from_keypoints(k @ reflect.T, "left")
    np.testing.assert_allclose(left[:, :3, :3], reflect @ right[:, :3, :3] @ np.diag([-1.0, 1, 1]), atol=1e-9)
    tips_r, tips_l = fingertips_in_wrist(k, right), fingertips_in_wrist(k @ reflect.T, left)
    np.testing.assert_allclose(tips_l, tips_r * np.tile([-1.0, 1, 1], 5), atol=1e-9)


def test_wrist_frames_degenerate_nan_and_empty() -> None:
    k = _hands(4)
    k[1, :] = np.nan
    k[2, 9] = k[2, 0]  # middle1 on the wrist
    k[3, 5] = k[3, 17]  # index1 on pinky1: no palm
    pose = wrist_frames_from_keypoints(k, "right")
    assert np.isfinite(pose[0]).all() and np.isnan(pose[1:]).all()
    assert np.isnan(fingertips_in_wrist(k, pose)[1:]).all()
    assert wrist_frames_from_keypoints(np.zeros((0, 21, 3)), "left").shape == (0, 4, 4)
    assert fingertips_in_wrist(np.zeros((0, 21, 3)), np.zeros((0, 4, 4))).shape == (0, 15)
    with pytest.raises(ValueError, match="side"):
        wrist_frames_from_keypoints(k, "both")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="shape"):
        wrist_frames_from_keypoints(k[:, :20], "right")
    with pytest.raises(ValueError):
        fingertips_in_wrist(k, pose[:3])
