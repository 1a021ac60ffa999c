"""The report's keypoint strips on EgoDex ingested end to end (fixture written the way Apple's code reads it ->
adapter -> canonicalize -> writer): the keypoints land on the frames, in front of the camera and inside the image,
with the camera trajectory and intrinsics the dataset itself stores; the raw files are gone before the report runs."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from adapters.registry import get_adapter
from adapters.synthetic.egodex import EgoDexFixture, write_egodex
from ingest.canonical.store import dataset_features
from ingest.lerobot.writer import LeRobotWriter
from jobs.report.data import dataset_view, frame_strip
from jobs.report.keypoints import camera_trajectory, drawable_keypoints, project, stored_lens
from schemas.camera_model import Fisheye624Camera, PinholeCamera
from schemas.canonical import camera_model_info
from schemas.canonicalize import CanonicalizeSpec
from schemas.lerobot import InfoJson
from schemas.lerobot_features import FeatureSpec
from tests.fixtures.episodes import write_episode
from tests.fixtures.offline import prepared
from tests.schemas.test_camera_model import MAKER_TEST

HEIGHT, WIDTH = 96, 128


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, EgoDexFixture]:
    base = tmp_path_factory.mktemp("egodex")
    raw = write_egodex(base / "raw", episodes_per_task=1, num_frames=60, height=HEIGHT, width=WIDTH, old_episode=False)
    adapter = get_adapter("egodex")
    episodes = [ep for ref in adapter.discover(raw.root) for ep in prepared(adapter.read(ref), CanonicalizeSpec())]
    root = base / "corpus"
    dataset = root / "datasets/egodex/default"
    with LeRobotWriter.create(dataset, fps=10, features=dataset_features(episodes[0]), robot_type="human") as w:
        for ep in episodes:
            write_episode(w, ep)
    shutil.rmtree(raw.root)  # nothing may re-open the raw files
    return root, raw


def test_strip_is_projected_with_what_the_dataset_stores(corpus: tuple[Path, EgoDexFixture]) -> None:
    root, _ = corpus
    strip = frame_strip(dataset_view(root, "datasets/egodex/default", first=1), count=6)
    assert strip is not None and strip.method == "projected", strip.note if strip else None
    assert strip.hands == [0, 1] and "in info.json" in strip.note
    uv = np.stack(strip.projected)  # (frames, 2 hands, 21, 2)
    inside = (uv[..., 0] >= 0) & (uv[..., 0] < WIDTH) & (uv[..., 1] >= 0) & (uv[..., 1] < HEIGHT)
    assert inside.all(axis=(1, 2)).mean() >= 0.9  # every keypoint of both hands on the image, in most frames
    # the left hand on the left of the image, the right on the right
    assert np.median(uv[:, 0, :, 0]) < WIDTH / 2 < np.median(uv[:, 1, :, 0])


def test_every_frame_of_every_episode_projects_in_front(corpus: tuple[Path, EgoDexFixture]) -> None:
    root, _ = corpus
    ds = dataset_view(root, "datasets/egodex/default", first=1000)
    for i in range(len(ds.episodes)):
        cols = ds.columns(i, ["observation.hand_keypoints", "observation.state.native"])
        kp = cols["observation.hand_keypoints"].reshape(-1, 2, 21, 3)
        cams = camera_trajectory(ds.info, cols["observation.state.native"])
        lens, _ = stored_lens(ds.info, "observation.images.head", (WIDTH, HEIGHT))
        assert lens is not None
        front = [project(kp[t].reshape(-1, 3), cams[t], lens)[1].all() for t in range(len(kp))]
        assert np.mean(front) == 1.0


def test_a_fisheye_camera_is_drawn_through_its_lens_model() -> None:
    """A camera feature whose info carries a FISHEYE624 lens (as HOT3D's Aria RGB camera is written) and no pinhole
    matrix: the strip projects through that model, scaled to the decoded frames; a hand 60 degrees off axis lands
    inside the picture, where the same matrix as a pinhole would put it outside."""
    lens = Fisheye624Camera.from_params(MAKER_TEST, 640, 480)
    feature = FeatureSpec(dtype="video", shape=(480, 640, 3), info=camera_model_info(lens))
    info = InfoJson(fps=10, features={"observation.images.head": feature})
    half, where = stored_lens(info, "observation.images.head", (320, 240))
    assert half == lens.resized((240, 320)) and "(fisheye624) (640x480 -> 320x240)" in where
    ray = np.array([[np.sin(np.pi / 3), 0.0, np.cos(np.pi / 3)]])
    uv, front = project(ray, np.eye(4), half)
    assert front.all() and 0 <= uv[0, 0] < 320
    assert project(ray, np.eye(4), PinholeCamera.from_matrix(half.K(), (240, 320)))[0][0, 0] >= 320
    assert stored_lens(InfoJson(fps=10, features={}), "observation.images.head", (320, 240))[0] is None


def test_a_hands_untracked_frames_are_not_drawn() -> None:
    """A hand stored as 0 where `observation.hand_valid` says untracked is NaN to the drawing (not a hand at the
    camera's origin); the other hand in that frame, and datasets without the column, are drawn as stored."""
    kp = np.ones((3, 2, 21, 3))
    kp[1, 0] = 0.0
    valid = np.array([[True, True], [False, True], [True, True]])
    out = drawable_keypoints(InfoJson(fps=10, features={}), kp, valid)
    assert np.isnan(out[1, 0]).all() and np.isfinite(np.delete(out.reshape(6, -1), 2, axis=0)).all()
    assert np.array_equal(drawable_keypoints(InfoJson(fps=10, features={}), kp), kp)
