"""The HOT3D writer (`adapters/synthetic/hot3d.py`) against the maker's data samples and loaders
(facebookresearch/hot3d `hot3d/data_loaders/tests/data_sample/{Aria/P0003_c701bd11,Quest3/P0002_273c2819}`,
`constants.POSE_DATA_CSV_COLUMNS`, `loader_hand_poses.py`): each sequence holds the sample's files for its headset,
pose CSVs under the maker's header with unit quaternions w first, hand lines keyed "0"/"1" with `wrist_xform`
{`q_wxyz`, `t_xyz`} and UmeTrack's 22 joint angles (the last two zero) or MANO's 15 PCA coefficients and 10 betas,
and each headset's clock: Aria's two ground-truth stamps per frame ~90 us apart in the TIME_CODE range, Quest 3's
33 333 333 ns steps from 43 124 400 000 000."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from adapters.synthetic.hot3d import Hot3DFixture, write_hot3d

MAKERS_HEADER = "object_uid,timestamp[ns],t_wo_x[m],t_wo_y[m],t_wo_z[m],q_wo_w,q_wo_x,q_wo_y,q_wo_z"
COMMON = {
    "metadata.json",
    "headset_trajectory.csv",
    "dynamic_objects.csv",
    "mano_hand_pose_trajectory.jsonl",
    "umetrack_hand_pose_trajectory.jsonl",
    "umetrack_hand_user_profile.json",
}
CALIBRATION = {"Aria": "mps/slam/online_calibration.jsonl", "Quest3": "camera_models.json"}


@pytest.fixture(scope="module")
def fixture(tmp_path_factory: pytest.TempPathFactory) -> Hot3DFixture:
    return write_hot3d(tmp_path_factory.mktemp("hot3d"))


def _folders(fixture: Hot3DFixture) -> dict[str, Path]:
    return {json.loads((p / "metadata.json").read_text())["headset"]: p for p in fixture.root.iterdir() if p.is_dir()}


def test_each_sequence_holds_the_samples_files(fixture: Hot3DFixture) -> None:
    folders = _folders(fixture)
    assert set(folders) == {"Aria", "Quest3"}
    for headset, folder in folders.items():
        files = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
        assert files == COMMON | {CALIBRATION[headset]}, headset
        meta = json.loads((folder / "metadata.json").read_text())
        assert meta["recording_name"] == folder.name and meta["participant_id"] == folder.name.split("_")[0]


def test_pose_csvs_under_the_makers_header_w_first(fixture: Hot3DFixture) -> None:
    for folder in _folders(fixture).values():
        for name in ("headset_trajectory.csv", "dynamic_objects.csv"):
            with (folder / name).open(newline="") as f:
                rows = list(csv.reader(f))
            assert ",".join(rows[0]) == MAKERS_HEADER
            q = np.array([[float(v) for v in r[5:9]] for r in rows[1:]])
            np.testing.assert_allclose(np.linalg.norm(q, axis=1), 1, atol=1e-6)


def test_hand_lines_as_the_makers_loader_reads_them(fixture: Hot3DFixture) -> None:
    for folder in _folders(fixture).values():
        ume = [json.loads(line) for line in (folder / "umetrack_hand_pose_trajectory.jsonl").read_text().splitlines()]
        mano = [json.loads(line) for line in (folder / "mano_hand_pose_trajectory.jsonl").read_text().splitlines()]
        for line in ume:
            assert set(line) == {"timestamp_ns", "hand_poses"} and set(line["hand_poses"]) <= {"0", "1"}
            for hand in line["hand_poses"].values():
                assert len(hand["wrist_xform"]["q_wxyz"]) == 4 and len(hand["wrist_xform"]["t_xyz"]) == 3
                assert len(hand["joint_angles"]) == 22 and hand["joint_angles"][20:] == [0, 0]
                assert 0 <= hand["hand_confidence"] <= 1
        betas = {json.dumps(h["betas"]) for line in mano for h in line["hand_poses"].values()}
        assert all(len(h["pose"]) == 15 for line in mano for h in line["hand_poses"].values())
        assert len(betas) <= 2 and all(len(json.loads(b)) == 10 for b in betas)  # one shape per hand, every line


def test_each_headsets_clock(fixture: Hot3DFixture) -> None:
    folders = _folders(fixture)
    stamps = {}
    for headset, folder in folders.items():
        with (folder / "headset_trajectory.csv").open(newline="") as f:
            stamps[headset] = np.array([int(r[1]) for r in list(csv.reader(f))[1:]])
    aria, quest = stamps["Aria"], stamps["Quest3"]
    assert 5e13 < aria[0] < 6e13 and 80_000 < aria[1] - aria[0] < 100_000  # a frame's two stamps, ~90 us apart
    assert quest[0] == 43_124_400_000_000 and (np.abs(np.diff(quest) - 33_333_333) <= 1).all()  # 30 Hz, no gap
