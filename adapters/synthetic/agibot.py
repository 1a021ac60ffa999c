"""Small but faithful AgiBot World raw corpora in the layout the adapter reads (`adapters/agibot/adapter.py`: the
AgiBotWorld-Alpha HF card, any4lerobot `agibot2lerobot/agibot_utils/`), its HDF5 keys, dtypes and quirks (the real
file they were checked on is named in `adapters/agibot/proprio.py`); head/hand videos are 480x640 in reality.

Gripper as the real robot records it (`adapters/agibot_g1.py` has the sources): the command
`action/*effector/position` is 0 = open, 1 = close, in open / close / open phases, and the state follows it a few
frames late in mm, higher = more closed, from about 35 (open, AgiBot-World issue #133) to about 118 (closed); on
the real sample the two correlate at +0.9, and so do they here.

Quirks reproduced: float64 values and int64 `index` datasets; unused fields present as empty `(0,)` float32 datasets;
action arrays sparser than state with `action/<group>/index` (`sparse_actions`); action arrays as long as the state
whose `joint` and `end` index is a strict subset, the other rows holding the state (`index_subset`, as in the real
sample); int64 ns timestamps; gripper `(T, 2)` vs dexterous-hand `(T, 12)` effectors; the layouts of `Layout` (the
docs' `state/effector`, the real sample's `state/{left,right}_effector`). An empty `action/end/index`, timestamps
jittering by up to 15 ms, `label_info` spelled otherwise or missing, the task_info variants (`english_*` fields,
`episode_status`) and depth PNGs, which only tests write, are `tests/fixtures/writers/agibot.py`'s. Bad input per
episode (`EpisodeSpec.bad`): `action_longer`, `action/joint/position` with more rows than the state (the tests' other
faults are `tests/fixtures/corrupt.py` `break_agibot`). The camera-parameter JSON layout follows public AgiBot tooling
and is an assumption (no official sample).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import h5py
import numpy as np

from adapters.synthetic.video import synthetic_frame, write_synthetic_mp4

FPS = 30
DEFAULT_CAMERAS = ("head", "hand_left", "hand_right")
# Dexterous-hand tasks: wrist cameras as fisheyes only (any4lerobot AgiBotWorld_BETA_DEXHAND_CONFIG)
DEXHAND_CAMERAS = ("head", "hand_left_fisheye", "hand_right_fisheye")
CLOCK_START_NS = 1_735_000_000_000_000_000
SPARSE_GROUPS = ("effector", "left_effector", "right_effector", "end", "joint")  # commands sent on some frames only
SUBSET_GROUPS = ("end", "joint")  # `index_subset`: the groups whose index misses frames (as in the real sample)
GRIPPER_OPEN_MM, GRIPPER_CLOSED_MM = 35.0, 118.0  # resting states of the gripper (issue #133)

# (task_name, init_scene_text, [(action_text, skill), ...]): English, as in AgiBot World Alpha
_TASK_TEXTS = (
    (
        "Pickup items in the supermarket",
        "The robot is positioned in front of the fruit stand in the supermarket environment.",
        [("Retrieve cucumber from the shelf.", "Pick"), ("Place the held cucumber into the plastic bag.", "Place")],
    ),
    (
        "Clear the dining table",
        "The robot stands next to a dining table with plates on it.",
        [("Grasp the plate.", "Pick"), ("Put the plate into the basin.", "Place"), ("Wipe the table.", "Wipe")],
    ),
)


class Layout(StrEnum):
    """Where `proprio_stats.h5` puts the grippers, and whose conventions it follows."""

    alpha = "alpha"  # `state/effector/position` (T, 2) or (T, 12): the HF card's h5 table
    split_effector = "split_effector"  # `state/{left,right}_effector/position` (T, 1) each: the real sample


@dataclass(frozen=True)
class EpisodeSpec:
    task_id: int
    episode_id: int
    num_frames: int = 24
    dexterous: bool = False
    sparse_actions: bool = False
    bad: Literal["action_longer"] | None = None
    layout: Layout = Layout.alpha
    index_subset: bool = False  # joint/end actions as long as the state, their index a strict subset

    @property
    def raw_id(self) -> str:
        return f"{self.task_id}/{self.episode_id}"


@dataclass
class WrittenEpisode:
    """What the writer put on disk, for comparisons in tests."""

    spec: EpisodeSpec
    entry: dict[str, Any] | None
    states: dict[str, np.ndarray] = field(default_factory=dict)  # "joint/position" -> values
    actions: dict[str, np.ndarray] = field(default_factory=dict)
    action_index: dict[str, np.ndarray] = field(default_factory=dict)  # frame index of each action row
    video_frames: dict[str, int] = field(default_factory=dict)  # camera -> frames written
    intrinsics: dict[str, np.ndarray] = field(default_factory=dict)  # camera -> 3x3
    extrinsics: dict[str, np.ndarray] = field(default_factory=dict)  # camera -> (T, 4, 4) base_from_camera
    timestamp_ns: np.ndarray | None = None


def frame_seed(spec: EpisodeSpec, camera: str) -> float:
    return (spec.episode_id % 97) * 0.37 + sum(map(ord, camera)) * 0.11


def frame_image(spec: EpisodeSpec, camera: str, index: int, height: int, width: int) -> np.ndarray:
    """The RGB frame written for (episode, camera, index): `synthetic_frame` seeded by the episode and camera."""
    return synthetic_frame(height, width, index, frame_seed(spec, camera))


def write_agibot(
    root: Path,
    specs: Sequence[EpisodeSpec],
    *,
    cameras: Sequence[str] = DEFAULT_CAMERAS,
    height: int = 48,
    width: int = 64,
    parameters: bool = True,
) -> dict[str, WrittenEpisode]:
    """Write the episodes of `specs` under `root`; returns raw id (`<task>/<episode>`) -> what was written."""
    root = Path(root)
    written: dict[str, WrittenEpisode] = {}
    by_task: dict[int, list[EpisodeSpec]] = {}
    for spec in specs:
        by_task.setdefault(spec.task_id, []).append(spec)
    for task_id, task_specs in by_task.items():
        entries = []
        for spec in task_specs:
            rng = np.random.default_rng([0, spec.task_id, spec.episode_id])
            entries.append(_task_entry(spec))
            out = WrittenEpisode(spec, entries[-1])
            _write_proprio(root, spec, rng, out)
            _write_videos(root, spec, cameras, height, width, out)
            if parameters:
                _write_parameters(root, spec, cameras, height, width, out)
            written[spec.raw_id] = out
        path = root / "task_info" / f"task_{task_id}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        # task_info lists its episodes unsorted (reversed here), so the adapter has to sort them
        path.write_text(json.dumps(entries[::-1], ensure_ascii=False, indent=4))
    return written


def _task_entry(spec: EpisodeSpec) -> dict[str, Any]:
    name, scene, steps = _TASK_TEXTS[spec.task_id % len(_TASK_TEXTS)]
    bounds = np.linspace(2, spec.num_frames, len(steps) + 1).astype(int)
    segments = [
        {"start_frame": int(a), "end_frame": int(b), "action_text": text, "skill": skill}
        for (text, skill), a, b in zip(steps, bounds[:-1], bounds[1:], strict=True)
    ]
    entry: dict[str, Any] = {"episode_id": spec.episode_id, "label_info": {"action_config": segments}}
    return entry | {"task_name": name, "init_scene_text": scene}


def _smooth(rng: np.random.Generator, t: np.ndarray, dims: int, scale: float, offset: float = 0.0) -> np.ndarray:
    freq, phase = rng.uniform(0.5, 2.0, dims), rng.uniform(0, 2 * np.pi, dims)
    return offset + scale * np.sin(t[:, None] * freq + phase)


def _gripper(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(state mm, command 0..1), (n, 2): open / close / open commands, the state following each a few frames late."""
    command = np.zeros((n, 2))
    for arm in range(2):
        close = int(rng.integers(n // 5, n // 3 + 1))
        command[close : close + max(2, n // 2), arm] = 1.0
    target = GRIPPER_OPEN_MM + command * (GRIPPER_CLOSED_MM - GRIPPER_OPEN_MM)
    state = np.empty((n, 2))
    state[0] = target[0]
    for t in range(1, n):  # the fingers move toward the previous frame's command
        state[t] = state[t - 1] + 0.6 * (target[t - 1] - state[t - 1])
    return state + rng.normal(0, 0.2, (n, 2)), command


REAL_END_POSITION_M = np.array([[0.625, 0.318, 0.647], [0.707, -0.176, 0.655]])
REAL_END_QUAT_XYZW = np.array([[0.062, 0.826, -0.549, 0.112], [-0.720, 0.019, 0.032, 0.505]])


def _states(spec: EpisodeSpec, rng: np.random.Generator, n: int) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    """The states, and the gripper command (None for dexterous hands)."""
    t = np.arange(n) / FPS
    # Around the real arms' pose (medians of state/end in soul667/DatasetTools @ 8971d93 `scripts/proprio_stats.h5`,
    # a real AgiBot episode, base frame):
    # left arm at y > 0 and right at y < 0, flanges ahead at chest height, approach axes pointing forward and down.
    quat = _smooth(rng, t, 8, 0.15).reshape(n, 2, 4) + REAL_END_QUAT_XYZW
    command = None
    if spec.dexterous:
        effector = _smooth(rng, t, 12, 0.6, 0.8)  # hand joints, rad
    else:
        effector, command = _gripper(rng, n)
    yaw = _smooth(rng, t, 1, 0.2)[:, 0]
    states = {
        "effector/position": effector,
        "end/orientation": quat / np.linalg.norm(quat, axis=-1, keepdims=True),
        "end/position": _smooth(rng, t, 6, 0.1).reshape(n, 2, 3) + REAL_END_POSITION_M,
        "head/position": _smooth(rng, t, 2, 0.1),
        "joint/current_value": _smooth(rng, t, 14, 2.0),
        "joint/position": _smooth(rng, t, 14, 0.5),
        "robot/orientation": np.stack([0 * yaw, 0 * yaw, np.sin(yaw / 2), np.cos(yaw / 2)], axis=-1),
        "robot/position": np.concatenate([_smooth(rng, t, 2, 0.05), np.zeros((n, 1))], axis=1),
        "waist/position": _smooth(rng, t, 2, 0.05, 0.3),
    }
    return states, command


def _split_effector(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """`effector/position` (T, 2k) -> `left_effector/position`, `right_effector/position` (T, k), as real files."""
    out = {k: v for k, v in arrays.items() if k != "effector/position"}
    both = arrays["effector/position"]
    half = both.shape[1] // 2
    out["left_effector/position"], out["right_effector/position"] = both[:, :half], both[:, half:]
    return out


_EMPTY = {
    "state": ("effector/force", "end/angular", "end/velocity", "end/wrench", "head/effort", "head/velocity",
              "joint/effort", "joint/velocity", "robot/orientation_drift", "robot/position_drift", "waist/effort",
              "waist/velocity"),
    "action": ("effector/force", "joint/effort", "joint/velocity", "robot/angular", "robot/orientation",
               "robot/position"),
}  # fmt: skip


def _write_proprio(root: Path, spec: EpisodeSpec, rng: np.random.Generator, out: WrittenEpisode) -> None:
    n = spec.num_frames
    states, command = _states(spec, rng, n)
    # Commands: the next state (the gripper: its 0 = open .. 1 = close command), plus the base velocity command.
    nxt = {k: np.concatenate([v[1:], v[-1:]]) for k, v in states.items()}
    actions = {k: nxt[k] for k in ("end/orientation", "end/position", "head/position", "joint/position")}
    actions["effector/position"] = nxt["effector/position"] if command is None else command
    actions["waist/position"] = nxt["waist/position"]
    actions["robot/velocity"] = _smooth(rng, np.arange(n) / FPS, 2, 0.02)
    if spec.layout is Layout.split_effector:
        states, actions = _split_effector(states), _split_effector(actions)
        # the real sample fills end/wrench, float64 (T, 12): force and torque of both arms, tens of N
        states["end/wrench"] = _smooth(rng, np.arange(n) / FPS, 12, 20.0)
    index = {k.split("/")[0]: np.arange(n) for k in actions}
    if spec.sparse_actions:
        keep = np.sort(rng.choice(np.arange(1, n), size=max(2, int(0.7 * n)), replace=False))
        for g in set(SPARSE_GROUPS) & set(index):
            index[g] = keep
        actions = {k: (v[keep] if k.split("/")[0] in SPARSE_GROUPS else v) for k, v in actions.items()}
    if spec.index_subset:  # first frames and a gap unsent; those rows repeat the state, as in the real sample
        keep = np.setdiff1d(np.arange(n), np.r_[0:4, n // 2 : n // 2 + 2])
        for g in SUBSET_GROUPS:
            index[g] = keep
            for k in [k for k in actions if k.startswith(f"{g}/")]:
                actions[k] = states[k].copy()
                actions[k][keep] = nxt[k][keep]
    if spec.bad == "action_longer":
        extra = 6
        actions["joint/position"] = np.concatenate([actions["joint/position"], actions["joint/position"][-extra:]])
        index["joint"] = np.arange(n + extra)

    path = root / "proprio_stats" / str(spec.task_id) / str(spec.episode_id) / "proprio_stats.h5"
    path.parent.mkdir(parents=True, exist_ok=True)
    ts = CLOCK_START_NS + np.arange(n, dtype=np.int64) * 33_333_333 + rng.integers(-2_000_000, 2_000_000, n)
    with h5py.File(path, "w") as f:
        f.create_dataset("timestamp", data=ts.astype(np.int64))
        for kind, arrays in (("state", states), ("action", actions)):
            for key, values in arrays.items():
                f.create_dataset(f"{kind}/{key}", data=np.asarray(values, dtype=np.float64))
            for key in _empty(kind, spec.layout):
                f.create_dataset(f"{kind}/{key}", data=np.zeros((0,), np.float32))
        for group, idx in index.items():
            if f"action/{group}" not in f:
                continue
            f.create_dataset(f"action/{group}/index", data=idx.astype(np.int64))
    out.states, out.actions, out.timestamp_ns = states, actions, ts
    out.action_index = {k: index[k.split("/")[0]] for k in actions}


def _empty(kind: str, layout: Layout) -> tuple[str, ...]:
    if layout is not Layout.split_effector:
        return _EMPTY[kind]
    arms = tuple(f"{arm}_effector/force" for arm in ("left", "right"))
    absent = ("effector/force", "end/wrench", "robot/angular")  # the real sample fills the wrench, has no angular
    return tuple(k for k in _EMPTY[kind] if k not in absent) + arms


def _write_videos(root: Path, spec: EpisodeSpec, cameras: Sequence[str], h: int, w: int, out: WrittenEpisode) -> None:
    folder = root / "observations" / str(spec.task_id) / str(spec.episode_id) / "videos"
    for cam in cameras:
        options = {"crf": 16, "preset": "veryfast", "threads": 1}
        write_synthetic_mp4(folder / f"{cam}_color.mp4", spec.num_frames, FPS, h, w, frame_seed(spec, cam), **options)
        out.video_frames[cam] = spec.num_frames


def _write_parameters(
    root: Path, spec: EpisodeSpec, cameras: Sequence[str], height: int, width: int, out: WrittenEpisode
) -> None:
    folder = root / "parameters" / str(spec.task_id) / str(spec.episode_id) / "camera"
    folder.mkdir(parents=True, exist_ok=True)
    n = spec.num_frames
    for i, cam in enumerate(cameras):
        fx = 0.95 * width + i
        k = np.array([[fx, 0, width / 2 - 0.5], [0, fx, height / 2 + 0.25], [0, 0, 1]])
        intr = {
            "fx": k[0, 0],
            "fy": k[1, 1],
            "ppx": k[0, 2],
            "ppy": k[1, 2],
            "k1": 0.01,
            "k2": -0.002,
            "p1": 0.0,
            "p2": 0.0,
            "k3": 0.0,
        }
        (folder / f"{cam}_intrinsic_params.json").write_text(json.dumps({"intrinsic": intr}, indent=4))
        angle = 0.3 + 0.01 * i + 0.002 * np.arange(n)
        poses = np.tile(np.eye(4), (n, 1, 1))
        poses[:, :2, :2] = np.stack([np.cos(angle), -np.sin(angle), np.sin(angle), np.cos(angle)], -1).reshape(n, 2, 2)
        poses[:, :3, 3] = [0.1 * i, 0.0, 1.2]
        aligned = [
            {"extrinsic": {"rotation_matrix": p[:3, :3].tolist(), "translation_vector": p[:3, 3].tolist()}}
            for p in poses
        ]
        (folder / f"{cam}_extrinsic_params_aligned.json").write_text(json.dumps(aligned))
        out.intrinsics[cam], out.extrinsics[cam] = k, poses
