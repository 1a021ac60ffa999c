"""A recorded pose of the hand that an OXE row does not read as its wrist (berkeley_mvp's names no point of the tool;
maniskill's is in the world, beside the robot's own base pose): the row's `joint_fk.recorded_pose`. Its wrist is FK
of the joints; the pose, read in the maker's quaternion order, goes to the episode's hand declaration as a reference
(`HandSignals.references`), compared per episode with that wrist (`ingest.canonical.eef_agreement
.reference_agreement`): a copy that differs gets a note."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np
from pydantic import Field
from scipy.spatial.transform import Rotation

from adapters.base import Stream
from adapters.poses import se3
from schemas.frozen import Frozen

QuatOrder = Literal["xyzw", "wxyz"]


class RecordedPose(Frozen):
    """Where the row's recorded hand pose is ('<key>:<part>' columns) and how far its convention is stated."""

    xyz: str = Field(description="the position column (3 values, m)")
    quat: str = Field(description="the quaternion column (4 values)")
    order: QuatOrder = Field(description="the quaternion's order, as the maker's code writes it")
    base_xyz: str | None = Field(None, description="the robot base's position in the pose's frame (None: the base)")
    base_quat: str | None = Field(None, description="the base's quaternion, in the pose's order")
    source: str = Field(min_length=1, description="the frame and the order, cited, or why the order is unstated")

    def bad_columns(self, width: Callable[[str], int | None]) -> list[str]:
        """The columns that are not of the row or not 3 / 4 values wide."""
        cols = [(self.xyz, 3), (self.quat, 4)]
        cols += [(self.base_xyz, 3), (self.base_quat, 4)] if self.base_xyz or self.base_quat else []
        return [f"{c!r} (want {n} values)" for c, n in cols if c is None or width(c) != n]


def _matrices(xyz: np.ndarray, quat: np.ndarray, order: QuatOrder) -> np.ndarray:
    q = quat if order == "xyzw" else np.roll(quat, -1, axis=1)  # scipy reads scalar-last
    return se3(Rotation.from_quat(q).as_matrix(), xyz)


def reference_poses(ref: RecordedPose, states: dict[str, Stream]) -> dict[str, tuple[int, Stream]]:
    """label -> (right hand, (T,4,4) poses in the robot's base); none where a column is absent
    (the layout finding names it)."""
    keys = [ref.xyz, ref.quat, *((ref.base_xyz, ref.base_quat) if ref.base_xyz and ref.base_quat else ())]
    if any(k not in states for k in keys):
        return {}
    vals = [states[k].values.reshape(len(states[k]), -1).astype(np.float64) for k in keys]
    t = states[ref.xyz].timestamps
    pose = _matrices(vals[0], vals[1], ref.order)
    label = f"{ref.xyz.rsplit(':', 1)[0]} read {ref.order}"
    if len(vals) == 4:  # in the world: base⁻¹ · pose
        pose = np.linalg.inv(_matrices(vals[2], vals[3], ref.order)) @ pose
        label += f", composed with {ref.base_xyz.rsplit(':', 1)[0]}⁻¹"  # type: ignore[union-attr]
    return {label: (1, Stream(t, pose, unit="se3_4x4", frame="robot_base"))}
