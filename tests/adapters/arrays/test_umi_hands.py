"""UMI replay buffers (real-stanford/universal_manipulation_interface, `adapters/arrays/layouts.yaml`'s header cites
the code) come out with canonical hands: each gripper's recorded TCP pose (table tag frame, a rotation vector, the
GoPro's axes) becomes its wrist 0.235 m back along the approach axis (the `umi` offset), the width its opening, and the
action is the next recorded pose and width at 10 Hz, as UMI's own training takes its action from the recorded poses.
Physical invariants, not the formula re-run: proper rotations, the wrist's z the recorded approach axis and its y the
axis the fingers close along (the TCP's x in UMI's code), the wrist exactly the offset behind the TCP, the opening
rising as the fingers part, the action's target landing on the recorded next pose. Buffers are written here with zarr
in UMI's layout (07_generate_replay_buffer.py's keys, float32 as it stores them, zipped as its ZipStore saves them)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from adapters.arrays.adapter import ArraysAdapter
from adapters.base import RawEpisode
from ingest.frames import apply_delta, pos_rot6d_to_pose, rot6d_to_matrix
from schemas.canonical import GRIPPER, WRIST_POS, WRIST_ROT6D, hand_dims
from schemas.robots.eef_offsets import EEF_OFFSETS
from schemas.tiers import QualityTier
from tests.fixtures.offline import prepare
from tests.fixtures.writers.arrays import zip_folder

FPS = 60  # the GoPro's rows (UMI records at 59.94; the `fps` option gives the rate): 10 Hz frame k is row 6k
STEP = FPS // 10
N = 120  # 2 s per episode
TCP_M = 0.235  # UR5e flange -> UMI TCP (example/eval_robots_config.yaml:8)
FULL_M = 0.09  # UMI's max_gripper_width (eval_real.py:133)


def _gripper(seed: int) -> tuple[np.ndarray, Rotation, np.ndarray]:
    """(N,3) TCP positions over a table (tag frame, z up), N camera rotations looking down and forward, turning, and a
    width (N,) rising 0.004 -> 0.086 m (the fingers parting)."""
    t = np.linspace(0.0, 1.0, N)
    pos = np.stack([0.3 * t - 0.1 + 0.05 * seed, 0.1 * np.sin(2 * t + seed), 0.25 - 0.15 * t], axis=1)
    # the camera's z (its optical axis, UMI's approach) tilted down towards the table, its x swinging with the wrist
    rot = Rotation.from_euler("xyz", np.stack([-2.2 + 0.3 * t, 0.25 * np.sin(3 * t + seed), 0.6 * t + seed], axis=1))
    return pos, rot, 0.004 + 0.082 * t


def _write_umi(
    path: Path, grippers: int, ends: list[int], cameras: int = 0
) -> dict[int, tuple[np.ndarray, Rotation, np.ndarray]]:
    """A buffer as 07_generate_replay_buffer.py writes it (robot<i>_eef_pos, _eef_rot_axis_angle, _gripper_width (T,1),
    _demo_start/end_pose, camera<i>_rgb uint8 (small, without the JpegXl codec)), zipped with the store's root at the
    zip's root."""
    import zarr

    folder = path.with_suffix(".dir")
    g = zarr.open_group(folder, mode="w", zarr_format=2)
    for c in range(cameras):
        frames = (np.arange(ends[-1])[:, None, None, None] * 3 + 40 * c + np.zeros((1, 8, 8, 3))) % 251 + 1
        g.create_array(f"data/camera{c}_rgb", data=frames.astype(np.uint8))
    truth = {}
    for i in range(grippers):
        per = [_gripper(2 * i + e) for e in range(len(ends))]
        pos = np.concatenate([p[0] for p in per])[: ends[-1]]
        rotvec = np.concatenate([p[1].as_rotvec() for p in per])[: ends[-1]]
        width = np.concatenate([p[2] for p in per])[: ends[-1]]
        g.create_array(f"data/robot{i}_eef_pos", data=pos.astype(np.float32))
        g.create_array(f"data/robot{i}_eef_rot_axis_angle", data=rotvec.astype(np.float32))
        g.create_array(f"data/robot{i}_gripper_width", data=width[:, None].astype(np.float32))
        start = np.concatenate([pos, rotvec], axis=1)
        g.create_array(f"data/robot{i}_demo_start_pose", data=np.repeat(start[:1], len(start), axis=0))
        g.create_array(f"data/robot{i}_demo_end_pose", data=np.repeat(start[-1:], len(start), axis=0))
        # what the file holds, as read back (float32), for the checks
        truth[i] = (pos.astype(np.float32), Rotation.from_rotvec(rotvec.astype(np.float32)), width.astype(np.float32))
    g.create_array("meta/episode_ends", data=np.asarray(ends, dtype=np.int64))
    zip_folder(folder, path)
    shutil.rmtree(folder)
    return truth


def _read(root: Path, **options) -> list[RawEpisode]:
    adapter = ArraysAdapter(options)
    refs = list(adapter.discover(root))
    assert all(r.error is None for r in refs), [r.error for r in refs]
    return [adapter.read(r) for r in refs]


def _wrist_poses(ep, hand: int) -> np.ndarray:
    x9 = np.concatenate([ep.state[:, hand_dims(hand, WRIST_POS)], ep.state[:, hand_dims(hand, WRIST_ROT6D)]], axis=1)
    return pos_rot6d_to_pose(x9.astype(np.float64))


def _check_hand(ep, hand: int, pos: np.ndarray, rot: Rotation, width: np.ndarray) -> None:
    rows = np.arange(len(ep.timestamps)) * STEP
    assert np.allclose(ep.timestamps, rows / FPS)
    wrist = ep.state[:, hand_dims(hand, WRIST_POS)].astype(np.float64)
    r = rot6d_to_matrix(ep.state[:, hand_dims(hand, WRIST_ROT6D)])
    assert np.allclose(np.linalg.det(r), 1.0, atol=1e-5)
    assert np.allclose(r @ np.swapaxes(r, 1, 2), np.eye(3), atol=1e-5)  # a proper rotation
    tcp = rot[rows].as_matrix()
    assert np.allclose(r[:, :, 2], tcp[:, :, 2], atol=1e-5)  # approach: the GoPro's optical axis
    assert np.allclose(r[:, :, 1], tcp[:, :, 0], atol=1e-5)  # the fingers close along the TCP's x: the wrist's y
    # the wrist sits the offset behind the recorded TCP, along the recorded approach axis
    assert np.allclose(wrist, pos[rows] - TCP_M * tcp[:, :, 2], atol=1e-5)
    g = ep.state[:, hand_dims(hand, GRIPPER)][:, 0]
    assert np.all(np.diff(g) > 0)  # the opening rises as the fingers part
    assert np.allclose(g, width[rows] / FULL_M, atol=1e-5)
    # the action: the pose and width of the next 10 Hz frame as recorded (the last frame holds still)
    target = apply_delta(_wrist_poses(ep, hand)[:-1], ep.action[:-1, hand_dims(hand, slice(0, 9))].astype(np.float64))
    (offset, _) = EEF_OFFSETS["umi"]
    flange_to_tcp = np.linalg.inv(offset.matrix())
    target_tcp = target @ flange_to_tcp
    assert np.allclose(target_tcp[:, :3, 3], pos[rows[1:]], atol=1e-5)
    assert np.allclose(target_tcp[:, :3, :3], tcp[1:], atol=1e-5)
    assert np.allclose(ep.action[:-1, hand_dims(hand, GRIPPER)][:, 0], width[rows[1:]] / FULL_M, atol=1e-5)


def test_one_umi_gripper_is_the_right_hand(tmp_path: Path) -> None:
    truth = _write_umi(tmp_path / "dataset.zarr.zip", 1, [N, 2 * N])
    eps = _read(tmp_path, fps=FPS)
    assert [e.embodiment for e in eps] == ["umi", "umi"]
    assert eps[0].metadata["hands_from"].startswith("umi:") and set(eps[0].hands.hands) == {1}
    (offset, _) = EEF_OFFSETS["umi"]
    assert offset.translation == (0.0, 0.0, -TCP_M)
    pos, rot, width = truth[0]
    for k, raw in enumerate(eps):
        done = prepare(raw)
        (ep,) = done.episodes
        assert ep.tier is not QualityTier.actionless and ep.embodiment == "umi"
        assert "records the TCP" in ep.eef_offset
        rows = slice(k * N, (k + 1) * N)
        _check_hand(ep, 1, pos[rows], rot[rows], width[rows])
        assert ep.mask[hand_dims(1, GRIPPER)].all() and not ep.mask[hand_dims(0, WRIST_POS)].any()
        assert "robot0_eef_pos.0" in ep.natives.state_names  # the natives stay beside


def test_two_umi_grippers_are_the_right_and_the_left_hand(tmp_path: Path) -> None:
    truth = _write_umi(tmp_path / "bimanual.zarr.zip", 2, [N], cameras=2)
    (raw,) = _read(tmp_path, fps=FPS)
    assert raw.embodiment == "umi_bimanual" and set(raw.hands.hands) == {0, 1}
    # each gripper's GoPro is its wrist camera (06_generate_dataset_plan.py: camera i rides on gripper i)
    assert {k: c.canonical for k, c in raw.cameras.items()} == {
        "camera0_rgb": "wrist_right",
        "camera1_rgb": "wrist_left",
    }
    (ep,) = prepare(raw).episodes
    assert ep.tier is not QualityTier.actionless
    _check_hand(ep, 1, *truth[0])  # robot0: the right gripper (06_generate_dataset_plan.py:456)
    _check_hand(ep, 0, *truth[1])  # robot1: the left one


def test_with_one_gripper_the_second_camera_is_not_a_wrist(tmp_path: Path) -> None:
    _write_umi(tmp_path / "dataset.zarr.zip", 1, [N], cameras=2)  # camera1: an external camera (06:374-377)
    (raw,) = _read(tmp_path, fps=FPS)
    assert raw.embodiment == "umi"
    assert {k: c.canonical for k, c in raw.cameras.items()} == {"camera0_rgb": "wrist_right", "camera1_rgb": None}


def test_umi_still_needs_its_rate(tmp_path: Path) -> None:
    _write_umi(tmp_path / "dataset.zarr.zip", 1, [N])
    (ref,) = list(ArraysAdapter().discover(tmp_path))
    assert ref.error is not None and "`fps` option is required" in str(ref.error)


def test_a_width_outside_umis_range_is_clipped_not_read_as_more_than_open(tmp_path: Path) -> None:
    from adapters.arrays.layouts import LAYOUTS
    from adapters.poses import gripper_opening

    hand = LAYOUTS["umi"].hands[-1].right
    assert hand is not None
    opening = gripper_opening(np.array([[-0.002], [0.0], [0.045], [0.09], [0.095]]), hand)
    assert opening.tolist() == pytest.approx([0.0, 0.0, 0.5, 1.0, 1.0])
