"""OakInk2 (oakink/OakInk2, toolkit oakink/OakInk2-PreviewTool): bimanual hand-object manipulation in complex tasks,
MANO hands and object poses from motion capture in one world, one egocentric and three allocentric cameras, and a
program of primitives per hand under the sequence's task.

| native | canonical | unit, frame |
| --- | --- | --- |
| `data/<token>/<serial>/<frame id:06d>.png` (`.jpg`) | cameras by `cam_def` name: `egocentric` -> head, | RGB, 30 Hz |
|   | `allocentric_top` -> third_person, the others by name | |
| `cam_intr[<camera>]` (its first image frame's) | that camera's intrinsics | px |
| `cam_extr[<camera>]` world-to-camera | `camera_poses[<camera>]`, inverted; egocentric decoupled | OpenCV |
| `raw_mano` `{lh,rh}__pose_coeffs` [0], `__tsl` | `states["hand/<side>/wrist"]`, the MANO wrist | `se3_4x4`, world |
| `raw_mano` `{lh,rh}__pose_coeffs` [1:], `__betas` | `HandTrack.mano` (MANO_LEFT / _RIGHT), natives | wxyz |
| `obj_transf[<object>]` | `states["objects/<object>"]` | `se3_4x4`, world |
| `program/task_target.json` | `Language` instruction | |
| `program/{program_info,desc_info}/<token>.json` | per hand primitive: `Language` subtask, `action_config` | frames |

Frame ids are mocap frames at 120 Hz (`FPS_MOCAP`); times are (id - first id) / 120. Hands are MANO only: option
`mano_model_dir` is needed. The world (motion capture) declares no up axis here: up is the egocentric camera's
image-up averaged over the sequence (`adapters.poses.image_up`, an assumption). The two hands' primitives may overlap
(`action_config` then holds overlapping segments, each naming its hand). Embodiment `human`, tier `high`.

One OakInk2 sequence's annotation, `anno_preview/<seq token>.pkl`, read without running it and checked into numpy.

The pickle is a dict (oakink/OakInk2-PreviewTool@63365c6:README.md:191-237, loaded by the toolkit with `pickle.load`,
src/oakink2_toolkit/dataset.py:219-221): `cam_def` serial -> camera name, `cam_selection`, `frame_id_list` (the
image frames), `cam_intr` / `cam_extr` name -> frame id -> 3x3 / 4x4, `mocap_frame_id_list`, `obj_list`, `obj_transf`
object -> frame id -> 4x4, and `raw_mano` frame id -> {`{lh,rh}__pose_coeffs` (1, 16, 4) quaternions w first,
`{lh,rh}__tsl` (1, 3), `{lh,rh}__betas` (1, 10)} as torch tensors (`raw_smplx`, the body, is not read). It is read
by `adapters.torch_tensors.tensor_loads`: numpy's globals and torch's three tensor ones, each rebuilt into a
numpy array by our own code (`adapters.torch_tensors`).

Conventions from the maker's code: frame ids count mocap frames at 120 Hz, the images are every fourth at 30 Hz
(`oakink2_toolkit/meta.py:3-5` FPS_MOCAP 120, FPS_VIDEO 30; the viewer maps a mocap frame to the nearest image
frame id, launch/viz/seg_3d.py:223-226); hands through manotorch `ManoLayer(rot_mode="quat", center_idx=0,
flat_hand_mean=True)` per side, joints + `tsl` (seg_3d.py:127-143, 187-190): the wrist joint at `tsl`, the root
quaternion its orientation; `cam_extr` world-to-camera in OpenCV axes (the renderer flips y and z into OpenGL's,
util/vis_pyrender_util.py:42-49; points go `cam_extr @ p`, seg_3d.py:192, 239); `obj_transf` world poses.

OakInk2's program annotations of one sequence: the task (`program/task_target.json`, keyed by the sequence key, the
token with `/` for `++`) and its primitives (`program/program_info/<token>.json`, texts in
`program/desc_info/<token>.json`), each keyed by the string of a pair (left interval, right interval), an interval
`(start, end)` of mocap frame ids or None where that hand takes no part (oakink/OakInk2-PreviewTool@63365c6:
README.md:262-293; the toolkit reads the keys with `ast.literal_eval`, src/oakink2_toolkit/dataset.py:52-65, and takes
`range(start, end)`, end excluded, :163-186). One hand's primitives do not overlap; the two hands' may (the viewer
looks a frame up per hand, src/oakink2_preview/viz/gui.py:690-720).
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, ClassVar

import numpy as np
from scipy.spatial.transform import Rotation

from adapters.base import CameraSource, EpisodeRef, HandSignals, HandTrack, Language, ManoParams, RawEpisode, Stream
from adapters.cameras import ImageFilesCamera
from adapters.hand_reading import HandSource, ManoOnlyOptions, Reading, bases, human_episode
from adapters.hostile import bounds
from adapters.poses import image_up, se3
from adapters.storage.location import Location
from adapters.torch_tensors import tensor_loads
from schemas.canonical import Camera
from schemas.lerobot import ActionSegment
from schemas.mano import MAKERS

SIDES = {"left": "lh", "right": "rh"}
FPS_MOCAP = 120.0


@dataclass(frozen=True)
class Hand:
    quats: np.ndarray  # (T,16,4) w first: the root's, then 15 joints'
    tsl: np.ndarray  # (T,3) the wrist joint, world, metres
    betas: np.ndarray  # (T,10)


@dataclass(frozen=True)
class CameraTrack:
    serial: str
    frames: np.ndarray  # (F,) image frame ids
    intrinsics: np.ndarray  # (F,3,3)
    extrinsics: np.ndarray  # (F,4,4) world-to-camera


@dataclass(frozen=True)
class Anno:
    mocap: np.ndarray  # (T,) mocap frame ids, increasing
    images: np.ndarray  # (F,) image frame ids, increasing
    hands: dict[str, Hand]
    cameras: dict[str, CameraTrack]  # by name: egocentric, allocentric_*
    objects: dict[str, np.ndarray]  # object id -> (T,4,4) world, on the mocap frames


Fail = Callable[[str, str], Exception]


def _ids(d: dict, key: str, fail: Fail) -> np.ndarray:
    ids = np.asarray(d.get(key, []))
    if ids.ndim != 1 or not len(ids) or ids.dtype.kind not in "iu" or (np.diff(ids) <= 0).any():
        raise fail("not increasing integer frame ids", key)
    return ids.astype(np.int64)


def _per_frame(table: Any, ids: np.ndarray, shape: tuple[int, ...], field: str, fail: Fail) -> np.ndarray:
    if not isinstance(table, dict):
        raise fail(f"a {type(table).__name__}, not frame id -> array", field)
    missing = [int(i) for i in ids if int(i) not in table]
    if missing:
        raise fail(f"no entry for {len(missing)} frame(s), first {missing[0]}", field)
    out = np.asarray([np.asarray(table[int(i)], dtype=np.float64).reshape(shape) for i in ids])
    if not np.isfinite(out).all():
        raise fail("non-finite values", field)
    return out


def anno(d: Any, fail: Fail) -> Anno:
    """The checked annotation of an unpickled dict; `fail(message, field)` makes the error to raise."""
    if not isinstance(d, dict):
        raise fail(f"a pickled {type(d).__name__}, not an annotation dict", "")
    mocap, images = _ids(d, "mocap_frame_id_list", fail), _ids(d, "frame_id_list", fail)
    raw = d.get("raw_mano")
    if not isinstance(raw, dict):
        raise fail("missing", "raw_mano")
    hands = {}
    for side, p in SIDES.items():
        rows = []
        for i in mocap:
            frame = raw.get(int(i))
            if not isinstance(frame, dict):
                raise fail(f"no entry for frame {int(i)}", "raw_mano")
            try:
                rows.append(tuple(np.asarray(frame[f"{p}__{k}"], np.float64).reshape(s) for k, s in HAND_FIELDS))
            except (KeyError, ValueError) as e:
                raise fail(f"frame {int(i)}: {e!r}", f"raw_mano.{p}__*") from None
        quats, tsl, betas = (np.stack(c) for c in zip(*rows, strict=True))
        norms = np.linalg.norm(quats, axis=-1)
        if not np.isfinite(quats).all() or np.abs(norms - 1).max() > 1e-3:
            raise fail(
                f"not unit quaternions (norms {norms.min():.3f}..{norms.max():.3f})", f"raw_mano.{p}__pose_coeffs"
            )
        scalar_first = np.median(np.abs(quats[:, 1:, 0]))
        scalar_last = np.median(np.abs(quats[:, 1:, 3]))
        if scalar_first < scalar_last:  # finger joints turn < 120 degrees: |w| = cos(angle / 2) > 0.5
            msg = (
                f"the joints' quaternions look x, y, z, w (median |first| {scalar_first:.2f} < |last| "
                f"{scalar_last:.2f}); OakInk2 writes w first (README.md:237)"
            )
            raise fail(msg, f"raw_mano.{p}__pose_coeffs")
        hands[side] = Hand(quats, tsl, betas)
    cam_def, intr, extr = d.get("cam_def"), d.get("cam_intr"), d.get("cam_extr")
    if not isinstance(cam_def, dict) or not isinstance(intr, dict) or not isinstance(extr, dict):
        raise fail("cam_def, cam_intr and cam_extr must be dicts", "cam_def")
    cameras = {}
    for serial, name in cam_def.items():
        if name not in intr or name not in extr:
            raise fail(f"camera {name!r} ({serial}) has no intrinsics or extrinsics", "cam_intr")
        K = _per_frame(intr[name], images, (3, 3), f"cam_intr.{name}", fail)
        E = _per_frame(extr[name], images, (4, 4), f"cam_extr.{name}", fail)
        cameras[str(name)] = CameraTrack(str(serial), images, K, E)
    objects = {}
    transf = d.get("obj_transf") or {}
    for obj in d.get("obj_list") or []:
        objects[str(obj)] = _per_frame(transf.get(obj), mocap, (4, 4), f"obj_transf.{obj}", fail)
    return Anno(mocap, images, hands, cameras, objects)


HAND_FIELDS = (("pose_coeffs", (16, 4)), ("tsl", (3,)), ("betas", (10,)))


@dataclass(frozen=True)
class Primitive:
    hand: str  # "left" or "right"
    start: int  # mocap frame id
    end: int  # excluded
    text: str  # `seg_desc`
    primitive: str  # this hand's primitive id (`primitive_lh` / `primitive_rh`, else `primitive`)
    interaction_mode: str  # lh_main, rh_main or bh_main


def _pair(key: str, fail: Callable[[str, str], Exception]) -> tuple[tuple[int, int] | None, ...]:
    try:
        pair = ast.literal_eval(key)
    except (ValueError, SyntaxError):
        pair = None
    ok = isinstance(pair, tuple) and len(pair) == 2
    ok = ok and all(
        iv is None or (isinstance(iv, tuple) and len(iv) == 2 and all(isinstance(v, int) for v in iv) and iv[0] < iv[1])
        for iv in pair  # type: ignore[union-attr]
    )
    if not ok or pair == (None, None):
        raise fail(f"key {key!r} is not (left interval, right interval) of (start, end) frame ids", "program_info")
    return pair  # type: ignore[return-value]


def primitives(info: Any, desc: Any, fail: Callable[[str, str], Exception]) -> list[Primitive]:
    """Each hand's part of each primitive, ordered by start frame then hand."""
    if not isinstance(info, dict) or not isinstance(desc, dict):
        raise fail("program_info and desc_info must be JSON objects", "program_info")
    texts = {_pair(k, fail): v for k, v in desc.items()}
    out = []
    for key, item in info.items():
        pair = _pair(key, fail)
        if not isinstance(item, dict):
            raise fail(f"{key}: not an object", "program_info")
        seg = texts.get(pair)
        text = seg.get("seg_desc") if isinstance(seg, dict) else None
        if not isinstance(text, str):
            raise fail(f"{key}: no seg_desc", "desc_info")
        for (side, p), iv in zip(SIDES.items(), pair, strict=True):
            if iv is not None:
                prim = item.get(f"primitive_{p}") or item.get("primitive") or ""
                out.append(
                    Primitive(side, iv[0], iv[1], text.strip(), str(prim), str(item.get("interaction_mode", "")))
                )
    for side in SIDES:
        for a, b in pairwise(sorted((p for p in out if p.hand == side), key=lambda p: p.start)):
            if b.start < a.end:
                raise fail(
                    f"{side} hand's primitives overlap: [{a.start}, {a.end}) and [{b.start}, {b.end})", "program_info"
                )
    return sorted(out, key=lambda p: (p.start, p.hand))


WORLD, EGO = "oakink2_world", "egocentric"
SLOTS = {EGO: Camera.head, "allocentric_top": Camera.third_person}
ANNO_DIRS = ("anno_preview", "anno")


class OakInk2Adapter(HandSource[ManoOnlyOptions]):
    name: ClassVar[str] = "oakink2"
    expects: ClassVar[str] = (
        "anno_preview/<scene token>.pkl with data/<scene token>/<serial>/<frame id>.png and program/, at the root or"
        " one folder below it"
    )

    def refs(self, root: Location) -> Iterator[EpisodeRef]:
        found: dict[str, tuple[Location, Location]] = {}
        for base in bases(root):
            for pkl in (p for d in ANNO_DIRS if (base / d).is_dir() for p in sorted((base / d).glob("*.pkl"))):
                if pkl.stem in found:  # the first base's copy is read, the other named
                    msg = f"{pkl.name} again (read from {found[pkl.stem][1]})"
                    self.note("duplicate_sequence", msg, root=root, path=pkl, episodes=[pkl.stem])
                    continue
                found[pkl.stem] = (base, pkl)
        return (self._ref(*found[token]) for token in sorted(found))

    def _ref(self, base: Location, pkl: Location) -> EpisodeRef:
        token = pkl.stem
        frames = base / "data" / token
        paths = [str(pkl), str(frames)]
        error = None
        if not frames.is_dir():
            error = self.error(f"no image folder data/{token}/", file=frames, episode=token, field="data")
        program = [base / "program" / d / f"{token}.json" for d in ("program_info", "desc_info")]
        paths += [str(p) for p in [*program, base / "program" / "task_target.json"] if p.is_file()]
        return self.new_ref(token, paths, locator={"token": token, "program": len(paths) == 5}, error=error)

    def read(self, ref: EpisodeRef) -> RawEpisode:
        pkl, frames = self.file(ref.paths[0]), self.file(ref.paths[1])
        reading = Reading.of(self, ref, pkl)
        ep, fail = ref.raw_id, reading.fail
        a = reading.parsed(pkl, "annotation", lambda data: anno(tensor_loads(data), fail))
        if EGO not in a.cameras:
            raise fail(f"no {EGO} camera in cam_def ({sorted(a.cameras)})", "cam_def")
        mano_dir = reading.mano_dir("OakInk2", pkl)
        first = int(min(a.mocap[0], a.images[0]))
        ts, ts_img = (a.mocap - first) / FPS_MOCAP, (a.images - first) / FPS_MOCAP
        cameras, poses = self._cameras(a, frames, ts_img, reading)
        sig = HandSignals(
            frame=WORLD,
            apply_offset=False,
            camera=poses[EGO],
            camera_convention="opencv",
            up_world=image_up(poses[EGO].values),
        )
        states: dict[str, Stream] = {}
        for hand, (side, h) in enumerate(a.hands.items()):
            wrist = se3(Rotation.from_quat(h.quats[:, 0], scalar_first=True).as_matrix(), h.tsl)
            w = states[f"hand/{side}/wrist"] = Stream(ts, wrist, unit="se3_4x4", frame=WORLD)
            states[f"hand/{side}/pose_coeffs"] = Stream(ts, h.quats, unit="quat_wxyz")
            states[f"hand/{side}/betas"] = Stream(ts, h.betas)
            sig.hands[hand] = HandTrack(
                mano=ManoParams(w, Stream(ts, h.quats[:, 1:]), h.betas, mano_dir, MAKERS["oakink2"])
            )
        for obj, transf in a.objects.items():
            states[f"objects/{obj}"] = Stream(ts, transf, unit="se3_4x4", frame=WORLD)
        language, segments, program = self._program(ref, first, fail)
        return human_episode(
            ref,
            FPS_MOCAP,
            states=states,
            cameras=cameras,
            camera_poses=poses,
            language=language,
            action_config=segments or None,
            metadata={
                "sequence_key": ep.replace("++", "/"),
                "cameras": {name: c.serial for name, c in a.cameras.items()},
                "objects": sorted(a.objects),
                "mocap_frames": [int(a.mocap[0]), int(a.mocap[-1])],
                "image_frames": [int(a.images[0]), int(a.images[-1]), len(a.images)],
                "program": program,
            },
            hands=sig,
        )

    def _cameras(
        self, a: Anno, folder: Location, ts: np.ndarray, reading: Reading
    ) -> tuple[dict[str, CameraSource], dict[str, Stream]]:
        cameras: dict[str, CameraSource] = {}
        poses = {}
        for name, cam in a.cameras.items():
            poses[name] = Stream(ts, np.linalg.inv(cam.extrinsics), unit="se3_4x4", frame=WORLD)
            if self.options.cameras is not None and name not in self.options.cameras:
                continue
            d = folder / cam.serial
            ext = next((e for e in (".png", ".jpg") if (d / f"{int(cam.frames[0]):06d}{e}").is_file()), None)
            files = [d / f"{int(i):06d}{ext}" for i in cam.frames] if ext else []
            missing = next((f for f in files if not f.is_file()), None) if ext else d / f"{int(cam.frames[0]):06d}.png"
            if missing is not None:
                raise reading.fail(f"camera {name}: no image {missing.name} (frame_id_list) in {d}", "data", missing)
            try:
                cameras[name] = ImageFilesCamera(files, name, SLOTS.get(name), ts, intrinsics=cam.intrinsics[0])
            except ValueError as e:
                raise reading.fail(f"camera {name}: {e}", "data", d) from e
        return cameras, poses

    def _program(self, ref: EpisodeRef, first: int, fail) -> tuple[list[Language], list[ActionSegment], str]:
        """The task and each hand's primitives, or why there are none (said in `metadata["program"]`)."""
        if not ref.locator.get("program"):
            return (
                [],
                [],
                "none: program/{program_info,desc_info}/<token>.json and program/task_target.json not all here",
            )
        info, desc, target = (self.file(p) for p in ref.paths[2:5])
        try:
            task = bounds.load_json(target, "task_target").get(ref.raw_id.replace("++", "/"))
            prims = primitives(bounds.load_json(info, "program_info"), bounds.load_json(desc, "desc_info"), fail)
        except (OSError, ValueError, AttributeError) as e:
            raise fail(f"unreadable program: {e}", "program_info", info) from e
        language = [Language(task.strip(), "instruction")] if isinstance(task, str) and task.strip() else []
        segments = []
        for p in prims:
            t0, t1 = (p.start - first) / FPS_MOCAP, (p.end - 1 - first) / FPS_MOCAP
            language.append(Language(p.text, "subtask", t0, t1))
            a, b = max(p.start - first, 0), p.end - first
            if b > a:
                extra = {"hand": p.hand, "primitive": p.primitive, "interaction_mode": p.interaction_mode}
                segments.append(ActionSegment(start_frame=a, end_frame=b, action_text=p.text, **extra))
        return language, segments, f"{len(prims)} hand primitives" + ("" if language else "; no task text")
