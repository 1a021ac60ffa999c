"""RoboMIND (X-Humanoid): one HDF5 per episode, several robots in one release.

Layout (x-humanoid-robomind.github.io `README.md` @ 03ee7f46; Open-X-Humanoid/RoboMIND-dataset-utils
`robomind_check/robomind_data_check.py` @ ff94d938 `_parse_path_into`):
`[<benchmark>/]h5_<robot>/<task>/success_episodes/[train|val/]<episode>/data/trajectory.hdf5` (the maker's notebook
takes the first `*.hdf5` in `data/`; simulation episodes name it `<id>-<date>.hdf5`). Subset = `<robot>`, raw id =
`[<benchmark>/]<task>/<split>/<episode>` (split `unsplit` where the release has no train/val level).

| HDF5 dataset | native key | meaning | units | rate |
| --- | --- | --- | --- | --- |
| `puppet/joint_position` (T, D) | state `puppet.joint_position` | follower joints (`layouts.py`) | rad | 30 Hz |
| `puppet/joint_position_{left,right}` (T, 7) | state | AgileX: 6 joints + gripper per arm | rad | 30 Hz |
| `puppet/end_effector[_{left,right}]` | state | recorded EEF (frame unstated; not used) | m, rad | 30 Hz |
| `puppet/joint_{velocity,effort}_*` | state | AgileX only | rad/s, native | 30 Hz |
| `master/<same>` | action `master.<same>` | the teleoperation leader (the command) | as puppet | 30 Hz |
| `observations/rgb_images/<cam>` (T,) vlen uint8 | camera `<cam>` | JPEG bytes or raw HxWx3 | - | 30 Hz |
| `observations/depth_images/<cam>` | metadata only | PNG depth, mm (or m when max <= 100) | - | - |
| attrs `compress`, `sim` | metadata | - | - | - |
| `RoboMIND_v1_2_instr.csv` (task -> instruction) | `Language` instruction | - | - | episode |
| `language_description_annotation_json/h5_<robot>.json` | summary + timed step `Language` | frames | - | - |

No timestamps are stored: row i is at i / 30 s (any4lerobot robomind2lerobot `robomind_h5.py` writes `fps=30`;
the option `fps` overrides it). How each robot reaches the canonical hands, and why from its joints, is in
`layouts.py`; images and their channel order in `camera.py`.

The AgileX chains (RoboMIND's own `eepose/joint2pose.py`) and what is still assumed (30 Hz, the AgileX and Tien
Kung URDF copies, the Franka gripper column in metres, the column order) are in adapters/README.md `robomind`.
"""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import h5py
import numpy as np
from pydantic import Field

from adapters.base import AdapterOptions, EpisodeRef, Language, RawEpisode, Stream, natural_key
from adapters.hostile import bounds
from adapters.hostile.h5 import open_h5
from adapters.lerobot_format.files import lfs_pointer_message
from adapters.robomind.camera import FrameDecodeError, HDF5ImagesCamera, decode_frame, intrinsics_for
from adapters.robomind.layouts import ROBOTS, SIMULATION, RobotLayout
from adapters.source_adapter import SourceAdapter
from adapters.storage.location import Location
from schemas.settings import TooLarge, check, limit
from schemas.tiers import NO_DESCRIPTION, QualityTier, TierVerdict

log = logging.getLogger(__name__)

SPLITS = ("train", "val")
INSTRUCTION_FILES = ("RoboMIND_v1_2_instr.csv", "RoboMIND_v1_1_instr.csv", "RoboMIND_instr.csv")
ANNOTATION_DIR = "language_description_annotation_json"
_FRAME_FILE = re.compile(r"_(\d+)\.(?:jpg|png)$")
MAX_WIDTH = 256  # values per row of one joint / pose vector (the layouts' widest is 16: FR3 dual, Tien Kung)


class RoboMINDOptions(AdapterOptions):
    source: str = Field("robomind", description="source name in episode uids and the catalog")
    robots: list[str] | None = Field(None, description="only these release folders (e.g. franka_3rgb, without h5_)")
    splits: list[str] | None = Field(None, description="only these splits (train, val, unsplit)")
    fps: float = Field(30.0, gt=0, description="recording rate (the files store no timestamps)")
    frame_tolerance: int = Field(2, ge=0, description="a camera may have this many frames fewer than the state")
    tier: QualityTier = Field(QualityTier.high, description="default tier: teleoperated, success episodes only")
    instructions: Path | None = Field(None, description="the task -> instruction CSV (default: found near the root)")


class RoboMINDAdapter(SourceAdapter[RoboMINDOptions]):
    name: ClassVar[str] = "robomind"
    expects: ClassVar[str] = "[<benchmark>/]h5_<robot>/<task>/success_episodes/[train|val/]<episode>/data/*.hdf5"

    def refs(self, root: Location) -> Iterator[EpisodeRef]:
        """Walk the folders (scandir only: no HDF5 is opened); bad episodes come back with `error` set."""
        instructions = self._instructions(root)
        for benchmark, robot_dir in _robot_dirs(root):
            robot = robot_dir.name[len("h5_") :]
            if self.options.robots is None or robot in self.options.robots:
                annotations = _annotations(root, benchmark, robot)
                yield from self._discover_robot(root, benchmark, robot_dir, robot, instructions, annotations)

    def _discover_robot(
        self,
        root: Location,
        benchmark: str | None,
        robot_dir: Location,
        robot: str,
        instructions: dict[str, str],
        annotations: dict[str, Any],
    ) -> Iterator[EpisodeRef]:
        for task_dir in _dirs(robot_dir):
            for split, ep_dir in _episode_dirs(task_dir / "success_episodes"):
                if self.options.splits is not None and split not in self.options.splits:
                    continue
                raw_id = "/".join([*([benchmark] if benchmark else []), task_dir.name, split, ep_dir.name])
                hdf5 = sorted(e.name for e in (ep_dir / "data").listing() if e.name.endswith(".hdf5"))
                h5 = ep_dir / "data" / hdf5[0] if hdf5 else None
                error = None
                if robot in SIMULATION:
                    error = (
                        f"simulation release h5_{robot} (Isaac Sim groups, cameras at a quarter of the state "
                        "rate) is not read by this adapter",
                        "release",
                    )
                elif robot not in ROBOTS:
                    error = (f"unknown release folder h5_{robot}; known: {sorted(ROBOTS)}", "release")
                elif h5 is None:
                    error = ("no *.hdf5 file in data/", "trajectory.hdf5")
                path = h5 or ep_dir / "data" / "trajectory.hdf5"
                splits = [split] if split != "unsplit" else []
                key = "/".join([f"h5_{robot}", task_dir.name, "success_episodes", *splits, ep_dir.name, "data"])
                locator: dict[str, Any] = {
                    "robot": robot,
                    "task": task_dir.name,
                    "split": split,
                    "benchmark": benchmark,
                    "instruction": instructions.get(task_dir.name),
                    "annotation": annotations.get(key),
                }
                yield self.new_ref(
                    raw_id,
                    (str(path),),
                    subset=self.options.subset or robot,
                    source=self.options.source,
                    locator=locator,
                    error=self.error(error[0], file=path, episode=raw_id, field=error[1]) if error else None,
                )

    def _instructions(self, root: Location) -> dict[str, str]:
        """task folder -> instruction from the maker's CSV (`,task,instruction`), the option's file or one found in
        the root or its parent."""
        path = self.options.instructions
        if path is None:
            path = next((d / n for d in (root, root.parent) for n in INSTRUCTION_FILES if (d / n).is_file()), None)
        if path is None:
            return {}
        try:
            with path.open(newline="", encoding="utf-8") as f:
                rows = list(csv.DictReader(f))
            return {r["task"]: r["instruction"] for r in rows if r.get("task") and r.get("instruction")}
        except (OSError, KeyError, csv.Error) as e:
            raise ValueError(f"adapter robomind, file {path}: unreadable instruction table ({e})") from e

    def read(self, ref: EpisodeRef) -> RawEpisode:
        loc = ref.locator
        path = self.file(ref.paths[0])
        layout = ROBOTS[loc["robot"]]
        fail = self.failing(path, ref.raw_id)
        if (lfs := lfs_pointer_message(path)) is not None:
            raise fail(lfs, "trajectory.hdf5")
        try:
            f = open_h5(path)
        except OSError as e:
            raise fail(f"not a readable HDF5 file (truncated or not HDF5): {e}", "trajectory.hdf5") from e
        fps = self.options.fps
        meta: dict[str, Any] = {
            "robot": loc["robot"],
            "task": loc["task"],
            "split": loc["split"],
            "benchmark": loc["benchmark"],
            "native_fps": fps,
            "hands_from": layout.why,
            "dataset": f"{self.options.source}/{loc['robot']}",
        }
        with f:
            meta["attrs"] = {k: _plain(f.attrs[k]) for k in ("compress", "sim") if k in f.attrs}
            states, actions, missing = self._vectors(f, loc["robot"], layout, fps, fail, self._row_bound(f, fail))
            n = len(states["puppet.joint_position" if "puppet.joint_position" in states else sorted(states)[0]])
            cameras = self._cameras(f, path, layout, n, fps, fail, meta)
            meta["depth"] = {k: len(v) for k, v in f.get("observations/depth_images", {}).items()}
        if missing:
            meta["missing_datasets"] = missing
        if "puppet.joint_position" in states and states["puppet.joint_position"].names[-1:] == ("gripper",):
            g = states["puppet.joint_position"].values[:, -1]
            meta["gripper_range"] = [float(np.nanmin(g)), float(np.nanmax(g))]
        reasons = []
        if layout.embodiment == "unknown":
            said = f"no kinematic description for robot_type {layout.robot_type!r}: natives only"
            reasons.append(TierVerdict.note(said, NO_DESCRIPTION))
        return RawEpisode(
            ref=ref,
            robot_type=layout.robot_type,
            embodiment=layout.embodiment,
            tier=self.options.tier,
            native_fps=fps,
            states=states,
            actions=actions,
            cameras=cameras,
            language=_language(loc, fps, meta),
            success=True,  # the release holds success_episodes only
            verdicts=tuple(reasons),
            metadata=meta,
        )

    def _row_bound(self, f: h5py.File, fail) -> tuple[int, str]:
        """The most rows a per-frame vector of this file may declare, and why: its cameras' frames (RoboMIND stores
        one image per state row, `_cameras` holds them to it) plus `frame_tolerance`; with no camera, the ROWS limit.
        Each camera's own length is held to the ROWS limit. Checked before any dataset is read: a 244 KB file
        declaring 4e7 rows of a never-written chunked dataset took a worker to 6.4 GB."""
        cap = limit("ROWS")
        group = f.get("observations/rgb_images")
        frames = []
        for cam, ds in sorted(group.items()) if isinstance(group, h5py.Group) else ():
            if isinstance(ds, h5py.Dataset) and ds.ndim >= 1:
                try:
                    check(f"{len(ds)} frames", len(ds), cap, "the ROWS limit")
                except TooLarge as e:
                    raise fail(str(e), f"observations/rgb_images/{cam}") from e
                frames.append(len(ds))
        if not frames:
            return cap, "the ROWS limit"
        return max(frames) + self.options.frame_tolerance, f"the cameras' {max(frames)} frames + frame_tolerance"

    def _vectors(
        self, f: h5py.File, robot: str, layout: RobotLayout, fps: float, fail, rows: tuple[int, str]
    ) -> tuple[dict, dict, list[str]]:
        states: dict[str, Stream] = {}
        actions: dict[str, Stream] = {}
        missing: list[str] = []
        for group, out in (("puppet", states), ("master", actions)):
            for v in layout.vectors:
                field = f"{group}/{v.dataset}"
                if field not in f:
                    if group == "puppet" and v.dataset.startswith("joint_position"):
                        raise fail(f"{field} is missing: the robot's joint state", field)
                    missing.append(field)
                    continue
                ds = f[field]
                width = len(v.names) if v.names else None
                if not isinstance(ds, h5py.Dataset) or ds.ndim != 2 or (width and ds.shape[1] != width):
                    shape = getattr(ds, "shape", "a group")
                    raise fail(f"expected (T, {width or 'D'}) for h5_{robot}, found {shape}", field)
                try:
                    check("rows", ds.shape[0], *rows)
                    check("values per row", ds.shape[1], MAX_WIDTH, "any robot's vector")
                except TooLarge as e:
                    raise fail(str(e), field) from e
                try:
                    values = bounds.read_array(ds).astype(np.float64)
                except (OSError, ValueError, TypeError) as e:
                    raise fail(f"unreadable dataset: {e}", field) from e
                if not len(values):
                    raise fail("no rows", field)
                out[field.replace("/", ".")] = Stream(np.arange(len(values)) / fps, values, v.names, v.unit)
        return states, actions, missing

    def _cameras(
        self, f: h5py.File, path: Location, layout: RobotLayout, n: int, fps: float, fail, meta: dict[str, Any]
    ) -> dict[str, HDF5ImagesCamera]:
        group = f.get("observations/rgb_images")
        present = sorted(group.keys()) if isinstance(group, h5py.Group) else []
        ordered = [c for c in (*layout.cameras, *present) if c in present]
        roles = layout.camera_roles(ordered)
        wanted = list(dict.fromkeys(self.options.cameras or ordered))
        meta["cameras_missing"] = [c for c in layout.cameras if c not in present]
        if not wanted:
            raise fail(f"no camera of {sorted(layout.cameras)} in observations/rgb_images", "observations/rgb_images")
        cameras = {}
        for cam in wanted:
            field = f"observations/rgb_images/{cam}"
            if cam not in present:
                raise fail("camera is missing", field)
            ds = group[cam]
            if len(ds) < n - self.options.frame_tolerance or not len(ds):
                raise fail(f"{len(ds)} frames for {n} state rows (tolerance {self.options.frame_tolerance})", field)
            try:
                first = decode_frame(bounds.read_array(ds, 0, 1)[0], rgb_in_bgr_jpeg=layout.rgb_in_bgr_jpeg)
            except (FrameDecodeError, OSError, ValueError) as e:
                raise fail(f"frame 0: {e}", field) from e
            cameras[cam] = HDF5ImagesCamera(
                path,
                field,
                cam,
                roles[cam],
                np.arange(len(ds)) / fps,
                first,
                rgb_in_bgr_jpeg=layout.rgb_in_bgr_jpeg,
                intrinsics=intrinsics_for(meta["robot"], cam, first.shape[:2]),
            )
        return cameras


def _language(loc: dict[str, Any], fps: float, meta: dict[str, Any]) -> list[Language]:
    out = []
    if loc.get("instruction"):
        out.append(Language(str(loc["instruction"]).strip(), "instruction"))
        meta["language_from"] = "instruction table"
    else:  # the maker's task folder names are its task names (e.g. bread_in_basket); a date prefix is not language
        out.append(Language(re.sub(r"^(\d+[_-])+", "", loc["task"]).replace("_", " ").strip(), "instruction"))
        meta["language_from"] = "task folder name"
    ann = loc.get("annotation") or {}
    if ann.get("task_summary"):
        out.append(Language(str(ann["task_summary"]), "summary"))
    for step in ann.get("steps") or []:
        a, b = (_FRAME_FILE.search(str(step.get(k, ""))) for k in ("start_frame", "end_frame"))
        if step.get("step_description") and a and b:
            out.append(Language(str(step["step_description"]), "instruction", int(a[1]) / fps, (int(b[1]) + 1) / fps))
    return out


def _annotations(root: Location, benchmark: str | None, robot: str) -> dict[str, Any]:
    """id -> response of the maker's frame-level annotation file for one release folder, when present."""
    dirs = [root, root.parent] + ([root / benchmark] if benchmark else [])
    path = next((p for d in dirs if (p := d / ANNOTATION_DIR / f"h5_{robot}.json").is_file()), None)
    if path is None:
        return {}
    try:
        return {
            _annotation_key(str(i["id"]), robot): i.get("response") or {}
            for i in bounds.load_json(path, path.name)
            if isinstance(i, dict) and "id" in i
        }
    except (OSError, ValueError) as e:
        log.warning("%s: unreadable annotation file (%s): no step annotations", path, e)
        return {}


def _annotation_key(ident: str, robot: str) -> str:
    """An annotation id from `h5_<robot>/` on (ids may carry a benchmark or a local prefix)."""
    marker = f"h5_{robot}/"
    return marker + ident.split(marker, 1)[1] if marker in ident else ident


def _robot_dirs(root: Location) -> list[tuple[str | None, Location]]:
    """(benchmark, h5_<robot> folder) under `root`: the root itself, its children, or a benchmark level below."""
    if root.name.startswith("h5_"):
        return [(None, root)]
    out: list[tuple[str | None, Location]] = [(None, d) for d in _dirs(root) if d.name.startswith("h5_")]
    for bench in _dirs(root):
        if not bench.name.startswith("h5_"):
            out += [(bench.name, d) for d in _dirs(bench) if d.name.startswith("h5_")]
    return out


def _episode_dirs(success: Location) -> Iterator[tuple[str, Location]]:
    for d in _dirs(success):
        if d.name in SPLITS:
            yield from ((d.name, e) for e in _dirs(d))
        else:
            yield "unsplit", d


def _dirs(path: Location) -> list[Location]:
    names = [e.name for e in path.listing() if e.is_dir and not e.name.startswith(".")]
    return [path / n for n in sorted(names, key=natural_key)]


def _plain(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v
