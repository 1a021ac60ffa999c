"""The real GR00T PickNPlace sample (`gr00t_robot_sim_picknplace`, tests/REAL_SAMPLES.md) as behaviour QA inputs.

Limits: the dataset's own `meta/stats.json` min/max per state dim (v2.0 has no per-episode stats); units radians (GR1
arm and hand joints, `schemas/robots/joint_space.yaml`); rest dims: the `left_hand`/`right_hand` slices of the
dataset's own `meta/modality.json` (a hand rests open or closed at a range end: its left thumb sits at 1.743, the
URDF's upper limit 1.74 of `R_thumb_proximal_yaw_joint` mirrored, for 96% of each episode).
"""

from __future__ import annotations

import functools
import json

import av
import numpy as np
import pyarrow.parquet as pq

from ingest.canonical.limits import DimLimits
from tests.fixtures.behaviour_defects import Episode
from tests.realdata import realdata

SAMPLE = "gr00t_robot_sim_picknplace"
FPS = 20.0
EPISODES = 5


@functools.cache
def limits() -> DimLimits:
    stats = json.loads((realdata(SAMPLE) / "meta" / "stats.json").read_text())["observation.state"]
    modality = json.loads((realdata(SAMPLE) / "meta" / "modality.json").read_text())["state"]
    rest = np.zeros(len(stats["min"]), bool)
    for part in ("left_hand", "right_hand"):
        rest[modality[part]["start"] : modality[part]["end"]] = True
    return DimLimits(np.array(stats["min"]), np.array(stats["max"]), ("rad",) * len(rest), rest)


def arm_dims() -> list[int]:
    """The right arm's joints (modality.json `right_arm`), the arm that does the task."""
    m = json.loads((realdata(SAMPLE) / "meta" / "modality.json").read_text())["state"]["right_arm"]
    return list(range(m["start"], m["end"]))


@functools.cache
def episode(index: int) -> Episode:
    table = pq.read_table(realdata(SAMPLE) / "data" / "chunk-000" / f"episode_{index:06d}.parquet")
    n = table.num_rows
    state = table["observation.state"].combine_chunks().flatten().to_numpy().reshape(n, -1).astype(np.float64)
    action = table["action"].combine_chunks().flatten().to_numpy().reshape(n, -1).astype(np.float64)
    video = realdata(SAMPLE) / "videos" / "chunk-000" / "observation.images.ego_view" / f"episode_{index:06d}.mp4"
    with av.open(str(video)) as container:
        container.streams.video[0].thread_type = "AUTO"
        frames = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
    return Episode(state, action, frames, FPS)
