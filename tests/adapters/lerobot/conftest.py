"""The LeRobot family's shared helper: a dataset of one or two arms written by our writer from given joint rows
(state row i, action row i + 1), the SO-101 motor names."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from adapters.lerobot.adapter import LeRobotSource
from ingest.lerobot.writer import LeRobotWriter
from schemas.lerobot_features import IMAGE_NAMES, FeatureSpec

MOTORS = ("shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper")


def write_arm_dataset(
    root: Path, robot_type: str, names: list[str], rows: np.ndarray, cameras: tuple[str, ...] = (), fps: int = 20
) -> Path:
    cam = FeatureSpec(dtype="video", shape=(16, 16, 3), names=list(IMAGE_NAMES))
    vec = FeatureSpec(dtype="float32", shape=(len(names),), names=names)
    features = {**{f"observation.images.{c}": cam for c in cameras}, "observation.state": vec, "action": vec}
    with LeRobotWriter.create(root, fps=fps, features=features, robot_type=robot_type) as w:
        with w.episode(task="fold the cloth") as ep:
            for i in range(len(rows) - 1):
                frame = {f"observation.images.{c}": np.full((16, 16, 3), 3 * i % 255, np.uint8) for c in cameras}
                ep.add_frame(
                    {**frame, "observation.state": rows[i].astype(np.float32), "action": rows[i + 1].astype(np.float32)}
                )
    return root


def quirk_report(adapter: LeRobotSource, root: Path) -> list[dict]:
    """The validation report of one dataset root: DatasetMeta's quirks plus the adapter's, as dicts."""
    return [q.model_dump() for q in adapter.dataset(root).quirks]
