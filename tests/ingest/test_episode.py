"""The canonical episode handed to the writer: a resampled camera shows source frame `indices[k]` at grid frame k,
decoding each wanted source frame once, at the stored size with intrinsics that follow it; and the episode's derived
properties (raw uid of a cut span, frame count, action and hands present)."""

from __future__ import annotations

from collections.abc import Iterator

import cv2
import numpy as np
import pytest

from adapters.cameras import EncodedImagesCamera
from ingest.episode import CanonicalEpisode, ResampledCamera
from schemas.image_size import FrameFit
from tests.fixtures.episodes import whole_evidence

H, W = 24, 32
K = np.array([[30.0, 0.0, 15.5], [0.0, 30.0, 11.5], [0.0, 0.0, 1.0]])


class CountingCamera(EncodedImagesCamera):
    """PNG frames (lossless: frame i is grey level 10 i), remembering which frames each iteration asked for."""

    def __init__(self, n: int) -> None:
        pngs = [cv2.imencode(".png", np.full((H, W, 3), 10 * i, np.uint8))[1].tobytes() for i in range(n)]
        super().__init__(pngs, "head", "head", np.arange(n) / 10.0, intrinsics=K)
        self.asked: list[list[int] | None] = []

    def frames(self, indices: list[int] | None = None, fit: FrameFit | None = None) -> Iterator[tuple[int, np.ndarray]]:
        self.asked.append(indices)
        yield from super().frames(indices, fit)


def test_grid_frames_repeat_and_skip_source_frames_decoding_each_once() -> None:
    cam = CountingCamera(8)
    indices = np.array([0, 0, 1, 1, 3, 3, 3, 7])  # an up-sampled start, a gap, a jump
    frames = list(ResampledCamera(cam, indices).frames())
    assert [int(f[0, 0, 0]) // 10 for f in frames] == indices.tolist()
    assert cam.asked == [[0, 1, 3, 7]]
    assert all(f.shape == (H, W, 3) for f in frames)


def test_native_size_keeps_the_sources_intrinsics() -> None:
    cam = ResampledCamera(CountingCamera(2), np.array([0, 1]))
    assert cam.shape == (H, W)
    np.testing.assert_array_equal(cam.intrinsics, K)
    cam.source.intrinsics = None
    assert cam.intrinsics is None


@pytest.mark.parametrize("fit", ["squash", "pad", "crop"])
def test_a_fitted_camera_yields_the_stored_size_and_maps_its_intrinsics(fit: str) -> None:
    plan = FrameFit.make((H, W), (16, 16), fit)
    cam = ResampledCamera(CountingCamera(3), np.array([2, 0]), plan)
    frames = list(cam.frames())
    assert cam.shape == (16, 16) and all(f.shape == (16, 16, 3) for f in frames)
    # a point's projection moves with the pixels: K' = A K, A the source -> stored pixel map
    point = np.array([0.1, -0.05, 1.0])
    u, v, _ = K @ point
    u2, v2, _ = cam.intrinsics @ point
    np.testing.assert_allclose(plan.pixel_map @ [u, v, 1.0], [u2, v2, 1.0])


def _episode(uid: str, n: int, mask_dims: int, hands: bool) -> CanonicalEpisode:
    mask = np.zeros(50, bool)
    mask[:mask_dims] = True
    keypoints = np.zeros((n, 2, 21, 3), np.float32)
    keypoints[:, 1, 0, 2] = 0.3 if hands else 0.0
    return CanonicalEpisode(
        uid=uid,
        source="droid",
        subset="main",
        raw_id="ep_1",
        raw_path="/raw/droid/ep_1",
        embodiment="franka",
        mask=mask,
        timestamps=np.arange(n) / 15.0,
        state=np.zeros((n, 50), np.float32),
        action=np.zeros((n, 50), np.float32),
        keypoints=keypoints,
        interpolated=np.zeros(n, bool),
        cameras={},
        task="pick",
        verdicts=(),
        native_fps=15.0,
        success=None,
        evidence=whole_evidence(n),
        hand_valid=np.zeros((n, 2), bool),
    )


def test_derived_properties() -> None:
    ep = _episode("droid/main/ep_1#span1", 12, 10, hands=False)
    assert ep.raw_uid == "droid/main/ep_1" and ep.num_frames == 12 and ep.has_action and not ep.has_hands
    ep = _episode("ego/clips/ep_1", 3, 0, hands=True)
    assert ep.raw_uid == "ego/clips/ep_1" and not ep.has_action and ep.has_hands
