"""TACO (leolyliu/TACO-Instructions): bimanual tool-action-object sequences, MANO hands and a tool and a target
object per frame, an egocentric RGB video and 12 allocentric ones; one episode per `Hand_Poses/<triplet>/<sequence>/`.

| native | canonical | unit, frame |
| --- | --- | --- |
| `{side}_hand.pkl` `hand_pose[:3]`, `hand_trans` | `states["wrist/<side>"]`, `HandTrack.mano` wrist | `se3_4x4` |
| `{side}_hand.pkl` `hand_pose[3:]`, `{side}_hand_shape.pkl` | `HandTrack.mano` (`MAKERS["taco"]`), `mano_model_dir` | |
| `Object_Poses/.../{tool,target}_<id>.npy` | `states["object/{tool,target}_<id>"]` | `se3_4x4`, world |
| `egocentric_frame_extrinsic.npy` | `camera_poses["egocentric"]`, its inverse, OpenCV axes | `se3_4x4` |
| `Egocentric_RGB_Videos/.../color.mp4`, `egocentric_intrinsic.txt` | camera `egocentric` -> `Camera.head`, K | RGB |
| `Allocentric_RGB_Videos/.../<serial>.mp4`, `calibration.json` `K` | cameras `allocentric_<serial>` (the first | RGB |
| | `Camera.third_person`), K | |
| the triplet folder `(action, tool, object)` | `Language` "<action> the <object> with the <tool>" | |

Every stream is per frame at 30 fps (the maker's renders play at 1000/30 ms a frame,
leolyliu/TACO-Instructions@c06f82c:dataset_utils/project_pose_to_egocentric_view.py:60; its depth frames are
extracted at 30 fps, README.md:177-184). Files and conventions: `adapters/taco/files.py` (cited). The world is the
capture's, Z up with its origin on the table: the maker's fixed view has its image-down axis at (-0.06, 0.28, -0.96)
(dataset_utils/visualization.py:21-26, camera-to-world), and its axis drawings (dataset_utils/
visualize_world_coordinate_system.py, assets/world_coordinate_system_visualizations/) put x and y on the table top.

TACO marks no per-hand validity: both hands are kept in every frame. A sequence without its egocentric video (105 of the
2317 of version 1, data_lists/) keeps its hands, `metadata["views"]` saying so; a video whose frame count is not the
poses' is refused (the maker skips such a sequence). MANO only (`hand_reading.ManoOnlyOptions`). Embodiment `human`,
tier `high`.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from adapters.base import CameraSource, EpisodeRef, HandSignals, HandTrack, Language, ManoParams, RawEpisode, Stream
from adapters.cameras import VideoFileCamera
from adapters.hand_reading import VIDEO_ERRORS, HandSource, ManoOnlyOptions, Reading, human_episode, natural_order
from adapters.poses import rotvec_poses
from adapters.storage.location import Location
from adapters.taco.files import SIDES, Fail, read_calibration, read_hand, read_intrinsic, read_npy, triplet_words
from schemas.canonical import Camera
from schemas.mano import MAKERS

WORLD = "taco_world"
FPS = 30.0
UP = np.array([0.0, 0.0, 1.0])
EGO = "egocentric"
HANDS, OBJECTS, EGO_PARAMS = "Hand_Poses", "Object_Poses", "Egocentric_Camera_Parameters"
EGO_VIDEOS, ALLO_VIDEOS, ALLO_PARAMS = (
    "Egocentric_RGB_Videos",
    "Allocentric_RGB_Videos",
    "Allocentric_Camera_Parameters",
)


class TacoAdapter(HandSource[ManoOnlyOptions]):
    name: ClassVar[str] = "taco"
    expects: ClassVar[str] = (
        f"TACO's dataset folder: {HANDS}/<triplet>/<sequence>/{{left,right}}_hand.pkl, with {OBJECTS}/, {EGO_PARAMS}/"
        f" and {EGO_VIDEOS}/ (optional: {ALLO_VIDEOS}/, {ALLO_PARAMS}/) under the same <triplet>/<sequence>"
    )

    def refs(self, root: Location) -> list[EpisodeRef]:
        hands = root / HANDS
        refs, seen = [], {}
        for triplet in sorted(hands.iterdir()) if hands.is_dir() else []:
            for seq in sorted(triplet.iterdir()) if triplet.is_dir() else []:
                if not any((seq / f"{s}_hand.pkl").is_file() for s in SIDES):
                    self.note("folder_skipped", f"{seq.relative_to(root).as_posix()}: no hand pkl", root=root, path=seq)
                    continue
                rel = f"{triplet.name}/{seq.name}"
                paths = [str(root / part / rel) for part in (HANDS, OBJECTS, EGO_PARAMS)]
                error = None
                if seq.name in seen:  # the raw id is the sequence name, unique in the maker's data lists
                    msg = f"sequence {seq.name} also under {seen[seq.name]!r}: one episode id for two sequences"
                    error = self.error(msg, file=seq, episode=seq.name, field="sequence")
                seen.setdefault(seq.name, triplet.name)
                locator = {"triplet": triplet.name, "sequence": seq.name}
                refs.append(self.new_ref(seq.name, paths, locator=locator, error=error))
        return natural_order(refs)

    def read(self, ref: EpisodeRef) -> RawEpisode:
        reading = Reading.of(self, ref)
        ep, triplet, fail = ref.raw_id, ref.locator["triplet"], reading.fail
        hand_dir, obj_dir, cam_dir = (self.file(p) for p in ref.paths)
        root = hand_dir.parent.parent.parent
        for folder, field in ((hand_dir, "hands"), (obj_dir, "object_pose"), (cam_dir, "egocentric_camera")):
            for path in folder.iterdir() if folder.is_dir() else []:  # every file read, under the root once resolved
                reading.inside(root, path, field)
        hands = {side: read_hand(hand_dir, side, fail) for side in SIDES}
        n = len(hands["right"].pose)
        if hands["left"].frames != hands["right"].frames:  # both hands on one frame list, or the frames misalign
            left, right = set(hands["left"].frames), set(hands["right"].frames)
            first = sorted(left ^ right)[:1] or [f"{len(left)} keys for {len(right)}"]
            msg = f"frame keys differ from right_hand.pkl's ({len(left)} and {n} frames; first apart: {first[0]})"
            raise fail(msg, "left_hand", hand_dir / "left_hand.pkl")
        extr = read_npy(cam_dir / "egocentric_frame_extrinsic.npy", (4, 4), fail, "egocentric_frame_extrinsic")
        K = read_intrinsic(cam_dir / "egocentric_intrinsic.txt", fail)
        objects = self._objects(obj_dir, fail)
        for field, count in [("egocentric_frame_extrinsic", len(extr))] + [(k, len(v)) for k, v in objects.items()]:
            if count != n:
                where = cam_dir if field.startswith("egocentric") else obj_dir
                raise fail(f"{count} frames where the hand poses have {n}", field, where)
        mano_dir = reading.mano_dir("TACO", hand_dir / "right_hand.pkl")
        ts = np.arange(n) / FPS
        camera = Stream(ts, np.linalg.inv(extr), unit="se3_4x4", frame=WORLD)
        sig = HandSignals(frame=WORLD, apply_offset=False, camera=camera, camera_convention="opencv", up_world=UP)
        sig.notes.append("no per-hand validity in TACO: both hands kept in every frame")
        states: dict[str, Stream] = {}
        for hand, side in enumerate(SIDES):
            h = hands[side]
            wrist_poses = rotvec_poses(h.pose[:, :3], h.trans)
            wrist = states[f"wrist/{side}"] = Stream(ts, wrist_poses, unit="se3_4x4", frame=WORLD)
            mano = ManoParams(wrist, Stream(ts, h.pose[:, 3:], unit="axis_angle"), h.beta, mano_dir, MAKERS["taco"])
            sig.hands[hand] = HandTrack(mano=mano)
            sig.notes.append(f"{side} hand: betas from {h.beta_from}")
        for name, poses in objects.items():
            states[f"object/{name}"] = Stream(ts, poses, unit="se3_4x4", frame=WORLD)
        words = triplet_words(triplet)
        language = [Language(f"{words[0]} the {words[2]} with the {words[1]}", "instruction")] if words else []
        cameras, views = self._cameras(root, f"{triplet}/{ep}", K, n, reading)
        return human_episode(
            ref,
            FPS,
            states=states,
            cameras=cameras,
            camera_poses={EGO: camera},
            language=language,
            metadata={
                "triplet": triplet,
                "action_tool_object": list(words) if words else None,
                "objects": sorted(objects),
                "world_up": UP.tolist(),
                "views": views,
            },
            hands=sig,
        )

    def _objects(self, obj_dir: Location, fail: Fail) -> dict[str, np.ndarray]:
        """`tool_<id>` and `target_<id>` poses; the maker's reader needs both
        (project_pose_to_egocentric_view.py:79-86)."""
        files = sorted(p for p in obj_dir.iterdir() if p.name.endswith(".npy")) if obj_dir.is_dir() else []
        out = {p.name[: -len(".npy")]: read_npy(p, (4, 4), fail, "object_pose") for p in files}
        for role in ("tool", "target"):
            if not any(k.startswith(f"{role}_") for k in out):
                raise fail(f"no {role}_<id>.npy in {obj_dir}", role, obj_dir)
        return out

    def _cameras(
        self, root: Location, rel: str, K: np.ndarray, n: int, reading: Reading
    ) -> tuple[dict[str, CameraSource], dict[str, str]]:
        """The egocentric video first, then the allocentric ones by serial; `views` says what was read or why not."""
        cameras: dict[str, CameraSource] = {}
        views: dict[str, str] = {}
        wanted = self.options.cameras
        allo = root / ALLO_VIDEOS / rel
        calib_path = root / ALLO_PARAMS / rel / "calibration.json"
        videos = [(EGO, root / EGO_VIDEOS / rel / "color.mp4")]
        videos += [(f"allocentric_{p.stem}", p) for p in (sorted(allo.glob("*.mp4")) if allo.is_dir() else [])]
        calib = None
        for name, path in videos:
            if wanted is not None and name not in wanted:
                views[name] = "not asked for (option cameras)"
                continue
            if not path.is_file():
                views[name] = f"no {path}: not read"
                continue
            path = reading.inside(root, path, "video")
            if name == EGO:
                canonical, intr = Camera.head, K
            else:
                if calib is None:
                    if not calib_path.is_file():
                        views[name] = f"no {calib_path}: not read"
                        continue
                    calib_path = reading.inside(root, calib_path, "calibration")
                    calib = read_calibration(calib_path, reading.fail)
                serial = name.removeprefix("allocentric_")
                if serial not in calib:
                    views[name] = f"serial {serial} not in {calib_path.name}: not read"
                    continue
                first = not any(c.canonical == Camera.third_person for c in cameras.values())
                canonical, intr = (Camera.third_person if first else None), calib[serial].K
            with reading.unreadable("video", "video", path, VIDEO_ERRORS):
                cam = VideoFileCamera(path, name, canonical, intrinsics=intr)
            if len(cam) != n:
                msg = f"{len(cam)} frames for {n} pose frames (the maker skips such a sequence)"
                raise reading.fail(msg, "video", path)
            cameras[name] = cam
            views[name] = f"{path.relative_to(root).as_posix()}, {n} frames"
        return cameras, views
