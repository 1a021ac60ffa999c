"""The synthetic hand (`adapters/synthetic/hand.py`) checked by physical invariants: the 21 MANO-21 keypoints, an
adult's size (wrist to middle fingertip 18.5 cm, within the 17-21 cm of adult hand length), bones that chain joint to
joint away from the wrist, the palm facing -z with the thumb towards +y, and the left hand the mirror image."""

from __future__ import annotations

import itertools

import numpy as np

from adapters.synthetic.hand import MIRROR, hand_layout, look_at
from schemas.canonical import MANO21_NAMES

FINGERS = ("thumb", "index", "middle", "ring", "pinky")


def test_the_21_named_keypoints_of_an_adult_hand() -> None:
    right = hand_layout()
    assert set(right) == set(MANO21_NAMES) and len(MANO21_NAMES) == 21
    length = np.linalg.norm(right["middle_tip"] - right["wrist"])
    assert length == np.float64(length) and abs(length - 0.185) < 0.005
    for finger in FINGERS:
        chain = [right["wrist"], *(right[f"{finger}{i}"] for i in (1, 2, 3)), right[f"{finger}_tip"]]
        bones = np.linalg.norm(np.diff(chain, axis=0), axis=1)
        assert (bones > 0.01).all(), finger  # every bone at least a centimetre
        dist = [np.linalg.norm(p - right["wrist"]) for p in chain]
        assert all(a < b for a, b in itertools.pairwise(dist)), finger  # straight fingers reach outwards


def test_the_palm_faces_minus_z_and_the_thumb_plus_y() -> None:
    right = hand_layout("right")
    assert right["thumb_tip"][1] > right["index_tip"][1] > right["pinky_tip"][1]  # thumb side is +y
    assert right["thumb2"][2] < 0  # the thumb folds in front of the palm, towards -z
    tips = np.array([right[f"{f}_tip"] for f in FINGERS[1:]])
    assert (tips[:, 0] > 0.12).all()  # fingers along +x, the pinky shortest


def test_the_left_hand_is_the_mirror_image() -> None:
    right, left = hand_layout("right"), hand_layout("left")
    for name in MANO21_NAMES:
        np.testing.assert_array_equal(left[name], right[name] * MIRROR)
    assert left["thumb_tip"][0] < 0 < right["thumb_tip"][0]


def test_look_at_is_a_right_handed_camera_looking_ahead() -> None:
    forward = np.array([[1.0, 0.0, -0.5], [0.2, 1.0, -1.0]])
    R = look_at(forward, np.array([0.0, 0.0, -1.0]))
    np.testing.assert_allclose(R.transpose(0, 2, 1) @ R, np.broadcast_to(np.eye(3), (2, 3, 3)), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(R), 1.0)
    np.testing.assert_allclose(R[..., 2], forward / np.linalg.norm(forward, axis=-1, keepdims=True))
    assert (R[..., 2, 1] < 0).all()  # image down (y) points towards the ground
    assert R[0, 1, 0] < 0  # looking along +x with z up, image right (x) is -y
