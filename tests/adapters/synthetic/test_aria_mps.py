"""The Aria MPS writer (`adapters/synthetic/aria_mps.py`) checked by the maker's own reader: projectaria_tools 2.3.0
reads the written `hand_tracking_results.csv` (both versions) and `closed_loop_trajectory.csv` as its MPS readers do,
the landmarks, wrist poses, confidences and missing hands (either sentinel) as written; the written hands are those
of a human (bone lengths constant over time, the maker's palm normal pointing out of the palm, below the device)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from adapters.aria_mps.files import LANDMARKS, palmar
from adapters.synthetic.aria_mps import device_from_rgb, write_mps
from tests.needs import tool_missing

try:
    from projectaria_tools.core import mps
except ImportError:
    mps = None


def _maker() -> object:
    if mps is None:
        tool_missing("projectaria-tools", "make venv installs it (pip install --no-deps projectaria-tools==2.3.0)")
    return mps


@pytest.mark.parametrize(("sentinel", "normals"), [(-1.0, True), (0.0, False)])
def test_projectaria_tools_reads_the_written_hands(tmp_path: Path, sentinel: float, normals: bool) -> None:
    reader = _maker()
    write_mps(tmp_path, np.random.default_rng(0), 8, {"right": range(2, 4)}, sentinel=sentinel, normals=normals)
    rows = reader.hand_tracking.read_hand_tracking_results(str(tmp_path / "hand_tracking/hand_tracking_results.csv"))
    assert len(rows) == 8
    assert [r.right_hand is None for r in rows] == [False, False, True, True, False, False, False, False]
    assert all(r.left_hand is not None and r.left_hand.confidence == pytest.approx(0.95) for r in rows)
    first = rows[0].left_hand
    lm = np.array(first.landmark_positions_device)  # (21,3), the maker's enum order
    wrist = first.transform_device_wrist.to_matrix()
    np.testing.assert_allclose(lm[LANDMARKS.index("WRIST")], wrist[:3, 3], atol=1e-9)
    if normals:  # the maker's rule (HandTracking.cpp:184-201) gives the written palm normal
        n = np.array(first.wrist_and_palm_normal_device.palm_normal_device)
        np.testing.assert_allclose(n, palmar(lm[None], 0)[0], atol=1e-9)


def test_the_written_hands_are_rigid_human_and_below_the_camera(tmp_path: Path) -> None:
    reader = _maker()
    write_mps(tmp_path, np.random.default_rng(1), 20, {})
    rows = reader.hand_tracking.read_hand_tracking_results(str(tmp_path / "hand_tracking/hand_tracking_results.csv"))
    rgb_from_device = np.linalg.inv(device_from_rgb())
    for side in ("left_hand", "right_hand"):
        lm = np.array([np.array(getattr(r, side).landmark_positions_device) for r in rows])  # (20,21,3)
        bone = np.linalg.norm(lm[:, LANDMARKS.index("MIDDLE_FINGERTIP")] - lm[:, LANDMARKS.index("WRIST")], axis=-1)
        np.testing.assert_allclose(bone, bone[0], atol=1e-9)  # rigid
        assert 0.18 < bone[0] < 0.19  # the synthetic adult hand, wrist to middle tip
        p = lm @ rgb_from_device[:3, :3].T + rgb_from_device[:3, 3]
        assert (p[..., 2] > 0.3).all() and (p[..., 1] > 0).all()  # ahead of the RGB camera, below its centre
        assert (np.median(p[..., 0]) < 0) == (side == "left_hand")


def test_projectaria_tools_reads_the_written_trajectory(tmp_path: Path) -> None:
    reader = _maker()
    write_mps(tmp_path, np.random.default_rng(2), 6, {})
    poses = reader.read_closed_loop_trajectory(str(tmp_path / "slam/closed_loop_trajectory.csv"))
    assert len(poses) > 200 and {p.graph_uid for p in poses} == {"graph-0"}
    np.testing.assert_allclose(poses[0].gravity_world, [0, 0, -9.81])
    steps = np.diff([p.tracking_timestamp.total_seconds() for p in poses])
    np.testing.assert_allclose(steps, 1e-3, atol=1e-9)  # 1 kHz
    calib = reader.read_online_calibration(str(tmp_path / "slam/online_calibration.jsonl"))
    rgb = next(c for c in calib[0].camera_calibs if c.get_label() == "camera-rgb")
    np.testing.assert_allclose(rgb.get_transform_device_camera().to_matrix(), device_from_rgb(), atol=1e-9)
