"""VITRA episodes written in the maker's layout for each of its four datasets (`adapters.synthetic.vitra`), read back
by the `vitra` adapter with the default spec: each video found where its users keep it, frames by
`video_decode_frame` (an episode starting at frame 30 shows frame 30), intrinsics scaled to the video, and the hand
invariants: both hands ahead of the wearer, below the eyes, the left one on the left, human-sized."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from adapters.registry import get_adapter
from adapters.synthetic.video import synthetic_frame
from adapters.synthetic.vitra import VitraEpisodeSpec, write_vitra
from ingest.canonical.canonicalize import canonicalize_spans
from ingest.episode import CanonicalEpisode
from ingest.steps import prepared
from schemas.canonical import MANO21_NAMES, WRIST_POS, hand_dims
from schemas.canonicalize import CanonicalizeSpec

LEFT, RIGHT = 0, 1
SPECS = [
    VitraEpisodeSpec("Ego4D", "0a1b-uid", "videos/0a1b-uid.mp4"),
    VitraEpisodeSpec("EgoExo4D", "cmu_take_1", "EgoExo4D_undistorted/cmu_take_1.mp4", anno_type="left"),
    VitraEpisodeSpec("epic", "P01_01", "P01/videos/P01_01.MP4", first=30),
    VitraEpisodeSpec("somethingsomethingv2", "12345", "12345.webm"),
]


@pytest.fixture(scope="module")
def episodes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, CanonicalEpisode]:
    root = write_vitra(tmp_path_factory.mktemp("vitra"), SPECS)
    adapter = get_adapter("vitra")
    refs = list(adapter.discover(root))
    assert [r.subset for r in refs] == ["Ego4D", "EgoExo4D", "epic", "somethingsomethingv2"]
    assert all(r.error is None for r in refs)
    out = {}
    for ref in refs:
        (ep,) = prepared(adapter.read(ref), CanonicalizeSpec())
        out[ref.subset] = ep
    return out


def test_each_dataset_is_read_from_its_own_layout(episodes: dict[str, CanonicalEpisode]) -> None:
    for dataset, ep in episodes.items():
        assert ep.num_frames == 8, dataset  # 24 frames at 30 fps: 0.77 s, kept
        cam = ep.cameras["head"].source
        assert (cam.width, cam.height) == (320, 240)
        np.testing.assert_allclose(cam.intrinsics, [[250, 0, 160], [0, 250, 120], [0, 0, 1]])
    assert episodes["EgoExo4D"].task == "Hold the lid."  # the anno_type hand's text first
    assert episodes["Ego4D"].task == "Pick up the cup."


def test_frames_are_the_episodes_decode_frames(episodes: dict[str, CanonicalEpisode]) -> None:
    ep = episodes["epic"]
    cam = ep.cameras["head"]
    (index, first), *_ = cam.source.frames([int(cam.indices[0])])
    assert index == 0
    diff = np.abs(first.astype(float) - synthetic_frame(240, 320, 30, seed=2).astype(float)).mean()
    wrong = np.abs(first.astype(float) - synthetic_frame(240, 320, 0, seed=2).astype(float)).mean()
    assert diff < 6 < wrong  # frame 30 of the video, not its first


def test_hands_are_ahead_below_the_eyes_left_on_the_left_and_human_sized(
    episodes: dict[str, CanonicalEpisode],
) -> None:
    wrist_i, tip_i = MANO21_NAMES.index("wrist"), MANO21_NAMES.index("middle_tip")
    for dataset, ep in episodes.items():
        assert ep.mask[hand_dims(LEFT, WRIST_POS)].all() and ep.mask[hand_dims(RIGHT, WRIST_POS)].all(), dataset
        left, right = ep.state[:, hand_dims(LEFT, WRIST_POS)], ep.state[:, hand_dims(RIGHT, WRIST_POS)]
        for wrist in (left, right):
            assert (wrist[:, 0] > 0.2).all() and (wrist[:, 2] < -0.05).all(), dataset  # ahead, below the eyes
        assert (left[:, 1] > right[:, 1] + 0.15).all(), dataset  # the left hand on the left
        span = np.linalg.norm(ep.keypoints[:, :, tip_i] - ep.keypoints[:, :, wrist_i], axis=-1)
        assert ((span > 0.17) & (span < 0.20)).all(), dataset


def test_a_hand_lost_midway_leaves_the_other_hands_frames_whole(tmp_path: Path) -> None:
    """Validity is per hand and frame (issue 56 item 6): the left hand kept over VITRA's frames 0..17 or 0..11 of 24
    is valid on the grid frames that land there (6 or 4 of 8) and invalid after, its dims 0; the right hand keeps all
    8 and the episode is whole. (Before, each frame without the left hand went for both hands: 6 frames kept, or the
    episode rejected past `max_gap_fraction`.)"""
    adapter = get_adapter("vitra")
    for k, (kept, valid) in enumerate((((0, 18), 6), ((0, 12), 4))):
        spec = VitraEpisodeSpec("Ego4D", "0a1b-uid", "videos/0a1b-uid.mp4", kept={"left": kept, "right": (0, 24)})
        (ref,) = adapter.discover(write_vitra(tmp_path / str(k), [spec]))
        result = canonicalize_spans(adapter.read(ref), CanonicalizeSpec())
        (ep,) = result.episodes
        assert ep.num_frames == 8 and ep.hand_valid[:, RIGHT].all()
        assert ep.hand_valid[:, LEFT].tolist() == [True] * valid + [False] * (8 - valid)
        assert not ep.keypoints[valid:, LEFT].any() and ep.keypoints[:valid, LEFT].all()
