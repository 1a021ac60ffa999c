"""Camera checks on small arrays whose answer is known by construction."""

from __future__ import annotations

import numpy as np

from ingest.qa.cameras import camera_behaviour, repeat_period, thumbnails
from schemas.behaviour import BehaviourConfig

CFG = BehaviourConfig()


def moving_scene(n: int = 60, size: int = 64, seed: int = 0) -> np.ndarray:
    """A textured scene panning one pixel per frame: every picture differs from the last."""
    rng = np.random.default_rng(seed)
    world = rng.integers(30, 220, (size, size + n, 3), dtype=np.uint8)
    return np.stack([world[:, t : t + size] for t in range(n)])


def test_thumbnail_is_small_whatever_the_camera() -> None:
    assert thumbnails(np.zeros((2, 480, 640, 3), np.uint8)).shape == (2, 32, 32)
    assert thumbnails(np.zeros((2, 20, 20, 3), np.uint8)).shape == (2, 20, 20)


def test_moving_scene_is_not_frozen_and_freeze_is_measured_in_seconds() -> None:
    frames = moving_scene()
    assert camera_behaviour(frames, 10.0, CFG).frozen_s == 0.0
    frames[20:41] = frames[20]  # 21 identical frames: 20 repeats of the first, 2 s without a new picture
    cam = camera_behaviour(frames, 10.0, CFG)
    assert cam.frozen_s == 2.0


def test_freeze_while_the_robot_is_still_is_idle_not_frozen() -> None:
    frames = moving_scene()
    frames[20:41] = frames[20]
    moving = np.ones(60, bool)
    moving[20:41] = False
    assert camera_behaviour(frames, 10.0, CFG, moving).frozen_s == 0.0


def test_repeat_cadence() -> None:
    same = np.tile([True, False], 30)  # every other pair is a repeat
    assert repeat_period(same) == 2
    assert repeat_period(np.zeros(60, bool)) == 1
    assert repeat_period(np.tile([True, True, False], 20)) == 3


def test_dark_bright_flat_fractions() -> None:
    frames = moving_scene(40)
    frames[:10] = 3  # near-black
    frames[10:15] = 252  # near-white
    frames[15:20] = 128  # flat grey
    cam = camera_behaviour(frames, 10.0, CFG)
    assert (cam.dark_fraction, cam.bright_fraction, cam.flat_fraction) == (0.25, 0.125, 0.125)


def white_table(n: int = 30, size: int = 96) -> np.ndarray:
    """PushT's picture as its renders show it: a white table, a grey T block and a blue agent disc moving over it
    (the real buffer's frames: mean grey 0.967-0.978, grey std 0.068-0.090)."""
    y, x = np.mgrid[0:size, 0:size]
    frames = np.full((n, size, size, 3), 255, np.uint8)
    for t in range(n):
        frames[t][(abs(x - 48) < 14) & (abs(y - 30) < 3) | (abs(x - 48) < 3) & (y >= 30) & (y < 56)] = (119, 136, 153)
        frames[t][(x - 20 - t) ** 2 + (y - 70) ** 2 < 16] = (65, 105, 225)
    return frames


def test_a_clean_white_scene_is_not_near_white_a_whited_out_one_is() -> None:
    scene = white_table()
    grey = thumbnails(scene)
    assert grey.mean() > CFG.bright_level and grey.reshape(len(grey), -1).std(axis=1).min() > CFG.bright_std
    assert camera_behaviour(scene, 10.0, CFG).bright_fraction == 0.0
    # veiling glare: the same frames blended 90 % towards white keep their shapes at a tenth of the contrast
    glare = (229.5 + 0.1 * scene).round().astype(np.uint8)
    cam = camera_behaviour(glare, 10.0, CFG)
    assert cam.bright_fraction == 1.0 and cam.flat_fraction == 0.0
