"""The hand projection check (`ingest/qa/projection.py`): keypoints in front of the camera and inside its picture,
through whichever lens model the camera has (pinhole, Kannala-Brandt, FISHEYE624), and episodes flagged (tier low) when
their hands fall outside the picture or their hand samples run past the video.

Measured here, the figures of projection.py's docstring: false positives on the real VITRA Ego4D episode and the
real HOT3D Aria and Quest 3 sequences (whose projected hands also land in the maker's own 2D hand boxes), and on the
HOT3D fixture through its FISHEYE624 lens: none flagged; recall on planted defects: hands shifted 1 m sideways,
VITRA's 1440x1080 intrinsics unscaled on the 480x368 mp4, a video cut to 18 of its 25 frames, HOT3D's 1408 px sensor
calibration on its 352 px stream, a wide-angle hand seen through a fisheye read as a pinhole: each flagged. Not
flagged, said: a wrong distortion coefficient that keeps the hands in the picture (HOT3D's k0 of the wrong sign: out
of the maker's boxes by 45 px on the real sequence, inside the picture)."""

from __future__ import annotations

import copy
import csv
import dataclasses
from pathlib import Path

import numpy as np
import pytest

from adapters.aria import read_aria_calibration
from adapters.egovideo.intrinsics import parse_intrinsics
from adapters.hot3d.files import read_quest_calibration
from adapters.pickles import unpickle_npy
from adapters.poses import se3
from adapters.registry import get_adapter
from adapters.storage.location import locate
from adapters.synthetic.egovideo import BUILDAI_INTRINSICS
from adapters.synthetic.hot3d import write_hot3d
from ingest.episode import CanonicalEpisode
from ingest.frames import pose_to_pos_rot6d
from ingest.qa.dataset import episode_verdicts
from ingest.qa.geometry import measure
from ingest.qa.projection import CameraView, view_fractions
from schemas.camera_model import CameraModel, Fisheye624Camera, PinholeCamera
from schemas.canonicalize import CanonicalizeSpec
from schemas.qa import QAConfig, QARecord
from tests.fixtures.offline import prepared
from tests.needs import tool_missing
from tests.realdata import realdata
from tests.schemas.test_camera_model import MAKER_TEST

PIN = PinholeCamera(width=320, height=240, fx=200.0, fy=200.0, cx=160.0, cy=120.0)
# A camera at the reference origin looking along +x (the wearer's heading), OpenCV axes: x_cam = -y, y_cam = -z.
LOOK_FORWARD = np.array([[0.0, 0, 1], [-1, 0, 0], [0, -1, 0]])
FLAGS = {"qa_hands_in_image", "qa_hands_past_video"}
VITRA_EPISODE = "vitra_ego4d_example/annotations/Ego4D_03cc49c3-a7d1-445b-9a2a-545c4fae6843_ep_example.npy"


# -- hands in view, any lens ----------------------------------------------------------------------------------------


def test_points_in_front_and_inside_the_image() -> None:
    pts = np.array([[[0.0, 0.0, 0.5], [0.05, 0.05, 0.5]]])  # near the optical axis, 0.5 m ahead
    assert view_fractions(pts, np.ones((1, 2), bool), PIN) == (1.0, 1.0)


def test_a_hand_behind_the_camera_is_neither_in_front_nor_in_the_image() -> None:
    pts = np.array([[[0.0, 0.0, -0.5], [0.05, 0.05, -0.5]]])
    assert view_fractions(pts, np.ones((1, 2), bool), PIN) == (0.0, 0.0)


def test_a_hand_in_front_but_far_off_axis_projects_outside_the_image() -> None:
    pts = np.array([[[1.0, 0.0, 0.5], [1.1, 0.0, 0.5]]])  # u = 200 * 2 + 160 = 560 > 320
    assert view_fractions(pts, np.ones((1, 2), bool), PIN) == (1.0, 0.0)


def test_untracked_points_do_not_count() -> None:
    pts = np.array([[[0.0, 0.0, 0.5]], [[0.0, 0.0, -0.5]]])
    assert view_fractions(pts, np.array([[True], [False]]), PIN) == (1.0, 1.0)
    assert view_fractions(pts, np.zeros((2, 1), bool), PIN) == (None, None)


def test_a_hand_ahead_of_the_wearer_is_in_front_of_a_forward_looking_camera() -> None:
    camera = CameraView(PIN, se3(LOOK_FORWARD, np.zeros(3))[None])
    ahead = camera.points_in_camera(np.array([[[0.4, 0.0, -0.2]]]))  # 40 cm ahead, 20 cm below the eyes
    behind = camera.points_in_camera(np.array([[[-0.4, 0.0, -0.2]]]))
    np.testing.assert_allclose(ahead, [[[0.0, 0.2, 0.4]]], atol=1e-12)  # below = +y in OpenCV axes
    assert view_fractions(ahead, np.ones((1, 1), bool), PIN) == (1.0, 1.0)
    assert view_fractions(behind, np.ones((1, 1), bool), PIN) == (0.0, 0.0)


def test_camera_view_from_a_stored_trajectory_skips_degenerate_poses() -> None:
    traj = np.stack([pose_to_pos_rot6d(se3(LOOK_FORWARD, np.zeros(3))), np.zeros(9)])
    view = CameraView.from_trajectory(PIN, traj, 0.25)
    pts = view.points_in_camera(np.array([[[0.4, 0.0, -0.2]], [[0.4, 0.0, -0.2]]]))
    assert np.isfinite(pts[0]).all() and np.isnan(pts[1]).all()  # no pose, no point: `measure` skips that frame
    assert view.hands_past_video == 0.25


def _wide_hand(deg: float) -> np.ndarray:
    """(1, 21, 3) camera-frame points of a hand 0.4 m away, `deg` degrees to the right of the axis, 3 cm across."""
    a = np.radians(deg + np.linspace(-2.0, 2.0, 21))
    return 0.4 * np.stack([np.sin(a), np.zeros(21), np.cos(a)], axis=-1)[None]


@pytest.mark.parametrize(
    "fisheye",
    [
        parse_intrinsics(BUILDAI_INTRINSICS),  # Egocentric-10K's card: Kannala-Brandt, 456x256
        Fisheye624Camera.from_params(MAKER_TEST, 640, 480),  # projectaria_tools' own test parameters
    ],
    ids=["kannala_brandt", "fisheye624"],
)
def test_the_lens_model_decides_what_is_in_the_picture(fisheye: CameraModel) -> None:
    """A hand 60 degrees to the right is in a fisheye's picture; read through a pinhole of the same matrix (the
    coefficients dropped: a wrong fisheye model) it is not, and the episode is flagged."""
    pts, valid = _wide_hand(60.0), np.ones((1, 21), bool)
    assert view_fractions(pts, valid, fisheye) == (1.0, 1.0)
    pinhole = PinholeCamera.from_matrix(fisheye.K(), (fisheye.height, fisheye.width))
    assert view_fractions(pts, valid, pinhole) == (1.0, 0.0)
    rec = QARecord(hands_in_front=1.0, hands_in_image=0.0)
    assert {v.code for v in episode_verdicts(rec, QAConfig())} == {"qa_hands_in_image"}


# -- the real VITRA episode and its planted defects ------------------------------------------------------------------


def _judged(ep: CanonicalEpisode, keypoints: np.ndarray | None = None, lens: CameraModel | None = None):
    """(record, flag codes) of `ep` measured again with other keypoints or another lens."""
    assert ep.evidence is not None and ep.evidence.camera is not None
    cam = ep.evidence.camera
    view = CameraView.from_trajectory(lens or cam.lens, cam.trajectory, cam.hands_past_video)
    kp = ep.keypoints if keypoints is None else keypoints
    rec = measure(ep.state, ep.action, kp, ep.mask, limits=ep.evidence.limits, config=QAConfig(), camera=view)
    return rec, {v.code for v in episode_verdicts(rec, QAConfig())}


@pytest.fixture(scope="module")
def vitra_raw():
    adapter = get_adapter("vitra")
    (ref,) = adapter.discover(realdata("vitra_ego4d_example"))
    return adapter.read(ref)


@pytest.fixture(scope="module")
def vitra(vitra_raw) -> CanonicalEpisode:
    (ep,) = prepared(vitra_raw, CanonicalizeSpec())
    return ep


def test_the_real_vitra_episode_is_not_flagged(vitra: CanonicalEpisode) -> None:
    assert vitra.qa is not None and vitra.evidence is not None and vitra.evidence.camera is not None
    assert vitra.evidence.camera.lens.model == "pinhole" and vitra.evidence.camera.lens.width == 480
    assert (vitra.qa.hands_in_front, vitra.qa.hands_in_image, vitra.qa.hands_past_video) == (1.0, 1.0, 0.0)
    assert not {v.code for v in vitra.verdicts} & FLAGS and vitra.tier.value == "high"


def test_hands_shifted_out_of_view_are_flagged(vitra: CanonicalEpisode) -> None:
    shifted = vitra.keypoints + np.array([0.0, 1.0, 0.0], np.float32)  # 1 m to the wearer's left
    rec, flags = _judged(vitra, keypoints=shifted)
    assert rec.hands_in_image == 0.0 and flags == {"qa_hands_in_image"}


def test_intrinsics_of_another_resolution_are_flagged(vitra: CanonicalEpisode) -> None:
    """VITRA's K is for a 1440x1080 undistorted video; left unscaled on the 480x368 mp4 its principal point (720,
    540) lies outside the picture and the hands with it."""
    K = unpickle_npy(realdata(VITRA_EPISODE).read_bytes())["intrinsics"]
    rec, flags = _judged(vitra, lens=PinholeCamera.from_matrix(K, (368, 480)))
    assert rec.hands_in_image == 0.0 and flags == {"qa_hands_in_image"}


def test_hand_frames_past_the_end_of_the_video_are_flagged(vitra_raw) -> None:
    """The mp4 cut to its first 18 frames while the annotation runs to frame 24: the episode stops with the video
    (6 grid frames), 6 of the 25 hand samples lie past it, and the judging step lowers it to low saying so."""
    name, cam = next(iter(vitra_raw.cameras.items()))
    short = copy.copy(cam)
    short.timestamps = cam.timestamps[:18]
    (ep,) = prepared(dataclasses.replace(vitra_raw, cameras={name: short}), CanonicalizeSpec())
    assert ep.num_frames == 6 and ep.qa is not None and ep.qa.hands_past_video == pytest.approx(6 / 25)
    (flag,) = [v for v in ep.verdicts if v.code in FLAGS]
    assert flag.code == "qa_hands_past_video" and flag.tier.value == "low" and "24% of the hand samples" in flag.reason
    assert ep.tier.value == "low"


# -- HOT3D through its FISHEYE624 lens -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hot3d(tmp_path_factory: pytest.TempPathFactory) -> CanonicalEpisode:
    try:
        import projectaria_tools  # noqa: F401
    except ImportError:
        tool_missing("projectaria-tools", "make venv installs it (pip install --no-deps projectaria-tools==2.3.0)")
    fx = write_hot3d(Path(tmp_path_factory.mktemp("hot3d_view")) / "h", video=True)
    adapter = get_adapter("hot3d")
    seq = next(s for s in fx.good if s.headset == "Aria")
    (ep,) = prepared(adapter.read(next(r for r in adapter.discover(fx.root) if r.raw_id == seq.raw_id)))
    return ep


def test_hot3d_hands_through_the_fisheye_are_not_flagged_and_a_wrong_calibration_is(hot3d: CanonicalEpisode) -> None:
    assert hot3d.evidence is not None and hot3d.evidence.camera is not None
    lens = hot3d.evidence.camera.lens
    assert isinstance(lens, Fisheye624Camera) and (lens.width, lens.height) == (352, 352)
    assert (hot3d.qa.hands_in_image, hot3d.qa.hands_past_video) == (1.0, 0.0)
    assert not {v.code for v in hot3d.verdicts} & FLAGS
    # planted: the 1408 px sensor's calibration on the 352 px stream (focal length and principal point 4x)
    sensor = lens.model_construct(
        **{**lens.model_dump(), **{k: 4 * getattr(lens, k) for k in ("fx", "fy", "cx", "cy")}}
    )
    rec, flags = _judged(hot3d, lens=sensor)
    assert rec.hands_in_image == 0.0 and flags == {"qa_hands_in_image"}
    # said, not caught: k0 of the wrong sign moves these hands (12-21 degrees off axis) by pixels, not out of view
    flipped = lens.model_copy(update={"k0": -lens.k0})
    rec, flags = _judged(hot3d, lens=flipped)
    assert rec.hands_in_image == 1.0 and not flags


# -- HOT3D's real sequences: their hands through the real calibrations, against the maker's hand boxes ---------------

HOT3D = "hot3d_data_sample"
# sequence -> (the camera the ground truth poses, its stream in box2d_hands.csv, its picture's width and height): Aria
# camera-rgb at 1408 px (MPS calibrates the recorded stream), Quest 3 camera-slam-left at camera_models.json's size
HOT3D_CAMERAS = {
    "P0003_c701bd11": ("camera-rgb", "214-1", 1408, 1408),
    "P0002_273c2819": ("camera-slam-left", "1201-1", 1280, 1024),
}


@pytest.fixture(scope="module")
def hot3d_real() -> dict:
    """Sequence -> (the raw episode the adapter reads: UmeTrack hands, no video; its camera's lens from the sequence's
    calibration file; the maker's 2D hand boxes of that camera's stream by (hand, time stamp))."""
    adapter = get_adapter("hot3d")
    out = {}
    for ref in adapter.discover(realdata(HOT3D)):
        _, stream, w, h = HOT3D_CAMERAS[ref.raw_id]
        seq = realdata(f"{HOT3D}/{ref.raw_id}")
        quest = (seq / "camera_models.json").is_file()
        calib = (
            read_quest_calibration(locate(seq / "camera_models.json"))
            if quest
            else read_aria_calibration(locate(seq / "mps/slam/online_calibration.jsonl"))
        )
        boxes = {}
        with (seq / "box2d_hands.csv").open() as f:
            for row in csv.DictReader(f):
                if row["stream_id"] == stream and row["x_min[pixel]"]:
                    keys = ("x_min[pixel]", "x_max[pixel]", "y_min[pixel]", "y_max[pixel]")
                    boxes[(int(row["hand_index"]), int(row["timestamp[ns]"]))] = [float(row[k]) for k in keys]
        out[ref.raw_id] = (adapter.read(ref), calib.lens(w, h), boxes)
    return out


def _box_check(raw, label: str, boxes: dict, lens: CameraModel) -> tuple[int, float, float, float]:
    """(frames compared, in the image, smallest IoU, largest overhang in px) of a sequence's hands projected through
    `lens` at the camera's pose: each frame's keypoints' bounding box against the maker's box at the same stamp."""
    cam, t0 = raw.camera_poses[label], raw.metadata["start_timestamp_ns"]
    ious, overhang, inside = [], [], []
    for hand, side in enumerate(("left", "right")):
        kp = raw.states[f"mano21_keypoints/{side}"]
        k_cam = np.searchsorted(cam.timestamps, kp.timestamps)
        assert np.array_equal(cam.timestamps[k_cam], kp.timestamps)  # hands and headset share the GT stamps
        pts = CameraView(lens, cam.values[k_cam]).points_in_camera(kp.values)
        inside.append(view_fractions(pts, np.ones(pts.shape[:2], bool), lens)[1])
        uv = lens.project(pts)
        for k, ns in enumerate(np.round(kp.timestamps * 1e9).astype(np.int64) + t0):
            if (b := boxes.get((hand, int(ns)))) is None:
                continue
            p = [uv[k, :, 0].min(), uv[k, :, 0].max(), uv[k, :, 1].min(), uv[k, :, 1].max()]
            inter = max(0, min(p[1], b[1]) - max(p[0], b[0])) * max(0, min(p[3], b[3]) - max(p[2], b[2]))
            ious.append(inter / ((p[1] - p[0]) * (p[3] - p[2]) + (b[1] - b[0]) * (b[3] - b[2]) - inter))
            overhang.append(max(b[0] - p[0], p[1] - b[1], b[2] - p[2], p[3] - b[3]))
    return len(ious), min(inside), min(ious), max(overhang)


@pytest.mark.parametrize(("raw_id", "frames"), [("P0003_c701bd11", 68), ("P0002_273c2819", 30)])
def test_real_hot3d_hands_through_their_fisheye_land_in_the_makers_boxes(hot3d_real, raw_id: str, frames: int) -> None:
    """Each real sequence's FISHEYE624 calibration (Aria camera-rgb, 15 values, 1408 px; Quest 3 camera-slam-left, 16
    values, 1280x1024) puts every hand's keypoints inside the picture (not flagged) and inside the maker's own hand box
    of that frame (IoU 0.6 at least: the maker's box is the hand mesh's, a little wider than its joints). Read as a
    pinhole of the same matrix they overhang the boxes by 21 px (Quest 3) to 56 px (Aria)."""
    raw, lens, boxes = hot3d_real[raw_id]
    label = HOT3D_CAMERAS[raw_id][0]
    n, in_image, iou, overhang = _box_check(raw, label, boxes, lens)
    assert (n, in_image) == (frames, 1.0) and iou > 0.6 and overhang < 1.0
    assert _box_check(raw, label, boxes, PinholeCamera.from_matrix(lens.K(), (lens.height, lens.width)))[3] > 20


def test_a_wrong_fisheye_coefficient_on_real_hot3d_leaves_the_boxes_not_the_picture(hot3d_real) -> None:
    """Planted on the real Aria sequence: k0 of the wrong sign puts its hands 45 px outside the maker's boxes (IoU
    0.05) yet inside the picture, so the in-picture check does not flag it (said in projection.py)."""
    raw, lens, boxes = hot3d_real["P0003_c701bd11"]
    _, in_image, iou, overhang = _box_check(raw, "camera-rgb", boxes, lens.model_copy(update={"k0": -lens.k0}))
    assert in_image == 1.0 and iou < 0.1 and overhang > 40
