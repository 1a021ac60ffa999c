"""AgiBot World raw (Alpha/Beta, untarred): task_info JSON + per-episode mp4s + `proprio_stats.h5` + camera parameters.
Genie Sim / A2D exports (`<job>/<sn>/<episode>/aligned_joints.h5`) are another source, `adapters/agibot_genie/`.

Layout (the HF dataset card agibot-world/AgiBotWorld-Alpha; any4lerobot `agibot2lerobot/agibot_utils/`):
`task_info/task_<t>.json` (a list of episodes), `observations/<t>/<e>/videos/<cam>_color.mp4`,
`proprio_stats/<t>/<e>/proprio_stats.h5`, `parameters/<t>/<e>/camera/` (or `.../parameters/camera/`). Raw id
`<t>/<e>`; discovery yields tasks and episodes in numeric order, subset `task_<t>` (one feature set per task).
Everything runs at 30 Hz: state row i, video frame i and `action/<group>/index` value i share the frame clock, so
timestamps are `frame / 30` s. Stream keys: `adapters/agibot/proprio.py`.

| native | canonical meaning | units | frame | rate |
| --- | --- | --- | --- | --- |
| `state/joint/position` (T,14) | arm joints, left `[:7]`, right `[7:]` | rad | joint space | 30 Hz |
| `state/joint/current_value` (T,14) | arm joint motor currents | native (unverified) | - | 30 Hz |
| `state/end/position` (T,2,3) | flange xyz, axis 1 = (left, right) | m | `robot_base` | 30 Hz |
| `state/end/orientation` (T,2,4) | flange rotation, axis 1 = (left, right) | quat xyzw | `robot_base` | 30 Hz |
| `state/effector/position` (T,2) | gripper (left, right), higher = more closed -> `agibot_gripper` | mm | - | 30 Hz |
| `state/{left,right}_effector/position` (T,1) | the same gripper, one dataset per arm (real files) | mm | - | 30 Hz |
| `state/effector/position` (T,12) | hand joints, left `[:6]`, right `[6:]` -> `agibot_dexterous` | rad | - | 30 Hz |
| `state/head/position` (T,2) | head yaw, pitch | rad | - | 30 Hz |
| `state/waist/position` (T,2) | waist pitch (rad), lift (m) | rad, m | - | 30 Hz |
| `state/robot/{position,orientation}` | base pose (odometry origin at power-on) | m, quat xyzw | `odometry` | 30 Hz |
| `action/<group>/<field>` | commands, same layout as the state | as state | as state | `index` / 30 |
| `action/{,left_,right_}effector/position` (gripper) | gripper command, 0 = open, 1 = closed | 0..1 | - | index |
| `action/robot/velocity` (T,2) | base command: forward speed, yaw rate | m/s, rad/s | `robot_base` | `index` / 30 |
| `videos/head_color.mp4` | camera `head` | RGB 480x640 | - | 30 fps (pts) |
| `videos/hand_{left,right}_color.mp4` | cameras `wrist_left`, `wrist_right` | RGB 480x640 | - | 30 fps |
| `videos/hand_{left,right}_fisheye_color.mp4` | wrist cameras if no `hand_*` video (dexhand) | 768x960 | - | 30 fps |
| `videos/*_fisheye_color.mp4` (others) | kept under their native names, no canonical camera | 768x960 | - | 30 fps |
| `<cam>_intrinsic_params.json` | 3x3 pinhole (`fx, fy, ppx, ppy`); distortion in metadata | px | - | static |
| `<cam>_extrinsic_params_aligned.json` | `camera_poses[cam]`: base_from_camera 4x4 | m | `robot_base` | 30 Hz |
| `task_name` / `english_task_name` | `Language` instruction (English preferred) | - | - | episode |
| `init_scene_text` / english variant | `Language` description | - | - | episode |
| `label_info.action_config[]` (or `lable_info`) | `ActionSegment`s ([start, end)), timed `Language` | frames | - | - |
| `episode_status` | `success` (success/failed strings, unverified field) | - | - | episode |
| `timestamp` (T,) int64 | native clock: start, rate and deviation from the 30 Hz grid in metadata | ns | - | 30 Hz |

The gripper convention and its sources are in `adapters/agibot_g1.py`; the HDF5 quirks (action index, split
effectors, empty placeholders, the native clock, Digital World exports) in `adapters/agibot/proprio.py`.

Quirks handled here (task_info lists unsorted, `lable_info`, fisheye-only wrist cameras, the flange as `end`) and
what is still assumed are listed with their sources in adapters/README.md `agibot`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any, ClassVar

import av
import numpy as np
from pydantic import Field, ValidationError

from adapters.agibot.proprio import FPS, read_proprio
from adapters.agibot_g1 import WORLD_DIRS, GripperOptions, camera_slots, episode_dirs, hand_signals
from adapters.base import EpisodeRef, Language, RawEpisode, Stream
from adapters.cameras import VideoFileCamera
from adapters.hostile import bounds
from adapters.source_adapter import SourceAdapter
from adapters.storage.location import Location
from schemas.lerobot import ActionSegment
from schemas.settings import limit
from schemas.tiers import QualityTier

log = logging.getLogger(__name__)

LABEL_KEYS = ("label_info", "lable_info")  # the HF card's task_info example spells it "lable_info"
_SUCCESS = {"success": True, "succeeded": True, "successful": True, "ok": True, "true": True, "1": True,
            "fail": False, "failed": False, "failure": False, "false": False, "0": False}  # fmt: skip
_TASK_FILE = re.compile(r"task_(\d+)\.json")


_GENIE = "Genie Sim / A2D exports are their own source: adapter agibot_genie, option "


class AgibotOptions(GripperOptions):
    moved: ClassVar[dict[str, str]] = {f"genie_{k}": _GENIE + k for k in ("source", "quaternion", "embodiment")}

    source: str = Field("agibot_world", description="source name in episode uids and the catalog")
    task_ids: list[int] | None = Field(None, description="only these task ids (default: every task found)")
    frame_tolerance: int = Field(2, ge=0, description="a video may have this many frames fewer than the state")
    tier: QualityTier = Field(QualityTier.high, description="default tier: expert teleoperation")


class AgibotAdapter(SourceAdapter[AgibotOptions]):
    name: ClassVar[str] = "agibot"
    expects: ClassVar[str] = (
        "task_info/task_<t>.json with observations/<t>/<e>/videos/*.mp4 and proprio_stats/<t>/<e>/proprio_stats.h5"
    )

    @classmethod
    def root_problem(cls, root: Location) -> str | None:
        """A root of Genie Sim / A2D exports without an AgiBot World folder belongs to the other source."""
        if any((root / d).is_dir() for d in WORLD_DIRS):
            return None
        export = next(episode_dirs(root), None)
        return None if export is None else f"holds Genie Sim / A2D exports ({export}): adapter agibot_genie reads them"

    def refs(self, root: Location) -> Iterator[EpisodeRef]:
        """AgiBot World raw episodes (task_info JSONs read, no HDF5, no video). Genie Sim / A2D exports beside them
        are the `agibot_genie` source's: named in a source finding, not read."""
        export = next(episode_dirs(root), None)
        if export is not None:
            msg = f"Genie Sim / A2D exports ({export.relative_to(root)}) not read: adapter agibot_genie reads them"
            self.note("folder_skipped", msg, root=root, path=export)
        yield from self._discover_world(root)

    def _discover_world(self, root: Location) -> Iterator[EpisodeRef]:
        task_files = {
            int(m.group(1)): e.path for e in (root / "task_info").listing() if (m := _TASK_FILE.fullmatch(e.name))
        }
        tasks = set(task_files) | _numeric_dirs(root / "observations") | _numeric_dirs(root / "proprio_stats")
        if self.options.task_ids is not None:
            tasks &= set(self.options.task_ids)
        for task_id in sorted(tasks):
            yield from self._discover_task(root, task_id, task_files.get(task_id))

    def _discover_task(self, root: Location, task_id: int, task_file: Location | None) -> Iterator[EpisodeRef]:
        info_path = task_file or root / "task_info" / f"task_{task_id}.json"
        entries: dict[int, list[dict[str, Any]]] = {}
        task_error = None
        if task_file is None:
            task_error = ("no task_info file for episodes on disk", "task_info")
        else:
            try:
                listed = bounds.load_json(root.file(task_file), f"task_info {task_file.name}")
                if not isinstance(listed, list):
                    raise ValueError(f"expected a list of episodes, got {type(listed).__name__}")
                for i, entry in enumerate(listed):
                    if not isinstance(entry, dict) or not str(entry.get("episode_id", "")).isdigit():
                        log.warning("%s: entry %d has no numeric episode_id; skipped", task_file, i)
                        continue
                    entries.setdefault(int(entry["episode_id"]), []).append(entry)
            except (OSError, ValueError) as e:  # JSONDecodeError is a ValueError
                task_error = (f"unreadable task_info: {e}", "task_info")
        obs = _numeric_dirs(root / "observations" / str(task_id))
        proprio = _numeric_dirs(root / "proprio_stats" / str(task_id))
        for episode_id in sorted(set(entries) | obs | proprio):
            raw_id = f"{task_id}/{episode_id}"
            error, err_file = task_error, info_path
            if error is None and episode_id not in entries:
                error = ("episode files on disk but no entry in task_info", "episode_id")
            elif error is None and len(entries[episode_id]) > 1:
                error = (f"listed {len(entries[episode_id])} times in task_info", "episode_id")
            elif error is None:
                for kind, present in (("proprio_stats", proprio), ("observations", obs)):
                    if episode_id not in present:
                        err_file = root / kind / str(task_id) / str(episode_id)
                        error = (f"listed in task_info but {kind}/{task_id}/{episode_id} does not exist", kind)
                        break
            locator: dict[str, Any] = {"root": str(root), "task_id": task_id, "episode_id": episode_id}
            if error is None:
                locator["entry"] = entries[episode_id][0]
            yield self.new_ref(
                raw_id,
                (str(p) for p in (info_path, *self._paths(root, task_id, episode_id))),
                subset=self.options.subset or f"task_{task_id}",
                source=self.options.source,
                locator=locator,
                error=self.error(error[0], file=err_file, episode=raw_id, field=error[1]) if error else None,
            )

    @staticmethod
    def _paths(root: Location, task_id: int, episode_id: int) -> tuple[Location, Location, Location]:
        t, e = str(task_id), str(episode_id)
        return (
            root / "proprio_stats" / t / e / "proprio_stats.h5",
            root / "observations" / t / e,
            root / "parameters" / t / e,
        )

    def read(self, ref: EpisodeRef) -> RawEpisode:
        loc = ref.locator
        root, task_id, episode_id = self.file(loc["root"]), loc["task_id"], loc["episode_id"]
        h5_path, obs_dir, param_dir = self._paths(root, task_id, episode_id)
        entry = loc["entry"]
        meta: dict[str, Any] = {"task_id": task_id, "episode_id": episode_id, "native_fps": FPS}
        meta["task_info"] = {k: v for k, v in entry.items() if k != "episode_id" and k not in LABEL_KEYS}

        proprio = read_proprio(h5_path, self.failing(h5_path, ref.raw_id))
        meta |= proprio.metadata
        n = proprio.rows
        cameras = self._read_cameras(obs_dir, param_dir, ref.raw_id, n, meta)
        language, segments = self._language(entry, self.file(ref.paths[0]), ref.raw_id, meta)  # paths[0]: task_info
        past_end = [i for i, seg in enumerate(segments or []) if seg.end_frame > n]
        if past_end:  # kept as the source has them; canonicalization clips or rejects
            meta["action_config_past_end"] = past_end
        return RawEpisode(
            ref=ref,
            robot_type="agibot_g1",
            embodiment=proprio.embodiment,
            tier=self.options.tier,
            native_fps=FPS,
            states=proprio.states,
            actions=proprio.actions,
            cameras=cameras[0],
            camera_poses=cameras[1],
            language=language,
            action_config=segments,
            success=_success(entry.get("episode_status")),
            metadata=meta,
            hands=hand_signals(proprio.states, self.options.gripper_open_mm, self.options.gripper_closed_mm),
        )

    def _read_cameras(
        self, obs_dir: Location, param_dir: Location, raw_id: str, n: int, meta: dict[str, Any]
    ) -> tuple[dict[str, VideoFileCamera], dict[str, Stream]]:
        videos = obs_dir / "videos"
        found = {e.name[: -len("_color.mp4")] for e in videos.listing() if e.name.endswith("_color.mp4")}
        canonical = camera_slots(found)
        names = self.options.cameras or list(canonical)
        if not names:
            raise self.error("no *_color.mp4 videos", file=videos, episode=raw_id, field="videos")
        cam_dir = next((d for d in (param_dir / "camera", param_dir / "parameters" / "camera") if d.is_dir()), None)
        cameras: dict[str, VideoFileCamera] = {}
        poses: dict[str, Stream] = {}
        meta["camera_distortion"], meta["video_frames"] = {}, {}
        for cam in names:
            path = videos / f"{cam}_color.mp4"
            field = f"{cam}_color"
            if cam not in found:
                raise self.error("video is missing", file=path, episode=raw_id, field=field)
            intrinsics = None
            if cam_dir is not None:
                intrinsics = self._intrinsics(cam_dir, cam, raw_id, meta)
                if (pose := self._extrinsics(cam_dir, cam, raw_id)) is not None:
                    poses[cam] = pose
            try:  # header and packets only: nothing is decoded here
                camera = VideoFileCamera(path, cam, canonical.get(cam), intrinsics=intrinsics)
            except (av.FFmpegError, OSError, ValueError, IndexError) as e:
                raise self.error(f"unreadable mp4: {e}", file=path, episode=raw_id, field=field) from e
            frames = len(camera)
            if frames < n - self.options.frame_tolerance:
                msg = f"video has {frames} frames, the state stream {n} (tolerance {self.options.frame_tolerance})"
                raise self.error(msg, file=path, episode=raw_id, field=field)
            meta["video_frames"][cam] = frames
            cameras[cam] = camera
        depth = obs_dir / "depth"
        if depth.is_dir():
            meta["depth"] = {"dir": str(depth), "frames": sum(1 for _ in depth.glob("*.png")), "unit": "mm"}
        return cameras, poses

    def _intrinsics(self, cam_dir: Location, cam: str, raw_id: str, meta: dict[str, Any]) -> np.ndarray | None:
        path = cam_dir / f"{cam}_intrinsic_params.json"
        if not path.is_file():
            return None
        try:
            p = bounds.load_json(path, path.name, limit("SIDECAR_BYTES"))["intrinsic"]
            k = np.array([[p["fx"], 0.0, p["ppx"]], [0.0, p["fy"], p["ppy"]], [0.0, 0.0, 1.0]], dtype=np.float64)
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise self.error(f"unreadable intrinsics: {e!r}", file=path, episode=raw_id, field="intrinsic") from e
        meta["camera_distortion"][cam] = {k: p[k] for k in ("k1", "k2", "k3", "p1", "p2") if k in p}
        return k

    def _extrinsics(self, cam_dir: Location, cam: str, raw_id: str) -> Stream | None:
        path = next((p for s in ("_aligned", "") if (p := cam_dir / f"{cam}_extrinsic_params{s}.json").is_file()), None)
        if path is None:
            return None
        try:
            listed = bounds.load_json(path, path.name, limit("SIDECAR_BYTES"))
            listed = listed if isinstance(listed, list) else [listed]
            poses = np.tile(np.eye(4), (len(listed), 1, 1))
            for i, item in enumerate(listed):
                ext = item.get("extrinsic", item)
                poses[i, :3, :3] = np.asarray(ext["rotation_matrix"], dtype=np.float64).reshape(3, 3)
                poses[i, :3, 3] = np.asarray(ext["translation_vector"], dtype=np.float64).reshape(3)
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
            raise self.error(f"unreadable extrinsics: {e!r}", file=path, episode=raw_id, field="extrinsic") from e
        return Stream(np.arange(len(poses), dtype=np.float64) / FPS, poses, None, "se3_4x4", "robot_base")

    def _language(
        self, entry: dict[str, Any], path: Location, raw_id: str, meta: dict[str, Any]
    ) -> tuple[list[Language], list[ActionSegment] | None]:
        language = []
        task = entry.get("english_task_name") or entry.get("task_name")
        if task:
            language.append(Language(str(task), "instruction"))
        scene = entry.get("english_init_scene_text") or entry.get("init_scene_text")
        if scene:
            language.append(Language(str(scene), "description"))
        label_key = next((k for k in LABEL_KEYS if k in entry), None)
        if label_key is None:
            log.warning("%s: episode %s has neither label_info nor lable_info: no action segments", path, raw_id)
            meta["label_info"] = "missing"
            return language, None
        label = entry[label_key] if isinstance(entry[label_key], dict) else {}
        meta["label_info"] = label_key
        if label.get("key_frame"):
            meta["key_frame"] = label["key_frame"]
        config = label.get("action_config")
        if config is None:
            return language, None
        segments = []
        for i, seg in enumerate(config):
            try:
                segment = ActionSegment.model_validate(seg)
            except ValidationError as e:
                field = f"{label_key}.action_config[{i}]"
                raise self.error(f"bad segment: {e.errors()[0]['msg']}", file=path, episode=raw_id, field=field) from e
            segments.append(segment)
            text = seg.get("english_action_text") or segment.action_text
            language.append(Language(str(text), "instruction", segment.start_frame / FPS, segment.end_frame / FPS))
        return language, segments


def _success(status: Any) -> bool | None:
    if isinstance(status, bool):
        return status
    return None if status is None else _SUCCESS.get(str(status).strip().lower())


def _numeric_dirs(path: Location) -> set[int]:
    """Numeric sub-folder names; `scan` reads the entry type from the listing (no stat per episode)."""
    return {int(e.name) for e in path.listing() if e.name.isdigit() and e.is_dir}
