"""The LingBot-VA latent record: exactly the README's keys, consistent shapes, and a file LingBot-VA can load."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ingest.files.lingbot import read_record, record_matches, write_record
from schemas.lerobot import InfoJson
from schemas.lingbot import LATENT_KEYS, LINGBOT_ACTION_NAMES, LatentPlan, LatentRecord, latent_file


def _plan(**kw: object) -> LatentPlan:
    base = dict(
        path="latents/x.pth",
        video_key="observation.images.head",
        text="pick the cube",
        frame_ids=[10, 12, 14, 16, 18],
        start_frame=10,
        end_frame=20,
        fps=5,
        ori_fps=10,
        video_height=480,
        video_width=640,
        latent_num_frames=2,
        latent_height=16,
        latent_width=16,
        latent_channels=48,
        text_emb_shape=(512, 64),
    )
    return LatentPlan(**{**base, **kw})


def _tensors(plan: LatentPlan) -> tuple[torch.Tensor, torch.Tensor]:
    n = plan.latent_num_frames * plan.latent_height * plan.latent_width
    return torch.randn(n, plan.latent_channels).bfloat16(), torch.randn(*plan.text_emb_shape).bfloat16()


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


def test_record_round_trips_through_torch_load_weights_only(tmp_path: Path) -> None:
    plan = _plan()
    rec = plan.record(*_tensors(plan))
    write_record(tmp_path / "a.pth", rec)
    raw = torch.load(tmp_path / "a.pth", weights_only=True)
    assert list(raw) == list(LATENT_KEYS)
    assert type(raw["frame_ids"]) is list and type(raw["fps"]) is int and type(raw["text"]) is str
    assert torch.equal(raw["latent"], rec.latent) and raw["latent"].dtype == torch.bfloat16
    assert read_record(tmp_path / "a.pth").frame_ids == plan.frame_ids
    assert record_matches(tmp_path / "a.pth", plan)
    assert not record_matches(tmp_path / "a.pth", _plan(text="place the cube"))
    assert not record_matches(tmp_path / "missing.pth", plan)
    (tmp_path / "bad.pth").write_bytes(b"not a zip")
    assert not record_matches(tmp_path / "bad.pth", plan)


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
    plan = _plan()
    good = plan.record(*_tensors(plan)).to_dict()
    with pytest.raises(ValueError, match=needle):
        LatentRecord.from_dict({**good, **change})
    with pytest.raises(ValueError, match="keys must be exactly"):
        LatentRecord.from_dict({**good, "extra": 1})


def test_encoder_output_of_the_wrong_shape_is_refused() -> None:
    plan = _plan()
    latent, text = _tensors(_plan(latent_channels=16))
    with pytest.raises(ValueError, match="does not match the plan"):
        plan.record(latent, text)
