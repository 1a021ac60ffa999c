"""The export layout's contract (`schemas/export_layout.py`): which keys lerobot makes policy inputs or outputs (its
`dataset_to_policy_features` matches `startswith("observation")` / `startswith("action")`), where a flag goes instead,
and the names of the episode columns."""

from __future__ import annotations

import pytest

from schemas.export_layout import FRAME_PREFIX, frame_flag_key, intrinsics_column, is_policy_key


@pytest.mark.parametrize(
    ("key", "policy"),
    [
        ("observation.interpolated", True),
        ("observation.state", True),
        ("observationx", True),  # lerobot's own test is a bare prefix match: no dot needed
        ("action", True),
        ("action.native", True),
        ("action_mask", True),  # why the action mask is an episode column, not a feature named like this
        ("frame.interpolated", False),
        ("timestamp", False),
        ("next.done", False),
    ],
)
def test_policy_keys_are_lerobots_prefix_match(key: str, policy: bool) -> None:
    assert is_policy_key(key) is policy


def test_a_flag_moves_under_frame_keeping_its_name() -> None:
    assert frame_flag_key("observation.interpolated") == "frame.interpolated"
    assert frame_flag_key("action.valid") == "frame.valid"
    assert frame_flag_key("observation.a.b") == "frame.a.b"
    assert not is_policy_key(frame_flag_key("observation.interpolated")) and FRAME_PREFIX == "frame."


def test_intrinsics_column_names_the_camera() -> None:
    assert intrinsics_column("observation.images.head") == "cameras/observation.images.head/intrinsics"
