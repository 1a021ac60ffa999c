"""The HoloAssist writer (`adapters/synthetic/holoassist.py`) read as the dataset authors' own script reads the files
(taeinkwon/PyHoloAssist@9d0dfe2:hand_eye_project.py: `line[3:-52]` as (26,4,4) hand joints, `Pose_sync.txt`
columns 2: as the camera pose, `Intrinsics.txt` first 9 values and last two, the point in the camera as
`inv(A) @ inv(pose) @ p`, lines 12-13, 96-130, 304-339): 471 values a hand line, both hands project inside the
declared image, the left on the left, in front of the camera; joint rotations proper; a hand not tracked written as
psi writes an empty hand (IsActive 0, NaN poses, flags 0)."""

from __future__ import annotations

import numpy as np
import pytest

from adapters.synthetic.holoassist import HoloAssistFixture, write_holoassist

A = np.array([[0, 0, 1, 0], [-1, 0, 0, 0], [0, -1, 0, 0], [0, 0, 0, 1]], dtype=float)  # the maker's axis matrix


@pytest.fixture(scope="module")
def fixture(tmp_path_factory: pytest.TempPathFactory) -> HoloAssistFixture:
    return write_holoassist(tmp_path_factory.mktemp("holoassist"), frames=12)


def _table(path) -> list[list[float]]:
    return [list(map(float, line.split("\t"))) for line in path.read_text().split("\n") if line]


def test_hands_project_inside_the_image_as_the_makers_script_projects_them(fixture: HoloAssistFixture) -> None:
    export = fixture.root / fixture.recordings[0] / "Export_py"
    values = np.array(_table(export / "Video" / "Intrinsics.txt")[0])
    K, (w, h) = values[:9].reshape(3, 3), values[-2:]
    poses = [np.array(row[2:]).reshape(4, 4) for row in _table(export / "Video" / "Pose_sync.txt")]
    u_median = {}
    for side in ("Left", "Right"):
        rows = _table(export / "Hands" / f"{side}_sync.txt")
        assert {len(r) for r in rows} == {471}
        uv = []
        for row, pose in zip(rows, poses, strict=True):
            joints = np.array(row[3:-52]).reshape(-1, 4, 4)
            assert len(joints) == 26
            assert np.allclose(np.linalg.det(joints[:, :3, :3]), 1.0)
            p = np.linalg.inv(A) @ np.linalg.inv(pose) @ np.c_[joints[:, :3, 3], np.ones(26)].T
            assert (p[2] > 0.2).all()
            uv.append((K @ (p[:3] / p[2]))[:2].T)
        uv = np.concatenate(uv)
        assert (uv > 0).all() and (uv[:, 0] < w).all() and (uv[:, 1] < h).all()
        u_median[side] = np.median(uv[:, 0])
    assert u_median["Left"] < w / 2 < u_median["Right"]


def test_a_hand_not_tracked_is_written_as_psi_writes_an_empty_hand(fixture: HoloAssistFixture) -> None:
    rec, side, gone = fixture.missing[0]
    rows = np.array(_table(fixture.root / rec / "Export_py" / "Hands" / f"{side}_sync.txt"))
    active = rows[:, 2] == 1
    assert np.flatnonzero(~active).tolist() == list(gone)
    assert np.isnan(rows[~active, 3:-52]).all() and (rows[~active, -52:] == 0).all()
    assert np.isfinite(rows[active, 3:-52]).all() and (rows[active, -52:] == 1).all()
