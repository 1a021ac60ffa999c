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
extracted at 30 fps, README.md:177-184). Files and conventions: cited below. The world is the
capture's, Z up with its origin on the table: the maker's fixed view has its image-down axis at (-0.06, 0.28, -0.96)
(dataset_utils/visualization.py:21-26, camera-to-world), and its axis drawings (dataset_utils/
visualize_world_coordinate_system.py, assets/world_coordinate_system_visualizations/) put x and y on the table top.

TACO marks no per-hand validity: both hands are kept in every frame. A sequence without its egocentric video (105 of the
2317 of version 1, data_lists/) keeps its hands, `metadata["views"]` saying so; a video whose frame count is not the
poses' is refused (the maker skips such a sequence). MANO only (`hand_reading.ManoOnlyOptions`). Embodiment `human`,
tier `high`.

One TACO sequence's files, read without running them and checked into a typed `TacoSequence`.

Layout from the maker (leolyliu/TACO-Instructions@c06f82c): README.md:51-117 ("Data Organization") and the maker's
reader `dataset_utils/project_pose_to_egocentric_view.py:66-118`, each folder `<part>/<triplet>/<sequence>/`:
- `Hand_Poses/`: `{left,right}_hand.pkl`, a pickled dict keyed by frame, read in sorted key order, each
  `{"hand_pose": (48,), "hand_trans": (3,)}` torch tensors (`.detach().cpu().numpy()`,
  dataset_utils/hand_pose_loader.py:40-45); `{left,right}_hand_shape.pkl` `{"hand_shape": (1,10) or (10,)}`
  (`.reshape(10)`, project_pose_to_egocentric_view.py:99-100), zeros when absent (hand_pose_loader.py:10-15).
  The 48 values are 3 global + 45 axis-angle, `hand_trans` in metres (the MANO layer: `schemas.mano`), checked
  against TACO's own `mano_params_to_hand_info`, run: tests/adapters/taco/test_maker_code.py.
- `Object_Poses/`: `tool_<id>.npy` and `target_<id>.npy`, (T,4,4) object-to-world on models in metres (the `<id>_cm.obj`
  models scaled by 0.01, then `v @ R.T + t`, :87-96 and :36-40).
- `Egocentric_Camera_Parameters/`: `egocentric_intrinsic.txt` (3,3) and `egocentric_frame_extrinsic.npy` (T,4,4)
  world-to-camera (:75-76, :112-113), OpenCV axes: the renderer is pytorch3d's with both focal lengths negated and
  `R = extrinsic[:3,:3].T` (dataset_utils/pyt3d_wrapper.py:97-104), which is the OpenCV pinhole.
- `Egocentric_RGB_Videos/.../color.mp4` one frame per pose row (the maker skips a sequence whose video has another
  count, :114-117); `Allocentric_RGB_Videos/.../<serial>.mp4` with `Allocentric_Camera_Parameters/.../calibration.json`
  `{serial: {K, R, T, imgSize}}` world-to-camera (dataset_utils/visualize_world_coordinate_system.py:16-26).

The pickles are read by `adapters.torch_tensors.tensor_loads` (numpy arrays, torch never run, a GPU-saved storage
read as well); a tensor viewing a storage of every frame is read at its offset, the storage's bytes once per file.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from adapters.base import CameraSource, EpisodeRef, HandSignals, HandTrack, Language, ManoParams, RawEpisode, Stream
from adapters.cameras import VideoFileCamera
from adapters.hand_reading import VIDEO_ERRORS, HandSource, ManoOnlyOptions, Reading, human_episode, natural_order
from adapters.hostile import bounds
from adapters.pickles import UnsafePickle
from adapters.poses import rotvec_poses
from adapters.storage.location import Location
from adapters.torch_tensors import tensor_loads
from schemas.canonical import Camera
from schemas.mano import MAKERS

SIDES = ("left", "right")
Fail = Callable[[str, str, Location], Exception]  # (message, field, file) -> the error to raise


def unpickle(path: Location, fail: Fail, field: str) -> Any:
    try:
        return tensor_loads(bounds.read_bounded(path, None, field))
    except FileNotFoundError as e:
        raise fail(f"missing {path.name}", field, path) from e
    except (UnsafePickle, ValueError, EOFError, OSError, RuntimeError, TypeError, AttributeError) as e:
        raise fail(f"unreadable {path.name}: {type(e).__name__}: {e}", field, path) from e


def as_array(x: Any) -> np.ndarray:
    """A tensor (detached, on the CPU) or array-like as float64."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


@dataclass(frozen=True)
class TacoHand:
    frames: tuple[str, ...]  # the pickle's keys, sorted: frame order
    pose: np.ndarray  # (T,48) global axis-angle + 45 axis-angle, flat mean
    trans: np.ndarray  # (T,3) the wrist joint, metres
    beta: np.ndarray  # (10,)
    beta_from: str  # the shape file, or why zeros


def read_hand(folder: Location, side: str, fail: Fail) -> TacoHand:
    path = folder / f"{side}_hand.pkl"
    d = unpickle(path, fail, f"{side}_hand")
    if not isinstance(d, dict) or not d:
        raise fail(f"a pickled {type(d).__name__} of {len(d) if isinstance(d, dict) else 0}, not frames", side, path)
    keys = sorted(d)
    pose, trans = [], []
    for key in keys:
        frame = d[key]
        try:
            p, t = as_array(frame["hand_pose"]).reshape(-1), as_array(frame["hand_trans"]).reshape(-1)
        except (KeyError, TypeError, ValueError) as e:
            raise fail(f"frame {key!r}: no hand_pose / hand_trans ({type(e).__name__}: {e})", side, path) from e
        if p.shape != (48,) or t.shape != (3,):
            msg = f"frame {key!r}: hand_pose {p.shape}, hand_trans {t.shape}; expected (48,) = 3 global + 45, and (3,)"
            raise fail(msg, f"{side}_hand.hand_pose", path)
        pose.append(p)
        trans.append(t)
    pose_a, trans_a = np.stack(pose), np.stack(trans)
    if not (np.isfinite(pose_a).all() and np.isfinite(trans_a).all()):
        raise fail("non-finite hand_pose or hand_trans", f"{side}_hand", path)
    shape_path = folder / f"{side}_hand_shape.pkl"
    if not shape_path.is_file():  # the maker's read_hand_shape gives zeros (hand_pose_loader.py:10-15)
        return TacoHand(tuple(map(str, keys)), pose_a, trans_a, np.zeros(10), f"no {shape_path.name}: zeros")
    s = unpickle(shape_path, fail, f"{side}_hand_shape")
    try:
        beta = as_array(s["hand_shape"]).reshape(10)
    except (KeyError, TypeError, ValueError) as e:
        raise fail(f"no 10 hand_shape values ({type(e).__name__}: {e})", f"{side}_hand_shape", shape_path) from e
    return TacoHand(tuple(map(str, keys)), pose_a, trans_a, beta, shape_path.name)


def read_npy(path: Location, shape: tuple[int, ...], fail: Fail, field: str) -> np.ndarray:
    """A plain `.npy` (no pickle) of (T, *shape), finite."""
    try:
        a = np.load(io.BytesIO(bounds.read_bounded(path, None, field)), allow_pickle=False)
    except FileNotFoundError as e:
        raise fail(f"missing {path.name}", field, path) from e
    except (ValueError, OSError) as e:
        raise fail(f"unreadable {path.name}: {e}", field, path) from e
    if a.ndim != len(shape) + 1 or a.shape[1:] != shape or not np.isfinite(a).all():
        raise fail(f"shape {a.shape}, expected finite (T, {', '.join(map(str, shape))})", field, path)
    return a.astype(np.float64)


def read_intrinsic(path: Location, fail: Fail) -> np.ndarray:
    try:
        K = np.loadtxt(io.StringIO(bounds.read_bounded(path, None, "intrinsic").decode()))
    except FileNotFoundError as e:
        raise fail(f"missing {path.name}", "egocentric_intrinsic", path) from e
    except (ValueError, OSError, UnicodeDecodeError) as e:
        raise fail(f"unreadable {path.name}: {e}", "egocentric_intrinsic", path) from e
    if K.shape != (3, 3) or not np.isfinite(K).all() or K[0, 0] <= 0 or K[1, 1] <= 0:
        raise fail(f"not a 3x3 pinhole matrix: {K.tolist()}", "egocentric_intrinsic", path)
    return K


@dataclass(frozen=True)
class AllocentricCamera:
    serial: str
    K: np.ndarray
    world_from_camera: np.ndarray  # (4,4)


def read_calibration(path: Location, fail: Fail) -> dict[str, AllocentricCamera]:
    try:
        raw = bounds.load_json(path, "calibration")
        out = {}
        for serial, c in raw.items():
            extr = np.eye(4)
            extr[:3, :3] = np.asarray(c["R"], dtype=np.float64).reshape(3, 3)
            extr[:3, 3] = np.asarray(c["T"], dtype=np.float64).reshape(3)
            K = np.asarray(c["K"], dtype=np.float64).reshape(3, 3)
            out[str(serial)] = AllocentricCamera(str(serial), K, np.linalg.inv(extr))
    except (KeyError, TypeError, ValueError, AttributeError, OSError, np.linalg.LinAlgError) as e:
        raise fail(f"unreadable {path.name}: {type(e).__name__}: {e}", "calibration", path) from e
    return out


def triplet_words(triplet: str) -> tuple[str, str, str] | None:
    """`(action, tool, object)` of a triplet folder such as "(stir, spoon, bowl)" (the maker's examples, README.md:146
    and :165, "(brush, brush, box)": the action first); None when the name is not three comma-separated words."""
    parts = [p.strip() for p in triplet.strip().removeprefix("(").removesuffix(")").split(",")]
    return (parts[0], parts[1], parts[2]) if len(parts) == 3 and all(parts) else None


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
