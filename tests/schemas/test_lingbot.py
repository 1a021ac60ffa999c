"""The LingBot-VA latent record: exactly the README's keys and consistent shapes (the files on disk:
tests/ingest/files/test_lingbot.py)."""

from __future__ import annotations

import pytest
import torch

from schemas.lerobot import InfoJson
from schemas.lingbot import LINGBOT_ACTION_NAMES, LatentRecord, latent_file
from tests.fixtures.lingbot import latent_plan, latent_tensors


def test_layout_names_follow_the_readme_order() -> None:
    assert LINGBOT_ACTION_NAMES[:7] == (
        "left.eef.x",
        "left.eef.y",
        "left.eef.z",
        "left.eef.qx",
        "left.eef.qy",
        "left.eef.qz",
        "left.eef.qw",
    )
    assert LINGBOT_ACTION_NAMES[7] == "right.eef.x" and LINGBOT_ACTION_NAMES[14] == "left.joint_0"
    assert LINGBOT_ACTION_NAMES[21] == "right.joint_0"
    assert LINGBOT_ACTION_NAMES[28:] == ("left.gripper", "right.gripper")


def test_file_name_mirrors_videos() -> None:
    info = InfoJson(fps=10, features={})
    assert latent_file(info, 1234, "observation.images.head", 0, 450) == (
        "latents/chunk-001/observation.images.head/episode_001234_0_450.pth"
    )


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"latent": torch.zeros(5, 48, dtype=torch.bfloat16)}, "latent must be bfloat16 \\[512"),
        ({"latent": torch.zeros(512, 48)}, "latent must be bfloat16"),
        ({"text_emb": torch.zeros(512, 64)}, "text_emb must be bfloat16"),
        ({"frame_ids": [10, 12, 14, 16, 20]}, "inside"),
        ({"frame_ids": [10, 12, 14, 15, 17]}, "evenly spaced"),
        ({"frame_ids": [10, 12]}, "video_num_frames"),
    ],
)
def test_inconsistent_records_are_refused(change: dict, needle: str) -> None:
    plan = latent_plan()
    good = plan.record(*latent_tensors(plan)).to_dict()
    with pytest.raises(ValueError, match=needle):
        LatentRecord.from_dict({**good, **change})
    with pytest.raises(ValueError, match="keys must be exactly"):
        LatentRecord.from_dict({**good, "extra": 1})


def test_encoder_output_of_the_wrong_shape_is_refused() -> None:
    plan = latent_plan()
    latent, text = latent_tensors(latent_plan(latent_channels=16))
    with pytest.raises(ValueError, match="does not match the plan"):
        plan.record(latent, text)
