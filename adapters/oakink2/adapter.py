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

Frame ids are mocap frames at 120 Hz (files.py); times are (id - first id) / 120. Hands are MANO only: option
`mano_model_dir` is needed. The world (motion capture) declares no up axis here: up is the egocentric camera's
image-up averaged over the sequence (`adapters.poses.image_up`, an assumption). The two hands' primitives may overlap
(`action_config` then holds overlapping segments, each naming its hand). Embodiment `human`, tier `high`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

import numpy as np
from scipy.spatial.transform import Rotation

from adapters.base import CameraSource, EpisodeRef, HandSignals, HandTrack, Language, ManoParams, RawEpisode, Stream
from adapters.cameras import ImageFilesCamera
from adapters.hand_reading import HandSource, ManoOnlyOptions, Reading, bases, human_episode
from adapters.hostile import bounds
from adapters.oakink2.files import FPS_MOCAP, Anno, anno, primitives
from adapters.poses import image_up, se3
from adapters.storage.location import Location
from adapters.torch_tensors import tensor_loads
from schemas.canonical import Camera
from schemas.lerobot import ActionSegment
from schemas.mano import MAKERS

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
