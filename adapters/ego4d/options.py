"""Ego4D adapter options and where its files are looked for."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from adapters.base import AdapterOptions

NARRATION_FILES = (
    "narration.json",
    "v2/annotations/narration.json",
    "v1/annotations/narration.json",
    "annotations/narration.json",
)
METADATA_FILES = ("ego4d.json", "v2/ego4d.json", "v1/ego4d.json")
ANNOTATION_DIRS = ("", "v2/annotations", "v1/annotations", "annotations")
# Goal-Step file names per split: the maker's repository and its `parse_goalstep_jsons.py` name the validation file
# `goalstep_valid.json` (facebookresearch/ego4d-goalstep data/, commit 7e2b6cf5); `goalstep_val.json` is accepted too.
GOALSTEP_FILES = {
    "train": ("goalstep_train.json",),
    "val": ("goalstep_valid.json", "goalstep_val.json"),
    "test": ("goalstep_test.json",),
}
Annotation = Literal["narration", "goalstep"]
GoalStepLevel = Literal["goal", "step", "substep"]


class Ego4DOptions(AdapterOptions):
    annotations: list[Annotation] | None = Field(
        None,
        min_length=1,
        description="annotation kinds to cut episodes from: narration.json windows, Goal-Step segments; "
        "default: every kind found under the root",
    )
    narration_file: str | None = Field(None, description="narration.json, relative to the root; default: searched")
    metadata_file: str | None = Field(None, description="ego4d.json, relative to the root; default: searched")
    passes: list[str] = Field(["narration_pass_1"], min_length=1, description="narration passes to cut episodes from")
    window_s: tuple[float, float] = Field(
        (-1.0, 2.0), description="episode window (start, end) in seconds relative to the narration timestamp"
    )
    drop_unsure: bool = Field(False, description="skip narrations tagged #unsure")
    merge_overlapping: bool = Field(False, description="merge narrations whose windows overlap into one episode")
    goalstep_splits: list[Literal["train", "val", "test"]] = Field(
        ["train", "val"],
        min_length=1,
        description="Goal-Step splits to read (test has no times: its videos are refused with the reason)",
    )
    goalstep_files: dict[str, str] | None = Field(
        None, description="Goal-Step file per split, relative to the root; default: searched"
    )
    goalstep_levels: list[GoalStepLevel] = Field(
        ["step", "substep"], min_length=1, description="which Goal-Step segments become episodes"
    )
    goalstep_end_tolerance_s: float = Field(
        0.5,
        ge=0.0,
        description="a Goal-Step end this far past the video end is clipped to it (goal ends sit at "
        "video_start_sec + duration); further is refused",
    )
    video_dirs: list[str] = Field(["v2/full_scale", "v1/full_scale", "full_scale"], description="full-scale mp4s")
    clip_dirs: list[str] = Field(["v2/clips", "v1/clips", "clips"], description="clip mp4s (used via ego4d.json)")

    @model_validator(mode="after")
    def _window(self) -> Ego4DOptions:
        if self.window_s[1] <= self.window_s[0]:
            raise ValueError(f"window_s end must follow its start, got {self.window_s}")
        unknown = set(self.goalstep_files or {}) - set(GOALSTEP_FILES)
        if unknown:
            raise ValueError(f"goalstep_files: unknown split(s) {sorted(unknown)}; known: {sorted(GOALSTEP_FILES)}")
        return self
