"""Every form of Aria MPS hand output (`adapters/aria_mps/forms.py`, `folder.py`) on the maker's own sample folder
(projectaria_tools `data/gen1/mps_sample/`, awaited as `aria_mps_sample`): the newest version of each form read, the
21-landmark files of another session than the trajectory named and left, the wrist-and-palm poses giving the right
hand's wrist in the SLAM world, compared with the raw CSV rows moved by the recorded trajectory (computed here, apart
from the adapter), the left hand (never tracked) out of the mask; planted defects (a sentinel read as a position, the
palm column read as the wrist) fail that comparison.

Which hand file an MPS folder reads (`adapters/aria_mps/forms.py`): a file whose rows miss the trajectory's span
is of another session and is named, never joined; the edges of a CSV are read from its two ends.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from adapters.aria_mps import files, forms
from adapters.registry import get_adapter
from adapters.storage.location import locate
from ingest.canonical.hands import wrist_frames_from_keypoints
from ingest.canonical.store import dataset_features
from schemas.canonical import FINGERTIPS_XYZ, HAND_KEYPOINTS, WRIST_POS, WRIST_ROT6D, hand_dims
from schemas.canonicalize import CanonicalizeSpec
from tests.fixtures.offline import prepare
from tests.fixtures.writers.aria_mps import write_mps
from tests.realdata import realdata


class Bad(Exception):
    pass


def fail(message: str, field: str) -> Bad:
    return Bad(f"{field}: {message}")


def test_the_newest_version_of_each_form_first_the_legacy_name_last() -> None:
    names = ["wrist_and_palm_poses.csv", "hand_tracking_results_v1.csv", "wrist_and_palm_poses_v2.csv", "x.csv"]
    found = forms.hand_files([*names, "hand_tracking_results_v2.csv", "summary.json"])
    assert [f.name for f in found[forms.WRIST_FORM]] == ["wrist_and_palm_poses_v2.csv", "wrist_and_palm_poses.csv"]
    assert [f.version for f in found[forms.RESULTS_FORM]] == [2, 1]
    assert "wrist_and_palm_poses.csv" in (forms.newest_note(found[forms.WRIST_FORM]) or "")


def test_the_wrist_frame_from_palm_and_normal_is_the_21_landmark_frame_on_the_real_file() -> None:
    res = files.read_results(realdata("aria_mps_sample/hand_tracking/hand_tracking_results_v2.csv").read_bytes(), fail)
    kp = res.mano21()
    for h, side in enumerate(("left", "right")):
        ok = res.tracked[:, h]
        mine = forms.wrist_frames(res.landmarks[ok, h, 5], res.landmarks[ok, h, 20], res.palm_normal[ok, h], h)
        full = wrist_frames_from_keypoints(kp[ok, h], side)
        deg = np.degrees(Rotation.from_matrix(np.swapaxes(mine[:, :3, :3], 1, 2) @ full[:, :3, :3]).magnitude())
        assert ok.sum() == 3 and (deg < 1.0).all(), (side, deg)  # measured 0.17-0.35 degrees
        np.testing.assert_allclose(mine[:, :3, 3], full[:, :3, 3])


def _raw_right_wrists(folder: Path, name: str) -> tuple[np.ndarray, np.ndarray]:
    """The tracked right-hand rows of a wrist-and-palm file moved into the world by the nearest trajectory row, read
    here with the csv module apart from the adapter: (micros, (N,3) world wrist)."""
    with (folder / "hand_tracking" / name).open() as f:
        rows = [r for r in csv.DictReader(f) if float(r["right_tracking_confidence"]) > 0]
    with (folder / "trajectory/closed_loop_trajectory.csv").open() as f:
        traj = list(csv.DictReader(f))
    t = np.array([int(r["tracking_timestamp_us"]) for r in traj])
    out = []
    for r in rows:
        p = traj[int(np.argmin(np.abs(t - int(r["tracking_timestamp_us"]))))]
        q = [float(p[f"q{a}_world_device"]) for a in "xyzw"]
        pos = np.array([float(p[f"t{a}_world_device"]) for a in "xyz"])
        wrist = np.array([float(r[f"t{a}_right_wrist_device"]) for a in "xyz"])
        out.append(Rotation.from_quat(q).apply(wrist) + pos)
    return np.array([int(r["tracking_timestamp_us"]) for r in rows]), np.array(out)


def _adapter_right_wrists(folder: Path) -> tuple[np.ndarray, np.ndarray, object]:
    adapter = get_adapter("aria_mps")
    [ref] = list(adapter.discover(folder))
    raw = adapter.read(ref)
    track = raw.hands.hands[1]
    wrist = track.rotation if track.rotation is not None else track.position  # a pose, else a position (v1)
    micros = raw.metadata["start_tracking_timestamp_us"] + np.round(wrist.timestamps * 1e6).astype(int)
    values = wrist.values[:, :3, 3] if wrist.unit == "se3_4x4" else wrist.values
    return micros, values, (adapter, ref, raw)


def assert_wrists_are_the_raw_rows(folder: Path, name: str = "wrist_and_palm_poses_v2.csv") -> None:
    micros, wrists, _ = _adapter_right_wrists(folder)
    raw_micros, raw_wrists = _raw_right_wrists(folder, name)
    assert np.abs(micros - raw_micros).max() <= 1
    np.testing.assert_allclose(wrists, raw_wrists, atol=1e-6)


def test_the_sample_gives_the_right_hands_wrists_the_21_landmarks_of_another_session_said() -> None:
    folder = realdata("aria_mps_sample")
    micros, _, (adapter, ref, raw) = _adapter_right_wrists(folder)
    assert ref.locator["hand_file"] == "wrist_and_palm_poses_v2.csv" and ref.error is None
    lines = [f.line() for f in adapter.findings()]
    assert any(x.startswith("WARNING hand_file_not_joined") and "1762.609-1817.200 s" in x for x in lines)
    assert any("wrist_and_palm_poses.csv (older versions" in x for x in lines)
    assert 0 not in raw.hands.hands and len(micros) == 6  # the left hand is never tracked; 6 right rows
    assert_wrists_are_the_raw_rows(folder)
    out = prepare(raw, CanonicalizeSpec(validity={"min_length_frames": 3}))  # 0.5 s: under the default 10 frames
    [ep] = out.episodes
    mask = ep.mask
    assert mask[hand_dims(1, WRIST_POS)].all() and mask[hand_dims(1, WRIST_ROT6D)].all()
    assert not mask[hand_dims(1, FINGERTIPS_XYZ)].any() and not mask[hand_dims(0, slice(0, 25))].any()
    assert ep.hand_valid[:, 1].all() and not ep.hand_valid[:, 0].any() and not ep.keypoints.any()


def test_planted_defects_fail_the_comparison_with_the_raw_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    folder = realdata("aria_mps_sample")
    real = files._confidence
    monkeypatch.setattr(files, "_confidence", lambda v, f, fl: real(v, f, fl) | (v == 0))  # v2's 0 read as a hand
    with pytest.raises((AssertionError, Exception)):
        assert_wrists_are_the_raw_rows(folder)
    monkeypatch.setattr(files, "_confidence", real)
    real_columns = files._columns
    swap = {f"t{a}_right_wrist_device": f"t{a}_right_palm_device" for a in "xyz"}
    renamed = lambda h, r, names, f: real_columns(h, r, [swap.get(n, n) for n in names], f)  # noqa: E731
    monkeypatch.setattr(files, "_columns", renamed)
    with pytest.raises(AssertionError):
        assert_wrists_are_the_raw_rows(folder)


def _only(tmp_path: Path, keep: str, as_name: str) -> Path:
    """A copy of the sample folder whose one hand file is its `keep`, named `as_name`."""
    folder = realdata("aria_mps_sample")
    out = tmp_path / "mps"
    shutil.copytree(folder / "trajectory", out / "trajectory")
    (out / "hand_tracking").mkdir()
    shutil.copyfile(folder / "hand_tracking" / keep, out / "hand_tracking" / as_name)
    return out


@pytest.mark.parametrize(
    ("keep", "as_name", "rotation"),
    [
        ("wrist_and_palm_poses.csv", "wrist_and_palm_poses.csv", False),  # the first version, unversioned name
        ("wrist_and_palm_poses.csv", "wrist_and_palm_poses_v1.csv", False),  # the same bytes, versioned
        ("wrist_and_palm_poses_v2.csv", "wrist_and_palm_poses_v2.csv", True),
    ],
)
def test_each_wrist_and_palm_file_gives_the_tracked_right_wrists_the_left_masked(
    tmp_path: Path, keep: str, as_name: str, rotation: bool
) -> None:
    """Issue 66's done-when: from the unversioned or a versioned file, the 6 tracked right-hand rows with their
    wrists (a pose with normals, a position alone without), the left hand (-1 in both files) masked, the right
    hand's untracked rows (-1 in the first file, 0 in the second) left out; the dataset's features claim no
    keypoint slot (no fingers)."""
    folder = _only(tmp_path, keep, as_name)
    micros, _, (_, ref, raw) = _adapter_right_wrists(folder)
    assert ref.locator["hand_file"] == as_name and len(micros) == 6 and 0 not in raw.hands.hands
    assert_wrists_are_the_raw_rows(folder, as_name)
    track = raw.hands.hands[1]
    assert (track.rotation is not None) is rotation and track.keypoints is None
    assert len(raw.states["palm/right"]) == 6 and "palm/left" not in raw.states
    [ep] = prepare(raw, CanonicalizeSpec(validity={"min_length_frames": 3})).episodes
    mask = ep.mask
    assert mask[hand_dims(1, WRIST_POS)].all() and mask[hand_dims(1, WRIST_ROT6D)].all() == rotation
    assert not mask[hand_dims(1, FINGERTIPS_XYZ)].any() and not mask[hand_dims(0, slice(0, 25))].any()
    assert ep.hand_valid[:, 1].all() and not ep.hand_valid[:, 0].any() and not ep.has_hands
    assert not ep.state[:, hand_dims(1, WRIST_ROT6D)].any() or rotation  # a rotation never made up
    info = dataset_features(ep)[HAND_KEYPOINTS].info
    assert info["has_hands"] == [] and not np.any(info["mask"])


def test_a_file_of_another_session_is_named_and_the_one_that_meets_the_trajectory_read(tmp_path: Path) -> None:
    write_mps(tmp_path / "m", np.random.default_rng(3), 12, {})
    hands, traj = locate(tmp_path / "m/hand_tracking"), locate(tmp_path / "m/slam/closed_loop_trajectory.csv")
    first, last = forms.edge_micros(traj) or (0, 0)
    assert 0 < first < last
    ok = forms.choose(hands, traj)
    assert ok.hand_file is not None and ok.hand_file.name == "hand_tracking_results.csv" and not ok.apart
    header, *rows = (tmp_path / "m/hand_tracking/hand_tracking_results.csv").read_text().splitlines()
    late = [",".join([str(int(r.split(",")[0]) + 3_600_000_000), *r.split(",")[1:]]) for r in rows]
    (tmp_path / "m/hand_tracking/hand_tracking_results.csv").write_text("\n".join([header, *late]) + "\n")
    apart = forms.choose(hands, traj)
    assert apart.hand_file is None and "of another session, not joined" in apart.why_none
