"""Small HOT3D sequences in the release's folder layout, written as the maker's loaders read them
(`adapters/hot3d/files.py` names the files, the camera calibration among them: Aria MPS, Quest 3 `camera_models.json`).

Reproduced from the real samples (`hot3d/data_loaders/tests/data_sample/`): quaternions w first; UmeTrack
`joint_angles` of 22 values (20 DoF + 2 zeros) and `hand_confidence`; MANO `pose` of 15 PCA coefficients and 10
`betas` repeated on every line; hands keyed "0" (left) / "1" (right); the UmeTrack profile in millimetres for a left
hand (a right hand's wrist transform has its x column negated by the reader). Per headset, as its sample:
- Aria (P0003_c701bd11): two ground-truth timestamps per frame about 90 us apart with the same headset pose, in the
  TIME_CODE range (~5.7e13 ns); the sample's camera-rgb `T_Device_Camera` and projection. A Z-up world: the camera at
  1.6 m looks ahead and 35 degrees down, turning its head a little; both hands 40-45 cm ahead of it, 12 cm either side
  of its axis, below it, palms down, fingers forward, fingers flexing slowly; two objects at z 0.78.
- Quest 3 (P0002_273c2819): one timestamp per frame (33 333 333 ns apart, from 43 124 400 000 000), every file on the
  same stamps; the sample's headset uid, its first headset pose (y 1.17, the SLAM cameras looking 68 degrees down),
  turning its head +-8 degrees about the world's y; its `camera_models.json` (both SLAM cameras, FISHEYE624); its
  UmeTrack wrists' first positions (y 0.75, 0.32 m apart), moving a few cm, palms down (+y), fingers along the
  wearer's heading; its six objects' uids and first poses (y 0.72..0.77: the table), one of them sliding. A Y-up
  world, as the maker's viewer declares it (`adapters/hot3d/adapter.py` `WORLD_UP`).
The UmeTrack profile and the tests' synthetic MANO model are the same adult hand (`synthetic/hand.py`), so either
source gives the same wrist and fingertips up to the MANO shape (betas). With `video`, each good Aria sequence also
has its RGB recording `recording.vrs` (`synthetic/aria_recording.py`); Quest 3 sequences get none (the adapter reads no
Quest video). With `bad_quaternion`, one more Aria sequence whose headset row 5 has norm 2.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel
from scipy.spatial.transform import Rotation

from adapters.poses import se3
from adapters.synthetic import aria_recording
from adapters.synthetic.hand import hand_layout, look_at
from schemas.data_file import read_yaml

FINGERS = ("thumb", "index", "middle", "ring", "pinky")
Pose = tuple[tuple[float, float, float, float], tuple[float, float, float]]  # (q_wxyz, t_xyz)


class Sample(BaseModel):
    """`hot3d_sample.yaml`: the real samples' calibrations and first poses (their sources are named there)."""

    aria_rgb_t_device_camera: Pose
    aria_rgb_params: tuple[float, ...]
    quest_cameras: tuple[dict[str, Any], ...]  # camera_models.json's entries, as written there
    quest_headset_uid: str
    quest_device: Pose
    quest_wrists: dict[int, tuple[float, float, float]]  # hand -> the first wrist position
    quest_objects: dict[str, Pose]  # uid -> the first pose


SAMPLE = read_yaml(Path(__file__).with_name("hot3d_sample.yaml"), Sample)
QUEST_SLIDING = "265826671143948"  # the object that moves in the sample (z -0.31 -> -0.29 in half a second)
QUEST_T0_NS = 43_124_400_000_000
Y_UP = np.array([0.0, 1.0, 0.0])
POSE_HEADER = "object_uid,timestamp[ns],t_wo_x[m],t_wo_y[m],t_wo_z[m],q_wo_w,q_wo_x,q_wo_y,q_wo_z"
T0_NS = 56_752_108_188_860  # the sample's first ground-truth timestamp
PAIR_NS = 90_813  # the second timestamp of each frame


@dataclass
class Hot3DSequence:
    raw_id: str
    path: Path
    headset: str
    frames: int
    bad: str | None = None
    wrists: dict[int, np.ndarray] = field(default_factory=dict, repr=False)  # hand -> (T,4,4) true wrist poses
    world_from_camera: np.ndarray | None = field(default=None, repr=False)  # (T,4,4)
    rgb_params: tuple[float, ...] = SAMPLE.aria_rgb_params  # the camera-rgb projection its calibration file carries
    per_frame: int = 2  # ground-truth timestamps per frame (Aria 2, Quest 3 1)
    up: np.ndarray = field(default_factory=lambda: np.array([0.0, 0.0, 1.0]), repr=False)  # the world's up axis
    objects: dict[str, np.ndarray] = field(default_factory=dict, repr=False)  # uid -> (T,3) true positions


@dataclass
class Hot3DFixture:
    root: Path
    sequences: list[Hot3DSequence]

    @property
    def good(self) -> list[Hot3DSequence]:
        return [s for s in self.sequences if s.bad is None]


def _wxyz(T: np.ndarray) -> tuple[list[float], list[float]]:
    x, y, z, w = Rotation.from_matrix(T[:3, :3]).as_quat()
    return [float(w), float(x), float(y), float(z)], [float(v) for v in T[:3, 3]]


def _from_wxyz(q: tuple[float, ...], t: tuple[float, ...]) -> np.ndarray:
    return se3(Rotation.from_quat([q[1], q[2], q[3], q[0]]).as_matrix(), np.asarray(t))


def camera_track(frames: int, fps: float = 30.0) -> np.ndarray:
    """(T,4,4) world_from_camera, OpenCV axes: 1.6 m up, heading +x turning +-8 degrees, 35 degrees down."""
    t = np.arange(frames) / fps
    yaw, pitch = np.deg2rad(8.0) * np.sin(2 * np.pi * t / 3.0), np.deg2rad(35.0)
    view = np.column_stack([np.cos(pitch) * np.cos(yaw), np.cos(pitch) * np.sin(yaw), np.full(frames, -np.sin(pitch))])
    position = np.column_stack([0.02 * t, np.zeros(frames), np.full(frames, 1.6)])
    return se3(look_at(view, np.array([0.0, 0.0, -1.0])), position)  # image down: towards the ground


def hand_track(camera: np.ndarray, hand: int, fps: float = 30.0) -> np.ndarray:
    """(T,4,4) a wrist in a Z-up world: 40-45 cm ahead of the camera, 12 cm aside, palm down, fingers ahead."""
    t = np.arange(len(camera)) / fps
    side = np.full_like(t, -0.12 if hand == 0 else 0.12)
    in_cam = np.stack([side, 0.14 + 0.01 * np.sin(t), 0.42 + 0.02 * np.sin(2 * t)], -1)
    heading = camera[:, :3, 2] * [1.0, 1.0, 0.0]
    heading /= np.linalg.norm(heading, axis=-1, keepdims=True)
    p = np.einsum("tij,tj->ti", camera[:, :3, :3], in_cam) + camera[:, :3, 3]
    return se3(_palm_down(heading, np.array([0.0, 0.0, 1.0]), hand), p)


def _palm_down(heading: np.ndarray, up: np.ndarray, hand: int) -> np.ndarray:
    """A wrist rotation with the back of the hand up and the fingers along the horizontal `heading`, in the hand's
    own layout (`synthetic/hand.py`: a right hand's fingers run along +x, a left hand's, mirrored, along -x)."""
    x = heading if hand == 1 else -heading
    return np.stack([x, np.cross(up, x), np.broadcast_to(up, x.shape)], axis=-1)


def quest_device_track(frames: int, fps: float = 30.0) -> np.ndarray:
    """(T,4,4) T_world_device in the Quest 3 sample's Y-up world: its first pose, the head turning +-8 degrees about
    the world's y and drifting 2 cm/s along x."""
    t = np.arange(frames) / fps
    start = _from_wxyz(*SAMPLE.quest_device)
    yaw = Rotation.from_rotvec(np.outer(np.deg2rad(8.0) * np.sin(2 * np.pi * t / 3.0), Y_UP)).as_matrix()
    return se3(yaw @ start[:3, :3], start[:3, 3] + np.outer(0.02 * t, [1.0, 0.0, 0.0]))


def quest_hand_track(camera0: np.ndarray, hand: int, frames: int, fps: float = 30.0) -> np.ndarray:
    """(T,4,4) a hand's wrist in the Quest 3 world: from the sample's first wrist position, moving 2 cm along the
    wearer's heading (the first camera's view, made horizontal) and 1 cm across it, palm down, fingers along it."""
    t = np.arange(frames) / fps
    heading = camera0[:3, 2] - (camera0[:3, 2] @ Y_UP) * Y_UP
    heading /= np.linalg.norm(heading)
    across = np.cross(Y_UP, heading)
    p = (
        np.asarray(SAMPLE.quest_wrists[hand])
        + np.outer(0.02 * np.sin(2 * t), heading)
        + np.outer(0.01 * np.sin(t), across)
    )
    return se3(np.broadcast_to(_palm_down(heading, Y_UP, hand), (frames, 3, 3)), p)


def umetrack_profile() -> dict:
    """A `hand_model` for the synthetic adult left hand, millimetres: 20 DoF (abduction + flexion at the first joint,
    flexion at the next two), 21 landmarks each bound to one skinning frame."""
    lay = hand_layout("left")
    rest, axes = [], []
    for finger in FINGERS:
        j1, j2, j3 = (lay[f"{finger}{i}"] for i in (1, 2, 3))
        rest += [j1, j1, j2, j3]
        axes += [[0.0, 0.0, 1.0], [0.0, -1.0, 0.0], [0.0, -1.0, 0.0], [0.0, -1.0, 0.0]]  # -y: towards the palm
    landmarks = [lay[f"{f}_tip"] for f in FINGERS] + [lay["wrist"], lay["thumb2"], lay["thumb3"]]
    bones = [4 + 3 * i for i in range(5)] + [1, 2, 3]  # tips: last finger frame; wrist; thumb2/3: thumb frames 0/1
    for i, finger in enumerate(FINGERS[1:], start=1):
        landmarks += [lay[f"{finger}1"], lay[f"{finger}2"], lay[f"{finger}3"]]
        bones += [2 + 3 * i, 2 + 3 * i, 3 + 3 * i]
    landmarks.append(np.mean([lay["index1"], lay["pinky1"], lay["wrist"]], axis=0))  # palm centre
    bones.append(1)
    mm = 1000.0
    return {
        "hand_model": {
            "joint_rotation_axes": np.asarray(axes).tolist(),
            "joint_rest_positions": (np.asarray(rest) * mm).tolist(),
            "joint_frame_index": list(range(2, 22)),
            "joint_parent": [-1] * 20,
            "joint_first_child": [-1] * 20,
            "joint_next_sibling": [-1] * 20,
            "landmark_rest_positions": (np.asarray(landmarks) * mm).tolist(),
            "landmark_rest_bone_weights": [[1.0, 0.0]] * 21,
            "landmark_rest_bone_indices": [[b, 0] for b in bones],
            "hand_scale": 1.0,
        }
    }


def write_hot3d(
    root: Path,
    *,
    frames: int = 45,
    quest: bool = True,
    bad_quaternion: bool = False,
    video: bool = False,
) -> Hot3DFixture:
    """One Aria sequence (+ a Quest 3 one with `quest`, + the `bad_quaternion` one) under `root`; `video`: the good
    Aria ones' `recording.vrs` (a hand left out of some frames is `tests/fixtures/writers/hot3d.py`'s `unseen`)."""
    root = Path(root)
    specs = [("P0003_c701bd11", "Aria", None)] + ([("P0002_273c2819", "Quest3", None)] if quest else [])
    specs += [("P0099_bad00", "Aria", "bad_quaternion")] if bad_quaternion else []
    seqs = [write_sequence(root / n, n, headset, frames, case, video and not case) for n, headset, case in specs]
    return Hot3DFixture(root, seqs)


def write_sequence(
    path: Path,
    name: str,
    headset: str,
    frames: int,
    bad: str | None,
    video: bool,
) -> Hot3DSequence:
    """One sequence; `bad` labels it, and damages it only when it is `bad_quaternion`."""
    path.mkdir(parents=True, exist_ok=True)
    seq = Hot3DSequence(name, path, headset, frames, bad)
    quest = headset == "Quest3"
    slam_left = SAMPLE.quest_cameras[0]["T_Device_Camera"]  # the Quest 3 ground truth's camera: camera-slam-left
    pose = (slam_left["quaternion_wxyz"], slam_left["translation_xyz"]) if quest else SAMPLE.aria_rgb_t_device_camera
    device_from_camera = _from_wxyz(*pose)
    if quest:
        device = quest_device_track(frames)
        cam = device @ device_from_camera
        seq.wrists = {h: quest_hand_track(cam[0], h, frames) for h in (0, 1)}
        seq.per_frame, seq.up, headset_uid = 1, Y_UP, SAMPLE.quest_headset_uid
        stamps = [QUEST_T0_NS + k * 100_000_000 // 3 for k in range(frames)]
    else:
        cam = camera_track(frames)
        device = cam @ np.linalg.inv(device_from_camera)
        seq.wrists = {h: hand_track(cam, h) for h in (0, 1)}
        headset_uid = "5411364721403"
        stamps = [T0_NS + round(k * 1e9 / 30) + d for k in range(frames) for d in (0, PAIR_NS)]
    seq.world_from_camera = cam
    gt = {"mano_hand_pose_gt": True, "umetrack_hand_pose_gt": True, "object_pose_gt": True}
    meta = {"gt_available_status": gt, "headset": headset, "participant_id": name.split("_")[0], "recording_name": name}
    (path / "metadata.json").write_text(json.dumps(meta, indent=4))
    rows = [POSE_HEADER]
    for i, ts in enumerate(stamps):
        q, t = _wxyz(device[i // seq.per_frame])
        if bad == "bad_quaternion" and i == 5:
            q = [2 * v for v in q]
        rows.append(",".join(map(str, [headset_uid, ts, *t, *q])))
    (path / "headset_trajectory.csv").write_text("\n".join(rows) + "\n")
    _write_objects(path, seq, stamps[:: seq.per_frame], quest)
    _write_hands(path, seq, stamps)
    if video and not quest:
        seq.rgb_params = aria_recording.scale_params(
            SAMPLE.aria_rgb_params, aria_recording.SIDE / aria_recording.SENSOR
        )
        vrs = path / "recording.vrs"
        aria_recording.write_recording(vrs, cam, seq.wrists, seq.rgb_params, T0_NS)
    _write_calibration(path, quest, seq.rgb_params)
    return seq


def _write_objects(path: Path, seq: Hot3DSequence, stamps: list[int], quest: bool) -> None:
    """`dynamic_objects.csv`: Aria two objects at z 0.78, row by object; Quest 3 the sample's six, row by timestamp
    as there, one of them sliding 4 cm/s along z."""
    rows = [POSE_HEADER]
    if not quest:
        for uid, xy in (("194930206998778", (0.45, 0.1)), ("225397651484143", (0.5, -0.15))):
            rows += [",".join(map(str, [uid, ts, xy[0], xy[1], 0.78, 1.0, 0.0, 0.0, 0.0])) for ts in stamps]
            seq.objects[uid] = np.tile([xy[0], xy[1], 0.78], (len(stamps), 1))
        (path / "dynamic_objects.csv").write_text("\n".join(rows) + "\n")
        return
    t = np.arange(len(stamps)) / 30.0
    for uid, (_, pos) in SAMPLE.quest_objects.items():
        slide = 0.04 * t if uid == QUEST_SLIDING else 0.0 * t
        seq.objects[uid] = np.asarray(pos) + np.outer(slide, [0.0, 0.0, 1.0])
    for k, ts in enumerate(stamps):
        rows += [
            ",".join(map(str, [uid, ts, *seq.objects[uid][k], *q])) for uid, (q, _) in SAMPLE.quest_objects.items()
        ]
    (path / "dynamic_objects.csv").write_text("\n".join(rows) + "\n")


def _write_hands(path: Path, seq: Hot3DSequence, stamps: list[int]) -> None:
    betas = [0.3, -0.2, 0.1, 0.0, 0.05, -0.05, 0.0, 0.02, 0.0, -0.01]
    mano, ume = [], []
    for i, ts in enumerate(stamps):
        k = i // seq.per_frame
        flex = 0.25 + 0.15 * np.sin(2 * np.pi * k / 30)
        mano_hands, ume_hands = {}, {}
        for hand in (0, 1):
            q, t = _wxyz(seq.wrists[hand][k])
            pose = [0.3 * flex * np.cos(j) for j in range(15)]
            mano_hands[str(hand)] = {"pose": pose, "wrist_xform": {"t_xyz": t, "q_wxyz": q}, "betas": betas}
            angles = [0.0 if d % 4 == 0 else flex for d in range(20)] + [0.0, 0.0]
            wrist = {"t_xyz": t, "q_wxyz": q}
            ume_hands[str(hand)] = {"wrist_xform": wrist, "joint_angles": angles, "hand_confidence": 1.0}
        mano.append(json.dumps({"timestamp_ns": ts, "hand_poses": mano_hands}))
        ume.append(json.dumps({"timestamp_ns": ts, "hand_poses": ume_hands}))
    (path / "mano_hand_pose_trajectory.jsonl").write_text("\n".join(mano) + "\n")
    (path / "umetrack_hand_pose_trajectory.jsonl").write_text("\n".join(ume) + "\n")
    (path / "umetrack_hand_user_profile.json").write_text(json.dumps(umetrack_profile(), indent=4))


def _write_calibration(path: Path, quest: bool, rgb_params: tuple[float, ...]) -> None:
    if quest:
        (path / "camera_models.json").write_text(json.dumps(list(SAMPLE.quest_cameras), indent=4))
        return
    (q, t) = SAMPLE.aria_rgb_t_device_camera
    cams = [
        {
            "Calibrated": True,
            "Label": "camera-slam-left",
            "T_Device_Camera": {"Translation": [0.0, 0.0, 0.0], "UnitQuaternion": [1.0, [0.0, 0.0, 0.0]]},
            "Projection": {"Name": "FisheyeRadTanThinPrism", "Params": [241.5, 318.4, 237.4] + [0.0] * 12},
        },
        {
            "Calibrated": True,
            "Label": "camera-rgb",
            "T_Device_Camera": {"Translation": list(t), "UnitQuaternion": [q[0], list(q[1:])]},
            "Projection": {"Name": "FisheyeRadTanThinPrism", "Params": list(rgb_params)},
        },
    ]
    line = {
        "utc_timestamp_ns": -1,
        "tracking_timestamp_us": 113585202412,
        "ImuCalibrations": [],
        "CameraCalibrations": cams,
    }
    (path / "mps" / "slam").mkdir(parents=True, exist_ok=True)
    (path / "mps/slam/online_calibration.jsonl").write_text(json.dumps(line) + "\n" + json.dumps(line) + "\n")
