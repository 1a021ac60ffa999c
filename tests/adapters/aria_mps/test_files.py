"""Aria MPS files parsed (`adapters/aria_mps/files.py`), on the maker's own sample (projectaria_tools
`data/gen1/mps_sample/`, awaited in the shared folder as `aria_mps_sample`) and on files in its layout: both versions
of `hand_tracking_results.csv` read alike, the two missing-hand sentinels (-1, 0) masked alike, the landmarks
mapped onto MANO-21 by the maker's enum, left and right checked against the file's own normals, and the planted
defects (a sentinel read as data, sides swapped, a confidence that is neither) refused naming line and column."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from adapters.aria_mps import files
from schemas.canonical import BONES, MANO21_NAMES
from tests.fixtures.writers.aria_mps import write_mps
from tests.realdata import realdata


class Bad(Exception):
    pass


def fail(message: str, field: str) -> Bad:
    return Bad(f"{field}: {message}")


def _sample(name: str) -> bytes:
    return realdata(f"aria_mps_sample/{name}").read_bytes()


def test_the_mano21_order_takes_the_makers_landmark_enum() -> None:
    # HandTracking.h:33-60: tips 0-4, wrist 5, thumb intermediate 6 / distal 7, index proximal 8 ... palm centre 20
    assert files.LANDMARKS.index("WRIST") == 5 and files.LANDMARKS.index("PALM_CENTER") == 20
    assert files.LANDMARKS.index("INDEX_PROXIMAL") == 8 and files.LANDMARKS.index("PINKY_DISTAL") == 19
    used = [v for v in files.MANO21_FROM_ARIA.values() if v is not None]
    assert len(set(used)) == 20 and "PALM_CENTER" not in used and files.MANO21_FROM_ARIA["thumb1"] is None
    lm = np.arange(21 * 3, dtype=float).reshape(1, 1, 21, 3)
    res = files.HandResults(
        np.zeros(1, np.int64), np.ones((1, 1)), np.ones((1, 1), bool), lm, np.zeros((1, 1, 4, 4)), None
    )
    kp = res.mano21()[0, 0]
    assert kp[MANO21_NAMES.index("wrist")].tolist() == lm[0, 0, 5].tolist()
    assert kp[MANO21_NAMES.index("index_tip")].tolist() == lm[0, 0, 1].tolist()
    np.testing.assert_allclose(kp[MANO21_NAMES.index("thumb1")], 0.74 * lm[0, 0, 5] + 0.26 * lm[0, 0, 6])


def test_the_real_results_read_alike_in_both_versions_with_the_missing_hands_masked() -> None:
    v1 = files.read_results(_sample("hand_tracking/hand_tracking_results_v1.csv"), fail)
    v2 = files.read_results(_sample("hand_tracking/hand_tracking_results_v2.csv"), fail)
    assert v1.palm_normal is None and v2.palm_normal is not None
    assert len(v1.micros) == 8 and v1.micros[0] == 1_762_609_162  # device clock, microseconds
    np.testing.assert_array_equal(v1.tracked, v2.tracked)
    assert v1.tracked.sum(axis=0).tolist() == [3, 3]  # the rest are confidence -1
    np.testing.assert_array_equal(v1.landmarks, v2.landmarks)
    assert np.isnan(v1.landmarks[~v1.tracked]).all() and np.isfinite(v1.landmarks[v1.tracked]).all()
    kp = v1.mano21()[v1.tracked]  # (6, 21, 3): human-sized, bones of a hand
    length = np.linalg.norm(kp[:, MANO21_NAMES.index("middle_tip")] - kp[:, 0], axis=-1)
    assert (length > 0.15).all() and (length < 0.21).all()
    bones = np.array([np.linalg.norm(kp[:, b] - kp[:, a], axis=-1) for a, b in BONES])
    assert (bones > 0.015).all() and (bones < 0.11).all()  # the wrist -> finger base bones the longest


def test_the_real_wrist_and_palm_sentinels_minus_one_and_zero_mask_the_same_rows() -> None:
    v1 = files.read_wrist_and_palm(_sample("hand_tracking/wrist_and_palm_poses.csv"), fail)
    v2 = files.read_wrist_and_palm(_sample("hand_tracking/wrist_and_palm_poses_v2.csv"), fail)
    missing_right = ~v1.tracked[:, 1]
    assert set(v1.confidence[missing_right, 1]) == {-1.0} and set(v2.confidence[missing_right, 1]) == {0.0}
    np.testing.assert_array_equal(v1.tracked, v2.tracked)  # the sentinel changed, not the rows it marks
    assert v1.tracked.sum(axis=0).tolist() == [0, 6] and len(v1.micros) == 122
    np.testing.assert_array_equal(v1.wrist, v2.wrist)
    assert np.isnan(v2.wrist[missing_right, 1]).all()  # v2's zeros (and its stray -1) are never values


def test_the_real_trajectory_is_one_world_z_up_at_1_khz_read_at_the_asked_times() -> None:
    text = _sample("trajectory/closed_loop_trajectory.csv").decode()
    at = np.array([149_000_000, 149_203_000, 150_000_499, 155_123_456, 170_000_000])
    traj = files.read_trajectory(io.StringIO(text), at, fail)
    assert traj.graph_uid == "ea7288b8-b6a0-012d-8156-257aba6bd796" and traj.span == (149_202_610, 160_597_999)
    np.testing.assert_allclose(traj.up, [0, 0, 1])
    assert traj.micros[0] == 149_202_610 and traj.micros[-1] == 160_597_999  # outside the span: the ends, far
    assert traj.gap[0] == 202_610 and traj.gap[-1] == 170_000_000 - 160_597_999
    assert (traj.gap[1:4] <= 600).all()  # inside: within about half of the ~1 ms spacing
    rows = [r.split(",") for r in text.splitlines()]
    header = rows[0]
    for t, pose in zip(traj.micros[1:4], traj.world_from_device[1:4], strict=True):
        row = next(r for r in rows[1:] if int(r[1]) == t)
        np.testing.assert_allclose(pose[:3, 3], [float(row[header.index(f"t{a}_world_device")]) for a in "xyz"])
    np.testing.assert_allclose(np.linalg.det(traj.world_from_device[:, :3, :3]), 1.0, atol=1e-6)


@pytest.mark.parametrize("normals", [True, False])
def test_left_and_right_agree_with_the_files_own_normals(tmp_path: Path, normals: bool) -> None:
    write_mps(tmp_path, np.random.default_rng(0), 12, {}, normals=normals)
    text = (tmp_path / "hand_tracking/hand_tracking_results.csv").read_bytes()
    res = files.read_results(text, fail)
    assert res.tracked.all() and (res.palm_normal is not None) == normals
    swapped = _swap_sides(text.decode())
    with pytest.raises(Bad) as e:
        files.read_results(swapped.encode(), fail)
    field = "nx_left_palm_device" if normals else "qx_left_device_wrist"
    assert str(e.value).startswith(f"{field}: line 2:") and "left and right swapped" in str(e.value)


def _swap_sides(text: str) -> str:
    header, *rows = text.splitlines()
    names = header.split(",")
    swapped = [n.replace("left", "@").replace("right", "left").replace("@", "right") for n in names]
    order = [names.index(n) for n in swapped]
    return "\n".join([header] + [",".join(row.split(",")[i] for i in order) for row in rows]) + "\n"


def _edit(tmp_path: Path, column: str, value: str, row: int = 3, **kw: object) -> bytes:
    write_mps(tmp_path, np.random.default_rng(1), 8, {"left": range(2, 4)}, **kw)  # type: ignore[arg-type]
    header, *rows = (tmp_path / "hand_tracking/hand_tracking_results.csv").read_text().splitlines()
    cells = rows[row - 2].split(",")
    cells[header.split(",").index(column)] = value
    rows[row - 2] = ",".join(cells)
    return ("\n".join([header, *rows]) + "\n").encode()


def test_a_sentinel_row_given_a_confidence_is_refused_not_read_as_a_hand_at_the_origin(tmp_path: Path) -> None:
    text = _edit(tmp_path, "left_tracking_confidence", "0.9", row=4)  # line 4 = data row 2: the left hand missing
    with pytest.raises(Bad) as e:
        files.read_results(text, fail)
    assert str(e.value).startswith("left_tracking_confidence: line 4:") and "device origin" in str(e.value)


@pytest.mark.parametrize("value", ["-0.5", "1.5", "nan"])
def test_a_confidence_neither_in_range_nor_a_sentinel_is_named(tmp_path: Path, value: str) -> None:
    text = _edit(tmp_path, "right_tracking_confidence", value, row=6)
    with pytest.raises(Bad) as e:
        files.read_results(text, fail)
    assert str(e.value).startswith("right_tracking_confidence: line 6:") and "neither" in str(e.value)


@pytest.mark.parametrize("sentinel", [-1.0, 0.0])
def test_both_sentinels_mask_the_hand_in_its_rows_only(tmp_path: Path, sentinel: float) -> None:
    write_mps(tmp_path, np.random.default_rng(2), 10, {"right": range(3, 6)}, sentinel=sentinel)
    res = files.read_results((tmp_path / "hand_tracking/hand_tracking_results.csv").read_bytes(), fail)
    assert np.flatnonzero(~res.tracked[:, 1]).tolist() == [3, 4, 5] and res.tracked[:, 0].all()
    assert set(res.confidence[3:6, 1]) == {sentinel}
    assert np.isnan(res.mano21()[3:6, 1]).all() and np.isfinite(res.mano21()[:, 0]).all()


def test_a_malformed_value_and_a_time_going_back_are_named_by_line(tmp_path: Path) -> None:
    with pytest.raises(Bad, match=r"^tx_right_landmark_4_device: line 5: .*'abc', not a number"):
        files.read_results(_edit(tmp_path, "tx_right_landmark_4_device", "abc", row=5), fail)
    with pytest.raises(Bad, match=r"^tracking_timestamp_us: line 4: .* does not increase"):
        files.read_results(_edit(tmp_path, "tracking_timestamp_us", "1", row=4), fail)


def test_trajectory_rows_of_two_worlds_or_going_back_are_refused(tmp_path: Path) -> None:
    write_mps(tmp_path, np.random.default_rng(3), 6, {})
    lines = (tmp_path / "slam/closed_loop_trajectory.csv").read_text().splitlines()
    at = np.array([int(lines[5].split(",")[1])])
    other = [*lines[:-1], "graph-1" + lines[-1][len("graph-0") :]]
    with pytest.raises(Bad, match=rf"^graph_uid: line {len(lines)}: graph_uid 'graph-1' after 'graph-0'"):
        files.read_trajectory(other, at, fail)
    back = [*lines[:4], lines[2], *lines[4:]]
    with pytest.raises(Bad, match=r"^tracking_timestamp_us: line 5: tracking_timestamp_us does not increase"):
        files.read_trajectory(back, at, fail)
    traj = files.read_trajectory(lines, at, fail)
    assert traj.gap.tolist() == [0] and traj.graph_uid == "graph-0"
