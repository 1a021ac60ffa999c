"""Validity per hand and frame, end to end through the real Ray ingest job into the written parquet: a VITRA episode
whose hands take turns (each grid frame has one hand kept, the other not) is kept whole, each frame holding its
tracked hand's keypoints and wrist and the other hand's dims 0, `observation.hand_valid` saying which; the real VITRA
sample (`vitra_ego4d_example`) is written with the left hand invalid and the right valid in every frame, VITRA's bone
lengths within 2 mm, its task text, its video at 10 Hz. Before per-hand validity the turn-taking episode was rejected
whole ("no valid frame among 20 (non_finite 20)"): a frame with one hand NaN was a NaN frame."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml

from adapters.lerobot_format.files import read_jsonl
from adapters.pickles import unpickle_npy
from jobs.ingest.job import run_ingest
from jobs.spec import load_spec
from schemas.canonical import (
    ACTION,
    CANONICAL_FPS,
    HAND_KEYPOINTS,
    HAND_VALID,
    HANDS,
    STATE,
    WRIST_POS,
    bone_lengths,
    hand_block,
    hand_dims,
)
from schemas.corpus import dataset_dir
from schemas.lerobot import EPISODES_PATH
from tests.fixtures.writers.vitra import VitraEpisodeSpec, episode_dict, write_vitra
from tests.realdata import realdata

pytestmark = pytest.mark.shared_ray

FRAMES = 60  # 2 s at VITRA's 30 fps: 20 grid frames
# raw frame f keeps the left hand when (f + 1) // 3 is even, else the right: grid frame k (raw frame 3k, with its
# neighbours 3k - 1 and 3k + 1 on the same hand) keeps the left on even k, the right on odd k
TURNS = (np.arange(FRAMES) + 1) // 3 % 2
ALTERNATING = VitraEpisodeSpec(
    "Ego4D",
    "turns",
    "videos/turns.mp4",
    frames=FRAMES,
    kept_frames={"left": tuple(int(x) for x in TURNS == 0), "right": tuple(int(x) for x in TURNS == 1)},
)
REAL_EPISODE = "annotations/Ego4D_03cc49c3-a7d1-445b-9a2a-545c4fae6843_ep_example.npy"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("hand_validity")
    spec = {
        "output": str(tmp / "corpus"),
        "parallelism": {"num_cpus": 1},
        "sources": [
            {"name": "turns", "adapter": "vitra", "root": str(write_vitra(tmp / "turns", [ALTERNATING]))},
            {"name": "vitra", "adapter": "vitra", "root": str(realdata("vitra_ego4d_example"))},
        ],
    }
    (tmp / "job.yaml").write_text(yaml.safe_dump(spec))
    report = run_ingest(load_spec(tmp / "job.yaml"), progress=False)
    assert report.quarantined == 0 and report.tallies["turns"].written == report.tallies["vitra"].written == 1
    return tmp / "corpus"


def _episode(corpus: Path, source: str) -> tuple[Path, dict[str, np.ndarray]]:
    root = corpus / dataset_dir(source, "Ego4D")
    (parquet,) = sorted((root / "data").rglob("*.parquet"))
    table = pq.read_table(parquet).to_pydict()
    return root, {k: np.asarray(v) for k, v in table.items()}


def test_the_written_schema_says_per_hand_which_frames_are_valid(corpus: Path) -> None:
    root, _ = _episode(corpus, "turns")
    info = json.loads((root / "meta/info.json").read_text())
    assert info["fps"] == CANONICAL_FPS
    ft = info["features"][HAND_VALID]
    assert ft["dtype"] == "bool" and ft["shape"] == [2] and ft["names"] == list(HANDS)
    assert info["features"][HAND_KEYPOINTS]["shape"] == [2, 21, 3]


def test_hands_taking_turns_keep_every_frame_each_with_its_tracked_hand(corpus: Path) -> None:
    root, cols = _episode(corpus, "turns")
    valid = cols[HAND_VALID].astype(bool)
    n = len(valid)
    assert n == FRAMES // 3  # kept whole: not one frame cut for the hand it lacks
    np.testing.assert_array_equal(valid[:, 0], np.arange(n) % 2 == 0)
    np.testing.assert_array_equal(valid[:, 1], np.arange(n) % 2 == 1)
    kp = np.stack([np.stack([np.asarray(h, np.float64) for h in f]) for f in cols[HAND_KEYPOINTS]])  # (n, 2, 21, 3)
    state, action = np.stack(cols[STATE]), np.stack(cols[ACTION])
    truth = episode_dict(ALTERNATING, seed=0)  # as `write_vitra` wrote it
    for h in (0, 1):
        on, off = valid[:, h], ~valid[:, h]
        assert not kp[off, h].any() and not state[off][:, hand_block(h)].any()
        assert not action[off][:, hand_block(h)].any()
        assert np.isfinite(kp[on, h]).all() and (np.abs(kp[on, h]).sum(axis=(1, 2)) > 0).all()
        np.testing.assert_allclose(state[on][:, hand_dims(h, WRIST_POS)], kp[on, h, 0], atol=1e-5)  # the wrist
        theirs = truth[HANDS[h]]["joints_worldspace"][::3][on]
        assert np.abs(bone_lengths(kp[on, h]) - bone_lengths(theirs)).max() < 0.002
    lines = read_jsonl(root / EPISODES_PATH)
    ((_, line),) = lines
    assert line["eidata"]["tier"] == "high" and not any("cut" in r for r in line["eidata"]["tier_reasons"])


def test_the_real_sample_has_its_left_hand_invalid_and_its_right_valid_in_every_frame(corpus: Path) -> None:
    root, cols = _episode(corpus, "vitra")
    truth = unpickle_npy((realdata("vitra_ego4d_example") / REAL_EPISODE).read_bytes())
    valid = cols[HAND_VALID].astype(bool)
    assert len(valid) == 9 and not valid[:, 0].any() and valid[:, 1].all()
    kp = np.stack([np.stack([np.asarray(h, np.float64) for h in f]) for f in cols[HAND_KEYPOINTS]])
    assert not kp[:, 0].any()
    theirs = truth["right"]["joints_worldspace"][::3]  # the raw frames the 10 Hz grid lands on
    assert np.abs(bone_lengths(kp[:, 1]) - bone_lengths(theirs)).max() < 0.002
    ((_, line),) = read_jsonl(root / EPISODES_PATH)
    assert line["tasks"] == ["Pick up the spray bottle."] == [truth["text"]["right"][0][0]]
    np.testing.assert_allclose(cols["timestamp"], np.arange(9) / CANONICAL_FPS, atol=1e-6)
    (video,) = sorted((root / "videos").rglob("*.mp4"))
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        assert stream.average_rate == CANONICAL_FPS and sum(1 for _ in container.decode(stream)) == 9
