"""AgiBot Genie Sim / A2D exports: one episode per `<job>/<sn>/<episode>/` folder (`files.py` has the layout), read
into a `RawEpisode` or refused by name. The robot is AgiBot World's G1 (`adapters/agibot_g1.py`: hands, gripper).

What the files must carry for canonical hands: both end poses (`state/end/position`, `state/end/orientation`) in the
robot base, with a quaternion order this episode's own numbers settle (`quat.py`), and a G1 (`robot_type`
"A2D") with 1-wide grippers or 6-joint hands per arm. Anything short of that is refused with the file, the episode,
the field and the measured cause; nothing is read past a refusal. No FK description of the G1 arms exists in
`schemas/robots/`, so the 14 arm joints stay natives and the end poses are the hands.

Tier: the simulator's exports (`meta_info.json` `sw_version` "genie-sim") are motion-planned, scripted trajectories:
`low` (DESIGN.md section 4: "scripted, non-expert, failed or retried"), the reason recorded with the injected error
frames (`label_info.key_frame.dual`); real A2D platform exports keep the adapter's tier. Grippers: the converter's
state and action scales (`omnipicker_reverse_relabel_gripper`, `omnipicker_sim_to_real`) are the real robot's, read
with `hands.gripper_opening`. The maker's code behind each is in adapters/README.md `agibot_genie`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any, ClassVar, Literal

import av
import numpy as np
from pydantic import Field

from adapters.agibot_g1 import (
    H5_NAME,
    INFO_NAME,
    LAYOUT_DEPTH,
    MARKERS,
    META_NAME,
    GripperOptions,
    camera_slots,
    episode_dirs,
    hand_signals,
)
from adapters.agibot_genie.files import (
    AlignedJoints,
    error_frames,
    inclusive_segments,
    is_simulation,
    read_aligned_joints,
    read_json,
)
from adapters.agibot_genie.quat import QuatOrder, quaternion_order, to_xyzw
from adapters.base import AdapterError, EpisodeRef, Language, RawEpisode, Stream
from adapters.cameras import VideoFileCamera
from adapters.hostile import bounds
from adapters.source_adapter import SourceAdapter
from adapters.storage.location import Location
from schemas.settings import limit
from schemas.tiers import QualityTier, TierVerdict

log = logging.getLogger(__name__)

RESULT_NAME = "task_result.json"
VIDEO_DIRS = (".", "observations/videos", "videos")  # converter's renamed mp4s; the extractor's observations/videos
# converter `process_camera_parameter_file_name`: head -> head_front_rgbd, hand_* -> hand_*_rgbd
PARAM_NAMES = {"head": "head_front", "hand_left": "hand_left", "hand_right": "hand_right"}
G1_ROBOT_TYPES = ("A2D",)  # converter: robot_type "A2D" unless G2 ("G2A"); sn_code "A2D0015AB00061"
EFFECTOR_EMBODIMENT = {1: "agibot_gripper", 6: "agibot_dexterous"}
XYZ = ("x", "y", "z")
# path below state/ or action/ -> (unit, frame); quaternion units are filled in once the order is known
UNITS: dict[str, tuple[str, str | None]] = {
    "joint/position": ("rad", None), "joint/velocity": ("rad/s", None), "head/position": ("rad", None),
    "end/position": ("m", "robot_base"), "end/arm_position": ("m", "arm_base"), "robot/position": ("m", "world"),
    "robot/velocity": ("m/s,rad/s", "robot_base"),
}  # fmt: skip
QUATS = {"end/orientation": "robot_base", "end/arm_orientation": "arm_base", "robot/orientation": "world"}


class GenieOptions(GripperOptions):
    source: str = Field("agibot_genie_sim", description="source name in episode uids and the catalog")
    quaternion: Literal["auto", "xyzw", "wxyz"] = Field(
        "auto", description="order of the end quaternions; auto: measured per episode (agibot_genie/quat.py)"
    )
    embodiment: str | None = Field(
        None, description="embodiment for an export whose robot_type is not the G1's 'A2D' (default: refused)"
    )
    frame_tolerance: int = Field(2, ge=0, description="a video may have this many frames fewer than the h5 rows")
    tier: QualityTier = Field(
        QualityTier.high, description="tier of real A2D exports; Genie Sim simulation is low (scripted trajectories)"
    )


class GenieAdapter(SourceAdapter[GenieOptions]):
    name: ClassVar[str] = "agibot_genie"
    expects: ClassVar[str] = "<job>/<sn>/<episode>/ folders with aligned_joints.h5, meta_info.json and data_info.json"

    def refs(self, root: Location) -> Iterator[EpisodeRef]:
        """One ref per export episode below `root`; a missing or unreadable file makes that episode's ref carry the
        error (file, episode, field), the others go on. Reads only the two small JSON files."""
        for folder in episode_dirs(root):
            rel = folder.relative_to(root)
            raw_id = rel.as_posix() if rel.parts else folder.name
            locator: dict[str, Any] = {"root": str(root), "dir": str(folder)}
            error = None

            def fail(msg: str, field: str, p: Location = folder, ep: str = raw_id) -> AdapterError:
                return self.error(msg, file=p / field, episode=ep, field=field)

            try:
                if not (folder / H5_NAME).is_file():
                    found = ", ".join(m for m in MARKERS if (folder / m).is_file())
                    raise fail(f"{H5_NAME} is missing (found {found})", H5_NAME)
                locator["meta_info"] = read_json(folder / META_NAME, fail)
                locator["data_info"] = read_json(folder / INFO_NAME, fail)
            except AdapterError as e:
                error = e
            parts = rel.parts
            job = parts[0] if len(parts) == LAYOUT_DEPTH else str(locator.get("meta_info", {}).get("job_id", "export"))
            paths = [str(folder / m) for m in MARKERS]
            subset = self.options.subset or f"job_{job}"
            yield self.new_ref(raw_id, paths, subset=subset, source=self.options.source, locator=locator, error=error)

    def read(self, ref: EpisodeRef) -> RawEpisode:
        opts, folder, raw_id = self.options, self.file(ref.locator["dir"]), ref.raw_id
        meta, info = ref.locator["meta_info"], ref.locator["data_info"]
        h5_path = folder / H5_NAME
        robot_type = str(meta.get("robot_type") or info.get("sn_code", "")[:3])
        if opts.embodiment is None and robot_type not in G1_ROBOT_TYPES:
            msg = (
                f"robot_type {robot_type!r}: only the G1 ('A2D') has an embodiment here (set option embodiment to read "
                "another robot's end poses)"
            )
            raise self.error(msg, file=folder / META_NAME, episode=raw_id, field="robot_type")
        fail = self.failing(h5_path, raw_id)
        h5 = read_aligned_joints(h5_path, fail)
        order, order_meta = quaternion_order(h5, is_simulation(meta), opts.quaternion, fail)
        states, actions = _streams(h5, "state", order), _streams(h5, "action", order)
        width = _effector_width(h5, fail)
        embodiment = opts.embodiment or EFFECTOR_EMBODIMENT[width]
        fps = round(1.0 / h5.clock["median_dt_s"], 2) if "median_dt_s" in h5.clock else None

        metadata: dict[str, Any] = {
            "layout": "genie_sim_export",
            "h5_layout": h5.layout,
            "clock": h5.clock,
            "empty_fields": h5.empty,
            "meta_info": meta,
            "data_info": {k: v for k, v in info.items() if k != "label_info"},
            "quaternion_order": order,
            "quaternion_evidence": order_meta,
            "native_fps": fps,
            "robot_type": robot_type,
            "action_config_ends": "inclusive in data_info.json; stored half-open [start, end + 1)",
        }
        label = info.get("label_info")
        if isinstance(label, dict):  # error_label, key_frame, cloud_post_processing_result: kept beside the segments
            metadata["label_info"] = {k: v for k, v in label.items() if k != "action_config"}
        ids = {"folder": folder.name, "meta_info": meta.get("episode_id"), "data_info": info.get("episode_id")}
        if len({str(v) for v in ids.values() if v is not None}) > 1:  # kept as found; the folder names the episode
            log.warning("%s: episode ids disagree: %s", folder, ids)
            metadata["episode_id_mismatch"] = ids
        reasons: list[TierVerdict] = []
        if is_simulation(meta):  # a simulated episode is low at best, whatever its default (the spec's included)
            sim = "Genie Sim simulation (meta_info sw_version/text): motion-planned, scripted trajectories"
            reasons.append(TierVerdict(tier=QualityTier.low, reason=sim, code="source_simulation"))
        injected = error_frames(info)
        if injected:
            metadata["error_frames"] = injected
            spans = ", ".join(f"{_cause(e)} frames {e.get('start')}..{e.get('end')}" for e in injected)
            said = f"simulator injected {len(injected)} error span(s): {spans}"
            reasons.append(TierVerdict.note(said, "source_error_spans"))

        success = _task_result(folder, metadata, reasons)
        read = {H5_NAME, META_NAME, INFO_NAME, RESULT_NAME}
        metadata["files_not_read"] = sorted(
            p.name for p in folder.iterdir() if p.is_file() and p.name not in read and not p.name.endswith("_color.mp4")
        )
        segments = inclusive_segments(info, self.failing(folder / INFO_NAME, raw_id))
        language = _language(info, segments, fps)
        if segments and any(s.end_frame > h5.rows for s in segments):
            metadata["action_config_past_end"] = [i for i, s in enumerate(segments) if s.end_frame > h5.rows]
        cameras, poses = self._cameras(folder, raw_id, h5, metadata)
        signals = {f"timestamp.camera.{cam}": Stream(h5.times_s, t, unit="s") for cam, t in h5.camera_times_s.items()}
        return RawEpisode(
            ref=ref,
            robot_type=f"agibot_{robot_type.lower()}",
            embodiment=embodiment,
            tier=opts.tier,
            native_fps=fps,
            states=states,
            actions=actions,
            cameras=cameras,
            camera_poses=poses,
            signals=signals,
            language=language,
            action_config=segments,
            success=success,
            verdicts=tuple(reasons),
            metadata=metadata,
            hands=hand_signals(_hand_states(states, order), opts.gripper_open_mm, opts.gripper_closed_mm),
        )

    def _cameras(
        self, folder: Location, raw_id: str, h5: AlignedJoints, meta: dict[str, Any]
    ) -> tuple[dict[str, VideoFileCamera], dict[str, Stream]]:
        found: dict[str, Location] = {}
        others: list[str] = []
        for sub in VIDEO_DIRS:
            for p in sorted((folder / sub).glob("*.mp4")):
                cam = p.name[: -len("_color.mp4")] if p.name.endswith("_color.mp4") else None
                if cam is None:
                    others.append(str(p.relative_to(folder)))
                else:
                    found.setdefault(cam, p)
        meta["videos_not_read"] = others  # depth and unnamed videos: listed, no camera
        cameras, poses = {}, {}
        canonical = camera_slots(found)
        for cam in self.options.cameras or canonical:
            path = found.get(cam, folder / f"{cam}_color.mp4")
            if cam not in found:
                raise self.error("video is missing", file=path, episode=raw_id, field=f"{cam}_color")
            try:
                camera = VideoFileCamera(path, cam, canonical.get(cam), intrinsics=_intrinsics(folder, cam))
            except (av.FFmpegError, OSError, ValueError, IndexError, KeyError) as e:
                msg = f"unreadable video or intrinsics: {e!r}"
                raise self.error(msg, file=path, episode=raw_id, field=f"{cam}_color") from e
            if len(camera) < h5.rows - self.options.frame_tolerance:
                tolerance = self.options.frame_tolerance
                msg = f"video has {len(camera)} frames, aligned_joints.h5 {h5.rows} rows (tolerance {tolerance})"
                raise self.error(msg, file=path, episode=raw_id, field=f"{cam}_color")
            cameras[cam] = camera
            try:
                pose = _extrinsics(folder, cam, h5.times_s)
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
                sensor = folder / "parameters" / "sensor"
                raise self.error(
                    f"unreadable extrinsics: {e!r}", file=sensor, episode=raw_id, field=f"extrinsic {cam}"
                ) from e
            if pose is not None:
                poses[cam] = pose
        if not cameras:
            log.warning("%s: episode %s has no *_color.mp4 (looked in %s)", folder, raw_id, ", ".join(VIDEO_DIRS))
            meta["no_video"] = f"no *_color.mp4 in {', '.join(VIDEO_DIRS)}"
        return cameras, poses


def _task_result(folder: Location, metadata: dict[str, Any], reasons: list[TierVerdict]) -> bool | None:
    """`task_result.json` (extract_and_convert_data.py: `task_status` = the data filter's verdict, `metric_status`,
    `return_code`): the episode's success; absent -> unknown."""
    path = folder / RESULT_NAME
    if not path.is_file():
        return None
    try:
        result = bounds.load_json(path, path.name, limit("SIDECAR_BYTES"))
    except (OSError, ValueError) as e:
        metadata["task_result"] = f"unreadable: {e}"
        log.warning("%s: %s", path, metadata["task_result"])
        return None
    metadata["task_result"] = result
    status = result.get("task_status") if isinstance(result, dict) else None
    if status is False:
        said = f"task_result.json: task_status false ({result.get('metric_status')!r})"
        reasons.append(TierVerdict.note(said, "source_task_status"))  # the failed episode's verdict is the judge's
    return status if isinstance(status, bool) else None


def _cause(err: dict[str, Any]) -> str:
    detail = err.get("frame_detail")
    return str(detail.get("error_cause_english") or "error") if isinstance(detail, dict) else "error"


def _streams(h5: AlignedJoints, kind: str, order: QuatOrder) -> dict[str, Stream]:
    out = {}
    for path, values in h5.columns.items():
        if not path.startswith(kind + "/"):
            continue
        key = path[len(kind) + 1 :]
        unit, frame = UNITS.get(key, ("", None))
        names = h5.names.get(f"{kind}/{key.rsplit('/', 1)[0]}") if "/" in key else None
        if key in QUATS:
            unit, frame = f"quat_{order}", QUATS[key]
        if key.endswith("effector/position"):
            unit = "mm (0..120, higher = closed)" if kind == "state" else "0..1 (1 = close)"
        last = values.shape[-1] if values.ndim > 1 else 1
        if key in QUATS:
            names = tuple(order)
        elif key in UNITS and unit == "m":
            names = XYZ
        elif key == "end/pose" and last == 14:  # converter: left arm_position, arm_orientation, then right
            names = tuple(f"{arm}_{c}" for arm in ("left", "right") for c in (*XYZ, *(f"q{a}" for a in order)))
            unit, frame = f"m,quat_{order}", "arm_base"
        elif names is not None and (len(names) != last or values.ndim != 2):
            names = None  # `end`'s name attribute ("left", "right") names axis 1, not the components
        out[key.replace("/", ".")] = Stream(h5.times_s, values, names, unit, frame)
    return out


def _effector_width(h5: AlignedJoints, fail: Any) -> int:
    cols = [h5.columns.get(f"state/{arm}_effector/position") for arm in ("left", "right")]
    if any(c is None for c in cols):
        raise fail("no state/left_effector/position or state/right_effector/position", "state/left_effector/position")
    widths = {c.reshape(len(c), -1).shape[1] for c in cols if c is not None}
    if len(widths) != 1 or next(iter(widths)) not in EFFECTOR_EMBODIMENT:
        msg = f"effector widths {sorted(widths)}: expected 1 (gripper) or 6 (hand) per arm"
        raise fail(msg, "state/left_effector/position")
    return next(iter(widths))


def _hand_states(states: dict[str, Stream], order: QuatOrder) -> dict[str, Stream]:
    """The streams `hands.hand_signals` reads, with the end orientation as xyzw and grippers as (T, 1)."""
    out = dict(states)
    ori = states["end.orientation"]
    out["end.orientation"] = Stream(
        ori.timestamps, to_xyzw(ori.values, order), ("qx", "qy", "qz", "qw"), "quat_xyzw", ori.frame
    )
    for arm in ("left", "right"):
        s = states.get(f"{arm}_effector.position")
        if s is not None:
            out[f"{arm}_effector.position"] = Stream(s.timestamps, s.values.reshape(len(s), -1), s.names, s.unit)
    return out


def _language(info: dict[str, Any], segments: list | None, fps: float | None) -> list[Language]:
    out = []
    if task := info.get("english_task_name") or info.get("task_name"):
        out.append(Language(str(task), "instruction"))
    if scene := info.get("english_init_scene_text") or info.get("init_scene_text"):
        out.append(Language(str(scene), "description"))
    for seg in segments or []:
        if seg.action_text and fps:
            out.append(Language(seg.action_text, "instruction", seg.start_frame / fps, seg.end_frame / fps))
    return out


def _intrinsics(folder: Location, cam: str) -> np.ndarray | None:
    """converter `convert_parameters`: `parameters/sensor/intrinsic_<name>_rgb.json` with Fx, Fy, Cx, Cy."""
    path = folder / "parameters" / "sensor" / f"intrinsic_{PARAM_NAMES.get(cam, cam)}_rgb.json"
    if not path.is_file():
        return None
    p = bounds.load_json(path, path.name, limit("SIDECAR_BYTES"))
    return np.array([[p["Fx"], 0.0, p["Cx"]], [0.0, p["Fy"], p["Cy"]], [0.0, 0.0, 1.0]], dtype=np.float64)


def _extrinsics(folder: Location, cam: str, times: np.ndarray) -> Stream | None:
    """converter: `extrinsic_end_T_<name>_rgbd_aligned.json`, one robot_from_camera per row (`world_to_robot @
    cam_pose_world`, the camera pose already turned 180 deg about x by the extractor); entries `{"extrinsic":
    {"rotation_matrix", "translation_vector"}}` (or `{"rotation", "translation"}` in the earlier converter)."""
    path = folder / "parameters" / "sensor" / f"extrinsic_end_T_{PARAM_NAMES.get(cam, cam)}_rgbd_aligned.json"
    if not path.is_file():
        return None
    listed = bounds.load_json(path, path.name, limit("SIDECAR_BYTES"))
    poses = np.tile(np.eye(4), (len(listed), 1, 1))
    for i, item in enumerate(listed):
        ext = item.get("extrinsic", item)
        poses[i, :3, :3] = np.asarray(ext.get("rotation_matrix", ext.get("rotation")), dtype=np.float64)
        poses[i, :3, 3] = np.asarray(ext.get("translation_vector", ext.get("translation")), dtype=np.float64)
    if len(poses) != len(times):
        raise ValueError(f"{path.name}: {len(poses)} poses for {len(times)} rows")
    return Stream(times, poses, None, "se3_4x4", "robot_base")
