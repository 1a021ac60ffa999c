"""VITRA's own example episode (real sample `vitra_ego4d_example`, microsoft/VITRA@c68b65e:data/examples/) with the
default spec: one episode of 9 frames at 10 Hz (VITRA's 25 frames at 30 fps, 0.8 s, kept though under 1 s), the
right hand's keypoints with VITRA's bone lengths and wrist path, the left hand masked in every frame, the task text
kept, the camera's intrinsics scaled to the 480x368 mp4, and the hand invariants the geometry QA measures held."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from adapters.pickles import unpickle_npy
from adapters.registry import get_adapter
from ingest.canonical.canonicalize import canonicalize_spans
from ingest.canonical.store import lineage
from ingest.episode import CanonicalEpisode
from ingest.qa.judge import judge_arrays
from schemas.canonical import CANONICAL_FPS, WRIST_POS, bone_lengths, hand_dims
from schemas.canonicalize import CanonicalizeSpec
from tests.fixtures.offline import prepared
from tests.realdata import realdata

LEFT, RIGHT = 0, 1
EPISODE = "annotations/Ego4D_03cc49c3-a7d1-445b-9a2a-545c4fae6843_ep_example.npy"


@pytest.fixture(scope="module")
def root() -> Path:
    return realdata("vitra_ego4d_example")


@pytest.fixture(scope="module")
def truth(root: Path) -> dict:
    return unpickle_npy((root / EPISODE).read_bytes())


@pytest.fixture(scope="module")
def episode(root: Path) -> CanonicalEpisode:
    adapter = get_adapter("vitra")
    (ref,) = adapter.discover(root)
    assert (
        ref.error is None
        and ref.subset == "Ego4D"
        and ref.paths[1].endswith("videos/03cc49c3-a7d1-445b-9a2a-545c4fae6843.mp4")
    )
    (ep,) = prepared(adapter.read(ref), CanonicalizeSpec())
    return ep


def test_one_short_episode_at_10_hz_with_its_task(episode: CanonicalEpisode, truth: dict) -> None:
    assert episode.num_frames == 9  # 25 frames at 30 fps: 0.8 s, under validity's default 10 frames, kept
    np.testing.assert_allclose(episode.timestamps, np.arange(9) / CANONICAL_FPS, atol=1e-9)
    assert episode.task == "Pick up the spray bottle." == truth["text"]["right"][0][0]
    assert episode.tier.value == "high" and episode.annotation is not None
    assert "kept whole" in episode.annotation.keep_short  # type: ignore[attr-defined]
    cam = episode.cameras["head"]
    assert cam.source.width == 480 and cam.source.height == 368 and len(cam.indices) == 9
    assert list(cam.indices) == list(range(0, 25, 3))  # the raw frames at 0, 0.1, ... 0.8 s
    K = cam.source.intrinsics
    np.testing.assert_allclose(
        [K[0, 0], K[1, 1], K[0, 2], K[1, 2]], [654.96618652 / 3, 654.96618652 * 368 / 1080, 240, 184], rtol=1e-6
    )


def test_the_left_hand_is_masked_in_every_frame(episode: CanonicalEpisode, truth: dict) -> None:
    assert not truth["left"]["kept_frames"].any()
    assert not episode.mask[hand_dims(LEFT, slice(0, 25))].any() and episode.mask[hand_dims(RIGHT, WRIST_POS)].all()
    assert not episode.keypoints[:, LEFT].any()
    names = episode.natives.state_names  # its placeholder arrays are no native; its validity is
    assert not any(n.startswith("wrist/left") for n in names) and any(n.startswith("wrist/right") for n in names)
    assert episode.natives.state is not None and not episode.natives.state[:, names.index("kept/left.0")].any()


def test_bone_lengths_and_wrist_path_are_vitras(episode: CanonicalEpisode, truth: dict) -> None:
    joints = truth["right"]["joints_worldspace"][::3]  # the raw frames the 10 Hz grid lands on
    ours = episode.keypoints[:, RIGHT].astype(np.float64)
    assert np.abs(bone_lengths(ours) - bone_lengths(joints)).max() < 0.002
    # the wrist path is VITRA's moved by one rigid transform: every pairwise distance kept
    wrist, theirs = episode.state[:, hand_dims(RIGHT, WRIST_POS)].astype(np.float64), joints[:, 0]
    d_ours = np.linalg.norm(wrist[:, None] - wrist[None], axis=-1)
    d_theirs = np.linalg.norm(theirs[:, None] - theirs[None], axis=-1)
    assert np.abs(d_ours - d_theirs).max() < 0.001 and d_theirs.max() > 0.3  # it moves 0.4 m
    np.testing.assert_allclose(ours[:, 0], wrist, atol=1e-5)


def test_the_hand_invariants_hold(episode: CanonicalEpisode) -> None:
    """Ahead of the wearer, below the eyes, human-sized, projecting inside the image (the geometry QA's measures, as
    the judging step takes them), and no finding that quarantines it."""
    assert judge_arrays(episode, CanonicalizeSpec()).rejected is None
    qa = episode.qa
    assert qa is not None and qa.hands_in_front == 1.0 and qa.hands_in_image == 1.0 and qa.hands_ahead == 1.0
    assert qa.hands_below_eyes is not None and qa.hands_below_eyes >= 0.8
    assert qa.hand_length is not None and 0.15 < qa.hand_length < 0.23
    assert qa.bone_length_cv is not None and qa.bone_length_cv < 0.01  # rigid bones
    wrist = episode.state[:, hand_dims(RIGHT, WRIST_POS)]
    assert (wrist[:, 0] > 0.2).all() and (wrist[:, 1] < 0).all()  # ahead, and on the right


def test_without_keep_short_validity_would_drop_it(root: Path) -> None:
    """The 1 s minimum (validity's `min_length_frames` 10) is what dropped VITRA's short episodes; the source keeps
    them by saying why (`RawEpisode.keep_short`), which the episode's annotation carries to its lineage."""
    adapter = get_adapter("vitra")
    (ref,) = adapter.discover(root)
    raw = adapter.read(ref)
    assert raw.keep_short and CanonicalizeSpec().validity.min_length_frames == 10
    assert prepared(replace(raw, keep_short=""), CanonicalizeSpec()) == []


def test_the_lineage_says_why_it_is_kept_short_and_that_the_left_hand_is_absent(episode: CanonicalEpisode) -> None:
    line = lineage(episode).model_dump(exclude_unset=True)
    notes = line["hand_notes"]
    assert any("often shorter than 1 s: kept whole" in n for n in notes)
    assert any(n.startswith("left hand: kept_frames all 0") for n in notes)
    ann = line["source_annotation"]
    assert (
        ann["kind"] == "vitra"
        and ann["video_size"] == (480, 368)
        and ann["intrinsics"][0][0] == pytest.approx(654.966, abs=1e-3)
    )
    assert ann["text_rephrase"]["right"][0][0][1] == "Grasp the spray bottle" and ann["kept_frames"] == {
        "left": 0,
        "right": 25,
    }


def _first_frames(root: Path, tmp: Path, n: int) -> Path:
    """The real episode cut to its first `n` frames, beside its video."""
    d = unpickle_npy((root / EPISODE).read_bytes())
    d["video_decode_frame"], d["extrinsics"] = d["video_decode_frame"][:n], d["extrinsics"][:n]
    for side in ("left", "right"):
        d[side] = {k: v[:n] if np.ndim(v) and len(v) == 25 else v for k, v in d[side].items()}
    (tmp / "annotations").mkdir()
    np.save(tmp / EPISODE, np.array(d, dtype=object), allow_pickle=True)
    shutil.copytree(root / "videos", tmp / "videos")
    return tmp


@pytest.mark.parametrize(("frames", "kept"), [(4, 2), (2, 0), (1, 0)])
def test_the_shortest_kept_episode_is_the_shortest_that_moves(
    root: Path, tmp_path: Path, frames: int, kept: int
) -> None:
    """With the minimum length lowered, what bounds a short episode is the motion check: 4 raw frames (0.1 s, 2 grid
    frames, the wrist moving 0.20 m) are kept; 1 or 2 raw frames are 1 grid frame, no motion, rejected naming it."""
    adapter = get_adapter("vitra")
    (ref,) = adapter.discover(_first_frames(root, tmp_path, frames))
    result = canonicalize_spans(adapter.read(ref), CanonicalizeSpec())
    assert [ep.num_frames for ep in result.episodes] == ([kept] if kept else [])
    if not kept:
        (rejection,) = result.rejections
        assert "static_hands 1" in rejection.reason and "longest 0 of 1 frames" in rejection.reason
