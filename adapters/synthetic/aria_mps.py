"""A small Aria MPS output corpus in the maker's layout (`adapters/aria_mps/files.py` cites each fact): per
recording an MPS folder with `hand_tracking/hand_tracking_results.csv` (the columns in the order the maker's reader
names them, with or without the normals) and `slam/closed_loop_trajectory.csv` (1 kHz, the real sample's header),
`slam/online_calibration.jsonl` (camera-rgb's `T_Device_Camera` as in the real sample
facebookresearch/projectaria_tools@90f70ff:data/gen1/mps_sample/trajectory/online_calibration.jsonl line 1).

The world is z up. The RGB camera (z ahead, x right, y down, so built) sits at 1.55-1.70 m looking 30-40 degrees
down; the device frame is placed from it by the real `T_Device_Camera`. Both hands 40-45 cm ahead of the camera, in
its view, below it, each on its own side, palm down, from the synthetic adult hand (`synthetic/hand.py`; the palm
centre midway to middle1), with `T_Device_Wrist` in the maker's hand frame (left: fingers +x, right: fingers -x,
thumb +z, palm -y: the real sample's rows read so) and the palm normals by the maker's rule. `missing` lists
(folder, side, rows) where a hand is not tracked: its confidence the sentinel (-1 or 0), every value 0 and the
quaternion (0, 0, 0, 1), as the real sample writes it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from adapters.aria_mps.files import LANDMARKS, MANO21_FROM_ARIA, POSE7, SIDES, palmar
from adapters.synthetic.hand import hand_layout, se3

FPS = 30.0
START_US = 1_762_609_162  # the real sample's first hand row
TRAJ_STEP_US = 1000  # 1 kHz
# camera-rgb T_Device_Camera of the real sample (translation, quaternion w, [x, y, z])
RGB_T = (-0.004005868551322, -0.011869797002275, -0.004418150827837)
RGB_Q = (0.941575995616059, (0.332483969508643, 0.03396860324855, 0.041655593774964))
RGB_PARAMS = [1220.01943882295, 1461.091249679011, 1447.087207987354] + [0.0] * 12
# synthetic hand frame (fingers +x right hand, thumb +y, back +z) -> the maker's hand frame (x_a = -x, y_a = z, z_a = y)
TO_ARIA = np.array([[-1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
TRAJECTORY_HEADER = (
    "graph_uid,tracking_timestamp_us,utc_timestamp_ns,tx_world_device,ty_world_device,tz_world_device,"
    "qx_world_device,qy_world_device,qz_world_device,qw_world_device,device_linear_velocity_x_device,"
    "device_linear_velocity_y_device,device_linear_velocity_z_device,angular_velocity_x_device,"
    "angular_velocity_y_device,angular_velocity_z_device,gravity_x_world,gravity_y_world,gravity_z_world,"
    "quality_score,geo_available,tx_ecef_device,ty_ecef_device,tz_ecef_device,qx_ecef_device,qy_ecef_device,"
    "qz_ecef_device,qw_ecef_device"
)


@dataclass
class AriaMpsFixture:
    root: Path
    folders: list[str]
    frames: int
    missing: list[tuple[str, str, range]] = field(default_factory=list)


def device_from_rgb() -> np.ndarray:
    w, xyz = RGB_Q
    return se3(Rotation.from_quat([*xyz, w]).as_matrix(), np.array(RGB_T))


def results_header(normals: bool) -> list[str]:
    """The columns in the order the maker's reader lists them (HandTrackingReader.cpp:43-199)."""
    cols = ["tracking_timestamp_us"]
    for side in SIDES:
        cols += [f"{side}_tracking_confidence"]
        cols += [f"t{a}_{side}_landmark_{i}_device" for i in range(len(LANDMARKS)) for a in "xyz"]
    cols += [f"{c}_{side}_device_wrist" for side in SIDES for c in POSE7]
    if normals:
        cols += [f"n{a}_{side}_{p}_device" for side in SIDES for p in ("palm", "wrist") for a in "xyz"]
    return cols


def rgb_track(rng: np.random.Generator, micros: np.ndarray) -> np.ndarray:
    """(n,4,4) world_from_rgb (columns: the camera's x right, y down, z ahead in a z-up world)."""
    t = (micros - micros[0]) / 1e6
    yaw0, pitch0 = rng.uniform(0, 2 * np.pi), rng.uniform(0.52, 0.70)
    yaw, pitch = yaw0 + 0.1 * np.sin(0.8 * t), pitch0 + 0.03 * np.sin(1.1 * t)
    z = np.stack([np.cos(pitch) * np.cos(yaw), np.cos(pitch) * np.sin(yaw), -np.sin(pitch)], axis=-1)
    x = np.stack([np.sin(yaw), -np.cos(yaw), np.zeros_like(yaw)], axis=-1)  # horizontal, to the camera's right
    pos = np.array([0.3, -0.2, rng.uniform(1.55, 1.70)]) + 0.01 * np.sin(t)[:, None]
    return se3(np.stack([x, np.cross(z, x), z], axis=-1), pos)


def hand_in_camera(i: np.ndarray, side: str) -> tuple[np.ndarray, np.ndarray]:
    """((n,3) wrist positions, (3,3) the synthetic hand's axes) in the camera frame (x right, y down, z ahead) at
    rows `i` of 30 Hz: palm down, fingers ahead, thumb inwards, the wrist 40 cm ahead, 12 cm below, 10 cm to its side,
    moving 5 cm."""
    sign = -1.0 if side == "left" else 1.0
    t = i[:, None] / FPS
    wrist = np.array([sign * 0.10, 0.12, 0.40]) + 0.05 * np.sin(t * np.array([2.1, 2.7, 1.9]))
    return wrist, np.array([[0.0, -sign, 0.0], [0.0, 0.0, -1.0], [sign, 0.0, 0.0]])


def _hand_rgb(i: np.ndarray, side: str) -> tuple[np.ndarray, np.ndarray]:
    """((n,21,3) Aria landmarks, (n,3,3) the maker's hand-frame rotation) in the RGB camera frame."""
    wrist, R = hand_in_camera(i, side)
    layout = hand_layout(side)
    rest = {lm: layout[k] for k, lm in MANO21_FROM_ARIA.items() if lm is not None}
    rest["PALM_CENTER"] = 0.5 * layout["middle1"]
    local = np.stack([rest[name] for name in LANDMARKS])
    return wrist[:, None, :] + local @ R.T, np.repeat((R @ TO_ARIA.T)[None], len(i), axis=0)


def _fmt(v: float) -> str:
    return repr(float(v))


def write_results(
    path: Path, micros: np.ndarray, hands: dict[str, tuple], gone: dict[str, range], sentinel: float, normals: bool
) -> None:
    """`hands[side]` = ((n,21,3) landmarks, (n,4,4) T_Device_Wrist) in the device frame."""
    lines = [",".join(results_header(normals))]
    for r, us in enumerate(micros):
        row: dict[str, float] = {"tracking_timestamp_us": float(us)}
        for h, side in enumerate(SIDES):
            lm, pose = hands[side]
            tracked = r not in gone.get(side, range(0))
            row[f"{side}_tracking_confidence"] = 0.95 if tracked else sentinel
            for i in range(len(LANDMARKS)):
                for a, v in zip("xyz", lm[r, i] if tracked else np.zeros(3), strict=True):
                    row[f"t{a}_{side}_landmark_{i}_device"] = v
            q = Rotation.from_matrix(pose[r, :3, :3]).as_quat() if tracked else np.array([0, 0, 0, 1.0])
            t = pose[r, :3, 3] if tracked else np.zeros(3)
            for c, v in zip(POSE7, [*t, *q], strict=True):
                row[f"{c}_{side}_device_wrist"] = v
            n_palm = palmar(lm[r : r + 1], h)[0] if tracked else np.zeros(3)
            n_wrist = -pose[r, :3, 1] if tracked else np.zeros(3)
            for p, n in (("palm", n_palm), ("wrist", n_wrist)):
                for a, v in zip("xyz", n, strict=True):
                    row[f"n{a}_{side}_{p}_device"] = v
        cells = [str(int(us))] + [_fmt(row[c]) for c in results_header(normals)[1:]]
        lines.append(",".join(cells))
    path.write_text("\n".join(lines) + "\n")


def write_trajectory(path: Path, micros: np.ndarray, world_from_device: np.ndarray, uid: str = "graph-0") -> None:
    lines = [TRAJECTORY_HEADER]
    for us, T in zip(micros, world_from_device, strict=True):
        q = Rotation.from_matrix(T[:3, :3]).as_quat()
        pose = ",".join(_fmt(v) for v in [*T[:3, 3], *q])
        rest = ",".join(["0.0"] * 6 + ["0.0", "0.0", "-9.81", "0.5", "0"] + ["0.0"] * 6 + ["1.0"])
        lines.append(f"{uid},{int(us)},-1,{pose},{rest}")
    path.write_text("\n".join(lines) + "\n")


def write_calibration(path: Path, first_us: int) -> None:
    w, xyz = RGB_Q
    identity = {"Translation": [0.0, 0.0, 0.0], "UnitQuaternion": [1.0, [0.0, 0.0, 0.0]]}
    projection = {"Name": "FisheyeRadTanThinPrism", "Description": "see FisheyeRadTanThinPrism.h"}
    cams = [
        {
            "Calibrated": True,
            "Label": "camera-slam-left",
            "SerialNumber": "",
            "T_Device_Camera": identity,
            "Projection": {**projection, "Params": [241.7, 320.6, 242.6] + [0.0] * 12},
        },
        {
            "Calibrated": True,
            "Label": "camera-rgb",
            "SerialNumber": "",
            "T_Device_Camera": {"Translation": list(RGB_T), "UnitQuaternion": [w, list(xyz)]},
            "Projection": {**projection, "Params": RGB_PARAMS},
        },
    ]
    line = {
        "utc_timestamp_ns": -1,
        "tracking_timestamp_us": first_us,
        "ImuCalibrations": [],
        "CameraCalibrations": cams,
    }
    path.write_text(json.dumps(line) + "\n")


def write_mps(
    mps: Path,
    rng: np.random.Generator,
    n: int,
    gone: dict[str, range],
    sentinel: float = -1.0,
    normals: bool = True,
    start_us: int = START_US,
) -> None:
    """One MPS folder: n hand rows at 30 Hz (device clock), the trajectory 50 ms either side at 1 kHz."""
    (mps / "hand_tracking").mkdir(parents=True, exist_ok=True)
    (mps / "slam").mkdir(parents=True, exist_ok=True)
    micros = start_us + np.round(np.arange(n) * 1e6 / FPS).astype(np.int64) + int(rng.integers(0, 999))
    traj_us = np.arange(start_us - 50_000, micros[-1] + 50_000, TRAJ_STEP_US, dtype=np.int64)
    seed = int(rng.integers(0, 2**31))
    rgb_from_device = np.linalg.inv(device_from_rgb())
    world_from_device = rgb_track(np.random.default_rng(seed), traj_us) @ rgb_from_device
    write_trajectory(mps / "slam" / "closed_loop_trajectory.csv", traj_us, world_from_device)
    write_calibration(mps / "slam" / "online_calibration.jsonl", int(traj_us[0]))
    D = device_from_rgb()
    hands = {}
    for side in SIDES:
        lm_rgb, R_rgb = _hand_rgb(np.arange(n, dtype=float), side)
        lm = lm_rgb @ D[:3, :3].T + D[:3, 3]
        hands[side] = (lm, se3(D[:3, :3] @ R_rgb, lm[:, LANDMARKS.index("WRIST")]))
    write_results(mps / "hand_tracking" / "hand_tracking_results.csv", micros, hands, gone, sentinel, normals)


def write_aria_mps(root: Path, frames: int = 60, seed: int = 0) -> AriaMpsFixture:
    """Two recordings: `rec01/mps` (the newer file with normals, a missing hand's confidence -1) and
    `rec02/mps_rec02_vrs` (no normals, 0 as the sentinel); rec02's right hand is not tracked in rows 5-9."""
    rng = np.random.default_rng(seed)
    fx = AriaMpsFixture(
        root, ["rec01/mps", "rec02/mps_rec02_vrs"], frames, [("rec02/mps_rec02_vrs", "right", range(5, 10))]
    )
    for folder, sentinel, normals in zip(fx.folders, (-1.0, 0.0), (True, False), strict=True):
        gone = {side: rows for f, side, rows in fx.missing if f == folder}
        write_mps(root / folder, rng, frames, gone, sentinel, normals)
    return fx
