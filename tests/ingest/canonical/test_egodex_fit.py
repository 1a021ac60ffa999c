"""EgoDex stored at 224x224 (pad and crop) keeps its geometry: the fixture's frames show a bright spot where Apple's
own projection puts each wrist (`inv(T_world_cam) @ T_world_joint` through `camera/intrinsic`), and after
canonicalize resizes the frames, the canonical wrists seen from the stored camera trajectory through the stored
intrinsics land on those spots in the stored pixels. The QA projection invariant holds on the stored geometry, the
dataset's info.json describes the stored size and intrinsics, and the real lerobot still loads it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from adapters.registry import get_adapter
from adapters.synthetic.egodex import FPS, EgoDexFixture, write_egodex
from adapters.synthetic.video import write_mp4
from ingest.canonical.store import dataset_features
from ingest.episode import CanonicalEpisode
from ingest.lerobot.writer import LeRobotWriter
from ingest.qa.geometry import CameraView, view_fractions
from schemas.camera_model import PinholeCamera
from schemas.canonical import INTRINSICS_KEY, feature_intrinsics, image_key
from schemas.canonicalize import CanonicalizeSpec
from tests.fixtures.episodes import write_episode
from tests.fixtures.offline import prepared

H, W = 180, 320  # 16:9 as the 1920x1080 originals
HEAD = image_key("head")
TRAJ = [f"camera.{c}" for c in ("x", "y", "z", *(f"rot6d_{i}" for i in range(6)))]


def _spots(ep_transforms: dict[str, np.ndarray], K: np.ndarray, t: int) -> np.ndarray:
    """A dark frame with a Gaussian spot (sigma 2.5 px) at each wrist's projection, as Apple's code projects it."""
    y, x = np.mgrid[0:H, 0:W]
    lum = np.full((H, W), 15.0)
    cam_from_world = np.linalg.inv(ep_transforms["camera"][t].astype(np.float64))
    for joint in ("leftHand", "rightHand"):
        p = cam_from_world @ ep_transforms[joint][t].astype(np.float64)[:, 3]
        u, v, z = K @ p[:3]
        lum += 230 * np.exp(-((x - u / z) ** 2 + (y - v / z) ** 2) / (2 * 2.5**2))
    return np.repeat(lum.clip(0, 255)[..., None], 3, axis=2).round().astype(np.uint8)


@pytest.fixture(scope="module")
def raw(tmp_path_factory: pytest.TempPathFactory) -> EgoDexFixture:
    fx = write_egodex(
        tmp_path_factory.mktemp("egodex"), episodes_per_task=1, num_frames=60, height=H, width=W, old_episode=False
    )
    for ep in fx.good:  # the same episodes, filmed with the wrists marked
        K = ep.intrinsic.astype(np.float64)
        write_mp4(ep.mp4, (_spots(ep.transforms, K, t) for t in range(ep.video_frames)), FPS, crf=8, gop=15)
    return fx


def _episodes(raw: EgoDexFixture, image: dict) -> list[CanonicalEpisode]:
    adapter = get_adapter("egodex")
    spec = CanonicalizeSpec(min_episode_s=0.3, image=image)
    return [ep for ref in adapter.discover(raw.root) for ep in prepared(adapter.read(ref), spec)]


def _wrist_pixels(ep: CanonicalEpisode) -> tuple[np.ndarray, CameraView]:
    """(N, 2, 2) pixel (u, v) of each wrist in the stored frames, from canonical arrays and the stored camera."""
    cam = ep.cameras["head"]
    cols = [ep.natives.state_names.index(c) for c in TRAJ]
    view = CameraView.from_trajectory(PinholeCamera.from_matrix(cam.intrinsics, cam.shape), ep.natives.state[:, cols])
    p = view.points_in_camera(ep.keypoints[:, :, 0].astype(np.float64))  # (N, 2, 3) wrists in the camera frame
    return view.lens.project(p), view


def _spot_near(img: np.ndarray, u: float, v: float, r: int = 6) -> tuple[float, float]:
    y0, x0 = round(float(v)) - r, round(float(u)) - r
    win = np.clip(img[y0 : y0 + 2 * r + 1, x0 : x0 + 2 * r + 1, 1].astype(np.float64) - 60, 0, None)
    yy, xx = np.mgrid[0 : win.shape[0], 0 : win.shape[1]]
    return float((win * xx).sum() / win.sum()) + x0, float((win * yy).sum() / win.sum()) + y0


@pytest.mark.parametrize("fit", ["pad", "crop"])
def test_stored_intrinsics_put_the_wrists_on_their_spots(raw: EgoDexFixture, fit: str) -> None:
    checked = 0
    for ep in _episodes(raw, {"size": "224x224", "fit": fit}):
        uv, _ = _wrist_pixels(ep)
        for k, img in enumerate(ep.cameras["head"].frames()):
            assert img.shape == (224, 224, 3)
            for hand in (0, 1):
                u, v = uv[k, hand]
                if not (8 <= u < 216 and 8 <= v < 216):
                    continue  # cropped away (or at the edge): nothing to find
                cu, cv = _spot_near(img, u, v)
                assert abs(cu - u) < 0.6 and abs(cv - v) < 0.6, (ep.uid, k, hand, (cu, cv), (u, v))
                checked += 1
    assert checked >= 20


def test_the_qa_projection_invariant_holds_on_the_stored_geometry(raw: EgoDexFixture) -> None:
    native = _episodes(raw, {})
    padded = _episodes(raw, {"size": "224x224", "fit": "pad"})
    cropped = _episodes(raw, {"size": "224x224", "fit": "crop"})
    for a, b, c in zip(native, padded, cropped, strict=True):
        assert a.qa.hands_in_image == b.qa.hands_in_image == 1.0  # pad keeps the whole picture
        # the crop's QA counts what the stored (cropped) frames show: every keypoint through the stored camera
        _, view = _wrist_pixels(c)
        pts = view.points_in_camera(c.keypoints.astype(np.float64)).reshape(c.num_frames, -1, 3)
        _, in_image = view_fractions(pts, np.ones(pts.shape[:2], bool), view.lens)
        assert c.qa.hands_in_image == in_image


@pytest.fixture(scope="module")
def dataset(raw: EgoDexFixture, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[CanonicalEpisode]]:
    eps = _episodes(raw, {"size": "224x224", "fit": "pad"})
    root = tmp_path_factory.mktemp("stored") / "egodex"
    with LeRobotWriter.create(root, fps=10, features=dataset_features(eps[0]), robot_type=eps[0].embodiment) as w:
        for ep in eps:
            write_episode(w, ep)
    return root, eps


def test_info_json_describes_the_stored_frames(dataset: tuple[Path, list[CanonicalEpisode]]) -> None:
    root, eps = dataset
    head = json.loads((root / "meta/info.json").read_text())["features"][HEAD]
    assert head["shape"] == [224, 224, 3]
    assert head["info"]["video.height"] == head["info"]["video.width"] == 224
    np.testing.assert_allclose(feature_intrinsics(head["info"]), eps[0].cameras["head"].intrinsics, rtol=1e-9)
    fx = eps[0].cameras["head"].source.intrinsics[0, 0]
    assert feature_intrinsics(head["info"])[0, 0] == pytest.approx(fx * 224 / W)


@pytest.mark.oracle
def test_lerobot_loads_the_stored_size(dataset: tuple[Path, list[CanonicalEpisode]], run_oracle) -> None:
    root, _ = dataset
    out = run_oracle("load", root, "--items", "0")
    assert out["video_keys"] == [HEAD]
    assert out["features"][HEAD]["shape"] == [224, 224, 3]
    assert len(out["features"][HEAD]["info"][INTRINSICS_KEY]) == 3
