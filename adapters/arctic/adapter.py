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
common/viewer.py:142-145). Files and conventions are the maker's (`adapters/arctic/files.py` cites them); the MANO
hand as ARCTIC's layer poses it is `schemas.mano` (`MAKERS["arctic"]`), checked against ARCTIC's own code, run:
tests/adapters/arctic/test_maker_code.py. The egocentric camera is world-to-camera in OpenCV axes: the maker projects
with `K @ p` and divides by z (common/transforms.py:316-329). Its images carry the lens distortion `dist8` (the
maker's ego crops come from the distorted projection, src/arctic/processing.py:348-352); K is the undistorted
pinhole, kept as the camera's intrinsics (an image point near the border is off by the distortion).

The world is the capture's; its up axis is the SMPL-X body's up (`files.body_up`, an assumption). No per-hand
validity is given in `raw_seqs` (the maker's `left_valid` / `right_valid` are per view in its processed splits): both
hands are kept in every frame. MANO only (`hand_reading.ManoOnlyOptions`). Embodiment `human`, tier `high`.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from adapters.arctic.files import ALLOCENTRIC_VIEWS, SIDES, SUFFIXES, ArcticSequence, read_sequence, read_subject
from adapters.base import CameraSource, EpisodeRef, HandSignals, HandTrack, Language, ManoParams, RawEpisode, Stream
from adapters.cameras import ImageFilesCamera
from adapters.hand_reading import HandSource, ManoOnlyOptions, Reading, human_episode, natural_order
from adapters.poses import rotvec_poses
from adapters.storage.location import Location
from schemas.canonical import Camera
from schemas.mano import MAKERS

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
