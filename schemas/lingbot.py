"""LingBot-VA post-training format (seed 004, "Post-training" section): the 30-dim dual-arm action, the per-segment
latent file and where it lives.

Action layout (the README's order): left EEF 7, right EEF 7, left joints 7, right joints 7, left gripper 1, right
gripper 1; a part the robot does not have is zero. An EEF is position xyz then a unit quaternion in scalar-last
(x, y, z, w) order: LingBot-VA's loader reads `pose[3:7]` with scipy's `Rotation.from_quat`, whose default order
that is (`wan_va/dataset/lerobot_latent_dataset.py`, `get_relative_pose`).

A latent file `latents/chunk-XXX/<video_key>/episode_{index:06d}_{start}_{end}.pth` is a `torch.save`d dict with exactly
the README's keys (`LATENT_KEYS`); `LatentRecord` validates one and turns it into that dict and back.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from schemas.canonical import HANDS
from schemas.frozen import Frozen
from schemas.lerobot import InfoJson

LINGBOT_ACTION_DIM = 30
EEF_DIM = 7  # xyz + quaternion (x, y, z, w)
JOINTS_PER_ARM = 7
QUATERNION_ORDER = "xyzw"
LAYOUT_NAME = "lingbot-va-30"


def eef_dims(hand: int) -> slice:
    return slice(hand * EEF_DIM, (hand + 1) * EEF_DIM)


def gripper_dim(hand: int) -> int:
    return 2 * EEF_DIM + 2 * JOINTS_PER_ARM + hand


LINGBOT_ACTION_NAMES: tuple[str, ...] = (
    *(f"{h}.eef.{a}" for h in HANDS for a in ("x", "y", "z", "qx", "qy", "qz", "qw")),
    *(f"{h}.joint_{i}" for h in HANDS for i in range(JOINTS_PER_ARM)),
    *(f"{h}.gripper" for h in HANDS),
)
assert len(LINGBOT_ACTION_NAMES) == LINGBOT_ACTION_DIM


def latent_file(info: InfoJson, episode_index: int, video_key: str, start_frame: int, end_frame: int) -> str:
    """Path of a segment's latent file relative to the dataset root (mirrors `videos/`)."""
    chunk = info.episode_chunk(episode_index)
    return f"latents/chunk-{chunk:03d}/{video_key}/episode_{episode_index:06d}_{start_frame}_{end_frame}.pth"


class LatentRecord(BaseModel):
    """One `.pth` file: the README's table's keys in its order (`LATENT_KEYS`), the tensors bfloat16, `latent`
    [N, C] with N = latent_num_frames * latent_height * latent_width, `text_emb` [L, D]. `video_height`/`video_width`
    are the source video's (README: "Original video height")."""

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True, extra="forbid")

    latent: torch.Tensor
    latent_num_frames: int = Field(ge=1)
    latent_height: int = Field(ge=1)
    latent_width: int = Field(ge=1)
    video_num_frames: int = Field(ge=1)
    video_height: int = Field(ge=1)
    video_width: int = Field(ge=1)
    text_emb: torch.Tensor
    text: str
    frame_ids: list[int]
    start_frame: int = Field(ge=0)
    end_frame: int
    fps: int = Field(ge=1)
    ori_fps: int = Field(ge=1)

    @model_validator(mode="after")
    def _consistent(self) -> LatentRecord:
        n = self.latent_num_frames * self.latent_height * self.latent_width
        if self.latent.dtype != torch.bfloat16 or self.latent.ndim != 2 or self.latent.shape[0] != n:
            raise ValueError(
                f"latent must be bfloat16 [{n}, C] (latent_num_frames*latent_height*latent_width rows), "
                f"got {self.latent.dtype} {list(self.latent.shape)}"
            )
        if self.text_emb.dtype != torch.bfloat16 or self.text_emb.ndim != 2:
            raise ValueError(f"text_emb must be bfloat16 [L, D], got {self.text_emb.dtype} {list(self.text_emb.shape)}")
        if len(self.frame_ids) != self.video_num_frames:
            raise ValueError(f"{len(self.frame_ids)} frame_ids for video_num_frames={self.video_num_frames}")
        ids = self.frame_ids
        if not all(self.start_frame <= i < self.end_frame for i in ids) or any(b <= a for a, b in pairwise(ids)):
            raise ValueError(f"frame_ids must increase inside [{self.start_frame}, {self.end_frame}), got {ids}")
        if len({b - a for a, b in pairwise(ids)}) > 1:
            raise ValueError(f"frame_ids must be evenly spaced (the loader reads the stride from the first two): {ids}")
        return self

    def to_dict(self) -> dict[str, Any]:
        """The dict `torch.save` writes: the README's keys in its order, plain Python scalars."""
        return {k: getattr(self, k) for k in LATENT_KEYS}

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "latent file") -> LatentRecord:
        if not isinstance(d, dict) or set(d) != set(LATENT_KEYS):
            got = sorted(d) if isinstance(d, dict) else type(d).__name__
            raise ValueError(f"{where}: keys must be exactly {list(LATENT_KEYS)}, got {got}")
        try:
            return cls.model_validate(d)
        except ValidationError as e:  # name the file: pydantic's message names only the model
            raise ValueError(f"{where}: {e}") from e


LATENT_KEYS: tuple[str, ...] = tuple(LatentRecord.model_fields)


class LatentPlan(Frozen):
    """What one latent file must hold, known before any encoding: the record's scalars and its tensors' shapes."""

    path: str = Field(description="relative to the dataset root (`latent_file`)")
    video_key: str
    text: str
    frame_ids: list[int]
    start_frame: int
    end_frame: int
    fps: int
    ori_fps: int
    video_height: int
    video_width: int
    latent_num_frames: int
    latent_height: int
    latent_width: int
    latent_channels: int
    text_emb_shape: tuple[int, int]

    def _scalars(self) -> dict[str, Any]:
        keys = set(LATENT_KEYS) - {"latent", "text_emb", "video_num_frames"}
        return {k: getattr(self, k) for k in sorted(keys)}

    def record(self, latent: torch.Tensor, text_emb: torch.Tensor) -> LatentRecord:
        rec = LatentRecord(latent=latent, text_emb=text_emb, video_num_frames=len(self.frame_ids), **self._scalars())
        if not self.matches(rec):
            raise ValueError(
                f"{self.path}: encoder output latent {list(latent.shape)} / text_emb {list(text_emb.shape)} does not "
                f"match the plan ({self.latent_num_frames}x{self.latent_height}x{self.latent_width} x "
                f"{self.latent_channels}, text {list(self.text_emb_shape)})"
            )
        return rec

    def matches(self, rec: LatentRecord) -> bool:
        n = self.latent_num_frames * self.latent_height * self.latent_width
        return (
            all(getattr(rec, k) == v for k, v in self._scalars().items())
            and tuple(rec.latent.shape) == (n, self.latent_channels)
            and tuple(rec.text_emb.shape) == tuple(self.text_emb_shape)
        )
