"""Embodiment masks, RigidTransform, tier routing, canonical feature table and the catalog schema."""

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
    Camera,
    image_key,
)
from schemas.catalog import CATALOG_SCHEMA, CatalogRow
from schemas.robots.registry import Effector, Embodiment, EmbodimentRegistry, default_registry
from schemas.tiers import ALLOWED_TASKS, QualityTier, RoutingTable, Task, demote
from schemas.transform import RigidTransform

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
    assert human.mask_list() == m.astype(int).tolist()


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
# RigidTransform.


def test_transform_matrix_round_trip() -> None:
    q = np.array([0.1, -0.3, 0.5, 0.8])
    t = RigidTransform(translation=(0.2, -1.0, 0.35), rotation_xyzw=tuple(q / np.linalg.norm(q)))
    back = RigidTransform.from_matrix(t.matrix())
    np.testing.assert_allclose(back.matrix(), t.matrix(), atol=1e-12)
    np.testing.assert_allclose(back.translation, t.translation)
    sign = np.sign(np.dot(back.rotation_xyzw, t.rotation_xyzw))  # q and -q are the same rotation
    np.testing.assert_allclose(sign * np.array(back.rotation_xyzw), t.rotation_xyzw, atol=1e-12)
    assert RigidTransform.from_matrix(np.eye(4)) == RigidTransform.identity()


def test_transform_known_pose_90_degrees_about_z() -> None:
    s = np.sqrt(0.5)
    t = RigidTransform(rotation_xyzw=(0.0, 0.0, s, s))
    np.testing.assert_allclose(t.matrix() @ [1, 0, 0, 1], [0, 1, 0, 1], atol=1e-12)
    np.testing.assert_allclose(t.matrix() @ [0, 1, 0, 1], [-1, 0, 0, 1], atol=1e-12)
    moved = RigidTransform(translation=(1.0, 2.0, 3.0), rotation_xyzw=(0.0, 0.0, s, s))
    np.testing.assert_allclose(moved.matrix() @ [1, 0, 0, 1], [1, 3, 3, 1], atol=1e-12)


@pytest.mark.parametrize(
    "kwargs",
    [{"rotation_xyzw": (0.0, 0.0, 0.0, 2.0)}, {"rotation_xyzw": (0.0, 0.0, 0.0, float("nan"))}],
    ids=["not_unit", "nan"],
)
def test_transform_rejects_non_unit_quaternion(kwargs: dict) -> None:
    with pytest.raises(ValidationError, match="unit quaternion"):
        RigidTransform(**kwargs)


def test_transform_from_matrix_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError, match="4x4"):
        RigidTransform.from_matrix(np.eye(3))
    bad = np.eye(4)
    bad[3, 0] = 1.0
    with pytest.raises(ValueError, match="4x4"):
        RigidTransform.from_matrix(bad)


# ---------------------------------------------------------------------------------------------------------------
# Tiers and routing.


def test_default_routing_rows_sum_to_one_and_respect_allowed_tasks() -> None:
    table = RoutingTable.default()
    assert set(table.probabilities) == {QualityTier.high, QualityTier.low, QualityTier.actionless}
    for tier, row in table.probabilities.items():
        assert sum(row.values()) == pytest.approx(1.0)
        assert set(row) == ALLOWED_TASKS[tier]
    assert Task.policy not in table.row("low")
    assert table.row(QualityTier.actionless) == {Task.visual_forecasting: 1.0}
    with pytest.raises(KeyError, match="rejected"):
        table.row("rejected")


@pytest.mark.parametrize(
    ("rows", "match"),
    [
        ({"low": {"policy": 0.5, "inverse_dynamics": 0.5}}, "cannot train"),
        ({"actionless": {"forward_dynamics": 1.0}}, "cannot train"),
        ({"high": {"policy": 0.5, "forward_dynamics": 0.4}}, "sum to"),
        ({"high": {"policy": 1.5, "forward_dynamics": -0.5}}, ">= 0"),
        ({"rejected": {}}, "rejected tier"),
    ],
    ids=["low_with_policy", "actionless_with_dynamics", "not_summing_to_one", "negative", "rejected_row"],
)
def test_invalid_routing_tables_rejected(rows: dict, match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        RoutingTable(probabilities=rows)


def test_valid_custom_routing_table() -> None:
    table = RoutingTable(probabilities={"high": {"policy": 0.7, "inverse_dynamics": 0.3}})
    assert table.row("high")[Task.policy] == pytest.approx(0.7)


@pytest.mark.parametrize(
    ("tier", "to", "result"),
    [
        (QualityTier.high, QualityTier.low, QualityTier.low),
        (QualityTier.low, QualityTier.high, QualityTier.low),
        (QualityTier.high, QualityTier.actionless, QualityTier.actionless),
        (QualityTier.actionless, QualityTier.rejected, QualityTier.rejected),
        (QualityTier.low, QualityTier.low, QualityTier.low),
    ],
)
def test_demote_keeps_the_lower_tier(tier: QualityTier, to: QualityTier, result: QualityTier) -> None:
    assert demote(tier, to) is result


# ---------------------------------------------------------------------------------------------------------------
# Canonical features and the catalog.


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
        assert feats[key].info["mask"] == franka.mask_list()
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
    assert feats[STATE].info["mask"] == human.mask_list()
    no_native = human.features({}, native_state_names=[], native_action_names=None)
    assert STATE_NATIVE not in no_native and ACTION_NATIVE not in no_native


def test_canonical_features_keep_an_unplaced_camera_under_its_own_key() -> None:
    # a source camera without a canonical slot is never dropped (issue 23): it keeps its own [a-z0-9_] name
    features = default_registry().get("franka").features({"head": (64, 64), "fisheye": (48, 64)})
    assert features["observation.images.fisheye"].shape == (48, 64, 3)
    assert list(features).index("observation.images.head") < list(features).index("observation.images.fisheye")
    with pytest.raises(ValueError, match="Fish Eye"):
        default_registry().get("franka").features({"head": (64, 64), "Fish Eye": (64, 64)})


def test_catalog_schema_matches_row_model() -> None:
    assert CATALOG_SCHEMA.names == list(CatalogRow.model_fields)
