"""Aria MPS hand tracking: one episode per MPS output folder (the folder holding `hand_tracking/` and `slam/`, the
latter `trajectory/` in older outputs), its hands put in the SLAM world by the closed-loop trajectory on the one
device clock. File layouts, units, axes and sentinels are the maker's (`aria_mps/files.py` cites each).

| native | canonical | unit, frame |
| --- | --- | --- |
| `hand_tracking_results[_vN].csv` 21 landmarks, device frame | `states["mano21_keypoints"]` (T,2,21,3), derived | m |
| `wrist_and_palm_poses_v2.csv` wrist, palm centre, normal | `HandTrack.rotation`, no fingers | `se3_4x4` |
| `wrist_and_palm_poses[_v1].csv` (no normals) wrist | `HandTrack.position` alone, no rotation, no fingers | m |
| `wrist_and_palm_poses*.csv` palm centre | `states["palm/<side>"]` on the hand's tracked rows | m, world |
| `<side>_tracking_confidence` | `states["confidence/<side>"]`, `HandTrack.confidence` | 0..1 (sentinels 0) |
| `closed_loop_trajectory.csv` T_world_device (1 kHz) | `states["device/T_world_device"]` at the hand rows | `se3_4x4` |
| `slam/online_calibration.jsonl` camera-rgb `T_Device_Camera` (line 1) | `camera_poses["camera-rgb"]` | `se3_4x4` |
| `<name>.vrs` beside `mps_<name>_vrs/` (else the one `.vrs` there), stream 214-1 | camera `camera-rgb`, lazy | RGB |

Landmarks onto MANO-21: `files.MANO21_FROM_ARIA` (thumb1, the CMC, which Aria has no landmark for, at `THUMB1_AT` of
the way from the wrist to THUMB_INTERMEDIATE; PALM_CENTER not used).
Which file: `forms.choose`, at discovery (the files not read said as source findings). A wrist-and-palm hand: see
`_wrist_hands`. An untracked hand: confidence <= 0, the maker's reader's rule for every version (`files.py`).
Time: `tracking_timestamp_us`, the device clock in microseconds, in every file; seconds from the first hand row
read. Each hand row takes the device pose of the trajectory row nearest in time, within `max_pose_gap_us` (rows
farther are not read, counted in `metadata["rows_without_pose"]`); files whose spans do not meet are never joined.
World: the SLAM world, up = -gravity from the trajectory's `gravity_*_world` (MPS writes z up); camera: camera-rgb,
z ahead (`camera_convention = "opencv"`); its frames from the recording through projectaria_tools (the `hot3d`
room's reader) on DEVICE_TIME, the hands' clock, unrotated and not undistorted; without a recording the episode has
hands and poses only (`metadata["video"]` says so). Embodiment `human`, tier `high`; no action field. Evidence and
the refused inputs: adapters/README.md `aria_mps`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

import numpy as np
from pydantic import Field

from adapters.aria import CameraCalibration, VideoError, read_aria_calibration, rgb_camera
from adapters.aria_mps import files, forms
from adapters.base import AdapterOptions, CameraSource, EpisodeRef, HandSignals, HandTrack, RawEpisode, Stream, reraised
from adapters.hand_reading import HandSource, Reading, human_episode
from adapters.storage.location import Location
from schemas.canonical import HANDS, MANO21_NAMES

WORLD = "aria_world"
MPS_DIRS = (files.HAND_DIR, *files.SLAM_DIRS, "eye_gaze", "eye_gaze_vergence")  # an MPS folder's output folders
CAMERA = "camera-rgb"


class AriaMpsOptions(AdapterOptions):
    video_fps: float = Field(
        10.0, gt=0, description="the RGB stream's rate: its frames must cover the hand rows within half a frame"
    )
    max_pose_gap_us: int = Field(
        5_000, ge=1, description="a hand row takes the nearest trajectory row within this many microseconds"
    )


class AriaMpsAdapter(HandSource[AriaMpsOptions]):
    name: ClassVar[str] = "aria_mps"
    camera_names: ClassVar[tuple[str, ...] | None] = (CAMERA,)
    expects: ClassVar[str] = (
        "MPS output folders (at any depth) with hand_tracking/hand_tracking_results.csv and "
        "slam/closed_loop_trajectory.csv, slam/online_calibration.jsonl"
    )

    def refs(self, root: Location) -> Iterator[EpisodeRef]:
        csvs = [
            p for p in root.rglob("*") if p.parent.name in MPS_DIRS and not p.is_dir()
        ]  # a FIFO, a dead link: flagged
        found = {p.parent.parent for p in csvs if p.parent.name == files.HAND_DIR}
        for other in sorted({p.parent.parent for p in csvs} - found):  # eye gaze only, a trajectory only
            dirs = ", ".join(sorted({p.parent.name + "/" for p in csvs if p.parent.parent == other}))
            msg = f"{_rel(root, other)}: holds {dirs} and no {files.HAND_DIR}/: no hands to read"
            self.note("folder_skipped", msg, root=root, path=other)
        return (self._ref(root, mps) for mps in sorted(found))

    def _ref(self, root: Location, mps: Location) -> EpisodeRef:
        raw_id = _rel(root, mps)
        error = None
        slam = self._slam(mps)
        try:
            choice = forms.choose(mps / files.HAND_DIR, slam / files.TRAJECTORY)
        except (OSError, ValueError) as e:  # one file of this folder not read (a hard link, a FIFO): its episode's
            file = getattr(e, "path", None) or getattr(e, "filename", None) or mps / files.HAND_DIR
            error = self.error(f"a hand or trajectory file not read: {e}", file=file, episode=raw_id, field="hands")
            return self.new_ref(raw_id, (str(mps),), error=error)
        for line in choice.notes:
            self.note("hand_file_choice", f"{raw_id}: {line}", root=root, path=mps, severity="info", episodes=[raw_id])
        if choice.hand_file is None:  # a warning: printed in the ingest summary
            self.note("folder_skipped", f"{raw_id}: {choice.why_none}", root=root, path=mps, episodes=[raw_id])
            error = self.error(choice.why_none, file=mps / files.HAND_DIR, episode=raw_id, field="hands")
        else:  # a file of another session beside the one read
            for line in choice.apart:
                self.note("hand_file_not_joined", f"{raw_id}: {line}", root=root, path=mps, episodes=[raw_id])
        if error is None and not (slam / files.CALIBRATION).is_file():
            path = slam / files.CALIBRATION
            error = self.error(f"missing file {files.CALIBRATION}", file=path, episode=raw_id, field=files.CALIBRATION)
        vrs = self.recording(mps, beside=mps != root)
        locator = {"notes": choice.notes + choice.apart}
        if choice.hand_file is not None:
            locator |= {"hand_file": choice.hand_file.name, "form": choice.hand_file.form}
        return self.new_ref(raw_id, (str(mps), *([str(vrs)] if vrs is not None else [])), locator=locator, error=error)

    @staticmethod
    def _slam(mps: Location) -> Location:
        return next((mps / d for d in files.SLAM_DIRS if (mps / d).is_dir()), mps / files.SLAM_DIRS[0])

    def read(self, ref: EpisodeRef) -> RawEpisode:
        mps, ep = self.file(ref.paths[0]), ref.raw_id
        slam = self._slam(mps)
        name = ref.locator.get("hand_file", files.RESULTS)
        hands_path, traj_path = mps / files.HAND_DIR / name, slam / files.TRAJECTORY
        wrist_only = ref.locator.get("form") == forms.WRIST_FORM
        text = Reading.of(self, ref).text(hands_path.parent, hands_path.name)
        res = (files.read_wrist_and_palm if wrist_only else files.read_results)(*text)
        traj = self._trajectory(traj_path, res.micros, ep)
        calib = self._calibration(slam / files.CALIBRATION, ep)
        posed = traj.gap <= self.options.max_pose_gap_us
        if not posed.any():
            span = f"{res.micros[0] / 1e6:.3f}-{res.micros[-1] / 1e6:.3f} s"
            tspan = f"{traj.span[0] / 1e6:.3f}-{traj.span[1] / 1e6:.3f} s"
            msg = (
                f"its rows span {span} of the device clock, {files.TRAJECTORY} ({traj_path}) {tspan}: no hand row "
                f"within {self.options.max_pose_gap_us} us of a device pose, the files are of different sessions "
                "and are not joined"
            )
            raise self.error(msg, file=hands_path, episode=ep, field="tracking_timestamp_us")
        micros, rows = res.micros[posed], np.flatnonzero(posed)
        world_from_device = traj.world_from_device[posed]
        ts = (micros - micros[0]).astype(np.float64) / 1e6
        device = Stream(ts, world_from_device, unit="se3_4x4", frame=WORLD)
        cam = Stream(ts, world_from_device @ calib.device_from_camera, unit="se3_4x4", frame=WORLD)
        sig = HandSignals(frame=WORLD, apply_offset=False, up_world=traj.up, camera=cam, camera_convention="opencv")
        sig.notes += ref.locator.get("notes", [])
        if isinstance(res, files.WristAndPalm):
            states = _wrist_hands(res, rows, ts, world_from_device, sig)
        else:
            kp_dev = res.mano21()[rows]  # (T,2,21,3)
            kp = np.einsum("tij,thkj->thki", world_from_device[:, :3, :3], kp_dev)
            kp = kp + world_from_device[:, None, None, :3, 3]
            states = {"mano21_keypoints": Stream(ts, kp, names=MANO21_NAMES, unit="m", frame=WORLD)}
            for h in range(len(HANDS)):
                sig.hands[h] = HandTrack(keypoints=Stream(ts, kp[:, h], names=MANO21_NAMES, unit="m", frame=WORLD))
        states["device/T_world_device"] = device
        for h, side in enumerate(HANDS):
            conf = Stream(ts, np.clip(res.confidence[rows, h], 0.0, 1.0), unit="0..1")
            states[f"confidence/{side}"] = conf
            if h in sig.hands:
                track = sig.hands[h]
                own = track.rotation if track.rotation is not None else track.position
                t = own.timestamps if own is not None else ts
                track.confidence = conf if len(t) == len(ts) else Stream(t, conf.values[np.isin(ts, t)], unit="0..1")
        sig.native_state_keys = [k for k in states if k != "mano21_keypoints"]
        masked = {side: int((~res.tracked[rows, h]).sum()) for h, side in enumerate(HANDS)}
        n = len(rows)
        sig.notes += [
            f"{side} hand: not tracked (confidence <= 0) in {m} of {n} rows" for side, m in masked.items() if m
        ]
        dropped = int((~posed).sum())
        if dropped:
            sig.notes.append(
                f"{dropped} of {len(posed)} rows of {name} have no trajectory row within "
                f"{self.options.max_pose_gap_us} us: not read"
            )
        vrs = self.file(ref.paths[1]) if len(ref.paths) > 1 else None
        cameras, video = self._video(vrs, int(micros[0]), int(micros[-1]), ep)
        return human_episode(
            ref,
            float(1.0 / np.median(np.diff(ts))) if n > 1 and np.median(np.diff(ts)) > 0 else None,
            states=states,
            cameras=cameras,
            camera_poses={CAMERA: cam},
            metadata={
                "mps_folder": ep,
                "hand_file": name,
                "hand_tracking_version": res.version,
                "start_tracking_timestamp_us": int(micros[0]),
                "graph_uid": traj.graph_uid,
                "world_up": traj.up.tolist(),
                "masked_rows": masked,
                "rows_without_pose": dropped,
                "mano21_landmarks": {
                    k: files.MANO21_FROM_ARIA[k] or f"{files.THUMB1_AT} of WRIST -> THUMB_INTERMEDIATE"
                    for k in MANO21_NAMES
                },
                "camera_calibration": {
                    "label": calib.label,
                    "model": calib.model,
                    "params": list(calib.params),
                    "T_device_camera": calib.device_from_camera.tolist(),
                },
                "video": video,
            },
            hands=sig,
            derived=frozenset({"mano21_keypoints"} & set(states)),
        )

    @staticmethod
    def recording(mps: Location, beside: bool) -> Location | None:
        """The VRS the outputs were computed from: `<name>.vrs` beside its `mps_<name>_vrs` folder (the MPS
        layout, projectaria_tools@90f70ff website/docs-technical-specs/mps/data_formats/slam/basics.mdx:10-26), else
        the one `.vrs` inside the MPS folder or (`beside`: the folder is not the root itself) beside it."""
        name = mps.name
        if (
            beside
            and name.startswith("mps_")
            and name.endswith("_vrs")
            and (mps.parent / f"{name[4:-4]}.vrs").is_file()
        ):
            return mps.parent / f"{name[4:-4]}.vrs"
        folders = (mps, mps.parent) if beside else (mps,)
        found = [p for folder in folders for p in folder.iterdir() if p.name.endswith(".vrs")]
        return found[0] if len(found) == 1 else None

    def _video(
        self, path: Location | None, first_us: int, last_us: int, ep: str
    ) -> tuple[dict[str, CameraSource], str | dict[str, object]]:
        """camera-rgb of the recording on the device clock (DEVICE_TIME, the MPS files' own), over the hand rows."""
        if path is None:
            return {}, "no single VRS recording beside the MPS folder: hands and poses only"
        if self.options.cameras is not None and CAMERA not in self.options.cameras:
            return {}, f"not read: the cameras option leaves {CAMERA} out"
        first_ns, last_ns, fps = first_us * 1000, last_us * 1000, self.options.video_fps
        with reraised(VideoError, lambda e: self.error(f"{path.name}: {e}", file=path, episode=ep, field=e.field)):
            camera, info = rgb_camera(path, first_ns, last_ns, fps, first_ns, ep, self.name, "DEVICE_TIME")
        return {camera.name: camera}, info

    def _trajectory(self, path: Location, at: np.ndarray, ep: str) -> files.Trajectory:
        fail = Reading(self, ep).naming(path, path.name)
        if not path.is_file():
            raise fail("missing file", "")
        with path.open(newline="") as f:  # streamed: a long recording's 1 kHz trajectory is past the byte budget
            return files.read_trajectory(f, at, fail)

    def _calibration(self, path: Location, ep: str) -> CameraCalibration:
        try:
            return read_aria_calibration(path, CAMERA)
        except (OSError, ValueError) as e:
            raise self.error(f"camera calibration: {e}", file=path, episode=ep, field="calibration") from e


def _rel(root: Location, mps: Location) -> str:
    return mps.relative_to(root).as_posix() if mps != root else mps.name


def _wrist_hands(
    res: files.WristAndPalm, rows: np.ndarray, ts: np.ndarray, world_from_device: np.ndarray, sig: HandSignals
) -> dict[str, Stream]:
    """A wrist-and-palm file's hands in the SLAM world by the device pose of each row, on each hand's tracked rows
    only (its own window): the second version (normals) a wrist pose from wrist, palm centre and palm normal
    (`forms.wrist_frames`), the first a wrist position alone (no orientation: a `HandTrack` position alone, its
    rotation dims out of the mask). No fingers: no keypoints, the fingertips out of the mask. Each hand's palm
    centre is kept as the native `palm/<side>` (m, world) on its tracked rows."""
    states: dict[str, Stream] = {}
    for h, side in enumerate(HANDS):
        on = res.tracked[rows, h]
        if not on.any():
            continue
        r, t = rows[on], ts[on]
        rot, trans = world_from_device[on, :3, :3], world_from_device[on, :3, 3]
        states[f"palm/{side}"] = Stream(t, np.einsum("tij,tj->ti", rot, res.palm[r, h]) + trans, unit="m", frame=WORLD)
        if res.palm_normal is None:
            wrist = np.einsum("tij,tj->ti", rot, res.wrist[r, h]) + trans
            sig.hands[h] = HandTrack(position=Stream(t, wrist, unit="m", frame=WORLD))
        else:
            device_from_wrist = forms.wrist_frames(res.wrist[r, h], res.palm[r, h], res.palm_normal[r, h], h)
            pose = world_from_device[on] @ device_from_wrist
            sig.hands[h] = HandTrack(rotation=Stream(t, pose, unit="se3_4x4", frame=WORLD))
    sig.notes.append(
        "wrist-and-palm poses: "
        + (
            "wrist position only (the first version has no normals: no wrist rotation); no fingers"
            if res.palm_normal is None
            else "wrist pose from wrist, palm centre and palm normal; no fingers"
        )
    )
    return states
