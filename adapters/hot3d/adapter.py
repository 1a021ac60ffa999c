"""HOT3D (Aria and Quest 3): ground-truth hands (MANO and UmeTrack), headset trajectory, camera calibration and object
poses of a recording, one episode per sequence folder.

| native | canonical | unit, frame | rate |
| --- | --- | --- | --- |
| `mano_hand_pose_trajectory.jsonl` `pose` (15 PCA), `betas`, `wrist_xform` | `HandTrack.mano` | m, world | 30 Hz |
| `umetrack_hand_pose_trajectory.jsonl` `joint_angles`, `wrist_xform` | MANO-21 by UmeTrack skinning | m, world | |
| `umetrack_hand_user_profile.json` `hand_model` | the UmeTrack hand (mm, a left hand) | | static |
| `headset_trajectory.csv` T_world_device | `states["headset/T_world_device"]` | `se3_4x4`, world | ~30 Hz |
| RGB (Aria) / SLAM-left (Quest 3) `T_Device_Camera` | `camera_poses[<label>]` = T_world_device · T_device_camera | | |
| `dynamic_objects.csv` T_world_object per `object_uid` | `states["objects/<uid>"]` (natives not kept) | `se3_4x4` | |
| `metadata.json` `headset`, `participant_id`, `gt_available_status` | subset (`aria` / `quest3`), `metadata` | | |
| `recording.vrs` (Aria) stream 214-1, JPEG | camera `camera-rgb` -> `Camera.head`, lazy | RGB, as sensed | TIME_CODE |

File formats and conventions are the maker's (`adapters/hot3d/files.py`): quaternions w first, timestamps in ns; the
evidence for each (the maker's code and real samples, the figures measured on them) is in adapters/README.md `hot3d`.
Hands: with the licensed MANO files (`mano_model_dir`) the MANO poses are declared (`HandTrack.mano`, the maker's
recipe: `schemas.mano`); without them the UmeTrack poses go through the profile (`adapters/hot3d/umetrack.py`);
with neither, the episode is quarantined naming what is missing. Both give HOT3D's own providers' landmarks
(`MANOHandDataProvider`, `UmeTrackHandDataProvider`), run on the same files: tests/adapters/hot3d/test_maker_code.py.

World and camera: the world's up axis per headset (`WORLD_UP`: Aria Z-up, Quest 3 Y-up); the camera is the sensor's
(Aria `camera-rgb`, Quest 3 `camera-slam-left`), OpenCV axes. The cameras are fisheyes (Aria
`FisheyeRadTanThinPrism`: f, cx, cy, 12 distortion terms; Quest 3 `FISHEYE624`: fx, fy, cx, cy, 12), so no pinhole
matrix is given: the RGB camera carries its lens as `schemas.camera_model.Fisheye624Camera` in its stream's pixels,
and `metadata["camera_calibration"]` keeps the file's model name and parameters as given. Video: `aria.py`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import PurePosixPath
from typing import Any, ClassVar, Literal, TypeVar

import numpy as np
from pydantic import Field

from adapters.aria import VRS_FILE, CameraCalibration, VideoError, read_aria_calibration, rgb_camera
from adapters.base import (
    AdapterError,
    AdapterOptions,
    CameraSource,
    EpisodeRef,
    HandSignals,
    HandTrack,
    ManoParams,
    RawEpisode,
    Stream,
    reraised,
)
from adapters.hand_reading import HandSource, human_episode, natural_order
from adapters.hot3d.files import read_hand_jsonl, read_json, read_pose_csv, read_quest_calibration
from adapters.hot3d.umetrack import UmeTrackProfile, mirror_right
from adapters.storage.location import Location
from schemas.canonical import MANO21_NAMES
from schemas.mano import MAKERS

T = TypeVar("T")
WORLD = "hot3d_world"
# The world's up axis per headset (metadata.json `headset`, the maker's `Headset` enum names lower-cased). Settled by
# the maker's viewer, facebookresearch/hot3d hot3d/Hot3DReRunVisualizer.py `log_static_assets` (commit 1acc5f46):
# `rr.ViewCoordinates.RIGHT_HAND_Z_UP` for `Headset.Aria`, `RIGHT_HAND_Y_UP` otherwise (`Headset.Quest3`); and by the
# real samples' first rows (hot3d/data_loaders/tests/data_sample/, commits 322bbffc / eb3413ff): Aria P0003_c701bd11's
# dynamic_objects.csv at z -0.43..-0.33 under the headset at z 0.006; Quest3 P0002_273c2819's six objects at
# y 0.718..0.769 (spread 0.48 m in x, 0.30 m in z) under the headset at y 1.17, the wrists at y 0.75.
WORLD_UP = {"aria": np.array([0.0, 0.0, 1.0]), "quest3": np.array([0.0, 1.0, 0.0])}
MANO_FILE, UMETRACK_FILE = "mano_hand_pose_trajectory.jsonl", "umetrack_hand_pose_trajectory.jsonl"
PROFILE_FILE, HEADSET_FILE = "umetrack_hand_user_profile.json", "headset_trajectory.csv"
OBJECTS_FILE = "dynamic_objects.csv"
ARIA_CALIBRATION, QUEST_CALIBRATION = "mps/slam/online_calibration.jsonl", "camera_models.json"
SIDES = ("left", "right")
NO_RECORDING = f"no {VRS_FILE} in the sequence folder: ground truth only"
# hot3d/data_loaders/QuestDataProvider.py reads Quest 3 recordings with pyvrs (SyncVRSReader, the record timestamps,
# the two largest grey image streams), not projectaria_tools; pyvrs does not install here (its PyPI sdist is empty)
QUEST_NO_VIDEO = f"Quest 3 {VRS_FILE} not read: HOT3D reads it with pyvrs, which is not installable here"


def headset_kind(headset: str) -> str:
    """metadata.json's `headset` ("Aria", "Quest3") as the subset and `WORLD_UP` key."""
    return headset.lower().replace(" ", "").replace("_", "")


class Hot3DOptions(AdapterOptions):
    mano_model_dir: str | None = Field(None, description="folder with MANO_LEFT.npz / MANO_RIGHT.npz (licensed)")
    hands_from: Literal["auto", "mano", "umetrack"] = Field("auto", description="which annotation gives keypoints")
    # HOT3D's landmarks take smplx's fingertip vertices (744, 320, 443, 554, 671: facebookresearch/hot3d@e814021
    # hot3d/data_loaders/mano_layer.py `MANO_FINGERTIP_VERT_INDICES`); manopth's sit a few millimetres off them
    mano_tips: Literal["manopth", "smplx"] = Field("smplx", description="fingertip vertices (smplx: the maker's)")
    fps: float = Field(30.0, gt=0, description="the recording's frame rate (HOT3D's ground truth is per frame)")


class Hot3DAdapter(HandSource[Hot3DOptions]):
    name: ClassVar[str] = "hot3d"
    expects: ClassVar[str] = (
        f"sequence folders (at any depth) holding metadata.json with {HEADSET_FILE} and {MANO_FILE} or {UMETRACK_FILE}"
    )

    def refs(self, root: Location) -> list[EpisodeRef]:
        refs, others = [], []
        for meta in sorted(root.rglob("metadata.json")):
            seq = meta.parent
            if not (seq / HEADSET_FILE).is_file() and not any((seq / f).is_file() for f in (MANO_FILE, UMETRACK_FILE)):
                others.append(seq)  # a metadata.json of something else: an MPS folder, an Aria recording
                continue
            raw_id = seq.relative_to(root).as_posix()
            error, subset = None, self.options.subset or "default"
            try:
                headset = str(self._json(meta, raw_id, "metadata.json").get("headset", ""))
                subset = self.options.subset or (headset_kind(headset) or "default")
                if not (seq / HEADSET_FILE).is_file():
                    raise self.error(f"no {HEADSET_FILE}", file=seq / HEADSET_FILE, episode=raw_id, field="headset")
            except AdapterError as e:
                error = e
            refs.append(self.new_ref(raw_id, (str(seq),), subset=subset, error=error))
        kept = {r.raw_id for r in refs}
        for seq in others:  # inside a sequence (its MPS output) it is part of that sequence, else skipped: said
            if not any(p.as_posix() in kept for p in PurePosixPath(seq.relative_to(root).as_posix()).parents):
                self._skipped(root, seq)
        return natural_order(refs)

    def _skipped(self, root: Location, folder: Location) -> None:
        """A folder with a metadata.json and no HOT3D ground truth, noted with what it holds (an Aria recording's
        `metadata.json` beside its VRS is not a HOT3D sequence: nothing to read there as an episode)."""
        has = sorted(p.name for p in folder.iterdir() if p.is_file())
        shown = ", ".join(has[:6]) + (f" and {len(has) - 6} more" if len(has) > 6 else "")
        vrs = " (a VRS recording without HOT3D ground truth)" if any(n.endswith(".vrs") for n in has) else ""
        msg = (
            f"{folder.relative_to(root).as_posix() or '.'}: metadata.json but none of {HEADSET_FILE}, {MANO_FILE}, "
            f"{UMETRACK_FILE}{vrs}: not a HOT3D sequence, skipped (holds {shown})"
        )
        self.note("folder_skipped", msg, root=root, path=folder)

    def read(self, ref: EpisodeRef) -> RawEpisode:
        seq, ep = self.file(ref.paths[0]), ref.raw_id
        meta = self._json(seq / "metadata.json", ep, "metadata.json")
        headset = str(meta.get("headset", ""))
        up = WORLD_UP.get(headset_kind(headset))
        if up is None:
            known = ", ".join(WORLD_UP)
            msg = f"headset {headset!r} is not one HOT3D records with ({known}): its world's up axis is unknown"
            raise self.error(msg, file=seq / "metadata.json", episode=ep, field="headset")
        device = self._poses(seq / HEADSET_FILE, ep, "headset")
        if len(device) != 1:
            msg = f"{len(device)} objects tracked, expected the headset alone"
            raise self.error(msg, file=seq / HEADSET_FILE, episode=ep, field="object_uid")
        dev_ts, world_from_device = next(iter(device.values()))
        calib = self._calibration(seq, headset, ep)
        source, tracks = self._hands(seq, ep)
        t0 = min([int(dev_ts[0])] + [int(t["timestamps"][0]) for t in tracks.values()])

        def secs(ns: np.ndarray) -> np.ndarray:
            return (ns - t0).astype(np.float64) / 1e9

        states: dict[str, Stream] = {
            "headset/T_world_device": Stream(secs(dev_ts), world_from_device, unit="se3_4x4", frame=WORLD)
        }
        camera = Stream(secs(dev_ts), world_from_device @ calib.device_from_camera, unit="se3_4x4", frame=WORLD)
        cameras, video = self._video(seq, ep, headset, calib, int(dev_ts[0]), int(dev_ts[-1]), t0)
        signals = HandSignals(frame=WORLD, apply_offset=False, up_world=up, camera=camera, camera_convention="opencv")
        for hand, side in enumerate(SIDES):
            if hand not in tracks:
                continue
            t = tracks[hand]
            ts = secs(t["timestamps"])
            wrist = states[f"hands/{side}/wrist_xform"] = Stream(ts, t["wrist"], unit="se3_4x4", frame=WORLD)
            params = states[f"hands/{side}/{source}_params"] = Stream(ts, t["params"])
            conf = Stream(ts, t["confidence"], unit="0..1") if "confidence" in t else None
            if source == "mano":  # evaluated by ingest.canonical (the licensed model stays out of the adapter)
                mano_dir, tips = str(self.options.mano_model_dir), self.options.mano_tips
                mano = ManoParams(wrist, params, t["betas"], mano_dir, dataclasses.replace(MAKERS["hot3d"], tips=tips))
                signals.hands[hand] = HandTrack(mano=mano, confidence=conf)
                continue
            kp = Stream(ts, t["keypoints"], names=MANO21_NAMES, unit="m", frame=WORLD)
            states[f"mano21_keypoints/{side}"] = kp
            signals.hands[hand] = HandTrack(keypoints=kp, confidence=conf)
        wrists = [f"hands/{s}/wrist_xform" for s in SIDES if f"hands/{s}/wrist_xform" in states]
        signals.native_state_keys = ["headset/T_world_device", *wrists]  # objects and parameters stay out
        objects = self._poses(seq / OBJECTS_FILE, ep, "objects") if (seq / OBJECTS_FILE).is_file() else {}
        for uid, (ts, poses) in objects.items():
            states[f"objects/{uid}"] = Stream(secs(ts), poses, unit="se3_4x4", frame=WORLD)
        return human_episode(
            ref,
            self.options.fps,
            states=states,
            cameras=cameras,
            camera_poses={calib.label: camera},
            hands=signals,
            metadata={
                "headset": headset,
                "world_up": up.tolist(),
                "participant_id": meta.get("participant_id"),
                "recording_name": meta.get("recording_name", seq.name),
                "gt_available_status": meta.get("gt_available_status"),
                "hands_from": source,
                "start_timestamp_ns": t0,
                "camera_calibration": {
                    "label": calib.label,
                    "model": calib.model,
                    "params": list(calib.params),
                    "T_device_camera": calib.device_from_camera.tolist(),
                },
                "objects": sorted(objects),
                "video": video,
            },
            derived=frozenset(f"mano21_keypoints/{s}" for s in SIDES),
        )

    def _parsed(self, path: Location, ep: str, field: str, parse: Callable[[Location], T], what: str = "") -> T:
        """`parse(path)`; a file missing or malformed the error naming it, the episode and `field`."""
        try:
            return parse(path)
        except (OSError, ValueError) as e:
            raise self.error(f"{what or f'unreadable {path.name}'}: {e}", file=path, episode=ep, field=field) from e

    def _json(self, path: Location, ep: str, field: str) -> dict[str, Any]:
        return dict(self._parsed(path, ep, field, read_json))

    def _poses(self, path: Location, ep: str, field: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        poses = self._parsed(path, ep, field, read_pose_csv)
        if not poses:
            raise self.error(f"{path.name} has no rows", file=path, episode=ep, field=field)
        return poses

    def _video(
        self, seq: Location, ep: str, headset: str, calib: CameraCalibration, first_ns: int, last_ns: int, t0_ns: int
    ) -> tuple[dict[str, CameraSource], str | dict[str, Any]]:
        """The RGB camera of an Aria `recording.vrs` over the ground truth's span, with its lens from `calib`, and
        what `metadata["video"]` says: the stream read, or why there is none."""
        path = seq / VRS_FILE
        if headset_kind(headset) == "quest3":
            return {}, QUEST_NO_VIDEO if path.is_file() else NO_RECORDING
        if not path.is_file():
            return {}, NO_RECORDING
        with reraised(VideoError, lambda e: self.error(f"{VRS_FILE}: {e}", file=path, episode=ep, field=e.field)):
            camera, info = rgb_camera(path, first_ns, last_ns, self.options.fps, t0_ns, ep, self.name, "TIME_CODE")
        try:
            camera.camera_model = calib.lens(camera.width, camera.height)
        except ValueError as e:
            msg = f"{calib.label} calibration for a {camera.width}x{camera.height} px stream: {e}"
            raise self.error(msg, file=seq / ARIA_CALIBRATION, episode=ep, field="calibration") from e
        return {camera.name: camera}, info | {"label": calib.label}

    def _calibration(self, seq: Location, headset: str, ep: str) -> CameraCalibration:
        quest = headset_kind(headset) == "quest3"
        path = seq / (QUEST_CALIBRATION if quest else ARIA_CALIBRATION)
        parse = read_quest_calibration if quest else read_aria_calibration
        return self._parsed(path, ep, "calibration", parse, "camera calibration")

    def _hands(self, seq: Location, ep: str) -> tuple[str, dict[int, dict[str, np.ndarray]]]:
        """("mano" | "umetrack", hand index -> arrays: UmeTrack's with (T,21,3) `keypoints`, MANO's with the `params`
        and `betas` canonicalization evaluates), or the reason there are none."""
        want, mano_dir = self.options.hands_from, self.options.mano_model_dir
        mano_ok = mano_dir is not None and (seq / MANO_FILE).is_file()
        ume_ok = (seq / UMETRACK_FILE).is_file() and (seq / PROFILE_FILE).is_file()
        if want == "mano" or (want == "auto" and mano_ok):
            if not mano_ok:
                why = "no mano_model_dir option" if mano_dir is None else f"no {MANO_FILE}"
                raise self.error(f"MANO hands asked for, but {why}", file=seq / MANO_FILE, episode=ep, field="hands")
            return "mano", self._track_file(seq / MANO_FILE, "mano", ep)
        if ume_ok and want in ("auto", "umetrack"):
            return "umetrack", self._umetrack(seq, ep)
        missing = [f for f in (UMETRACK_FILE, PROFILE_FILE) if not (seq / f).is_file()]
        msg = (
            "no hand keypoints: MANO poses need the licensed MANO files (option mano_model_dir"
            f"{'' if (seq / MANO_FILE).is_file() else f'; and no {MANO_FILE}'}), UmeTrack poses need "
            f"{' and '.join(missing) or 'hands_from auto/umetrack'}"
        )
        raise self.error(msg, file=seq, episode=ep, field="hands")

    def _track_file(self, path: Location, kind: str, ep: str) -> dict[int, dict[str, np.ndarray]]:
        tracks = self._parsed(path, ep, f"{kind}_hands", lambda p: read_hand_jsonl(p, kind))
        if not tracks:
            raise self.error(f"{path.name} annotates no hand", file=path, episode=ep, field=f"{kind}_hands")
        return tracks

    def _umetrack(self, seq: Location, ep: str) -> dict[int, dict[str, np.ndarray]]:
        profile_doc = self._json(seq / PROFILE_FILE, ep, "umetrack_profile")
        try:
            profile = UmeTrackProfile(profile_doc.get("hand_model") or {})
        except ValueError as e:
            raise self.error(f"UmeTrack profile: {e}", file=seq / PROFILE_FILE, episode=ep, field="hand_model") from e
        tracks = self._track_file(seq / UMETRACK_FILE, "umetrack", ep)
        for hand, t in tracks.items():
            wrist = mirror_right(t["wrist"]) if hand == 1 else t["wrist"]
            t["keypoints"] = profile.mano21(t["params"][:, :20], wrist)
        return tracks
