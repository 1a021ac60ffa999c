"""Small but faithful EgoDex corpora: `<split>/<task>/<idx>.hdf5` + `<idx>.mp4`, ARKit poses at 30 Hz (apple/ml-egodex
`utils/data_utils.py`; the keys, attributes and geometry as `adapters/egodex/adapter.py` reads them, with its sources).

Each HDF5 holds `camera/intrinsic`, `transforms/<name>` (T,4,4) float32 for the camera and the 68 tracked joints,
`confidences/<joint>` and the string attributes (`llm_description`, `llm_description2`, `which_llm_description`,
`llm_type`, `llm_verbs`, `llm_objects`, `task`, `environment`, `object`, `session_name`, `annotated`,
`annotator_version`). Quirks on demand: an old episode without `confidences/` and with `description` instead of the
llm attributes, and one extra episode per `bad` label (`missing_camera`: no `transforms/camera`; `corrupt_video`: an
unreadable mp4). Frames are `synthetic_frame(h, w, t, seed)`, so tests can compare pixels.

The wearer looks 30-40 degrees down from 1.5-1.7 m; both hands (an adult hand, `synthetic/hand.py`) are 35-50 cm in
front of the eyes, below the line of sight, each on its own side, palm down, moving a few centimetres, so that
`inv(T_world_cam) @ T_world_joint` projected with `camera/intrinsic` lands them on the image. Joint orientations are
the fixture's own (the adapter uses only the joints' positions for keypoints).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from adapters.egodex.adapter import MANO21_FROM_EGODEX
from adapters.poses import se3
from adapters.synthetic.hand import hand_layout, look_at
from adapters.synthetic.video import write_not_mp4, write_synthetic_mp4

FPS = 30
SIDES = ("left", "right")
FINGERS = ("Thumb", "IndexFinger", "MiddleFinger", "RingFinger", "LittleFinger")
PHALANGES = ("Knuckle", "IntermediateBase", "IntermediateTip", "Tip")

# The 68 joints of an EgoDex HDF5 (upper body + both hands), as the release names them.
JOINTS: tuple[str, ...] = tuple(
    sorted(
        [
            "hip",
            *(f"spine{i}" for i in range(1, 8)),
            *(f"neck{i}" for i in range(1, 5)),
            *(f"{s}{part}" for s in SIDES for part in ("Shoulder", "Arm", "Forearm", "Hand")),
            *(f"{s}{f}Metacarpal" for s in SIDES for f in FINGERS[1:]),
            *(f"{s}{f}{p}" for s in SIDES for f in FINGERS for p in PHALANGES),
        ]
    )
)
assert len(JOINTS) == 68

_TASKS = {
    "basic_pick_place": ("Pick up the red cup and place it on the plate.", None, "cup", "kitchen"),
    "add_remove_lid": ("Put the lid on the jar.", "Take the lid off the jar.", "jar", "office"),
}


@dataclass
class EgoDexEpisode:
    raw_id: str  # "<split>/<task>/<idx>"
    hdf5: Path
    mp4: Path
    num_frames: int
    video_frames: int
    seed: int
    old: bool = False
    bad: str | None = None
    instruction: str | None = None
    transforms: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    confidences: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    intrinsic: np.ndarray | None = field(default=None, repr=False)


@dataclass
class EgoDexFixture:
    root: Path
    episodes: list[EgoDexEpisode]
    height: int
    width: int

    @property
    def good(self) -> list[EgoDexEpisode]:
        return [e for e in self.episodes if e.bad is None]


# Apple's `utils/data_utils.py` `get_camera_intrinsics` (https://github.com/apple/ml-egodex): the same for every
# episode, in pixels of the 1920x1080 mp4. The fixture scales fx to its own width and centres the principal point.
APPLE_FX_1920 = 736.6339

_MIRROR = np.diag([-1.0, 1.0, 1.0])  # camera x -> -x: a right hand seen in a mirror is a left hand


def intrinsic_for(height: int, width: int) -> np.ndarray:
    """EgoDex's intrinsics for a (height, width) video: Apple's focal length scaled to the width, centred."""
    fx = APPLE_FX_1920 * width / 1920
    return np.array([[fx, 0, width / 2], [0, fx, height / 2], [0, 0, 1]], dtype=np.float32)


def _hand_points() -> dict[str, np.ndarray]:
    """The right hand's EgoDex joints ("Hand", "IndexFingerKnuckle", ...) in its own frame (x to the fingertips, y to
    the thumb, z the back): the synthetic adult hand, plus the 4 metacarpals EgoDex tracks midway up the palm."""
    layout = hand_layout("right")
    out = {suffix: layout[name] for name, suffix in MANO21_FROM_EGODEX.items()}
    out |= {f"{finger}Metacarpal": 0.5 * out[f"{finger}Knuckle"] for finger in FINGERS[1:]}
    return out


def _camera(rng: np.random.Generator, n: int) -> np.ndarray:
    """(n,4,4) world_from_camera in the ARKit world (+y up) with OpenCV camera axes (x right, y down, +z the
    viewing direction), as Apple's code reads `transforms/camera`: eyes at 1.5-1.7 m, a random heading, looking
    30-40 degrees down at the workspace, the head turning and bobbing a little."""
    t = np.arange(n) / FPS
    yaw = rng.uniform(0, 2 * np.pi) + 0.15 * np.sin(0.8 * t + rng.uniform(0, 6))
    pitch = rng.uniform(0.52, 0.70) + 0.05 * np.sin(1.1 * t + rng.uniform(0, 6))
    heading = np.stack([np.sin(yaw), np.zeros(n), -np.cos(yaw)], axis=-1)  # horizontal; yaw 0 = ARKit's -z
    forward = np.cos(pitch)[:, None] * heading - np.sin(pitch)[:, None] * np.array([0.0, 1.0, 0.0])
    pos = np.array([rng.uniform(-1, 1), rng.uniform(1.5, 1.7), rng.uniform(-1, 1)]) + 0.02 * np.sin(
        t[:, None] * rng.uniform(0.5, 2.0, 3) + rng.uniform(0, 6, 3)
    )
    return se3(look_at(forward, np.array([0.0, -1.0, 0.0])), pos)


def _hand_in_camera(rng: np.random.Generator, n: int, side: str) -> dict[str, np.ndarray]:
    """{EgoDex joint: (n,4,4) camera_from_joint}: the hand 35-50 cm in front of the eyes, below the line of sight,
    on its own side, palm down, fingers pointing away and slightly inwards, moving a few centimetres."""
    t = np.arange(n)[:, None] / FPS
    wrist = np.array([0.14, 0.16, 0.40]) + 0.03 * np.sin(t * rng.uniform(0.5, 2.0, 3) + rng.uniform(0, 6, 3))
    fingers = np.array([-0.25, -0.15, 1.0]) + 0.1 * np.sin(t * rng.uniform(0.5, 2.0, 3) + rng.uniform(0, 6, 3))
    to_camera = look_at(fingers, np.array([0.0, 1.0, 0.0]))  # columns: across the hand, palm normal, fingers
    # hand frame (fingers, thumb side, back) in camera axes: fingers forward, back of the hand up, thumb inwards
    R = np.stack([to_camera[..., 2], -to_camera[..., 0], -to_camera[..., 1]], axis=-1)
    poses = {f"{side}{k}": se3(R, wrist + R @ p) for k, p in _hand_points().items()}
    if side == "left":  # mirror a right hand: positions x -> -x, rotations M R M (still proper rotations)
        poses = {k: se3(_MIRROR @ v[..., :3, :3] @ _MIRROR, v[..., :3, 3] @ _MIRROR) for k, v in poses.items()}
    return poses


def _body_in_world(cam: np.ndarray, hands: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The upper-body joints under the eyes (gravity-aligned, facing the heading), arms reaching to the wrists."""
    up = np.array([0.0, 1.0, 0.0])
    fwd = cam[:, :3, 2] - (cam[:, :3, 2] @ up)[:, None] * up
    fwd /= np.linalg.norm(fwd, axis=-1, keepdims=True)
    right = np.cross(fwd, up)
    R = np.stack([right, up[None].repeat(len(cam), 0), -fwd], axis=-1)  # body frame: x right, y up, z back
    eye = cam[:, :3, 3] - 0.08 * fwd
    drop = {"neck4": 0.10, "neck3": 0.13, "neck2": 0.16, "neck1": 0.19, "hip": 0.80}
    drop |= {f"spine{i}": 0.75 - 0.07 * (i - 1) for i in range(1, 8)}
    out = {name: se3(R, eye - d * up) for name, d in drop.items()}
    for side, sign in (("left", -1.0), ("right", 1.0)):
        out[f"{side}Shoulder"] = se3(R, eye - 0.22 * up + sign * 0.07 * right)
        out[f"{side}Arm"] = se3(R, eye - 0.25 * up + sign * 0.19 * right)
        wrist = hands[f"{side}Hand"][:, :3, 3]
        elbow = 0.5 * (out[f"{side}Arm"][:, :3, 3] + wrist) - 0.12 * up + sign * 0.06 * right
        out[f"{side}Forearm"] = se3(R, elbow)
    return out


def _poses(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Every transform of an episode, world_from_joint (float32) as EgoDex stores it: hands placed in the camera
    frame, then carried into the world by the camera pose (joint = camera @ camera_from_joint)."""
    cam = _camera(rng, n)
    hands = {k: cam @ v for side in SIDES for k, v in _hand_in_camera(rng, n, side).items()}
    poses = {"camera": cam, **hands, **_body_in_world(cam, hands)}
    assert set(poses) == {"camera", *JOINTS}
    return {k: v.astype(np.float32) for k, v in poses.items()}


def write_hdf5(path: Path, ep: EgoDexEpisode, attrs: dict[str, object], drop: str | None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        if drop != "camera/intrinsic":
            f.create_dataset("camera/intrinsic", data=ep.intrinsic)
        for name, arr in ep.transforms.items():
            if f"transforms/{name}" != drop:
                f.create_dataset(f"transforms/{name}", data=arr)
        for name, arr in ep.confidences.items():
            f.create_dataset(f"confidences/{name}", data=arr)
        for k, v in attrs.items():
            f.attrs[k] = v


def episode_attrs(task: str, idx: int, old: bool, reverse: bool) -> tuple[dict[str, object], str]:
    forward, backward, obj, env = _TASKS.get(task, (f"Do the {task.replace('_', ' ')} task.", None, "object", "lab"))
    if old:  # older episodes: a plain `description`, no llm_* attributes
        return {"description": forward, "task": task, "environment": env, "object": obj}, forward
    attrs: dict[str, object] = {
        "task": task,
        "environment": env,
        "object": obj,
        "session_name": f"session_{idx // 2:03d}",
        "llm_description": forward,
        "llm_type": "reversible" if backward else "regular",
        "llm_verbs": np.array(["pick", "place"], dtype=h5py.string_dtype()),
        "llm_objects": np.array([obj], dtype=h5py.string_dtype()),
        "annotated": True,
        "annotator_version": "1.0",
    }
    if backward:
        attrs["llm_description2"] = backward
        attrs["which_llm_description"] = "2" if reverse else "1"
    return attrs, (backward if (backward and reverse) else forward)


def write_egodex(
    root: Path,
    *,
    split: str = "part1",
    tasks: tuple[str, ...] = ("add_remove_lid", "basic_pick_place"),
    episodes_per_task: int = 2,
    num_frames: int = 20,
    height: int = 48,
    width: int = 64,
    seed: int = 0,
    old_episode: bool = True,
    bad: Iterable[str] = (),
) -> EgoDexFixture:
    """Write `episodes_per_task` episodes per task under `root/split/<task>/`, plus one extra episode per `bad` label.

    `old_episode` makes the last episode of the last task an old one (no `confidences/`, `description` attribute).
    In reversible tasks (`add_remove_lid`) odd episode indices are the reverse direction (`which_llm_description` "2").
    Bad labels land in task `bad_inputs` with indices in the order given; a label other than `missing_camera` and
    `corrupt_video` (whose random bytes come from the corpus' generator) is a good episode for a test to damage.
    """
    root = Path(root)
    rng = np.random.default_rng(seed)
    plan = [(task, i, None) for task in tasks for i in range(episodes_per_task)] + [
        ("bad_inputs", i, case) for i, case in enumerate(bad)
    ]
    episodes = []
    for k, (task, idx, case) in enumerate(plan):
        old = old_episode and task == tasks[-1] and idx == episodes_per_task - 1 and case is None
        stem, n = root / split / task / str(idx), num_frames
        hdf5, mp4 = stem.with_suffix(".hdf5"), stem.with_suffix(".mp4")
        ep = EgoDexEpisode(f"{split}/{task}/{idx}", hdf5, mp4, n, n, seed * 1000 + k, old=old, bad=case)
        ep.transforms = _poses(rng, n)
        if not old:
            # tracking is mostly confident, with a short occlusion dip in the middle of each episode
            dip = np.zeros(n, dtype=bool)
            dip[n // 2 : n // 2 + max(1, n // 20)] = True
            draws = {j: (rng.uniform(0.1, 0.4, n), rng.uniform(0.8, 1.0, n)) for j in JOINTS}
            ep.confidences = {j: np.where(dip, low, high).astype(np.float32) for j, (low, high) in draws.items()}
        ep.intrinsic = intrinsic_for(height, width)
        attrs, ep.instruction = episode_attrs(task, idx, old, reverse=idx % 2 == 1)
        write_hdf5(ep.hdf5, ep, attrs, "transforms/camera" if case == "missing_camera" else None)
        if case == "corrupt_video":
            write_not_mp4(ep.mp4, bytes(rng.integers(0, 256, 2000, dtype=np.uint8)))
        else:
            write_synthetic_mp4(ep.mp4, n, FPS, height, width, ep.seed, gop=15, bframes=2)
        episodes.append(ep)
    return EgoDexFixture(root, episodes, height, width)
