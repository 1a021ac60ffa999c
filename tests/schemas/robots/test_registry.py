"""Embodiment masks, the registry, and the canonical feature table an embodiment declares."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from schemas.canonical import (
    ACTION,
    ACTION_NAMES,
    ACTION_NATIVE,
    CANONICAL_DIM,
    HAND_KEYPOINTS,
    MANO21_NAMES,
    STATE,
    STATE_NAMES,
    STATE_NATIVE,
    WRIST_POS,
    WRIST_ROT6D,
    Camera,
    hand_dims,
    image_key,
)
from schemas.robots.registry import Effector, Embodiment, EmbodimentRegistry, default_registry

# ---------------------------------------------------------------------------------------------------------------
# Embodiment masks.


def test_one_armed_gripper_fills_right_wrist_and_gripper_only() -> None:
    m = default_registry().get("franka").mask()
    assert m.shape == (CANONICAL_DIM,) and m.dtype == bool
    assert np.flatnonzero(m).tolist() == list(range(25, 35))  # right wrist xyz (3) + rot6d (6) + gripper (1)
    assert [STATE_NAMES[i] for i in np.flatnonzero(m)][-1] == "right.gripper"
    assert STATE_NAMES[25] == "right.wrist.x"


def test_human_fills_wrist_rotation_and_fingertips_for_both_hands_but_no_gripper() -> None:
    human = default_registry().get("human")
    m = human.mask()
    filled = {STATE_NAMES[i] for i in np.flatnonzero(m)}
    assert m.sum() == 2 * (3 + 6 + 15)
    assert not m[9] and not m[34]  # the two gripper dims
    assert {"left.wrist.x", "right.wrist.rot6d_5", "left.thumb_tip.x", "right.pinky_tip.z"} <= filled
    assert not any("gripper" in n for n in filled)
    assert human.keypoint_hands() == ("left", "right")
    assert default_registry().get("franka").keypoint_hands() == ()
    assert human.mask().astype(int).tolist() == m.astype(int).tolist()


def test_dexterous_left_hand_and_hand_order() -> None:
    e = Embodiment(name="x", hands=("right", "left"), effector=Effector.dexterous)
    assert e.hands == ("left", "right")  # canonical order
    left_only = Embodiment(name="y", hands=("left",), effector=Effector.dexterous).mask()
    assert np.flatnonzero(left_only).tolist() == list(range(0, 9)) + list(range(10, 25))
    with pytest.raises(ValidationError, match="distinct"):
        Embodiment(name="z", hands=("left", "left"), effector=Effector.gripper)


def test_registry_unknown_name_lists_known_names() -> None:
    reg = default_registry()
    with pytest.raises(KeyError) as exc:
        reg.get("spot")
    message = str(exc.value)
    assert "'spot'" in message
    for name in reg.names():
        assert name in message
    assert "franka" in reg and "spot" not in reg


def test_registry_rejects_duplicates() -> None:
    e = Embodiment(name="a", hands=("right",), effector=Effector.gripper)
    reg = EmbodimentRegistry([e])
    with pytest.raises(ValueError, match="already registered"):
        reg.register(e)
    assert reg.names() == ["a"]


# ---------------------------------------------------------------------------------------------------------------
# Canonical features.


def test_canonical_features_order_and_shapes() -> None:
    franka = default_registry().get("franka")
    cams = {"third_person": (224, 320), Camera.wrist_right: (128, 128), "head": (480, 640)}  # not vocabulary order
    feats = franka.features(cams)
    assert list(feats) == [
        image_key("head"),
        image_key("wrist_right"),
        image_key("third_person"),
        STATE,
        ACTION,
        HAND_KEYPOINTS,
    ]
    assert feats[image_key("head")].shape == (480, 640, 3) and feats[image_key("head")].dtype == "video"
    assert feats[image_key("third_person")].shape == (224, 320, 3)
    for key, names in ((STATE, STATE_NAMES), (ACTION, ACTION_NAMES)):
        assert feats[key].shape == (50,) and feats[key].dtype == "float32"
        assert feats[key].names == list(names)
        assert feats[key].info["mask"] == franka.mask().astype(int).tolist()
        assert feats[key].info["embodiment"] == "franka"
    kp = feats[HAND_KEYPOINTS]
    assert kp.shape == (2, 21, 3) and kp.flat_names()[:2] == ["left", "right"]
    assert kp.names[1] == list(MANO21_NAMES)
    assert kp.info == {"has_hands": [], "mask": [[0] * 21] * 2}  # a gripper robot: no keypoint slot


def test_canonical_features_native_only_when_named() -> None:
    human = default_registry().get("human")
    feats = human.features({}, native_state_names=["a", "b"], native_action_names=["c", "d", "e"])
    assert list(feats) == [STATE, ACTION, HAND_KEYPOINTS, STATE_NATIVE, ACTION_NATIVE]
    assert feats[STATE_NATIVE].shape == (2,) and feats[ACTION_NATIVE].shape == (3,)
    assert feats[HAND_KEYPOINTS].info == {"has_hands": ["left", "right"], "mask": [[1] * 21] * 2}  # every slot
    assert feats[STATE].info["mask"] == human.mask().astype(int).tolist()
    no_native = human.features({}, native_state_names=[], native_action_names=None)
    assert STATE_NATIVE not in no_native and ACTION_NATIVE not in no_native


def test_canonical_features_keep_an_unplaced_camera_under_its_own_key() -> None:
    # a source camera without a canonical slot is never dropped (issue 23): it keeps its own [a-z0-9_] name
    features = default_registry().get("franka").features({"head": (64, 64), "fisheye": (48, 64)})
    assert features["observation.images.fisheye"].shape == (48, 64, 3)
    assert list(features).index("observation.images.head") < list(features).index("observation.images.fisheye")
    with pytest.raises(ValueError, match="Fish Eye"):
        default_registry().get("franka").features({"head": (64, 64), "Fish Eye": (64, 64)})


def test_a_human_hand_claims_keypoint_slots_only_where_the_mask_has_its_fingers() -> None:
    """The keypoint feature says exactly which hands have fingers: a wrist-only hand (Aria MPS's wrist-and-palm
    poses: a wrist pose or position, no fingertips in the mask) claims no slot and is not in `has_hands`."""
    human = default_registry().get("human")
    mask = np.zeros(50, bool)
    mask[hand_dims(1, WRIST_POS)] = mask[hand_dims(1, WRIST_ROT6D)] = True  # the right wrist, no fingers
    assert not human.keypoint_slots(mask).any() and human.keypoint_hands(mask) == ()
    assert human.features({}, mask=mask)[HAND_KEYPOINTS].info == {"has_hands": [], "mask": [[0] * 21] * 2}
    mask[hand_dims(0, slice(0, 25))] = True  # the left hand whole
    assert human.keypoint_hands(mask) == ("left",)
    assert human.features({}, mask=mask)[HAND_KEYPOINTS].info["mask"] == [[1] * 21, [0] * 21]
