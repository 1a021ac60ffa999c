"""The corpus the report tests read: a robot dataset, an EgoDex-like human dataset whose keypoints lie 1 m in front
of its camera (intrinsics known, so projections can be checked by hand), an actionless clip, a quarantined episode."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from adapters.storage.corpus import Corpus
from ingest.frames import matrix_to_rot6d
from jobs.catalog.build import rebuild_catalog
from jobs.catalog.parts import write_quarantine_part
from jobs.report.keypoints import CAMERA_COLUMNS
from tests.fixtures.corpus import episode, quarantine_row, write_dataset

CAMERA = (48, 64)  # stored video (height, width)
K = np.array([[50.0, 0.0, 32.0], [0.0, 50.0, 24.0], [0.0, 0.0, 1.0]])  # in the stored video's pixels


def hand(n: int, offset: float) -> np.ndarray:
    """(n,21,3) keypoints 1 m in front of an OpenCV camera at the origin (looking along +z, y down)."""
    rng = np.random.default_rng(7)
    xy = rng.uniform(-0.1, 0.1, (21, 2))
    xy[:, 0] += offset
    base = np.c_[xy, np.full(21, 1.0)]
    return np.repeat(base[None], n, axis=0)


def human_dataset(root: Path, n: int = 8) -> Path:
    """EgoDex-like: keypoints, the camera trajectory in `camera.*` natives, the intrinsics in info.json; its raw
    files named by the lineage do not exist (the report must not need them)."""
    pose = np.r_[0.0, 0.0, 0.0, matrix_to_rot6d(np.eye(3))]  # camera at the reference frame's origin
    kp = np.stack([hand(n, -0.15), hand(n, 0.15)], axis=1)
    ep = episode(n, "fold", "egodex/basic/a", "human", hands=True, raw_path="/nowhere/egodex/0.hdf5")
    ep |= {"keypoints": kp, "native": np.repeat(pose[None], n, axis=0)}
    return write_dataset(root, "human", [ep], camera=CAMERA, native_state_names=list(CAMERA_COLUMNS), intrinsics=K)


def write_report_corpus(root: Path) -> Path:
    """Two robot episodes (one low tier, one captioned, one with latents), a human dataset with keypoints and
    intrinsics, an actionless clip, one quarantined episode; the catalog rebuilt."""
    write_dataset(
        root / "datasets/oxe/bridge",
        "franka",
        [
            episode(12, "pick", "oxe/bridge/e0", "franka"),
            episode(9, "open", "oxe/bridge/e1", "franka", tier="low", caption={"text": "a gripper opens a drawer"}),
        ],
        camera=CAMERA,
    )
    human_dataset(root / "datasets/egodex/basic")
    nothing = [0] * 50
    clip = episode(10, "cooking", "ego4d/clips/v0", "human_video", mask=nothing, tier="actionless")
    write_dataset(root / "datasets/ego4d/clips", "human_video", [clip], mask=nothing, camera=CAMERA)
    latents = root / "datasets/oxe/bridge/latents/chunk-000/observation.images.head/episode_000001.safetensors"
    latents.parent.mkdir(parents=True)
    latents.write_bytes(b"placeholder")
    write_quarantine_part(root, [quarantine_row(message="CRC mismatch <in> record 3 & more")], "job-0")
    rebuild_catalog(Corpus(root))
    return root
