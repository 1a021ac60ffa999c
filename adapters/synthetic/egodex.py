"""Small but faithful EgoDex corpora: `<split>/<task>/<idx>.hdf5` + `<idx>.mp4`, ARKit poses at 30 Hz (FORMATS.md 6d).

Each HDF5 holds `camera/intrinsic` (3,3) float32, `transforms/<name>` (T,4,4) float32 for the camera and the 68 tracked
joints (world_from_joint in the ARKit world frame), `confidences/<joint>` (T,) float32 and the string attributes
(`llm_description`, `llm_description2`, `which_llm_description` "1"/"2" for reversible tasks, `llm_type`, `llm_verbs`,
`llm_objects`, `task`, `environment`, `object`, `session_name`, `annotated`, `annotator_version`). The quirks are
reproduced on demand: an old episode without `confidences/` and with `description` instead of the llm attributes, and
one extra episode per bad-input case (a missing group, an mp4 shorter than the poses, an unreadable mp4, no mp4).
Frames are `adapters.synthetic.video.synthetic_frame(h, w, t, seed)` so tests can compare decoded pixels with what
was written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from adapters.synthetic.video import synthetic_frame, write_mp4

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

BAD_CASES = ("missing_camera", "missing_hand_joint", "short_video", "corrupt_video", "missing_video")

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

    def by_id(self, raw_id: str) -> EgoDexEpisode:
        return next(e for e in self.episodes if e.raw_id == raw_id)

    @property
    def good(self) -> list[EgoDexEpisode]:
        return [e for e in self.episodes if e.bad is None]


def _rotation(rng: np.random.Generator) -> np.ndarray:
    q = rng.normal(size=4)
    w, x, y, z = q / np.linalg.norm(q)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def _trajectory(rng: np.random.Generator, n: int, center: np.ndarray) -> np.ndarray:
    """(n,4,4) float32 world_from_joint: a fixed random rotation and a smooth drift around `center` (metres)."""
    out = np.tile(np.eye(4), (n, 1, 1))
    out[:, :3, :3] = _rotation(rng)
    t = np.arange(n)[:, None] / FPS
    out[:, :3, 3] = center + 0.05 * np.sin(t * rng.uniform(0.5, 2.0, size=3) + rng.uniform(0, 6, size=3))
    return out.astype(np.float32)


def _poses(rng: np.random.Generator, n: int, joints: Iterable[str]) -> dict[str, np.ndarray]:
    poses = {"camera": _trajectory(rng, n, np.array([0.0, 1.5, 0.0]))}
    for j in joints:
        side = -0.2 if j.startswith("left") else (0.2 if j.startswith("right") else 0.0)
        poses[j] = _trajectory(rng, n, np.array([side, 1.2, -0.4]) + rng.normal(scale=0.03, size=3))
    return poses


def _write_hdf5(path: Path, ep: EgoDexEpisode, attrs: dict[str, object], drop: str | None) -> None:
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


def _attrs(task: str, idx: int, old: bool, reverse: bool) -> tuple[dict[str, object], str]:
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
    frame_fn: Callable[[int, int, int, int], np.ndarray] = synthetic_frame,
) -> EgoDexFixture:
    """Write `episodes_per_task` episodes per task under `root/split/<task>/`, plus one extra episode per `bad` case.

    `old_episode` makes the last episode of the last task an old one (no `confidences/`, `description` attribute).
    In reversible tasks (`add_remove_lid`) odd episode indices are the reverse direction (`which_llm_description` "2").
    Bad cases (`BAD_CASES`) land in task `bad_inputs` with indices in the order given.
    """
    bad = list(bad)
    unknown = set(bad) - set(BAD_CASES)
    if unknown:
        raise ValueError(f"unknown bad case(s) {sorted(unknown)}; known: {BAD_CASES}")
    root = Path(root)
    rng = np.random.default_rng(seed)
    plan = [(task, i, None) for task in tasks for i in range(episodes_per_task)] + [
        ("bad_inputs", i, case) for i, case in enumerate(bad)
    ]
    episodes = []
    for k, (task, idx, case) in enumerate(plan):
        old = old_episode and task == tasks[-1] and idx == episodes_per_task - 1 and case is None
        stem = root / split / task / str(idx)
        ep_seed = seed * 1000 + k
        video_frames = num_frames - 5 if case == "short_video" else num_frames
        ep = EgoDexEpisode(
            f"{split}/{task}/{idx}",
            stem.with_suffix(".hdf5"),
            stem.with_suffix(".mp4"),
            num_frames,
            video_frames,
            ep_seed,
            old=old,
            bad=case,
        )
        ep.transforms = _poses(rng, num_frames, JOINTS)
        if not old:
            # tracking is mostly confident, with a short occlusion dip in the middle of each episode
            dip = np.zeros(num_frames, dtype=bool)
            dip[num_frames // 2 : num_frames // 2 + max(1, num_frames // 20)] = True
            ep.confidences = {
                j: np.where(dip, rng.uniform(0.1, 0.4, num_frames), rng.uniform(0.8, 1.0, num_frames)).astype(
                    np.float32
                )
                for j in JOINTS
            }
        fx = 0.9 * width
        ep.intrinsic = np.array([[fx, 0, width / 2], [0, fx, height / 2], [0, 0, 1]], dtype=np.float32)
        attrs, ep.instruction = _attrs(task, idx, old, reverse=idx % 2 == 1)
        drop = {"missing_camera": "transforms/camera", "missing_hand_joint": "transforms/leftIndexFingerTip"}.get(
            case or ""
        )
        _write_hdf5(ep.hdf5, ep, attrs, drop)
        if case == "corrupt_video":
            ep.mp4.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(rng.integers(0, 256, 2000, dtype=np.uint8)))
        elif case != "missing_video":
            frames = (frame_fn(height, width, t, ep_seed) for t in range(video_frames))
            write_mp4(ep.mp4, frames, FPS, gop=15, bframes=2)
        episodes.append(ep)
    return EgoDexFixture(root, episodes, height, width)
