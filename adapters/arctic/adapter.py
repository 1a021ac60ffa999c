"""ARCTIC (zc-alexfan/arctic): bimanual hand-object sequences captured with Vicon motion capture, MANO hands and an
articulated object per frame, an egocentric camera on the subject's head and 8 allocentric ones; one episode per
`raw_seqs/<subject>/<seq>.mano.npy`.

| native | canonical | unit, frame |
| --- | --- | --- |
| `.mano.npy` `<side>.rot`, `trans` | `states["wrist/<side>"]` (T,4,4), `HandTrack.mano` wrist | `se3_4x4`, world |
| `.mano.npy` `<side>.pose`, `shape` | `HandTrack.mano` (`MAKERS["arctic"]`), option `mano_model_dir` | axis-angle |
| `.mano.npy` `<side>.fitting_err` | `states["fitting_err/<side>"]` | as given |
| `.object.npy` (T,7) | `states["object/<name>"]` (T,4,4) metres, `states["object/<name>/articulation"]` rad | world |
| `.egocam.dist.npy` `R_k_cam_np`, `T_k_cam_np` | `camera_poses["ego"]`, their inverse, OpenCV axes | `se3_4x4` |
| `.egocam.dist.npy` `intrinsics`, `dist8` | the `ego` camera's K; `dist8` in `metadata` | px |
| `images/<subject>/<seq>/0/` | camera `ego` -> `Camera.head` | RGB JPEG |
| `images/<subject>/<seq>/<1..8>/`, `misc.json` | cameras `view_<k>` (view 1 `Camera.third_person`), K | RGB JPEG |
| sequence name `<object>_<action>_<nn>` | `Language` "<action> the <object>" | |

Every stream is per frame at 30 fps (the maker's viewer plays sequences at 30, zc-alexfan/arctic@49f3eb4:
common/viewer.py:142-145). Files and conventions are the maker's (cited below); the MANO
hand as ARCTIC's layer poses it is `schemas.mano` (`MAKERS["arctic"]`), checked against ARCTIC's own code, run:
tests/adapters/arctic/test_maker_code.py. The egocentric camera is world-to-camera in OpenCV axes: the maker projects
with `K @ p` and divides by z (common/transforms.py:316-329). Its images carry the lens distortion `dist8` (the
maker's ego crops come from the distorted projection, src/arctic/processing.py:348-352); K is the undistorted
pinhole, kept as the camera's intrinsics (an image point near the border is off by the distortion).

The world is the capture's; its up axis is the SMPL-X body's up (`body_up`, an assumption). No per-hand
validity is given in `raw_seqs` (the maker's `left_valid` / `right_valid` are per view in its processed splits): both
hands are kept in every frame. MANO only (`hand_reading.ManoOnlyOptions`). Embodiment `human`, tier `high`.

One ARCTIC sequence's raw files (`raw_seqs/<subject>/<seq>.{mano,object,egocam.dist,smplx}.npy`) and its subject's
`meta/misc.json`, read without running them and checked into a typed `ArcticSequence`.

Layout and meanings from the maker (zc-alexfan/arctic@49f3eb4): docs/data/data_doc.md:20-40 (folders) and
:120-145 (fields); the maker's own reader `src/arctic/preprocess_dataset.py:77-160` (`construct_loader`), which loads
all four files of a sequence, each `.npy` but the object's a 0-d object array (`np.load(allow_pickle=True).item()`):
- `.mano.npy`: per side `rot` (T,3) axis-angle global rotation, `pose` (T,45) axis-angle, `trans` (T,3) smplx's
  `transl`, `shape` (10,) repeated over frames by the reader (:92, :98), `fitting_err` (T,); fed to smplx
  `MANO(use_pca=False, flat_hand_mean=False)` per side with `global_orient`, `hand_pose`, `betas`, `transl`
  (common/body_models.py:128-142, src/arctic/processing.py:176-190), metres (the ego camera's `T_k_cam_np` moves
  them into its frame unscaled).
- `.object.npy`: (T,7) float array, articulation (rad), rotation (axis-angle), translation in millimetres (the reader
  divides it by 1000, processing.py:209-215; data_doc.md:143-145). The object is the sequence name's first token
  (preprocess_dataset.py:106).
- `.egocam.dist.npy`: `R_k_cam_np` (T,3,3), `T_k_cam_np` (T,3,1) world-to-egocentric-camera (`world2ego`,
  preprocess_dataset.py:110-119), `intrinsics` (3,3), `dist8` (8,) the lens distortion of the egocentric images
  (processing.py:252-262 distorts points with it for the images; the undistorted projection uses `intrinsics` alone).
- `.smplx.npy`: SMPL-X `global_orient` (T,3) among others; read here for the body's up axis only (`body_up`).
- `meta/misc.json`, per subject: `ioi_offset` (the image index of frame 0, src/mesh_loaders/arctic.py:104-110),
  `world2cam` (8,4,4) and `intris_mat` (8,3,3) of the allocentric views 1..8 (scripts_data/process_seqs.py:39-44).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from scipy.spatial.transform import Rotation

from adapters.base import CameraSource, EpisodeRef, HandSignals, HandTrack, Language, ManoParams, RawEpisode, Stream
from adapters.cameras import ImageFilesCamera
from adapters.hand_reading import HandSource, ManoOnlyOptions, Reading, human_episode, natural_order
from adapters.hostile import bounds
from adapters.pickles import UnsafePickle, unpickle_npy
from adapters.poses import rotvec_poses, se3
from adapters.storage.location import Location
from schemas.canonical import Camera
from schemas.mano import MAKERS

SIDES = ("left", "right")
SUFFIXES = {"mano": ".mano.npy", "object": ".object.npy", "egocam": ".egocam.dist.npy", "smplx": ".smplx.npy"}
HAND_SHAPES: dict[str, tuple[int, ...]] = {"rot": (3,), "pose": (45,), "trans": (3,), "fitting_err": ()}
ALLOCENTRIC_VIEWS = 8

Fail = Callable[[str, str, Location], Exception]  # (message, field, file) -> the error to raise


@dataclass(frozen=True)
class ArcticHand:
    rot: np.ndarray  # (T,3) axis-angle, world
    pose: np.ndarray  # (T,45) axis-angle, offsets from MANO's mean pose
    trans: np.ndarray  # (T,3) smplx `transl`, metres
    shape: np.ndarray  # (10,)
    fitting_err: np.ndarray  # (T,)


@dataclass(frozen=True)
class Subject:
    ioi_offset: int
    world2cam: np.ndarray  # (8,4,4) allocentric views 1..8
    intris_mat: np.ndarray  # (8,3,3)


@dataclass(frozen=True)
class ArcticSequence:
    hands: dict[str, ArcticHand]
    object_params: np.ndarray  # (T,7) articulation rad, axis-angle, translation mm
    world2ego: np.ndarray  # (T,4,4)
    K_ego: np.ndarray  # (3,3)
    dist8: np.ndarray  # (8,)
    body_up: np.ndarray  # (3,) unit

    def __len__(self) -> int:
        return len(self.world2ego)


def read_pickled(path: Location, fail: Fail, field: str) -> dict:
    """A 0-d object `.npy` of the maker's, unpickled with numpy's own globals only (`adapters.vitra.files`)."""
    try:
        d = unpickle_npy(bounds.read_bounded(path, None, field))
    except FileNotFoundError as e:
        raise fail(f"missing {path.name}", field, path) from e
    except (UnsafePickle, ValueError, EOFError, OSError) as e:
        raise fail(f"unreadable {path.name}: {e}", field, path) from e
    if not isinstance(d, dict):
        raise fail(f"a pickled {type(d).__name__}, not a dict", field, path)
    return d


def _array(d: dict, key: str, shape: tuple[int, ...], fail: Fail, field: str, path: Location) -> np.ndarray:
    if key not in d:
        raise fail(f"missing {key!r}", field, path)
    a = np.asarray(d[key])
    if a.dtype == object or a.ndim != len(shape) + 1 or a.shape[1:] != shape or not np.isfinite(a).all():
        want = ", ".join(("T", *map(str, shape)))
        raise fail(f"shape {a.shape} ({a.dtype}), expected finite ({want})", field, path)
    return a.astype(np.float64)


def _hand(d: dict, side: str, fail: Fail, path: Location) -> ArcticHand:
    h = d.get(side)
    if not isinstance(h, dict):
        raise fail("missing hand", side, path)
    arrays = {k: _array(h, k, s, fail, f"{side}.{k}", path) for k, s in HAND_SHAPES.items()}
    shape = np.asarray(h.get("shape", np.zeros(0)), dtype=np.float64)
    shape = shape[0] if shape.ndim == 2 and len(shape) else shape  # `frames x 10` in data_doc.md: one per sequence
    if shape.shape != (10,) or not np.isfinite(shape).all():
        raise fail(f"shape {shape.shape}, expected 10 MANO betas", f"{side}.shape", path)
    return ArcticHand(arrays["rot"], arrays["pose"], arrays["trans"], shape, arrays["fitting_err"])


def body_up(global_orient: np.ndarray) -> np.ndarray:
    """The world's up axis as the SMPL-X body's +y (its template's up) turned by `global_orient`, averaged over the
    sequence: ARCTIC's subjects sit or stand at a table (module docstring of `adapters.arctic.adapter`)."""
    up = Rotation.from_rotvec(global_orient).apply([0.0, 1.0, 0.0]).mean(axis=0)
    return up / np.linalg.norm(up)


def read_sequence(stem: Location, fail: Fail) -> ArcticSequence:
    """The four files of `<seq>` beside `stem` (`raw_seqs/<subject>/<seq>`), checked to share one frame count."""
    paths = {k: stem.parent / f"{stem.name}{s}" for k, s in SUFFIXES.items()}
    mano = read_pickled(paths["mano"], fail, "mano")
    hands = {side: _hand(mano, side, fail, paths["mano"]) for side in SIDES}
    ego = read_pickled(paths["egocam"], fail, "egocam")
    R = _array(ego, "R_k_cam_np", (3, 3), fail, "R_k_cam_np", paths["egocam"])
    T = _array(ego, "T_k_cam_np", (3, 1), fail, "T_k_cam_np", paths["egocam"])
    K = np.asarray(ego.get("intrinsics"), dtype=np.float64)
    if K.shape != (3, 3) or not np.isfinite(K).all() or K[0, 0] <= 0 or K[1, 1] <= 0:
        raise fail(f"not a 3x3 pinhole matrix: {K.tolist()}", "intrinsics", paths["egocam"])
    dist8 = np.asarray(ego.get("dist8", np.zeros(8)), dtype=np.float64).reshape(-1)
    world2ego = se3(R, T[..., 0])
    smplx = read_pickled(paths["smplx"], fail, "smplx")
    orient = _array(smplx, "global_orient", (3,), fail, "global_orient", paths["smplx"])
    try:
        data = bounds.read_bounded(paths["object"], None, "object")
        obj = np.load(io.BytesIO(data), allow_pickle=False)
    except FileNotFoundError as e:
        raise fail(f"missing {paths['object'].name}", "object", paths["object"]) from e
    except (ValueError, OSError) as e:
        raise fail(f"unreadable {paths['object'].name}: {e}", "object", paths["object"]) from e
    if obj.ndim != 2 or obj.shape[1] != 7 or not np.isfinite(obj).all():
        raise fail(f"shape {obj.shape}, expected finite (T, 7)", "object", paths["object"])
    n = len(hands["right"].rot)
    counts = {f"{s}.{k}": len(getattr(hands[s], k)) for s in SIDES for k in HAND_SHAPES}
    counts |= {"R_k_cam_np": len(R), "T_k_cam_np": len(T), "object": len(obj), "global_orient": len(orient)}
    files = {"R_k_cam_np": "egocam", "T_k_cam_np": "egocam", "object": "object", "global_orient": "smplx"}
    for field, count in counts.items():
        if count != n:
            raise fail(f"{count} frames where right.rot has {n}", field, paths[files.get(field, "mano")])
    return ArcticSequence(hands, obj.astype(np.float64), world2ego, K, dist8, body_up(orient))


def read_subject(misc: Location, subject: str, fail: Fail) -> Subject:
    """`meta/misc.json`'s entry of `subject`."""
    try:
        entry: Any = bounds.load_json(misc, "misc.json")[subject]
        subj = Subject(
            int(entry["ioi_offset"]),
            np.asarray(entry["world2cam"], dtype=np.float64).reshape(ALLOCENTRIC_VIEWS, 4, 4),
            np.asarray(entry["intris_mat"], dtype=np.float64).reshape(ALLOCENTRIC_VIEWS, 3, 3),
        )
    except FileNotFoundError as e:
        raise fail("missing meta/misc.json (the subjects' image offsets and cameras)", "misc", misc) from e
    except (KeyError, TypeError, ValueError, OSError) as e:
        raise fail(f"no usable entry for subject {subject!r}: {type(e).__name__}: {e}", f"misc.{subject}", misc) from e
    return subj


WORLD = "arctic_world"
FPS = 30.0
EGO = "ego"
RAW_SEQS = ("raw_seqs", "*/raw_seqs", "*/*/raw_seqs", "*/*/*/raw_seqs")


class ArcticAdapter(HandSource[ManoOnlyOptions]):
    name: ClassVar[str] = "arctic"
    expects: ClassVar[str] = (
        "ARCTIC's data folder (the root or up to 3 folders down): raw_seqs/<subject>/<seq>.mano.npy with .object.npy,"
        " .egocam.dist.npy and .smplx.npy beside it, meta/misc.json, and images/<subject>/<seq>/<view>/<index>.jpg"
    )

    def refs(self, root: Location) -> list[EpisodeRef]:
        # `raw_seqs` up to 3 folders down (the root may be arctic_data/, its data/, or raw_seqs/'s parent): never a
        # walk of the whole tree, whose images/ hold millions of frames
        seqs = sorted({d for pattern in RAW_SEQS for d in root.glob(pattern) if d.is_dir()})
        manos = sorted(p for d in seqs for p in d.glob(f"*/*{SUFFIXES['mano']}"))
        refs = []
        for mano in manos:
            data, subject, seq = mano.parent.parent.parent, mano.parent.name, mano.name[: -len(SUFFIXES["mano"])]
            raw_id = f"{subject}/{seq}"
            paths = [str(mano.parent / f"{seq}{s}") for s in SUFFIXES.values()] + [str(data / "meta" / "misc.json")]
            refs.append(self.new_ref(raw_id, paths, locator={"data": str(data), "subject": subject, "seq": seq}))
        return natural_order(refs)

    def read(self, ref: EpisodeRef) -> RawEpisode:
        reading = Reading.of(self, ref)
        data = self.file(ref.locator["data"])
        subject, seq = ref.locator["subject"], ref.locator["seq"]
        sequence = read_sequence(data / "raw_seqs" / subject / seq, reading.fail)
        mano_dir = reading.mano_dir("ARCTIC", data / "raw_seqs" / subject / f"{seq}.mano.npy")
        n = len(sequence)
        ts = np.arange(n) / FPS
        world_from_ego = np.linalg.inv(sequence.world2ego)
        camera = Stream(ts, world_from_ego, unit="se3_4x4", frame=WORLD)
        sig = HandSignals(frame=WORLD, apply_offset=False, camera=camera, camera_convention="opencv")
        sig.up_world = sequence.body_up
        sig.notes += [
            "world up: the SMPL-X body's up (global_orient applied to +y), averaged over the sequence (an assumption)",
            "no per-hand validity in raw_seqs: both hands kept in every frame",
        ]
        states: dict[str, Stream] = {}
        for hand, side in enumerate(SIDES):
            h = sequence.hands[side]
            wrist = states[f"wrist/{side}"] = Stream(ts, rotvec_poses(h.rot, h.trans), unit="se3_4x4", frame=WORLD)
            states[f"fitting_err/{side}"] = Stream(ts, h.fitting_err)
            pose = Stream(ts, h.pose, unit="axis_angle")
            mano = ManoParams(wrist, pose, h.shape, mano_dir, MAKERS["arctic"])
            sig.hands[hand] = HandTrack(mano=mano)
        obj = seq.split("_")[0]  # the maker's object name (src/arctic/preprocess_dataset.py:106)
        p = sequence.object_params
        states[f"object/{obj}"] = Stream(ts, rotvec_poses(p[:, 1:4], p[:, 4:7] / 1000.0), unit="se3_4x4", frame=WORLD)
        states[f"object/{obj}/articulation"] = Stream(ts, p[:, 0], unit="rad")
        cameras, views = self._cameras(data, subject, seq, sequence, ts, reading)
        parts = seq.split("_")
        return human_episode(
            ref,
            FPS,
            states=states,
            cameras=cameras,
            camera_poses={EGO: camera},
            language=[Language(f"{parts[1]} the {obj}", "instruction")] if len(parts) >= 2 else [],
            metadata={
                "subject": subject,
                "sequence": seq,
                "object": obj,
                "world_up": sequence.body_up.tolist(),
                "world_up_from": "the SMPL-X body's up (global_orient applied to +y), averaged",
                "ego_dist8": sequence.dist8.tolist(),
                "views": views,
            },
            hands=sig,
        )

    def _cameras(
        self, data: Location, subject: str, seq: str, sequence: ArcticSequence, ts: np.ndarray, reading: Reading
    ) -> tuple[dict[str, CameraSource], dict[str, str]]:
        """The egocentric view first, then the allocentric ones whose folders exist; `views` says for each view
        read or not, and why."""
        subj = read_subject(data / "meta" / "misc.json", subject, reading.fail)
        wanted = self.options.cameras
        cameras: dict[str, CameraSource] = {}
        views: dict[str, str] = {}
        n = len(sequence)
        for view in range(ALLOCENTRIC_VIEWS + 1):
            name = EGO if view == 0 else f"view_{view}"
            folder = data / "images" / subject / seq / str(view)
            if wanted is not None and name not in wanted:
                views[name] = "not asked for (option cameras)"
                continue
            if not folder.is_dir():
                views[name] = f"no folder {folder}: not read"
                continue
            # frame i is <i + ioi_offset:05d>.jpg (src/mesh_loaders/arctic.py:104-110), each under the data folder once
            # resolved (`SourceAdapter.inside`): a view linked out is refused
            images = (folder / f"{i + subj.ioi_offset:05d}.jpg" for i in range(n))
            paths = [reading.inside(data, p, "images") for p in images]
            missing = next((p for p in paths if not p.is_file()), None)
            if missing is not None:
                frame, offset = paths.index(missing), subj.ioi_offset
                msg = f"view {view} has no image {missing.name} (frame {frame}, ioi_offset {offset})"
                raise reading.fail(msg, "images", missing)
            if view == 0:
                canonical, K = Camera.head, sequence.K_ego
            else:
                canonical, K = (Camera.third_person if view == 1 else None), subj.intris_mat[view - 1]
            try:
                cameras[name] = ImageFilesCamera(paths, name, canonical, ts, intrinsics=K)
            except ValueError as e:  # the first image unreadable, named
                raise reading.fail(str(e), "images", paths[0]) from e
            views[name] = f"images/{subject}/{seq}/{view}/, {len(paths)} frames from {subj.ioi_offset:05d}.jpg"
        return cameras, views
