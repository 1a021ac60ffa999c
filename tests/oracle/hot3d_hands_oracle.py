"""HOT3D's own hand loaders on one sequence folder, run in a subprocess under `.venv-oracle-mano` (never imported by
pytest; `make oracle-mano`):

    python hot3d_hands_oracle.py <maker code dir> <sequence dir> <MANO models dir or "-"> <out.npz>

The maker code dir holds HOT3D's `data_loaders/` package as fetched (facebookresearch/hot3d
`hot3d/data_loaders/`), imported as HOT3D's own scripts import it. For each hand of each timestamp of the
sequence's trajectories it asks HOT3D's providers for the hand's landmarks, as `dataset_api.py` and the viewer do:
`UmeTrackHandDataProvider(umetrack_hand_pose_trajectory.jsonl, umetrack_hand_user_profile.json)` and, with a models
dir, `MANOHandDataProvider(mano_hand_pose_trajectory.jsonl, MANOHandModel(models dir))` (smplx `MANO_LEFT.pkl` /
`MANO_RIGHT.pkl`), each `get_pose_at_timestamp(t, CLOSEST, TIME_CODE)` then `get_hand_landmarks(hand pose)`.
The MANO landmarks are also asked of a `MANOHandModel(joint_mapper=None)`: its 16 joints and 5 tips before HOT3D's
landmark mapping, whose joint 13 (thumb1) the mapping leaves out.

out.npz: `<kind>_<side>_t` (N,) ns and `<kind>_<side>_landmarks` (N, k, 3) m for kind mano | umetrack | mano_unmapped,
side left | right, and `landmark_names` (HOT3D's `LANDMARK_INDEX_TO_NAMING` values, in order).
"""

from __future__ import annotations

import os
import sys

import numpy as np


def landmarks(provider, stream) -> dict[str, np.ndarray]:
    from data_loaders.loader_hand_poses import Handedness
    from projectaria_tools.core.sensor_data import TimeDomain, TimeQueryOptions

    out: dict[str, list] = {}
    for t in provider.timestamp_ns_list:
        found = provider.get_pose_at_timestamp(t, TimeQueryOptions.CLOSEST, TimeDomain.TIME_CODE)
        for handedness, pose in found.pose3d_collection.poses.items():
            side = "left" if handedness == Handedness.Left else "right"
            lm = provider.get_hand_landmarks(pose)
            out.setdefault(f"{stream}_{side}_t", []).append(t)
            out.setdefault(f"{stream}_{side}_landmarks", []).append(np.asarray(lm, np.float64))
    return {k: np.asarray(v) for k, v in out.items()}


def main(maker: str, seq: str, mano_dir: str, out: str) -> None:
    sys.path.insert(0, maker)
    from data_loaders.hand_common import LANDMARK_INDEX_TO_NAMING
    from data_loaders.UmeTrackHandDataProvider import UmeTrackHandDataProvider

    result = {"landmark_names": np.array([n.value for n in LANDMARK_INDEX_TO_NAMING])}
    ume = UmeTrackHandDataProvider(
        os.path.join(seq, "umetrack_hand_pose_trajectory.jsonl"), os.path.join(seq, "umetrack_hand_user_profile.json")
    )
    result |= landmarks(ume, "umetrack")
    if mano_dir != "-":
        from data_loaders.mano_layer import MANOHandModel
        from data_loaders.ManoHandDataProvider import MANOHandDataProvider

        path = os.path.join(seq, "mano_hand_pose_trajectory.jsonl")
        result |= landmarks(MANOHandDataProvider(path, MANOHandModel(mano_dir)), "mano")
        unmapped = MANOHandModel(mano_dir, joint_mapper=None)
        result |= landmarks(MANOHandDataProvider(path, unmapped), "mano_unmapped")
    np.savez(out, **result)


if __name__ == "__main__":
    main(*sys.argv[1:5])
