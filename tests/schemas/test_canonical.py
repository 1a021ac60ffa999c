"""The camera every stage looks at by default (`schemas.canonical.main_video_key`); the per-hand validity feature."""

from __future__ import annotations

from schemas.canonical import HAND_KEYPOINTS, HAND_VALID, HANDS, canonical_features, main_video_key
from schemas.export_layout import frame_flag_key, is_policy_key


def test_main_video_key() -> None:
    keys = ["observation.images.wrist_left", "observation.images.head", "observation.images.top"]
    assert main_video_key(keys) == "observation.images.head"
    assert main_video_key(keys, "top") == "observation.images.top"
    assert main_video_key(keys, "missing") == "observation.images.head"
    assert main_video_key(["observation.images.top"]) == "observation.images.top"
    assert main_video_key([]) is None


def test_hand_validity_is_a_bool_per_hand_after_the_keypoints_and_moves_out_of_the_policy_namespace() -> None:
    """`observation.hand_valid` (2,) bool, (left, right), written only when asked (datasets before it have none); the
    exports carry it as `frame.hand_valid`, a flag no lerobot policy takes as input (`schemas.export_layout`)."""
    mask = [True] * 50
    assert HAND_VALID not in canonical_features({}, "human", mask)
    features = canonical_features({}, "human", mask, ("left", "right"), hand_valid=True)
    ft = features[HAND_VALID]
    assert ft.dtype == "bool" and ft.shape == (2,) and ft.names == list(HANDS)
    assert list(features).index(HAND_VALID) > list(features).index(HAND_KEYPOINTS)
    assert is_policy_key(HAND_VALID) and frame_flag_key(HAND_VALID) == "frame.hand_valid"
