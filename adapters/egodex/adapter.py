"""EgoDex (Apple): one HDF5 of ARKit poses plus one egocentric mp4 per episode (`<split>/<task>/<idx>.{hdf5,mp4}`).

| native | canonical | unit, frame | rate |
| --- | --- | --- | --- |
| `<idx>.mp4` | camera `camera` -> `Camera.head` (lazy `VideoFileCamera`) | RGB | 30 fps, pts |
| `camera/intrinsic` (3,3) | `cameras["camera"].intrinsics` | pixels | static |
| `transforms/camera` (T,4,4) | `camera_poses["camera"]`, world_from_camera, OpenCV | `se3_4x4`, `arkit_world` | 30 Hz |
| `transforms/<joint>` (T,4,4) | `states["transforms/<joint>"]`, joint pose | `se3_4x4` (m), `arkit_world` | 30 Hz |
| `confidences/<joint>` (T,) | `states["confidences/<joint>"]` | `0..1` | 30 Hz |
| 21 joints per hand | `states["mano21_keypoints"]` (T,2,21,3), derived, 0 = left | m, `arkit_world` | 30 Hz |
| attr `llm_description`/`2`, `description` | `Language(kind="instruction")`, see `choose_description` | | episode |
| every attribute (`task`, `environment`, ...) | `metadata["attrs"]` | | |

Camera convention (the maker's code, not our reading of docs: Apple's ml-egodex `convert_to_camera_frame` and its
`cv2.projectPoints` drawing, cited in adapters/README.md `egodex`): `transforms/camera` is world_from_camera with
OpenCV axes, x right, y down, looking along +z. `camera/intrinsic` is in pixels of the mp4 (fx = fy = 736.6339,
cx = 960, cy = 540 for 1920x1080). World up = +y (ARKit's gravity-aligned world): on two real episodes
(`tests/adapters/egodex/test_real.py`) the camera's down axis has world y -0.87 and -0.78 (median), wrists below it.

Row i of every pose dataset is frame i of the mp4; EgoDex stores no clock, so timestamps are i / 30 s. Embodiment
`human`, tier `high`. The source has no action field: actions are the hand trajectory itself (derived downstream).

Quirks handled: `confidences/` missing on older episodes (no confidence streams, `metadata["has_confidences"]` False);
older episodes carry `description` instead of the `llm_*` attributes; an mp4 longer than the poses is kept
(`metadata["video_frames"]`), a shorter one refused. An episode without its mp4 is refused, or with the option
`keep_without_video` kept as its hand poses alone: no camera, the camera's poses still framing the hands, said in a
note (`source_no_video`) and `metadata["video_frames"]` None.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import av
import h5py
import numpy as np
from pydantic import Field

from adapters.base import AdapterError, AdapterOptions, EpisodeRef, HandSignals, HandTrack, Language, RawEpisode, Stream
from adapters.cameras import VideoFileCamera
from adapters.hand_reading import HandSource, Reading, human_episode
from adapters.hostile import bounds
from adapters.hostile.h5 import open_h5
from adapters.storage.location import Location
from schemas.canonical import HANDS, MANO21_NAMES, Camera, intrinsics_info
from schemas.tiers import TierVerdict

WORLD = "arkit_world"
CAMERA = "camera"  # native camera name: the mp4, posed by `transforms/camera`
CAMERA_CONVENTION = "opencv"  # `transforms/camera` axes: x right, y down, looking along +z (module docstring)
ARKIT_UP = np.array([0.0, 1.0, 0.0])  # ARKit's world frame is gravity-aligned with +y up
NO_VIDEO = "source_no_video"  # the note of an episode kept without its mp4 (option `keep_without_video`)

# EgoDex joint suffix for each MANO-21 keypoint, in `schemas.canonical.MANO21_NAMES` (OpenPose/MediaPipe) order;
# the hand joint is the wrist and the four non-thumb metacarpals are not used
# (pxxq25/egodex-dexhand-retargeting `src/egodex_dexhand/data.py`).
MANO21_FROM_EGODEX: dict[str, str] = {
    "wrist": "Hand",
    "thumb1": "ThumbKnuckle", "thumb2": "ThumbIntermediateBase", "thumb3": "ThumbIntermediateTip",
    "thumb_tip": "ThumbTip",
    "index1": "IndexFingerKnuckle", "index2": "IndexFingerIntermediateBase", "index3": "IndexFingerIntermediateTip",
    "index_tip": "IndexFingerTip",
    "middle1": "MiddleFingerKnuckle", "middle2": "MiddleFingerIntermediateBase",
    "middle3": "MiddleFingerIntermediateTip", "middle_tip": "MiddleFingerTip",
    "ring1": "RingFingerKnuckle", "ring2": "RingFingerIntermediateBase", "ring3": "RingFingerIntermediateTip",
    "ring_tip": "RingFingerTip",
    "pinky1": "LittleFingerKnuckle", "pinky2": "LittleFingerIntermediateBase",
    "pinky3": "LittleFingerIntermediateTip", "pinky_tip": "LittleFingerTip",
}  # fmt: skip
assert tuple(MANO21_FROM_EGODEX) == MANO21_NAMES

# Per hand (0 = left, 1 = right), the 21 EgoDex joint names in MANO-21 order.
MANO21_JOINTS: tuple[tuple[str, ...], ...] = tuple(
    tuple(f"{side}{MANO21_FROM_EGODEX[k]}" for k in MANO21_NAMES) for side in HANDS
)
REQUIRED = ("camera/intrinsic", "transforms/camera", *(f"transforms/{j}" for hand in MANO21_JOINTS for j in hand))
REQUIRED_GROUPS = tuple(dict.fromkeys(key.split("/")[0] for key in REQUIRED))  # camera, transforms


def mano21_keypoints(transforms: Mapping[str, np.ndarray]) -> np.ndarray:
    """(T,2,21,3) keypoints in the transforms' frame (ARKit world) from `{joint: (T,4,4) world_from_joint}`.

    Index 0 is the left hand, 1 the right; keypoints in `MANO21_NAMES` order; each is the joint's translation.
    """
    hands = [np.stack([np.asarray(transforms[j])[:, :3, 3] for j in joints], axis=1) for joints in MANO21_JOINTS]
    return np.stack(hands, axis=1)


def hand_signals(states: Mapping[str, Stream], camera: Stream | None) -> HandSignals:
    """Both hands as MANO-21 keypoints in the ARKit world (the wrist frames are built from them, z = wrist -> middle
    knuckle, as for every human source, rather than from ARKit's own joint axes; the raw transforms stay in the
    natives), each with its tracking confidence, and the moving camera (OpenCV axes) with up = +y for decoupling; no
    gripper."""
    sig = HandSignals(
        frame=WORLD, apply_offset=False, up_world=ARKIT_UP, camera=camera, camera_convention=CAMERA_CONVENTION
    )
    # 68 joints x 16 values would swamp the native vector: keep the wrists and their tracking confidence
    sig.native_state_keys = [
        k for side in ("left", "right") for k in (f"transforms/{side}Hand", f"confidences/{side}Hand") if k in states
    ]
    kp = states.get("mano21_keypoints")
    for hand, side in ((0, "left"), (1, "right")):
        track = HandTrack(confidence=states.get(f"confidences/{side}Hand"))
        if kp is not None:
            track.keypoints = Stream(kp.timestamps, kp.values[:, hand].astype(np.float64), unit="m", frame=kp.frame)
        sig.hands[hand] = track
    return sig


class EgoDexOptions(AdapterOptions):
    unread = frozenset({"check_on_discover"})  # where a broken HDF5 is caught (discovery or read), not whether
    fps: float = Field(30.0, gt=0, description="rate of the pose rows and video frames (EgoDex records at 30 Hz)")
    check_on_discover: bool = Field(
        True, description="open each HDF5 at discovery to check the required groups (metadata only, no datasets)"
    )
    keep_without_video: bool = Field(
        False,
        description="keep an episode whose mp4 is absent as its hand poses alone (no camera; said in a note,"
        " source_no_video); false: such an episode is quarantined",
    )


def _attr(value: Any) -> Any:
    """h5py attribute -> plain Python (str for bytes, list for arrays, scalars unwrapped)."""
    if isinstance(value, bytes | np.bytes_):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, np.ndarray):
        return _attr(value.item()) if value.ndim == 0 else [_attr(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _linked(f: h5py.File, group: str) -> set[str]:
    """The paths `group/<name>` for which `path in f` holds, from one pass over the group's links (testing the 44
    required paths with `in` one by one was ~90 % of an unchanged rerun: BENCHMARKS.md, "Unchanged reruns"). h5py's
    `in` asks that every component before the last resolve and that the last link exist, dangling or not
    (`tests/adapters/egodex/test_adapter.py` holds the two to the same answers, soft links included; a file with an
    external link is refused when it is opened, `adapters/hostile/sealed.py`)."""
    node = f.get(group)  # follows links; None where `group` does not resolve
    if not isinstance(node, h5py.Group):
        return set()
    return {f"{group}/{name.decode('utf-8', 'replace')}" for name in node.id}  # a name not UTF-8 is not required


def choose_description(attrs: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(text, attribute it came from): `llm_description2` when `which_llm_description` is 2, else `llm_description`,
    else the older `description`."""
    which = str(attrs.get("which_llm_description", "1")).strip()
    for key in (("llm_description2",) if which == "2" else ()) + ("llm_description", "description"):
        text = attrs.get(key)
        if isinstance(text, str) and text.strip():
            return text, key
    return None, None


class EgoDexAdapter(HandSource[EgoDexOptions]):
    name: ClassVar[str] = "egodex"
    camera_names: ClassVar[tuple[str, ...] | None] = (CAMERA,)
    expects: ClassVar[str] = "<split>/<task>/<idx>.hdf5 beside <idx>.mp4"

    def refs(self, root: Location) -> Iterator[EpisodeRef]:
        files = sorted((p.relative_to(root).with_suffix("").as_posix(), p) for p in root.rglob("*.hdf5"))
        return (self._ref(raw_id, hdf5) for raw_id, hdf5 in files)

    def _ref(self, raw_id: str, hdf5: Location) -> EpisodeRef:
        mp4 = hdf5.with_suffix(".mp4")
        error: AdapterError | None = None
        try:
            self._video_present(mp4, raw_id)
            if self.options.check_on_discover:
                with self._open(hdf5, raw_id) as f:
                    self._check_groups(f, hdf5, raw_id)
        except AdapterError as e:
            error = e
        return self.new_ref(raw_id, (str(hdf5), str(mp4)), error=error)

    def read(self, ref: EpisodeRef) -> RawEpisode:
        hdf5, mp4 = self.file(ref.paths[0]), self.file(ref.paths[1])
        ep = ref.raw_id
        video = self._video_present(mp4, ep)
        with self._open(hdf5, ep) as f:
            self._check_groups(f, hdf5, ep)
            attrs = {k: _attr(v) for k, v in f.attrs.items()}
            intrinsic = self._dataset(f, "camera/intrinsic", hdf5, ep, shape=(3, 3))
            try:
                intrinsics_info(intrinsic)  # finite, positive focal lengths: what the dataset will carry
            except ValueError as e:
                raise self.error(f"not a pinhole matrix: {e}", file=hdf5, episode=ep, field="camera/intrinsic") from e
            cam_pose = self._dataset(f, "transforms/camera", hdf5, ep, shape=(None, 4, 4))
            n = len(cam_pose)
            transforms = {
                name: self._dataset(f, f"transforms/{name}", hdf5, ep, shape=(n, 4, 4))
                for name in sorted(f["transforms"])
                if name != CAMERA
            }
            names = sorted(f["confidences"]) if "confidences" in f else []
            confidences = {name: self._dataset(f, f"confidences/{name}", hdf5, ep, shape=(n,)) for name in names}
        camera = self._camera(mp4, ep, intrinsic, n) if video else None
        ts = np.arange(n, dtype=np.float64) / self.options.fps
        states = {f"transforms/{k}": Stream(ts, v, unit="se3_4x4", frame=WORLD) for k, v in transforms.items()}
        states |= {f"confidences/{k}": Stream(ts, v, unit="0..1") for k, v in confidences.items()}
        states["mano21_keypoints"] = Stream(ts, mano21_keypoints(transforms), names=MANO21_NAMES, unit="m", frame=WORLD)
        camera_poses = {CAMERA: Stream(ts, cam_pose, unit="se3_4x4", frame=WORLD)}
        text, text_key = choose_description(attrs)
        return human_episode(
            ref,
            self.options.fps,
            states=states,
            cameras={CAMERA: camera} if camera is not None and self._keeps_camera() else {},
            camera_poses=camera_poses,
            language=[Language(text, kind="instruction")] if text else [],
            metadata={
                "attrs": attrs,
                "task": attrs.get("task", Path(ep).parent.name),
                "description_attr": text_key,
                "has_confidences": bool(confidences),
                "pose_frames": n,
                "video_frames": len(camera) if camera is not None else None,
                "mano21_joints": {hand: list(j) for hand, j in zip(HANDS, MANO21_JOINTS, strict=True)},
            },
            hands=hand_signals(states, camera_poses[CAMERA]),
            derived=frozenset({"mano21_keypoints"}),
            verdicts=()
            if video
            else (TierVerdict.note(f"no video: {mp4.name} is absent, poses kept alone", NO_VIDEO),),
        )

    def _keeps_camera(self) -> bool:
        return self.options.cameras is None or CAMERA in self.options.cameras

    def _video_present(self, mp4: Location, ep: str) -> bool:
        """Whether the episode's mp4 is there; its absence is the episode's error unless `keep_without_video`."""
        if mp4.is_file():
            return True
        if not self.options.keep_without_video:
            msg = (
                f"no video beside the poses (expected {mp4.name}); the option keep_without_video keeps the poses alone"
            )
            raise self.error(msg, file=mp4, episode=ep, field="mp4")
        return False

    def _open(self, hdf5: Location, ep: str) -> h5py.File:
        with Reading(self, ep).unreadable("HDF5", "", hdf5):
            return open_h5(hdf5)

    def _check_groups(self, f: h5py.File, hdf5: Location, ep: str) -> None:
        present = set().union(*(_linked(f, group) for group in REQUIRED_GROUPS))
        missing = [key for key in REQUIRED if key not in present]
        if missing:
            more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
            raise self.error(f"missing {missing[0]}{more}", file=hdf5, episode=ep, field=missing[0])

    def _dataset(self, f: h5py.File, key: str, hdf5: Location, ep: str, shape: tuple[int | None, ...]) -> np.ndarray:
        node = f.get(key)
        if not isinstance(node, h5py.Dataset):
            raise self.error(f"{key} is not a dataset", file=hdf5, episode=ep, field=key)
        ok = len(node.shape) == len(shape) and all(w is None or w == s for w, s in zip(shape, node.shape, strict=True))
        if not ok:
            want = "x".join("T" if s is None else str(s) for s in shape)
            raise self.error(f"shape {node.shape}, expected ({want})", file=hdf5, episode=ep, field=key)
        try:  # rows never written, a chunk inflating past its size (`bounds.read_array`)
            return bounds.read_array(node)
        except ValueError as e:
            raise self.error(str(e), file=hdf5, episode=ep, field=key) from e

    def _camera(self, mp4: Location, ep: str, intrinsic: np.ndarray, n: int) -> VideoFileCamera:
        with Reading(self, ep).unreadable("mp4", "video", mp4, (av.FFmpegError, OSError, IndexError)):
            camera = VideoFileCamera(mp4, CAMERA, Camera.head, intrinsics=intrinsic)  # broken container, no stream
        if len(camera) < n:
            raise self.error(f"mp4 has {len(camera)} frames, the poses have {n}", file=mp4, episode=ep, field="video")
        return camera
