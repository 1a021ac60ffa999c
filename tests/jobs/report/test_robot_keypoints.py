"""The report draws a robot hand's keypoints (the real GR00T GR1 sample, Fourier hands without DIP links) without
the slots its keypoint slot mask leaves unfilled, nor any bone touching one; human strips are unchanged
(`test_keypoints.py`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from adapters.lerobot.adapter import LeRobotSource
from ingest.canonical.store import dataset_features
from ingest.lerobot.writer import LeRobotWriter
from jobs.report.data import dataset_view, frame_strip
from jobs.report.keypoints import drawable_keypoints
from jobs.report.strips import strip_image
from schemas.canonical import BONES, HAND_KEYPOINTS, keypoint_slot_mask
from schemas.lerobot import InfoJson
from tests.fixtures.episodes import write_episode
from tests.fixtures.offline import prepared
from tests.realdata import realdata


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = LeRobotSource()
    ref = next(iter(source.discover(realdata("gr00t_robot_sim_picknplace"))))
    ep = prepared(source.read(ref))[0]
    root = tmp_path_factory.mktemp("corpus")
    with LeRobotWriter.create(
        root / "datasets/gr00t/gr1", fps=10, features=dataset_features(ep), robot_type="gr1"
    ) as w:
        write_episode(w, ep)
    return root


def test_masked_slots_and_their_bones_are_not_drawn(corpus: Path) -> None:
    ds = dataset_view(corpus, "datasets/gr00t/gr1", first=1)
    slots = keypoint_slot_mask(ds.info.features[HAND_KEYPOINTS].info)
    assert slots.sum(axis=1).tolist() == [16, 16]  # no DIP link in the Fourier hand
    strip = frame_strip(ds, count=4)
    assert strip is not None and strip.keypoints is not None and strip.hands == [0, 1]
    assert strip.method == "side panel"  # a robot dataset stores no camera trajectory: drawn beside, saying why
    assert np.isnan(strip.keypoints[:, ~slots]).all() and np.isfinite(strip.keypoints[:, slots]).all()
    image, bones = strip_image(strip, height=80)
    assert image.size[1] == 80 and image.size[0] > 4 * 80  # 4 frames and the panel
    drawable = sum(bool(slots[h, a] and slots[h, b]) for h in (0, 1) for a, b in BONES)
    assert bones == drawable == 2 * 10  # per hand 20 bones less 2 at each of the 5 missing DIP slots


def test_drawable_keypoints_leaves_undeclared_and_human_data_alone() -> None:
    kp = np.arange(2 * 21 * 3, dtype=np.float64).reshape(1, 2, 21, 3)
    assert np.array_equal(drawable_keypoints(InfoJson(fps=10, features={}), kp), kp)
