"""The head camera and hands of the hand-object fixtures: the camera level and pitched 35 degrees down about the
world's up, both wrists in front of it, under its line of sight, on their own sides and inside a 320x240 image."""

from __future__ import annotations

import numpy as np
import pytest

from adapters.synthetic.headcam import HEIGHT, WIDTH, K, hand_in_camera, hand_in_world, head_camera


@pytest.mark.parametrize("up", [np.array([0.0, 0.0, 1.0]), np.array([0.0, -1.0, 0.0])])
def test_the_camera_is_level_and_pitched_down(up: np.ndarray) -> None:
    cam = head_camera(30, 30.0, up, seed=0)
    x, z = cam[:, :3, 0], cam[:, :3, 2]
    np.testing.assert_allclose(x @ up, 0, atol=1e-12)  # the image is level
    np.testing.assert_allclose(np.degrees(np.arcsin(-(z @ up))), 35.0, atol=1e-9)
    np.testing.assert_allclose(np.linalg.det(cam[:, :3, :3]), 1.0)


def test_the_hands_are_ahead_below_on_their_sides_and_inside_the_image() -> None:
    for side, sign in (("left", -1), ("right", 1)):
        wrist, R = hand_in_camera(45, 30.0, side, seed=1)
        assert (wrist[:, 2] > 0.3).all() and (wrist[:, 1] > 0.03).all()  # ahead, under the line of sight
        assert (sign * wrist[:, 0] > 0.05).all()  # on its own side of the image
        uv = wrist @ K.T
        uv = uv[:, :2] / uv[:, 2:]
        assert ((uv >= 0) & (uv < [WIDTH, HEIGHT])).all()
        np.testing.assert_allclose(np.linalg.det(R), 1.0)
    cam = head_camera(45, 30.0, np.array([0.0, 0.0, 1.0]), seed=1)
    world, _ = hand_in_world(cam, "right", 30.0, seed=1)
    local, _ = hand_in_camera(45, 30.0, "right", seed=1)
    back = np.einsum("tji,tj->ti", cam[:, :3, :3], world - cam[:, :3, 3])
    np.testing.assert_allclose(back, local, atol=1e-12)
