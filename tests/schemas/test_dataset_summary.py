"""`eidata inspect`'s text of a dataset: counts as read beside info.json's, features, quirks by severity."""

from __future__ import annotations

from schemas.dataset_summary import dataset_summary
from schemas.lerobot import InfoJson
from schemas.quirks import quirk


def test_counts_beside_the_declared_and_quirks_errors_first() -> None:
    info = InfoJson.model_validate(
        {
            "codebase_version": "v3.0",
            "robot_type": "so101_follower",
            "fps": 30.0,
            "total_episodes": 50,
            "total_frames": 900,
            "total_tasks": 1,
            "features": {"action": {"dtype": "float32", "shape": [6]}},
        }
    )
    quirks = [quirk("v3_layout", "info", "read natively"), quirk("video_too_short", "error", "ep 3: 1 frame short")]
    text = dataset_summary("lingzu", info, 43, 774, 1, quirks)
    assert text.splitlines() == [
        "lingzu: LeRobot v3.0, robot_type so101_follower, fps 30",
        "episodes 43 (info 50), frames 774 (info 900), tasks 1",
        "features (1): action float32[6]",
        "quirks: 1 error, 0 warning, 1 info",
        "  [error] video_too_short: ep 3: 1 frame short",
        "  [info] v3_layout: read natively",
    ]
