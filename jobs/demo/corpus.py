"""A small multi-source raw corpus in the sources' real on-disk formats, with one corrupt episode per source, each
written by its own `adapters/synthetic/` writer, plus the job spec that ingests them. Used by `make demo` and the job
tests (`BASE_SOURCES`, what the job tests count on; `SOURCES`, every one).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from adapters.storage.root import Root
from adapters.synthetic.agibot import EpisodeSpec, write_agibot
from adapters.synthetic.arrays import truncate, write_robomimic
from adapters.synthetic.ego4d import write_ego4d
from adapters.synthetic.egodex import write_egodex
from adapters.synthetic.egovideo import write_ego_shards
from adapters.synthetic.epic_kitchens import write_epic_kitchens
from adapters.synthetic.hot3d import write_hot3d
from adapters.synthetic.lerobot import tear_parquet, write_lerobot_v3
from adapters.synthetic.rlds import write_rlds
from adapters.synthetic.robomind import EpisodeSpec as RoboMindEpisode
from adapters.synthetic.robomind import write_robomind
from jobs.spec_models import JobSpec
from schemas.storage import StorageOptions

BASE_SOURCES = ("bridge", "agibot", "ego4d", "egodex", "lerobot")
SOURCES = (*BASE_SOURCES, "epic_kitchens", "ego_video", "hot3d", "robomind", "robomimic", "so101")
# source -> adapter: each source is named after its adapter but OXE's bridge and robomimic (read by the arrays adapter);
# so101 is a dataset of the lerobot source
NAMED = {"bridge": "oxe", "robomimic": "arrays"}
ADAPTERS = NAMED | {name: name for name in SOURCES if name not in (*NAMED, "so101")}
# The SO-101 recording was made with use_degrees=True: lerobot's SO101Follower.__init__ (src/lerobot/robots/
# so101_follower/so101_follower.py; SOFollower in so_follower/ later) then puts the body motors in MotorNormMode.DEGREES
# and keeps the gripper in RANGE_0_100, so no calibration file is needed. Harmless to franka_cube (no joints).
OPTIONS: dict[str, dict[str, Any]] = {"lerobot": {"joint_space": {"units": "deg"}}}
SO101_MOTORS = ("shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll")


def _so101_vectors(episode: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """A reach-and-grasp as lerobot >= 0.2 records it with use_degrees=True: `<motor>.pos` in degrees about the
    middle of each calibrated range (the URDF zero), the gripper in percent; the action is the next row's target."""
    t = np.linspace(0.0, 1.0, n + 1)[:, None]
    body = np.array([25.0, 30.0, -35.0, 40.0, 15.0]) * np.sin(np.pi * t + 0.3 * episode)
    grip = 10 + 70 * (0.5 + 0.5 * np.cos(2 * np.pi * t))  # open, closed on the object, open again
    rows = np.concatenate([body, grip], axis=1)
    return rows[:-1], rows[1:]


def _write_so101(lerobot_folder: Path, scale: int) -> None:
    names = [f"{m}.pos" for m in (*SO101_MOTORS, "gripper")]
    cameras = {"observation.images.front": (48, 64), "observation.images.wrist": (48, 64)}
    write_lerobot_v3(
        lerobot_folder / "so101_pick",
        (45, 36) * scale,
        fps=30,
        cameras=cameras,
        names=names,
        robot_type="so101_follower",
        vectors=_so101_vectors,
    )


def write_raw_corpus(
    raw: Path, *, scale: int = 1, corrupt: bool = True, sources: Iterable[str] = BASE_SOURCES
) -> dict[str, Path]:
    """Write `sources` (names of `SOURCES`) under `raw/`; `scale` multiplies episodes. Returns source name -> adapter
    root ("so101" adds its dataset to the LeRobot folder: no root of its own)."""
    from jobs.demo.robot import run_demo  # the canonical demo dataset doubles as a LeRobot source

    raw, wanted = Path(raw), set(sources)
    if unknown := wanted - set(SOURCES):
        raise ValueError(f"unknown demo source(s) {sorted(unknown)}; known: {SOURCES}")
    if "so101" in wanted and "lerobot" not in wanted:
        raise ValueError("the so101 recording lives in the lerobot source's folder: ask for 'lerobot' too")
    roots: dict[str, Path] = {}
    if "bridge" in wanted:
        write_rlds(
            raw / "bridge",
            "bridge",
            episodes=3 * scale,
            steps=20,
            vary_steps=True,
            corrupt_crc=("train", 1) if corrupt else None,
        )
        roots["bridge"] = next((raw / "bridge").rglob("dataset_info.json")).parent
    if "agibot" in wanted:
        specs = [EpisodeSpec(327, 700_000 + k, 60) for k in range(2 * scale)]
        if corrupt:
            specs.append(EpisodeSpec(327, 790_000, 60, bad="action_longer"))
        write_agibot(raw / "agibot", specs)
    if "ego4d" in wanted:
        write_ego4d(
            raw / "ego4d",
            num_videos=scale,
            duration_s=8.0,
            narrations_per_video=3,
            bad=("corrupt_video",) if corrupt else (),
        )
    if "egodex" in wanted:
        write_egodex(
            raw / "egodex",
            episodes_per_task=scale,
            num_frames=60,
            old_episode=False,
            bad=("missing_camera",) if corrupt else (),
        )
    if "lerobot" in wanted:
        lerobot_root = run_demo(raw / "lerobot_out", episodes=2 + scale).root
        if corrupt:
            tear_parquet(lerobot_root, episode=1)
        roots["lerobot"] = lerobot_root.parent
        if "so101" in wanted:
            _write_so101(lerobot_root.parent, scale)
    # the sources beyond `BASE_SOURCES` (two short episodes, one bad)
    if "epic_kitchens" in wanted:
        write_epic_kitchens(
            raw / "epic_kitchens", videos=scale, duration_s=3.0, segments_per_video=2, corrupt_video=corrupt
        )
    if "ego_video" in wanted:
        write_ego_shards(
            raw / "ego_video", workers=scale, clips_per_shard=2, seconds=2.0, bad=("corrupt_video",) if corrupt else ()
        )
    if "hot3d" in wanted:
        # the Aria sequence with its RGB recording (read through projectaria-tools, which `make venv` installs)
        write_hot3d(raw / "hot3d", frames=45, quest=True, video=True, bad_quaternion=corrupt)
    if "robomind" in wanted:
        episodes = [
            RoboMindEpisode(robot, f"pick_{robot}", f"1014_1446{k:02d}", 40)
            for k in range(scale)
            for robot in ("franka_3rgb", "agilex_3rgb")
        ]
        if corrupt:
            episodes.append(RoboMindEpisode("franka_3rgb", "pick_franka_3rgb", "1014_151731", 40, bad="truncated"))
        write_robomind(raw / "robomind", episodes)
    if "robomimic" in wanted:
        # a robomimic image dataset as its release names it (<task>/<kind>/image.hdf5, agentview 84x84): one demo
        # group per episode at robosuite's 20 Hz; the corrupt one is a second task's file cut short
        lift = raw / "robomimic" / "lift" / "ph" / "image.hdf5"
        write_robomimic(lift, [40 + 4 * k for k in range(2 * scale)], image_size=(84, 84))
        if corrupt:
            truncate(write_robomimic(raw / "robomimic" / "can" / "ph" / "image.hdf5", [40], image_size=(84, 84)))
    # in `SOURCES`' order (the spec's); every source but bridge and lerobot is rooted at its own folder
    return {name: roots.get(name, raw / name) for name in SOURCES if name in wanted and name != "so101"}


def write_demo_spec(
    spec_path: Path, roots: dict[str, Path], output: Path, image: dict[str, Any] | None = None, **parallelism: int
) -> Path:
    """A job spec ingesting every source of `write_raw_corpus` into `output`; `image` is `canonicalize.image` (the
    stored camera size, e.g. {"size": "224x224", "fit": "pad"}; None: native)."""
    sources = []
    for name, root in roots.items():
        source = {"name": name, "adapter": ADAPTERS[name], "root": str(Path(root).resolve())}
        if name in OPTIONS:
            source["options"] = OPTIONS[name]
        sources.append(source)
    spec: dict[str, Any] = {
        "output": str(Path(output).resolve()),
        "sources": sources,
        "parallelism": {"max_in_flight": 4, **parallelism},
    }
    if image is not None:
        spec["canonicalize"] = {"image": image}
    spec_path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return spec_path


def placed_spec(spec: JobSpec, raw: Path, base: str, options: StorageOptions | None) -> JobSpec:
    """`spec` (the demo's over the local raw corpus `raw`) with the raw corpus put under `base/raw` (an object store's
    URL, `options` its endpoint and credential; None: the AWS environment), every source's root there and the output
    `base/corpus`. The credential travels in the validated spec only: the spec file beside the demo names none."""
    base, raw = base.rstrip("/"), Path(raw).resolve()
    Root(f"{base}/raw", options).put_folder(raw)
    doc = spec.model_dump(mode="python")
    for source in doc["sources"]:
        source["root"] = f"{base}/raw/{Path(source['root']).resolve().relative_to(raw).as_posix()}"
        source["storage"] = options
    doc["output"], doc["output_storage"] = f"{base}/corpus", options
    return JobSpec.model_validate(doc)
