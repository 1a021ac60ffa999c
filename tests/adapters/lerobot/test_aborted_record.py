"""An episode whose parquet was never written but whose frames `lerobot record` left under `images/` (an aborted
v2.0 record): its error names that folder and the frames it holds per camera, so the quarantine says what is there."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from adapters.lerobot.adapter import LeRobotSource
from tests.adapters.lerobot.test_adapter import ours  # noqa: F401  (the fixture)


@pytest.fixture
def aborted(ours, tmp_path: Path) -> Path:  # noqa: F811
    root = tmp_path / "aborted"
    shutil.copytree(ours[0], root)
    (root / "data/chunk-000/episode_000001.parquet").unlink()
    png = cv2.imencode(".png", np.zeros((4, 6, 3), np.uint8))[1].tobytes()
    for key, n in (("observation.images.front", 5), ("observation.images.wrist", 3)):
        folder = root / "images" / key / "episode_000001"
        folder.mkdir(parents=True)
        for i in range(n):
            (folder / f"frame_{i:06d}.png").write_bytes(png)
    (root / "images/observation.images.front/episode_000000").mkdir()  # another episode's folder: not counted
    return root


def test_missing_parquet_reason_names_the_frames_under_images(aborted: Path) -> None:
    refs = {r.raw_id: r for r in LeRobotSource().discover(aborted)}
    bad = refs["episode_000001"]
    assert bad.error and "data parquet file is missing; images/ holds 8 frames of this episode" in bad.error
    assert "observation.images.front: 5, observation.images.wrist: 3" in bad.error
    assert refs["episode_000000"].error is None


def test_missing_parquet_without_frames_says_only_that(aborted: Path) -> None:
    shutil.rmtree(aborted / "images")
    refs = {r.raw_id: r for r in LeRobotSource().discover(aborted)}
    assert refs["episode_000001"].error.endswith("data parquet file is missing")


def test_frames_of_an_episode_the_meta_never_listed_are_a_finding(aborted: Path) -> None:
    folder = aborted / "images/observation.images.front/episode_000002"
    folder.mkdir()
    png = aborted / "images/observation.images.wrist/episode_000001/frame_000000.png"
    (folder / "frame_000000.png").write_bytes(png.read_bytes())
    adapter = LeRobotSource()
    refs = [r.raw_id for r in adapter.discover(aborted)]
    assert refs == ["episode_000000", "episode_000001"]
    (found,) = [f for f in adapter.findings() if f.code == "unsaved_image_frames"]
    assert "images/ holds 1 frames of episodes [2] that the meta does not list" in found.message
