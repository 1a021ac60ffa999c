"""HOI4D (leolyliu/HOI4D-Instructions): egocentric RGB-D videos of one hand or two manipulating an object, MANO hand
poses per frame fitted in the camera frame, the camera's poses in the static scene, object poses and action segments.

| native | canonical | unit, frame |
| --- | --- | --- |
| `<seq>/align_rgb/image.mp4` (or its decoded `%05d.jpg` frames) | camera `align_rgb` -> `Camera.head` | RGB, 15 fps |
| `camera_params/<camera id>/intrin.npy` | that camera's intrinsics, scaled from 1920x1080 to the video read | px |
| `<seq>/3Dseg/output.log` (Open3D, camera-to-world) | `camera_poses["align_rgb"]`, decoupled | `se3_4x4`, OpenCV |
| `handpose/refinehandpose_<side>/<seq>/<frame>.pickle` | `HandTrack.mano` (MANO_LEFT / _RIGHT), carried | axis-angle |
|   `poseCoeff` [:3], `trans` | `states["hand/<side>/wrist_camera"]` | `se3_4x4`, camera |
|   `poseCoeff` [3:], `beta` | `states["hand/<side>/mano_pose"]`, `mano_beta` | rad |
| frames with a pickle | `states["hand/<side>/annotated"]` | 0/1 |
|   `kps2D` | `states["hand/<side>/kps2d"]`, kept | px of 1920x1080 |
| `<seq>/objpose/<frame>.json` | `states["objects/<k>"]` (entry k) | `se3_4x4`, camera |
| path's `C*` / `T*` | `Language` instruction (`tasks.py`) | |
| `<seq>/action/color.json` | `Language` subtasks and `action_config` | s |

A frame is 1/15 s (files.py); the hands' MANO parameters are evaluated by canonicalization in each frame's camera and
carried into the scene by that frame's camera pose (`ManoParams.frame_pose`). The scene (Open3D's reconstruction)
declares no up axis: up is the head camera's image-up averaged over the episode (`adapters.poses.image_up`, an
assumption). A hand is declared when it has at least one pickle; its frames without one are NaN (that hand invalid
in those frames, the other hand kept: `observation.hand_valid`), said in the hands' notes. The left hand is posed
on MANO_LEFT: the maker's instructions show the right layer only (README.md:143-144), users' loaders pick the layer
by the folder's side (search index id 66443771713) - an assumption; manopth reads it as shipped, its shape-direction
flaw kept (`schemas.mano`). Checked against the README's own code, run: tests/adapters/hoi4d/test_maker_code.py.
Embodiment `human`, tier `high`.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from adapters.base import (
    AdapterError,
    CameraSource,
    EpisodeRef,
    HandSignals,
    HandTrack,
    Language,
    ManoParams,
    RawEpisode,
    Stream,
)
from adapters.cameras import ImageFilesCamera, VideoFileCamera
from adapters.hand_reading import VIDEO_ERRORS, HandSource, ManoOnlyOptions, Reading, bases, first, human_episode
from adapters.hoi4d.files import FPS, SEQUENCE, action_events, camera_trajectory, hand_pose, object_poses
from adapters.hoi4d.tasks import task_text
from adapters.hostile import bounds
from adapters.pickles import UnsafePickle
from adapters.poses import image_up, rotvec_poses
from adapters.storage.location import Location
from schemas.canonical import Camera, scale_intrinsics
from schemas.lerobot import ActionSegment
from schemas.mano import MAKERS
from schemas.settings import limit

SIDES = ("left", "right")
WORLD, CAMERA_FRAME, CAMERA = "hoi4d_scene", "hoi4d_camera", "align_rgb"
LABEL_HW = (1080, 1920)  # the RGB stream the intrinsics are for (users' notes, search index id 61462250013)
HANDPOSE = "handpose/refinehandpose_{side}"
SEQ_GLOB = "ZY*/H*/C*/N*/S*/s*/T*"
SEQ_FIELDS = ("camera_id", "subject", "category", "instance", "room", "layout", "task")  # README.md:31-44


class HOI4DOptions(ManoOnlyOptions):
    hands: tuple[Literal["left", "right"], ...] = Field(
        SIDES, description="hands to read (a hand without a pickle in a frame is invalid there, the other kept)"
    )


class HOI4DAdapter(HandSource[HOI4DOptions]):
    name: ClassVar[str] = "hoi4d"
    camera_names: ClassVar[tuple[str, ...] | None] = (CAMERA,)
    expects: ClassVar[str] = (
        "handpose/refinehandpose_{left,right}/<seq>/<frame>.pickle, with each sequence's align_rgb/, 3Dseg/output.log"
        " and camera_params/<camera>/intrin.npy, at the root or one folder below it (<seq> = ZY*/H*/C*/N*/S*/s*/T*)"
    )

    def refs(self, root: Location) -> Iterator[EpisodeRef]:
        places = bases(root)
        seqs: dict[str, dict[str, Location]] = {}
        for base in places:
            for side in SIDES:
                folder = base / HANDPOSE.format(side=side)
                if folder.is_dir():
                    for d in sorted(folder.glob(SEQ_GLOB)):
                        seq = d.relative_to(folder).as_posix()
                        if d.is_dir() and SEQUENCE.match(seq):
                            seqs.setdefault(seq, {}).setdefault(side, d)
        return (self._ref(root, places, seq, seqs[seq]) for seq in sorted(seqs))

    def _ref(self, root: Location, places: list[Location], seq: str, hands: dict[str, Location]) -> EpisodeRef:
        raw_id = seq.replace("/", "-")
        paths = [str(hands[s]) for s in SIDES if s in hands]
        error = None
        try:
            video = first(places, f"{seq}/align_rgb/image.mp4") or first(places, f"{seq}/align_rgb/00000.jpg")
            log = first(places, f"{seq}/3Dseg/output.log")
            intrin = first(places, f"camera_params/{seq.split('/')[0]}/intrin.npy")
            seq_dir = first(places, seq) or root / seq  # where the file was looked for first
            for found, rel, field in (
                (video, f"{seq}/align_rgb/image.mp4", "align_rgb"),
                (log, f"{seq}/3Dseg/output.log", "camera_poses"),
                (intrin, f"camera_params/{seq.split('/')[0]}/intrin.npy", "intrinsics"),
            ):
                if found is None:
                    also = " (or align_rgb/%05d.jpg frames)" if field == "align_rgb" else ""
                    msg = f"no {rel}{also} at the root or one folder below it"
                    file = seq_dir / rel[len(seq) + 1 :] if rel.startswith(seq) else root / rel
                    raise self.error(msg, file=file, episode=raw_id, field=field)
            paths += [str(video), str(log), str(intrin)]
            for rel in ("action/color.json", "objpose"):
                if (extra := first(places, f"{seq}/{rel}")) is not None:
                    paths.append(str(extra))
        except AdapterError as e:
            error = e
        return self.new_ref(raw_id, paths, locator={"sequence": seq, "hands": sorted(hands)}, error=error)

    def read(self, ref: EpisodeRef) -> RawEpisode:
        reading = Reading.of(self, ref)
        seq = ref.locator["sequence"]
        hand_dirs = dict(zip(ref.locator["hands"], ref.paths, strict=False))
        n_hands = len(hand_dirs)
        video, log_path, intrin_path = (self.file(p) for p in ref.paths[n_hands : n_hands + 3])
        extras = {loc.name: loc for loc in map(self.file, ref.paths[n_hands + 3 :])}
        mano_dir = reading.mano_dir("HOI4D", next(iter(hand_dirs.values())))
        world_from_camera = self._trajectory(log_path, reading)
        n = len(world_from_camera)
        ts = np.arange(n) / FPS
        camera = self._camera(video, intrin_path, ts, reading)
        cam_stream = Stream(ts, world_from_camera, unit="se3_4x4", frame=WORLD)
        sig = HandSignals(
            frame=WORLD,
            apply_offset=False,
            camera=cam_stream,
            camera_convention="opencv",
            up_world=image_up(world_from_camera),
        )
        states: dict[str, Stream] = {}
        counts = {}
        for hand, side in enumerate(SIDES):
            if side not in hand_dirs or side not in self.options.hands:
                sig.notes.append(f"{side} hand: {'no pickles' if side not in hand_dirs else 'not read (option hands)'}")
                continue
            frames = self._hand_frames(self.file(hand_dirs[side]), n, reading)
            counts[side] = len(frames)
            sig.hands[hand] = self._track(frames, side, ts, world_from_camera, states, mano_dir)
            if len(frames) < n:
                sig.notes.append(f"{side} hand: poses in {len(frames)} of {n} frames, the others NaN (invalid)")
        objects = self._objects(extras.get("objpose"), n, reading, states)
        sig.native_state_keys = list(states)
        events = self._events(extras.get("color.json"), n / FPS, reading)
        category, task = seq.split("/")[2], seq.split("/")[6]
        text = task_text(category, task)
        language = [Language(text, "instruction")] if text else []
        language += [Language(e, "subtask", t0, t1) for e, t0, t1 in events]
        segments = [
            ActionSegment(start_frame=a, end_frame=b, action_text=e)
            for e, t0, t1 in events
            if (b := round(t1 * FPS)) > (a := round(t0 * FPS))
        ]
        cameras: dict[str, CameraSource] = {CAMERA: camera}
        return human_episode(
            ref,
            FPS,
            states=states,
            cameras=cameras if self.options.cameras is None or CAMERA in self.options.cameras else {},
            camera_poses={CAMERA: cam_stream},
            language=language,
            action_config=segments or None,
            metadata={
                "sequence": seq,
                **dict(zip(SEQ_FIELDS, seq.split("/"), strict=True)),
                "task_text": text,
                "hand_frames": counts,
                "objects": objects,
                "frames": n,
            },
            hands=sig,
        )

    def _trajectory(self, path: Location, reading: Reading) -> np.ndarray:
        with reading.unreadable("camera trajectory", "camera_poses", path):
            poses = camera_trajectory(bounds.read_bounded(path, limit("JSON_BYTES"), "output.log").decode())
        if not len(poses):
            raise reading.fail("no camera pose", "camera_poses", path)
        return poses

    def _camera(self, video: Location, intrin: Location, ts: np.ndarray, reading: Reading) -> CameraSource:
        with reading.unreadable("intrinsics", "intrinsics", intrin):
            data = bounds.read_bounded(intrin, limit("JSON_BYTES"), "intrin.npy")
            K = np.load(io.BytesIO(data), allow_pickle=False)
            if K.shape != (3, 3) or not np.isfinite(K).all() or K[0, 0] <= 0 or K[1, 1] <= 0:
                raise ValueError(f"not a 3x3 pinhole matrix: {K.tolist()}")
        with reading.unreadable("video", "align_rgb", video, VIDEO_ERRORS):
            if video.name == "image.mp4":
                cam: CameraSource = VideoFileCamera(video, CAMERA, Camera.head)
            else:
                files = sorted(video.parent.glob("*.jpg"), key=lambda p: p.name)
                cam = ImageFilesCamera(files, CAMERA, Camera.head, np.arange(len(files)) / FPS)
        if len(cam) < len(ts):
            raise reading.fail(f"{len(cam)} frames for {len(ts)} camera poses (3Dseg/output.log)", "align_rgb", video)
        cam.intrinsics = scale_intrinsics(K, LABEL_HW, (cam.height, cam.width))
        return cam

    def _hand_frames(self, folder: Location, n: int, reading: Reading) -> dict[int, Any]:
        out = {}
        for path in sorted(folder.glob("*.pickle"), key=_frame_order):
            if not re.fullmatch(r"\d+", path.stem):
                raise reading.fail("not <frame>.pickle", "handpose", path)
            i = int(path.stem)
            if i >= n:
                msg = f"frame {i} past the sequence's {n} camera poses (3Dseg/output.log)"
                raise reading.fail(msg, "handpose", path)
            with reading.unreadable("hand pose", "handpose", path, (UnsafePickle, ValueError, EOFError)):
                out[i] = hand_pose(bounds.read_bounded(path, limit("JSON_BYTES"), "hand pose"))
        if not out:
            raise reading.fail("no <frame>.pickle", "handpose", folder)
        return dict(sorted(out.items()))

    def _track(
        self,
        frames: dict[int, Any],
        side: str,
        ts: np.ndarray,
        world_from_camera: np.ndarray,
        states: dict,
        mano_dir: str,
    ) -> HandTrack:
        n, idx = len(ts), np.array(list(frames))
        pose = np.full((n, 48), np.nan)
        beta = np.full((n, 10), np.nan)
        wrist = np.full((n, 4, 4), np.nan)
        pose[idx] = [f.pose for f in frames.values()]
        beta[idx] = [f.beta for f in frames.values()]
        wrist[idx] = rotvec_poses(pose[idx, :3], np.array([f.trans for f in frames.values()]))
        annotated = np.zeros(n)
        annotated[idx] = 1.0
        # natives on the annotated frames only (natives hold no NaN); the MANO streams on every frame, NaN between
        states[f"hand/{side}/annotated"] = Stream(ts, annotated, unit="0..1")
        states[f"hand/{side}/wrist_camera"] = Stream(ts[idx], wrist[idx], unit="se3_4x4", frame=CAMERA_FRAME)
        states[f"hand/{side}/mano_pose"] = Stream(ts[idx], pose[idx, 3:], unit="rad")
        states[f"hand/{side}/mano_beta"] = Stream(ts[idx], beta[idx])
        kps = [(i, f.kps2d) for i, f in frames.items() if f.kps2d is not None and np.isfinite(f.kps2d).all()]
        if kps:  # the maker's projection of its own hand: kept (not used for the keypoints)
            states[f"hand/{side}/kps2d"] = Stream(ts[[i for i, _ in kps]], np.stack([k for _, k in kps]), unit="px")
        mano = ManoParams(
            Stream(ts, wrist, unit="se3_4x4", frame=CAMERA_FRAME),
            Stream(ts, pose[:, 3:]),
            beta,
            mano_dir,
            MAKERS["hoi4d"],
            frame_pose=world_from_camera,
        )
        return HandTrack(mano=mano)

    def _objects(self, folder: Location | None, n: int, reading: Reading, states: dict[str, Stream]) -> dict[str, str]:
        """Entry k of every `objpose/<frame>.json` as `states["objects/<k>"]` on the frames that have it; returns
        k -> the entry's label (its index where it has none)."""
        if folder is None:
            return {}
        poses: dict[str, tuple[str, list[float], list[np.ndarray]]] = {}
        for path in sorted(folder.glob("*.json"), key=_frame_order):
            with reading.unreadable("object pose", "objpose", path):
                if not path.stem.isdigit() or int(path.stem) >= n:
                    raise ValueError(f"not <frame>.json of a frame in 0..{n - 1}")
                entries = object_poses(bounds.load_json(path, "object pose"))
            for k, (label, pose, _dims) in enumerate(entries):
                _, t, p = poses.setdefault(str(k), (label, [], []))
                t.append(int(path.stem) / FPS)
                p.append(pose)
        for k, (_, t, p) in poses.items():
            states[f"objects/{k}"] = Stream(np.array(t), np.stack(p), unit="se3_4x4", frame=CAMERA_FRAME)
        return {k: label for k, (label, _, _) in poses.items()}

    def _events(self, path: Location | None, video_s: float, reading: Reading) -> list[tuple[str, float, float]]:
        if path is None:
            return []
        with reading.unreadable("action segments", "action", path):
            return action_events(bounds.load_json(path, "action segments"), video_s)


def _frame_order(path: Location) -> tuple[int, str]:
    """`<frame>.<ext>` files in frame order (others first, to be named)."""
    return (int(path.stem), "") if path.stem.isdigit() else (-1, path.name)
